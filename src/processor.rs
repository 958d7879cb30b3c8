//! Stages 3 and 4: ties every line to its invocation, classifies each invocation, counts each
//! class once per invocation, and aggregates per function and minute of the logs' own time.
//!
//! The processor is stateful the way a warm Lambda container is: it remembers which invocation
//! is running in each log stream (lines without a request id belong to it), which batches it
//! has processed (a delivery retried by CloudWatch Logs, Kinesis or Lambda is skipped whole),
//! which classes it already counted for each invocation that can still go on in a later batch
//! (so an invocation split across batches counts once), and each function's timeout as learned
//! from its own timeouts. All of it is bounded.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use tracing::{debug, warn};

use crate::bounded::BoundedMap;
use crate::config::{Config, FunctionSettings};
use crate::decode::{DecodeError, Envelope, decode_base64, gunzip_capped, parse_message};
use crate::emf::{self, Entry, EntryValue, Target};
use crate::metrics::{Metric, ProcessorMetric, Unit};
use crate::parse::{AppLine, Line, Report, Status, parse};
use crate::signals::Signal;
use crate::wire::DataMessage;
use smallvec::SmallVec;

const MAX_STREAMS: usize = 20_000;
/// Invocations that can go on in a later batch: a few per log stream.
const MAX_COUNTED: usize = 60_000;
/// Batches remembered to skip a delivery that comes again.
const MAX_BATCHES: usize = 100_000;
const MAX_FUNCTIONS: usize = 10_000;
const MAX_EVIDENCE_PER_INVOCATION: usize = 3;
const EVIDENCE_CONTEXT_LINES: usize = 2;
/// Longest line kept as evidence, bytes; a longer line is cut before the word the cut would split
/// ([`crate::notify::redact::cut_at_word`]).
///
/// Notices show at most 1,000 bytes of a line, but they redact the line before they cut it: a
/// secret that straddled a 1,000-byte cut made here would lose the prefix or suffix its pattern
/// needs and reach the notice half-masked. So records keep up to 8 KiB (a full stack-trace line
/// or a JSON log record with its context, while a record's evidence stays bounded by 15 lines of
/// it), and only the word split at this cut is lost. Redacting here instead would run for every
/// evidence line of every batch, whether or not a notice goes out.
pub const MAX_EVIDENCE_LINE_BYTES: usize = 8 * 1024;

/// Where "now" comes from when checking that timestamps are within EMF's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock (in Lambda).
    Wall,
    /// A fixed instant, epoch ms (tests).
    Fixed(i64),
    /// As if each batch were processed live, just after its newest event (replays of old logs).
    FollowLogs,
}

impl Clock {
    fn now_ms(self, newest_event_ms: Option<i64>) -> i64 {
        match self {
            Clock::Fixed(ms) => ms,
            Clock::FollowLogs => newest_event_ms.unwrap_or_else(wall_ms),
            Clock::Wall => wall_ms(),
        }
    }
}

/// The wall clock, epoch milliseconds.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where a function's timeout came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutSource {
    /// The config names it.
    Config,
    /// Learned from the function's own timeout in the logs.
    Learned,
    /// `defaults.timeout_seconds`.
    Default,
}

/// A function's timeout and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Timeout {
    /// Seconds.
    pub seconds: f64,
    /// Its source.
    pub source: TimeoutSource,
}

/// The set of per-invocation counters counted for an invocation (bit i is `Metric::COUNTS[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counted(u16);

impl Counted {
    /// Whether `metric` is in the set.
    pub fn has(self, metric: Metric) -> bool {
        metric.count_index().is_some_and(|i| self.0 & (1 << i) != 0)
    }

    fn set(&mut self, metric: Metric) {
        if let Some(i) = metric.count_index() {
            self.0 |= 1 << i;
        }
    }

    /// The counters in the set, in document order.
    pub fn metrics(self) -> impl Iterator<Item = Metric> {
        Metric::COUNTS.into_iter().filter(move |m| self.has(*m))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A log line kept as evidence of what happened, with the lines around it in its stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    /// When it was logged, epoch ms.
    pub timestamp_ms: i64,
    /// The line, cut to [`MAX_EVIDENCE_LINE_BYTES`].
    pub line: String,
    /// Up to two lines before it in the same batch.
    pub before: Context,
    /// Up to two lines after it in the same batch.
    pub after: Context,
}

/// The lines around a line of evidence, kept inline: there are at most two on each side.
pub type Context = SmallVec<[String; EVIDENCE_CONTEXT_LINES]>;

/// What a batch newly established about one invocation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InvocationRecord {
    /// The function (from the log group).
    pub function: Arc<str>,
    /// The log group.
    pub log_group: Arc<str>,
    /// The log stream (execution environment).
    pub log_stream: Arc<str>,
    /// The request id; lines before any START in a stream go to `init:<stream>`.
    pub request_id: String,
    /// The time the counts are filed under: the REPORT's, or the first evidence's.
    pub timestamp_ms: i64,
    /// The counters newly counted for it.
    #[serde(serialize_with = "serialize_counted")]
    pub counted: Counted,
    /// Its duration, when its report arrived in this batch.
    pub duration_ms: Option<f64>,
    /// Its init duration, if a cold start.
    pub init_duration_ms: Option<f64>,
    /// Its memory size, MB.
    pub memory_size_mb: Option<f64>,
    /// Its peak memory, MB.
    pub max_memory_used_mb: Option<f64>,
    /// The function's timeout as known when the invocation was classified.
    pub timeout: Timeout,
    /// The chunk size it logged, if any.
    pub chunk_size: Option<f64>,
    /// The error type Lambda reported, if any.
    pub error_type: Option<String>,
    /// Custom rules newly counted: (metric, value).
    pub rules: SmallVec<[(Arc<str>, Option<f64>); 2]>,
    /// Lines that show what went wrong.
    pub evidence: Vec<Evidence>,
}

fn serialize_counted<S: serde::Serializer>(c: &Counted, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(c.metrics().map(Metric::name))
}

/// Counters about the processor itself for one invocation of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Telemetry([u64; ProcessorMetric::ALL.len()]);

impl Telemetry {
    /// Adds `n` to a counter.
    pub fn add(&mut self, metric: ProcessorMetric, n: u64) {
        self.0[metric as usize] += n;
    }

    /// A counter's value.
    pub fn get(&self, metric: ProcessorMetric) -> u64 {
        self.0[metric as usize]
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &Telemetry) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

/// The shape of event an invocation received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"awslogs":{"data":…}}`.
    Direct,
    /// A Kinesis event.
    Kinesis,
    /// A decoded DATA_MESSAGE.
    Decoded,
    /// Not an event the processor understands.
    Unknown,
}

/// Everything one event produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The event's shape.
    pub shape: Shape,
    /// EMF documents, one JSON object per entry, to print one per line.
    pub documents: Vec<String>,
    /// What each invocation newly showed.
    pub invocations: Vec<InvocationRecord>,
    /// The processor's own counters.
    pub telemetry: Telemetry,
}

#[derive(Debug, Default)]
struct Bucket {
    counts: [u64; Metric::COUNTS.len()],
    values: [Vec<f64>; Metric::VALUES.len()],
    rule_counts: BTreeMap<usize, u64>,
    rule_values: BTreeMap<usize, Vec<f64>>,
    applicable_rules: Vec<usize>,
}

#[derive(Default)]
struct Accumulator {
    buckets: BTreeMap<(Arc<str>, i64), Bucket>,
    records: Vec<InvocationRecord>,
    telemetry: Telemetry,
    newest_ms: Option<i64>,
}

/// The invocations of one batch, in order of first appearance, found by request id. Ids borrow
/// from the batch's lines, so a batch allocates no string per invocation; only an invocation
/// that started in an earlier batch and shows up here on lines without an id gets a copy.
/// Consecutive lines almost always belong to the same invocation, so the last slot is checked
/// before the map.
#[derive(Default)]
struct Slots<'a> {
    invocations: Vec<(SlotId<'a>, Invocation)>,
    index: HashMap<&'a str, usize, foldhash::fast::RandomState>,
    /// Slots whose id is a copy (few: at most the invocations running when the batch began).
    owned: Vec<usize>,
    init: Option<usize>,
    last: Option<usize>,
}

/// Whose slot it is: an invocation's (by an id from the batch, or a copy of one), or its
/// stream's init phase.
#[derive(Debug, Clone, PartialEq)]
enum SlotId<'a> {
    Request(&'a str),
    Owned(String),
    Init,
}

impl SlotId<'_> {
    fn is(&self, id: &str) -> bool {
        match self {
            SlotId::Request(r) => same_id(r, id),
            SlotId::Owned(r) => same_id(r, id),
            SlotId::Init => false,
        }
    }
}

/// Whether two request ids are equal. Ids are compared on nearly every line, and nearly all are
/// 36-byte UUIDs: those are compared as five words, without a call to `memcmp`.
fn same_id(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != 36 || b.len() != 36 {
        return a == b;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    // The last word overlaps the fourth, to cover bytes 28 to 35.
    [0, 8, 16, 24, 28]
        .iter()
        .fold(0, |differ, &at| differ | (word(a, at) ^ word(b, at)))
        == 0
}

/// Whose an application line is: the invocation it names or the one running in its stream, or
/// the stream's init phase when no invocation has started there.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Id(&'a str),
    Init,
}

impl<'a> Slots<'a> {
    /// The slot of an invocation already seen in this batch.
    fn find(&mut self, owner: Owner<'_>) -> Option<usize> {
        let id = match owner {
            Owner::Id(id) => id,
            Owner::Init => return self.init,
        };
        if let Some(last) = self.last
            && self.invocations[last].0.is(id)
        {
            return Some(last);
        }
        let i = match self.index.get(id) {
            Some(&i) => i,
            None => *self.owned.iter().find(|&&i| self.invocations[i].0.is(id))?,
        };
        self.last = Some(i);
        Some(i)
    }

    /// Room for the invocations of a batch of `events` log events.
    fn for_events(events: usize) -> Self {
        // A dozen lines or more per invocation is usual; the guess only saves regrowing.
        let guess = (events / 8).min(4096);
        Slots {
            invocations: Vec::with_capacity(guess),
            index: HashMap::with_capacity_and_hasher(guess, Default::default()),
            ..Slots::default()
        }
    }

    /// The invocation of a line of this batch, made if this batch has not seen it yet.
    fn get(&mut self, owner: Owner<'a>) -> &mut Invocation {
        let i = match owner {
            Owner::Id(id) => self.get_id(id),
            Owner::Init => match self.init {
                Some(i) => i,
                None => {
                    self.init = Some(self.invocations.len());
                    self.push(SlotId::Init)
                }
            },
        };
        &mut self.invocations[i].1
    }

    /// [`Slots::get`] for an id of the batch.
    fn get_id(&mut self, id: &'a str) -> usize {
        if let Some(i) = self.find(Owner::Id(id)) {
            return i;
        }
        self.index.insert(id, self.invocations.len());
        self.push(SlotId::Request(id))
    }

    /// The invocation of an id kept from an earlier batch, made if this batch has not seen it.
    fn get_owned(&mut self, id: &str) -> &mut Invocation {
        let i = match self.find(Owner::Id(id)) {
            Some(i) => i,
            None => {
                self.owned.push(self.invocations.len());
                self.push(SlotId::Owned(id.to_string()))
            }
        };
        &mut self.invocations[i].1
    }

    fn push(&mut self, id: SlotId<'a>) -> usize {
        let i = self.invocations.len();
        self.invocations.push((id, Invocation::default()));
        self.last = Some(i);
        i
    }
}

/// What every invocation of one batch shares.
struct Batch {
    function: Arc<str>,
    log_group: Arc<str>,
    log_stream: Arc<str>,
    settings: Arc<FunctionSettings>,
    timeout: Timeout,
}

/// The key under which an invocation's counted classes are remembered. A 64-bit hash: two
/// request ids would have to collide among the 60,000 remembered for a class to be missed.
fn invocation_key(log_group: &str, request_id: &str) -> u64 {
    stable_hash((log_group, request_id))
}

/// A 64-bit hash of `value` that is the same in every process, for keys kept in place of text.
fn stable_hash(value: impl std::hash::Hash) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::default().hash_one(value)
}

/// Which invocation lines without a request id belong to, per log stream. The ids are kept in
/// buffers that are overwritten, not reallocated, invocation after invocation.
#[derive(Debug, Clone, Default)]
struct StreamState {
    /// The id of the last invocation that started.
    current: String,
    /// Whether `current` is still running (no REPORT yet).
    running: bool,
    /// The id of the last invocation that reported.
    last: String,
}

impl StreamState {
    fn start(&mut self, id: &str) {
        set_to(&mut self.current, id);
        self.running = true;
    }

    fn report(&mut self, id: &str) {
        if self.running && same_id(&self.current, id) {
            self.running = false;
        }
        set_to(&mut self.last, id);
    }

    /// The invocation a line without a request id belongs to, if any has been seen.
    fn owner(&self) -> Option<&str> {
        if self.running {
            Some(&self.current)
        } else if !self.last.is_empty() {
            Some(&self.last)
        } else {
            None
        }
    }
}

fn set_to(buffer: &mut String, value: &str) {
    buffer.clear();
    buffer.push_str(value);
}

/// What earlier batches already counted for one invocation.
#[derive(Debug, Clone, Copy, Default)]
struct CountedBefore {
    counted: Counted,
    /// Bit `i` is rule `i` of the config (at most [`crate::config::MAX_RULES`]).
    rules: u64,
}

mod raw {
    pub const REPORTED: u16 = 1;
    pub const TIMEOUT: u16 = 1 << 1;
    pub const FAILED: u16 = 1 << 2;
    pub const ERROR_LINE: u16 = 1 << 3;
    pub const OOM: u16 = 1 << 4;
    pub const RATE_LIMITED: u16 = 1 << 5;
    pub const TOO_MANY_CONNECTIONS: u16 = 1 << 6;
    pub const CONNECTION_ERROR: u16 = 1 << 7;
}

#[derive(Debug, Default)]
struct Invocation {
    /// Its START is in this batch: no earlier batch can have counted anything for it.
    started: bool,
    flags: u16,
    timestamp_ms: Option<i64>,
    report_ms: Option<i64>,
    duration_ms: Option<f64>,
    init_duration_ms: Option<f64>,
    memory_size_mb: Option<f64>,
    max_memory_used_mb: Option<f64>,
    timed_out_after: Option<f64>,
    chunk_size: Option<f64>,
    error_type: Option<String>,
    /// The rules it matched, each with its first value.
    rules: SmallVec<[(usize, Option<f64>); 2]>,
    /// The events that are its evidence, by index in the batch.
    evidence: SmallVec<[usize; MAX_EVIDENCE_PER_INVOCATION]>,
}

impl Invocation {
    /// The rules it matched as bits: bit `i` is rule `i`.
    fn rule_bits(&self) -> u64 {
        self.rules.iter().fold(0, |bits, &(r, _)| bits | 1 << r)
    }

    fn mark(&mut self, flags: u16, event_index: usize, timestamp_ms: i64, evidence: bool) {
        self.flags |= flags;
        self.timestamp_ms.get_or_insert(timestamp_ms);
        if evidence && self.evidence.len() < MAX_EVIDENCE_PER_INVOCATION && self.evidence.last() != Some(&event_index) {
            self.evidence.push(event_index);
        }
    }

    fn take_status(&mut self, status: Option<Status>, error_type: Option<&str>) -> u16 {
        let mut flags = match status {
            Some(Status::Timeout) => raw::TIMEOUT,
            Some(s) if s.is_failure() => raw::FAILED,
            _ => 0,
        };
        if let Some(et) = error_type {
            if et.contains("OutOfMemory") {
                flags |= raw::OOM;
            }
            self.error_type.get_or_insert_with(|| et.to_string());
        }
        flags
    }
}

/// The engine: feed it events, get EMF documents and per-invocation records back.
pub struct Processor {
    config: Config,
    clock: Clock,
    own_log_group: Option<String>,
    processor_name: String,
    streams: BoundedMap<String, StreamState>,
    /// Keyed by a 64-bit hash of (log group, request id): no string kept per invocation.
    counted: BoundedMap<u64, CountedBefore>,
    /// Fingerprints of the batches processed ([`batch_fingerprint`]).
    batches: BoundedMap<u64, ()>,
    learned: BoundedMap<String, f64>,
    settings: BoundedMap<String, Arc<FunctionSettings>>,
    /// Capture slots for each rule's value pattern, reused from line to line.
    rule_locations: Vec<Option<regex::CaptureLocations>>,
}

/// The function a log group belongs to: `/aws/lambda/NAME` gives NAME, others the last part.
pub fn function_name(log_group: &str) -> &str {
    let name = match log_group.strip_prefix("/aws/lambda/") {
        Some(name) => name,
        None => log_group.rsplit('/').next().unwrap_or(log_group),
    };
    if name.is_empty() {
        if log_group.is_empty() { "unknown" } else { log_group }
    } else {
        name
    }
}

impl Processor {
    /// A processor with this config and clock. `own_log_group` is never processed (in Lambda,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`); `processor_name` is the `Processor` dimension's value.
    pub fn new(config: Config, clock: Clock, own_log_group: Option<String>, processor_name: impl Into<String>) -> Self {
        let rule_locations = config
            .rules
            .iter()
            .map(|r| r.value.as_ref().map(regex::Regex::capture_locations))
            .collect();
        Processor {
            rule_locations,
            config,
            clock,
            own_log_group: own_log_group.filter(|g| !g.is_empty()),
            processor_name: processor_name.into(),
            streams: BoundedMap::new(MAX_STREAMS),
            counted: BoundedMap::new(MAX_COUNTED),
            batches: BoundedMap::new(MAX_BATCHES),
            learned: BoundedMap::new(MAX_FUNCTIONS),
            settings: BoundedMap::new(MAX_FUNCTIONS),
        }
    }

    /// The config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The timeout the processor would use for `function` now.
    pub fn timeout_for(&mut self, function: &str) -> Timeout {
        let settings = self.settings_for(function);
        self.resolve_timeout(function, &settings)
    }

    fn resolve_timeout(&self, function: &str, settings: &FunctionSettings) -> Timeout {
        if let Some(seconds) = settings.timeout_seconds {
            return Timeout {
                seconds,
                source: TimeoutSource::Config,
            };
        }
        if let Some(&seconds) = self.learned.get(function) {
            return Timeout {
                seconds,
                source: TimeoutSource::Learned,
            };
        }
        Timeout {
            seconds: self.config.defaults.timeout_seconds,
            source: TimeoutSource::Default,
        }
    }

    fn settings_for(&mut self, function: &str) -> Arc<FunctionSettings> {
        let config = &self.config;
        self.settings
            .get_or_insert_with(function.to_string(), || Arc::new(config.settings_for(function)))
            .clone()
    }

    /// Processes one Lambda event of any accepted shape. Never fails: bad input is counted,
    /// logged and skipped.
    pub fn handle_event(&mut self, event: &Value) -> Outcome {
        let mut acc = Accumulator::default();
        let shape = match Envelope::detect(event) {
            Envelope::Direct(data) => {
                self.process_encoded(data, None, &mut acc);
                Shape::Direct
            }
            Envelope::Kinesis(items) => {
                for item in items {
                    match item.data {
                        Ok(data) => self.process_encoded(data, item.sequence_number, &mut acc),
                        Err(err) => self.decode_failed(&err, None, item.sequence_number, &mut acc),
                    }
                }
                Shape::Kinesis
            }
            Envelope::Decoded(value) => {
                match DataMessage::deserialize_from(value) {
                    Ok(message) => self.process_message(&message, &mut acc),
                    Err(err) => self.decode_failed(&DecodeError::Json(err), None, None, &mut acc),
                }
                Shape::Decoded
            }
            Envelope::Unknown(what) => {
                warn!(
                    shape = what,
                    "Skipped an event that is not a CloudWatch Logs subscription delivery."
                );
                acc.telemetry.add(ProcessorMetric::DecodeFailures, 1);
                Shape::Unknown
            }
        };
        self.finish(shape, acc)
    }

    /// Processes one decoded subscription message (as the CLI reads `.log` files).
    pub fn handle_message(&mut self, message: &DataMessage<'_>) -> Outcome {
        let mut acc = Accumulator::default();
        self.process_message(message, &mut acc);
        self.finish(Shape::Decoded, acc)
    }

    fn process_encoded(&mut self, data: &str, sequence_number: Option<&str>, acc: &mut Accumulator) {
        // At each step that fails, the log group is looked for in what there is, so the log names
        // the sender even when it skipped a step of the encoding.
        let compressed = match decode_base64(data) {
            Ok(bytes) => bytes,
            Err(err) => return self.decode_failed(&err, sniff_log_group(data.as_bytes()), sequence_number, acc),
        };
        let bytes = match gunzip_capped(&compressed, self.config.max_decoded_bytes) {
            Ok(bytes) => bytes,
            Err(err) => return self.decode_failed(&err, sniff_log_group(&compressed), sequence_number, acc),
        };
        match parse_message(&bytes) {
            Ok(message) => self.process_message(&message, acc),
            Err(err) => self.decode_failed(&err, sniff_log_group(&bytes), sequence_number, acc),
        }
    }

    fn decode_failed(
        &self,
        err: &DecodeError,
        log_group: Option<&str>,
        sequence_number: Option<&str>,
        acc: &mut Accumulator,
    ) {
        warn!(
            log_group = log_group.unwrap_or("unknown"),
            kinesis_sequence_number = sequence_number,
            kind = err.kind(),
            error = %err,
            "Skipped a batch that could not be decoded."
        );
        acc.telemetry.add(ProcessorMetric::DecodeFailures, 1);
    }

    fn process_message(&mut self, message: &DataMessage<'_>, acc: &mut Accumulator) {
        if message.is_control() {
            debug!("Skipped a CloudWatch Logs control message.");
            acc.telemetry.add(ProcessorMetric::ControlMessages, 1);
            return;
        }
        let group = message.log_group.as_ref();
        if self.own_log_group.as_deref() == Some(group) || self.config.is_excluded(group) {
            debug!(log_group = group, "Skipped a batch from an excluded log group.");
            acc.telemetry.add(ProcessorMetric::BatchesExcluded, 1);
            return;
        }
        if !self.batches.insert_absent(batch_fingerprint(message), ()) {
            debug!(
                log_group = group,
                log_stream = message.log_stream.as_ref(),
                events = message.log_events.len(),
                "Skipped a batch processed before (a retried delivery)."
            );
            acc.telemetry.add(ProcessorMetric::DuplicateBatches, 1);
            return;
        }
        acc.telemetry.add(ProcessorMetric::BatchesProcessed, 1);
        let function: Arc<str> = Arc::from(function_name(group));
        let settings = self.settings_for(&function);
        let stream_key = format!("{group}\u{1f}{}", message.log_stream);
        let mut stream = self.streams.get(&stream_key).cloned().unwrap_or_default();
        let newest = message.log_events.iter().map(|e| e.timestamp).max();
        let now = self.clock.now_ms(newest);
        acc.newest_ms = acc.newest_ms.max(newest);

        let mut slots = Slots::for_events(message.log_events.len());
        for (i, event) in message.log_events.iter().enumerate() {
            let minute = event.timestamp - event.timestamp.rem_euclid(60_000);
            if minute < now - emf::MAX_AGE_MS + 60_000 {
                acc.telemetry.add(ProcessorMetric::EventsTooOld, 1);
                continue;
            }
            if event.timestamp > now + emf::MAX_AHEAD_MS {
                acc.telemetry.add(ProcessorMetric::EventsTooNew, 1);
                continue;
            }
            acc.telemetry.add(ProcessorMetric::EventsProcessed, 1);
            let ts = event.timestamp;
            match parse(&event.message) {
                Line::Start { request_id } => {
                    stream.start(request_id);
                    let inv = slots.get(Owner::Id(request_id));
                    inv.started = true;
                    inv.timestamp_ms.get_or_insert(ts);
                }
                Line::End { .. } | Line::Platform => {}
                Line::Report(report) => {
                    let inv = slots.get(Owner::Id(report.request_id));
                    let flags = take_report(inv, &report, ts);
                    let failed = flags & (raw::TIMEOUT | raw::FAILED | raw::OOM) != 0;
                    inv.mark(flags, i, ts, failed);
                    stream.report(report.request_id);
                }
                Line::RuntimeDone {
                    request_id,
                    status,
                    error_type,
                } => {
                    let inv = slots.get(Owner::Id(request_id));
                    let flags = inv.take_status(status, error_type.as_deref());
                    inv.mark(flags, i, ts, flags != 0);
                }
                Line::PhaseReport {
                    during_invoke,
                    status,
                    error_type,
                } => {
                    let failed = matches!(status, Some(s) if s.is_failure() || s == Status::Timeout);
                    if failed {
                        let bucket = bucket(acc, &function, minute, &settings);
                        bucket.counts[Metric::InitFailures.count_index().unwrap_or(0)] += 1;
                    }
                    if failed && during_invoke && stream.running {
                        let inv = slots.get_owned(&stream.current);
                        let flags = inv.take_status(status, error_type.as_deref());
                        inv.mark(flags, i, ts, true);
                    }
                }
                Line::App(app) => {
                    let flags = app_flags(&app);
                    let has_rules = !settings.rules.is_empty();
                    if flags == 0 && app.chunk_size.is_none() && !has_rules {
                        continue;
                    }
                    // A line without an id belongs to the stream's invocation, whose id the
                    // stream state keeps (it may have started in an earlier batch).
                    let named = app.request_id.map(Owner::Id);
                    let kept = if named.is_none() { stream.owner() } else { None };
                    // A rule counts once per invocation and keeps its first value, so once the
                    // invocation has every rule there is no more matching or capturing to do.
                    let existing = match (named, kept) {
                        (Some(owner), _) => slots.find(owner),
                        (None, Some(id)) => slots.find(Owner::Id(id)),
                        (None, None) => slots.find(Owner::Init),
                    };
                    let seen = existing.map_or(0, |s| slots.invocations[s].1.rule_bits());
                    let matched = self.matching_rules(&settings, settings.rule_bits() & !seen, &event.message);
                    if flags == 0 && matched == 0 && app.chunk_size.is_none() {
                        continue;
                    }
                    let inv = match (existing, named, kept) {
                        (Some(s), _, _) => &mut slots.invocations[s].1,
                        (None, Some(owner), _) => slots.get(owner),
                        (None, None, Some(id)) => slots.get_owned(id),
                        (None, None, None) => slots.get(Owner::Init),
                    };
                    inv.mark(flags, i, ts, flags != 0);
                    if let Some(after) = app.timed_out_after {
                        inv.timed_out_after = Some(after);
                    }
                    if inv.chunk_size.is_none() {
                        inv.chunk_size = app.chunk_size;
                    }
                    for rule in bits(matched) {
                        let value = self.rule_locations[rule]
                            .as_mut()
                            .and_then(|locations| self.config.rules[rule].value_with(&event.message, locations));
                        inv.rules.push((rule, value));
                    }
                }
            }
        }

        // Learn timeouts before classifying, so that a timeout and a near-timeout of the same
        // function in one batch are judged against the same, best-known timeout.
        for (_, inv) in &slots.invocations {
            if inv.flags & raw::TIMEOUT != 0 && settings.timeout_seconds.is_none() {
                let seconds = inv.timed_out_after.or(inv.duration_ms.map(|ms| ms / 1000.0));
                if let Some(seconds) = seconds.map(f64::round).filter(|s| *s >= 1.0 && *s <= 900.0) {
                    self.learned.insert(function.to_string(), seconds);
                }
            }
        }
        let batch = Batch {
            timeout: self.resolve_timeout(&function, &settings),
            function,
            log_group: Arc::from(group),
            log_stream: Arc::from(message.log_stream.as_ref()),
            settings,
        };
        acc.records.reserve(slots.invocations.len());
        for (id, inv) in &mut slots.invocations {
            let id = match id {
                SlotId::Request(id) => Cow::Borrowed(*id),
                SlotId::Owned(id) => Cow::Borrowed(id.as_str()),
                SlotId::Init => Cow::Owned(format!("init:{}", message.log_stream)),
            };
            let latest = same_id(&stream.current, &id);
            self.finalize(&id, latest, inv, message, &batch, acc);
        }
        self.streams.insert(stream_key, stream);
    }

    /// Which of the `open` rules (bit `i` is rule `i`) match `line`. Plain phrases are searched
    /// one by one; regexes go through the function's set first, which rules most lines out in
    /// one pass.
    fn matching_rules(&self, settings: &FunctionSettings, open: u64, line: &str) -> u64 {
        if open == 0 || !(settings.all_literal || settings.rule_set.as_ref().is_some_and(|set| set.is_match(line))) {
            return 0;
        }
        bits(open)
            .filter(|&r| self.config.rules[r].matches(line))
            .fold(0, |found, r| found | 1 << r)
    }

    /// Counts what `inv` newly showed and files its record. `latest`: it is the last invocation
    /// that started in its stream, so later lines without an id may still go to it.
    fn finalize(
        &mut self,
        id: &str,
        latest: bool,
        inv: &mut Invocation,
        message: &DataMessage<'_>,
        batch: &Batch,
        acc: &mut Accumulator,
    ) {
        let settings = &*batch.settings;
        let timeout = batch.timeout;
        let f = inv.flags;
        let reported = f & raw::REPORTED != 0;
        let timed_out = f & raw::TIMEOUT != 0;
        let failed = f & raw::FAILED != 0;
        let memory_full =
            matches!((inv.max_memory_used_mb, inv.memory_size_mb), (Some(used), Some(size)) if used >= size);
        let oom = f & raw::OOM != 0 || (memory_full && (failed || timed_out));
        let errored = (failed || f & raw::ERROR_LINE != 0) && !timed_out;

        let mut counted = Counted::default();
        let mut set = |metric: Metric, on: bool| {
            if on {
                counted.set(metric);
            }
        };
        set(Metric::Invocations, reported);
        set(Metric::Timeouts, timed_out);
        set(Metric::OutOfMemory, oom);
        set(Metric::Errors, errored);
        set(Metric::RateLimited, f & raw::RATE_LIMITED != 0);
        set(Metric::TooManyConnections, f & raw::TOO_MANY_CONNECTIONS != 0);
        set(
            Metric::ConnectionErrors,
            f & (raw::CONNECTION_ERROR | raw::TOO_MANY_CONNECTIONS) != 0,
        );
        set(Metric::ColdStarts, reported && inv.init_duration_ms.is_some());
        if let (true, Some(ms)) = (reported, inv.duration_ms) {
            set(
                Metric::NearTimeout,
                !timed_out && ms >= settings.near_timeout_ratio * timeout.seconds * 1000.0,
            );
            set(
                Metric::ShortRuns,
                settings.chunked && !timed_out && !errored && !oom && ms < settings.short_run_seconds * 1000.0,
            );
        }

        // An invocation that started in this batch has nothing counted before (a batch delivered
        // again is skipped whole), and one that also reported here, with another started after
        // it, can show up in no later batch: only the others are looked up and remembered, which
        // keeps the map to a few invocations per stream and its lookups off the common path.
        // (Lambda's retry of an asynchronous event reuses the request id; each attempt has its
        // own START and counts as an invocation, as in Lambda's own metrics.)
        let now = CountedBefore {
            counted,
            rules: inv.rule_bits(),
        };
        let key = || invocation_key(&batch.log_group, id);
        let before = if inv.started {
            if !reported || latest {
                self.counted.insert(key(), now);
            }
            CountedBefore::default()
        } else {
            let kept = self.counted.get_or_insert_with(key(), CountedBefore::default);
            let before = *kept;
            kept.counted.0 |= now.counted.0;
            kept.rules |= now.rules;
            before
        };
        let new = Counted(counted.0 & !before.counted.0);
        let new_rule_bits = now.rules & !before.rules;
        if new.is_empty() && new_rule_bits == 0 {
            return;
        }
        let new_rules = inv.rules.iter().filter(|(r, _)| new_rule_bits & (1 << r) != 0);

        let timestamp_ms = inv.report_ms.or(inv.timestamp_ms).unwrap_or(0);
        let minute = timestamp_ms - timestamp_ms.rem_euclid(60_000);
        let b = bucket(acc, &batch.function, minute, settings);
        for metric in new.metrics() {
            b.counts[metric.count_index().unwrap_or(0)] += 1;
        }
        let newly_reported = new.has(Metric::Invocations);
        if newly_reported {
            let utilization = match (inv.max_memory_used_mb, inv.memory_size_mb) {
                (Some(used), Some(size)) if size > 0.0 => Some(used / size * 100.0),
                _ => None,
            };
            let values = [
                inv.duration_ms,
                inv.init_duration_ms,
                inv.max_memory_used_mb,
                utilization,
            ];
            for (slot, value) in b.values.iter_mut().zip(values) {
                slot.extend(value);
            }
        }
        for &(rule, value) in new_rules.clone() {
            match (value, self.config.rules[rule].value.is_some()) {
                (Some(v), true) => b.rule_values.entry(rule).or_default().push(v),
                (None, true) => {}
                (_, false) => *b.rule_counts.entry(rule).or_default() += 1,
            }
        }

        let evidence = inv.evidence.iter().map(|&i| evidence_at(message, i)).collect();
        acc.records.push(InvocationRecord {
            function: batch.function.clone(),
            log_group: batch.log_group.clone(),
            log_stream: batch.log_stream.clone(),
            request_id: id.to_string(),
            timestamp_ms,
            counted: new,
            duration_ms: inv.duration_ms.filter(|_| newly_reported),
            init_duration_ms: inv.init_duration_ms.filter(|_| newly_reported),
            memory_size_mb: inv.memory_size_mb,
            max_memory_used_mb: inv.max_memory_used_mb,
            timeout,
            chunk_size: inv.chunk_size,
            error_type: inv.error_type.take(),
            rules: new_rules
                .map(|&(r, v)| (self.config.rules[r].metric.clone(), v))
                .collect(),
            evidence,
        });
    }

    /// EMF documents for the processor's own counters (dimension `Processor`), at `timestamp_ms`.
    pub fn telemetry_documents(
        &self,
        telemetry: &Telemetry,
        metrics: &[ProcessorMetric],
        timestamp_ms: i64,
    ) -> Vec<String> {
        let entries: Vec<Entry<'_>> = metrics
            .iter()
            .map(|m| Entry {
                name: m.name(),
                unit: Unit::Count.name(),
                value: EntryValue::Count(telemetry.get(*m)),
            })
            .collect();
        let target = Target {
            namespace: &self.config.namespace,
            timestamp_ms,
            dimensions: &[("Processor", self.processor_name.as_str())],
            dimension_sets: &[&["Processor"]],
        };
        emf::render(target, &entries)
    }

    fn finish(&mut self, shape: Shape, acc: Accumulator) -> Outcome {
        let mut documents = Vec::new();
        let namespace = self.config.namespace.as_str();
        for ((function, minute), b) in &acc.buckets {
            let mut entries: Vec<Entry<'_>> = Metric::COUNTS
                .iter()
                .zip(b.counts)
                .map(|(m, n)| Entry {
                    name: m.name(),
                    unit: m.unit().name(),
                    value: EntryValue::Count(n),
                })
                .collect();
            for (m, values) in Metric::VALUES.iter().zip(&b.values) {
                if !values.is_empty() {
                    entries.push(Entry {
                        name: m.name(),
                        unit: m.unit().name(),
                        value: EntryValue::Values(values),
                    });
                }
            }
            for &rule in &b.applicable_rules {
                let r = &self.config.rules[rule];
                if r.value.is_some() {
                    if let Some(values) = b.rule_values.get(&rule) {
                        entries.push(Entry {
                            name: &r.metric,
                            unit: r.unit,
                            value: EntryValue::Values(values),
                        });
                    }
                } else {
                    let n = b.rule_counts.get(&rule).copied().unwrap_or(0);
                    entries.push(Entry {
                        name: &r.metric,
                        unit: r.unit,
                        value: EntryValue::Count(n),
                    });
                }
            }
            let target = Target {
                namespace,
                timestamp_ms: *minute,
                dimensions: &[("FunctionName", function)],
                dimension_sets: &[&["FunctionName"], &[]],
            };
            documents.extend(emf::render(target, &entries));
        }
        let now = self.clock.now_ms(acc.newest_ms);
        documents.extend(self.telemetry_documents(&acc.telemetry, &ProcessorMetric::ALL, now));
        Outcome {
            shape,
            documents,
            invocations: acc.records,
            telemetry: acc.telemetry,
        }
    }
}

fn bucket<'a>(
    acc: &'a mut Accumulator,
    function: &Arc<str>,
    minute: i64,
    settings: &FunctionSettings,
) -> &'a mut Bucket {
    acc.buckets
        .entry((Arc::clone(function), minute))
        .or_insert_with(|| Bucket {
            applicable_rules: settings.rules.clone(),
            ..Bucket::default()
        })
}

/// The indexes of the set bits of `set`, lowest first.
fn bits(mut set: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (set != 0).then(|| {
            let i = set.trailing_zeros() as usize;
            set &= set - 1;
            i
        })
    })
}

fn take_report(inv: &mut Invocation, report: &Report<'_>, ts: i64) -> u16 {
    inv.report_ms = Some(ts);
    inv.duration_ms = report.duration_ms.or(inv.duration_ms);
    inv.init_duration_ms = report.init_duration_ms.or(inv.init_duration_ms);
    inv.memory_size_mb = report.memory_size_mb.or(inv.memory_size_mb);
    inv.max_memory_used_mb = report.max_memory_used_mb.or(inv.max_memory_used_mb);
    raw::REPORTED | inv.take_status(report.status, report.error_type.as_deref())
}

fn app_flags(app: &AppLine<'_>) -> u16 {
    let s = app.signals;
    let mut flags = 0;
    if app.is_error() {
        flags |= raw::ERROR_LINE;
    }
    if app.timed_out_after.is_some() {
        flags |= raw::TIMEOUT;
    }
    for (signal, flag) in [
        (Signal::RateLimited, raw::RATE_LIMITED),
        (Signal::TooManyConnections, raw::TOO_MANY_CONNECTIONS),
        (Signal::ConnectionError, raw::CONNECTION_ERROR),
        (Signal::OutOfMemory, raw::OOM),
        (Signal::RuntimeExited, raw::FAILED),
    ] {
        if s.has(signal) {
            flags |= flag;
        }
    }
    flags
}

fn evidence_at(message: &DataMessage<'_>, i: usize) -> Evidence {
    let events = &message.log_events;
    let line = |j: usize| crate::notify::redact::cut_at_word(events[j].message.trim_end(), MAX_EVIDENCE_LINE_BYTES);
    Evidence {
        timestamp_ms: events[i].timestamp,
        line: line(i),
        before: (i.saturating_sub(EVIDENCE_CONTEXT_LINES)..i).map(line).collect(),
        after: (i + 1..(i + 1 + EVIDENCE_CONTEXT_LINES).min(events.len()))
            .map(line)
            .collect(),
    }
}

/// What identifies a batch when it is delivered again: its log group and stream, its number of
/// events, and its first and last events (CloudWatch Logs' event ids are unique; decoded files
/// without ids are told apart by their times and lines).
fn batch_fingerprint(message: &DataMessage<'_>) -> u64 {
    let events = &message.log_events;
    let ends = [events.first(), events.last()].map(|e| e.map(|e| (e.id.as_ref(), e.timestamp, e.message.as_ref())));
    stable_hash((
        message.log_group.as_ref(),
        message.log_stream.as_ref(),
        events.len(),
        ends,
    ))
}

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Finds the log group in bytes that did not parse, to name it in the log.
fn sniff_log_group(bytes: &[u8]) -> Option<&str> {
    let at = memchr::memmem::find(bytes, b"\"logGroup\":\"")? + "\"logGroup\":\"".len();
    let len = memchr::memchr(b'"', &bytes[at..])?;
    std::str::from_utf8(&bytes[at..at + len]).ok()
}

#[cfg(test)]
#[path = "processor_tests.rs"]
mod tests;
