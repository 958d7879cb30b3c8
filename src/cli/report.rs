//! `lambda-watchdog report`: the watchdog's metrics read back from CloudWatch, per function,
//! worst first; optionally drawn as SVG and published to the notices topic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::cli::replay::load_config;
use crate::notify::sns::Publisher;
use crate::report::{self, Backoff, Format, Request, Selection, Window, chart};

/// Options of `report`.
#[derive(Parser)]
pub struct Args {
    /// Config file (TOML): the namespace and each function's timeout. Default: $WATCHDOG_CONFIG's text, else ./watchdog.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// How far back from now (or from --end): 90m, 24h, 7d.
    #[arg(long, default_value = "24h", conflicts_with = "start")]
    since: String,
    /// Start of the window: RFC 3339 in UTC (2026-11-29T00:00:00Z) or epoch seconds.
    #[arg(long)]
    start: Option<String>,
    /// End of the window (default: now), same forms as --start.
    #[arg(long)]
    end: Option<String>,
    /// Only functions matching this glob (repeatable); a plain name is shown even without data.
    #[arg(long = "function", value_name = "GLOB")]
    functions: Vec<String>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Also draw the report as SVG into this file (.svg; PNG is refused).
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// Most functions the chart draws, worst first.
    #[arg(long, default_value_t = chart::DEFAULT_MAX_FUNCTIONS)]
    chart_max: usize,
    /// Also send the report (as a table) to the notices topic (--topic-arn, else $WATCHDOG_TOPIC_ARN).
    #[arg(long)]
    publish: bool,
    /// The SNS topic for --publish.
    #[arg(long)]
    topic_arn: Option<String>,
}

/// The window the options ask for, at `now`.
pub fn window(since: &str, start: Option<&str>, end: Option<&str>, now: i64) -> Result<Window, report::ReportError> {
    let end_at = end.map(report::parse_time).transpose()?;
    match (start.map(report::parse_time).transpose()?, end_at) {
        (Some(start), end) => Window::new(start, end.unwrap_or(now), now),
        (None, Some(end)) => Window::new(end - report::parse_duration(since)?, end, now),
        (None, None) => Window::since(report::parse_duration(since)?, now),
    }
}

/// Runs `report`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Everything that can be refused without AWS is refused first.
    if let Some(path) = &args.chart {
        chart::check_path(path)?;
    }
    let topic = if args.publish {
        let topic = args
            .topic_arn
            .clone()
            .or_else(|| std::env::var("WATCHDOG_TOPIC_ARN").ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let Some(topic) = topic else {
            anyhow::bail!(
                "--publish needs a topic: give --topic-arn or set WATCHDOG_TOPIC_ARN (the stack's NoticesTopicArn output)"
            );
        };
        Some(topic)
    } else {
        None
    };
    let config = load_config(args.config.as_deref())?;
    let request = Request {
        window: window(
            &args.since,
            args.start.as_deref(),
            args.end.as_deref(),
            crate::processor::wall_ms() / 1000,
        )?,
        selection: Selection::new(&args.functions)?,
        chart: args.chart.is_some(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let report = runtime.block_on(async {
        let sdk = aws_config::load_from_env().await;
        let client = aws_sdk_cloudwatch::Client::new(&sdk);
        report::generate(&client, &config, &request, Backoff::default()).await
    })?;

    let mut stdout = std::io::stdout().lock();
    stdout.write_all(report.render(args.output).as_bytes())?;
    stdout.flush()?;
    if let Some(path) = &args.chart {
        std::fs::write(path, chart::svg(&report, args.chart_max))
            .with_context(|| format!("could not write the chart to {}", path.display()))?;
        eprintln!("lambda-watchdog: chart written to {}", path.display());
    }
    if let Some(topic) = topic {
        let id = runtime.block_on(async {
            let publisher = Publisher::new(&topic).await;
            publisher
                .publish_text(&report.subject(), &report.render(Format::Table))
                .await
        })?;
        eprintln!("lambda-watchdog: report published to {topic} (message {id})");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    #[test]
    fn the_window_comes_from_since_or_start_and_end() {
        let w = window("24h", None, None, NOW).unwrap();
        assert_eq!(w.seconds(), 86_400);
        let w = window("2h", None, Some("1795946400"), NOW).unwrap();
        assert_eq!((w.start, w.end), (1_795_939_200, 1_795_946_400));
        let w = window("24h", Some("2026-11-29T10:00:00Z"), Some("2026-11-29T12:00:00Z"), NOW).unwrap();
        assert_eq!((w.start, w.end), (1_795_946_400, 1_795_953_600));
        let w = window("24h", Some("2026-11-29T10:00:00Z"), None, NOW).unwrap();
        assert_eq!(w.end, NOW.div_euclid(60) * 60 + 60, "up to now");
        assert!(window("24h", Some("yesterday"), None, NOW).is_err());
    }
}
