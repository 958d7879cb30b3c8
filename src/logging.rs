//! The processor's own logs: `tracing` to stderr, JSON when the function uses Lambda's JSON log
//! format. EMF documents go to stdout through [`write_documents`], never through `tracing`, so
//! that CloudWatch sees them as raw JSON lines and extracts the metrics.

use std::io::Write;

use tracing_subscriber::EnvFilter;

/// Sets up `tracing` for the Lambda function: level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`
/// (default info), JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`.
pub fn init_lambda() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into())
        .to_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Lambda adds its own timestamp to each line; JSON keeps ours for tools that parse it.
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.without_time().try_init()
    };
}

/// Sets up `tracing` for the CLI: warnings and worse to stderr unless `RUST_LOG` says otherwise.
pub fn init_cli() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in files and CI logs.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Writes EMF documents, one per line, each in a single write so no other output splits it.
pub fn write_documents(out: &mut impl Write, documents: &[String]) -> std::io::Result<()> {
    let mut line = Vec::new();
    for doc in documents {
        line.clear();
        line.extend_from_slice(doc.as_bytes());
        line.push(b'\n');
        out.write_all(&line)?;
    }
    out.flush()
}
