//! Peak heap, counted by an allocator around the system one, in two cases:
//! - one subscription batch of about 1 MB compressed, as large as an asynchronous Lambda
//!   invocation gets: the high-water mark from just before the event body is parsed to the end
//!   of the handler;
//! - a warm container with every map full: the processor's (log streams, invocations counted
//!   across batches, batch fingerprints, learned timeouts, function settings) and the notice
//!   state (cooldowns and occurrence times per function and class, recent runs, chunk sizes and
//!   advice per chunked worker), each filled past its cap with names as long as real ones.
//!
//! Each case fails the run (exit status 1, naming the case, its peak and its bound) when its
//! peak is over its bound. `cargo test` runs this in the test profile (`test = true` in
//! Cargo.toml), so the README's test command checks the bounds; `cargo test --bench memory`
//! runs it alone, `cargo bench --bench memory` in the release profile (the same allocations).

#[expect(
    dead_code,
    reason = "the whole corpus is the pipeline benchmark's; one batch is enough here"
)]
mod corpus;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use std::borrow::Cow;

use lambda_watchdog::Config;
use lambda_watchdog::notify::{
    MAX_ALERT_KEYS, MAX_CHUNKED_FUNCTIONS, MAX_RECENT_PER_KEY, MAX_RUNS_PER_FUNCTION, Notifier,
};
use lambda_watchdog::processor::{Clock, MAX_BATCHES, MAX_COUNTED, MAX_FUNCTIONS, MAX_STREAMS, Processor};
use lambda_watchdog::wire::{DataMessage, LogEvent};

use corpus::{T0, batch, data_of, processor};

struct PeakAlloc;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    // Forwarded, so that buffers grow in place as they do without the counter.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Timed-out invocations per batch (each also a run of a chunked worker); one more starts and is
/// still running when the batch ends, so it is remembered across batches.
const TIMEOUTS_PER_BATCH: usize = 10;

/// A function name as long as real ones (team, service, role, number).
fn function(i: usize) -> String {
    format!("payments-eu-central-ledger-reconciliation-worker-{i:05}")
}

/// One batch of `function`'s log stream `stream`: [`TIMEOUTS_PER_BATCH`] timed-out invocations
/// and one still running.
fn timeouts_batch(function: &str, stream: usize, n: usize, timestamp_ms: i64) -> DataMessage<'static> {
    let mut lines = Vec::new();
    for k in 0..=TIMEOUTS_PER_BATCH {
        let id = format!("{n:08x}-{k:04x}-4000-8000-{stream:012x}");
        lines.push(format!("START RequestId: {id} Version: $LATEST"));
        if k < TIMEOUTS_PER_BATCH {
            lines.push(format!(
                "2026-11-29T10:00:01.000Z\t{id}\tERROR\tupstream call failed after 3 retries"
            ));
            lines.push(format!(
                "REPORT RequestId: {id}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB\tStatus: timeout"
            ));
        }
    }
    DataMessage {
        message_type: "DATA_MESSAGE".into(),
        owner: "123456789012".into(),
        log_group: format!("/aws/lambda/{function}").into(),
        log_stream: format!("2026/11/29/[$LATEST]{stream:032x}").into(),
        subscription_filters: vec!["lambda-watchdog".into()],
        log_events: lines
            .into_iter()
            .enumerate()
            .map(|(j, line)| LogEvent {
                id: format!("{n:020}{j:016}").into(),
                timestamp: timestamp_ms,
                message: Cow::Owned(line),
            })
            .collect(),
    }
}

/// Fills every map of a warm container past its cap; returns the peak heap while doing it and
/// the heap the full state keeps, bytes.
fn fill_every_map() -> (usize, usize) {
    // Every function a chunked worker, thresholds at their largest: every piece of notice state
    // in use and as large as the config allows.
    let config = Config::from_toml_str(
        "[[function]]\nmatch = \"*\"\nchunked = true\n\
         [notices.thresholds]\ntimeouts = 100\nerrors = 100\nout_of_memory = 100\nrate_limited = 100\ntoo_many_connections = 100",
    )
    .expect("config");
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut p = Processor::new(config, Clock::FollowLogs, None, "lambda-watchdog");
    let mut notifier = Notifier::new("us-east-1");
    let batches = std::cell::Cell::new(0);
    let mut run = |function: &str, stream: usize| {
        let n = batches.get();
        // All within one cooldown window, so occurrences are merged and remembered, not sent.
        let message = timeouts_batch(function, stream, n, T0 + n as i64);
        let outcome = p.handle_message(&message);
        drop(notifier.notices_for(p.config(), &outcome.invocations));
        batches.set(n + 1);
    };
    // Every function, each with enough timeouts to fill its occurrence times; batches and streams
    // past their caps.
    let rounds = MAX_RECENT_PER_KEY.div_ceil(TIMEOUTS_PER_BATCH);
    for i in 0..MAX_FUNCTIONS.max(MAX_ALERT_KEYS) * rounds {
        run(&function(i % MAX_FUNCTIONS.max(MAX_ALERT_KEYS)), i % (2 * MAX_STREAMS));
    }
    // Then the chunked workers' runs, each to its cap.
    for i in 0..MAX_CHUNKED_FUNCTIONS * MAX_RUNS_PER_FUNCTION.div_ceil(TIMEOUTS_PER_BATCH) {
        run(&function(i % MAX_CHUNKED_FUNCTIONS), i % (2 * MAX_STREAMS));
    }
    // Then batch fingerprints past theirs.
    while batches.get() <= MAX_BATCHES {
        let n = batches.get();
        run(&function(n % MAX_FUNCTIONS), n % (2 * MAX_STREAMS));
    }
    let n = batches.get();
    assert!(n > MAX_BATCHES && n * 2 > MAX_COUNTED, "every cap passed");
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let kept = CURRENT.load(Ordering::Relaxed) - before;
    drop((p, notifier));
    (peak, kept)
}

/// The bound on the peak heap with every map full: the README's memory target.
const EVERY_MAP_FULL_BOUND: usize = 64_000_000;

/// The bound on one batch's peak heap: 35.0 MB measured, and 5 MB of room (the batch-wide phrase
/// scan alone added 4.4 MB). With [`EVERY_MAP_FULL_BOUND`] it makes 104 MB of heap for a full
/// warm container handling a large batch, under the smallest `MemorySize` the template accepts
/// (128 MB).
const ONE_BATCH_BOUND: usize = 40_000_000;

/// A case's peak heap against its bound.
struct Measured {
    case: &'static str,
    peak: usize,
    bound: usize,
}

impl Measured {
    fn met(&self) -> bool {
        self.peak <= self.bound
    }

    fn verdict(&self) -> String {
        format!(
            "bound <= {:.0} MB: {}",
            self.bound as f64 / 1e6,
            if self.met() { "met" } else { "NOT met" }
        )
    }
}

/// Peak heap while one batch of about 1 MB compressed is parsed and handled.
fn one_batch() -> Measured {
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
    let measured = Measured {
        case: "one batch",
        peak,
        bound: ONE_BATCH_BOUND,
    };
    println!(
        "peak heap for one batch: {:.1} MB ({:.2} MB compressed, {:.1} MB of log text, {invocations} invocations; {})",
        peak as f64 / 1e6,
        compressed as f64 / 1e6,
        text as f64 / 1e6,
        measured.verdict()
    );
    measured
}

/// Peak heap while every map of a warm container is filled past its cap.
fn every_map_full() -> Measured {
    let (peak, kept) = fill_every_map();
    let measured = Measured {
        case: "every map full",
        peak,
        bound: EVERY_MAP_FULL_BOUND,
    };
    println!(
        "peak heap with every map full: {:.1} MB, {:.1} MB kept by the full state ({})",
        peak as f64 / 1e6,
        kept as f64 / 1e6,
        measured.verdict()
    );
    println!(
        "caps: {MAX_STREAMS} streams, {MAX_COUNTED} invocations, {MAX_BATCHES} batches, {MAX_FUNCTIONS} functions; \
         {MAX_ALERT_KEYS} (function, class) keys x {MAX_RECENT_PER_KEY} times, {MAX_CHUNKED_FUNCTIONS} chunked workers x {MAX_RUNS_PER_FUNCTION} runs"
    );
    measured
}

/// A case's name, which `cargo test`'s filters are matched against, and its measure.
type Case = (&'static str, fn() -> Measured);

/// Runs the cases and fails (exit status 1) when one is over its bound. `cargo test` runs this
/// too (`test = true` in Cargo.toml), so the test command holds the README's figures.
fn main() -> ExitCode {
    // `cargo bench` passes `--bench`, `cargo test` its name filters and libtest's options. As
    // with libtest, a case runs when no filter is given or its name contains one, and not when it
    // contains a `--skip`, so that `cargo test <filter>` does not pay for the measurement.
    let (mut filters, mut skips) = (Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--skip" => skips.extend(args.next()),
            // libtest's other options that take a value as the next argument.
            "--test-threads" | "--format" | "--color" | "--logfile" | "--shuffle-seed" | "-Z" => {
                args.next();
            }
            _ => match arg.strip_prefix("--skip=") {
                Some(skip) => skips.push(skip.to_owned()),
                None if arg.starts_with('-') => {}
                None => filters.push(arg),
            },
        }
    }
    let wanted = |name: &str| {
        (filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
            && !skips.iter().any(|s| name.contains(s.as_str()))
    };
    let cases: [Case; 2] = [
        ("memory_one_batch", one_batch),
        ("memory_every_map_full", every_map_full),
    ];
    let measured: Vec<Measured> = cases
        .into_iter()
        .filter(|(name, _)| wanted(name))
        .map(|(_, measure)| measure())
        .collect();
    let over: Vec<&Measured> = measured.iter().filter(|m| !m.met()).collect();
    for m in &over {
        eprintln!(
            "memory bound broken: {}: peak heap {:.1} MB ({} bytes), over the bound of {:.1} MB ({} bytes)",
            m.case,
            m.peak as f64 / 1e6,
            m.peak,
            m.bound as f64 / 1e6,
            m.bound
        );
    }
    // In libtest's words, which the test command's tally of passed tests reads.
    let filtered = cases.len() - measured.len();
    let (passed, failed) = (measured.len() - over.len(), over.len());
    if over.is_empty() {
        println!("test result: ok. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered} filtered out");
        ExitCode::SUCCESS
    } else {
        println!(
            "test result: FAILED. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered} filtered out"
        );
        ExitCode::FAILURE
    }
}
