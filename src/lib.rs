//! lambda-watchdog: watches a fleet of AWS Lambda functions through their CloudWatch Logs.
//!
//! A batch flows through the modules in this order: [`decode`] (base64, gzip, JSON; direct or
//! through Kinesis) → [`parse`] (what each line says) and [`signals`] (what its text mentions,
//! in the words of [`vocabulary`]) →
//! [`processor`] (which invocation it belongs to, what happened to that invocation, counted
//! once) → [`emf`] (CloudWatch Embedded Metric Format documents). [`summary`] turns the same
//! records into the replay CLI's report; [`present`] is how numbers read in it, in the notices
//! and in the CloudWatch report.
#![warn(missing_docs)]

pub mod bounded;
pub mod cli;
pub mod config;
pub mod decode;
pub mod dlq;
pub mod driver;
pub mod emf;
pub mod fuzzing;
pub mod lambda;
pub mod logging;
pub mod metric_filters;
pub mod metrics;
pub mod notify;
pub mod parse;
pub mod present;
pub mod processor;
pub mod replay;
pub mod report;
pub mod rules;
pub mod runtime_api;
pub mod signals;
pub mod state;
pub mod summary;
pub mod testing;
pub mod vocabulary;
pub(crate) mod window;
pub mod wire;

pub use config::Config;
pub use processor::{Clock, Outcome, Processor};
