//! The Lambda entry point's logic: one warm processor per container, each event's EMF documents
//! printed to stdout, and a response that never asks Lambda to retry (bad input is counted and
//! skipped; a retry would only duplicate metrics already written).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::info;

use crate::config::{Config, ConfigError};
use crate::logging::write_documents;
use crate::metrics::ProcessorMetric;
use crate::notify::sns::{Publisher, deliver};
use crate::notify::{Notice, Notifier};
use crate::processor::{Clock, Outcome, Processor, Shape, Telemetry, wall_ms};

/// Most time notices may take in one invocation, so a slow SNS cannot eat the whole timeout.
const NOTICE_BUDGET: Duration = Duration::from_secs(30);

/// After SNS fails, how long the container logs notices instead of trying again, so that an
/// outage does not cost every invocation the SDK's full timeout.
const SNS_BACKOFF: Duration = Duration::from_secs(60);

/// The handler state kept across invocations of a warm container.
pub struct Handler {
    state: Mutex<State>,
    publisher: Option<Publisher>,
    sns_down_until: Mutex<Option<Instant>>,
    /// The CloudWatch client for scheduled reports; `None` builds one from the environment.
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
}

struct State {
    processor: Processor,
    notifier: Notifier,
}

/// Reads the config from the `WATCHDOG_CONFIG` text (none or blank means the defaults), with its
/// namespace overridden by `WATCHDOG_NAMESPACE` when that is set and not blank.
pub fn config_from_env() -> Result<Config, ConfigError> {
    let text = std::env::var("WATCHDOG_CONFIG").ok();
    let namespace = std::env::var("WATCHDOG_NAMESPACE").ok();
    config_from_texts(text.as_deref(), namespace.as_deref())
}

/// The config from the texts of `WATCHDOG_CONFIG` and `WATCHDOG_NAMESPACE` (`None` or blank:
/// not set). The template passes its `MetricNamespace` parameter as `WATCHDOG_NAMESPACE`, so the
/// metrics land where its alarms and dashboard look even when the TOML says otherwise.
pub fn config_from_texts(config: Option<&str>, namespace: Option<&str>) -> Result<Config, ConfigError> {
    let mut config = match config {
        Some(text) if !text.trim().is_empty() => Config::from_toml_str(text)?,
        _ => Config::default(),
    };
    if let Some(namespace) = namespace.filter(|n| !n.trim().is_empty()) {
        // Checked by the config itself, so the variable obeys exactly the rules of the key.
        // A JSON string is a valid TOML basic string.
        let toml = format!("namespace = {}", Value::String(namespace.to_string()));
        let checked = Config::from_toml_str(&toml).map_err(|err| match err {
            ConfigError::Invalid { reason, .. } => ConfigError::Invalid {
                key: "WATCHDOG_NAMESPACE".into(),
                reason,
            },
            other => other,
        })?;
        config.namespace = checked.namespace;
    }
    Ok(config)
}

impl Handler {
    /// A handler for this config, reading its own log group and name from Lambda's variables
    /// and the notices topic from `WATCHDOG_TOPIC_ARN` (none: notices are only logged).
    pub async fn from_env(config: Config) -> Handler {
        let own_group = std::env::var("AWS_LAMBDA_LOG_GROUP_NAME").ok();
        let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "lambda-watchdog".into());
        let publisher = Publisher::from_env().await;
        Handler::new(Processor::new(config, Clock::Wall, own_group, name), publisher)
    }

    /// A handler around a processor and an optional SNS publisher.
    pub fn new(processor: Processor, publisher: Option<Publisher>) -> Handler {
        let notifier = Notifier::new(Notifier::region_for(processor.config()));
        Handler {
            state: Mutex::new(State { processor, notifier }),
            publisher,
            sns_down_until: Mutex::new(None),
            cloudwatch: None,
        }
    }

    /// Reads scheduled reports through this CloudWatch client instead of one built from the
    /// environment (another endpoint or region, or a test's).
    pub fn with_cloudwatch(mut self, client: aws_sdk_cloudwatch::Client) -> Handler {
        self.cloudwatch = Some(client);
        self
    }

    /// Handles one event: metrics to stdout, then notices, and for Kinesis an empty
    /// partial-batch response. The metrics are out before any notice is sent, so a failed notice
    /// never fails the invocation (a retry would duplicate the metrics).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
        // The template's report schedule invokes this same function: not a log delivery.
        if crate::report::is_scheduled_event(&event.payload) {
            return Ok(self.scheduled_report(&event.payload).await?);
        }
        let ingested = self.ingest(&event.payload);
        write_documents(&mut std::io::stdout().lock(), &ingested.outcome.documents)?;
        let notice_documents = self.notify(&ingested.notices, event.context.deadline).await;
        write_documents(&mut std::io::stdout().lock(), &notice_documents)?;
        let t = &ingested.outcome.telemetry;
        info!(
            request_id = %event.context.request_id,
            batches = t.get(ProcessorMetric::BatchesProcessed),
            events = t.get(ProcessorMetric::EventsProcessed),
            decode_failures = t.get(ProcessorMetric::DecodeFailures),
            notices = ingested.notices.len(),
            invocations_with_news = ingested.outcome.invocations.len(),
            documents = ingested.outcome.documents.len(),
            "Processed an event."
        );
        Ok(ingested.response)
    }

    /// Makes the scheduled report (`DailyReportSchedule` in the template) from CloudWatch and
    /// publishes it to the notices topic. A failure fails the invocation, so that it shows in
    /// Lambda's Errors metric and Lambda retries it like any asynchronous invocation.
    pub async fn scheduled_report(&self, event: &Value) -> Result<Value, crate::report::ReportError> {
        let config = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.processor.config().clone()
        };
        let now = wall_ms() / 1000;
        crate::report::scheduled(event, &config, self.cloudwatch.as_ref(), self.publisher.as_ref(), now).await
    }

    /// The first phase: process the event and decide the notices (no I/O).
    pub fn ingest(&self, payload: &Value) -> Ingested {
        // A panic elsewhere cannot leave the state half-updated in a way that matters more than
        // losing the container's memory, so a poisoned lock is simply reused.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let State { processor, notifier } = &mut *state;
        let outcome = processor.handle_event(payload);
        let notices = notifier.notices_for(processor.config(), &outcome.invocations);
        let response = match outcome.shape {
            Shape::Kinesis => serde_json::to_value(KinesisEventResponse::default()).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Ingested {
            outcome,
            notices,
            response,
        }
    }

    /// The second phase: deliver the notices within the time left before `deadline_ms` (epoch
    /// ms; 0 or any time already past means none) and return the EMF documents that count them.
    pub async fn notify(&self, notices: &[Notice], deadline_ms: u64) -> Vec<String> {
        if notices.is_empty() {
            return Vec::new();
        }
        let now_ms = wall_ms().max(0) as u64;
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(Duration::from_secs(2));
        // A deadline in the past means none was given (cargo-lambda's emulator sends a fixed
        // 600000): use the notice budget alone.
        let budget = if deadline_ms <= now_ms {
            NOTICE_BUDGET
        } else {
            left.min(NOTICE_BUDGET)
        };
        let down = self
            .sns_down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| Instant::now() < until);
        let delivery = deliver(self.publisher.as_ref(), notices, Instant::now() + budget, down).await;
        if delivery.sns_failed {
            *self.sns_down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + SNS_BACKOFF);
        }
        let mut telemetry = Telemetry::default();
        telemetry.add(ProcessorMetric::NoticesSent, delivery.sent);
        telemetry.add(ProcessorMetric::NoticeFailures, delivery.failed);
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.processor.telemetry_documents(
            &telemetry,
            &[ProcessorMetric::NoticesSent, ProcessorMetric::NoticeFailures],
            now_ms as i64,
        )
    }
}

/// What the first phase of handling an event produced.
pub struct Ingested {
    /// The processor's outcome (EMF documents included).
    pub outcome: Outcome,
    /// The notices to deliver.
    pub notices: Vec<Notice>,
    /// The invocation's response.
    pub response: Value,
}

#[cfg(test)]
mod namespace_tests {
    use super::*;

    const SAMPLE: &str = "namespace = \"FromToml\"\n[defaults]\ntimeout_seconds = 60";

    #[test]
    fn watchdog_namespace_overrides_the_configs_namespace_and_keeps_the_rest() {
        let config = config_from_texts(Some(SAMPLE), Some("Team/Watchdog")).unwrap();
        assert_eq!(config.namespace, "Team/Watchdog");
        assert_eq!(config.defaults.timeout_seconds, 60.0);
        let config = config_from_texts(None, Some("Team/Watchdog")).unwrap();
        assert_eq!(config.namespace, "Team/Watchdog");
    }

    #[test]
    fn an_unset_or_blank_watchdog_namespace_leaves_the_configs_namespace() {
        for blank in [None, Some(""), Some("  ")] {
            assert_eq!(config_from_texts(Some(SAMPLE), blank).unwrap().namespace, "FromToml");
        }
        assert_eq!(config_from_texts(Some(" "), None).unwrap().namespace, "LambdaWatchdog");
    }

    #[test]
    fn a_bad_watchdog_namespace_fails_the_cold_start_naming_the_variable() {
        for bad in ["AWS/Lambda", "has space", "quote\"d", &"x".repeat(256)] {
            let err = config_from_texts(Some(SAMPLE), Some(bad)).unwrap_err().to_string();
            assert!(err.contains("`WATCHDOG_NAMESPACE` is not valid"), "{bad}: {err}");
        }
    }
}

#[cfg(test)]
mod scheduled_tests {
    use aws_sdk_cloudwatch::Client;
    use aws_sdk_cloudwatch::config::retry::RetryConfig;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
    use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataResult, StatusCode};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    const SCHEDULED: &str = include_str!("../tests/data/scheduled-event.json");

    /// CloudWatch as the report sees it: one watched function that ran 120 invocations in the
    /// last day, 9 of them timed out; every other series is zero.
    fn cloudwatch() -> (Client, aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let listed = mock!(Client::list_metrics).then_output(|| {
            ListMetricsOutput::builder()
                .metrics(
                    CwMetric::builder()
                        .namespace("LambdaWatchdog")
                        .metric_name("Invocations")
                        .dimensions(
                            Dimension::builder()
                                .name("FunctionName")
                                .value("scraper-worker")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let data = mock!(Client::get_metric_data).then_compute_output(|request| {
            let start = request.start_time().map_or(0, DateTime::secs);
            let results = request.metric_data_queries().iter().map(|q| {
                let name = q.metric_stat().and_then(|s| s.metric()).and_then(|m| m.metric_name());
                let value = match name {
                    Some("Invocations") => 120.0,
                    Some("Timeouts") => 9.0,
                    _ => 0.0,
                };
                MetricDataResult::builder()
                    .set_id(q.id().map(str::to_owned))
                    .timestamps(DateTime::from_secs(start + 3600))
                    .values(value)
                    .status_code(StatusCode::Complete)
                    .build()
            });
            GetMetricDataOutput::builder()
                .set_metric_data_results(Some(results.collect()))
                .build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&listed, &data], |c| c
            .retry_config(RetryConfig::disabled()));
        (client, listed, data)
    }

    /// The scheduled event, handled as Lambda hands it over, by a handler reading `client`.
    async fn scheduled_through_handler(client: Client) -> Result<Value, lambda_runtime::Error> {
        let processor = Processor::new(Config::default(), Clock::Wall, None, "lambda-watchdog");
        let handler = Handler::new(processor, None).with_cloudwatch(client);
        let event: Value = serde_json::from_str(SCHEDULED).unwrap();
        handler
            .handle(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await
    }

    #[tokio::test]
    async fn a_scheduled_event_through_the_handler_reports_what_cloudwatch_holds() {
        let (client, listed, data) = cloudwatch();
        let response = scheduled_through_handler(client)
            .await
            .expect("the scheduled report succeeds");
        assert_eq!(
            response["report"],
            "lambda-watchdog report (24h): 9 timeouts in 1 of 1 functions"
        );
        assert_eq!(response["functions"], 1);
        assert_eq!(
            response["message_id"],
            Value::Null,
            "no topic: the report is only logged"
        );
        assert_eq!(listed.num_calls(), 1);
        assert!(data.num_calls() >= 1);
    }

    #[tokio::test]
    async fn a_failing_cloudwatch_fails_the_scheduled_invocation_so_lambda_retries_it() {
        let denied = mock!(Client::list_metrics).then_error(|| {
            aws_sdk_cloudwatch::operation::list_metrics::ListMetricsError::generic(
                aws_sdk_cloudwatch::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized to perform: cloudwatch:ListMetrics")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&denied], |c| c
            .retry_config(RetryConfig::disabled()));
        let err = scheduled_through_handler(client)
            .await
            .expect_err("the invocation fails");
        assert!(err.to_string().contains("AccessDenied"), "{err}");
    }
}
