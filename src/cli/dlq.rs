//! `lambda-watchdog dlq QUEUE`: the dead-letter evidence for one queue on demand, the same
//! that the alarm's notice carries: messages peeked (left in the queue), the failed
//! invocations' lines and classes, and console links.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::cli::replay::load_config;
use crate::dlq::aws::{Clients, gather};
use crate::dlq::check::queue_url;

/// How `dlq` prints the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One row per message.
    Table,
    /// The notice as JSON.
    Json,
    /// Markdown, for a ticket or chat.
    Markdown,
    /// The notice's text, as e-mail subscribers get it.
    Text,
}

/// Options of `dlq`.
#[derive(Parser)]
pub struct Args {
    /// The dead-letter queue: its name or URL.
    queue: String,
    /// How far back to look for the failed invocations' lines: 90m, 24h, 7d.
    #[arg(long, default_value = "1h")]
    since: String,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Config file (TOML): `[[queue]]` entries name the function behind a queue. Default: $WATCHDOG_CONFIG's text, else ./watchdog.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Most time the whole check may take, seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// Runs `dlq`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let since_ms = crate::report::parse_duration(&args.since)? * 1000;
    let config = load_config(args.config.as_deref())?;
    let region = crate::notify::Notifier::region_for(&config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let notice = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(args.timeout);
        let clients = Clients::from_env().await;
        let url = queue_url(&clients, &args.queue, deadline)
            .await
            .map_err(anyhow::Error::msg)?;
        let now = crate::processor::wall_ms();
        anyhow::Ok(gather(&clients, &config, &url, &region, since_ms, now, deadline).await?)
    })?;
    let text = match args.output {
        Output::Table => notice.table(),
        Output::Json => serde_json::to_string_pretty(&notice)? + "\n",
        Output::Markdown => notice.markdown(),
        Output::Text => notice.text(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
