//! The Lambda entry point's logic: the shared [`Driver`] (one warm processor and notifier per
//! container), each event's EMF documents printed to stdout, notices delivered within the time
//! the invocation has left, and a response that never asks Lambda to retry (bad input is counted
//! and skipped; a retry would only duplicate metrics already written).

use std::sync::Arc;

use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::info;

use crate::config::Config;
use crate::driver::{Driver, Ingested, notice_budget};
use crate::logging::write_documents;
use crate::metrics::ProcessorMetric;
use crate::notify::Notice;
use crate::notify::sns::Publisher;
use crate::processor::{Clock, Processor, Shape, wall_ms};
use crate::state::{Dynamo, Store};

/// The handler state kept across invocations of a warm container.
pub struct Handler {
    driver: Driver,
    /// The CloudWatch client for scheduled reports; `None` builds one from the environment.
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
    /// The clients of the dead-letter check; `None` builds them from the environment.
    dlq_clients: Option<crate::dlq::aws::Clients>,
    /// The dead-letter check's cooldowns.
    dlq: crate::dlq::check::Checker,
    /// The watched dead-letter queues (`WATCHDOG_DEAD_LETTER_QUEUES`).
    dead_letter_queues: Vec<String>,
}

impl Handler {
    /// A handler for this config, reading its own log group and name from Lambda's variables,
    /// the notices topic from `WATCHDOG_TOPIC_ARN` (none: notices are only logged) and the
    /// shared state table from `WATCHDOG_STATE_TABLE` (none: each container decides alone).
    pub async fn from_env(config: Config) -> Handler {
        let own_group = std::env::var("AWS_LAMBDA_LOG_GROUP_NAME").ok();
        let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "lambda-watchdog".into());
        let publisher = Publisher::from_env().await;
        let mut processor = Processor::new(config, Clock::Wall, own_group, name);
        let table = std::env::var("WATCHDOG_STATE_TABLE").ok().filter(|t| !t.is_empty());
        if let Some(table) = table {
            match Dynamo::from_env(table.clone()).await {
                Ok(dynamo) => processor = processor.with_store(Arc::new(Store::Dynamo(dynamo))),
                Err(err) => tracing::warn!(
                    table = table.as_str(),
                    error = %err,
                    "Counting with this container's memory alone: the shared state table could not be set up."
                ),
            }
        }
        Handler::new(processor, publisher)
    }

    /// A handler around a processor and an optional SNS publisher.
    pub fn new(processor: Processor, publisher: Option<Publisher>) -> Handler {
        Handler {
            driver: Driver::new(processor, publisher),
            cloudwatch: None,
            dlq_clients: None,
            dlq: crate::dlq::check::Checker::default(),
            dead_letter_queues: crate::dlq::check::configured_queues(),
        }
    }

    /// Reads scheduled reports through this CloudWatch client instead of one built from the
    /// environment (another endpoint or region, or a test's).
    pub fn with_cloudwatch(mut self, client: aws_sdk_cloudwatch::Client) -> Handler {
        self.cloudwatch = Some(client);
        self
    }

    /// Runs the dead-letter check through these clients instead of ones built from the
    /// environment, for these watched queues.
    pub fn with_dead_letter_check(mut self, clients: crate::dlq::aws::Clients, queues: Vec<String>) -> Handler {
        self.dlq_clients = Some(clients);
        self.dead_letter_queues = queues;
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
        // A dead-letter queue's alarm, or the dead-letter check's schedule.
        if let Some(request) = crate::dlq::check::request_for(&event.payload, &self.dead_letter_queues) {
            return Ok(self.dead_letter_check(&request, event.context.deadline).await);
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
        Ok(match ingested.outcome.shape {
            Shape::Kinesis => serde_json::to_value(KinesisEventResponse::default()).unwrap_or(Value::Null),
            _ => Value::Null,
        })
    }

    /// Makes the scheduled report (`DailyReportSchedule` in the template) from CloudWatch and
    /// publishes it to the notices topic. A failure fails the invocation, so that it shows in
    /// Lambda's Errors metric and Lambda retries it like any asynchronous invocation.
    pub async fn scheduled_report(&self, event: &Value) -> Result<Value, crate::report::ReportError> {
        let config = self.driver.config();
        let now = wall_ms() / 1000;
        crate::report::scheduled(event, &config, self.cloudwatch.as_ref(), self.driver.publisher(), now).await
    }

    /// Checks the dead-letter queues `request` names and publishes one notice per queue outside
    /// its cooldown, within the time the invocation has left. Never fails the invocation: a
    /// retry would only repeat the same notices; what failed is logged and in the response.
    pub async fn dead_letter_check(&self, request: &crate::dlq::check::Request, deadline_ms: u64) -> Value {
        let config = self.driver.config();
        let clients = match &self.dlq_clients {
            Some(c) => c.clone(),
            None => crate::dlq::aws::Clients::from_env().await,
        };
        let now = wall_ms();
        let budget = notice_budget(deadline_ms, now.max(0) as u64);
        let outcomes = self
            .dlq
            .run(request, &clients, &config, self.driver.publisher(), now, budget)
            .await;
        // A notice that SNS did not take counts as a NoticeFailure, as every notice does; one
        // that was only logged because no topic is set counts as neither.
        let sent = outcomes.iter().filter(|o| o.result == "published").count() as u64;
        let failed = outcomes
            .iter()
            .filter(|o| o.result == "logged" && o.error.is_some())
            .count() as u64;
        if sent + failed > 0 {
            let (_, documents) = self.driver.count_notices(sent, failed);
            if let Err(err) = write_documents(&mut std::io::stdout().lock(), &documents) {
                tracing::warn!(error = %err, "Could not write the dead-letter notice metrics.");
            }
        }
        info!(
            queues = request.queues.len(),
            published = sent,
            failed,
            "Checked dead-letter queues."
        );
        serde_json::json!({ "dead_letter_check": outcomes })
    }

    /// The first phase: process the event and decide the notices (no I/O).
    pub fn ingest(&self, payload: &Value) -> Ingested {
        self.driver.ingest(payload)
    }

    /// The second phase: deliver the notices within the time left before `deadline_ms` (epoch
    /// ms; 0 or any time already past means none was given, see [`notice_budget`]) and return
    /// the EMF documents that count them.
    pub async fn notify(&self, notices: &[Notice], deadline_ms: u64) -> Vec<String> {
        let budget = notice_budget(deadline_ms, wall_ms().max(0) as u64);
        self.driver.deliver(notices, budget).await.documents
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
            response["report"], "lambda-watchdog report (24h, us-east-1): 9 timeouts in 1 of 1 functions",
            "the subject names the client's Region"
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
