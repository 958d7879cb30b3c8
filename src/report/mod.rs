//! Reports read back from CloudWatch: per function, how many invocations timed out, how close the
//! rest came to their timeout, and who was rate-limited or connection-capped when.
//!
//! The stages, in the order a report passes through them: [`query`] plans the series to ask
//! `GetMetricData` for and splits them into requests; [`fetch`] makes the calls (pagination,
//! backoff on throttling); [`build`] turns the series into per-function reports, worst first, and
//! renders them; [`chart`] draws them as SVG, or as PNG for e-mail. Only [`fetch`] talks to AWS. [`scheduled`] is the
//! Lambda function's run of the same when the template's report schedule fires.

pub mod build;
pub mod chart;
pub mod fetch;
#[cfg(test)]
mod fixtures;
pub mod query;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::Config;
pub use build::{Format, Report};
pub use fetch::{Backoff, MetricsApi};
pub use query::Plan;

/// CloudWatch keeps 1-minute data for 15 days, 5-minute data for 63 days and hourly data for
/// 455 days; older windows must ask for coarser periods.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>
const RETENTION: [(i64, i64); 3] = [(15 * DAY, 60), (63 * DAY, 300), (455 * DAY, 3600)];

const DAY: i64 = 86_400;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A `--since`, `--start` or `--end` value could not be read.
    #[error("could not read the time {value:?}: {reason}")]
    Time {
        /// What was given.
        value: String,
        /// What is expected instead.
        reason: String,
    },
    /// The window is empty, reversed or older than CloudWatch keeps metrics.
    #[error("the report window is not valid: {0}")]
    Window(String),
    /// A `--function` glob does not compile.
    #[error("the function pattern {pattern:?} is not a valid glob: {reason}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    // The SDK's error is in the message, not chained as a source: `lambda-watchdog: {err:#}`
    // would print it twice, and Lambda's error report shows only the message.
    /// CloudWatch refused a call, or it failed.
    #[error("could not call CloudWatch {operation}: {cause}")]
    Api {
        /// `ListMetrics` or `GetMetricData`.
        operation: &'static str,
        /// What CloudWatch or the SDK said.
        cause: fetch::ApiError,
    },
    /// CloudWatch kept throttling the calls after every retry.
    #[error(
        "CloudWatch kept throttling {operation} after {attempts} attempts ({cause}); try again later or narrow the report with --function"
    )]
    Throttled {
        /// `ListMetrics` or `GetMetricData`.
        operation: &'static str,
        /// How many calls were made.
        attempts: u32,
        /// The last throttling error.
        cause: fetch::ApiError,
    },
    /// The report could not be sent to the notices topic.
    #[error(transparent)]
    Publish(#[from] crate::notify::sns::DeliveryError),
    /// A paginated answer did not end.
    #[error("CloudWatch {operation} kept returning pages ({pages}); stopped to avoid a loop")]
    Pagination {
        /// `ListMetrics` or `GetMetricData`.
        operation: &'static str,
        /// Pages read.
        pages: usize,
    },
}

/// The time range a report covers, aligned to the periods CloudWatch can answer for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// Epoch seconds, inclusive, a multiple of `resolution`.
    pub start: i64,
    /// Epoch seconds, exclusive, a multiple of `resolution`.
    pub end: i64,
    /// The finest period CloudWatch still keeps for `start` (60, 300 or 3600 seconds).
    pub resolution: i64,
}

impl Window {
    /// The window from `start` to `end` (epoch seconds) as CloudWatch will see it at `now`: the
    /// start rounded down and the end rounded up to the finest period still kept for the start.
    pub fn new(start: i64, end: i64, now: i64) -> Result<Window, ReportError> {
        if end <= start {
            return Err(ReportError::Window(format!(
                "the end ({}) is not after the start ({})",
                rfc3339(end),
                rfc3339(start)
            )));
        }
        let age = now - start;
        let Some(&(_, resolution)) = RETENTION.iter().find(|(max_age, _)| age < *max_age) else {
            return Err(ReportError::Window(format!(
                "it starts {} days ago; CloudWatch keeps metrics for 455 days",
                age / DAY
            )));
        };
        Ok(Window {
            start: start.div_euclid(resolution) * resolution,
            end: (end + resolution - 1).div_euclid(resolution) * resolution,
            resolution,
        })
    }

    /// The last `seconds` before `now`, ending with the last whole period (the current minute
    /// is still being written), so that `24h` is exactly 24 hours.
    pub fn since(seconds: i64, now: i64) -> Result<Window, ReportError> {
        let resolution = RETENTION
            .iter()
            .find(|(max_age, _)| seconds < *max_age)
            .map_or(3600, |(_, r)| *r);
        let end = now.div_euclid(resolution) * resolution;
        Window::new(end - seconds, end, now)
    }

    /// Its length in seconds.
    pub fn seconds(&self) -> i64 {
        self.end - self.start
    }
}

/// Reads a duration such as `24h`, `90m` or `7d` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, ReportError> {
    let bad = |reason: &str| ReportError::Time {
        value: text.to_string(),
        reason: reason.to_string(),
    };
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| bad("expected a number and a unit, such as 24h, 90m or 7d"))?;
    let scale = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => DAY,
        _ => return Err(bad("the unit must be m (minutes), h (hours) or d (days), such as 24h")),
    };
    if n == 0 {
        return Err(bad("the duration must be more than zero"));
    }
    n.checked_mul(scale)
        .filter(|s| *s <= 456 * DAY)
        .ok_or_else(|| bad("CloudWatch keeps metrics for 455 days at most"))
}

/// Reads a time given as RFC 3339 in UTC (`2026-11-29T00:00:00Z`) or as epoch seconds.
pub fn parse_time(text: &str) -> Result<i64, ReportError> {
    use aws_sdk_cloudwatch::primitives::{DateTime, DateTimeFormat};
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    DateTime::from_str(text, DateTimeFormat::DateTime)
        .map(|t| t.secs())
        .map_err(|_| ReportError::Time {
            value: text.to_string(),
            reason: "expected RFC 3339 in UTC, such as 2026-11-29T00:00:00Z, or epoch seconds".into(),
        })
}

pub use crate::present::rfc3339;

/// Which functions a report covers: all, or those matching `--function` globs. A plain name (no
/// glob characters) is always reported, even when CloudWatch has no metrics for it, so that a
/// function that stopped reporting shows up as having no data instead of vanishing.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    globs: Option<GlobSet>,
    names: Vec<String>,
}

impl Selection {
    /// Every function with metrics.
    pub fn all() -> Selection {
        Selection::default()
    }

    /// The functions matching any of `patterns`; none means all.
    pub fn new(patterns: &[String]) -> Result<Selection, ReportError> {
        if patterns.is_empty() {
            return Ok(Selection::all());
        }
        let mut builder = GlobSetBuilder::new();
        let mut names = Vec::new();
        for pattern in patterns {
            let glob = Glob::new(pattern).map_err(|e| ReportError::Glob {
                pattern: pattern.clone(),
                reason: e.kind().to_string(),
            })?;
            builder.add(glob);
            if !pattern.contains(['*', '?', '[', ']', '{', '}']) {
                names.push(pattern.clone());
            }
        }
        let globs = builder.build().map_err(|e| ReportError::Glob {
            pattern: patterns.join(", "),
            reason: e.to_string(),
        })?;
        Ok(Selection {
            globs: Some(globs),
            names,
        })
    }

    /// Whether a function is in the report.
    pub fn matches(&self, function: &str) -> bool {
        self.globs.as_ref().is_none_or(|g| g.is_match(function))
    }

    /// The plain names given, reported even without metrics.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request {
    /// The time range.
    pub window: Window,
    /// Which functions.
    pub selection: Selection,
    /// Whether to fetch the series the chart draws.
    pub chart: bool,
}

/// Makes a report: lists the functions, plans the queries, fetches them and builds the report.
pub async fn generate(
    api: &impl MetricsApi,
    config: &Config,
    request: &Request,
    backoff: Backoff,
) -> Result<Report, ReportError> {
    let functions = fetch::list_functions(api, &config.namespace, &request.selection, backoff).await?;
    let plan = Plan::new(&config.namespace, request.window, functions, request.chart);
    let fetched = fetch::fetch(api, &plan, backoff).await?;
    Ok(build::build(&plan, &fetched, config))
}

/// Whether a Lambda event is an EventBridge scheduled event (`"source": "aws.events"`,
/// `"detail-type": "Scheduled Event"`): the template's daily report schedule.
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html>
pub fn is_scheduled_event(event: &serde_json::Value) -> bool {
    event.get("source").and_then(|v| v.as_str()) == Some("aws.events")
        && event.get("detail-type").and_then(|v| v.as_str()) == Some("Scheduled Event")
}

/// The window a scheduled event asks for: `detail.since` (e.g. `"7d"`, for a schedule with its
/// own input), else the last 24 hours.
pub fn scheduled_window(event: &serde_json::Value, now: i64) -> Result<Window, ReportError> {
    let since = event
        .pointer("/detail/since")
        .and_then(|v| v.as_str())
        .map_or(Ok(DAY), parse_duration)?;
    Window::since(since, now)
}

/// The scheduled report: every function over the window the event asks for, published as a
/// table to the notices topic (or only logged when there is none). Returns what the
/// invocation answers.
/// `client` is the CloudWatch client to read with; `None` builds one from the environment.
pub async fn scheduled(
    event: &serde_json::Value,
    config: &Config,
    client: Option<&aws_sdk_cloudwatch::Client>,
    publisher: Option<&crate::notify::sns::Publisher>,
    now: i64,
) -> Result<serde_json::Value, ReportError> {
    let request = Request {
        window: scheduled_window(event, now)?,
        selection: Selection::all(),
        chart: false,
    };
    let client = match client {
        Some(client) => client.clone(),
        // Boxed: the SDK's futures nest deeply, and inside the Lambda handler's own future they
        // would exceed the compiler's query depth.
        None => aws_sdk_cloudwatch::Client::new(&Box::pin(aws_config::load_from_env()).await),
    };
    let report = Box::pin(generate(&client, config, &request, Backoff::default()))
        .await?
        .in_region(client.config().region().map(ToString::to_string));
    let subject = report.subject();
    let text = report.render(Format::Table);
    let message_id = match publisher {
        Some(publisher) => Some(Box::pin(publisher.publish_text(&subject, &text)).await?),
        None => {
            tracing::info!(subject = %subject, report = %text, "Report (no WATCHDOG_TOPIC_ARN set, so only logged).");
            None
        }
    };
    tracing::info!(subject = %subject, functions = report.functions.len(), published = message_id.is_some(), "Sent the scheduled report.");
    Ok(serde_json::json!({
        "report": subject,
        "functions": report.functions.len(),
        "message_id": message_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000; // 2026-11-30T00:53:20Z

    #[test]
    fn durations_accept_minutes_hours_and_days() {
        assert_eq!(parse_duration("90m").unwrap(), 5400);
        assert_eq!(parse_duration("24h").unwrap(), 86_400);
        assert_eq!(parse_duration("7d").unwrap(), 7 * 86_400);
        for bad in ["", "24", "h", "5x", "0h", "-3h", "1.5h", "999d"] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn times_accept_rfc3339_in_utc_and_epoch_seconds() {
        assert_eq!(parse_time("2026-11-29T00:00:00Z").unwrap(), 1_795_910_400);
        assert_eq!(parse_time("1796000000").unwrap(), NOW);
        let err = parse_time("2026-11-29T00:00:00+01:00").unwrap_err().to_string();
        assert!(err.contains("UTC"), "{err}");
        assert_eq!(rfc3339(NOW), "2026-11-30T00:53:20Z");
    }

    #[test]
    fn a_recent_window_is_aligned_to_whole_minutes() {
        let w = Window::since(86_400, NOW).unwrap();
        assert_eq!(w.resolution, 60);
        assert_eq!(w.start % 60, 0);
        assert_eq!(w.end % 60, 0);
        assert!(w.end <= NOW && NOW - w.end < 60, "ends with the last whole minute");
        assert_eq!(w.seconds(), 86_400);
        let w = Window::new(NOW - 3600, NOW, NOW).unwrap();
        assert!(
            w.start <= NOW - 3600 && w.end >= NOW,
            "an explicit range is widened, not cut"
        );
    }

    #[test]
    fn older_windows_use_the_periods_cloudwatch_still_keeps() {
        let w = Window::new(NOW - 20 * DAY, NOW - 19 * DAY, NOW).unwrap();
        assert_eq!(w.resolution, 300);
        let w = Window::new(NOW - 100 * DAY, NOW - 99 * DAY, NOW).unwrap();
        assert_eq!(w.resolution, 3600);
        assert_eq!(w.start % 3600, 0);
        let err = Window::new(NOW - 500 * DAY, NOW, NOW).unwrap_err().to_string();
        assert!(err.contains("455 days"), "{err}");
        let err = Window::new(NOW, NOW - 60, NOW).unwrap_err().to_string();
        assert!(err.contains("not after the start"), "{err}");
    }

    #[test]
    fn plain_names_are_kept_even_without_metrics_and_globs_filter() {
        let s = Selection::new(&["scraper-*".into(), "uploader".into()]).unwrap();
        assert!(s.matches("scraper-worker"));
        assert!(s.matches("uploader"));
        assert!(!s.matches("orch-user"));
        assert_eq!(s.names(), ["uploader".to_string()]);
        assert!(Selection::all().matches("anything"));
        assert!(Selection::new(&["a[".into()]).is_err());
    }

    #[test]
    fn scheduled_events_are_told_apart_from_log_deliveries() {
        let scheduled = serde_json::json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": "2026-11-30T07:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/lambda-watchdog-daily-report"],
            "detail": {}
        });
        assert!(is_scheduled_event(&scheduled));
        assert!(!is_scheduled_event(&serde_json::json!({"awslogs": {"data": "H4sI"}})));
        assert!(!is_scheduled_event(
            &serde_json::json!({"source": "aws.events", "detail-type": "EC2 Instance State-change Notification"})
        ));
        assert_eq!(scheduled_window(&scheduled, NOW).unwrap().seconds(), 86_400);
        let weekly =
            serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {"since": "7d"}});
        assert_eq!(scheduled_window(&weekly, NOW).unwrap().seconds(), 7 * 86_400);
        let bad = serde_json::json!({"detail": {"since": "weekly"}});
        assert!(scheduled_window(&bad, NOW).is_err());
    }

    #[tokio::test]
    async fn a_report_is_generated_through_the_sdk_client_from_recorded_answers() {
        use aws_sdk_cloudwatch::Client;
        use aws_sdk_cloudwatch::config::retry::RetryConfig;
        use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
        use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let listed = mock!(Client::list_metrics).then_output(|| {
            let metric = |f: &str| {
                CwMetric::builder()
                    .namespace("LambdaWatchdog")
                    .metric_name("Invocations")
                    .dimensions(Dimension::builder().name("FunctionName").value(f).build())
                    .build()
            };
            ListMetricsOutput::builder()
                .metrics(metric("uploader"))
                .metrics(metric("scraper-worker"))
                .metrics(metric("orch-user"))
                .build()
        });
        // The recorded pages, answered for the queries of each request by id.
        let pages = fixtures::pages(&fixtures::plan(true));
        let data = mock!(Client::get_metric_data).then_compute_output(move |r| {
            let page = usize::from(r.next_token() == Some("page-2"));
            let asked: Vec<&str> = r.metric_data_queries().iter().filter_map(|q| q.id()).collect();
            let mut out = pages[page].clone();
            out.metric_data_results = Some(
                out.metric_data_results()
                    .iter()
                    .filter(|m| m.id().is_some_and(|id| asked.contains(&id)))
                    .cloned()
                    .collect(),
            );
            out
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&listed, &data], |c| c
            .retry_config(RetryConfig::disabled()));
        let request = Request {
            window: fixtures::window(),
            selection: Selection::new(&["*".into(), "quiet-fn".into()]).unwrap(),
            chart: true,
        };
        let report = generate(&client, &fixtures::config(), &request, Backoff::default())
            .await
            .unwrap();
        assert_eq!((listed.num_calls(), data.num_calls()), (1, 2));
        let order: Vec<&str> = report.functions.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(order, ["scraper-worker", "uploader", "orch-user", "quiet-fn"]);
        assert_eq!(report.fleet.rate_limited_peak.as_ref().unwrap().count, 17);
        assert_eq!(report.functions[0].chart.as_ref().unwrap().p95.len(), 120);
    }
}
