//! `lambda-watchdog metric-filters`: prints a CloudFormation template of CloudWatch Logs metric
//! filters for what they can count without the processor (see [`crate::metric_filters`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::replay::load_config;
use crate::metric_filters::plan;

/// Options of `metric-filters`.
#[derive(Parser)]
pub struct Args {
    /// Config file (TOML): namespace, exclude and [[rule]]. Default: $WATCHDOG_CONFIG's text, else ./watchdog.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A log group to filter, e.g. /aws/lambda/orders. Repeat for each group.
    #[arg(long = "log-group", value_name = "NAME", required = true)]
    log_groups: Vec<String>,
}

/// Runs `metric-filters`: the template (JSON) on stdout, what was skipped on stderr.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let plan = plan(&config, &args.log_groups)?;
    let template = plan.to_template()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string_pretty(&template)?)?;
    stdout.flush()?;
    for note in &plan.skipped {
        eprintln!("lambda-watchdog: skipped: {note}");
    }
    eprintln!(
        "lambda-watchdog: {} metric filters in namespace {}; they count log lines, not invocations (see Metadata.LambdaWatchdog.CannotDo)",
        plan.filters.len(),
        plan.namespace
    );
    Ok(ExitCode::SUCCESS)
}
