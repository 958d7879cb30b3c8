//! Which series a report asks `GetMetricData` for, and how they are split into requests.
//!
//! Every series is one `MetricDataQuery` on one function: totals over the whole window (one
//! period as long as the window, so p50/p95 are true percentiles of the window), per-minute
//! series for peaks, and, for the chart, series at a period that gives a few hundred points.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>

use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat};

use super::Window;
use crate::metrics::Metric;

/// Most queries one `GetMetricData` request may hold.
pub const MAX_QUERIES_PER_REQUEST: usize = 500;
/// Most datapoints one `GetMetricData` answer holds before it paginates; requests are planned
/// to stay under it so that most answer in one page.
pub const MAX_DATAPOINTS_PER_REQUEST: u64 = 100_800;
/// The chart aims at no more than this many points per series.
pub const CHART_POINTS: i64 = 300;
/// Lambda's own metrics: throttles and concurrent executions.
pub const LAMBDA_NAMESPACE: &str = "AWS/Lambda";

/// Periods the chart may use, seconds; the first that keeps the series under [`CHART_POINTS`]
/// and is a multiple of the window's resolution is taken.
const CHART_PERIODS: [i64; 12] = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];

/// Whose metric a series reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// lambda-watchdog's own namespace (`namespace` in the config).
    Watchdog,
    /// `AWS/Lambda`, which has throttles and concurrency only Lambda can see.
    Lambda,
}

/// The statistic of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    /// Sum of the values (counts).
    Sum,
    /// Largest value.
    Maximum,
    /// Median.
    P50,
    /// 95th percentile.
    P95,
}

impl Stat {
    /// The name `GetMetricData` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Stat::Sum => "Sum",
            Stat::Maximum => "Maximum",
            Stat::P50 => "p50",
            Stat::P95 => "p95",
        }
    }
}

/// The period a series is asked for at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    /// One period as long as the window: totals and window-wide percentiles.
    Window,
    /// The finest period CloudWatch keeps for the window (a minute, for the last 15 days).
    Peak,
    /// The chart's period.
    Chart,
}

/// What one series measures, independent of the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    /// Whose metric.
    pub source: Source,
    /// The metric name.
    pub metric: &'static str,
    /// The statistic.
    pub stat: Stat,
    /// The period.
    pub span: Span,
}

impl Kind {
    const fn watchdog(metric: Metric, stat: Stat, span: Span) -> Kind {
        Kind {
            source: Source::Watchdog,
            metric: metric.name(),
            stat,
            span,
        }
    }

    const fn lambda(metric: &'static str, stat: Stat, span: Span) -> Kind {
        Kind {
            source: Source::Lambda,
            metric,
            stat,
            span,
        }
    }

    /// The sum of a counter over the window.
    pub const fn total(metric: Metric) -> Kind {
        Kind::watchdog(metric, Stat::Sum, Span::Window)
    }
}

/// Duration p50 over the window.
pub const DURATION_P50: Kind = Kind::watchdog(Metric::Duration, Stat::P50, Span::Window);
/// Duration p95 over the window.
pub const DURATION_P95: Kind = Kind::watchdog(Metric::Duration, Stat::P95, Span::Window);
/// Longest duration in the window.
pub const DURATION_MAX: Kind = Kind::watchdog(Metric::Duration, Stat::Maximum, Span::Window);
/// Rate-limited invocations per minute.
pub const RATE_LIMITED_PEAK: Kind = Kind::watchdog(Metric::RateLimited, Stat::Sum, Span::Peak);
/// Connection-capped invocations per minute.
pub const CONNECTION_CAPPED_PEAK: Kind = Kind::watchdog(Metric::TooManyConnections, Stat::Sum, Span::Peak);
/// Lambda's throttles over the window.
pub const LAMBDA_THROTTLES: Kind = Kind::lambda("Throttles", Stat::Sum, Span::Window);
/// Lambda's concurrent executions, highest per minute.
pub const LAMBDA_CONCURRENCY_PEAK: Kind = Kind::lambda("ConcurrentExecutions", Stat::Maximum, Span::Peak);
/// Duration p95 per chart interval.
pub const CHART_P95: Kind = Kind::watchdog(Metric::Duration, Stat::P95, Span::Chart);
/// Longest duration per chart interval.
pub const CHART_MAX: Kind = Kind::watchdog(Metric::Duration, Stat::Maximum, Span::Chart);
/// The counters the chart draws as bars, per chart interval: every class of failure the
/// processor counts, its near-timeouts, and Lambda's throttles. Invocations, cold starts and
/// short runs stay in the table: they are not failures, and bars of them would dwarf the rest.
pub const CHART_COUNTS: [Kind; 9] = [
    Kind::watchdog(Metric::Timeouts, Stat::Sum, Span::Chart),
    Kind::watchdog(Metric::OutOfMemory, Stat::Sum, Span::Chart),
    Kind::watchdog(Metric::Errors, Stat::Sum, Span::Chart),
    Kind::watchdog(Metric::InitFailures, Stat::Sum, Span::Chart),
    Kind::lambda("Throttles", Stat::Sum, Span::Chart),
    Kind::watchdog(Metric::RateLimited, Stat::Sum, Span::Chart),
    Kind::watchdog(Metric::TooManyConnections, Stat::Sum, Span::Chart),
    Kind::watchdog(Metric::ConnectionErrors, Stat::Sum, Span::Chart),
    Kind::watchdog(Metric::NearTimeout, Stat::Sum, Span::Chart),
];

/// The series asked for each function, in this order.
pub fn kinds(chart: bool) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = Metric::COUNTS.iter().map(|m| Kind::total(*m)).collect();
    kinds.extend([
        DURATION_P50,
        DURATION_P95,
        DURATION_MAX,
        RATE_LIMITED_PEAK,
        CONNECTION_CAPPED_PEAK,
        LAMBDA_THROTTLES,
        LAMBDA_CONCURRENCY_PEAK,
    ]);
    if chart {
        kinds.extend([CHART_P95, CHART_MAX]);
        kinds.extend(CHART_COUNTS);
    }
    kinds
}

/// One series: a kind of measure on one function (an index into [`Plan::functions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    /// Index into [`Plan::functions`].
    pub function: usize,
    /// What it measures.
    pub kind: Kind,
}

/// Everything a report asks CloudWatch for.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The watchdog's namespace.
    pub namespace: String,
    /// The time range.
    pub window: Window,
    /// The functions, in name order.
    pub functions: Vec<String>,
    /// Every series; a series' query id is `q` and its index.
    pub series: Vec<Series>,
    /// The chart's period, when a chart was asked for.
    pub chart_period: Option<i64>,
}

impl Plan {
    /// The plan for these functions over this window.
    pub fn new(namespace: &str, window: Window, mut functions: Vec<String>, chart: bool) -> Plan {
        functions.sort();
        functions.dedup();
        let kinds = kinds(chart);
        let series = (0..functions.len())
            .flat_map(|function| kinds.iter().map(move |&kind| Series { function, kind }))
            .collect();
        Plan {
            namespace: namespace.to_string(),
            window,
            functions,
            series,
            chart_period: chart.then(|| chart_period(window)),
        }
    }

    /// The period of a span, seconds.
    pub fn period(&self, span: Span) -> i64 {
        match span {
            Span::Window => self.window.seconds(),
            Span::Peak => self.window.resolution,
            Span::Chart => self.chart_period.unwrap_or_else(|| chart_period(self.window)),
        }
    }

    /// The query id of series `index` (ids must start with a lower-case letter).
    pub fn id(index: usize) -> String {
        format!("q{index}")
    }

    /// The series index a query id names.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        id.strip_prefix('q')?
            .parse::<usize>()
            .ok()
            .filter(|i| *i < self.series.len())
    }

    /// The index of a function's series of a kind.
    pub fn find(&self, function: usize, kind: Kind) -> Option<usize> {
        self.series
            .iter()
            .position(|s| s.function == function && s.kind == kind)
    }

    /// A readable label for series `index`, echoed back in the results.
    pub fn label(&self, index: usize) -> String {
        let s = self.series[index];
        let span = match s.kind.span {
            Span::Window => "window",
            Span::Peak => "peak",
            Span::Chart => "chart",
        };
        format!(
            "{} {} {} {span}",
            self.functions[s.function],
            s.kind.metric,
            s.kind.stat.name()
        )
    }

    /// The `GetMetricData` query of series `index`.
    pub fn query(&self, index: usize) -> MetricDataQuery {
        let s = self.series[index];
        let namespace = match s.kind.source {
            Source::Watchdog => self.namespace.as_str(),
            Source::Lambda => LAMBDA_NAMESPACE,
        };
        let metric = CwMetric::builder()
            .namespace(namespace)
            .metric_name(s.kind.metric)
            .dimensions(
                Dimension::builder()
                    .name("FunctionName")
                    .value(&self.functions[s.function])
                    .build(),
            )
            .build();
        // The period is at most 455 days in seconds, far below i32::MAX.
        let period = i32::try_from(self.period(s.kind.span)).unwrap_or(i32::MAX);
        MetricDataQuery::builder()
            .id(Plan::id(index))
            .label(self.label(index))
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(period)
                    .stat(s.kind.stat.name())
                    .build(),
            )
            .return_data(true)
            .build()
    }

    /// How many datapoints series `index` can return at most.
    pub fn datapoints(&self, index: usize) -> u64 {
        let period = self.period(self.series[index].kind.span).max(1);
        div_ceil(self.window.seconds(), period) as u64
    }

    /// The series split into requests: at most [`MAX_QUERIES_PER_REQUEST`] queries each, and,
    /// where possible, at most [`MAX_DATAPOINTS_PER_REQUEST`] datapoints.
    pub fn requests(&self) -> Vec<Vec<usize>> {
        let mut requests = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        let mut points = 0;
        for index in 0..self.series.len() {
            let n = self.datapoints(index);
            if !current.is_empty()
                && (current.len() == MAX_QUERIES_PER_REQUEST || points + n > MAX_DATAPOINTS_PER_REQUEST)
            {
                requests.push(std::mem::take(&mut current));
                points = 0;
            }
            current.push(index);
            points += n;
        }
        if !current.is_empty() {
            requests.push(current);
        }
        requests
    }
}

/// The chart's period for a window: the first of 1, 2, 5, 10, 15 or 30 minutes, 1, 2, 3, 6 or 12
/// hours or a day that gives at most [`CHART_POINTS`] points and that CloudWatch keeps for the
/// window, else whole days.
pub fn chart_period(window: Window) -> i64 {
    let wanted = div_ceil(window.seconds(), CHART_POINTS);
    CHART_PERIODS
        .iter()
        .copied()
        .find(|p| *p >= wanted && p % window.resolution == 0)
        .unwrap_or_else(|| div_ceil(wanted, 86_400) * 86_400)
}

/// `a / b` rounded up, for positive `b` (`i64::div_ceil` is not stable yet).
fn div_ceil(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("fn-{i:03}")).collect()
    }

    fn day() -> Window {
        Window::since(86_400, NOW).unwrap()
    }

    #[test]
    fn each_function_gets_totals_percentiles_peaks_and_lambda_metrics() {
        let plan = Plan::new("LambdaWatchdog", day(), vec!["uploader".into()], false);
        let queries: Vec<MetricDataQuery> = (0..plan.series.len()).map(|i| plan.query(i)).collect();
        let find = |metric: &str, stat: &str| {
            queries
                .iter()
                .find(|q| {
                    let s = q.metric_stat().unwrap();
                    s.metric().unwrap().metric_name() == Some(metric) && s.stat() == Some(stat)
                })
                .unwrap_or_else(|| panic!("no {metric} {stat}"))
        };
        let timeouts = find("Timeouts", "Sum").metric_stat().unwrap();
        assert_eq!(
            timeouts.period(),
            Some(day().seconds() as i32),
            "one datapoint for the window"
        );
        let metric = timeouts.metric().unwrap();
        assert_eq!(metric.namespace(), Some("LambdaWatchdog"));
        assert_eq!(metric.dimensions()[0].name(), Some("FunctionName"));
        assert_eq!(metric.dimensions()[0].value(), Some("uploader"));
        assert_eq!(find("Duration", "p95").metric_stat().unwrap().period(), Some(86_400));
        assert_eq!(find("Duration", "p50").label(), Some("uploader Duration p50 window"));
        assert_eq!(find("RateLimited", "Sum").id(), Some("q4"));
        let peaks: Vec<_> = queries
            .iter()
            .filter(|q| q.metric_stat().unwrap().period() == Some(60))
            .map(|q| q.metric_stat().unwrap().metric().unwrap().metric_name().unwrap())
            .collect();
        assert_eq!(peaks, ["RateLimited", "TooManyConnections", "ConcurrentExecutions"]);
        let throttles = find("Throttles", "Sum").metric_stat().unwrap().metric().unwrap();
        assert_eq!(throttles.namespace(), Some("AWS/Lambda"));
        for (i, q) in queries.iter().enumerate() {
            assert_eq!(plan.index_of(q.id().unwrap()), Some(i));
            assert_eq!(q.return_data(), Some(true));
        }
        assert_eq!(plan.index_of("q999"), None);
        assert_eq!(plan.index_of("x1"), None);
    }

    #[test]
    fn the_chart_adds_two_duration_and_nine_count_series_per_function_at_a_coarser_period() {
        let without = Plan::new("NS", day(), names(2), false);
        let with = Plan::new("NS", day(), names(2), true);
        assert_eq!(with.series.len(), without.series.len() + 2 * 11);
        assert_eq!(with.chart_period, Some(300));
        assert!(with.window.seconds() / 300 <= CHART_POINTS);
        for kind in CHART_COUNTS {
            let i = with.find(1, kind).unwrap();
            let stat = with.query(i).metric_stat().unwrap().clone();
            assert_eq!(stat.period(), Some(300), "{}", kind.metric);
            assert_eq!(stat.stat(), Some("Sum"), "{}", kind.metric);
        }
        let throttles = with.find(1, CHART_COUNTS[4]).unwrap();
        let query = with.query(throttles);
        let metric = query.metric_stat().unwrap().metric().unwrap();
        assert_eq!(
            (metric.namespace(), metric.metric_name()),
            (Some("AWS/Lambda"), Some("Throttles")),
            "throttles come from Lambda, which rejected those invocations before they ran"
        );
    }

    #[test]
    fn chart_periods_keep_a_few_hundred_points_and_respect_retention() {
        let w = |hours: i64, resolution: i64| Window {
            start: 0,
            end: hours * 3600,
            resolution,
        };
        assert_eq!(chart_period(w(2, 60)), 60);
        assert_eq!(chart_period(w(24, 60)), 300);
        assert_eq!(chart_period(w(24 * 7, 60)), 3600);
        assert_eq!(chart_period(w(24 * 30, 300)), 10_800);
        assert_eq!(chart_period(w(24 * 14, 3600)), 7200);
        assert_eq!(chart_period(w(24 * 3, 3600)), 3600, "never finer than CloudWatch keeps");
        assert_eq!(chart_period(w(24 * 400, 3600)), 2 * 86_400);
    }

    #[test]
    fn requests_hold_at_most_500_queries() {
        // A two-hour window: 120 points per per-minute series, far under the datapoint budget.
        let window = Window::new(NOW - 7200, NOW, NOW).unwrap();
        let plan = Plan::new("NS", window, names(60), false);
        assert_eq!(plan.series.len(), 60 * 18);
        let requests = plan.requests();
        assert_eq!(requests.iter().map(Vec::len).collect::<Vec<_>>(), [500, 500, 80]);
        let all: Vec<usize> = requests.concat();
        assert_eq!(
            all,
            (0..plan.series.len()).collect::<Vec<_>>(),
            "every series once, in order"
        );
    }

    #[test]
    fn requests_stay_under_the_datapoint_budget() {
        // A day: each per-minute series has 1440 points, so about 23 functions fit in a request.
        let plan = Plan::new("NS", day(), names(60), false);
        let requests = plan.requests();
        assert!(requests.len() > 2, "{}", requests.len());
        for r in &requests {
            assert!(r.len() <= MAX_QUERIES_PER_REQUEST);
            let points: u64 = r.iter().map(|&i| plan.datapoints(i)).sum();
            assert!(points <= MAX_DATAPOINTS_PER_REQUEST, "{points}");
        }
        assert_eq!(requests.concat().len(), plan.series.len());
    }

    #[test]
    fn the_longest_windows_at_each_resolution_still_fit_the_budget() {
        // The finest period CloudWatch keeps bounds a series to about 21,600 points, so greedy
        // splitting always finds requests under the budget.
        for (days, resolution) in [(14, 60), (60, 300), (450, 3600)] {
            let window = Window::new(NOW - days * 86_400, NOW, NOW).unwrap();
            assert_eq!(window.resolution, resolution);
            let plan = Plan::new("NS", window, names(10), true);
            for r in plan.requests() {
                let points: u64 = r.iter().map(|&i| plan.datapoints(i)).sum();
                assert!(points <= MAX_DATAPOINTS_PER_REQUEST, "{days} days: {points}");
            }
        }
    }

    #[test]
    fn function_names_are_sorted_and_deduplicated() {
        let plan = Plan::new("NS", day(), vec!["b".into(), "a".into(), "b".into()], false);
        assert_eq!(plan.functions, ["a", "b"]);
    }
}
