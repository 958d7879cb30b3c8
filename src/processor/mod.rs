//! Stages 3 and 4: ties every line to its invocation, merges what each invocation's lines
//! establish across batches, classifies it, counts each class once per invocation at the
//! minute of its logs, and aggregates per function and minute.
//!
//! - [`slots`]: one batch's invocations;
//! - [`stream`]: which invocation a line without a request id belongs to, whatever order a
//!   stream's batches arrive in;
//! - [`facts`]: what an invocation's lines establish, merged the same way in any order;
//! - [`classify`]: what counts as what, one pure function;
//! - this module: the warm container's memory, and when a count is settled.
//!
//! # When a count is settled
//!
//! An invocation whose START, REPORT and the next START of its stream are all in one batch is
//! counted at once: no other batch can hold a line of it. Any other invocation is remembered
//! (its facts, and what was counted for it), and each batch that brings more of it counts only
//! what changed:
//!
//! - before its REPORT, nothing is counted (the minute its classes are filed under is the
//!   REPORT's), unless it has not reported `hold_seconds` after its timeout could have ended it:
//!   then it is counted at its first line's minute, and moved to its REPORT's minute should the
//!   REPORT still come (a correction at each minute);
//! - once reported, every class is counted except the three that a later `Task timed out` line
//!   can take back (Errors, NearTimeout, ShortRuns): those wait until the outcome is final (the
//!   report names its status, the invocation timed out, its stream shows a later START), or
//!   `hold_seconds` have passed, after which a later fact that takes one back is a correction
//!   (−1 at the same minute).
//!
//! So within one warm processor, every per-function, per-minute sum equals the sum over the
//! whole streams delivered at once, however the batches were cut, ordered or repeated, as long
//! as what is remembered has not been forgotten: [`MAX_TRACKED`] invocations, [`MAX_STREAMS`]
//! streams (each with its last [`stream::MAX_SEGMENTS`] batches), [`MAX_BATCHES`] batch
//! fingerprints. Held counts go out with the first event handled after their time
//! ([`Processor::settle_due`]); [`Processor::flush`] settles all of them (the end of a replay).
//! A container that Lambda reaps takes its held counts with it.

mod classify;
mod facts;
mod record;
mod shared_stream;
mod slots;
mod stream;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use serde_json::Value;
use smallvec::SmallVec;
use tracing::{debug, warn};

use crate::bounded::BoundedMap;
use crate::config::{Config, FunctionSettings};
use crate::decode::{DecodeError, Envelope, decode_base64, gunzip_capped, parse_message_counted};
use crate::emf::{self, Entry, EntryValue, Target};
use crate::metrics::{Metric, ProcessorMetric, Unit};
use crate::parse::{Line, Status, parse_all};
use crate::state::{Claim, Filed, Store, View};
use crate::wire::DataMessage;

pub use classify::{HELD_BACK, classify, is_final};
pub use facts::{Facts, RuleHit, flag};
pub use record::{
    Context, Counted, Evidence, InvocationRecord, MAX_EVIDENCE_LINE_BYTES, Outcome, Shape, Telemetry, Timeout,
    TimeoutSource, truncate,
};

use record::EVIDENCE_CONTEXT_LINES;
use shared_stream::{StreamView, batch_tokens, pos_key};
use slots::{MAX_EVIDENCE_PER_INVOCATION, Owner, Slots, same_id};
pub use stream::function_name_in;
use stream::{BatchMarks, Boundary, Orphan, Pos, StreamState};

/// Log streams remembered.
pub const MAX_STREAMS: usize = 20_000;
/// Invocations remembered, the most recent first: those whose outcome a later batch can still
/// change, and those already counted, so that a late line of theirs is recognised. When room is
/// needed the oldest goes; one that still holds counts is settled as it stands first.
pub const MAX_TRACKED: usize = 20_000;
/// Batches remembered to skip a delivery that comes again.
pub const MAX_BATCHES: usize = 100_000;
/// The same bound under the name the memory benchmark reads.
pub const MAX_COUNTED: usize = MAX_TRACKED;
/// Functions whose settings and learned timeouts are remembered.
pub const MAX_FUNCTIONS: usize = 5_000;
/// Learned timeouts remembered per function.
const MAX_LEARNED: usize = 8;

/// Where "now" comes from when checking that timestamps are within EMF's window and when held
/// counts are due.
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

/// The start of the minute `ms` falls in. Saturates at `i64::MIN` (any event timestamp is
/// input, and the minute before the first whole minute of `i64` cannot be written).
pub fn minute_start(ms: i64) -> i64 {
    ms.saturating_sub(ms.rem_euclid(60_000))
}

#[derive(Debug, Default)]
struct Bucket {
    counts: [i64; Metric::COUNTS.len()],
    values: [Vec<f64>; Metric::VALUES.len()],
    cost: [Vec<f64>; Metric::COST.len()],
    rule_counts: BTreeMap<usize, i64>,
    rule_values: BTreeMap<usize, Vec<f64>>,
    /// Bit `i` is rule `i` of the config.
    applicable_rules: u64,
}

#[derive(Default)]
struct Accumulator {
    buckets: BTreeMap<(Arc<str>, i64), Bucket>,
    records: Vec<InvocationRecord>,
    telemetry: Telemetry,
    newest_ms: Option<i64>,
}

impl Accumulator {
    /// Adds what `other` counted (a batch whose counts waited for the shared state's word).
    fn absorb(&mut self, other: Accumulator) {
        for (key, b) in other.buckets {
            match self.buckets.entry(key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(b);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let mine = o.get_mut();
                    for (m, n) in mine.counts.iter_mut().zip(b.counts) {
                        *m += n;
                    }
                    for (m, v) in mine.values.iter_mut().zip(b.values) {
                        m.extend(v);
                    }
                    for (m, v) in mine.cost.iter_mut().zip(b.cost) {
                        m.extend(v);
                    }
                    for (rule, n) in b.rule_counts {
                        *mine.rule_counts.entry(rule).or_default() += n;
                    }
                    for (rule, v) in b.rule_values {
                        mine.rule_values.entry(rule).or_default().extend(v);
                    }
                    mine.applicable_rules |= b.applicable_rules;
                }
            }
        }
        self.records.extend(other.records);
        self.telemetry.merge(&other.telemetry);
        self.newest_ms = self.newest_ms.max(other.newest_ms);
    }

    fn bucket(&mut self, function: &Arc<str>, minute: i64, settings: &FunctionSettings) -> &mut Bucket {
        self.buckets
            .entry((Arc::clone(function), minute))
            .or_insert_with(|| Bucket {
                applicable_rules: settings.rule_bits(),
                ..Bucket::default()
            })
    }
}

/// The names a record carries.
#[derive(Debug, Clone)]
struct Names {
    /// The account that owns the log group (the batch's `owner`).
    account: Arc<str>,
    function: Arc<str>,
    log_group: Arc<str>,
    log_stream: Arc<str>,
}

/// What was counted for a remembered invocation.
#[derive(Debug, Clone, Copy, Default)]
struct Emitted {
    minute: Option<i64>,
    counted: Counted,
    /// Bit `i` is rule `i` of the config.
    rules: u64,
}

impl Emitted {
    fn filed(self) -> Filed {
        Filed {
            minute: self.minute,
            classes: self.counted.0,
            rules: self.rules,
        }
    }

    fn from_filed(filed: Filed) -> Emitted {
        Emitted {
            minute: filed.minute,
            counted: Counted(filed.classes),
            rules: filed.rules,
        }
    }
}

/// What a remembered invocation's facts call for, before it is filed.
struct Judgement {
    merged: Facts,
    evidence: Vec<Evidence>,
    timeout: Timeout,
    want: Counted,
    rules: u64,
    minute: i64,
}

impl Judgement {
    /// What is counted for the invocation once this judgement is filed over `before`.
    fn after(&self, before: Emitted) -> Emitted {
        let kept_rules = if before.minute.is_some_and(|m| m != self.minute) {
            0
        } else {
            before.rules
        };
        Emitted {
            minute: Some(self.minute),
            counted: self.want,
            rules: kept_rules | self.rules,
        }
    }
}

/// The shared state and what waits for it in the event being handled.
struct Shared {
    store: Arc<Store>,
    /// Each batch's counts of the invocations it holds whole, until the table says whether
    /// another container processed the batch before.
    staged: Vec<(u64, Accumulator)>,
    /// Remembered invocations that this event touched.
    keys: Vec<u64>,
    /// What this event's batches add to their streams' items (lines without a request id).
    streams: Vec<StreamShare>,
    /// Timeouts learned in this event: (function, `<epoch ms>|<seconds>`).
    learned: Vec<(String, String)>,
}

/// What a batch adds to its stream's shared item.
struct StreamShare {
    stream_key: u64,
    names: Names,
    tokens: Vec<String>,
}

/// The most tokens a stream's item keeps before the oldest go (DynamoDB items hold 400 KB).
const MAX_STREAM_TOKENS: usize = 400;
/// How often a container reads the timeouts other containers learned for a function (a
/// timeout learned elsewhere judges this container's invocations at most this much later).
const LEARNED_READ_EVERY_MS: i64 = 60_000;
/// How far back a stream's item keeps positions once it is that full.
const STREAM_KEEP_MS: i64 = 10 * 60_000;

/// A remembered invocation: one that can go on in a later batch.
#[derive(Debug)]
struct Tracked {
    request_id: String,
    names: Names,
    stream_key: u64,
    /// What its own lines established (heads whose owner is a guess are kept by the stream).
    own: Facts,
    /// With shared state, the facts of heads this container attributed to it and its stream
    /// forgot: the stream's shared item has them, but a judgement made without that item (the
    /// table did not answer) needs this container's guess, as without the table.
    forgotten_heads: Facts,
    /// Evidence not sent yet.
    evidence: Vec<Evidence>,
    emitted: Emitted,
    start: Option<Pos>,
    report: Option<Pos>,
    /// Its stream showed a later START: no line without a request id after it is its own.
    moved_on: bool,
    /// Held past its time: settled as it stands.
    expired: bool,
    /// When held counts are due, if any are held.
    due: Option<i64>,
    /// What this container last added to the shared state for it: a batch that adds nothing
    /// to that costs no call.
    sent: Option<Box<Facts>>,
}

impl Tracked {
    fn new(request_id: &str, names: &Names, stream_key: u64) -> Tracked {
        Tracked {
            request_id: request_id.to_string(),
            names: names.clone(),
            stream_key,
            own: Facts::default(),
            forgotten_heads: Facts::default(),
            evidence: Vec::new(),
            emitted: Emitted::default(),
            start: None,
            report: None,
            moved_on: false,
            expired: false,
            due: None,
            sent: None,
        }
    }
}

/// The engine: feed it events, get EMF documents and per-invocation records back.
pub struct Processor {
    config: Config,
    clock: Clock,
    own_log_group: Option<String>,
    processor_name: String,
    /// Boxed, like `tracked`: a map's slots are its values, and a full map has about twice as
    /// many slots as entries.
    streams: BoundedMap<u64, Box<StreamState>>,
    /// Keyed by a 64-bit hash of (log group, log stream, request id).
    tracked: BoundedMap<u64, Box<Tracked>>,
    /// Fingerprints of the batches processed ([`batch_fingerprint`]).
    batches: BoundedMap<u64, ()>,
    /// Per function, the timeouts learned from its own timeouts, by the time they happened.
    learned: BoundedMap<String, SmallVec<[(i64, f64); 2]>>,
    /// With shared state, when each function's learned timeouts were last read from the table.
    learned_read: BoundedMap<String, i64>,
    settings: BoundedMap<String, Arc<FunctionSettings>>,
    /// Held invocations by when they are due (entries whose due time changed are skipped).
    due: BinaryHeap<Reverse<(i64, u64)>>,
    /// Capture slots for each rule's value pattern, reused from line to line.
    rule_locations: Vec<Option<regex::CaptureLocations>>,
    /// Invocation state shared with other containers, if any.
    shared: Option<Shared>,
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

/// A 64-bit hash of `value` that is the same in every process, for keys kept in place of text.
fn stable_hash(value: impl std::hash::Hash) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::default().hash_one(value)
}

/// The key an invocation is remembered under. A 64-bit hash: two invocations would have to
/// collide among the [`MAX_TRACKED`] remembered for one to be mistaken for the other.
fn invocation_key(log_group: &str, log_stream: &str, request_id: &str) -> u64 {
    stable_hash((log_group, log_stream, request_id))
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
            tracked: BoundedMap::new(MAX_TRACKED),
            batches: BoundedMap::new(MAX_BATCHES),
            learned: BoundedMap::new(MAX_FUNCTIONS),
            learned_read: BoundedMap::new(MAX_FUNCTIONS),
            settings: BoundedMap::new(MAX_FUNCTIONS),
            due: BinaryHeap::new(),
            shared: None,
        }
    }

    /// Decides counts with other containers through `store` ([`crate::state`]): what each
    /// remembered invocation showed and what was counted for it are kept there, and so are the
    /// batches processed. Without it, the warm container's memory decides alone.
    pub fn with_store(mut self, store: Arc<Store>) -> Self {
        self.shared = Some(Shared {
            store,
            staged: Vec::new(),
            keys: Vec::new(),
            streams: Vec::new(),
            learned: Vec::new(),
        });
        self
    }

    /// The config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The timeout the processor would judge an invocation of `function` reported now against.
    pub fn timeout_for(&mut self, function: &str) -> Timeout {
        let settings = self.settings_for(function);
        timeout_at(&self.config, &self.learned, function, &settings, i64::MAX)
    }

    fn settings_for(&mut self, function: &str) -> Arc<FunctionSettings> {
        let config = &self.config;
        self.settings
            .get_or_insert_with(function.to_string(), || Arc::new(config.settings_for(function)))
            .clone()
    }

    fn hold_ms(&self) -> i64 {
        (self.config.hold_seconds * 1000.0) as i64
    }

    /// Processes one Lambda event of any accepted shape. Never fails: bad input is counted,
    /// logged and skipped. Counts held earlier whose time has come go out with it.
    pub fn handle_event(&mut self, event: &Value) -> Outcome {
        let mut acc = Accumulator::default();
        let shape = match Envelope::detect(event) {
            Envelope::Direct(data) => {
                self.process_encoded(data, None, &mut acc);
                Shape::Direct
            }
            Envelope::Kinesis(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    let record = Some((index, item.sequence_number));
                    match item.data {
                        Ok(data) => self.process_encoded(data, record, &mut acc),
                        Err(err) => self.decode_failed(&err, None, record, &mut acc),
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
        let now = self.clock.now_ms(acc.newest_ms);
        self.settle_due(now, &mut acc);
        self.share(now, &mut acc);
        self.finish(shape, acc)
    }

    /// Processes one decoded subscription message (as the CLI reads `.log` files).
    pub fn handle_message(&mut self, message: &DataMessage<'_>) -> Outcome {
        let mut acc = Accumulator::default();
        self.process_message(message, &mut acc);
        let now = self.clock.now_ms(acc.newest_ms);
        self.settle_due(now, &mut acc);
        self.share(now, &mut acc);
        self.finish(Shape::Decoded, acc)
    }

    /// Settles every held count now, as if its time had come: the end of a replay, or a
    /// container about to go away.
    pub fn flush(&mut self) -> Outcome {
        let mut acc = Accumulator::default();
        self.settle_due(i64::MAX, &mut acc);
        self.share(wall_ms(), &mut acc);
        self.finish(Shape::Flush, acc)
    }

    /// How many invocations have counts held back. (The queue of due times also keeps times
    /// that were superseded; only an entry whose own due time it is counts.)
    pub fn held(&self) -> usize {
        self.due
            .iter()
            .filter(|Reverse((at, k))| self.tracked.get(k).is_some_and(|t| t.due == Some(*at)))
            .count()
    }

    /// `kinesis`: the record's index in its Kinesis event and its sequence number, to name it.
    fn process_encoded(&mut self, data: &str, kinesis: Option<(usize, Option<&str>)>, acc: &mut Accumulator) {
        // At each step that fails, the log group is looked for in what there is, so the log names
        // the sender even when it skipped a step of the encoding.
        let compressed = match decode_base64(data) {
            Ok(bytes) => bytes,
            Err(err) => return self.decode_failed(&err, sniff_log_group(data.as_bytes()), kinesis, acc),
        };
        let bytes = match gunzip_capped(&compressed, self.config.max_decoded_bytes) {
            Ok(bytes) => bytes,
            Err(err) => return self.decode_failed(&err, sniff_log_group(&compressed), kinesis, acc),
        };
        match parse_message_counted(&bytes) {
            Ok((message, repaired)) => {
                if repaired > 0 {
                    warn!(
                        log_group = message.log_group.as_ref(),
                        log_stream = message.log_stream.as_ref(),
                        kinesis_record = kinesis.map(|(index, _)| index),
                        kinesis_sequence_number = kinesis.and_then(|(_, sequence)| sequence),
                        messages = repaired,
                        "Decoded log messages that are not UTF-8 lossily (U+FFFD in place of each bad byte)."
                    );
                    acc.telemetry.add(ProcessorMetric::MessagesRepaired, repaired as u64);
                }
                self.process_message(&message, acc)
            }
            Err(err) => self.decode_failed(&err, sniff_log_group(&bytes), kinesis, acc),
        }
    }

    fn decode_failed(
        &self,
        err: &DecodeError,
        log_group: Option<&str>,
        kinesis: Option<(usize, Option<&str>)>,
        acc: &mut Accumulator,
    ) {
        warn!(
            log_group = log_group.unwrap_or("unknown"),
            kinesis_record = kinesis.map(|(index, _)| index),
            kinesis_sequence_number = kinesis.and_then(|(_, sequence)| sequence),
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
        let fingerprint = batch_fingerprint(message);
        if self.batches.get(&fingerprint).is_some() {
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
        let names = Names {
            account: Arc::from(message.owner.as_ref()),
            function: Arc::from(function_name_in(group, &message.log_stream)),
            log_group: Arc::from(group),
            log_stream: Arc::from(message.log_stream.as_ref()),
        };
        let settings = self.settings_for(&names.function);
        let newest = message.log_events.iter().map(|e| e.timestamp).max();
        let now = self.clock.now_ms(newest);
        acc.newest_ms = acc.newest_ms.max(newest);
        let events = &message.log_events;

        let stream_key = stable_hash((group, names.log_stream.as_ref()));
        // Several invocations at once in one environment (Lambda Managed Instances): lines are
        // attributed by request id only; a line without one is evidence only.
        let lines = parse_all(events.iter().map(|e| e.message.as_ref()));
        let concurrent = self.streams.get(&stream_key).is_some_and(|s| s.concurrent)
            || stream::overlapping_invocations(events.iter().map(|e| e.message.as_ref()), &lines);
        // The rules each application line could match, searched for in all of them at once.
        let rule_candidates = match settings.rule_bits() {
            0 => Vec::new(),
            open => self.config.rule_matcher().candidates(
                open,
                events.iter().zip(&lines).map(|(e, line)| {
                    if matches!(line, Line::App(_)) {
                        e.message.as_ref()
                    } else {
                        ""
                    }
                }),
            ),
        };
        let mut slots = Slots::for_events(events.len());
        // Whose lines without a request id are, as the batch goes: its head's, then those of
        // the last START or INIT_START.
        let mut current = Owner::Head;
        let mut current_reported = false;
        let mut first_event: Option<usize> = None;
        let mut first_boundary: Option<usize> = None;
        let mut last_boundary: Option<(usize, Option<&str>)> = None;
        let mut running_at_start: Option<&str> = None;
        let mut init_failures: SmallVec<[usize; 1]> = SmallVec::new();
        // Whether the batch has lines without a request id, which only their place in the
        // stream ties to an invocation.
        let mut positional = false;
        let mut restored = false;
        let oldest_minute = now.saturating_sub(emf::MAX_AGE_MS - 60_000);
        for (i, (event, line)) in events.iter().zip(lines).enumerate() {
            let ts = event.timestamp;
            if minute_start(ts) < oldest_minute {
                acc.telemetry.add(ProcessorMetric::EventsTooOld, 1);
                continue;
            }
            if ts > now.saturating_add(emf::MAX_AHEAD_MS) {
                acc.telemetry.add(ProcessorMetric::EventsTooNew, 1);
                continue;
            }
            acc.telemetry.add(ProcessorMetric::EventsProcessed, 1);
            first_event.get_or_insert(i);
            match line {
                Line::Start { request_id } => {
                    let inv = slots.get(Owner::Id(request_id));
                    inv.started_at.get_or_insert(i);
                    inv.facts.saw(
                        if std::mem::take(&mut restored) {
                            flag::COLD_START
                        } else {
                            0
                        },
                        ts,
                    );
                    current = Owner::Id(request_id);
                    current_reported = false;
                    first_boundary.get_or_insert(i);
                    last_boundary = Some((i, Some(request_id)));
                }
                Line::InitStart => {
                    // An init while an invocation runs is one suppressed into its invoke phase:
                    // its lines stay the invocation's.
                    if !matches!(current, Owner::Id(_)) || current_reported {
                        current = Owner::Init;
                        first_boundary.get_or_insert(i);
                        last_boundary = Some((i, None));
                    }
                }
                Line::End { request_id } => {
                    if first_boundary.is_none() {
                        running_at_start.get_or_insert(request_id);
                    }
                }
                Line::Platform => {}
                Line::Report(report) => {
                    if first_boundary.is_none() {
                        running_at_start.get_or_insert(report.request_id);
                    }
                    if matches!(current, Owner::Id(id) if same_id(id, report.request_id)) {
                        current_reported = true;
                    }
                    let inv = slots.get(Owner::Id(report.request_id));
                    inv.facts.take_report(&report, ts);
                    inv.reported_at = Some(i);
                    let failed = inv.facts.flags & (flag::TIMEOUT | flag::FAILED | flag::OOM) != 0;
                    if failed {
                        inv.keep_evidence(i);
                    }
                }
                Line::RuntimeDone {
                    request_id,
                    status,
                    error_type,
                } => {
                    if first_boundary.is_none() {
                        running_at_start.get_or_insert(request_id);
                    }
                    let inv = slots.get(Owner::Id(request_id));
                    let flags = inv.facts.take_status(status, error_type.as_deref());
                    inv.mark(flags, i, ts, flags != 0);
                }
                Line::PhaseReport {
                    during_invoke,
                    restore,
                    status,
                    error_type,
                } => {
                    // An init in the invoke phase is its invocation's cold start; a restore
                    // is the cold start of the invocation whose START follows it.
                    // (At a batch's head, the head's owner: it moves with the head.)
                    if during_invoke && current != Owner::Init {
                        slots.get(current).facts.saw(flag::COLD_START, ts);
                    } else if restore {
                        restored = true;
                    }
                    let failed = matches!(status, Some(s) if s.is_failure() || s == Status::Timeout);
                    if failed {
                        init_failures.push(i);
                        // A suppressed init that fails breaks the invocation it ran in.
                        if during_invoke && matches!(current, Owner::Id(_)) {
                            let inv = slots.get(current);
                            let flags = inv.facts.take_status(status, error_type.as_deref());
                            inv.mark(flags, i, ts, true);
                        }
                    }
                }
                Line::App(app) => {
                    positional |= app.request_id.is_none();
                    let flags = facts::app_flags(&app);
                    let has_rules = settings.rule_bits() != 0;
                    if flags == 0 && app.chunk_size.is_none() && !has_rules {
                        continue;
                    }
                    if app.request_id.is_none() && concurrent && current != Owner::Init {
                        continue;
                    }
                    let owner = app.request_id.map_or(current, Owner::Id);
                    // A rule counts once per invocation and keeps its earliest value, so once
                    // the invocation has every rule there is no more matching or capturing to do.
                    let existing = slots.find(owner);
                    let seen = existing.map_or(0, |s| slots.invocations[s].1.facts.rule_bits());
                    let open = rule_candidates.get(i).map_or(0, |c| c & !seen);
                    let matched = self.matching_rules(open, &event.message);
                    if flags == 0 && matched == 0 && app.chunk_size.is_none() {
                        continue;
                    }
                    let inv = match existing {
                        Some(s) => &mut slots.invocations[s].1,
                        None => slots.get(owner),
                    };
                    inv.mark(flags, i, ts, flags != 0);
                    if let Some(after) = app.timed_out_after {
                        inv.facts.timed_out_after.get_or_insert(after);
                    }
                    if let Some(chunk) = app.chunk_size {
                        inv.facts.take_chunk_size(chunk, ts);
                    }
                    for rule in bits(matched) {
                        let value = self.rule_locations[rule]
                            .as_mut()
                            .and_then(|locations| self.config.rules[rule].value_with(&event.message, locations));
                        inv.facts.take_rule(rule, value, ts);
                    }
                }
            }
        }
        let Some(first_event) = first_event else {
            self.batches.insert(fingerprint, ());
            return;
        };

        // Learn timeouts before classifying, so that an invocation is judged against the
        // timeout its function had at its REPORT, whatever the batch it came in.
        if settings.timeout_seconds.is_none() {
            for (_, inv) in &slots.invocations {
                let f = &inv.facts;
                if f.flags & flag::TIMEOUT == 0 {
                    continue;
                }
                let seconds = f.timed_out_after.or(f.duration_ms.map(|ms| ms / 1000.0));
                let at = f.report_ms.or(f.first_ms);
                if let (Some(seconds), Some(at)) = (seconds.map(f64::round).filter(|s| (1.0..=900.0).contains(s)), at) {
                    learn(&mut self.learned, &names.function, at, seconds);
                    if let Some(shared) = self.shared.as_mut() {
                        shared
                            .learned
                            .push((names.function.to_string(), format!("{at}|{seconds}")));
                    }
                }
            }
        }

        // With shared state, what this batch counts by itself waits for the table's word on
        // whether another container processed the batch before.
        let sharing = self.shared.is_some();
        let mut staged = Accumulator::default();
        for &i in &init_failures {
            let out = if sharing { &mut staged } else { &mut *acc };
            self.init_failed(i, message, &slots, &names, &settings, out);
        }

        let pos = |i: usize| Pos::of(events[i].timestamp, &events[i].id);
        let key = |id: &str| invocation_key(group, &names.log_stream, id);
        let marks = BatchMarks {
            first: pos(first_event),
            last_boundary: last_boundary
                .map(|(i, id)| (pos(i), id.map_or(Boundary::Init, |id| Boundary::Start(key(id))))),
            running_at_start: running_at_start.map(key),
        };

        // The head: for certain the invocation that reported in it, else a guess from the
        // batches known around it, kept with the stream so that a later batch can correct it.
        let mut touched: Vec<u64> = Vec::new();
        let mut orphan = None;
        let mut head_tokens: Option<Facts> = None;
        // A head that shows only a chunk size is not kept for a later correction: it counts in
        // no class, and an invocation logs its chunk size again after its START.
        if let Some(head) = slots
            .take_head()
            .filter(|h| h.facts.flags != 0 || !h.facts.rules.is_empty() || running_at_start.is_some())
        {
            match running_at_start {
                Some(id) => slots.get(Owner::Id(id)).absorb(head),
                None => {
                    let owner = self
                        .streams
                        .get(&stream_key)
                        .map_or(stream::Owner::Unknown, |s| s.owner_at(marks.first));
                    if let stream::Owner::Invocation(k) = owner {
                        touched.push(k);
                    }
                    if sharing {
                        head_tokens = Some(head.facts.clone());
                    }
                    let evidence = head.evidence.iter().map(|&i| evidence_at(message, i)).collect();
                    orphan = Some(Orphan {
                        facts: head.facts,
                        evidence,
                        owner,
                    });
                }
            }
        }
        let stream = self.streams.get_or_insert_with(stream_key, Box::default);
        stream.positional |= positional;
        // Shared, every batch adds its positions: the batch whose head needs them may be
        // another container's, of a stream this one never saw a line without a request id of.
        if sharing {
            let at = |i: usize| pos_key(events[i].timestamp, &events[i].id);
            let tokens = batch_tokens(
                last_boundary.map(|(i, id)| (at(i), id)),
                running_at_start.map(|id| (at(first_event), id)),
                head_tokens.as_ref().map(|facts| (at(first_event), facts)),
            );
            if let Some(shared) = self.shared.as_mut().filter(|_| !tokens.is_empty()) {
                shared.streams.push(StreamShare {
                    stream_key,
                    names: names.clone(),
                    tokens,
                });
            }
        }
        let stream = self.streams.get_or_insert_with(stream_key, Box::default);
        stream.concurrent |= concurrent;
        let (moved, forgotten) = stream.insert(marks, orphan);
        for m in moved {
            for owner in [m.from, m.to] {
                if let stream::Owner::Invocation(k) = owner {
                    touched.push(k);
                }
            }
        }
        // Invocations whose outcome waited for their stream to move on.
        let open: SmallVec<[u64; 2]> = stream
            .open
            .iter()
            .filter(|&&(_, at)| stream.moved_on_after(at))
            .map(|&(k, _)| k)
            .collect();
        stream.open.retain(|(k, _)| !open.contains(k));
        touched.extend(open);

        let last_boundary_at = last_boundary.map(|(i, _)| i);
        let mut records = 0;
        for (owner, inv) in &mut slots.invocations {
            let Owner::Id(id) = *owner else { continue };
            let k = key(id);
            // Its lines are all in this batch: from its START to a later START.
            let contained = inv.started_at.is_some() && inv.reported_at.is_some_and(|r| last_boundary_at > Some(r));
            if contained && self.tracked.get(&k).is_none() {
                let timeout = timeout_at(
                    &self.config,
                    &self.learned,
                    &names.function,
                    &settings,
                    inv.facts.report_ms.unwrap_or(i64::MAX),
                );
                let counted = classify(&inv.facts, &settings, timeout);
                let evidence = inv.evidence.iter().map(|&i| evidence_at(message, i)).collect();
                emit(
                    if sharing { &mut staged } else { &mut *acc },
                    &self.config,
                    &settings,
                    &names,
                    id,
                    &inv.facts,
                    Emitted::default(),
                    (counted, inv.facts.rule_bits()),
                    timeout,
                    evidence,
                );
                records += 1;
                continue;
            }
            let started = inv.started_at.map(pos);
            let retried = self
                .tracked
                .get(&k)
                .and_then(|t| t.start)
                .is_some_and(|old| started.is_some_and(|new| new != old));
            if retried {
                // Lambda retried the event in the same environment: the same request id, a new
                // START. The earlier attempt is settled as it stands, and this one starts afresh.
                if let Some(t) = self.tracked.get_mut(&k) {
                    t.expired = true;
                }
                self.settle(k, now, acc);
                self.tracked.insert(k, Box::new(Tracked::new(id, &names, stream_key)));
            }
            self.make_room(k, now, acc);
            let tracked = self
                .tracked
                .get_or_insert_with(k, || Box::new(Tracked::new(id, &names, stream_key)));
            tracked.own.merge(&inv.facts);
            tracked.start = tracked.start.or(started);
            tracked.report = tracked.report.or(inv.reported_at.map(pos));
            if inv.reported_at.is_some_and(|r| last_boundary_at > Some(r)) {
                tracked.moved_on = true;
            }
            for &i in &inv.evidence {
                if tracked.evidence.len() < MAX_EVIDENCE_PER_INVOCATION {
                    tracked.evidence.push(evidence_at(message, i));
                }
            }
            touched.push(k);
        }
        // Heads that a stream forgot are settled where they are (with shared state their facts
        // live in the stream's item, which attributes them whatever this container forgets;
        // this container keeps its guess aside for a judgement the table cannot help with).
        if let Some(orphan) = forgotten
            && let stream::Owner::Invocation(k) = orphan.owner
            && let Some(tracked) = self.tracked.get_mut(&k)
        {
            if sharing {
                tracked.forgotten_heads.merge(&orphan.facts);
            } else {
                tracked.own.merge(&orphan.facts);
            }
            tracked.evidence.extend(orphan.evidence);
            tracked.evidence.truncate(MAX_EVIDENCE_PER_INVOCATION);
        }
        touched.sort_unstable();
        touched.dedup();
        acc.records.reserve(records + touched.len());
        if let Some(shared) = self.shared.as_mut() {
            shared.keys.extend(touched);
            if !staged.buckets.is_empty() || !staged.records.is_empty() {
                shared.staged.push((fingerprint, staged));
            }
        } else {
            for k in touched {
                self.settle(k, now, acc);
            }
        }
        self.batches.insert(fingerprint, ());
    }

    /// A failed INIT_REPORT or RESTORE_REPORT: an init failure at its minute, with the init's
    /// error lines as evidence.
    fn init_failed(
        &mut self,
        i: usize,
        message: &DataMessage<'_>,
        slots: &Slots<'_>,
        names: &Names,
        settings: &FunctionSettings,
        acc: &mut Accumulator,
    ) {
        let ts = message.log_events[i].timestamp;
        let mut evidence: Vec<Evidence> = slots
            .init()
            .map(|init| init.evidence.iter().map(|&j| evidence_at(message, j)).collect())
            .unwrap_or_default();
        evidence.push(evidence_at(message, i));
        let counted = Counted::default().with(Metric::InitFailures);
        let facts = Facts {
            first_ms: Some(ts),
            ..Facts::default()
        };
        let timeout = timeout_at(&self.config, &self.learned, &names.function, settings, ts);
        let id = format!("init:{}", names.log_stream);
        emit(
            acc,
            &self.config,
            settings,
            names,
            &id,
            &facts,
            Emitted::default(),
            (counted, 0),
            timeout,
            evidence,
        );
    }

    /// Counts what is new for a remembered invocation, or holds it until it is due: the warm
    /// container deciding alone.
    /// Before `k` is remembered in a full map: the invocation that makes room for it is settled
    /// as it stands if it still holds counts, so they are written, not forgotten.
    fn make_room(&mut self, k: u64, now: i64, acc: &mut Accumulator) {
        if !self.tracked.is_full_without(&k) {
            return;
        }
        let Some(&oldest) = self.tracked.oldest() else { return };
        let held = self.tracked.get_mut(&oldest).filter(|t| t.due.is_some());
        if let Some(t) = held {
            t.expired = true;
            self.settle(oldest, now, acc);
        }
    }

    fn settle(&mut self, k: u64, now: i64, acc: &mut Accumulator) {
        let Some(judgement) = self.judge(k, now, None) else {
            return;
        };
        let Some(before) = self.tracked.get(&k).map(|t| t.emitted) else {
            return;
        };
        self.file(k, judgement, before, acc);
    }

    /// What a remembered invocation's facts call for now, with what the shared state holds
    /// for it (`view`) if any; `None` while it is held (not reported yet). Takes its pending
    /// evidence into the judgement.
    fn judge(&mut self, k: u64, now: i64, view: Option<(&View, Option<&Facts>)>) -> Option<Judgement> {
        let function = self.tracked.get(&k).map(|t| t.names.function.clone())?;
        let settings = self.settings_for(&function);
        let hold = self.hold_ms();
        let Processor {
            tracked,
            streams,
            learned,
            config,
            due,
            ..
        } = self;
        let t = tracked.get_mut(&k)?;
        let stream = streams.get(&t.stream_key);
        let mut merged = t.own.clone();
        let mut evidence = std::mem::take(&mut t.evidence);
        // The heads of batches it has: from its stream's shared item when that was read, else
        // this container's own attribution.
        let shared_heads = view.and_then(|(_, heads)| heads);
        if let Some(stream) = stream {
            for orphan in stream.orphans_of(stream::Owner::Invocation(k)) {
                if shared_heads.is_none() {
                    merged.merge(&orphan.facts);
                }
                if t.emitted.minute.is_none() {
                    evidence.extend(orphan.evidence.iter().cloned());
                }
            }
            if let Some(at) = t.report {
                t.moved_on |= stream.moved_on_after(at);
            }
        }
        match shared_heads {
            Some(heads) => merged.merge(heads),
            None => merged.merge(&t.forgotten_heads),
        }
        if let Some((view, _)) = view {
            merged.merge(&Facts::from_tokens(&view.tokens));
        }
        evidence.truncate(MAX_EVIDENCE_PER_INVOCATION);
        let reported = merged.flags & flag::REPORTED != 0;
        let filed_at = if reported {
            merged.report_ms
        } else {
            merged.first_ms.filter(|_| t.expired)
        };
        let timeout = timeout_at(config, learned, &function, &settings, filed_at.unwrap_or(i64::MAX));
        let Some(filed_at) = filed_at else {
            // Not reported yet: it may run until its timeout, and its logs take a while to come.
            let ends = merged
                .first_ms
                .unwrap_or(now)
                .saturating_add((timeout.seconds * 1000.0) as i64);
            hold_until(t, due, k, ends.max(now).saturating_add(hold));
            t.evidence = evidence;
            return None;
        };
        // Shared, a reported invocation is counted in full at once, and a later fact that takes
        // a class back is a correction: no container holds what it may not live to send.
        let settled = is_final(&merged) || t.moved_on || t.expired || view.is_some();
        let mut want = classify(&merged, &settings, timeout);
        if settled {
            t.due = None;
        } else {
            want = want.without(HELD_BACK);
            hold_until(t, due, k, now.saturating_add(hold));
            if let Some(at) = t.report {
                let stream = streams.get_or_insert_with(t.stream_key, Box::default);
                if !stream.open.iter().any(|&(o, _)| o == k) {
                    stream.open.push((k, at));
                }
            }
        }
        let rules = merged.rule_bits();
        Some(Judgement {
            merged,
            evidence,
            timeout,
            want,
            rules,
            minute: minute_start(filed_at),
        })
    }

    /// Files what `judgement` changes over `before` (what was counted for the invocation).
    fn file(&mut self, k: u64, judgement: Judgement, mut before: Emitted, acc: &mut Accumulator) {
        let Some(function) = self.tracked.get(&k).map(|t| t.names.function.clone()) else {
            return;
        };
        let settings = self.settings_for(&function);
        let Processor { tracked, config, .. } = self;
        let Some(t) = tracked.get_mut(&k) else { return };
        let after = judgement.after(before);
        if let Some(at) = before.minute.filter(|&m| m != judgement.minute) {
            // Counted at its first line's minute before its REPORT came: moved to the REPORT's.
            retract(
                acc,
                config,
                &settings,
                &t.names,
                &t.request_id,
                at,
                before,
                judgement.timeout,
            );
            before = Emitted::default();
        }
        t.emitted = after;
        emit(
            acc,
            config,
            &settings,
            &t.names,
            &t.request_id,
            &judgement.merged,
            before,
            (judgement.want, judgement.rules),
            judgement.timeout,
            judgement.evidence,
        );
    }

    /// Decides the counts this event calls for together with the other containers, through
    /// the shared state: the batches it processed are recorded (a batch another container
    /// processed before counts nothing here), each remembered invocation it touched adds its
    /// facts to the table and reads everyone's back, and the change to what is counted for it
    /// is filed by whichever container moves the table's counted state first. A call that
    /// fails or times out falls back to this container's own memory for that batch or
    /// invocation, loudly (`StateFallbacks`, and a warning).
    fn share(&mut self, now: i64, acc: &mut Accumulator) {
        let Some(shared) = self.shared.as_mut() else { return };
        let store = Arc::clone(&shared.store);
        let mut calls = crate::state::EventCalls::new(&store);
        let staged = std::mem::take(&mut shared.staged);
        let mut keys = std::mem::take(&mut shared.keys);
        let mut added: BTreeMap<u64, StreamShare> = BTreeMap::new();
        for share in std::mem::take(&mut shared.streams) {
            match added.entry(share.stream_key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(share);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().tokens.extend(share.tokens),
            }
        }
        let mut fallbacks: u64 = 0;
        let mut first_error: Option<String> = None;
        let mut failed = |err: &crate::state::StateError, fallbacks: &mut u64| {
            *fallbacks += 1;
            first_error.get_or_insert_with(|| err.to_string());
        };

        let fingerprints: Vec<String> = staged.iter().map(|(fp, _)| crate::state::batch_key(*fp)).collect();
        for ((_, part), verdict) in staged.into_iter().zip(calls.claim_batches(&fingerprints)) {
            match verdict {
                Ok(true) => acc.absorb(part),
                Ok(false) => {
                    debug!("Skipped the counts of a batch another container processed before.");
                    acc.telemetry.add(ProcessorMetric::DuplicateBatches, 1);
                }
                Err(err) => {
                    failed(&err, &mut fallbacks);
                    acc.absorb(part);
                }
            }
        }

        keys.sort_unstable();
        keys.dedup();
        // An invocation whose facts here add nothing to what this container sent before needs no
        // call: the container that added the last facts decided with all of them.
        // (Heads its stream's item moves to it come back through that item; should the item not
        // answer, these are decided alone below.)
        let (mut unsent, mut unchanged) = (Vec::new(), Vec::new());
        for k in keys.drain(..) {
            let view = self.local_view(k);
            match self.tracked.get(&k) {
                Some(t) if t.sent.as_deref() == Some(&view) => unchanged.push(k),
                Some(_) => unsent.push(k),
                None => {}
            }
        }
        keys = unsent;
        // This event's positions go in first. Whose heads they move (the heads' owners before
        // and after them) are decided here too.
        if !added.is_empty() {
            let shares: Vec<StreamShare> = std::mem::take(&mut added).into_values().collect();
            let items: Vec<(String, Vec<String>)> = shares
                .iter()
                .map(|s| {
                    (
                        crate::state::stream_key(&s.names.log_group, &s.names.log_stream),
                        s.tokens.clone(),
                    )
                })
                .collect();
            let mut stale = Vec::new();
            let mut settled_heads: Vec<(String, Vec<String>)> = Vec::new();
            for ((share, (item_key, mine)), view) in shares.iter().zip(&items).zip(calls.merge(&items)) {
                let view = match view {
                    Ok(view) => view,
                    Err(err) => {
                        failed(&err, &mut fallbacks);
                        // Heads this batch moved reach their invocations only through the
                        // stream's item: decide those of this stream alone.
                        for &k in &unchanged {
                            if self.tracked.get(&k).is_some_and(|t| t.stream_key == share.stream_key) {
                                self.settle(k, now, acc);
                            }
                        }
                        continue;
                    }
                };
                let after = StreamView::parse(&view.tokens);
                let others: Vec<&String> = view.tokens.iter().filter(|t| !mine.contains(t)).collect();
                let before = StreamView::parse(&others);
                let names = &share.names;
                // A stream whose item holds heads: its invocations' facts include theirs.
                if after.has_heads() {
                    self.streams
                        .get_or_insert_with(share.stream_key, Box::default)
                        .positional = true;
                }
                for id in after.attributed().into_keys().chain(before.attributed().into_keys()) {
                    let k = invocation_key(&names.log_group, &names.log_stream, &id);
                    self.tracked
                        .get_or_insert_with(k, || Box::new(Tracked::new(&id, names, share.stream_key)));
                    keys.push(k);
                }
                if view.tokens.len() > MAX_STREAM_TOKENS {
                    let newest = view
                        .tokens
                        .iter()
                        .filter_map(|t| t.get(1..16)?.parse::<i64>().ok())
                        .max();
                    let cut = newest.unwrap_or(0).saturating_sub(STREAM_KEEP_MS);
                    let tokens = after.stale_tokens(&view.tokens, cut);
                    // Heads that old are settled: their facts go into their owners' own items
                    // before they leave the stream's.
                    for (id, facts) in StreamView::parse(&tokens).attributed_with(&after) {
                        let key = crate::state::invocation_key(&names.log_group, &names.log_stream, &id);
                        settled_heads.push((key, facts.to_tokens()));
                    }
                    stale.push((item_key.clone(), tokens));
                }
            }
            stale.retain(|(_, tokens)| !tokens.is_empty());
            settled_heads.retain(|(_, tokens)| !tokens.is_empty());
            if calls.merge(&settled_heads).iter().any(Result::is_err) {
                // Their heads stay in the stream's item rather than be lost.
                stale.clear();
            }
            for result in calls.remove(&stale) {
                if let Err(err) = result {
                    warn!(error = %err, "Could not trim a stream's shared positions.");
                }
            }
            keys.sort_unstable();
            keys.dedup();
        }
        // Learned timeouts: what this event learned goes in, and what every container learned
        // for the functions about to be judged comes back (those without a timeout in the config).
        let learned_here = self
            .shared
            .as_mut()
            .map(|s| std::mem::take(&mut s.learned))
            .unwrap_or_default();
        let mut functions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (function, token) in learned_here {
            functions.entry(function).or_default().push(token);
        }
        for k in &keys {
            let Some(function) = self.tracked.get(k).map(|t| t.names.function.to_string()) else {
                continue;
            };
            let read_lately = self
                .learned_read
                .get(&function)
                .is_some_and(|&at| now.saturating_sub(at) < LEARNED_READ_EVERY_MS);
            if self.settings_for(&function).timeout_seconds.is_none() && !read_lately {
                functions.entry(function).or_default();
            }
        }
        for function in functions.keys() {
            self.learned_read.insert(function.clone(), now);
        }
        let items: Vec<(String, Vec<String>)> = functions
            .iter()
            .map(|(function, tokens)| (crate::state::timeouts_key(function), tokens.clone()))
            .collect();
        for ((function, _), view) in functions.iter().zip(calls.merge(&items)) {
            match view {
                Ok(view) => {
                    for token in &view.tokens {
                        let parsed = token
                            .split_once('|')
                            .and_then(|(at, s)| Some((at.parse::<i64>().ok()?, s.parse::<f64>().ok()?)));
                        if let Some((at, seconds)) = parsed {
                            learn(&mut self.learned, function, at, seconds);
                        }
                    }
                }
                Err(err) => failed(&err, &mut fallbacks),
            }
        }
        let mut first_round = true;
        for _ in 0..crate::state::CLAIM_ATTEMPTS {
            if keys.is_empty() {
                break;
            }
            let items: Vec<(String, Vec<String>)> = keys
                .iter()
                .map(|&k| {
                    let tokens = if first_round {
                        let view = self.local_view(k);
                        let tokens = view.to_tokens();
                        if let Some(t) = self.tracked.get_mut(&k) {
                            t.sent = Some(Box::new(view));
                        }
                        tokens
                    } else {
                        Vec::new()
                    };
                    (self.state_key(k), tokens)
                })
                .collect();
            first_round = false;
            let views = calls.merge(&items);
            // The heads each invocation has, read after its item: a container that moved heads
            // wrote its positions before it filed anything, so a version read here that is
            // still current comes with positions at least as new as that filing's.
            let mut streams: BTreeMap<u64, Names> = BTreeMap::new();
            for k in &keys {
                let Some(t) = self.tracked.get(k) else { continue };
                if self.streams.get(&t.stream_key).is_some_and(|s| s.positional) {
                    streams.entry(t.stream_key).or_insert_with(|| t.names.clone());
                }
            }
            let mut heads: BTreeMap<u64, Facts> = BTreeMap::new();
            let mut read: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
            let reads: Vec<(String, Vec<String>)> = streams
                .values()
                .map(|n| (crate::state::stream_key(&n.log_group, &n.log_stream), Vec::new()))
                .collect();
            for ((stream_key, names), view) in streams.iter().zip(calls.merge(&reads)) {
                match view {
                    Ok(view) => {
                        read.insert(*stream_key);
                        for (id, facts) in StreamView::parse(&view.tokens).attributed() {
                            heads.insert(invocation_key(&names.log_group, &names.log_stream, &id), facts);
                        }
                    }
                    Err(err) => failed(&err, &mut fallbacks),
                }
            }
            let mut claims = Vec::new();
            let mut judged = Vec::new();
            let none = Facts::default();
            for ((k, (state_key, _)), view) in keys.iter().copied().zip(items).zip(views) {
                let stream_key = self.tracked.get(&k).map(|t| t.stream_key);
                let own_heads = stream_key
                    .filter(|s| read.contains(s))
                    .map(|_| heads.get(&k).unwrap_or(&none));
                match view {
                    Ok(view) => {
                        let mut before = Emitted::from_filed(view.filed);
                        // A fresh item for an invocation this container counted: its item
                        // expired (TTL) or an earlier call failed. This container's memory
                        // knows what was counted; the claim puts that back in the table.
                        let remembered = self.tracked.get(&k).map(|t| t.emitted);
                        if let Some(remembered) =
                            remembered.filter(|e| e.minute.is_some() && view.version == 0 && before.minute.is_none())
                        {
                            warn!(
                                item = %state_key,
                                "The shared state had no counts for an invocation this container counted (its item expired, or an earlier call failed): corrected from this container's memory."
                            );
                            fallbacks += 1;
                            before = remembered;
                        }
                        let Some(judgement) = self.judge(k, now, Some((&view, own_heads))) else {
                            continue;
                        };
                        let after = judgement.after(before);
                        if after.filed() == view.filed {
                            if let Some(t) = self.tracked.get_mut(&k) {
                                t.emitted = before;
                            }
                            continue;
                        }
                        claims.push((state_key, view.version, after.filed()));
                        judged.push((k, judgement, before));
                    }
                    Err(err) => {
                        failed(&err, &mut fallbacks);
                        // Not in the table: the next batch of it sends its facts again.

                        self.settle(k, now, acc);
                    }
                }
            }
            keys.clear();
            for ((k, judgement, before), claim) in judged.into_iter().zip(calls.claim(&claims)) {
                match claim {
                    Ok(Claim::Won) => self.file(k, judgement, before, acc),
                    Ok(Claim::Lost) => {
                        self.give_back(k, judgement);
                        keys.push(k);
                    }
                    Err(err) => {
                        failed(&err, &mut fallbacks);
                        self.give_back(k, judgement);
                        self.settle(k, now, acc);
                    }
                }
            }
        }
        // Others kept winning: decide alone rather than not at all.
        for k in keys {
            fallbacks += 1;
            self.settle(k, now, acc);
        }
        if fallbacks > 0 {
            warn!(
                fallbacks,
                error = first_error
                    .as_deref()
                    .unwrap_or("other containers kept changing the same invocations"),
                "Counted with this container's memory alone: the shared state table did not answer."
            );
            acc.telemetry.add(ProcessorMetric::StateFallbacks, fallbacks);
        }
    }

    /// What this container adds to the shared state for a remembered invocation: its own
    /// lines (the heads of batches go through their stream's item when shared, else are its
    /// own guess too).
    fn local_view(&self, k: u64) -> Facts {
        let Some(t) = self.tracked.get(&k) else {
            return Facts::default();
        };
        let mut facts = t.own.clone();
        if let Some(stream) = self
            .streams
            .get(&t.stream_key)
            .filter(|s| !s.positional || self.shared.is_none())
        {
            for orphan in stream.orphans_of(stream::Owner::Invocation(k)) {
                facts.merge(&orphan.facts);
            }
        }
        facts
    }

    /// The key of a remembered invocation in the shared state.
    fn state_key(&self, k: u64) -> String {
        self.tracked.get(&k).map_or_else(String::new, |t| {
            crate::state::invocation_key(&t.names.log_group, &t.names.log_stream, &t.request_id)
        })
    }

    /// Puts back the evidence of a judgement that was not filed.
    fn give_back(&mut self, k: u64, judgement: Judgement) {
        if let Some(t) = self.tracked.get_mut(&k) {
            let mut evidence = judgement.evidence;
            evidence.append(&mut t.evidence);
            evidence.truncate(MAX_EVIDENCE_PER_INVOCATION);
            t.evidence = evidence;
        }
    }

    /// Settles the held invocations that are due at `now`.
    fn settle_due(&mut self, now: i64, acc: &mut Accumulator) {
        while let Some(&Reverse((at, k))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            let Some(t) = self.tracked.get_mut(&k) else { continue };
            if t.due != Some(at) {
                continue;
            }
            t.due = None;
            t.expired = true;
            match self.shared.as_mut() {
                Some(shared) => {
                    // Due: decided now, whether or not its facts changed.
                    t.sent = None;
                    shared.keys.push(k);
                }
                None => self.settle(k, now, acc),
            }
        }
    }

    /// Which of the `candidates` (bit `i` is rule `i`, as the rules' batch-wide search gave
    /// them) match `line`, checked with the patterns the config compiled at load.
    fn matching_rules(&self, candidates: u64, line: &str) -> u64 {
        if candidates == 0 {
            return 0;
        }
        self.config.rule_matcher().confirm(&self.config.rules, candidates, line)
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
                value: EntryValue::Count(i64::try_from(telemetry.get(*m)).unwrap_or(i64::MAX)),
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
            // `value_metrics = false` keeps only the counts (they are most of what alarms read,
            // and each value metric is billed like a count).
            let values = Metric::VALUES
                .iter()
                .zip(&b.values)
                .filter(|_| self.config.value_metrics);
            let cost = Metric::COST.iter().zip(&b.cost).filter(|_| self.config.cost_metrics);
            for (m, values) in values.chain(cost) {
                if !values.is_empty() {
                    entries.push(Entry {
                        name: m.name(),
                        unit: m.unit().name(),
                        value: EntryValue::Values(values),
                    });
                }
            }
            for rule in bits(b.applicable_rules) {
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
        if shape != Shape::Flush || !acc.records.is_empty() {
            let now = self.clock.now_ms(acc.newest_ms);
            documents.extend(self.telemetry_documents(&acc.telemetry, &ProcessorMetric::ALL, now));
        }
        Outcome {
            shape,
            documents,
            invocations: acc.records,
            telemetry: acc.telemetry,
        }
    }
}

/// Holds `t`'s counts until `at` (or keeps an earlier time already set).
fn hold_until(t: &mut Tracked, due: &mut BinaryHeap<Reverse<(i64, u64)>>, k: u64, at: i64) {
    if t.due.is_none() {
        t.due = Some(at);
        due.push(Reverse((at, k)));
    }
}

/// Remembers that `function` timed out after `seconds` at `at`.
fn learn(learned: &mut BoundedMap<String, SmallVec<[(i64, f64); 2]>>, function: &str, at: i64, seconds: f64) {
    let known = learned.get_or_insert_with(function.to_string(), SmallVec::new);
    let i = known.partition_point(|&(t, _)| t <= at);
    if i > 0 && known[i - 1] == (at, seconds) {
        return;
    }
    known.insert(i, (at, seconds));
    if known.len() > MAX_LEARNED {
        known.remove(0);
    }
}

/// The timeout an invocation of `function` reported at `at` is judged against: the config's,
/// else the one its function showed last at or before `at`, else the default. Judging by the
/// logs' time, not by when a batch arrived, keeps the judgement the same in any arrival order.
fn timeout_at(
    config: &Config,
    learned: &BoundedMap<String, SmallVec<[(i64, f64); 2]>>,
    function: &str,
    settings: &FunctionSettings,
    at: i64,
) -> Timeout {
    if let Some(seconds) = settings.timeout_seconds {
        return Timeout {
            seconds,
            source: TimeoutSource::Config,
        };
    }
    let learned_then = learned
        .get(function)
        .and_then(|known| known.iter().rev().find(|&&(t, _)| t <= at))
        .map(|&(_, seconds)| seconds);
    match learned_then {
        Some(seconds) => Timeout {
            seconds,
            source: TimeoutSource::Learned,
        },
        None => Timeout {
            seconds: config.defaults.timeout_seconds,
            source: TimeoutSource::Default,
        },
    }
}

/// Files what `want` adds to `before` (and takes back from it) at the invocation's minute, and
/// the record that says so.
#[allow(clippy::too_many_arguments)]
fn emit(
    acc: &mut Accumulator,
    config: &Config,
    settings: &FunctionSettings,
    names: &Names,
    request_id: &str,
    facts: &Facts,
    before: Emitted,
    (want, want_rules): (Counted, u64),
    timeout: Timeout,
    evidence: Vec<Evidence>,
) {
    let added = want.without(before.counted);
    let taken_back = before.counted.without(want);
    let new_rules = want_rules & !before.rules;
    if added.is_empty() && taken_back.is_empty() && new_rules == 0 {
        return;
    }
    let timestamp_ms = facts
        .report_ms
        .filter(|_| facts.flags & flag::REPORTED != 0)
        .or(facts.first_ms)
        .unwrap_or(0);
    let b = acc.bucket(&names.function, minute_start(timestamp_ms), settings);
    for metric in added.metrics() {
        b.counts[metric.count_index().unwrap_or(0)] += 1;
    }
    for metric in taken_back.metrics() {
        b.counts[metric.count_index().unwrap_or(0)] -= 1;
    }
    let newly_reported = added.has(Metric::Invocations);
    if newly_reported {
        let utilization = match (facts.max_memory_used_mb, facts.memory_size_mb) {
            (Some(used), Some(size)) if size > 0.0 => Some(used / size * 100.0),
            _ => None,
        };
        let values = [
            facts.duration_ms,
            facts.init_duration_ms,
            facts.max_memory_used_mb,
            utilization,
        ];
        for (slot, value) in b.values.iter_mut().zip(values) {
            slot.extend(value);
        }
        if config.cost_metrics {
            // GB-seconds as Lambda's pricing counts them: memory in GB (1,024 MB) times billed
            // seconds. Billed Duration includes the init time since 2025, as the bill does.
            let gb_seconds = facts
                .billed_duration_ms
                .zip(facts.memory_size_mb)
                .map(|(billed, memory)| memory / 1024.0 * billed / 1000.0);
            for (slot, value) in b.cost.iter_mut().zip([facts.billed_duration_ms, gb_seconds]) {
                slot.extend(value);
            }
        }
    }
    let mut rules = SmallVec::new();
    for hit in facts.rules.iter().filter(|h| new_rules & (1 << h.rule) != 0) {
        let value = hit.value.map(|(_, v)| v);
        match (value, config.rules[hit.rule].value.is_some()) {
            (Some(v), true) => b.rule_values.entry(hit.rule).or_default().push(v),
            (None, true) => {}
            (_, false) => *b.rule_counts.entry(hit.rule).or_default() += 1,
        }
        rules.push((config.rules[hit.rule].metric.clone(), value));
    }
    acc.records.push(InvocationRecord {
        account: names.account.clone(),
        function: names.function.clone(),
        log_group: names.log_group.clone(),
        log_stream: names.log_stream.clone(),
        request_id: request_id.to_string(),
        timestamp_ms,
        counted: added,
        retracted: taken_back,
        duration_ms: facts.duration_ms.filter(|_| newly_reported),
        init_duration_ms: facts.init_duration_ms.filter(|_| newly_reported),
        memory_size_mb: facts.memory_size_mb,
        max_memory_used_mb: facts.max_memory_used_mb,
        timeout,
        chunk_size: facts.chunk_size.map(|(_, v)| v),
        error_type: facts.error_type.clone(),
        rules,
        chunked: settings.chunked,
        evidence,
    });
}

/// Takes back, at `minute`, everything counted there for an invocation (its counts move to
/// another minute).
#[allow(clippy::too_many_arguments)]
fn retract(
    acc: &mut Accumulator,
    config: &Config,
    settings: &FunctionSettings,
    names: &Names,
    request_id: &str,
    minute: i64,
    before: Emitted,
    timeout: Timeout,
) {
    let b = acc.bucket(&names.function, minute, settings);
    for metric in before.counted.metrics() {
        b.counts[metric.count_index().unwrap_or(0)] -= 1;
    }
    for rule in bits(before.rules) {
        if config.rules[rule].value.is_none() {
            *b.rule_counts.entry(rule).or_default() -= 1;
        }
    }
    acc.records.push(InvocationRecord {
        account: names.account.clone(),
        function: names.function.clone(),
        log_group: names.log_group.clone(),
        log_stream: names.log_stream.clone(),
        request_id: request_id.to_string(),
        timestamp_ms: minute,
        counted: Counted::default(),
        retracted: before.counted,
        duration_ms: None,
        init_duration_ms: None,
        memory_size_mb: None,
        max_memory_used_mb: None,
        timeout,
        chunk_size: None,
        error_type: None,
        rules: SmallVec::new(),
        chunked: settings.chunked,
        evidence: Vec::new(),
    });
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

/// Finds the log group in bytes that did not parse, to name it in the log.
fn sniff_log_group(bytes: &[u8]) -> Option<&str> {
    let at = memchr::memmem::find(bytes, b"\"logGroup\":\"")? + "\"logGroup\":\"".len();
    let len = memchr::memchr(b'"', &bytes[at..])?;
    std::str::from_utf8(&bytes[at..at + len]).ok()
}

#[cfg(test)]
mod tests;
