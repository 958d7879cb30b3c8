//! What counts as what: one pure function from an invocation's merged facts to its classes.
//! This file is the README's metric table in code; its tests read like that table.
//!
//! - Invocations: it reported (REPORT or `platform.report`).
//! - Timeouts: a timeout status or a `Task timed out` line. A timed-out invocation is never also
//!   an error or a near-timeout, and never a short run.
//! - OutOfMemory: an out-of-memory error type or message, or memory used up on an invocation
//!   that failed or timed out.
//! - Errors: status error/failure, or an ERROR-level line, and no timeout.
//! - RateLimited, TooManyConnections, ConnectionErrors (the cap included): the messages.
//! - ColdStarts: a report with an init or restore duration, or an init in the invoke phase
//!   (`INIT_REPORT … Phase: invoke`) or a SnapStart restore (`RESTORE_REPORT`) before it.
//! - NearTimeout: reported, no timeout, duration ≥ `near_timeout_ratio` × the timeout.
//! - ShortRuns: chunked functions' successful runs (no timeout, error or OOM) shorter than
//!   `short_run_seconds`.
//!
//! Errors, NearTimeout and ShortRuns are the classes a later fact can take back (a late
//! `Task timed out` line); [`HELD_BACK`] names them, and the processor counts them only once
//! the invocation's outcome is final.

use crate::config::FunctionSettings;
use crate::metrics::Metric;

use super::facts::{Facts, flag};
use super::record::{Counted, Timeout};

/// The classes a later fact can still take back from an invocation whose outcome is not final.
pub const HELD_BACK: Counted = Counted(0)
    .with_const(Metric::Errors)
    .with_const(Metric::NearTimeout)
    .with_const(Metric::ShortRuns);

impl Counted {
    const fn with_const(self, metric: Metric) -> Counted {
        let mut i = 0;
        while i < Metric::COUNTS.len() {
            if Metric::COUNTS[i] as u8 == metric as u8 {
                return Counted(self.0 | 1 << i);
            }
            i += 1;
        }
        self
    }
}

/// The classes of an invocation with these facts, for a function with these settings and
/// timeout.
pub fn classify(facts: &Facts, settings: &FunctionSettings, timeout: Timeout) -> Counted {
    let f = facts.flags;
    let reported = f & flag::REPORTED != 0;
    let timed_out = f & flag::TIMEOUT != 0;
    let failed = f & flag::FAILED != 0;
    let memory_full =
        matches!((facts.max_memory_used_mb, facts.memory_size_mb), (Some(used), Some(size)) if used >= size);
    let oom = f & flag::OOM != 0 || (memory_full && (failed || timed_out));
    let errored = (failed || f & flag::ERROR_LINE != 0) && !timed_out;
    let duration_ms = facts.duration_ms.filter(|_| reported);
    let near = duration_ms.is_some_and(|ms| !timed_out && ms >= settings.near_timeout_ratio * timeout.seconds * 1000.0);
    let short = duration_ms.is_some_and(|ms| {
        settings.chunked && !timed_out && !errored && !oom && ms < settings.short_run_seconds * 1000.0
    });

    [
        (Metric::Invocations, reported),
        (Metric::Timeouts, timed_out),
        (Metric::OutOfMemory, oom),
        (Metric::Errors, errored),
        (Metric::RateLimited, f & flag::RATE_LIMITED != 0),
        (Metric::TooManyConnections, f & flag::TOO_MANY_CONNECTIONS != 0),
        (
            Metric::ConnectionErrors,
            f & (flag::CONNECTION_ERROR | flag::TOO_MANY_CONNECTIONS) != 0,
        ),
        (
            Metric::ColdStarts,
            reported && (f & flag::COLD_START != 0 || facts.init_duration_ms.is_some()),
        ),
        (Metric::NearTimeout, near),
        (Metric::ShortRuns, short),
    ]
    .into_iter()
    .filter(|&(_, on)| on)
    .fold(Counted::default(), |set, (metric, _)| set.with(metric))
}

/// Whether no later fact can take a class back: the report named its status, or the
/// invocation already timed out.
pub fn is_final(facts: &Facts) -> bool {
    let f = facts.flags;
    f & flag::REPORTED != 0 && f & (flag::STATUS | flag::TIMEOUT) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::processor::record::TimeoutSource;

    const TIMEOUT: Timeout = Timeout {
        seconds: 300.0,
        source: TimeoutSource::Config,
    };

    fn report(duration_s: f64, flags: u16) -> Facts {
        Facts {
            flags: flag::REPORTED | flags,
            report_ms: Some(0),
            first_ms: Some(0),
            duration_ms: Some(duration_s * 1000.0),
            memory_size_mb: Some(128.0),
            max_memory_used_mb: Some(60.0),
            ..Facts::default()
        }
    }

    fn unreported(flags: u16) -> Facts {
        Facts {
            flags,
            first_ms: Some(0),
            ..Facts::default()
        }
    }

    fn names(c: Counted) -> Vec<&'static str> {
        c.metrics().map(Metric::name).collect()
    }

    #[test]
    fn each_class_follows_the_metric_table() {
        let chunked = Config::from_toml_str("[[function]]\nmatch = \"*\"\nchunked = true\n")
            .unwrap()
            .settings_for("worker");
        let plain = Config::default().settings_for("worker");
        let memory_full = |mut f: Facts| {
            f.max_memory_used_mb = Some(128.0);
            f
        };
        let cold = |mut f: Facts| {
            f.init_duration_ms = Some(800.0);
            f
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, Facts, &FunctionSettings, &[&str])> = vec![
            ("a successful run counts as an invocation only", report(120.0, 0), &plain, &["Invocations"]),
            ("a run of 290 s of 300 s is near its timeout", report(290.0, 0), &plain, &["Invocations", "NearTimeout"]),
            ("a timed-out run is a timeout and not near its timeout", report(300.0, flag::TIMEOUT), &plain, &["Invocations", "Timeouts"]),
            ("a timed-out run that logged errors is a timeout only", report(300.0, flag::TIMEOUT | flag::ERROR_LINE | flag::FAILED), &plain, &["Invocations", "Timeouts"]),
            ("an ERROR line makes an error", report(5.0, flag::ERROR_LINE), &plain, &["Invocations", "Errors"]),
            ("status error makes an error", report(5.0, flag::FAILED | flag::STATUS), &plain, &["Invocations", "Errors"]),
            ("memory used up on a failed run is out of memory", memory_full(report(5.0, flag::FAILED)), &plain, &["Invocations", "OutOfMemory", "Errors"]),
            ("memory used up on a timed-out run is out of memory", memory_full(report(300.0, flag::TIMEOUT)), &plain, &["Invocations", "Timeouts", "OutOfMemory"]),
            ("memory used up on a successful run is not out of memory", memory_full(report(5.0, 0)), &plain, &["Invocations"]),
            ("an OOM message counts once with its error", report(5.0, flag::OOM | flag::FAILED), &plain, &["Invocations", "OutOfMemory", "Errors"]),
            ("a connection cap is also a connection error", report(5.0, flag::TOO_MANY_CONNECTIONS), &plain, &["Invocations", "TooManyConnections", "ConnectionErrors"]),
            ("a refused connection is a connection error only", report(5.0, flag::CONNECTION_ERROR), &plain, &["Invocations", "ConnectionErrors"]),
            ("a rate limit at any level counts", report(5.0, flag::RATE_LIMITED), &plain, &["Invocations", "RateLimited"]),
            ("an init duration makes a cold start", cold(report(5.0, 0)), &plain, &["Invocations", "ColdStarts"]),
            ("a restore or an init in the invoke phase makes a cold start", report(5.0, flag::COLD_START), &plain, &["Invocations", "ColdStarts"]),
            ("a cold start that never reported is not counted", unreported(flag::COLD_START), &plain, &[]),
            ("a short successful run of a chunked worker is a short run", report(14.0, 0), &chunked, &["Invocations", "ShortRuns"]),
            ("a short run that logged an error is not a short run", report(14.0, flag::ERROR_LINE), &chunked, &["Invocations", "Errors"]),
            ("a short run that timed out is not a short run", report(14.0, flag::TIMEOUT), &chunked, &["Invocations", "Timeouts"]),
            ("a short run of a function that is not chunked is no short run", report(14.0, 0), &plain, &["Invocations"]),
            ("lines of an invocation that never reported count without an invocation", unreported(flag::ERROR_LINE | flag::RATE_LIMITED), &plain, &["Errors", "RateLimited"]),
            ("a timeout line alone is a timeout", unreported(flag::TIMEOUT), &plain, &["Timeouts"]),
        ];
        for (name, facts, settings, expect) in cases {
            assert_eq!(names(classify(&facts, settings, TIMEOUT)), expect, "{name}");
        }
    }

    #[test]
    fn an_outcome_is_final_once_the_report_names_its_status_or_it_timed_out() {
        assert!(
            !is_final(&report(5.0, 0)),
            "an older-style REPORT can still be followed by a timeout line"
        );
        assert!(is_final(&report(5.0, flag::STATUS)));
        assert!(is_final(&report(5.0, flag::TIMEOUT)));
        assert!(
            !is_final(&unreported(flag::TIMEOUT)),
            "not reported: its minute is not known"
        );
    }

    #[test]
    fn only_errors_near_timeouts_and_short_runs_are_held_back() {
        assert_eq!(names(HELD_BACK), ["Errors", "NearTimeout", "ShortRuns"]);
    }
}
