//! The command line's subcommands, one module each; `src/main.rs` only dispatches.

pub mod replay;
pub mod report;
