//! The report's only calls to AWS: `ListMetrics` to find the functions, `GetMetricData` for their
//! series. Both paginate; both are retried with exponential backoff while CloudWatch throttles.
//!
//! The calls go through [`MetricsApi`], implemented for the SDK's client; tests drive that same
//! client with `aws-smithy-mocks` (moto cannot answer the CBOR protocol CloudWatch speaks now).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{DimensionFilter, MetricDataQuery, ScanBy, StatusCode};
use tracing::warn;

use super::query::Plan;
use super::{ReportError, Selection};
use crate::metrics::Metric;

/// Most pages read from one paginated answer before giving up (a token that never ends).
pub const MAX_PAGES: usize = 10_000;

/// Error codes AWS uses for throttling, as the SDK's own retry classifier lists them.
const THROTTLING_CODES: [&str; 8] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
];

/// A failed call: the AWS error code when there is one, and the whole message chain.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The AWS error code, e.g. `Throttling`.
    pub code: Option<String>,
    /// What went wrong, with its causes.
    pub message: String,
    /// Whether CloudWatch throttled the call (worth retrying later).
    pub throttling: bool,
}

impl ApiError {
    /// An error from its code and message.
    pub fn new(code: Option<&str>, status: Option<u16>, message: impl Into<String>) -> ApiError {
        ApiError {
            throttling: status == Some(429) || code.is_some_and(|c| THROTTLING_CODES.contains(&c)),
            code: code.map(str::to_owned),
            message: message.into(),
        }
    }

    fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> ApiError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        ApiError::new(err.code(), status, chain(&err))
    }
}

/// An error and its causes, each said once: "dispatch failure: io error: ... Connection refused".
/// (The SDK's `DisplayErrorContext` adds the `Debug` form of each, which users need not read.)
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

/// The two CloudWatch calls a report makes, one page at a time.
pub trait MetricsApi {
    /// One page of `ListMetrics` for a metric name in a namespace, with a `FunctionName` dimension.
    fn list_metrics_page(
        &self,
        namespace: &str,
        metric: &str,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<ListMetricsOutput, ApiError>> + Send;

    /// One page of `GetMetricData` from `start` to `end` (epoch seconds), oldest points first.
    fn get_metric_data_page(
        &self,
        queries: Vec<MetricDataQuery>,
        start: i64,
        end: i64,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<GetMetricDataOutput, ApiError>> + Send;
}

impl MetricsApi for Client {
    fn list_metrics_page(
        &self,
        namespace: &str,
        metric: &str,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<ListMetricsOutput, ApiError>> + Send {
        let call = self
            .list_metrics()
            .namespace(namespace)
            .metric_name(metric)
            .dimensions(DimensionFilter::builder().name("FunctionName").build())
            .set_next_token(next_token);
        async move { call.send().await.map_err(ApiError::from_sdk) }
    }

    fn get_metric_data_page(
        &self,
        queries: Vec<MetricDataQuery>,
        start: i64,
        end: i64,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<GetMetricDataOutput, ApiError>> + Send {
        let call = self
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(next_token);
        async move { call.send().await.map_err(ApiError::from_sdk) }
    }
}

/// How long to wait between throttled attempts: `first`, doubling up to `max`, for `attempts`
/// calls in all. This comes on top of the SDK's own retries, for throttling that outlasts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Calls in all, the first included.
    pub attempts: u32,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s, 8 s, 16 s: six calls within about half a minute.
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(20),
            attempts: 6,
        }
    }
}

impl Backoff {
    /// The wait after the `failed`-th failed call (1-based).
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 1u32.checked_shl(failed.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

async fn call<T, F, Fut>(operation: &'static str, backoff: Backoff, mut f: F) -> Result<T, ReportError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 1;
    loop {
        match f().await {
            Ok(value) => return Ok(value),
            Err(cause) if cause.throttling && attempt < backoff.attempts => {
                let delay = backoff.delay(attempt);
                warn!(operation, attempt, delay_ms = delay.as_millis() as u64, error = %cause, "CloudWatch throttled a call; retrying.");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(cause) if cause.throttling => {
                return Err(ReportError::Throttled {
                    operation,
                    attempts: attempt,
                    cause,
                });
            }
            Err(cause) => return Err(ReportError::Api { operation, cause }),
        }
    }
}

fn next_page(token: Option<String>, pages: usize, operation: &'static str) -> Result<Option<String>, ReportError> {
    match token.filter(|t| !t.is_empty()) {
        Some(_) if pages >= MAX_PAGES => Err(ReportError::Pagination { operation, pages }),
        token => Ok(token),
    }
}

/// The functions with watchdog metrics (an `Invocations` metric with a `FunctionName`
/// dimension) that the selection takes, plus the plain names it gives, sorted.
pub async fn list_functions(
    api: &impl MetricsApi,
    namespace: &str,
    selection: &Selection,
    backoff: Backoff,
) -> Result<Vec<String>, ReportError> {
    let mut names: BTreeSet<String> = selection.names().iter().cloned().collect();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = call("ListMetrics", backoff, || {
            api.list_metrics_page(namespace, Metric::Invocations.name(), token.clone())
        })
        .await?;
        pages += 1;
        let functions = page
            .metrics()
            .iter()
            .flat_map(|m| m.dimensions())
            .filter(|d| d.name() == Some("FunctionName"))
            .filter_map(|d| d.value())
            .filter(|f| selection.matches(f));
        names.extend(functions.map(str::to_owned));
        token = next_page(page.next_token, pages, "ListMetrics")?;
        if token.is_none() {
            return Ok(names.into_iter().collect());
        }
    }
}

/// Whether a series came back whole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// Every datapoint CloudWatch has.
    #[default]
    Complete,
    /// Some or all datapoints are missing, and why.
    Incomplete(String),
}

/// The datapoints of one series, oldest first, as (epoch seconds, value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesData {
    /// The datapoints.
    pub points: Vec<(i64, f64)>,
    /// Whether they are all there.
    pub status: Status,
}

/// Everything `GetMetricData` returned for a plan.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// One per [`Plan::series`], same order.
    pub series: Vec<SeriesData>,
    /// What CloudWatch said about missing or partial data, for the report's readers.
    pub warnings: Vec<String>,
    /// `GetMetricData` calls that succeeded (pages).
    pub pages: usize,
}

impl Fetched {
    /// An empty answer for a plan, to fill page by page.
    pub fn for_plan(plan: &Plan) -> Fetched {
        Fetched {
            series: vec![SeriesData::default(); plan.series.len()],
            ..Fetched::default()
        }
    }

    /// Adds one page of results; `more` says whether a next page follows.
    pub fn add_page(&mut self, plan: &Plan, page: &GetMetricDataOutput, more: bool, problems: &mut Problems) {
        self.pages += 1;
        for message in page.messages() {
            problems.note(
                message.code().unwrap_or("Message"),
                message.value().unwrap_or(""),
                "the request",
            );
        }
        for result in page.metric_data_results() {
            let Some(index) = result.id().and_then(|id| plan.index_of(id)) else {
                problems.note("UnknownId", result.id().unwrap_or("(none)"), "an answer to no query");
                continue;
            };
            let series = &mut self.series[index];
            series.points.extend(
                result
                    .timestamps()
                    .iter()
                    .map(|t| t.secs())
                    .zip(result.values().iter().copied()),
            );
            let why = match result.status_code() {
                None | Some(StatusCode::Complete) => None,
                Some(StatusCode::PartialData) if more => None,
                Some(StatusCode::PartialData) => Some("PartialData"),
                Some(StatusCode::InternalError) => Some("InternalError"),
                Some(StatusCode::Forbidden) => Some("Forbidden"),
                Some(_) => Some("UnknownStatus"),
            };
            if let Some(code) = why {
                let said: Vec<&str> = result.messages().iter().filter_map(|m| m.value()).collect();
                let detail = if said.is_empty() {
                    code.to_string()
                } else {
                    format!("{code}: {}", said.join("; "))
                };
                problems.note(code, &said.join("; "), &plan.label(index));
                series.status = Status::Incomplete(detail);
            }
        }
    }

    /// Puts every series in time order and records the problems as warnings.
    pub fn finish(&mut self, problems: Problems) {
        for series in &mut self.series {
            series.points.sort_by_key(|(t, _)| *t);
            series.points.dedup_by_key(|(t, _)| *t);
        }
        self.warnings.extend(problems.into_warnings());
    }
}

/// Problems seen while fetching, grouped by kind so that one outage is one warning, not one per
/// series.
#[derive(Debug, Default)]
pub struct Problems {
    by_kind: BTreeMap<(String, String), (usize, String)>,
}

impl Problems {
    fn note(&mut self, code: &str, message: &str, what: &str) {
        self.by_kind
            .entry((code.to_string(), message.to_string()))
            .or_insert((0, what.to_string()))
            .0 += 1;
    }

    fn into_warnings(self) -> Vec<String> {
        self.by_kind
            .into_iter()
            .map(|((code, message), (count, example))| {
                let message = if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                };
                if count == 1 {
                    format!("CloudWatch answered {code} for {example}{message}")
                } else {
                    format!("CloudWatch answered {code} for {count} series (e.g. {example}){message}")
                }
            })
            .collect()
    }
}

/// Fetches every series of a plan: one request per [`Plan::requests`] group, each followed
/// through its pages.
pub async fn fetch(api: &impl MetricsApi, plan: &Plan, backoff: Backoff) -> Result<Fetched, ReportError> {
    let mut fetched = Fetched::for_plan(plan);
    let mut problems = Problems::default();
    for group in plan.requests() {
        let queries: Vec<MetricDataQuery> = group.iter().map(|&i| plan.query(i)).collect();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = call("GetMetricData", backoff, || {
                api.get_metric_data_page(queries.clone(), plan.window.start, plan.window.end, token.clone())
            })
            .await?;
            pages += 1;
            let next = next_page(page.next_token().map(str::to_owned), pages, "GetMetricData")?;
            fetched.add_page(plan, &page, next.is_some(), &mut problems);
            if next.is_none() {
                break;
            }
            token = next;
        }
    }
    fetched.finish(problems);
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_cloudwatch::config::retry::RetryConfig;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;
    use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsError;
    use aws_sdk_cloudwatch::types::{Dimension, MessageData, Metric as CwMetric, MetricDataResult};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::report::Window;
    use crate::report::query::{CONNECTION_CAPPED_PEAK, RATE_LIMITED_PEAK};

    const NOW: i64 = 1_796_000_000;

    fn quick() -> Backoff {
        Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(2),
            attempts: 4,
        }
    }

    // The SDK's own retries are turned off so that the tests see every call our code makes.
    macro_rules! client {
        ($mode:expr, $rules:expr) => {
            mock_client!(aws_sdk_cloudwatch, $mode, $rules, |c| c
                .retry_config(RetryConfig::disabled()))
        };
    }

    fn throttled_data() -> GetMetricDataError {
        GetMetricDataError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    }

    fn listed(functions: &[&str], next: Option<&str>) -> ListMetricsOutput {
        ListMetricsOutput::builder()
            .set_metrics(Some(
                functions
                    .iter()
                    .map(|f| {
                        CwMetric::builder()
                            .namespace("LambdaWatchdog")
                            .metric_name("Invocations")
                            .dimensions(Dimension::builder().name("FunctionName").value(*f).build())
                            .build()
                    })
                    .collect(),
            ))
            .set_next_token(next.map(str::to_owned))
            .build()
    }

    fn result(id: &str, points: &[(i64, f64)], status: StatusCode) -> MetricDataResult {
        MetricDataResult::builder()
            .id(id)
            .set_timestamps(Some(points.iter().map(|(t, _)| DateTime::from_secs(*t)).collect()))
            .set_values(Some(points.iter().map(|(_, v)| *v).collect()))
            .status_code(status)
            .build()
    }

    fn plan(functions: &[&str]) -> Plan {
        let window = Window::new(NOW - 3600, NOW, NOW).unwrap();
        Plan::new(
            "LambdaWatchdog",
            window,
            functions.iter().map(|f| f.to_string()).collect(),
            false,
        )
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff::default();
        let waits: Vec<u64> = (1..=6).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 20]);
        assert_eq!(b.delay(40), Duration::from_secs(20));
    }

    #[test]
    fn throttling_is_recognised_by_code_or_http_429() {
        assert!(ApiError::new(Some("Throttling"), None, "Rate exceeded").throttling);
        assert!(ApiError::new(None, Some(429), "").throttling);
        assert!(!ApiError::new(Some("InvalidParameterValue"), Some(400), "").throttling);
    }

    #[tokio::test]
    async fn listing_follows_every_page_and_keeps_the_selected_functions() {
        let first = mock!(Client::list_metrics)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| listed(&["scraper-a", "uploader"], Some("page2")));
        let second = mock!(Client::list_metrics)
            .match_requests(|r| {
                r.next_token() == Some("page2")
                    && r.namespace() == Some("LambdaWatchdog")
                    && r.metric_name() == Some("Invocations")
                    && r.dimensions()[0].name() == Some("FunctionName")
            })
            .then_output(|| listed(&["scraper-b", "orch-user"], None));
        let client = client!(RuleMode::MatchAny, [&first, &second]);
        let selection = Selection::new(&["scraper-*".into(), "gone-quiet".into()]).unwrap();
        let functions = list_functions(&client, "LambdaWatchdog", &selection, quick())
            .await
            .unwrap();
        assert_eq!(functions, ["gone-quiet", "scraper-a", "scraper-b"]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn listing_retries_while_throttled() {
        let rule = mock!(Client::list_metrics)
            .sequence()
            .error(|| {
                ListMetricsError::generic(
                    ErrorMetadata::builder()
                        .code("Throttling")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .times(2)
            .output(|| listed(&["uploader"], None))
            .build();
        let client = client!(RuleMode::Sequential, [&rule]);
        let functions = list_functions(&client, "LambdaWatchdog", &Selection::all(), quick())
            .await
            .unwrap();
        assert_eq!(functions, ["uploader"]);
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn pages_of_one_request_are_joined_in_time_order() {
        let plan = plan(&["uploader"]);
        let rl = Plan::id(plan.find(0, RATE_LIMITED_PEAK).unwrap());
        let (rl1, rl2) = (rl.clone(), rl.clone());
        let first = mock!(Client::get_metric_data)
            .match_requests(|r| r.next_token().is_none())
            .then_output(move || {
                GetMetricDataOutput::builder()
                    .metric_data_results(result(
                        &rl1,
                        &[(NOW - 120, 2.0), (NOW - 60, 5.0)],
                        StatusCode::PartialData,
                    ))
                    .next_token("more")
                    .build()
            });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen_in_rule = seen.clone();
        let second = mock!(Client::get_metric_data)
            .match_requests(move |r| {
                seen_in_rule.lock().unwrap().push((
                    r.metric_data_queries().len(),
                    r.scan_by().cloned(),
                    r.start_time().map(|t| t.secs()),
                ));
                r.next_token() == Some("more")
            })
            .then_output(move || {
                GetMetricDataOutput::builder()
                    .metric_data_results(result(&rl2, &[(NOW - 3600, 1.0)], StatusCode::Complete))
                    .build()
            });
        let client = client!(RuleMode::MatchAny, [&first, &second]);
        let fetched = fetch(&client, &plan, quick()).await.unwrap();
        let series = &fetched.series[plan.find(0, RATE_LIMITED_PEAK).unwrap()];
        assert_eq!(series.points, [(NOW - 3600, 1.0), (NOW - 120, 2.0), (NOW - 60, 5.0)]);
        assert_eq!(
            series.status,
            Status::Complete,
            "PartialData followed by more pages is whole"
        );
        assert_eq!(fetched.pages, 2);
        assert!(fetched.warnings.is_empty(), "{:?}", fetched.warnings);
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0],
            (
                plan.series.len(),
                Some(ScanBy::TimestampAscending),
                Some(plan.window.start)
            )
        );
    }

    #[tokio::test]
    async fn more_series_than_one_request_holds_are_sent_in_several() {
        let names: Vec<String> = (0..40).map(|i| format!("fn-{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let plan = plan(&refs);
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let sizes_in_rule = sizes.clone();
        let rule = mock!(Client::get_metric_data)
            .match_requests(move |r| {
                sizes_in_rule.lock().unwrap().push(r.metric_data_queries().len());
                true
            })
            .then_compute_output(|r| {
                let results = r
                    .metric_data_queries()
                    .iter()
                    .map(|q| result(q.id().unwrap(), &[(NOW - 600, 1.0)], StatusCode::Complete))
                    .collect();
                GetMetricDataOutput::builder()
                    .set_metric_data_results(Some(results))
                    .build()
            });
        let client = client!(RuleMode::MatchAny, [&rule]);
        let fetched = fetch(&client, &plan, quick()).await.unwrap();
        assert_eq!(*sizes.lock().unwrap(), [500, 220]);
        assert!(fetched.series.iter().all(|s| s.points == [(NOW - 600, 1.0)]));
    }

    #[tokio::test]
    async fn throttled_requests_are_retried_and_succeed() {
        let plan = plan(&["uploader"]);
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttled_data)
            .times(3)
            .output(|| GetMetricDataOutput::builder().build())
            .build();
        let client = client!(RuleMode::Sequential, [&rule]);
        let fetched = fetch(&client, &plan, quick()).await.unwrap();
        assert_eq!(rule.num_calls(), 4);
        assert_eq!(fetched.pages, 1);
    }

    #[tokio::test]
    async fn throttling_that_never_ends_is_reported_with_what_to_do() {
        let plan = plan(&["uploader"]);
        let rule = mock!(Client::get_metric_data)
            .sequence()
            .error(throttled_data)
            .repeatedly()
            .build();
        let client = client!(RuleMode::Sequential, [&rule]);
        let err = fetch(&client, &plan, quick()).await.unwrap_err();
        assert_eq!(rule.num_calls(), 4);
        let text = err.to_string();
        assert!(
            text.contains("kept throttling GetMetricData after 4 attempts"),
            "{text}"
        );
        assert!(text.contains("--function"), "{text}");
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let plan = plan(&["uploader"]);
        let rule = mock!(Client::get_metric_data).then_error(|| {
            GetMetricDataError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized to perform: cloudwatch:GetMetricData")
                    .build(),
            )
        });
        let client = client!(RuleMode::Sequential, [&rule]);
        let err = fetch(&client, &plan, quick()).await.unwrap_err().to_string();
        assert_eq!(rule.num_calls(), 1);
        assert!(err.contains("could not call CloudWatch GetMetricData"), "{err}");
        assert!(err.contains("cloudwatch:GetMetricData"), "{err}");
    }

    #[tokio::test]
    async fn series_that_failed_or_were_cut_short_are_marked_and_warned_about() {
        let plan = plan(&["uploader"]);
        let rl = Plan::id(plan.find(0, RATE_LIMITED_PEAK).unwrap());
        let cc = Plan::id(plan.find(0, CONNECTION_CAPPED_PEAK).unwrap());
        let rule = mock!(Client::get_metric_data).then_output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(result(&rl, &[(NOW - 60, 3.0)], StatusCode::PartialData))
                .metric_data_results(
                    MetricDataResult::builder()
                        .id(&cc)
                        .status_code(StatusCode::InternalError)
                        .messages(MessageData::builder().code("InternalError").value("try again").build())
                        .build(),
                )
                .messages(
                    MessageData::builder()
                        .code("MaxQueryTimeRangeExceed")
                        .value("range too long")
                        .build(),
                )
                .build()
        });
        let client = client!(RuleMode::Sequential, [&rule]);
        let fetched = fetch(&client, &plan, quick()).await.unwrap();
        let rl = &fetched.series[plan.find(0, RATE_LIMITED_PEAK).unwrap()];
        assert_eq!(rl.points, [(NOW - 60, 3.0)]);
        assert!(matches!(rl.status, Status::Incomplete(_)));
        let cc = &fetched.series[plan.find(0, CONNECTION_CAPPED_PEAK).unwrap()];
        assert_eq!(cc.status, Status::Incomplete("InternalError: try again".into()));
        let warnings = fetched.warnings.join("\n");
        assert!(
            warnings.contains("InternalError for uploader TooManyConnections Sum peak: try again"),
            "{warnings}"
        );
        assert!(
            warnings.contains("PartialData for uploader RateLimited Sum peak"),
            "{warnings}"
        );
        assert!(warnings.contains("MaxQueryTimeRangeExceed"), "{warnings}");
    }

    #[test]
    fn a_token_that_never_ends_stops_with_an_error() {
        let err = next_page(Some("again".into()), MAX_PAGES, "GetMetricData").unwrap_err();
        assert!(err.to_string().contains("kept returning pages"), "{err}");
        assert_eq!(
            next_page(Some("again".into()), 3, "GetMetricData").unwrap().as_deref(),
            Some("again")
        );
        assert_eq!(next_page(Some(String::new()), 1, "GetMetricData").unwrap(), None);
    }
}
