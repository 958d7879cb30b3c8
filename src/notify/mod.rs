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
use crate::present::{self, seconds};
use crate::processor::{Evidence, InvocationRecord, Timeout, TimeoutSource, minute_start, truncate};
use advice::{Advice, Direction, Run};

// The caps of the warm container's notice state. Filled to them all, with the processor's maps
// too, the heap stays under 64 MB, which `cargo test` checks (the `memory` benchmark).
/// (function, class) pairs whose cooldown and merge count are remembered: a class in alert for
/// every remembered function ([`crate::processor::MAX_FUNCTIONS`]).
pub const MAX_ALERT_KEYS: usize = 5_000;
/// Occurrence times kept per (function, class): enough for the largest threshold allowed.
pub const MAX_RECENT_PER_KEY: usize = crate::config::MAX_THRESHOLD as usize;
/// Chunked workers whose recent runs, chunk size and last advice are remembered.
pub const MAX_CHUNKED_FUNCTIONS: usize = 1_000;
/// Recent runs kept per chunked worker: the advice's percentiles need tens, not hundreds.
pub const MAX_RUNS_PER_FUNCTION: usize = 200;
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

/// One invocation's evidence as one excerpt of its log stream: its first line of evidence with
/// the lines around it, and its later lines of evidence among the lines after it, each line
/// quoted once (lines of evidence close together share their context), with a link to those
/// minutes in the console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// When its first line of evidence was logged, epoch ms.
    pub timestamp_ms: i64,
    /// When its last line of evidence was logged, epoch ms.
    pub until_ms: i64,
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
    /// Which lines of `after` are evidence too (indexes into it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub marked: Vec<usize>,
    /// The console at this log stream, from the first evidence's minute to the end of the
    /// last one's.
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
    /// The account the logs come from (the subscription's `owner`); none when unknown (plain
    /// log files replayed). Several, comma-separated, on a summary of several accounts.
    pub account: Option<String>,
    /// The Region the logs come from ([`Notifier::known_region`]); none when unknown.
    pub region: Option<String>,
    /// The class (a metric name such as `Timeouts`, or `ChunkSize` for advice).
    pub class: String,
    /// How urgent.
    pub severity: Severity,
    /// The first and last instant the notice covers, epoch ms: every quoted line and every
    /// counted invocation's report falls within it.
    pub window_ms: (i64, i64),
    /// Invocations of this class the notice reports.
    pub count: u64,
    /// Occurrences merged into this notice since the previous one (within the cooldown).
    pub merged: u64,
    /// The first few affected request ids.
    pub request_ids: Vec<String>,
    /// One excerpt per invocation quoted, at most `notices.samples`.
    pub samples: Vec<Sample>,
    /// Lines of evidence grouped by fingerprint, most frequent first.
    pub fingerprints: Vec<Fingerprint>,
    /// A Logs Insights query from the minute before the window to the minutes after it.
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
    /// Keyed by (account, function, class).
    alerts: BoundedMap<(String, String, Metric), AlertState>,
    runs: BoundedMap<Arc<str>, VecDeque<Run>>,
    chunk_sizes: BoundedMap<Arc<str>, f64>,
    advised: BoundedMap<String, i64>,
    region: Option<String>,
}

impl Notifier {
    /// A notifier with no history, for logs of `region` (named in notices and their links).
    pub fn new(region: impl Into<String>) -> Notifier {
        Notifier::with_region(Some(region.into()))
    }

    /// A notifier with no history, for logs of `region`, or of a Region it does not know
    /// (notices say so, and their links open the console in the reader's default Region).
    pub fn with_region(region: Option<String>) -> Notifier {
        Notifier {
            alerts: BoundedMap::new(MAX_ALERT_KEYS),
            runs: BoundedMap::new(MAX_CHUNKED_FUNCTIONS),
            chunk_sizes: BoundedMap::new(MAX_CHUNKED_FUNCTIONS),
            advised: BoundedMap::new(MAX_CHUNKED_FUNCTIONS),
            region: region.filter(|r| !r.trim().is_empty()),
        }
    }

    /// The Region the logs come from, when known: the config's `notices.region`, else
    /// `AWS_REGION` (which Lambda sets to the function's Region, the logs' own unless a
    /// cross-Region destination feeds it), else `AWS_DEFAULT_REGION`.
    pub fn known_region(config: &Config) -> Option<String> {
        config
            .notices
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.trim().is_empty())
    }

    /// The region for links: [`Notifier::known_region`], else us-east-1.
    pub fn region_for(config: &Config) -> String {
        Notifier::known_region(config).unwrap_or_else(|| "us-east-1".into())
    }

    fn link_region(&self) -> &str {
        self.region.as_deref().unwrap_or("")
    }

    /// The notices these records call for, at most `notices.max_per_invocation` of them.
    pub fn notices_for(&mut self, config: &Config, records: &[InvocationRecord]) -> Vec<Notice> {
        let mut notices = self.alerts_for(config, records);
        notices.extend(self.advice_for(config, records));
        cap(notices, config.notices.max_per_invocation, self.region.clone())
    }

    fn alerts_for(&mut self, config: &Config, records: &[InvocationRecord]) -> Vec<Notice> {
        let settings = &config.notices;
        // A function's name can come back in several accounts (a cross-account destination):
        // each account's occurrences are alerted and cooled down on their own.
        let mut groups: BTreeMap<(&str, &str, Metric), Vec<&InvocationRecord>> = BTreeMap::new();
        for record in records {
            for &(metric, _) in &settings.thresholds {
                if record.counted.has(metric) {
                    groups
                        .entry((&record.function, &record.account, metric))
                        .or_default()
                        .push(record);
                }
            }
        }
        let mut notices = Vec::new();
        for ((function, account, metric), group) in groups {
            let threshold = settings
                .thresholds
                .iter()
                .find(|(m, _)| *m == metric)
                .map_or(1, |(_, t)| *t);
            let latest = group.iter().map(|r| r.timestamp_ms).max().unwrap_or(0);
            let state = self
                .alerts
                .get_or_insert_with((account.to_string(), function.to_string(), metric), AlertState::default);
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
        // The window holds every counted report and every line of evidence (a timeout's lines
        // come long before its REPORT), so that it covers whatever the notice quotes.
        let instants = || {
            group
                .iter()
                .flat_map(|r| std::iter::once(r.timestamp_ms).chain(r.evidence.iter().map(|e| e.timestamp_ms)))
        };
        let first = instants().min().unwrap_or(0);
        let last = instants().max().unwrap_or(0);
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
        // One excerpt per invocation, so samples show several invocations, and each of its
        // lines once, however many lines of evidence share it as context.
        let samples: Vec<Sample> = group
            .iter()
            .filter_map(|r| {
                let excerpt = Excerpt::of(&r.evidence)?;
                let from = minute_start(excerpt.from_ms);
                let to = minute_start(excerpt.until_ms).saturating_add(60_000);
                Some(Sample {
                    timestamp_ms: excerpt.from_ms,
                    until_ms: excerpt.until_ms,
                    log_stream: r.log_stream.to_string(),
                    request_id: clean(&r.request_id, MAX_CONTEXT_LINE_BYTES),
                    line: clean(excerpt.line, MAX_SAMPLE_LINE_BYTES),
                    before: excerpt
                        .before
                        .iter()
                        .map(|l| clean(l, MAX_CONTEXT_LINE_BYTES))
                        .collect(),
                    after: excerpt
                        .after
                        .iter()
                        .map(|&(l, marked)| {
                            clean(
                                l,
                                if marked {
                                    MAX_SAMPLE_LINE_BYTES
                                } else {
                                    MAX_CONTEXT_LINE_BYTES
                                },
                            )
                        })
                        .collect(),
                    marked: excerpt
                        .after
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, marked))| *marked)
                        .map(|(i, _)| i)
                        .collect(),
                    link: links::log_stream(self.link_region(), &r.log_group, &r.log_stream, from, to),
                })
            })
            .take(settings.samples)
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
            self.link_region(),
            &log_group,
            &insights_query(metric),
            minute_start(first).saturating_sub(60_000),
            minute_start(last).saturating_add(120_000),
        ));
        Notice {
            kind: Kind::Alert,
            function: function.to_string(),
            account: account_id(group.first().map_or("", |r| &*r.account)),
            region: self.region.clone(),
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
            let account = records
                .iter()
                .rev()
                .find(|r| &*r.function == function)
                .and_then(|r| account_id(&r.account));
            notices.push(Notice {
                kind: Kind::Advice,
                function: function.to_string(),
                account,
                region: self.region.clone(),
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
fn cap(mut notices: Vec<Notice>, max: usize, region: Option<String>) -> Vec<Notice> {
    if notices.len() <= max {
        return notices;
    }
    let rest = notices.split_off(max.saturating_sub(1));
    let first = rest.iter().map(|n| n.window_ms.0).min().unwrap_or(0);
    let last = rest.iter().map(|n| n.window_ms.1).max().unwrap_or(0);
    let mut accounts: Vec<&str> = rest.iter().filter_map(|n| n.account.as_deref()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    notices.push(Notice {
        kind: Kind::Summary,
        function: "(several)".into(),
        account: Some(accounts.join(", ")).filter(|a| !a.is_empty()),
        region,
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

/// An account id as the subscription's `owner` gives it: twelve digits, or unknown (replayed
/// plain log files have none).
fn account_id(owner: &str) -> Option<String> {
    (owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit())).then(|| owner.to_string())
}

/// One invocation's evidence merged into one excerpt of its stream, each line once (see
/// [`Sample`]). Lines are compared as logged, before redaction.
struct Excerpt<'a> {
    from_ms: i64,
    until_ms: i64,
    before: Vec<&'a str>,
    line: &'a str,
    /// The lines after the first evidence, each with whether it is evidence too.
    after: Vec<(&'a str, bool)>,
}

impl<'a> Excerpt<'a> {
    fn of(evidence: &'a [Evidence]) -> Option<Excerpt<'a>> {
        let mut lines: Vec<(&'a str, bool)> = Vec::new();
        for e in evidence {
            for l in &e.before {
                if !lines.iter().any(|(seen, _)| *seen == l.as_str()) {
                    lines.push((l.as_str(), false));
                }
            }
            match lines.iter_mut().find(|(seen, _)| *seen == e.line.as_str()) {
                Some(seen) => seen.1 = true,
                None => lines.push((e.line.as_str(), true)),
            }
            for l in &e.after {
                if !lines.iter().any(|(seen, _)| *seen == l.as_str()) {
                    lines.push((l.as_str(), false));
                }
            }
        }
        let at = lines.iter().position(|(_, marked)| *marked)?;
        let mut after = lines.split_off(at);
        let (line, _) = after.remove(0);
        Some(Excerpt {
            from_ms: evidence.iter().map(|e| e.timestamp_ms).min()?,
            until_ms: evidence.iter().map(|e| e.timestamp_ms).max()?,
            before: lines.into_iter().map(|(l, _)| l).collect(),
            line,
            after,
        })
    }
}

impl Notice {
    /// Where the logs come from, short: `123456789012, eu-west-1` (the body lists several
    /// accounts of a summary).
    fn origin(&self) -> String {
        let account = match self.account.as_deref() {
            Some(several) if several.contains(',') => "several accounts",
            Some(one) => one,
            None => "account unknown",
        };
        format!("{account}, {}", self.region.as_deref().unwrap_or("Region unknown"))
    }

    /// A one-line subject that names the function, what happened, when, and the account and
    /// Region; a long function name is shortened so that the rest fits SNS's 100 characters
    /// (SNS cleans it later, [`sns::clean_subject`]).
    pub fn subject(&self) -> String {
        let what = match (self.kind, self.class.as_str()) {
            (Kind::Summary, _) => format!("{} more notices ({} invocations)", self.summarised.len(), self.count),
            (Kind::Advice, _) => match self.advice.as_ref().map(|a| a.direction) {
                Some(Direction::Smaller) => "use smaller chunks".to_string(),
                _ => "use larger chunks".to_string(),
            },
            (_, "Timeouts") => format!("{} timed out", plural(self.count, "invocation")),
            (_, "OutOfMemory") => format!("{} ran out of memory", plural(self.count, "invocation")),
            (_, "RateLimited") => format!("{} rate-limited", plural(self.count, "invocation")),
            (_, "TooManyConnections") => format!("{} hit the DB connection cap", plural(self.count, "invocation")),
            (_, "Errors") => format!("{} failed", plural(self.count, "invocation")),
            (_, class) => format!("{} {class}", plural(self.count, "invocation")),
        };
        // The time goes first when room runs short (the body has the window to the second),
        // then the function's name is shortened; the account and Region always stay.
        let head = "[watchdog] ";
        let origin = self.origin();
        let tails = [
            format!(
                ": {what} at {} UTC ({origin})",
                crate::present::time_of_day(self.window_ms.0)
            ),
            format!(
                ": {what} at {} UTC ({origin})",
                &crate::present::time_of_day(self.window_ms.0)[..5]
            ),
            format!(": {what} ({origin})"),
        ];
        let fits = |tail: &String| head.len() + tail.chars().count() + self.function.chars().count().min(16);
        let tail = tails
            .iter()
            .find(|t| fits(t) <= sns::MAX_SUBJECT_CHARS)
            .unwrap_or(&tails[2]);
        let room = sns::MAX_SUBJECT_CHARS
            .saturating_sub(head.len() + tail.chars().count())
            .max(8);
        let function = if self.function.chars().count() <= room {
            self.function.clone()
        } else {
            let kept: String = self.function.chars().take(room - 3).collect();
            format!("{kept}...")
        };
        format!("{head}{function}{tail}")
    }

    /// The readable text for e-mail and chat.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let stamp = |ms: i64| crate::present::rfc3339_ms(ms);
        let (from, to) = (stamp(self.window_ms.0), stamp(self.window_ms.1));
        let _ = writeln!(out, "{}", self.subject());
        let _ = writeln!(
            out,
            "Logs of account {}, Region {}.",
            self.account.as_deref().unwrap_or("unknown"),
            self.region.as_deref().unwrap_or("unknown")
        );
        let end = if from[..10] == to[..10] {
            to[11..19].to_string()
        } else {
            format!("{} {}", &to[..10], &to[11..19])
        };
        let _ = writeln!(out, "Window: {} to {end} UTC on {}.", &from[11..19], &from[..10]);
        if self.merged > 0 {
            let _ = writeln!(
                out,
                "{} more occurrence(s) since the previous notice were merged into this one.",
                self.merged
            );
        }
        if let Some(t) = self.timeout {
            let _ = writeln!(
                out,
                "Timeout: {} ({}).",
                seconds(t.seconds * 1000.0),
                present::source_phrase(t.source)
            );
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
            let _ = writeln!(
                out,
                "\nWhat the logs say (xN: logged by N of the {} in this notice; numbers, ids, times and quoted values read <n>, <id>, <time>, <str>):",
                plural(self.count, "invocation")
            );
            for f in &self.fingerprints {
                let _ = writeln!(out, "  x{:<4} {}", f.invocations, f.fingerprint);
            }
        }
        if !self.samples.is_empty() {
            let _ = writeln!(
                out,
                "\nWhat was logged (> marks the lines counted; the others are the lines around them):"
            );
        }
        for s in &self.samples {
            let span = if s.until_ms > s.timestamp_ms {
                format!("{} to {}", &stamp(s.timestamp_ms)[11..23], &stamp(s.until_ms)[11..23])
            } else {
                stamp(s.timestamp_ms)[11..23].to_string()
            };
            let _ = writeln!(out, "\n{span} UTC, request {} ({})", s.request_id, s.log_stream);
            for l in &s.before {
                quote(&mut out, "    ", l);
            }
            quote(&mut out, "  > ", &s.line);
            for (i, l) in s.after.iter().enumerate() {
                quote(&mut out, if s.marked.contains(&i) { "  > " } else { "    " }, l);
            }
            let _ = writeln!(out, "  Open these minutes: {}", s.link);
        }
        if let Some(link) = &self.insights_link {
            let _ = writeln!(
                out,
                "\nLogs Insights from the minute before the window to after it: {link}"
            );
        }
        if !self.summarised.is_empty() {
            let _ = writeln!(out, "\nThe notices this one stands for (function: class, invocations):");
        }
        for (function, class, count) in &self.summarised {
            let _ = writeln!(out, "  {function}: {class}, {}", plural(*count, "invocation"));
        }
        out
    }
}

/// Writes one log event behind `mark`; its further physical lines (a stack trace, a heap
/// report) behind `  | `, so that every line of the excerpt stays indented under its event.
fn quote(out: &mut String, mark: &str, event: &str) {
    let mut lines = event.lines();
    let _ = writeln!(out, "{mark}{}", lines.next().unwrap_or(""));
    for line in lines {
        let _ = writeln!(out, "  | {line}");
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
