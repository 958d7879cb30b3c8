//! What the processor hands to the rest of the crate: per-invocation records (what notices,
//! summaries and advice read), the processor's own counters, and each event's outcome.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::metrics::{Metric, ProcessorMetric};

/// Lines around a line of evidence kept on each side.
pub(crate) const EVIDENCE_CONTEXT_LINES: usize = 2;
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

/// A set of per-invocation counters (bit i is `Metric::COUNTS[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counted(pub(crate) u16);

impl Counted {
    /// Whether `metric` is in the set.
    pub fn has(self, metric: Metric) -> bool {
        metric.count_index().is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// The set with `metric` added.
    pub fn with(mut self, metric: Metric) -> Counted {
        if let Some(i) = metric.count_index() {
            self.0 |= 1 << i;
        }
        self
    }

    /// The counters in the set, in document order.
    pub fn metrics(self) -> impl Iterator<Item = Metric> {
        Metric::COUNTS.into_iter().filter(move |m| self.has(*m))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn is_none(&self) -> bool {
        self.0 == 0
    }

    /// The counters of `self` that are not in `other`.
    pub fn without(self, other: Counted) -> Counted {
        Counted(self.0 & !other.0)
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

/// What the processor newly established about one invocation: the counters it adds at its
/// minute, and, rarely, the counters it takes back there (a correction: a later batch showed
/// that a class counted earlier does not hold, for example a near-timeout that timed out).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InvocationRecord {
    /// The account that owns the log group, as the batch's `owner` names it (`replay` for
    /// plain log files replayed).
    pub account: Arc<str>,
    /// The function (from the log group).
    pub function: Arc<str>,
    /// The log group.
    pub log_group: Arc<str>,
    /// The log stream (execution environment).
    pub log_stream: Arc<str>,
    /// The request id; an init phase is `init:<stream>`.
    pub request_id: String,
    /// The time the counts are filed under: the REPORT's, or the first line's when the
    /// invocation never reported.
    pub timestamp_ms: i64,
    /// The counters newly counted for it.
    #[serde(serialize_with = "serialize_counted")]
    pub counted: Counted,
    /// The counters taken back at this minute (see the type's docs); usually empty.
    #[serde(serialize_with = "serialize_counted", skip_serializing_if = "Counted::is_none")]
    pub retracted: Counted,
    /// Its duration, when its report is newly counted.
    pub duration_ms: Option<f64>,
    /// Its init duration, if a cold start.
    pub init_duration_ms: Option<f64>,
    /// Its memory size, MB.
    pub memory_size_mb: Option<f64>,
    /// Its peak memory, MB.
    pub max_memory_used_mb: Option<f64>,
    /// The function's timeout the invocation was judged against.
    pub timeout: Timeout,
    /// The chunk size it logged, if any.
    pub chunk_size: Option<f64>,
    /// The error type Lambda reported, if any.
    pub error_type: Option<String>,
    /// Custom rules newly counted: (metric, value).
    pub rules: SmallVec<[(Arc<str>, Option<f64>); 2]>,
    /// Whether the config makes its function a chunked worker (chunk-size advice applies).
    #[serde(skip)]
    pub chunked: bool,
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
    /// Counts held back earlier and settled now ([`super::Processor::flush`]).
    Flush,
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
