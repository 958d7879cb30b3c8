//! What the shared state table adds to each batch's time: a generated fleet's batches dealt to
//! containers that share a DynamoDB table, timed batch by batch, beside the same batches dealt
//! to containers without a table. Needs a DynamoDB API; against a local moto_server (installed
//! by `scripts/venv`):
//!
//! ```text
//! .venv/bin/moto_server -p 5000 &
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test \
//!   AWS_SECRET_ACCESS_KEY=test cargo run --release --example state_latency -- [SEED] [CONTAINERS]
//! ```
//!
//! It creates a table of its own (`state-latency-<epoch seconds>`) and leaves it. moto answers
//! more slowly than DynamoDB in a Region does, so the figures are an upper bound for the calls'
//! own time, without the network between a Lambda function and DynamoDB.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_watchdog::state::{Dynamo, Store, create_table};
use lambda_watchdog::testing::direct_event;
use lambda_watchdog::testing::fleet::{self, Cut, FleetSpec, Rng, Stream, data_message, processor};

const START: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z

/// Each delivery's time in its container, in delivery order.
fn timed(
    config: &str,
    streams: &[Stream],
    n: usize,
    deliveries: &[(usize, Cut)],
    store: Option<&Arc<Store>>,
) -> Vec<Duration> {
    let mut containers: Vec<_> = (0..n).map(|_| processor(config, store)).collect();
    deliveries
        .iter()
        .map(|&(c, cut)| {
            let event = direct_event(&data_message(&streams[cut.stream], cut.from, cut.to));
            let started = Instant::now();
            let _ = containers[c].handle_event(&event);
            started.elapsed()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2026);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4).max(1);
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = format!(
        "state-latency-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );
    if let Err(err) = create_table(&client, &table).await {
        eprintln!("Could not create the table {table}: {err}. Is AWS_ENDPOINT_URL set to a running moto_server?");
        std::process::exit(1);
    }
    let store = match Dynamo::new(client, table.clone()) {
        Ok(dynamo) => Arc::new(Store::Dynamo(dynamo)),
        Err(err) => {
            eprintln!("Could not start the table's client: {err}");
            std::process::exit(1);
        }
    };
    let fleet = fleet::generate(FleetSpec {
        functions: 4,
        streams_per_function: 3,
        span_ms: 10 * 60_000,
        start_ms: START,
        seed,
    });
    let mut rng = Rng::new(seed ^ 0x1a7e);
    let deliveries = fleet::direct_deliveries(&fleet.streams, n, &mut rng, 20);
    let mut alone = timed(&fleet.config, &fleet.streams, n, &deliveries, None);
    let mut shared = timed(&fleet.config, &fleet.streams, n, &deliveries, Some(&store));
    let (batches, merges, claims, failures) = store.calls().snapshot();
    let calls = batches + merges + claims;
    let total = |d: &[Duration]| d.iter().sum::<Duration>();
    let added = total(&shared).saturating_sub(total(&alone)) / deliveries.len() as u32;
    alone.sort();
    shared.sort();
    println!(
        "{} batches to {n} containers (seed {seed}), table {table}: {calls} calls ({:.2} a batch), {failures} failed",
        deliveries.len(),
        calls as f64 / deliveries.len() as f64
    );
    println!("| per batch | median | p95 | max |");
    println!("|---|---|---|---|");
    for (label, times) in [("without the table", &alone), ("with the table", &shared)] {
        println!(
            "| {label} | {:.2?} | {:.2?} | {:.2?} |",
            percentile(times, 0.5),
            percentile(times, 0.95),
            percentile(times, 1.0)
        );
    }
    println!("added by the table: {added:.2?} a batch on average");
}
