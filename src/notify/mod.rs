//! Stage 6: notices for operators. Failure alerts carry the evidence (request ids, sample lines
//! with the lines around them, error fingerprints, console links); chunk-size advice carries
//! the durations and the timeout it is based on. Which notices go out is decided here, from the
//! per-invocation records the processor produces; [`sns`] delivers them.
//!
//! State (cooldowns, recent runs) lives in the warm container and is bounded: a cold container
//! starts with none, so after a cold start the first occurrence of a class is alerted again.

pub mod advice;
pub mod fingerprint;
pub mod links;
pub mod redact;
pub mod sns;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use crate::bounded::BoundedMap;
use crate::config::Config;
use crate::metrics::Metric;
use crate::present::seconds;
use crate::processor::{InvocationRecord, Timeout, TimeoutSource, minute_start, truncate};
use advice::{Advice, Direction, Run};

// The caps of the warm container's notice state. Filled to them all, with the processor's maps
// too, the heap stays under 64 MB (`cargo bench --bench memory`).
/// (function, class) pairs whose cooldown and merge count are remembered.
pub const MAX_ALERT_KEYS: usize = 10_000;
/// Occurrence times kept per (function, class): enough for the largest threshold allowed.
pub const MAX_RECENT_PER_KEY: usize = crate::config::MAX_THRESHOLD as usize;
/// Chunked workers whose recent runs, chunk size and last advice are remembered.
pub const MAX_CHUNKED_FUNCTIONS: usize = 1_000;
/// Recent runs kept per chunked worker.
pub const MAX_RUNS_PER_FUNCTION: usize = 500;
const MAX_SAMPLE_LINE_BYTES: usize = 1_000;
const MAX_CONTEXT_LINE_BYTES: usize = 300;

/// What kind of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A class of failure happened.
    Alert,
    /// Chunks are too big or too small.
    Advice,
    /// The notices over the per-invocation cap, in one.
    Summary,
}

/// How urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Timeouts, out of memory, connection caps.
    Critical,
    /// Rate limits, errors.
    Warning,
    /// Advice.
    Info,
}

impl Severity {
    /// The word used in message attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A sample log line with its neighbours and a link to its minute in the console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// When it was logged, epoch ms.
    pub timestamp_ms: i64,
    /// The log stream.
    pub log_stream: String,
    /// Its invocation.
    pub request_id: String,
    /// The line, secrets masked, cut to 1,000 bytes.
    pub line: String,
    /// Lines before it.
    pub before: Vec<String>,
    /// Lines after it.
    pub after: Vec<String>,
    /// The console at this log stream and minute.
    pub link: String,
}

/// A group of error lines that differ only in values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fingerprint {
    /// The normalised line.
    pub fingerprint: String,
    /// Invocations that logged it.
    pub invocations: u64,
    /// One real line, secrets masked.
    pub example: String,
}

/// One notice, as sent to machine subscribers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// Alert, advice or summary.
    pub kind: Kind,
    /// The function.
    pub function: String,
    /// The class (a metric name such as `Timeouts`, or `ChunkSize` for advice).
    pub class: String,
    /// How urgent.
    pub severity: Severity,
    /// The first and last instant the notice covers, epoch ms.
    pub window_ms: (i64, i64),
    /// Invocations of this class the notice reports.
    pub count: u64,
    /// Occurrences merged into this notice since the previous one (within the cooldown).
    pub merged: u64,
    /// The first few affected request ids.
    pub request_ids: Vec<String>,
    /// Sample lines.
    pub samples: Vec<Sample>,
    /// Error lines grouped by fingerprint, most frequent first.
    pub fingerprints: Vec<Fingerprint>,
    /// A Logs Insights query over the window.
    pub insights_link: Option<String>,
    /// The function's timeout and its source.
    pub timeout: Option<Timeout>,
    /// Chunk-size advice, for advice notices.
    pub advice: Option<Advice>,
    /// For summary notices: the notices it stands for (function, class, count).
    pub summarised: Vec<(String, String, u64)>,
}

#[derive(Debug, Default)]
struct AlertState {
    last_sent_ms: Option<i64>,
    suppressed: u64,
    recent: VecDeque<i64>,
}

/// Decides which notices go out, remembering cooldowns and recent runs across invocations.
pub struct Notifier {
    alerts: BoundedMap<(String, Metric), AlertState>,
    runs: BoundedMap<Arc<str>, VecDeque<Run>>,
    chunk_sizes: BoundedMap<Arc<str>, f64>,
    advised: BoundedMap<String, i64>,
    region: String,
}

impl Notifier {
    /// A notifier with no history; `region` is used for console links.
    pub fn new(region: impl Into<String>) -> Notifier {
        Notifier {
            alerts: BoundedMap::new(MAX_ALERT_KEYS),
            runs: BoundedMap::new(MAX_CHUNKED_FUNCTIONS),
            chunk_sizes: BoundedMap::new(MAX_CHUNKED_FUNCTIONS),
            advised: BoundedMap::new(MAX_CHUNKED_FUNCTIONS),
            region: region.into(),
        }
    }

    /// The region for links: the config's, else `AWS_REGION`, else us-east-1.
    pub fn region_for(config: &Config) -> String {
        config
            .notices
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// The notices these records call for, at most `notices.max_per_invocation` of them.
    pub fn notices_for(&mut self, config: &Config, records: &[InvocationRecord]) -> Vec<Notice> {
        let mut notices = self.alerts_for(config, records);
        notices.extend(self.advice_for(config, records));
        cap(notices, config.notices.max_per_invocation)
    }

    fn alerts_for(&mut self, config: &Config, records: &[InvocationRecord]) -> Vec<Notice> {
        let settings = &config.notices;
        let mut groups: BTreeMap<(&str, Metric), Vec<&InvocationRecord>> = BTreeMap::new();
        for record in records {
            for &(metric, _) in &settings.thresholds {
                if record.counted.has(metric) {
                    groups.entry((&record.function, metric)).or_default().push(record);
                }
            }
        }
        let mut notices = Vec::new();
        for ((function, metric), group) in groups {
            let threshold = settings
                .thresholds
                .iter()
                .find(|(m, _)| *m == metric)
                .map_or(1, |(_, t)| *t);
            let latest = group.iter().map(|r| r.timestamp_ms).max().unwrap_or(0);
            let state = self
                .alerts
                .get_or_insert_with((function.to_string(), metric), AlertState::default);
            state.recent.extend(group.iter().map(|r| r.timestamp_ms));
            while state
                .recent
                .front()
                .is_some_and(|&t| t < latest.saturating_sub(settings.cooldown_ms))
                || state.recent.len() > (threshold as usize).min(MAX_RECENT_PER_KEY)
            {
                state.recent.pop_front();
            }
            state.suppressed += group.len() as u64;
            let cooled = state
                .last_sent_ms
                .is_none_or(|sent| latest.saturating_sub(sent) >= settings.cooldown_ms);
            if !cooled || (state.recent.len() as u64) < threshold {
                continue;
            }
            let merged = state.suppressed - group.len() as u64;
            state.suppressed = 0;
            state.last_sent_ms = Some(latest);
            notices.push(self.alert(config, function, metric, &group, merged));
        }
        notices
    }

    fn alert(
        &self,
        config: &Config,
        function: &str,
        metric: Metric,
        group: &[&InvocationRecord],
        merged: u64,
    ) -> Notice {
        let settings = &config.notices;
        let first = group.iter().map(|r| r.timestamp_ms).min().unwrap_or(0);
        let last = group.iter().map(|r| r.timestamp_ms).max().unwrap_or(0);
        // Every line is redacted whole before it is cut or fingerprinted, so a cut cannot split a
        // secret from the pattern that recognises it. Request ids are redacted too: a JSON line's
        // `requestId` member can hold any text.
        let redact = |text: &str| redact::redact(text, &settings.redact).into_owned();
        let clean = |line: &str, max: usize| truncate(&redact::redact(line, &settings.redact), max);
        let mut request_ids: Vec<String> = Vec::new();
        for r in group {
            let id = clean(&r.request_id, MAX_CONTEXT_LINE_BYTES);
            if request_ids.len() < settings.request_ids && !request_ids.contains(&id) {
                request_ids.push(id);
            }
        }
        // The first line of each invocation before the second of any, so samples show several
        // invocations rather than one invocation's repeated line.
        let depth = group.iter().map(|r| r.evidence.len()).max().unwrap_or(0);
        let samples: Vec<Sample> = (0..depth)
            .flat_map(|i| group.iter().filter_map(move |r| r.evidence.get(i).map(|e| (r, e))))
            .take(settings.samples)
            .map(|(r, e)| {
                let minute = minute_start(e.timestamp_ms);
                Sample {
                    timestamp_ms: e.timestamp_ms,
                    log_stream: r.log_stream.to_string(),
                    request_id: clean(&r.request_id, MAX_CONTEXT_LINE_BYTES),
                    line: clean(&e.line, MAX_SAMPLE_LINE_BYTES),
                    before: e.before.iter().map(|l| clean(l, MAX_CONTEXT_LINE_BYTES)).collect(),
                    after: e.after.iter().map(|l| clean(l, MAX_CONTEXT_LINE_BYTES)).collect(),
                    link: links::log_stream(
                        &self.region,
                        &r.log_group,
                        &r.log_stream,
                        minute,
                        minute.saturating_add(60_000),
                    ),
                }
            })
            .collect();
        let mut prints: BTreeMap<String, Fingerprint> = BTreeMap::new();
        for r in group {
            let mut seen = Vec::new();
            for e in &r.evidence {
                let line = redact(&e.line);
                let fp = fingerprint::fingerprint(&line, &settings.redact);
                if seen.contains(&fp) {
                    continue;
                }
                seen.push(fp.clone());
                prints
                    .entry(fp.clone())
                    .or_insert_with(|| Fingerprint {
                        fingerprint: fp,
                        invocations: 0,
                        example: truncate(&line, MAX_CONTEXT_LINE_BYTES),
                    })
                    .invocations += 1;
            }
        }
        let mut fingerprints: Vec<Fingerprint> = prints.into_values().collect();
        fingerprints.sort_by(|a, b| {
            b.invocations
                .cmp(&a.invocations)
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        fingerprints.truncate(10);
        let log_group = group.first().map(|r| r.log_group.to_string()).unwrap_or_default();
        let insights_link = Some(links::insights(
            &self.region,
            &log_group,
            &insights_query(metric),
            minute_start(first).saturating_sub(60_000),
            minute_start(last).saturating_add(120_000),
        ));
        Notice {
            kind: Kind::Alert,
            function: function.to_string(),
            class: metric.name().to_string(),
            severity: match metric {
                Metric::Timeouts | Metric::OutOfMemory | Metric::TooManyConnections => Severity::Critical,
                _ => Severity::Warning,
            },
            window_ms: (first, last),
            count: group.len() as u64,
            merged,
            request_ids,
            samples,
            fingerprints,
            insights_link,
            timeout: group.last().map(|r| r.timeout),
            advice: None,
            summarised: Vec::new(),
        }
    }

    fn advice_for(&mut self, config: &Config, records: &[InvocationRecord]) -> Vec<Notice> {
        let settings = &config.advice;
        let mut touched: Vec<&str> = Vec::new();
        for r in records {
            // Only chunked workers get advice: nothing to keep for the others.
            if !r.chunked {
                continue;
            }
            if let Some(c) = r.chunk_size {
                self.chunk_sizes.insert(r.function.clone(), c);
            }
            let Some(duration_ms) = r.duration_ms else { continue };
            let runs = self.runs.get_or_insert_with(r.function.clone(), VecDeque::new);
            runs.push_back(Run {
                timestamp_ms: r.timestamp_ms,
                duration_ms,
                timed_out: r.counted.has(Metric::Timeouts),
                near_timeout: r.counted.has(Metric::NearTimeout),
                failed: r.counted.has(Metric::Errors) || r.counted.has(Metric::OutOfMemory),
                short: r.counted.has(Metric::ShortRuns),
            });
            while runs.len() > MAX_RUNS_PER_FUNCTION {
                runs.pop_front();
            }
            if !touched.contains(&&*r.function) {
                touched.push(&r.function);
            }
        }
        let mut notices = Vec::new();
        for function in touched {
            let Some(runs) = self.runs.get(function) else { continue };
            let latest = runs.iter().map(|r| r.timestamp_ms).max().unwrap_or(0);
            let recent: Vec<Run> = runs
                .iter()
                .filter(|r| r.timestamp_ms >= latest.saturating_sub(settings.window_ms))
                .copied()
                .collect();
            if self
                .advised
                .get(function)
                .is_some_and(|&at| latest.saturating_sub(at) < settings.cooldown_ms)
            {
                continue;
            }
            let timeout = records
                .iter()
                .rev()
                .find(|r| &*r.function == function)
                .map(|r| r.timeout)
                .unwrap_or(Timeout {
                    seconds: config.defaults.timeout_seconds,
                    source: TimeoutSource::Default,
                });
            let chunk = self.chunk_sizes.get(function).copied();
            let Some(advice) = advice::advise(&recent, timeout, chunk, settings) else {
                continue;
            };
            self.advised.insert(function.to_string(), latest);
            let first = recent.iter().map(|r| r.timestamp_ms).min().unwrap_or(latest);
            notices.push(Notice {
                kind: Kind::Advice,
                function: function.to_string(),
                class: "ChunkSize".into(),
                severity: Severity::Info,
                window_ms: (first, latest),
                count: advice.invocations as u64,
                merged: 0,
                request_ids: Vec::new(),
                samples: Vec::new(),
                fingerprints: Vec::new(),
                insights_link: None,
                timeout: Some(timeout),
                advice: Some(advice),
                summarised: Vec::new(),
            });
        }
        notices
    }
}

/// Keeps the first `max - 1` notices and folds the rest into one summary notice.
fn cap(mut notices: Vec<Notice>, max: usize) -> Vec<Notice> {
    if notices.len() <= max {
        return notices;
    }
    let rest = notices.split_off(max.saturating_sub(1));
    let first = rest.iter().map(|n| n.window_ms.0).min().unwrap_or(0);
    let last = rest.iter().map(|n| n.window_ms.1).max().unwrap_or(0);
    notices.push(Notice {
        kind: Kind::Summary,
        function: "(several)".into(),
        class: "Summary".into(),
        severity: if rest.iter().any(|n| n.severity == Severity::Critical) {
            Severity::Critical
        } else {
            Severity::Warning
        },
        window_ms: (first, last),
        count: rest.iter().map(|n| n.count).sum(),
        merged: 0,
        request_ids: Vec::new(),
        samples: Vec::new(),
        fingerprints: Vec::new(),
        insights_link: None,
        timeout: None,
        advice: None,
        summarised: rest
            .iter()
            .map(|n| (n.function.clone(), n.class.clone(), n.count))
            .collect(),
    });
    notices
}

/// The Logs Insights query that shows a class's lines, derived from [`crate::vocabulary`].
fn insights_query(metric: Metric) -> String {
    use crate::signals::Signal;
    use crate::vocabulary;
    let filter = match metric {
        Metric::Timeouts => vocabulary::insights_timeouts(),
        Metric::OutOfMemory => vocabulary::insights_filter(&[Signal::OutOfMemory]),
        Metric::RateLimited => vocabulary::insights_filter(&[Signal::RateLimited]),
        Metric::TooManyConnections => vocabulary::insights_filter(&[Signal::TooManyConnections]),
        Metric::ConnectionErrors => vocabulary::insights_filter(&[Signal::TooManyConnections, Signal::ConnectionError]),
        _ => vocabulary::insights_errors(),
    };
    format!("fields @timestamp, @logStream, @requestId, @message\n| {filter}\n| sort @timestamp asc\n| limit 200")
}

fn clock(ms: i64) -> String {
    links::iso8601(ms)[11..16].to_string()
}

fn source_words(t: Timeout) -> &'static str {
    match t.source {
        TimeoutSource::Config => "from the config",
        TimeoutSource::Learned => "learned from the function's own timeouts",
        TimeoutSource::Default => "the default; set it in the config",
    }
}

impl Notice {
    /// A one-line subject (SNS limits and cleans it later).
    pub fn subject(&self) -> String {
        let what = match (self.kind, self.class.as_str()) {
            (Kind::Summary, _) => format!("{} more notices ({} invocations)", self.summarised.len(), self.count),
            (Kind::Advice, _) => match self.advice.as_ref().map(|a| a.direction) {
                Some(Direction::Smaller) => "chunks too big, use smaller chunks".to_string(),
                _ => "chunks too small, use larger chunks".to_string(),
            },
            (_, "Timeouts") => format!("{} timed out", plural(self.count, "invocation")),
            (_, "OutOfMemory") => format!("{} ran out of memory", plural(self.count, "invocation")),
            (_, "RateLimited") => format!("{} rate-limited", plural(self.count, "invocation")),
            (_, "TooManyConnections") => format!("{} hit the DB connection cap", plural(self.count, "invocation")),
            (_, "Errors") => format!("{} failed", plural(self.count, "invocation")),
            (_, class) => format!("{} {class}", plural(self.count, "invocation")),
        };
        format!(
            "[watchdog] {}: {what} at {} UTC",
            self.function,
            clock(self.window_ms.0)
        )
    }

    /// The readable text for e-mail and chat.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let day = &links::iso8601(self.window_ms.0)[..10];
        let _ = writeln!(out, "{}", self.subject());
        let _ = writeln!(
            out,
            "Window: {} to {} UTC on {day}.",
            clock(self.window_ms.0),
            clock(self.window_ms.1)
        );
        if self.merged > 0 {
            let _ = writeln!(
                out,
                "{} more occurrence(s) since the previous notice were merged into this one.",
                self.merged
            );
        }
        if let Some(t) = self.timeout {
            let _ = writeln!(out, "Timeout: {} ({}).", seconds(t.seconds * 1000.0), source_words(t));
        }
        if let Some(a) = &self.advice {
            let _ = writeln!(out);
            match a.direction {
                Direction::Smaller => {
                    let _ = writeln!(
                        out,
                        "{} of the last {} invocations timed out and {} finished within reach of the timeout.",
                        a.timeouts, a.invocations, a.near_timeouts
                    );
                }
                Direction::Larger => {
                    let _ = writeln!(
                        out,
                        "{} of the last {} successful runs finished far under a minute.",
                        a.short_runs, a.successes
                    );
                }
            }
            let d = a.duration_ms;
            let _ = writeln!(
                out,
                "Duration p50 {}, p95 {}, max {} over {} runs.",
                seconds(d.p50),
                seconds(d.p95),
                seconds(d.max),
                d.count
            );
            match (a.chunk_size, a.suggested_chunk_size) {
                (Some(now), Some(new)) => {
                    let _ = writeln!(
                        out,
                        "Change the chunk size from {now} to {new}: that puts the p95 run at about {:.0}% of the timeout.",
                        a.target_duration_ratio * 100.0
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "Scale the chunk size by {:.2}: that puts the p95 run at about {:.0}% of the timeout. (Log `chunk_size=N` to get a concrete number.)",
                        a.factor,
                        a.target_duration_ratio * 100.0
                    );
                }
            }
        }
        if !self.request_ids.is_empty() {
            let _ = writeln!(out, "\nRequest ids: {}", self.request_ids.join(", "));
        }
        if !self.fingerprints.is_empty() {
            let _ = writeln!(out, "\nWhat the logs say:");
            for f in &self.fingerprints {
                let _ = writeln!(out, "  x{:<4} {}", f.invocations, f.fingerprint);
            }
        }
        for s in &self.samples {
            let _ = writeln!(
                out,
                "\n{} UTC, request {} ({})",
                &links::iso8601(s.timestamp_ms)[11..23],
                s.request_id,
                s.log_stream
            );
            for l in &s.before {
                let _ = writeln!(out, "    {l}");
            }
            let _ = writeln!(out, "  > {}", s.line);
            for l in &s.after {
                let _ = writeln!(out, "    {l}");
            }
            let _ = writeln!(out, "  Open this minute: {}", s.link);
        }
        if let Some(link) = &self.insights_link {
            let _ = writeln!(out, "\nLogs Insights for the window: {link}");
        }
        for (function, class, count) in &self.summarised {
            let _ = writeln!(out, "  {function}: {class} x{count}");
        }
        out
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests;
