//! How far per-function, per-minute counts drift when one fleet's batches are dealt to several
//! warm containers, as CloudWatch Logs and Lambda deal them:
//!
//! - direct subscriptions (LogGroups, AccountPolicy): each batch is an asynchronous invocation,
//!   delivered a few seconds late in no particular order, to whichever container is free;
//! - Kinesis with `Distribution: ByLogStream`: a stream's batches go to one shard, read in order
//!   by one container per shard, which Lambda replaces now and then.
//!
//! The baseline is one processor that gets every stream whole. Every container settles what it
//! holds at the end; a container replaced on the way loses what it held, as a reaped one does. Run it with
//! `cargo run --release --example simulate_fleet` (about a minute); `-- SEED` picks another hour.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use lambda_watchdog::state::{Memory, Store};
use lambda_watchdog::testing::direct_event;
use lambda_watchdog::testing::fleet::{self, Cut, FleetSpec, Rng, Stream, data_message, sums};
use lambda_watchdog::{Clock, Config, Processor};

type Cells = BTreeMap<(String, i64, String), i64>;

const START: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z

fn processor(config: &str) -> Processor {
    Processor::new(
        Config::from_toml_str(config).expect("the generated config is valid"),
        Clock::FollowLogs,
        None,
        "lambda-watchdog",
    )
}

/// Delivers each container's batches in order; containers are replaced where `replace` says.
fn run(config: &str, streams: &[Stream], containers: &[Vec<(Cut, bool)>]) -> Cells {
    let mut documents = Vec::new();
    for batches in containers {
        let mut p = processor(config);
        for &(cut, replace) in batches {
            if replace {
                // Lambda reaps the old container: what it held is gone with it.
                p = processor(config);
            }
            let event = direct_event(&data_message(&streams[cut.stream], cut.from, cut.to));
            documents.extend(p.handle_event(&event).documents);
        }
        documents.extend(p.flush().documents);
    }
    sums(&documents)
}

/// Cells that equal the baseline, of all cells; and per metric, the sum of |difference| as a
/// share of the baseline's total.
fn compare(expected: &Cells, got: &Cells) -> (usize, usize, BTreeMap<String, (i64, i64)>) {
    let mut cells: Vec<&(String, i64, String)> = expected.keys().chain(got.keys()).collect();
    cells.sort();
    cells.dedup();
    let exact = cells.iter().filter(|c| expected.get(**c) == got.get(**c)).count();
    let mut per_metric: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for cell in &cells {
        let (e, g) = (
            expected.get(*cell).copied().unwrap_or(0),
            got.get(*cell).copied().unwrap_or(0),
        );
        let entry = per_metric.entry(cell.2.clone()).or_default();
        entry.0 += e;
        entry.1 += (g - e).abs();
    }
    (exact, cells.len(), per_metric)
}

fn report(label: &str, expected: &Cells, got: &Cells) {
    let (exact, all, per_metric) = compare(expected, got);
    let worst: Vec<String> = per_metric
        .iter()
        .filter(|(_, (_, off))| *off > 0)
        .map(|(m, (total, off))| format!("{m} {:+.1}%", *off as f64 * 100.0 / (*total).max(1) as f64))
        .collect();
    println!(
        "| {label} | {exact} of {all} ({:.1}%) | {} |",
        exact as f64 * 100.0 / all.max(1) as f64,
        if worst.is_empty() {
            "none".to_string()
        } else {
            worst.join(", ")
        }
    );
}

/// Delivers batches in order to containers that share one in-process table (a container
/// replaced where the flag says), and counts the table calls.
fn run_shared(config: &str, streams: &[Stream], deliveries: &[(usize, Cut, bool)]) -> (Cells, Arc<Store>) {
    let store = Arc::new(Store::Memory(Memory::default()));
    let n = deliveries.iter().map(|d| d.0 + 1).max().unwrap_or(1);
    let shared = || processor(config).with_store(Arc::clone(&store));
    let mut containers: Vec<Processor> = (0..n).map(|_| shared()).collect();
    let mut documents = Vec::new();
    for &(c, cut, replace) in deliveries {
        if replace {
            // Reaped: what it held is gone, what it filed is in the table.
            containers[c] = shared();
        }
        let event = direct_event(&data_message(&streams[cut.stream], cut.from, cut.to));
        documents.extend(containers[c].handle_event(&event).documents);
    }
    for p in &mut containers {
        documents.extend(p.flush().documents);
    }
    (sums(&documents), store)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(2026);
    let minutes: i64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    // `shared` as the third argument: only the rows with the shared table.
    let only_shared = args.next().as_deref() == Some("shared");
    let fleet = fleet::generate(FleetSpec {
        functions: 8,
        streams_per_function: 11,
        span_ms: minutes * 60_000,
        start_ms: START,
        seed,
    });
    let streams = &fleet.streams;
    let mut rng = Rng::new(seed ^ 0x5eed);
    let cuts = fleet::cut_by_time(streams, &mut rng);
    println!(
        "fleet: {} functions, {} log streams, {} invocations, {} events, {} batches (seed {seed})\n",
        8,
        streams.len(),
        fleet.invocations,
        streams.iter().map(|s| s.events.len()).sum::<usize>(),
        cuts.len()
    );
    let whole: Vec<(Cut, bool)> = streams
        .iter()
        .enumerate()
        .map(|(s, st)| {
            (
                Cut {
                    stream: s,
                    from: 0,
                    to: st.events.len(),
                },
                false,
            )
        })
        .collect();
    let expected = run(&fleet.config, streams, &[whole]);

    // Each batch arrives 1 to 30 seconds after its last event, in no particular order.
    let mut arrivals: Vec<(i64, Cut)> = cuts
        .iter()
        .map(|&c| {
            (
                streams[c.stream].events[c.to - 1].timestamp_ms + rng.range(1_000, 30_000),
                c,
            )
        })
        .collect();
    arrivals.sort_by_key(|&(at, _)| at);

    println!("| delivery | cells exact | drift per metric (sum of |error| / total) |");
    println!("|---|---|---|");
    for n in [1usize, 2, 4, 8, 16].into_iter().filter(|_| !only_shared) {
        let mut containers = vec![Vec::new(); n];
        for &(_, cut) in &arrivals {
            containers[rng.below(n as u64) as usize].push((cut, false));
        }
        report(
            &format!("direct, {n} container(s)"),
            &expected,
            &run(&fleet.config, streams, &containers),
        );
    }
    for shards in [1usize, 4, 16].into_iter().filter(|_| !only_shared) {
        let mut containers = vec![Vec::new(); shards];
        for &cut in &cuts {
            // ByLogStream: the stream's name is the partition key.
            let shard = (fleet::Rng::new(cut.stream as u64).next_u64() % shards as u64) as usize;
            containers[shard].push((cut, rng.below(1_000) == 0));
        }
        // A shard's batches in the stream's order (Kinesis keeps it), streams interleaved by time.
        for batches in &mut containers {
            batches.sort_by_key(|(c, _)| (streams[c.stream].events[c.from].timestamp_ms, c.stream, c.from));
        }
        report(
            &format!("Kinesis by stream, {shards} shard(s), a container replaced in 1,000 batches"),
            &expected,
            &run(&fleet.config, streams, &containers),
        );
    }

    // Shared state: the same dealings, the containers deciding through one table (in process,
    // with DynamoDB's write units counted as DynamoDB would bill them).
    println!("\n| shared state | cells exact | drift | table calls per batch | write units per batch |");
    println!("|---|---|---|---|---|");
    let mut direct: Vec<(usize, Cut)> = Vec::new();
    for &(_, cut) in &arrivals {
        direct.push((rng.below(8) as usize, cut));
    }
    let shards = 16usize;
    let mut kinesis: Vec<(usize, Cut, bool)> = cuts
        .iter()
        .map(|&cut| {
            let shard = (fleet::Rng::new(cut.stream as u64).next_u64() % shards as u64) as usize;
            (shard, cut, rng.below(1_000) == 0)
        })
        .collect();
    kinesis.sort_by_key(|(_, c, _)| (streams[c.stream].events[c.from].timestamp_ms, c.stream, c.from));
    for (label, deliveries) in [
        (
            "direct, 8 containers".to_string(),
            direct.iter().map(|&(c, cut)| (c, cut, false)).collect::<Vec<_>>(),
        ),
        (
            format!("Kinesis by stream, {shards} shards, a container replaced in 1,000 batches"),
            kinesis,
        ),
    ] {
        let started = Instant::now();
        let (got, store) = run_shared(&fleet.config, streams, &deliveries);
        let elapsed = started.elapsed();
        let (exact, all, per_metric) = compare(&expected, &got);
        let worst: Vec<String> = per_metric
            .iter()
            .filter(|(_, (_, off))| *off > 0)
            .map(|(m, (total, off))| format!("{m} {:+.1}%", *off as f64 * 100.0 / (*total).max(1) as f64))
            .collect();
        let (records, merges, claims, failures) = store.calls().snapshot();
        let units = store.calls().write_units.load(std::sync::atomic::Ordering::Relaxed);
        let batches = deliveries.len() as f64;
        println!(
            "| {label} | {exact} of {all} ({:.1}%) | {} | {:.2} ({records} batch records, {merges} merges, {claims} claims, {failures} failed) | {:.2} |",
            exact as f64 * 100.0 / all.max(1) as f64,
            if worst.is_empty() {
                "none".to_string()
            } else {
                worst.join(", ")
            },
            (records + merges + claims) as f64 / batches,
            units as f64 / batches,
        );
        eprintln!(
            "({label}: {} batches in {elapsed:?} with the in-process table)",
            deliveries.len()
        );
    }
    let bytes: usize = streams.iter().flat_map(|s| &s.events).map(|e| e.message.len()).sum();
    println!(
        "\n{} bytes of log text, {:.0} bytes per batch",
        bytes,
        bytes as f64 / cuts.len() as f64
    );
}
