//! The command line's subcommands, one module each; `src/main.rs` only dispatches.

pub mod dlq;
pub mod metric_filters;
pub mod replay;
pub mod report;
pub mod state_table;
