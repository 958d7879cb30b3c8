//! `lambda-watchdog`: the command line. Each subcommand lives in `lambda_watchdog::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lambda_watchdog::{cli, logging};

#[derive(Parser)]
#[command(
    name = "lambda-watchdog",
    version,
    about = "Watches a fleet of AWS Lambda functions through their CloudWatch Logs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run saved events (files or folders) through the processor, like one warm Lambda container.
    Replay(cli::replay::Args),
    /// Print CloudWatch Logs metric filters (CloudFormation JSON) for what they can count without the processor.
    MetricFilters(cli::metric_filters::Args),
    /// Read the watchdog's metrics back from CloudWatch: per function, worst first, over a window.
    Report(cli::report::Args),
    /// Show what failed for a dead-letter queue: its messages (peeked, left in the queue), the failed invocations' log lines and classes, console links.
    Dlq(cli::dlq::Args),
    /// Manage the DynamoDB table that containers share invocation state through.
    StateTable(cli::state_table::Args),
}

fn main() -> ExitCode {
    logging::init_cli();
    let result = match Cli::parse().command {
        Command::Replay(args) => cli::replay::run(args),
        Command::MetricFilters(args) => cli::metric_filters::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::StateTable(args) => cli::state_table::run(args),
        Command::Dlq(args) => cli::dlq::run(args),
    };
    result.unwrap_or_else(|err| {
        eprintln!("lambda-watchdog: {err:#}");
        ExitCode::from(2)
    })
}
