//! Throughput of the processor on a generated corpus of realistic Lambda logs (over 50 MB of
//! decoded log text), measured four ways in one run:
//! (a) decode only: base64, gunzip, JSON of the subscription message;
//! (b) the pipeline with no rules: the sample config without its `[[rule]]`s; decode, parse
//!     every line, classify, aggregate, render EMF, then notices and advice decided and each
//!     notice built into its SNS message, as the Lambda handler does;
//! (c) the production shape: the same with the sample config plus a case-insensitive regex rule
//!     and a value rule (`corpus::production_config`, the baseline other changes measure against);
//! (d) the same with 64 rules, the most a config may have (`corpus::rules_64_config`).
//!
//! Before criterion's timings it prints the ratios measured in alternation, one pass of each in
//! turn, pass after pass, so that a neighbour's load on a shared machine falls on all alike.
//! All run on the system allocator, as the shipped binaries do; peak memory is measured apart,
//! in `benches/memory.rs`, because counting allocations costs time of its own.
//!
//! Run: `cargo bench --bench pipeline` (figures in the README).

#[expect(dead_code, reason = "the one-batch processor is the memory benchmark's")]
mod corpus;

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lambda_watchdog::Config;
use lambda_watchdog::config::DEFAULT_MAX_DECODED_BYTES as MAX_DECODED_BYTES;
use lambda_watchdog::decode::{decode_payload, parse_message};
use lambda_watchdog::notify::Notifier;
use lambda_watchdog::notify::sns::message_for;

use serde_json::Value;

use corpus::{corpus, data_of, no_rules_config, processor_with, production_config, rules_64_config};

const ROUNDS: usize = 15;

fn decode_pass(events: &[Value]) -> usize {
    let mut events_seen = 0;
    for e in events {
        let bytes = decode_payload(data_of(e), MAX_DECODED_BYTES).expect("decodes");
        events_seen += parse_message(&bytes).expect("parses").log_events.len();
    }
    events_seen
}

/// The whole pipeline as one warm container runs it: EMF, then the notices, each built into the
/// message SNS would get (there is no topic here, so none is sent).
fn pipeline_pass(config: &Config, events: &[Value]) -> usize {
    let mut p = processor_with(config.clone());
    let mut notifier = Notifier::new("us-east-1");
    let mut out_bytes = 0;
    for e in events {
        let outcome = p.handle_event(e);
        out_bytes += outcome.documents.iter().map(String::len).sum::<usize>();
        for notice in notifier.notices_for(p.config(), &outcome.invocations) {
            out_bytes += message_for(&notice).message.len();
        }
    }
    out_bytes
}

struct Shapes {
    no_rules: Config,
    production: Config,
    rules_64: Config,
}

/// Seconds per pass of each shape, `ROUNDS` rounds of one pass of each in turn.
fn alternating(events: &[Value], shapes: &Shapes) -> Vec<[f64; 4]> {
    let time = |pass: &dyn Fn() -> usize| {
        let start = Instant::now();
        black_box(pass());
        start.elapsed().as_secs_f64()
    };
    let passes: [&dyn Fn() -> usize; 4] = [
        &|| decode_pass(black_box(events)),
        &|| pipeline_pass(&shapes.no_rules, black_box(events)),
        &|| pipeline_pass(&shapes.production, black_box(events)),
        &|| pipeline_pass(&shapes.rules_64, black_box(events)),
    ];
    for pass in passes {
        time(pass);
    }
    (0..ROUNDS).map(|_| passes.map(&time)).collect()
}

/// The median and range of `ratio` over the rounds.
fn spread(rounds: &[[f64; 4]], ratio: impl Fn(&[f64; 4]) -> f64) -> (f64, f64, f64) {
    let mut r: Vec<f64> = rounds.iter().map(ratio).collect();
    r.sort_by(f64::total_cmp);
    (r[r.len() / 2], r[0], r[r.len() - 1])
}

fn bench(c: &mut Criterion) {
    let (events, text_bytes) = corpus();
    let decoded_bytes: usize = events
        .iter()
        .map(|e| decode_payload(data_of(e), MAX_DECODED_BYTES).expect("decodes").len())
        .sum();
    println!(
        "corpus: {} batches, {:.1} MB of log text, {:.1} MB decoded JSON",
        events.len(),
        text_bytes as f64 / 1e6,
        decoded_bytes as f64 / 1e6
    );
    let shapes = Shapes {
        no_rules: no_rules_config(),
        production: production_config(),
        rules_64: rules_64_config(),
    };
    let rounds = alternating(&events, &shapes);
    let mib = text_bytes as f64 / (1 << 20) as f64;
    for (i, name) in ["decode only", "pipeline, no rules", "production shape", "64 rules"]
        .iter()
        .enumerate()
    {
        let (median, low, high) = spread(&rounds, |r| r[i]);
        println!(
            "{name:>20}: median {:.0} ms ({:.0}-{:.0}), {:.0} MiB/s of log text",
            median * 1e3,
            low * 1e3,
            high * 1e3,
            mib / median
        );
    }
    println!("ratios over {ROUNDS} alternating rounds, median (range):");
    for (name, a, b, target) in [
        ("no rules / decode", 1, 0, None),
        ("production / no rules", 2, 1, Some(1.2)),
        ("production / decode", 2, 0, Some(1.5)),
        ("64 rules / no rules", 3, 1, Some(2.0)),
    ] {
        let (median, low, high) = spread(&rounds, |r| r[a] / r[b]);
        let verdict = match target {
            Some(t) if median <= t => format!("target <= {t}x: met"),
            Some(t) => format!("target <= {t}x: NOT met"),
            None => String::new(),
        };
        println!("{name:>24}: {median:.2}x ({low:.2}-{high:.2}x) {verdict}");
    }

    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text_bytes as u64));
    group.bench_function("decode_only", |b| b.iter(|| decode_pass(&events)));
    group.bench_function("no_rules", |b| b.iter(|| pipeline_pass(&shapes.no_rules, &events)));
    group.bench_function("production", |b| b.iter(|| pipeline_pass(&shapes.production, &events)));
    group.bench_function("rules_64", |b| b.iter(|| pipeline_pass(&shapes.rules_64, &events)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
