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

    #[test]
    fn merging_facts_twice_changes_nothing() {
        let mut once = facts(flag::RATE_LIMITED, 5, Some((5, 1.0)));
        once.take_rule(3, Some(9.0), 5);
        let mut twice = once.clone();
        twice.merge(&once);
        assert_eq!(once, twice);
    }
}
