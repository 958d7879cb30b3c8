//! What the lines of one invocation establish, whatever batch they came in. Facts only grow:
//! [`Facts::merge`] is commutative, associative and idempotent on everything that is counted, so
//! an invocation's facts are the same whatever the order and the cuts of the batches that bring
//! them. The classes come from the merged facts ([`super::classify`]).

use smallvec::SmallVec;

use crate::parse::{AppLine, Report, Status};
use crate::signals::Signal;

/// The facts that are flags, one bit each.
pub mod flag {
    /// A REPORT line or `platform.report` record.
    pub const REPORTED: u16 = 1;
    /// `Status: timeout`, `"status":"timeout"` or `Task timed out after N seconds`.
    pub const TIMEOUT: u16 = 1 << 1;
    /// Status `error` or `failure`, or a runtime that exited.
    pub const FAILED: u16 = 1 << 2;
    /// An ERROR-level line (or worse).
    pub const ERROR_LINE: u16 = 1 << 3;
    /// An out-of-memory error type or message.
    pub const OOM: u16 = 1 << 4;
    /// A rate-limit message.
    pub const RATE_LIMITED: u16 = 1 << 5;
    /// A database connection cap.
    pub const TOO_MANY_CONNECTIONS: u16 = 1 << 6;
    /// Any other connection failure.
    pub const CONNECTION_ERROR: u16 = 1 << 7;
    /// The report names its status (the newer style, or any JSON report): the outcome is final,
    /// no later `Task timed out` line can change it.
    pub const STATUS: u16 = 1 << 8;
    /// A cold start: an init or SnapStart restore duration on the REPORT, an init suppressed
    /// into the invoke phase (`INIT_REPORT … Phase: invoke`), or a `RESTORE_REPORT` before the
    /// invocation's START.
    pub const COLD_START: u16 = 1 << 9;
}

/// A rule an invocation matched, with the value its earliest matching line logged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleHit {
    /// The rule's index in the config.
    pub rule: usize,
    /// (timestamp, value) of the earliest line that gave a value.
    pub value: Option<(i64, f64)>,
}

/// Everything one invocation's lines established.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// [`flag`]s.
    pub flags: u16,
    /// The earliest line's time, epoch ms.
    pub first_ms: Option<i64>,
    /// The REPORT's time.
    pub report_ms: Option<i64>,
    /// REPORT: run time, ms.
    pub duration_ms: Option<f64>,
    /// REPORT: init time on a cold start, ms.
    pub init_duration_ms: Option<f64>,
    /// REPORT: billed time, ms.
    pub billed_duration_ms: Option<f64>,
    /// REPORT: configured memory, MB.
    pub memory_size_mb: Option<f64>,
    /// REPORT: peak memory, MB.
    pub max_memory_used_mb: Option<f64>,
    /// `Task timed out after N seconds`: N.
    pub timed_out_after: Option<f64>,
    /// (timestamp, value) of the earliest `chunk_size`.
    pub chunk_size: Option<(i64, f64)>,
    /// Custom rules matched.
    pub rules: SmallVec<[RuleHit; 2]>,
    /// The error type Lambda reported.
    pub error_type: Option<String>,
}

impl Facts {
    /// The rules matched, as bits: bit `i` is rule `i`.
    pub fn rule_bits(&self) -> u64 {
        self.rules.iter().fold(0, |bits, hit| bits | 1 << hit.rule)
    }

    /// A line at `timestamp_ms` showed `flags`.
    pub fn saw(&mut self, flags: u16, timestamp_ms: i64) {
        self.flags |= flags;
        self.first_ms = Some(self.first_ms.map_or(timestamp_ms, |t| t.min(timestamp_ms)));
    }

    /// A REPORT at `timestamp_ms`. The first report is kept (one invocation reports once).
    pub fn take_report(&mut self, report: &Report<'_>, timestamp_ms: i64) {
        let mut flags = flag::REPORTED | self.take_status(report.status, report.error_type.as_deref());
        if report.status.is_some() {
            flags |= flag::STATUS;
        }
        if report.init_duration_ms.is_some() || report.restore_duration_ms.is_some() {
            flags |= flag::COLD_START;
        }
        if self.report_ms.is_none() {
            self.report_ms = Some(timestamp_ms);
            self.duration_ms = report.duration_ms;
            self.init_duration_ms = report.init_duration_ms;
            self.billed_duration_ms = report.billed_duration_ms;
            self.memory_size_mb = report.memory_size_mb;
            self.max_memory_used_mb = report.max_memory_used_mb;
        }
        self.saw(flags, timestamp_ms);
    }

    /// The flags a status and error type stand for; keeps the first error type.
    pub fn take_status(&mut self, status: Option<Status>, error_type: Option<&str>) -> u16 {
        let mut flags = match status {
            Some(Status::Timeout) => flag::TIMEOUT,
            Some(s) if s.is_failure() => flag::FAILED,
            _ => 0,
        };
        if let Some(et) = error_type {
            if et.contains("OutOfMemory") {
                flags |= flag::OOM;
            }
            if self.error_type.is_none() {
                self.error_type = Some(et.to_string());
            }
        }
        flags
    }

    /// A `chunk_size` logged at `timestamp_ms`: the earliest is kept.
    pub fn take_chunk_size(&mut self, value: f64, timestamp_ms: i64) {
        if self.chunk_size.is_none_or(|(t, _)| timestamp_ms < t) {
            self.chunk_size = Some((timestamp_ms, value));
        }
    }

    /// A rule matched at `timestamp_ms`, with the value the line gave.
    pub fn take_rule(&mut self, rule: usize, value: Option<f64>, timestamp_ms: i64) {
        let value = value.map(|v| (timestamp_ms, v));
        match self.rules.iter_mut().find(|h| h.rule == rule) {
            Some(hit) => hit.value = earliest(hit.value, value),
            None => self.rules.push(RuleHit { rule, value }),
        }
    }

    /// Adds what `other` established. The order of merges never changes the result, except that
    /// between two reports of one invocation (which Lambda does not write) the one kept is the
    /// earlier one.
    pub fn merge(&mut self, other: &Facts) {
        self.flags |= other.flags;
        self.first_ms = match (self.first_ms, other.first_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if other.report_ms.is_some() && self.report_ms.is_none_or(|t| other.report_ms < Some(t)) {
            self.report_ms = other.report_ms;
            self.duration_ms = other.duration_ms;
            self.init_duration_ms = other.init_duration_ms;
            self.billed_duration_ms = other.billed_duration_ms;
            self.memory_size_mb = other.memory_size_mb;
            self.max_memory_used_mb = other.max_memory_used_mb;
        }
        self.timed_out_after = self.timed_out_after.or(other.timed_out_after);
        if let Some((t, v)) = other.chunk_size {
            self.take_chunk_size(v, t);
        }
        for hit in &other.rules {
            match self.rules.iter_mut().find(|h| h.rule == hit.rule) {
                Some(mine) => mine.value = earliest(mine.value, hit.value),
                None => self.rules.push(*hit),
            }
        }
        if self.error_type.is_none() {
            self.error_type.clone_from(&other.error_type);
        }
    }
}

/// The most bytes of an error type kept in a token.
const MAX_TOKEN_TEXT: usize = 100;

impl Facts {
    /// The facts as a set of short strings, for a store that can only add to a set (DynamoDB's
    /// string sets): the union of two facts' tokens reads back as their [`Facts::merge`], so
    /// containers that add what they saw, in any order and any number of times, agree on the
    /// merged facts. Each token is a letter and its fields:
    /// `f<bit>` a flag, `t<ms>` a line's time, `r<ms>|<duration>|<init>|<memory>|<peak>|<billed>` a report,
    /// `o<seconds>` a `Task timed out` line, `k<ms>|<value>` a chunk size, `u<rule>` and
    /// `u<rule>|<ms>|<value>` a rule hit, `e<type>` the error type.
    pub fn to_tokens(&self) -> Vec<String> {
        let mut tokens = Vec::new();
        for bit in 0..16 {
            if self.flags & (1 << bit) != 0 {
                tokens.push(format!("f{bit}"));
            }
        }
        if let Some(t) = self.first_ms {
            tokens.push(format!("t{t}"));
        }
        if let Some(t) = self.report_ms {
            let field = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            // The billed duration came last, so that readers of the first five fields still
            // read these tokens (and this reader reads theirs, without a billed duration).
            tokens.push(format!(
                "r{t}|{}|{}|{}|{}|{}",
                field(self.duration_ms),
                field(self.init_duration_ms),
                field(self.memory_size_mb),
                field(self.max_memory_used_mb),
                field(self.billed_duration_ms)
            ));
        }
        if let Some(after) = self.timed_out_after {
            tokens.push(format!("o{after}"));
        }
        if let Some((t, v)) = self.chunk_size {
            tokens.push(format!("k{t}|{v}"));
        }
        for hit in &self.rules {
            match hit.value {
                Some((t, v)) => tokens.push(format!("u{}|{t}|{v}", hit.rule)),
                None => tokens.push(format!("u{}", hit.rule)),
            }
        }
        if let Some(error_type) = &self.error_type {
            tokens.push(format!(
                "e{}",
                crate::notify::redact::cut_at_word(error_type, MAX_TOKEN_TEXT)
            ));
        }
        tokens
    }

    /// The facts a set of tokens stands for ([`Facts::to_tokens`]), whatever their order.
    /// Tokens that do not read are skipped: a newer version may write more kinds.
    pub fn from_tokens<S: AsRef<str>>(tokens: &[S]) -> Facts {
        let mut sorted: Vec<&str> = tokens.iter().map(AsRef::as_ref).collect();
        sorted.sort_unstable();
        let mut facts = Facts::default();
        for token in sorted {
            let Some(kind) = token.chars().next() else { continue };
            let rest = &token[kind.len_utf8()..];
            let mut part = Facts::default();
            let fields: SmallVec<[&str; 6]> = rest.split('|').collect();
            let num = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            let int = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok());
            match kind {
                'f' => match rest.parse::<u32>() {
                    Ok(bit) if bit < 16 => part.flags = 1 << bit,
                    _ => continue,
                },
                't' => part.first_ms = int(0),
                'r' => {
                    let Some(t) = int(0) else { continue };
                    part.report_ms = Some(t);
                    part.duration_ms = num(1);
                    part.init_duration_ms = num(2);
                    part.memory_size_mb = num(3);
                    part.max_memory_used_mb = num(4);
                    part.billed_duration_ms = num(5);
                }
                'o' => part.timed_out_after = num(0),
                'k' => part.chunk_size = int(0).zip(num(1)),
                'u' => {
                    let Some(rule) = fields.first().and_then(|f| f.parse::<usize>().ok()).filter(|&r| r < 64) else {
                        continue;
                    };
                    part.rules.push(RuleHit {
                        rule,
                        value: int(1).zip(num(2)),
                    });
                }
                'e' => part.error_type = Some(rest.to_string()),
                _ => continue,
            }
            facts.merge(&part);
        }
        facts
    }
}

fn earliest(a: Option<(i64, f64)>, b: Option<(i64, f64)>) -> Option<(i64, f64)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.0 < x.0 { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// The flags an application line shows.
pub fn app_flags(app: &AppLine<'_>) -> u16 {
    let s = app.signals;
    let mut flags = 0;
    if app.is_error() {
        flags |= flag::ERROR_LINE;
    }
    if app.timed_out_after.is_some() {
        flags |= flag::TIMEOUT;
    }
    for (signal, bit) in [
        (Signal::RateLimited, flag::RATE_LIMITED),
        (Signal::TooManyConnections, flag::TOO_MANY_CONNECTIONS),
        (Signal::ConnectionError, flag::CONNECTION_ERROR),
        (Signal::OutOfMemory, flag::OOM),
        (Signal::RuntimeExited, flag::FAILED),
    ] {
        if s.has(signal) {
            flags |= bit;
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(flags: u16, first: i64, chunk: Option<(i64, f64)>) -> Facts {
        Facts {
            flags,
            first_ms: Some(first),
            chunk_size: chunk,
            ..Facts::default()
        }
    }

    #[test]
    fn merging_facts_gives_the_same_whatever_the_order() {
        let parts = [
            facts(flag::ERROR_LINE, 30, Some((30, 5.0))),
            facts(flag::REPORTED | flag::STATUS, 50, None),
            facts(flag::TIMEOUT, 10, Some((10, 7.0))),
        ];
        let orders = [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0]];
        let merged: Vec<Facts> = orders
            .iter()
            .map(|order| {
                let mut all = Facts::default();
                for &i in order {
                    all.merge(&parts[i]);
                }
                all
            })
            .collect();
        for m in &merged {
            assert_eq!(m, &merged[0]);
        }
        assert_eq!(merged[0].first_ms, Some(10));
        assert_eq!(merged[0].chunk_size, Some((10, 7.0)), "the earliest chunk size wins");
    }

    fn rich() -> Facts {
        let mut f = facts(
            flag::REPORTED | flag::STATUS | flag::ERROR_LINE,
            1_000,
            Some((1_500, 12.0)),
        );
        f.report_ms = Some(9_000);
        f.duration_ms = Some(8_000.5);
        f.init_duration_ms = Some(250.25);
        f.memory_size_mb = Some(1_024.0);
        f.max_memory_used_mb = Some(700.0);
        f.timed_out_after = Some(30.0);
        f.error_type = Some("Runtime.ExitError".to_string());
        f.take_rule(2, None, 2_000);
        f.take_rule(5, Some(0.75), 3_000);
        f
    }

    #[test]
    fn facts_read_back_from_their_tokens_unchanged() {
        for f in [Facts::default(), facts(flag::TIMEOUT, 5, None), rich()] {
            assert_eq!(Facts::from_tokens(&f.to_tokens()), f);
        }
    }

    #[test]
    fn the_union_of_tokens_reads_back_as_the_merge_in_any_order() {
        let a = rich();
        let mut b = facts(flag::TIMEOUT | flag::OOM, 400, Some((400, 3.0)));
        b.take_rule(5, Some(0.5), 100);
        let mut expected = a.clone();
        expected.merge(&b);
        let mut union: Vec<String> = b.to_tokens().into_iter().chain(a.to_tokens()).collect();
        assert_eq!(Facts::from_tokens(&union), expected);
        union.reverse();
        union.extend(a.to_tokens());
        assert_eq!(Facts::from_tokens(&union), expected, "reordered and repeated");
        assert_eq!(expected.first_ms, Some(400));
        assert_eq!(
            expected.rules.iter().find(|h| h.rule == 5).unwrap().value,
            Some((100, 0.5))
        );
    }

    #[test]
    fn tokens_a_newer_version_might_write_are_skipped() {
        let facts = Facts::from_tokens(&["f1", "zfuture", "f99", "u70", "t", "r|x", "t12"]);
        assert_eq!(facts.flags, flag::TIMEOUT);
        assert_eq!(facts.first_ms, Some(12));
        assert!(facts.rules.is_empty() && facts.report_ms.is_none());
    }

    #[test]
    fn merging_facts_twice_changes_nothing() {
        let mut once = facts(flag::RATE_LIMITED, 5, Some((5, 1.0)));
        once.take_rule(3, Some(9.0), 5);
        let mut twice = once.clone();
        twice.merge(&once);
        assert_eq!(once, twice);
    }
}
