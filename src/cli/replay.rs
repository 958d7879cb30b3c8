//! `lambda-watchdog replay`: saved events through the same engine as the Lambda function.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use crate::Config;
use crate::logging;
use crate::metrics::ProcessorMetric;
use crate::notify::Notifier;
use crate::notify::sns::{Publisher, deliver, message_for};
use crate::processor::{Clock, Processor, Telemetry};
use crate::replay::{collect, replay_file};
use crate::summary::Summary;

/// Options of `replay`.
#[derive(Parser)]
pub struct Args {
    /// Config file (TOML). Default: $WATCHDOG_CONFIG's text, else ./watchdog.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// The log group that plain `.log`/`.txt` files come from.
    #[arg(long)]
    log_group: Option<String>,
    /// "Now" for EMF's 14-day/2-hour window, epoch ms; default: as if each batch arrived live.
    #[arg(long)]
    now: Option<i64>,
    /// Write every notice (alerts and chunk-size advice) as one JSON line to this file.
    #[arg(long, value_name = "FILE")]
    notices: Option<PathBuf>,
    /// Send the notices to the SNS topic for real (--topic-arn, else $WATCHDOG_TOPIC_ARN).
    #[arg(long)]
    publish: bool,
    /// The SNS topic for --publish.
    #[arg(long)]
    topic_arn: Option<String>,
    /// Files or folders: *.json events (direct, Kinesis, decoded, or arrays of them), *.log/*.txt lines.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// What `replay` prints.
#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum Output {
    /// A per-function summary for people.
    Table,
    /// Exactly the EMF documents the Lambda function would print.
    Emf,
    /// The summary as JSON, for scripts.
    Json,
}

/// The config: `--config`, else `$WATCHDOG_CONFIG`'s text, else `./watchdog.toml`, else defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    if let Some(path) = path {
        return Ok(Config::load(path)?);
    }
    if let Ok(text) = std::env::var("WATCHDOG_CONFIG")
        && !text.trim().is_empty()
    {
        return Ok(Config::from_toml_str(&text)?);
    }
    let local = Path::new("watchdog.toml");
    if local.is_file() {
        eprintln!("lambda-watchdog: using ./watchdog.toml (give --config to choose another)");
        return Ok(Config::load(local)?);
    }
    Ok(Config::default())
}

/// Runs `replay`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let near_ratio = config.clone();
    let clock = args.now.map_or(Clock::FollowLogs, Clock::Fixed);
    let mut notifier = Notifier::new(Notifier::region_for(&config));
    let mut processor = Processor::new(config, clock, None, "lambda-watchdog");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let publisher = if args.publish {
        let topic = args
            .topic_arn
            .clone()
            .or_else(|| std::env::var("WATCHDOG_TOPIC_ARN").ok())
            .filter(|t| !t.is_empty());
        let Some(topic) = topic else {
            anyhow::bail!("--publish needs a topic: give --topic-arn or set WATCHDOG_TOPIC_ARN");
        };
        Some(runtime.block_on(Publisher::new(topic)))
    } else {
        None
    };
    let mut notices_out = match &args.notices {
        Some(path) => {
            Some(std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| {
                anyhow::anyhow!("could not create {}: {e}", path.display())
            })?))
        }
        None => None,
    };
    let (files, mut failures) = collect(&args.paths);
    let mut sns_down = false;
    let mut summary = Summary::default();
    let mut stdout = std::io::stdout().lock();
    let mut handle = |outcome: &crate::processor::Outcome| -> anyhow::Result<()> {
        if args.output == Output::Emf {
            logging::write_documents(&mut stdout, &outcome.documents)?;
        }
        summary.add(outcome);
        let notices = notifier.notices_for(&near_ratio, &outcome.invocations);
        if let Some(out) = notices_out.as_mut() {
            for notice in &notices {
                writeln!(out, "{}", serde_json::to_string(&message_for(notice))?)?;
            }
        }
        summary.notices += notices.len();
        if let Some(publisher) = &publisher {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let delivery = runtime.block_on(deliver(Some(publisher), &notices, deadline, sns_down));
            sns_down |= delivery.sns_failed;
            let mut telemetry = Telemetry::default();
            telemetry.add(ProcessorMetric::NoticesSent, delivery.sent);
            telemetry.add(ProcessorMetric::NoticeFailures, delivery.failed);
            summary.add_telemetry(&telemetry);
        }
        Ok(())
    };
    for file in &files {
        match replay_file(&mut processor, file, args.log_group.as_deref()) {
            Ok(outcomes) => {
                for outcome in &outcomes {
                    handle(outcome)?;
                }
            }
            Err(err) => failures.push(err),
        }
    }
    // The end of the logs: what waited for a later batch is settled as it stands.
    handle(&processor.flush())?;
    if let Some(mut out) = notices_out {
        out.flush()?;
    }
    summary.finish(|function| near_ratio.settings_for(function).near_timeout_ratio);
    match args.output {
        Output::Emf => {}
        Output::Table => write!(stdout, "{}", summary.to_table())?,
        Output::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&summary.to_json())?)?,
    }
    stdout.flush()?;
    for failure in &failures {
        eprintln!("lambda-watchdog: {failure}");
    }
    if files.is_empty() && failures.is_empty() {
        eprintln!("lambda-watchdog: no .json, .log or .txt files found in the given paths");
        return Ok(ExitCode::from(1));
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
