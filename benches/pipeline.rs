//! Throughput of the processor on a generated corpus of realistic Lambda logs (over 50 MB of
//! decoded log text), measured two ways in one run:
//! (a) decode only: base64, gunzip, JSON of the subscription message;
//! (b) the whole pipeline: decode, parse every line, classify, aggregate, render EMF.
//! Before the timings it prints the peak heap used to process one ~1 MB (compressed) batch.
//!
//! Run: `cargo bench --bench pipeline` (figures in the README).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lambda_watchdog::decode::{decode_payload, parse_message};
use lambda_watchdog::processor::{Clock, Processor};
use lambda_watchdog::testing::{data_message, direct_event};
use lambda_watchdog::{Config, config::DEFAULT_MAX_DECODED_BYTES};
use serde_json::Value;

struct PeakAlloc;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const T0: i64 = 1_795_946_400_000;

/// A small deterministic generator, so every run measures the same corpus.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn request_id(n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n as u32,
        n & 0xffff,
        n & 0xfff,
        (n >> 4) & 0xfff,
        n * 7919
    )
}

/// One batch of one log stream: `invocations` invocations of a Python (text) or Node (JSON) worker.
fn batch(seed: u64, invocations: usize, json: bool) -> (Value, usize) {
    let mut rng = Lcg(seed);
    let mut lines: Vec<String> = Vec::new();
    for i in 0..invocations {
        let id = request_id(seed * 100_000 + i as u64);
        let duration = 1000.0 + (rng.next() % 250_000) as f64;
        let ts = "2026-11-29T10:00:01.123Z";
        if json {
            lines.push(format!(
                r#"{{"time":"{ts}","type":"platform.start","record":{{"requestId":"{id}","version":"$LATEST"}}}}"#
            ));
        } else {
            lines.push(format!("START RequestId: {id} Version: $LATEST\n"));
        }
        for k in 0..12 {
            let roll = rng.next() % 100;
            let (level, msg) = match roll {
                0 => (
                    "ERROR",
                    "Request failed: API Rate Limit Exceeded (retry-after 30)".to_string(),
                ),
                1 => ("ERROR", "Error: ER_CON_COUNT_ERROR: Too many connections".to_string()),
                2..=4 => (
                    "WARNING",
                    format!("retrying page {k} after a slow response from upstream"),
                ),
                _ => (
                    "INFO",
                    format!(
                        "fetched page {k} of account {} with 50 items in {} ms chunk_size=50",
                        rng.next() % 10_000,
                        rng.next() % 900
                    ),
                ),
            };
            if json {
                lines.push(format!(
                    r#"{{"timestamp":"{ts}","level":"{level}","message":"{msg}","logger":"worker","requestId":"{id}"}}"#
                ));
            } else {
                lines.push(format!("[{level}]\t{ts}\t{id}\t{msg}\n"));
            }
        }
        if json {
            lines.push(format!(
                r#"{{"time":"{ts}","type":"platform.report","record":{{"requestId":"{id}","metrics":{{"durationMs":{duration:.1},"billedDurationMs":{},"memorySizeMB":512,"maxMemoryUsedMB":{}}},"status":"success"}}}}"#,
                duration.ceil(),
                100 + rng.next() % 300
            ));
        } else {
            lines.push(format!("END RequestId: {id}\n"));
            lines.push(format!(
                "REPORT RequestId: {id}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {} MB\t\n",
                duration.ceil(),
                100 + rng.next() % 300
            ));
        }
    }
    let text_bytes = lines.iter().map(String::len).sum();
    let events: Vec<(i64, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (T0 + i as i64 * 10, l.as_str()))
        .collect();
    let group = if json {
        "/aws/lambda/uploader"
    } else {
        "/aws/lambda/scraper-worker"
    };
    (
        direct_event(&data_message(
            group,
            &format!("2026/11/29/[$LATEST]{seed:032x}"),
            &events,
        )),
        text_bytes,
    )
}

fn corpus() -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut seed = 1;
    while bytes < 52 << 20 {
        let (event, n) = batch(seed, 600, seed % 2 == 0);
        events.push(event);
        bytes += n;
        seed += 1;
    }
    (events, bytes)
}

fn data_of(event: &Value) -> &str {
    event["awslogs"]["data"].as_str().expect("a direct event")
}

fn processor() -> Processor {
    let config = Config::from_toml_str(include_str!("../watchdog.toml")).expect("sample config");
    Processor::new(config, Clock::Fixed(T0 + 60_000), None, "lambda-watchdog")
}

fn report_peak_memory() {
    // Grow one batch until it is about 1 MB compressed, as large as an asynchronous invocation gets.
    let mut invocations = 1000;
    let (event, text) = loop {
        let (event, text) = batch(9_999, invocations, false);
        if data_of(&event).len() * 3 / 4 >= 1_000_000 {
            break (event, text);
        }
        invocations += 500;
    };
    let compressed = data_of(&event).len() * 3 / 4;
    let body = event.to_string();
    let mut p = processor();
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    // As in Lambda: the runtime parses the event body, then the handler runs.
    let parsed: Value = serde_json::from_str(&body).expect("event JSON");
    let outcome = p.handle_event(&parsed);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop((parsed, outcome));
    println!(
        "peak heap for one batch: {:.1} MB ({:.2} MB compressed, {:.1} MB of log text, {invocations} invocations)",
        peak as f64 / 1e6,
        compressed as f64 / 1e6,
        text as f64 / 1e6
    );
}

fn bench(c: &mut Criterion) {
    report_peak_memory();
    let (events, text_bytes) = corpus();
    let decoded_bytes: usize = events
        .iter()
        .map(|e| {
            decode_payload(data_of(e), DEFAULT_MAX_DECODED_BYTES)
                .expect("decodes")
                .len()
        })
        .sum();
    println!(
        "corpus: {} batches, {:.1} MB of log text, {:.1} MB decoded JSON",
        events.len(),
        text_bytes as f64 / 1e6,
        decoded_bytes as f64 / 1e6
    );
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text_bytes as u64));
    group.bench_function("decode_only", |b| {
        b.iter(|| {
            let mut events_seen = 0;
            for e in &events {
                let bytes = decode_payload(data_of(e), DEFAULT_MAX_DECODED_BYTES).expect("decodes");
                events_seen += parse_message(&bytes).expect("parses").log_events.len();
            }
            events_seen
        })
    });
    group.bench_function("whole_pipeline_to_emf", |b| {
        b.iter(|| {
            let mut p = processor();
            let mut emf_bytes = 0;
            for e in &events {
                emf_bytes += p.handle_event(e).documents.iter().map(String::len).sum::<usize>();
            }
            emf_bytes
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
