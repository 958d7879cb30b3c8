//! From fetched series to the report: per function, the totals, Duration percentiles next to the
//! timeout, the worst minute for rate limits and connection caps, Lambda's throttles and peak
//! concurrency; functions sorted worst first; rendered as a table, JSON or Markdown.
//!
//! A series with no datapoints stays `None` all the way to the output ("-" or `null`), so a
//! function that did not report is never shown as a healthy row of zeros.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Serialize, Serializer};

use super::fetch::{Fetched, SeriesData, Status};
use super::query::{self, Kind, Plan, Span};
use super::{Window, rfc3339};
use crate::Config;
use crate::metrics::Metric;
use crate::present::{columns, duration_notes, escape_markdown, markdown_table, percent, seconds, source_word};
use crate::processor::{Timeout, TimeoutSource};

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal or an e-mail.
    Table,
    /// The whole report as JSON, for scripts.
    Json,
    /// GitHub-flavoured Markdown, for an incident review or a chat message.
    Markdown,
}

/// The highest value of a per-period series and the period it happened in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Peak {
    /// The value (a count, or the most concurrent executions).
    pub value: f64,
    /// When: the start of the period, absent when the value is 0 throughout.
    #[serde(serialize_with = "time_or_null")]
    pub at: Option<i64>,
}

/// Duration statistics over the window, ms; each absent when CloudWatch has no datapoint.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct DurationStats {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// Longest.
    pub max: Option<f64>,
}

/// A class of invocations the chart draws as bars, in the order they are stacked (bottom first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Timed out.
    Timeouts,
    /// Ran out of memory.
    OutOfMemory,
    /// Failed or logged an error (timeouts excluded).
    Errors,
    /// Init or restore phases that failed.
    InitFailures,
    /// Rejected by Lambda before running (AWS/Lambda `Throttles`).
    Throttles,
    /// Logged a rate-limit error.
    RateLimited,
    /// Hit a database connection cap.
    ConnectionCapped,
    /// Any other connection failure: `ConnectionErrors` less the cap, which it includes.
    OtherConnectionErrors,
    /// Finished close to the timeout.
    NearTimeout,
}

impl Class {
    /// Every class, bottom of the stack first; the same order as [`query::CHART_COUNTS`].
    pub const ALL: [Class; 9] = [
        Class::Timeouts,
        Class::OutOfMemory,
        Class::Errors,
        Class::InitFailures,
        Class::Throttles,
        Class::RateLimited,
        Class::ConnectionCapped,
        Class::OtherConnectionErrors,
        Class::NearTimeout,
    ];

    /// The name the chart marks its bars with: the metric's, except for the connection errors
    /// that are not the cap.
    pub const fn name(self) -> &'static str {
        match self {
            Class::Timeouts => "Timeouts",
            Class::OutOfMemory => "OutOfMemory",
            Class::Errors => "Errors",
            Class::InitFailures => "InitFailures",
            Class::Throttles => "Throttles",
            Class::RateLimited => "RateLimited",
            Class::ConnectionCapped => "TooManyConnections",
            Class::OtherConnectionErrors => "OtherConnectionErrors",
            Class::NearTimeout => "NearTimeout",
        }
    }

    /// What the legend calls it.
    pub const fn label(self) -> &'static str {
        match self {
            Class::Timeouts => "timeouts",
            Class::OutOfMemory => "out of memory",
            Class::Errors => "errors",
            Class::InitFailures => "init failures",
            Class::Throttles => "throttled by Lambda",
            Class::RateLimited => "rate-limited",
            Class::ConnectionCapped => "connection cap",
            Class::OtherConnectionErrors => "other connection errors",
            Class::NearTimeout => "near timeout",
        }
    }
}

/// The series the chart draws for one function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartData {
    /// Duration p95 per interval, ms.
    pub p95: Vec<(i64, f64)>,
    /// Longest duration per interval, ms.
    pub max: Vec<(i64, f64)>,
    /// Invocations per interval of each class, in [`Class::ALL`] order; an interval without a
    /// datapoint is absent, not 0.
    pub counts: [Vec<(i64, f64)>; 9],
}

impl ChartData {
    /// Invocations of a class per interval.
    pub fn count(&self, class: Class) -> &[(i64, f64)] {
        &self.counts[class as usize]
    }
}

/// The chart's counts from the fetched series: the connection errors that were the cap are
/// taken out of `ConnectionErrors` (which counts them too), interval by interval, so that no
/// invocation is stacked twice for the same failure.
fn chart_counts(get: impl Fn(Kind) -> Vec<(i64, f64)>) -> [Vec<(i64, f64)>; 9] {
    let mut counts = query::CHART_COUNTS.map(get);
    let capped: BTreeMap<i64, f64> = counts[Class::ConnectionCapped as usize].iter().copied().collect();
    for (t, v) in &mut counts[Class::OtherConnectionErrors as usize] {
        *v = (*v - capped.get(t).copied().unwrap_or(0.0)).max(0.0);
    }
    counts
}

/// What the window showed about one function.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionReport {
    /// The function.
    pub function: String,
    /// Whether any of its watchdog metrics has a datapoint in the window.
    pub has_data: bool,
    /// Each counter's total over the window, by metric name; `None` without datapoints.
    pub counts: BTreeMap<&'static str, Option<u64>>,
    /// Timeouts / invocations.
    pub timeout_rate: Option<f64>,
    /// Duration p50/p95/max over the window.
    pub duration_ms: DurationStats,
    /// The timeout durations are compared with: the config's, else its default.
    pub timeout: Timeout,
    /// Duration p95 / timeout.
    pub p95_of_timeout: Option<f64>,
    /// The most rate-limited invocations in one period.
    pub rate_limited_peak: Option<Peak>,
    /// The most connection-capped invocations in one period.
    pub connection_capped_peak: Option<Peak>,
    /// Lambda's throttles (AWS/Lambda `Throttles`) over the window.
    pub throttles: Option<u64>,
    /// Lambda's highest concurrent executions in one period (AWS/Lambda `ConcurrentExecutions`,
    /// which Lambda publishes per function only for some functions).
    pub concurrency_peak: Option<Peak>,
    /// Series CloudWatch did not return whole, with why.
    pub incomplete: Vec<String>,
    /// Plain sentences about what stands out.
    pub notes: Vec<String>,
    /// What the chart draws, when a chart was asked for.
    #[serde(skip)]
    pub chart: Option<ChartData>,
}

impl FunctionReport {
    /// A counter's total, `None` without datapoints.
    pub fn count(&self, metric: Metric) -> Option<u64> {
        self.counts.get(metric.name()).copied().flatten()
    }

    fn severity(&self) -> (bool, u64, u64, u64, u64, u64, u64, u64) {
        let c = |m: Metric| self.count(m).unwrap_or(0);
        let ratio = self.p95_of_timeout.unwrap_or(0.0);
        (
            self.has_data,
            c(Metric::Timeouts) + c(Metric::OutOfMemory),
            c(Metric::Errors),
            c(Metric::NearTimeout),
            c(Metric::RateLimited) + c(Metric::TooManyConnections),
            self.throttles.unwrap_or(0),
            // p95 as a share of the timeout, in tenths of a percent, to order by it.
            (ratio * 1000.0) as u64,
            c(Metric::Invocations),
        )
    }
}

/// The worst period across the selected functions for one counter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetPeak {
    /// Invocations in that period, all functions together.
    pub count: u64,
    /// When, absent when the count is 0 throughout.
    #[serde(serialize_with = "time_or_null")]
    pub at: Option<i64>,
    /// The functions that had some in that period, most first.
    pub functions: Vec<String>,
}

/// The selected functions together.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    /// Functions in the report.
    pub functions: usize,
    /// Functions with datapoints in the window.
    pub with_data: usize,
    /// Each counter summed over the functions that have it.
    pub counts: BTreeMap<&'static str, u64>,
    /// The period with the most rate-limited invocations: how many, and in how many functions.
    pub rate_limited_peak: Option<FleetPeak>,
    /// The period with the most connection-capped invocations.
    pub connection_capped_peak: Option<FleetPeak>,
}

/// The report's time range, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct WindowInfo {
    /// RFC 3339 start (inclusive).
    pub start: String,
    /// RFC 3339 end (exclusive).
    pub end: String,
    /// Length, seconds.
    pub seconds: i64,
    /// The period of peaks, seconds (60 for the last 15 days).
    pub peak_period_seconds: i64,
    /// The chart's period, seconds.
    pub chart_period_seconds: Option<i64>,
}

/// The whole report, worst function first.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The watchdog's namespace.
    pub namespace: String,
    /// The Region whose metrics were read, when the caller knows it.
    pub region: Option<String>,
    /// The time range.
    pub window: WindowInfo,
    /// Per function, worst first; functions without data last.
    pub functions: Vec<FunctionReport>,
    /// The functions together.
    pub fleet: Fleet,
    /// What CloudWatch said about missing data.
    pub warnings: Vec<String>,
    #[serde(skip)]
    range: Window,
}

fn time_or_null<S: Serializer>(at: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

fn sum(series: &SeriesData) -> Option<f64> {
    (!series.points.is_empty()).then(|| series.points.iter().map(|(_, v)| v).sum())
}

fn max(series: &SeriesData) -> Option<f64> {
    series.points.iter().map(|(_, v)| *v).reduce(f64::max)
}

/// The highest point, the earliest of equals; no time when everything is 0.
fn peak(series: &SeriesData) -> Option<Peak> {
    let mut best: Option<(i64, f64)> = None;
    for &(t, v) in &series.points {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((t, v));
        }
    }
    best.map(|(t, v)| Peak {
        value: v,
        at: (v > 0.0).then_some(t),
    })
}

fn count(v: Option<f64>) -> Option<u64> {
    v.map(|v| v.max(0.0).round() as u64)
}

/// The timeout a function's durations are judged against, from the config.
pub fn timeout_for(config: &Config, function: &str) -> Timeout {
    match config.settings_for(function).timeout_seconds {
        Some(seconds) => Timeout {
            seconds,
            source: TimeoutSource::Config,
        },
        None => Timeout {
            seconds: config.defaults.timeout_seconds,
            source: TimeoutSource::Default,
        },
    }
}

/// Builds the report from what was fetched for a plan; the config gives each function's timeout
/// and near-timeout ratio.
pub fn build(plan: &Plan, fetched: &Fetched, config: &Config) -> Report {
    let empty = SeriesData::default();
    let mut functions: Vec<FunctionReport> = plan
        .functions
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let get = |kind: Kind| {
                plan.find(i, kind)
                    .and_then(|index| fetched.series.get(index))
                    .unwrap_or(&empty)
            };
            let counts: BTreeMap<&'static str, Option<u64>> = Metric::COUNTS
                .iter()
                .map(|m| (m.name(), count(sum(get(Kind::total(*m))))))
                .collect();
            let has_data = plan
                .series
                .iter()
                .enumerate()
                .filter(|(_, s)| s.function == i && s.kind.source == query::Source::Watchdog)
                .any(|(index, _)| fetched.series.get(index).is_some_and(|s| !s.points.is_empty()));
            // One period spans the window, so there is one datapoint; should CloudWatch split
            // it anyway, the larger value is kept (percentiles cannot be merged).
            let duration_ms = DurationStats {
                p50: max(get(query::DURATION_P50)),
                p95: max(get(query::DURATION_P95)),
                max: max(get(query::DURATION_MAX)),
            };
            let timeout = timeout_for(config, name);
            let invocations = counts[Metric::Invocations.name()];
            let timeouts = counts[Metric::Timeouts.name()];
            let incomplete = plan
                .series
                .iter()
                .enumerate()
                .filter(|(_, s)| s.function == i)
                .filter_map(|(index, _)| match &fetched.series.get(index)?.status {
                    Status::Complete => None,
                    Status::Incomplete(why) => Some(format!("{}: {why}", plan.label(index))),
                })
                .collect();
            let chart = plan.chart_period.map(|_| ChartData {
                p95: get(query::CHART_P95).points.clone(),
                max: get(query::CHART_MAX).points.clone(),
                counts: chart_counts(|kind| get(kind).points.clone()),
            });
            let mut f = FunctionReport {
                function: name.clone(),
                has_data,
                timeout_rate: match (timeouts, invocations) {
                    (Some(t), Some(n)) if n > 0 => Some(t as f64 / n as f64),
                    _ => None,
                },
                counts,
                p95_of_timeout: duration_ms.p95.map(|p| p / (timeout.seconds * 1000.0)),
                duration_ms,
                timeout,
                rate_limited_peak: peak(get(query::RATE_LIMITED_PEAK)),
                connection_capped_peak: peak(get(query::CONNECTION_CAPPED_PEAK)),
                throttles: count(sum(get(query::LAMBDA_THROTTLES))),
                concurrency_peak: peak(get(query::LAMBDA_CONCURRENCY_PEAK)),
                incomplete,
                notes: Vec::new(),
                chart,
            };
            f.notes = notes(&f, config.settings_for(name).near_timeout_ratio, plan.window.resolution);
            f
        })
        .collect();
    functions.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then_with(|| a.function.cmp(&b.function))
    });

    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    for f in &functions {
        for (name, n) in &f.counts {
            *totals.entry(name).or_default() += n.unwrap_or(0);
        }
    }
    let fleet = Fleet {
        functions: functions.len(),
        with_data: functions.iter().filter(|f| f.has_data).count(),
        counts: totals,
        rate_limited_peak: fleet_peak(plan, fetched, query::RATE_LIMITED_PEAK),
        connection_capped_peak: fleet_peak(plan, fetched, query::CONNECTION_CAPPED_PEAK),
    };
    Report {
        namespace: plan.namespace.clone(),
        region: None,
        window: WindowInfo {
            start: rfc3339(plan.window.start),
            end: rfc3339(plan.window.end),
            seconds: plan.window.seconds(),
            peak_period_seconds: plan.period(Span::Peak),
            chart_period_seconds: plan.chart_period,
        },
        functions,
        fleet,
        warnings: fetched.warnings.clone(),
        range: plan.window,
    }
}

/// What the selected functions had in one period.
#[derive(Default)]
struct Slot<'a> {
    total: f64,
    functions: Vec<(f64, &'a str)>,
}

/// The period in which the selected functions together had the most of a counter: "how many
/// lambdas were getting API Rate Limit Exceeded at any given moment".
fn fleet_peak(plan: &Plan, fetched: &Fetched, kind: Kind) -> Option<FleetPeak> {
    let mut by_time: BTreeMap<i64, Slot<'_>> = BTreeMap::new();
    let mut any = false;
    for (i, name) in plan.functions.iter().enumerate() {
        let Some(series) = plan.find(i, kind).and_then(|index| fetched.series.get(index)) else {
            continue;
        };
        any |= !series.points.is_empty();
        for &(t, v) in series.points.iter().filter(|(_, v)| *v > 0.0) {
            let slot = by_time.entry(t).or_default();
            slot.total += v;
            slot.functions.push((v, name));
        }
    }
    if !any {
        return None;
    }
    // The earliest of equal peaks: in time order, replaced only on a strict increase.
    let mut best: Option<(i64, &Slot<'_>)> = None;
    for (t, slot) in &by_time {
        if best.is_none_or(|(_, b)| slot.total > b.total) {
            best = Some((*t, slot));
        }
    }
    Some(match best {
        None => FleetPeak {
            count: 0,
            at: None,
            functions: Vec::new(),
        },
        Some((t, slot)) => {
            let mut names = slot.functions.clone();
            names.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            FleetPeak {
                count: slot.total.round() as u64,
                at: Some(t),
                functions: names.into_iter().map(|(_, n)| n.to_string()).collect(),
            }
        }
    })
}

fn notes(f: &FunctionReport, near_ratio: f64, period: i64) -> Vec<String> {
    let mut notes = Vec::new();
    if !f.has_data {
        notes.push("no datapoints in this window: it did not run, or its logs do not reach the watchdog".to_string());
    }
    let c = |m: Metric| f.count(m).unwrap_or(0);
    let invocations = c(Metric::Invocations);
    let timeout_ms = f.timeout.seconds * 1000.0;
    if c(Metric::Timeouts) > 0 {
        notes.push(format!(
            "{} of {invocations} invocations timed out ({})",
            c(Metric::Timeouts),
            percent(f.timeout_rate)
        ));
    }
    if c(Metric::OutOfMemory) > 0 {
        notes.push(format!("{} invocation(s) ran out of memory", c(Metric::OutOfMemory)));
    }
    if c(Metric::Errors) > 0 {
        notes.push(format!("{} invocation(s) failed or logged errors", c(Metric::Errors)));
    }
    if let Some(longest) = f.duration_ms.max
        && longest > timeout_ms * 1.05
    {
        notes.push(format!(
            "the longest run ({}) is longer than the {} timeout taken from the {}: set timeout_seconds for it in the config",
            seconds(longest),
            seconds(timeout_ms),
            source_word(f.timeout.source)
        ));
    }
    notes.extend(duration_notes(
        f.duration_ms.p95,
        c(Metric::NearTimeout),
        c(Metric::ShortRuns),
        timeout_ms,
        near_ratio,
    ));
    let per = per_period(period);
    if let Some(Peak { value, at: Some(at) }) = f.rate_limited_peak {
        notes.push(format!(
            "up to {value:.0} rate-limited invocation(s) {per} (at {})",
            short_time(at)
        ));
    }
    if let Some(Peak { value, at: Some(at) }) = f.connection_capped_peak {
        notes.push(format!(
            "up to {value:.0} invocation(s) {per} hit the database connection cap (at {})",
            short_time(at)
        ));
    }
    if let Some(n) = f.throttles.filter(|n| *n > 0) {
        notes.push(format!(
            "Lambda throttled {n} invocation(s): the concurrency limit was reached"
        ));
    }
    if !f.incomplete.is_empty() {
        notes.push(format!(
            "{} series came back incomplete from CloudWatch; its numbers may be low",
            f.incomplete.len()
        ));
    }
    notes
}

pub use crate::present::short_time;

/// A span of seconds as people say it: `90m`, `24h`, `7d`.
pub fn human_span(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 && s >= 2 * 86_400 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn per_period(period: i64) -> String {
    match period {
        60 => "in one minute".to_string(),
        3600 => "in one hour".to_string(),
        p => format!("in {} minutes", p / 60),
    }
}

fn column_period(period: i64) -> String {
    match period {
        60 => "MIN".to_string(),
        3600 => "HOUR".to_string(),
        p => format!("{}MIN", p / 60),
    }
}

fn cell<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn ms_cell(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), seconds)
}

fn peak_cells(p: Option<Peak>) -> (String, String) {
    match p {
        None => ("-".into(), "-".into()),
        Some(p) => (format!("{:.0}", p.value), p.at.map_or_else(|| "-".into(), short_time)),
    }
}

impl Report {
    /// The window this report covers.
    pub fn range(&self) -> Window {
        self.range
    }

    /// The report with the Region its metrics were read from, named in its heading, subject and
    /// JSON.
    pub fn in_region(mut self, region: Option<String>) -> Report {
        self.region = region;
        self
    }

    /// A one-line subject: how many timed out, where, over what.
    pub fn subject(&self) -> String {
        let span = match &self.region {
            Some(region) => format!("{}, {region}", human_span(self.window.seconds)),
            None => human_span(self.window.seconds),
        };
        let timeouts = self.fleet.counts.get(Metric::Timeouts.name()).copied().unwrap_or(0);
        let with = self
            .functions
            .iter()
            .filter(|f| f.count(Metric::Timeouts).unwrap_or(0) > 0)
            .count();
        let n = self.functions.len();
        if timeouts == 0 {
            format!("lambda-watchdog report ({span}): no timeouts in {n} functions")
        } else {
            format!("lambda-watchdog report ({span}): {timeouts} timeouts in {with} of {n} functions")
        }
    }

    /// The report in a format.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.to_table(),
            Format::Markdown => self.to_markdown(),
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
        }
    }

    fn heading(&self) -> String {
        format!(
            "{} to {} UTC ({}), {}namespace {}, {} function(s), {} with data",
            short_time(self.range.start),
            short_time(self.range.end),
            human_span(self.window.seconds),
            self.region.as_ref().map_or_else(String::new, |r| format!("{r}, ")),
            self.namespace,
            self.fleet.functions,
            self.fleet.with_data
        )
    }

    fn main_rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let head = vec![
            "FUNCTION",
            "INVOC",
            "TIMEOUT",
            "RATE",
            "OOM",
            "ERRORS",
            "NEAR",
            "SHORT",
            "p50",
            "p95",
            "max",
            "TIMEOUT AT",
        ];
        let rows = self
            .functions
            .iter()
            .map(|f| {
                let mut row = vec![f.function.clone()];
                if !f.has_data {
                    row.extend(
                        ["no data".to_string()]
                            .into_iter()
                            .chain(std::iter::repeat_n("-".into(), 9)),
                    );
                } else {
                    row.push(cell(f.count(Metric::Invocations)));
                    row.push(cell(f.count(Metric::Timeouts)));
                    row.push(percent(f.timeout_rate));
                    for m in [
                        Metric::OutOfMemory,
                        Metric::Errors,
                        Metric::NearTimeout,
                        Metric::ShortRuns,
                    ] {
                        row.push(cell(f.count(m)));
                    }
                    let d = f.duration_ms;
                    row.extend([ms_cell(d.p50), ms_cell(d.p95), ms_cell(d.max)]);
                }
                row.push(format!(
                    "{} ({})",
                    seconds(f.timeout.seconds * 1000.0),
                    source_word(f.timeout.source)
                ));
                row
            })
            .collect();
        (head, rows)
    }

    fn peak_rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let per = column_period(self.window.peak_period_seconds);
        let head = vec![
            "FUNCTION".to_string(),
            format!("RATELIM/{per}"),
            "AT".into(),
            format!("CONNCAP/{per}"),
            "AT".into(),
            "THROTTLES".into(),
            format!("CONCURRENCY/{per}"),
            "AT".into(),
        ];
        let rows = self
            .functions
            .iter()
            .filter(|f| f.has_data || f.throttles.is_some() || f.concurrency_peak.is_some())
            .map(|f| {
                let (rl, rl_at) = peak_cells(f.rate_limited_peak);
                let (cc, cc_at) = peak_cells(f.connection_capped_peak);
                let (conc, conc_at) = peak_cells(f.concurrency_peak);
                vec![
                    f.function.clone(),
                    rl,
                    rl_at,
                    cc,
                    cc_at,
                    cell(f.throttles),
                    conc,
                    conc_at,
                ]
            })
            .collect();
        (head, rows)
    }

    fn fleet_lines(&self) -> Vec<String> {
        let per = per_period(self.window.peak_period_seconds);
        let c = |m: Metric| self.fleet.counts.get(m.name()).copied().unwrap_or(0);
        let mut lines = vec![format!(
            "All {} function(s): {} invocations, {} timeouts, {} out of memory, {} with errors.",
            self.fleet.functions,
            c(Metric::Invocations),
            c(Metric::Timeouts),
            c(Metric::OutOfMemory),
            c(Metric::Errors)
        )];
        for (what, peak) in [
            ("rate-limited", &self.fleet.rate_limited_peak),
            ("connection-capped", &self.fleet.connection_capped_peak),
        ] {
            match peak {
                Some(FleetPeak {
                    count,
                    at: Some(at),
                    functions,
                }) => lines.push(format!(
                    "Most {what} invocations {per}: {count} at {}, in {} function(s): {}.",
                    short_time(*at),
                    functions.len(),
                    functions.join(", ")
                )),
                Some(_) => lines.push(format!("No {what} invocations.")),
                None => {}
            }
        }
        lines
    }

    fn to_table(&self) -> String {
        let mut out = format!("lambda-watchdog report: {}\n\n", self.heading());
        let (head, rows) = self.main_rows();
        out += &columns(&head, &rows);
        let (head, rows) = self.peak_rows();
        if !rows.is_empty() {
            let head: Vec<&str> = head.iter().map(String::as_str).collect();
            out += "\n";
            out += &columns(&head, &rows);
        }
        out += "\n";
        for line in self.fleet_lines() {
            let _ = writeln!(out, "{line}");
        }
        let noted: Vec<&FunctionReport> = self.functions.iter().filter(|f| !f.notes.is_empty()).collect();
        if !noted.is_empty() {
            out += "\nWhat stands out:\n";
            for f in noted {
                for note in &f.notes {
                    let _ = writeln!(out, "  {}: {note}", f.function);
                }
            }
        }
        if !self.warnings.is_empty() {
            out += "\nWarnings:\n";
            for w in &self.warnings {
                let _ = writeln!(out, "  {w}");
            }
        }
        out
    }

    fn to_markdown(&self) -> String {
        let mut out = format!("## lambda-watchdog report\n\n{}\n\n", self.heading());
        let (head, rows) = self.main_rows();
        out += &markdown_table(&head, &rows);
        let (head, rows) = self.peak_rows();
        if !rows.is_empty() {
            let head: Vec<&str> = head.iter().map(String::as_str).collect();
            out += "\n";
            out += &markdown_table(&head, &rows);
        }
        out += "\n";
        for line in self.fleet_lines() {
            let _ = writeln!(out, "- {}", escape_markdown(&line));
        }
        let noted: Vec<&FunctionReport> = self.functions.iter().filter(|f| !f.notes.is_empty()).collect();
        if !noted.is_empty() {
            out += "\n### What stands out\n\n";
            for f in noted {
                for note in &f.notes {
                    let _ = writeln!(out, "- **{}**: {}", escape_markdown(&f.function), escape_markdown(note));
                }
            }
        }
        if !self.warnings.is_empty() {
            out += "\n### Warnings\n\n";
            for w in &self.warnings {
                let _ = writeln!(out, "- {}", escape_markdown(w));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fetch::Status;
    use crate::report::fixtures;

    const START: i64 = 1_795_946_400; // 2026-11-29T10:00:00Z

    fn recorded() -> Report {
        let plan = fixtures::plan(false);
        build(&plan, &fixtures::fetched(&plan), &fixtures::config())
    }

    fn function<'a>(report: &'a Report, name: &str) -> &'a FunctionReport {
        report.functions.iter().find(|f| f.function == name).unwrap()
    }

    #[test]
    fn each_chart_class_reads_its_own_metric() {
        let read: Vec<&str> = Class::ALL
            .iter()
            .map(|c| query::CHART_COUNTS[*c as usize].metric)
            .collect();
        assert_eq!(
            read,
            [
                "Timeouts",
                "OutOfMemory",
                "Errors",
                "InitFailures",
                "Throttles",
                "RateLimited",
                "TooManyConnections",
                "ConnectionErrors",
                "NearTimeout"
            ]
        );
        let names: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(&names[..7], &read[..7], "bars are named after their metric");
        assert_eq!(
            names[7], "OtherConnectionErrors",
            "the cap is taken out of ConnectionErrors"
        );
    }

    #[test]
    fn connection_errors_that_were_the_cap_are_not_stacked_twice() {
        let plan = fixtures::plan(true);
        let report = build(&plan, &fixtures::fetched(&plan), &fixtures::config());
        let chart = function(&report, "uploader").chart.as_ref().unwrap();
        let at = |class: Class, minute: i64| {
            chart
                .count(class)
                .iter()
                .find(|(t, _)| *t == START + minute * 60)
                .map(|(_, v)| *v)
        };
        // 11:14: 9 connection errors, all the cap; 10:30: 2, none of them the cap.
        assert_eq!(
            (at(Class::ConnectionCapped, 74), at(Class::OtherConnectionErrors, 74)),
            (Some(9.0), Some(0.0))
        );
        assert_eq!(
            (at(Class::ConnectionCapped, 30), at(Class::OtherConnectionErrors, 30)),
            (Some(0.0), Some(2.0))
        );
        assert_eq!(
            at(Class::OtherConnectionErrors, 95),
            None,
            "no datapoint while it did not run"
        );
    }

    #[test]
    fn functions_are_sorted_worst_first_and_those_without_data_last() {
        let report = recorded();
        let order: Vec<&str> = report.functions.iter().map(|f| f.function.as_str()).collect();
        // 6 timeouts; 2 out of memory; 40 errors; nothing at all.
        assert_eq!(order, ["scraper-worker", "uploader", "orch-user", "quiet-fn"]);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn totals_timeout_rate_and_percentiles_come_from_the_window_series() {
        let report = recorded();
        let f = function(&report, "scraper-worker");
        assert_eq!(f.count(Metric::Invocations), Some(240));
        assert_eq!(f.count(Metric::Timeouts), Some(6));
        assert_eq!(f.count(Metric::NearTimeout), Some(20));
        assert_eq!(f.timeout_rate, Some(0.025));
        assert_eq!(
            f.duration_ms,
            DurationStats {
                p50: Some(182_000.0),
                p95: Some(287_000.0),
                max: Some(300_112.5)
            }
        );
        assert_eq!(f.timeout.seconds, 300.0);
        assert_eq!(f.timeout.source, TimeoutSource::Config);
        assert!((f.p95_of_timeout.unwrap() - 0.9567).abs() < 0.001);
        let orch = function(&report, "orch-user");
        assert_eq!(
            orch.timeout.source,
            TimeoutSource::Default,
            "no [[function]] entry matches it"
        );
        assert_eq!(function(&report, "uploader").timeout.seconds, 10.0);
    }

    #[test]
    fn peaks_give_the_worst_minute_and_when_it_was() {
        let report = recorded();
        let scraper = function(&report, "scraper-worker");
        assert_eq!(
            scraper.rate_limited_peak,
            Some(Peak {
                value: 14.0,
                at: Some(START + 41 * 60)
            }),
            "the per-minute series joined across both pages"
        );
        assert_eq!(
            scraper.connection_capped_peak,
            Some(Peak { value: 0.0, at: None }),
            "zero throughout has no minute"
        );
        assert_eq!(scraper.concurrency_peak, None, "AWS/Lambda has no datapoints for it");
        assert_eq!(scraper.throttles, None);
        let uploader = function(&report, "uploader");
        assert_eq!(
            uploader.connection_capped_peak,
            Some(Peak {
                value: 9.0,
                at: Some(START + 74 * 60)
            })
        );
        assert_eq!(uploader.throttles, Some(12));
        let conc = uploader.concurrency_peak.unwrap();
        assert!(conc.value >= 47.0 && conc.at.is_some(), "{conc:?}");
    }

    #[test]
    fn the_fleet_peak_says_how_many_functions_were_rate_limited_in_the_same_minute() {
        let report = recorded();
        assert_eq!(
            report.fleet.rate_limited_peak,
            Some(FleetPeak {
                count: 17,
                at: Some(START + 41 * 60),
                functions: vec!["scraper-worker".into(), "orch-user".into()],
            })
        );
        assert_eq!(
            report.fleet.connection_capped_peak.as_ref().unwrap().functions,
            ["uploader"]
        );
        assert_eq!(report.fleet.counts["Invocations"], 240 + 1800 + 600);
        assert_eq!((report.fleet.functions, report.fleet.with_data), (4, 3));
    }

    #[test]
    fn a_function_without_datapoints_is_shown_as_such_not_as_zeros() {
        let report = recorded();
        let quiet = function(&report, "quiet-fn");
        assert!(!quiet.has_data);
        assert!(quiet.counts.values().all(Option::is_none));
        assert_eq!(quiet.timeout_rate, None);
        assert!(quiet.notes[0].starts_with("no datapoints in this window"));
        let table = report.render(Format::Table);
        let row = table.lines().find(|l| l.starts_with("quiet-fn")).unwrap();
        assert!(row.contains("no data"), "{row}");
        assert!(!row.contains(" 0 "), "{row}");
        let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
        let quiet = &json["functions"][3];
        assert_eq!(quiet["function"], "quiet-fn");
        assert!(quiet["counts"]["Invocations"].is_null());
        assert!(quiet["duration_ms"]["p95"].is_null());
    }

    #[test]
    fn the_table_shows_counts_rates_durations_and_peaks_per_function() {
        let table = recorded().render(Format::Table);
        assert!(table.starts_with("lambda-watchdog report: 2026-11-29 10:00 to 2026-11-29 12:00 UTC (2h)"));
        let row = table.lines().find(|l| l.starts_with("scraper-worker")).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "scraper-worker",
                "240",
                "6",
                "2.50%",
                "0",
                "3",
                "20",
                "0",
                "182s",
                "287s",
                "300s",
                "300s",
                "(config)"
            ]
        );
        assert!(table.contains("RATELIM/MIN"), "{table}");
        let peaks = table
            .lines()
            .filter(|l| l.starts_with("scraper-worker"))
            .nth(1)
            .unwrap();
        assert_eq!(
            peaks.split_whitespace().collect::<Vec<_>>(),
            ["scraper-worker", "14", "2026-11-29", "10:41", "0", "-", "-", "-", "-"]
        );
        assert!(table.contains("Most rate-limited invocations in one minute: 17 at 2026-11-29 10:41, in 2 function(s): scraper-worker, orch-user."));
        assert!(table.contains("scraper-worker: 6 of 240 invocations timed out (2.50%)"));
        assert!(table.contains("scraper-worker: p95 duration 287s is 96% of the 300s timeout"));
        assert!(table.contains("uploader: Lambda throttled 12 invocation(s)"));
        assert!(table.contains(
            "uploader: up to 9 invocation(s) in one minute hit the database connection cap (at 2026-11-29 11:14)"
        ));
    }

    #[test]
    fn markdown_has_tables_and_escapes_what_markdown_would_eat() {
        let md = recorded().render(Format::Markdown);
        assert!(md.starts_with("## lambda-watchdog report\n"));
        assert!(md.contains("| FUNCTION | INVOC | TIMEOUT | RATE |"), "{md}");
        assert!(md.contains("| --- | ---: |"));
        assert!(md.contains("| scraper-worker | 240 | 6 | 2.50% |"), "{md}");
        assert!(md.contains("- **scraper-worker**: 6 of 240 invocations timed out"));
        assert_eq!(escape_markdown("a_b|c*"), "a\\_b\\|c\\*");
    }

    #[test]
    fn json_carries_every_number_and_times_in_rfc3339() {
        let json: serde_json::Value = serde_json::from_str(&recorded().render(Format::Json)).unwrap();
        assert_eq!(json["window"]["start"], "2026-11-29T10:00:00Z");
        assert_eq!(json["window"]["peak_period_seconds"], 60);
        let worst = &json["functions"][0];
        assert_eq!(worst["function"], "scraper-worker");
        assert_eq!(worst["counts"]["Timeouts"], 6);
        assert_eq!(worst["timeout"]["source"], "config");
        assert_eq!(worst["rate_limited_peak"]["at"], "2026-11-29T10:41:00Z");
        assert!(worst["connection_capped_peak"]["at"].is_null());
        assert_eq!(json["fleet"]["rate_limited_peak"]["count"], 17);
    }

    #[test]
    fn the_subject_counts_timeouts_and_functions() {
        assert_eq!(
            recorded().subject(),
            "lambda-watchdog report (2h): 6 timeouts in 1 of 4 functions"
        );
    }

    #[test]
    fn a_run_longer_than_the_default_timeout_asks_for_the_real_one() {
        let plan = fixtures::plan(false);
        let config = Config::from_toml_str("[defaults]\ntimeout_seconds = 3").unwrap();
        let report = build(&plan, &fixtures::fetched(&plan), &config);
        let notes = function(&report, "orch-user").notes.join("\n");
        assert!(
            notes.contains("the longest run (5.00s) is longer than the 3.00s timeout taken from the default"),
            "{notes}"
        );
    }

    #[test]
    fn incomplete_series_are_named_and_flagged() {
        let plan = fixtures::plan(false);
        let mut fetched = fixtures::fetched(&plan);
        let i = plan.find(3, Kind::total(Metric::Timeouts)).unwrap();
        assert_eq!(plan.functions[3], "uploader");
        fetched.series[i].status = Status::Incomplete("InternalError".into());
        let report = build(&plan, &fetched, &fixtures::config());
        let uploader = function(&report, "uploader");
        assert_eq!(uploader.incomplete, ["uploader Timeouts Sum window: InternalError"]);
        assert!(uploader.notes.iter().any(|n| n.contains("incomplete")));
    }

    #[test]
    fn spans_and_times_read_as_people_write_them() {
        assert_eq!(human_span(5400), "90m");
        assert_eq!(human_span(86_400), "24h");
        assert_eq!(human_span(7 * 86_400), "7d");
        assert_eq!(human_span(36 * 3600), "36h");
        assert_eq!(short_time(START + 41 * 60), "2026-11-29 10:41");
        assert_eq!(percent(Some(0.00001)), "<0.01%");
        assert_eq!(column_period(300), "5MIN");
        assert_eq!(per_period(3600), "in one hour");
    }

    #[test]
    fn the_region_read_is_named_in_every_format_and_left_out_when_unknown() {
        let report = recorded().in_region(Some("eu-west-1".into()));
        for format in [Format::Table, Format::Markdown] {
            let text = report.render(format);
            let heading = text.lines().find(|l| l.contains("namespace")).unwrap();
            assert!(heading.contains("UTC (2h), eu-west-1, namespace"), "{heading}");
        }
        let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
        assert_eq!(json["region"], "eu-west-1");
        assert!(
            report.subject().starts_with("lambda-watchdog report (2h, eu-west-1): "),
            "{}",
            report.subject()
        );
        let unknown = recorded();
        assert!(!unknown.render(Format::Table).contains(", , namespace"));
        assert!(
            unknown.subject().starts_with("lambda-watchdog report (2h): "),
            "{}",
            unknown.subject()
        );
        let json: serde_json::Value = serde_json::from_str(&unknown.render(Format::Json)).unwrap();
        assert!(json["region"].is_null());
    }
}
