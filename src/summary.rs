//! The replay CLI's report: per function, the counts, Duration p50/p95/max next to the timeout,
//! and a few plain sentences about what stands out. Built from the same per-invocation records
//! that feed the EMF documents, so the table and the metrics cannot disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::metrics::{Metric, ProcessorMetric};
use crate::present::{Stats, duration_notes, seconds, source_word};
use crate::processor::{Outcome, Telemetry, Timeout, TimeoutSource};

/// What replaying a set of events showed about one function.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionSummary {
    /// The function.
    pub function: String,
    /// Each counter's total, by metric name.
    pub counts: BTreeMap<&'static str, u64>,
    /// Custom rules: invocations that matched, by metric name.
    pub rules: BTreeMap<String, u64>,
    /// Duration statistics, ms.
    pub duration_ms: Option<Stats>,
    /// The timeout the invocations were judged against (the latest known).
    pub timeout: Timeout,
    /// The last chunk size the function logged.
    pub chunk_size: Option<f64>,
    /// Plain sentences about what stands out.
    pub notes: Vec<String>,
    #[serde(skip)]
    durations: Vec<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    functions: BTreeMap<String, FunctionSummary>,
    telemetry: Telemetry,
    /// How many EMF documents the events produced.
    pub documents: usize,
    /// How many events (files, or events in them) were replayed.
    pub events: usize,
    /// How many notices the events called for.
    pub notices: usize,
}

impl Summary {
    /// The batches processed so far (duplicates and excluded groups not counted).
    pub fn batches(&self) -> u64 {
        self.telemetry.get(ProcessorMetric::BatchesProcessed)
    }

    /// Adds what one event produced.
    pub fn add(&mut self, outcome: &Outcome) {
        self.events += 1;
        self.documents += outcome.documents.len();
        self.telemetry.merge(&outcome.telemetry);
        for record in &outcome.invocations {
            let f = self
                .functions
                .entry(record.function.to_string())
                .or_insert_with(|| FunctionSummary {
                    function: record.function.to_string(),
                    counts: Metric::COUNTS.iter().map(|m| (m.name(), 0)).collect(),
                    rules: BTreeMap::new(),
                    duration_ms: None,
                    timeout: record.timeout,
                    chunk_size: None,
                    notes: Vec::new(),
                    durations: Vec::new(),
                });
            for metric in record.counted.metrics() {
                *f.counts.entry(metric.name()).or_default() += 1;
            }
            // A correction takes back what an earlier record of the same invocation counted.
            for metric in record.retracted.metrics() {
                let n = f.counts.entry(metric.name()).or_default();
                *n = n.saturating_sub(1);
            }
            for (rule, _) in &record.rules {
                *f.rules.entry(rule.to_string()).or_default() += 1;
            }
            f.durations.extend(record.duration_ms);
            f.timeout = record.timeout;
            f.chunk_size = record.chunk_size.or(f.chunk_size);
        }
    }

    /// Adds processor counters that did not come from an outcome (notice deliveries).
    pub fn add_telemetry(&mut self, telemetry: &Telemetry) {
        self.telemetry.merge(telemetry);
    }

    /// Finishes the statistics and notes; call once before rendering.
    pub fn finish(&mut self, near_timeout_ratio: impl Fn(&str) -> f64) {
        for f in self.functions.values_mut() {
            f.duration_ms = Stats::of(&mut f.durations);
            f.notes = notes(f, near_timeout_ratio(&f.function));
        }
    }

    /// The per-function summaries, worst first (most timeouts, OOMs and errors).
    pub fn functions(&self) -> Vec<&FunctionSummary> {
        let mut all: Vec<&FunctionSummary> = self.functions.values().collect();
        all.sort_by_key(|f| {
            let c = |m: Metric| f.counts.get(m.name()).copied().unwrap_or(0);
            std::cmp::Reverse((
                c(Metric::Timeouts) + c(Metric::OutOfMemory),
                c(Metric::Errors),
                c(Metric::Invocations),
            ))
        });
        all
    }

    /// The processor's own counters over the replay.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// The report as JSON, for scripts.
    pub fn to_json(&self) -> serde_json::Value {
        let processor: BTreeMap<&str, u64> = ProcessorMetric::ALL
            .iter()
            .map(|m| (m.name(), self.telemetry.get(*m)))
            .collect();
        serde_json::json!({
            "functions": self.functions(),
            "processor": processor,
            "events": self.events,
            "emf_documents": self.documents,
            "notices": self.notices,
        })
    }

    /// The report as a table a person can read at a glance.
    pub fn to_table(&self) -> String {
        const COLUMNS: [(Metric, &str); 10] = [
            (Metric::Invocations, "INVOC"),
            (Metric::Timeouts, "TIMEOUT"),
            (Metric::OutOfMemory, "OOM"),
            (Metric::Errors, "ERRORS"),
            (Metric::RateLimited, "RATELIM"),
            (Metric::TooManyConnections, "CONNCAP"),
            (Metric::ConnectionErrors, "CONNERR"),
            (Metric::ColdStarts, "COLD"),
            (Metric::NearTimeout, "NEAR"),
            (Metric::ShortRuns, "SHORT"),
        ];
        let functions = self.functions();
        let width = functions.iter().map(|f| f.function.len()).max().unwrap_or(8).max(8);
        let mut out = String::new();
        let _ = write!(out, "{:<width$}", "FUNCTION");
        for (_, head) in COLUMNS {
            let _ = write!(out, " {head:>7}");
        }
        let _ = writeln!(out, " {:>9} {:>9} {:>9} {:>12}", "p50", "p95", "max", "timeout");
        for f in &functions {
            let _ = write!(out, "{:<width$}", f.function);
            for (metric, _) in COLUMNS {
                let _ = write!(out, " {:>7}", f.counts.get(metric.name()).copied().unwrap_or(0));
            }
            match f.duration_ms {
                Some(s) => {
                    let _ = write!(
                        out,
                        " {:>9} {:>9} {:>9}",
                        seconds(s.p50),
                        seconds(s.p95),
                        seconds(s.max)
                    );
                }
                None => {
                    let _ = write!(out, " {:>9} {:>9} {:>9}", "-", "-", "-");
                }
            }
            let _ = writeln!(
                out,
                " {:>12}",
                format!(
                    "{} ({})",
                    seconds(f.timeout.seconds * 1000.0),
                    source_word(f.timeout.source)
                )
            );
        }
        let noted: Vec<&&FunctionSummary> = functions
            .iter()
            .filter(|f| !f.notes.is_empty() || !f.rules.is_empty())
            .collect();
        if !noted.is_empty() {
            let _ = writeln!(out, "\nWhat stands out:");
            for f in noted {
                for note in &f.notes {
                    let _ = writeln!(out, "  {}: {note}", f.function);
                }
                for (rule, n) in &f.rules {
                    let _ = writeln!(out, "  {}: custom rule {rule} matched {n} invocation(s)", f.function);
                }
            }
        }
        let t = &self.telemetry;
        let _ = writeln!(
            out,
            "\nProcessor: {} batches processed, {} events, {} control messages, {} undecodable, {} messages repaired (not UTF-8), {} excluded, {} duplicate deliveries, {} events outside the EMF window; {} EMF documents from {} events; {} notices ({} sent to SNS, {} failed).",
            t.get(ProcessorMetric::BatchesProcessed),
            t.get(ProcessorMetric::EventsProcessed),
            t.get(ProcessorMetric::ControlMessages),
            t.get(ProcessorMetric::DecodeFailures),
            t.get(ProcessorMetric::MessagesRepaired),
            t.get(ProcessorMetric::BatchesExcluded),
            t.get(ProcessorMetric::DuplicateBatches),
            t.get(ProcessorMetric::EventsTooOld) + t.get(ProcessorMetric::EventsTooNew),
            self.documents,
            self.events,
            self.notices,
            t.get(ProcessorMetric::NoticesSent),
            t.get(ProcessorMetric::NoticeFailures),
        );
        out
    }
}

fn notes(f: &FunctionSummary, near_ratio: f64) -> Vec<String> {
    let c = |m: Metric| f.counts.get(m.name()).copied().unwrap_or(0);
    let invocations = c(Metric::Invocations);
    let share = |n: u64| {
        if invocations > 0 {
            format!(" ({:.0}%)", n as f64 * 100.0 / invocations as f64)
        } else {
            String::new()
        }
    };
    let mut notes = Vec::new();
    let timeout_ms = f.timeout.seconds * 1000.0;
    if c(Metric::Timeouts) > 0 {
        notes.push(format!(
            "{} of {invocations} invocations timed out{}",
            c(Metric::Timeouts),
            share(c(Metric::Timeouts))
        ));
    }
    if c(Metric::OutOfMemory) > 0 {
        notes.push(format!("{} invocation(s) ran out of memory", c(Metric::OutOfMemory)));
    }
    if c(Metric::Errors) > 0 {
        notes.push(format!(
            "{} invocation(s) failed or logged errors{}",
            c(Metric::Errors),
            share(c(Metric::Errors))
        ));
    }
    if c(Metric::RateLimited) > 0 {
        notes.push(format!("{} invocation(s) were rate-limited", c(Metric::RateLimited)));
    }
    if c(Metric::TooManyConnections) > 0 {
        notes.push(format!(
            "{} invocation(s) hit the database connection cap",
            c(Metric::TooManyConnections)
        ));
    }
    notes.extend(duration_notes(
        f.duration_ms.map(|s| s.p95),
        c(Metric::NearTimeout),
        c(Metric::ShortRuns),
        timeout_ms,
        near_ratio,
    ));
    if f.timeout.source == TimeoutSource::Learned {
        notes.push(format!(
            "timeout {} learned from the function's own timeouts",
            seconds(timeout_ms)
        ));
    }
    notes
}
