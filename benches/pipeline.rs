//! Throughput of the processor on a generated corpus of realistic Lambda logs (over 50 MB of
//! decoded log text), measured two ways in one run:
//! (a) decode only: base64, gunzip, JSON of the subscription message;
//! (b) the whole pipeline: decode, parse every line, classify, aggregate, render EMF.
//! Before criterion's timings it prints the ratio of the two measured in alternation, pass after
//! pass, so that a neighbour's load on a shared machine falls on both alike.
//! Both run on the system allocator, as the shipped binaries do; peak memory is measured apart,
//! in `benches/memory.rs`, because counting allocations costs time of its own.
//!
//! Run: `cargo bench --bench pipeline` (figures in the README).

mod corpus;

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lambda_watchdog::config::DEFAULT_MAX_DECODED_BYTES as MAX_DECODED_BYTES;
use lambda_watchdog::decode::{decode_payload, parse_message};

use serde_json::Value;

use corpus::{corpus, data_of, processor};

fn decode_pass(events: &[Value]) -> usize {
    let mut events_seen = 0;
    for e in events {
        let bytes = decode_payload(data_of(e), MAX_DECODED_BYTES).expect("decodes");
        events_seen += parse_message(&bytes).expect("parses").log_events.len();
    }
    events_seen
}

fn pipeline_pass(events: &[Value]) -> usize {
    let mut p = processor();
    let mut emf_bytes = 0;
    for e in events {
        emf_bytes += p.handle_event(e).documents.iter().map(String::len).sum::<usize>();
    }
    emf_bytes
}

/// Pipeline time over decode time, one pass of each in turn, `rounds` times: median and range.
fn alternating_ratio(events: &[Value], rounds: usize) -> (f64, f64, f64) {
    let time = |pass: &dyn Fn(&[Value]) -> usize| {
        let start = Instant::now();
        black_box(pass(black_box(events)));
        start.elapsed().as_secs_f64()
    };
    time(&decode_pass);
    time(&pipeline_pass);
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|_| {
            let decode = time(&decode_pass);
            time(&pipeline_pass) / decode
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    (ratios[rounds / 2], ratios[0], ratios[rounds - 1])
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
    let (median, low, high) = alternating_ratio(&events, 15);
    println!("pipeline / decode, 15 alternating passes: median {median:.2}x (range {low:.2}-{high:.2}x)");
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text_bytes as u64));
    group.bench_function("decode_only", |b| b.iter(|| decode_pass(&events)));
    group.bench_function("whole_pipeline_to_emf", |b| b.iter(|| pipeline_pass(&events)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
