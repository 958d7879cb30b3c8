//! The Lambda entry point's logic: one warm processor per container, each event's EMF documents
//! printed to stdout, and a response that never asks Lambda to retry (bad input is counted and
//! skipped; a retry would only duplicate metrics already written).

use std::sync::Mutex;

use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::info;

use crate::config::{Config, ConfigError};
use crate::logging::write_documents;
use crate::metrics::ProcessorMetric;
use crate::processor::{Clock, Processor, Shape};

/// The handler state kept across invocations of a warm container.
pub struct Handler {
    processor: Mutex<Processor>,
}

/// Reads the config from the `WATCHDOG_CONFIG` text; none or blank means the defaults.
pub fn config_from_env() -> Result<Config, ConfigError> {
    match std::env::var("WATCHDOG_CONFIG") {
        Ok(text) if !text.trim().is_empty() => Config::from_toml_str(&text),
        _ => Ok(Config::default()),
    }
}

impl Handler {
    /// A handler for this config, reading its own log group and name from Lambda's variables.
    pub fn from_env(config: Config) -> Handler {
        let own_group = std::env::var("AWS_LAMBDA_LOG_GROUP_NAME").ok();
        let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "lambda-watchdog".into());
        Handler::new(Processor::new(config, Clock::Wall, own_group, name))
    }

    /// A handler around a processor.
    pub fn new(processor: Processor) -> Handler {
        Handler {
            processor: Mutex::new(processor),
        }
    }

    /// Handles one event: metrics to stdout, and for Kinesis an empty partial-batch response.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
        let outcome = {
            // A panic elsewhere cannot leave the processor half-updated in a way that matters
            // more than losing the container's memory, so a poisoned lock is simply reused.
            let mut processor = self.processor.lock().unwrap_or_else(|p| p.into_inner());
            processor.handle_event(&event.payload)
        };
        write_documents(&mut std::io::stdout().lock(), &outcome.documents)?;
        let t = &outcome.telemetry;
        info!(
            request_id = %event.context.request_id,
            batches = t.get(ProcessorMetric::BatchesProcessed),
            events = t.get(ProcessorMetric::EventsProcessed),
            decode_failures = t.get(ProcessorMetric::DecodeFailures),
            invocations_with_news = outcome.invocations.len(),
            documents = outcome.documents.len(),
            "Processed an event."
        );
        Ok(match outcome.shape {
            Shape::Kinesis => serde_json::to_value(KinesisEventResponse::default())?,
            _ => Value::Null,
        })
    }
}
