//! A generated fleet of chunked workers, its log streams as Lambda writes them, and the ways
//! CloudWatch Logs can deliver them: cut into batches every few seconds, to several containers,
//! in any order, some twice. The arrival-order tests and the fleet simulation
//! (`cargo run --release --example simulate_fleet`) use it.
//!
//! Every stream is one execution environment: an INIT_START (sometimes a failed init first),
//! then invocations one after another. Each invocation draws an outcome (a short or a long
//! success, a near-timeout, an error, a timeout in the older or the newer style, an
//! out-of-memory crash) and lines on the way (progress, rate limits, a connection cap), in one
//! of three styles: Python text lines with request ids, a Go custom runtime's lines without
//! them, and Node.js in the JSON log format. After a timeout or a crash the environment
//! initialises again.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::state::Store;
use crate::testing::direct_event;
use crate::{Clock, Config, Processor};

/// How big a fleet to make.
#[derive(Debug, Clone, Copy)]
pub struct FleetSpec {
    /// Functions.
    pub functions: usize,
    /// Execution environments (log streams) per function.
    pub streams_per_function: usize,
    /// How long each environment runs invocations, ms.
    pub span_ms: i64,
    /// Where the logs start, epoch ms.
    pub start_ms: i64,
    /// Seeds every draw.
    pub seed: u64,
}

/// One log event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// CloudWatch's event id.
    pub id: String,
    /// Epoch ms.
    pub timestamp_ms: i64,
    /// The line.
    pub message: String,
}

/// One log stream's events, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// `/aws/lambda/<function>`.
    pub log_group: String,
    /// `YYYY/MM/DD/[$LATEST]<id>`.
    pub log_stream: String,
    /// The events.
    pub events: Vec<Event>,
}

/// A generated fleet: its streams, and the config that names each function's timeout.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The streams.
    pub streams: Vec<Stream>,
    /// A `watchdog.toml` for the fleet.
    pub config: String,
    /// Invocations written.
    pub invocations: usize,
}

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same fleet.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }

    /// True with probability `percent` in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    PythonText,
    GoText,
    NodeJson,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Success,
    Error,
    TimeoutNew,
    TimeoutOldBefore,
    TimeoutOldAfter,
    OutOfMemory,
}

struct Writer<'a> {
    rng: &'a mut Rng,
    style: Style,
    events: Vec<Event>,
    seed: u64,
}

impl Writer<'_> {
    fn push(&mut self, timestamp_ms: i64, message: String) {
        // 13 digits of time, then a counter: ids grow along the stream, as CloudWatch's do.
        let id = format!(
            "{timestamp_ms:013}{:043}",
            self.seed * 10_000_000 + self.events.len() as u64
        );
        self.events.push(Event {
            id,
            timestamp_ms,
            message,
        });
    }

    fn iso(ms: i64) -> String {
        let secs = ms.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Days since 1970-01-01 to a date (civil from days, Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            ms.rem_euclid(1000)
        )
    }

    fn app(&mut self, ms: i64, id: &str, level: &str, text: &str) {
        let line = match self.style {
            Style::PythonText => format!("[{level}]\t{}\t{id}\t{text}\n", Self::iso(ms)),
            Style::GoText => {
                let iso = Self::iso(ms);
                format!("{} {} {level} {text}\n", iso[..10].replace('-', "/"), &iso[11..19])
            }
            Style::NodeJson => {
                json!({"timestamp": Self::iso(ms), "level": level, "requestId": id, "message": text}).to_string()
            }
        };
        self.push(ms, line);
    }

    fn init_start(&mut self, ms: i64) {
        let line = match self.style {
            Style::NodeJson => json!({"time": Self::iso(ms), "type": "platform.initStart", "record": {"initializationType": "on-demand", "phase": "init", "runtimeVersion": "nodejs:20.v30"}}).to_string(),
            Style::PythonText => "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n".into(),
            Style::GoText => "INIT_START Runtime Version: provided:al2023.v80\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:9a8b\n".into(),
        };
        self.push(ms, line);
    }

    fn init_failed(&mut self, ms: i64) {
        let (error, report) = match self.style {
            Style::NodeJson => (
                json!({"timestamp": Self::iso(ms), "level": "ERROR", "message": "Error: Cannot find module 'aws-sdk'"}).to_string(),
                json!({"time": Self::iso(ms + 5), "type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "status": "error", "errorType": "Runtime.ImportModuleError", "metrics": {"durationMs": 210.5}}}).to_string(),
            ),
            _ => (
                "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'\n".into(),
                "INIT_REPORT Init Duration: 210.50 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\n".into(),
            ),
        };
        self.push(ms, error);
        self.push(ms + 5, report);
    }

    fn start(&mut self, ms: i64, id: &str) {
        let line = match self.style {
            Style::NodeJson => {
                json!({"time": Self::iso(ms), "type": "platform.start", "record": {"requestId": id, "version": "$LATEST"}}).to_string()
            }
            _ => format!("START RequestId: {id} Version: $LATEST\n"),
        };
        self.push(ms, line);
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        ms: i64,
        id: &str,
        duration_ms: f64,
        used_mb: u32,
        init_ms: Option<f64>,
        status: Option<&str>,
        error_type: Option<&str>,
    ) {
        let line = match self.style {
            Style::NodeJson => {
                let mut metrics = json!({"durationMs": duration_ms, "billedDurationMs": duration_ms.ceil(), "memorySizeMB": 512, "maxMemoryUsedMB": used_mb});
                if let Some(init) = init_ms {
                    metrics["initDurationMs"] = json!(init);
                }
                let mut record = json!({"requestId": id, "metrics": metrics, "status": status.unwrap_or("success")});
                if let Some(et) = error_type {
                    record["errorType"] = json!(et);
                }
                json!({"time": Self::iso(ms), "type": "platform.report", "record": record}).to_string()
            }
            _ => {
                let mut line = format!(
                    "REPORT RequestId: {id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {used_mb} MB\t",
                    duration_ms.ceil()
                );
                if let Some(init) = init_ms {
                    line.push_str(&format!("Init Duration: {init:.2} ms\t"));
                }
                if let Some(s) = status {
                    line.push_str(&format!("Status: {s}\t"));
                }
                if let Some(et) = error_type {
                    line.push_str(&format!("Error Type: {et}\t"));
                }
                line.push('\n');
                line
            }
        };
        self.push(ms, line);
    }
}

fn request_id(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Makes a fleet.
pub fn generate(spec: FleetSpec) -> Fleet {
    let mut rng = Rng::new(spec.seed);
    let mut streams = Vec::new();
    let mut config = String::from("[defaults]\nshort_run_seconds = 60\n");
    let mut invocations = 0;
    for f in 0..spec.functions {
        let style = [Style::PythonText, Style::GoText, Style::NodeJson][f % 3];
        let name = format!("worker-{f}");
        let timeout_s = [60, 120, 300, 900][rng.below(4) as usize];
        let chunked = f % 4 != 3;
        config.push_str(&format!(
            "[[function]]\nmatch = \"{name}\"\ntimeout_seconds = {timeout_s}\nchunked = {chunked}\n"
        ));
        for s in 0..spec.streams_per_function {
            let seed = (f * 1000 + s) as u64;
            let mut w = Writer {
                rng: &mut rng,
                style,
                events: Vec::new(),
                seed,
            };
            let mut t = spec.start_ms + w.rng.range(0, 30_000);
            let end_at = spec.start_ms + spec.span_ms;
            let mut cold = true;
            if w.rng.chance(10) {
                w.init_start(t);
                w.init_failed(t + 40);
                t += 1_000;
            }
            while t < end_at {
                if cold {
                    w.init_start(t);
                    t += w.rng.range(100, 900);
                }
                let id = request_id(w.rng);
                invocations += 1;
                let timeout_ms = timeout_s * 1000;
                let end = match w.rng.below(20) {
                    0 => End::Error,
                    1 => End::TimeoutNew,
                    2 => End::TimeoutOldBefore,
                    3 => End::TimeoutOldAfter,
                    4 => End::OutOfMemory,
                    _ => End::Success,
                };
                let duration_ms = match (end, w.rng.below(4)) {
                    (End::TimeoutNew | End::TimeoutOldBefore | End::TimeoutOldAfter, _) => {
                        timeout_ms + w.rng.range(1, 30)
                    }
                    (_, 0) => w.rng.range(2_000, 50_000),
                    (_, 1) => timeout_ms * 85 / 100 + w.rng.range(0, timeout_ms / 10),
                    _ => w.rng.range(timeout_ms / 5, timeout_ms * 3 / 4),
                };
                w.start(t, &id);
                // Progress lines every few seconds, and now and then a failure on the way.
                let mut at = t + w.rng.range(50, 3_000);
                let mut progress = 0;
                while at < t + duration_ms - 10 {
                    progress += 1;
                    match w.rng.below(40) {
                        0 => w.app(at, &id, "ERROR", "Request failed: API Rate Limit Exceeded"),
                        1 => w.app(at, &id, "WARN", "HTTP 429 Too Many Requests, retrying"),
                        2 => w.app(at, &id, "ERROR", "pq: sorry, too many clients already"),
                        3 => w.app(at, &id, "ERROR", "dial tcp 10.0.4.9:5432: connect: connection refused"),
                        4 if end == End::Error => w.app(at, &id, "ERROR", "failed to upload chunk: status 500"),
                        _ => w.app(at, &id, "INFO", &format!("processed page {progress} chunk_size=50")),
                    }
                    at += w.rng.range(1_000, 8_000);
                }
                let done = t + duration_ms;
                let init_ms = cold.then(|| 350.0 + w.rng.below(500) as f64);
                let d = duration_ms as f64 + 0.37;
                match end {
                    End::Success => w.report(done, &id, d, 180, init_ms, None, None),
                    End::Error => {
                        if w.style == Style::PythonText {
                            w.push(done - 2, "[ERROR] KeyError: 'page'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 40, in handler\n".into());
                        }
                        w.report(done, &id, d, 200, init_ms, Some("error"), Some("Runtime.Unhandled"));
                    }
                    End::TimeoutNew => w.report(done, &id, d, 190, init_ms, Some("timeout"), None),
                    End::TimeoutOldBefore | End::TimeoutOldAfter => {
                        let line = format!(
                            "{} {id} Task timed out after {timeout_s}.00 seconds\n",
                            Writer::iso(done)
                        );
                        if end == End::TimeoutOldBefore {
                            w.push(done, line);
                            w.report(done + 1, &id, d, 190, init_ms, None, None);
                        } else if w.style == Style::NodeJson {
                            // The JSON format always names the status.
                            w.report(done, &id, d, 190, init_ms, Some("timeout"), None);
                            w.push(done + 1, line);
                        } else {
                            w.report(done, &id, d, 190, init_ms, None, None);
                            w.push(done + 1, line);
                        }
                    }
                    End::OutOfMemory => {
                        w.push(done - 3, "fatal error: runtime: out of memory\n".into());
                        w.report(done, &id, d, 512, init_ms, Some("error"), Some("Runtime.OutOfMemory"));
                    }
                }
                cold = end != End::Success && end != End::Error;
                t = done + w.rng.range(20, 4_000);
            }
            let events = w.events;
            streams.push(Stream {
                log_group: format!("/aws/lambda/{name}"),
                log_stream: format!("2026/11/29/[$LATEST]{seed:032x}"),
                events,
            });
        }
    }
    Fleet {
        streams,
        config,
        invocations,
    }
}

/// One batch as CloudWatch Logs delivers it: a stream's consecutive events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Which stream.
    pub stream: usize,
    /// Its events `from..to`.
    pub from: usize,
    /// End (exclusive).
    pub to: usize,
}

/// Cuts each stream the way CloudWatch Logs flushes a busy one: a batch every 2 to 10 seconds
/// of log time (and at most 200 events).
pub fn cut_by_time(streams: &[Stream], rng: &mut Rng) -> Vec<Cut> {
    let mut cuts = Vec::new();
    for (s, stream) in streams.iter().enumerate() {
        let mut from = 0;
        while from < stream.events.len() {
            let limit = stream.events[from].timestamp_ms + rng.range(2_000, 10_000);
            let mut to = from + 1;
            while to < stream.events.len() && stream.events[to].timestamp_ms < limit && to - from < 200 {
                to += 1;
            }
            cuts.push(Cut { stream: s, from, to });
            from = to;
        }
    }
    cuts
}

/// The decoded `DATA_MESSAGE` of a batch.
pub fn data_message(stream: &Stream, from: usize, to: usize) -> Value {
    let events: Vec<Value> = stream.events[from..to]
        .iter()
        .map(|e| json!({"id": e.id, "timestamp": e.timestamp_ms, "message": e.message}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": stream.log_group,
        "logStream": stream.log_stream,
        "subscriptionFilters": ["lambda-watchdog"],
        "logEvents": events,
    })
}

/// Per (function, minute, metric), the net count in `documents` (EMF lines with a
/// `FunctionName`); cells that net to zero are left out.
pub fn sums(documents: &[String]) -> std::collections::BTreeMap<(String, i64, String), i64> {
    let mut all = std::collections::BTreeMap::new();
    for doc in documents {
        let Ok(value) = serde_json::from_str::<Value>(doc) else {
            continue;
        };
        let Some(function) = value.get("FunctionName").and_then(Value::as_str) else {
            continue;
        };
        let minute = value["_aws"]["Timestamp"].as_i64().unwrap_or(0);
        let Some(directives) = value["_aws"]["CloudWatchMetrics"].as_array() else {
            continue;
        };
        // Every directive names the same metrics under other dimensions: count each once.
        let names: std::collections::BTreeSet<&str> = directives
            .iter()
            .flat_map(|d| d["Metrics"].as_array().into_iter().flatten())
            .filter_map(|m| m["Name"].as_str())
            .collect();
        for name in names {
            if let Some(n) = value.get(name).and_then(Value::as_i64) {
                *all.entry((function.to_string(), minute, name.to_string())).or_insert(0) += n;
            }
        }
    }
    all.retain(|_, n| *n != 0);
    all
}

/// Per (function, minute, metric), a net count.
pub type Cells = std::collections::BTreeMap<(String, i64, String), i64>;

/// A processor for `config` that follows the logs' clock, sharing `store` if given.
pub fn processor(config: &str, store: Option<&Arc<Store>>) -> Processor {
    let p = Processor::new(
        Config::from_toml_str(config).expect("the fleet's config is valid"),
        Clock::FollowLogs,
        None,
        "lambda-watchdog",
    );
    match store {
        Some(store) => p.with_store(Arc::clone(store)),
        None => p,
    }
}

/// The sums of the whole streams, each delivered at once to one processor.
pub fn baseline(fleet: &Fleet) -> Cells {
    let mut p = processor(&fleet.config, None);
    let mut documents = Vec::new();
    for stream in &fleet.streams {
        documents.extend(
            p.handle_event(&direct_event(&data_message(stream, 0, stream.events.len())))
                .documents,
        );
    }
    documents.extend(p.flush().documents);
    sums(&documents)
}

/// One log stream of `log_group` from `(ms after start_ms, line)` pairs, event ids in order.
pub fn stream_of(log_group: &str, start_ms: i64, lines: &[(i64, &str)]) -> Stream {
    Stream {
        log_group: log_group.into(),
        log_stream: "2026/11/29/[$LATEST]00112233445566778899aabbccddeeff".into(),
        events: lines
            .iter()
            .enumerate()
            .map(|(i, (t, m))| Event {
                id: format!("{:056}", i + 1),
                timestamp_ms: start_ms + t,
                message: m.to_string(),
            })
            .collect(),
    }
}

/// Every batch of `deliveries`, in order, to one container (its container numbers ignored),
/// sharing `store` if given, then what it holds settled: the EMF documents it wrote.
pub fn one_container(
    config: &str,
    streams: &[Stream],
    deliveries: &[(usize, Cut)],
    store: Option<&Arc<Store>>,
) -> Vec<String> {
    let mut p = processor(config, store);
    let mut documents = Vec::new();
    for (_, cut) in deliveries {
        let event = direct_event(&data_message(&streams[cut.stream], cut.from, cut.to));
        documents.extend(p.handle_event(&event).documents);
    }
    documents.extend(p.flush().documents);
    documents
}

/// Delivers `deliveries` (container, batch) in order to `n` containers sharing `store`; every
/// container settles what it holds at the end. Gives the sums and the processor counters.
pub fn deal(
    config: &str,
    streams: &[Stream],
    n: usize,
    deliveries: &[(usize, Cut)],
    store: &Arc<Store>,
) -> (Cells, BTreeMap<String, i64>) {
    let mut containers: Vec<Processor> = (0..n).map(|_| processor(config, Some(store))).collect();
    let mut documents = Vec::new();
    for &(c, cut) in deliveries {
        let event = direct_event(&data_message(&streams[cut.stream], cut.from, cut.to));
        documents.extend(containers[c].handle_event(&event).documents);
    }
    for p in &mut containers {
        documents.extend(p.flush().documents);
    }
    (sums(&documents), processor_counters(&documents))
}

/// Per processor metric (dimension `Processor`), its total over the documents.
pub fn processor_counters(documents: &[String]) -> BTreeMap<String, i64> {
    let mut totals = BTreeMap::new();
    for doc in documents {
        let Ok(value) = serde_json::from_str::<Value>(doc) else {
            continue;
        };
        if value.get("Processor").is_none() {
            continue;
        }
        for metric in value["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(name) = metric["Name"].as_str() else { continue };
            *totals.entry(name.to_string()).or_insert(0) += value[name].as_i64().unwrap_or(0);
        }
    }
    totals
}

/// A processor counter by name; panics when the documents do not have it (a misspelled name
/// must not read as 0).
pub fn counter(counters: &BTreeMap<String, i64>, name: &str) -> i64 {
    *counters
        .get(name)
        .unwrap_or_else(|| panic!("no processor metric {name} in {counters:?}"))
}

/// Batches as CloudWatch Logs cuts them, each arriving 1 to 30 s after its last event (so a
/// stream's batches overtake each other), dealt to random containers; `again` of them are
/// delivered a second time to another container.
pub fn direct_deliveries(streams: &[Stream], n: usize, rng: &mut Rng, again: usize) -> Vec<(usize, Cut)> {
    let cuts = cut_by_time(streams, rng);
    let mut arrivals: Vec<(i64, Cut)> = cuts
        .iter()
        .map(|&c| {
            (
                streams[c.stream].events[c.to - 1].timestamp_ms + rng.range(1_000, 30_000),
                c,
            )
        })
        .collect();
    for _ in 0..again {
        let (at, cut) = arrivals[rng.below(arrivals.len() as u64) as usize];
        arrivals.push((at + rng.range(0, 60_000), cut));
    }
    arrivals.sort_by_key(|&(at, _)| at);
    arrivals
        .into_iter()
        .map(|(_, cut)| (rng.below(n as u64) as usize, cut))
        .collect()
}

/// Panics with every cell where `got` differs from `expected` (cell, expected, got); a cell
/// missing on one side is shown as `None`, never read as 0.
pub fn assert_same_cells(expected: &Cells, got: &Cells) {
    let differ: Vec<_> = expected
        .keys()
        .chain(got.keys())
        .filter(|k| expected.get(*k) != got.get(*k))
        .map(|k| (k.clone(), expected.get(k).copied(), got.get(k).copied()))
        .collect();
    assert!(differ.is_empty(), "cells that differ (cell, expected, got): {differ:?}");
}

/// How a dealing to containers that ran at the same time went.
#[derive(Debug, Clone)]
pub struct Dealt {
    /// Per (function, minute, metric), the net count of every document the containers wrote.
    pub cells: Cells,
    /// The processor counters over those documents.
    pub counters: BTreeMap<String, i64>,
    /// Invocations whose counts the reaped containers still held when they went.
    pub held_when_reaped: usize,
    /// Containers reaped and replaced.
    pub reaped: usize,
}

/// Delivers `deliveries` (container, batch) to `n` containers that run at the same time: each
/// container is a thread of its own with its own processor sharing `store`, and gets its
/// batches in the dealt order; the threads do not wait for each other. Before each delivery
/// whose index is in `reaped`, its container is replaced by a fresh processor: the old one goes
/// without a flush, as Lambda reaps a container, taking what it held with it. Once every
/// container has had its batches, those left settle what they hold (one after another).
pub fn deal_concurrently(
    config: &str,
    streams: &[Stream],
    n: usize,
    deliveries: &[(usize, Cut)],
    reaped: &std::collections::BTreeSet<usize>,
    store: &Arc<Store>,
) -> Dealt {
    let mut per_container: Vec<Vec<(bool, Cut)>> = vec![Vec::new(); n];
    for (i, &(c, cut)) in deliveries.iter().enumerate() {
        per_container[c].push((reaped.contains(&i), cut));
    }
    let runs: Vec<(Processor, Vec<String>, usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = per_container
            .iter()
            .map(|batches| {
                scope.spawn(move || {
                    let mut p = processor(config, Some(store));
                    let (mut documents, mut held, mut replaced) = (Vec::new(), 0, 0);
                    for &(reap, cut) in batches {
                        if reap {
                            held += p.held();
                            replaced += 1;
                            p = processor(config, Some(store));
                        }
                        let event = direct_event(&data_message(&streams[cut.stream], cut.from, cut.to));
                        documents.extend(p.handle_event(&event).documents);
                    }
                    (p, documents, held, replaced)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a container's thread panicked"))
            .collect()
    });
    let (mut documents, mut held_when_reaped, mut replaced_in_all) = (Vec::new(), 0, 0);
    let mut containers = Vec::new();
    for (p, docs, held, replaced) in runs {
        documents.extend(docs);
        held_when_reaped += held;
        replaced_in_all += replaced;
        containers.push(p);
    }
    for p in &mut containers {
        documents.extend(p.flush().documents);
    }
    Dealt {
        cells: sums(&documents),
        counters: processor_counters(&documents),
        held_when_reaped,
        reaped: replaced_in_all,
    }
}
