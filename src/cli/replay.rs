//! `lambda-watchdog replay`: saved events through the same engine as the Lambda function.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};

use crate::Config;
use crate::config;
use crate::driver::{Driver, Ingested, NOTICE_BUDGET};
use crate::logging;
use crate::notify::sns::{Publisher, message_for};
use crate::processor::{Clock, Processor};
use crate::replay::{collect, replay_file};
use crate::state::{Dynamo, Memory, Store};
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
    /// Decide counts through this DynamoDB table, as a fleet of containers does (the
    /// environment's Region and credentials, and `AWS_ENDPOINT_URL`); without it, through the
    /// same shared-state code with the table kept in this process.
    #[arg(long, value_name = "NAME", conflicts_with = "no_shared_state")]
    state_table: Option<String>,
    /// Decide counts in the container alone, with no shared state at all, as a deployment with
    /// `SharedState=Disabled` does.
    #[arg(long)]
    no_shared_state: bool,
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

/// The config as the Lambda function loads it ([`config::load`]): `--config`, else
/// `$WATCHDOG_CONFIG`'s text, else `./watchdog.toml`, else defaults; `$WATCHDOG_NAMESPACE`
/// overrides the namespace.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let local = Path::new("watchdog.toml");
    let (config, source) = config::load(path, Some(local))?;
    if path.is_none() && source == config::Source::File(local.to_path_buf()) {
        eprintln!("lambda-watchdog: using ./watchdog.toml (give --config to choose another)");
    }
    Ok(config)
}

/// Runs `replay`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let near_ratio = config.clone();
    let clock = args.now.map_or(Clock::FollowLogs, Clock::Fixed);
    let mut processor = Processor::new(config, clock, None, "lambda-watchdog");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // The same code the Lambda function runs with its table: DynamoDB when named, else the
    // table's in-process stand-in.
    let mut state_store = None;
    if let Some(table) = &args.state_table {
        let dynamo = runtime.block_on(Dynamo::from_env(table.clone()))?;
        state_store = Some(Arc::new(Store::Dynamo(dynamo)));
    } else if !args.no_shared_state {
        state_store = Some(Arc::new(Store::Memory(Memory::default())));
    }
    if let Some(store) = &state_store {
        processor = processor.with_store(Arc::clone(store));
    }
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
    let publishing = publisher.is_some();
    let driver = Driver::new(processor, publisher);
    let (files, mut failures) = collect(&args.paths);
    let mut summary = Summary::default();
    let mut stdout = std::io::stdout().lock();
    let mut handle = |Ingested { outcome, notices }: &Ingested| -> anyhow::Result<()> {
        if args.output == Output::Emf {
            logging::write_documents(&mut stdout, &outcome.documents)?;
        }
        summary.add(outcome);
        if let Some(out) = notices_out.as_mut() {
            for notice in notices {
                writeln!(out, "{}", serde_json::to_string(&message_for(notice))?)?;
            }
        }
        summary.notices += notices.len();
        if publishing {
            // As one Lambda invocation with the longest notice budget.
            let delivered = runtime.block_on(driver.deliver(notices, NOTICE_BUDGET));
            if args.output == Output::Emf {
                logging::write_documents(&mut stdout, &delivered.documents)?;
            }
            summary.add_telemetry(&delivered.telemetry);
        }
        Ok(())
    };
    for file in &files {
        match replay_file(&driver, file, args.log_group.as_deref()) {
            Ok(ingested) => {
                for one in &ingested {
                    handle(one)?;
                }
            }
            Err(err) => failures.push(err),
        }
    }
    // The end of the logs: what waited for a later batch is settled as it stands.
    handle(&driver.flush())?;
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
    if let (Some(store), Some(table)) = (&state_store, &args.state_table) {
        let (batches, merges, claims, failed) = store.calls().snapshot();
        eprintln!(
            "lambda-watchdog: state table {table}: {} calls for {} batches ({batches} batch records, {merges} merges, {claims} claims), {failed} failed",
            batches + merges + claims,
            summary.batches(),
        );
    }
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
