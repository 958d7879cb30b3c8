//! The dead-letter check against a local AWS API server (moto_server): a fleet dead-letter
//! queue holding Lambda's asynchronous failure records and an SQS redrive message, the
//! function's log group holding those invocations' lines, the queue's alarm event handled by
//! the function, and the notice read back from SNS. Faults: an empty queue, a message without
//! a request id, a log group that is gone, SNS down.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use common::moto::{Moto, drain, topic_with_queue};
use lambda_watchdog::Config;
use lambda_watchdog::dlq::aws::Clients;
use lambda_watchdog::lambda::Handler;
use lambda_watchdog::notify::sns::Publisher;
use lambda_watchdog::processor::{Clock, Processor, wall_ms};
use serde_json::Value;

const ALARM: &str = include_str!("data/dlq-alarm-event.json");
const TIMED_OUT: &str = "0b6f2a1e-5d4c-4b3a-9e8f-7a6b5c4d3e2f";
const OUT_OF_MEMORY: &str = "1c7a3b2f-6e5d-4c4b-8f9a-8b7c6d5e4f3a";
const RATE_LIMITED: &str = "2d8b4c3a-7f6e-4d5c-9a0b-9c8d7e6f5a4b";
const FUNCTION: &str = "uploader";
const DLQ: &str = "uploader-dlq";

fn string(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap()
}

fn number(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("Number")
        .string_value(value)
        .build()
        .unwrap()
}

fn report(id: &str, tail: &str) -> String {
    format!(
        "REPORT RequestId: {id}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t{tail}\n"
    )
}

/// Lambda's lines of the two failed asynchronous invocations, the last one 39 s before `now`.
fn async_lines(now: i64) -> Vec<(i64, String)> {
    let t = now - 50_000;
    vec![
        (t, format!("START RequestId: {TIMED_OUT} Version: $LATEST\n")),
        (
            t + 10,
            format!("2026-11-29T10:00:00.010Z\t{TIMED_OUT}\tINFO\tuploading key=reports/7.csv\n"),
        ),
        (
            t + 3_000,
            format!("2026-11-29T10:00:03.000Z {TIMED_OUT} Task timed out after 3.00 seconds\n"),
        ),
        (t + 3_001, format!("END RequestId: {TIMED_OUT}\n")),
        (t + 3_002, report(TIMED_OUT, "Status: timeout")),
        (
            t + 10_000,
            format!("START RequestId: {OUT_OF_MEMORY} Version: $LATEST\n"),
        ),
        (
            t + 10_900,
            report(OUT_OF_MEMORY, "Status: error\tError Type: Runtime.OutOfMemory"),
        ),
    ]
}

/// The lines of the invocation that received the redriven message and was rate-limited, just
/// after `now`.
fn redrive_lines(now: i64) -> Vec<(i64, String)> {
    vec![
        (now + 1, format!("START RequestId: {RATE_LIMITED} Version: $LATEST\n")),
        (
            now + 2,
            format!("2026-11-29T10:00:40.010Z\t{RATE_LIMITED}\tERROR\tThrottlingException: Rate exceeded\n"),
        ),
        (now + 3, format!("END RequestId: {RATE_LIMITED}\n")),
        (
            now + 4,
            format!(
                "REPORT RequestId: {RATE_LIMITED}\tDuration: 20.00 ms\tBilled Duration: 20 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t\n"
            ),
        ),
    ]
}

const STREAM: &str = "2026/11/29/[$LATEST]4f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn put_lines(sdk: &aws_config::SdkConfig, lines: Vec<(i64, String)>) {
    let events = lines.into_iter().map(|(t, m)| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(t)
            .message(m)
            .build()
            .unwrap()
    });
    aws_sdk_cloudwatchlogs::Client::new(sdk)
        .put_log_events()
        .log_group_name(format!("/aws/lambda/{FUNCTION}"))
        .log_stream_name(STREAM)
        .set_log_events(Some(events.collect()))
        .send()
        .await
        .unwrap();
}

struct Fleet {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    topic: String,
    inbox: String,
    dlq_url: String,
}

/// A topic with an inbox queue, the dead-letter queue and, when `with_logs`, the function's
/// log group with its lines.
async fn fleet(with_logs: bool) -> Fleet {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (topic, inbox) = topic_with_queue(&sdk, "watchdog-notices").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq_url = sqs
        .create_queue()
        .queue_name(DLQ)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    if with_logs {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let group = format!("/aws/lambda/{FUNCTION}");
        logs.create_log_group().log_group_name(&group).send().await.unwrap();
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name(STREAM)
            .send()
            .await
            .unwrap();
        put_lines(&sdk, async_lines(wall_ms())).await;
    }
    Fleet {
        moto,
        sdk,
        topic,
        inbox,
        dlq_url,
    }
}

impl Fleet {
    /// Lambda's asynchronous dead letter for the timed-out invocation, an on-failure record
    /// for the out-of-memory one, and a message that SQS redrove (no request id).
    async fn fill(&self) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        sqs.send_message()
            .queue_url(&self.dlq_url)
            .message_body(r#"{"key":"reports/7.csv"}"#)
            .message_attributes("RequestID", string(TIMED_OUT))
            .message_attributes("ErrorCode", number("200"))
            .message_attributes(
                "ErrorMessage",
                string("2026-11-29T10:00:03.000Z Task timed out after 3.00 seconds"),
            )
            .send()
            .await
            .unwrap();
        let record = serde_json::json!({
            "version": "1.0",
            "timestamp": lambda_watchdog::present::rfc3339_ms(wall_ms()),
            "requestContext": {
                "requestId": OUT_OF_MEMORY,
                "functionArn": format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}:$LATEST"),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": {"key": "reports/8.csv", "token": "Bearer abcdefghijklmnopqrstuvwxyz0123456789"},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "Runtime.OutOfMemory", "errorMessage": "Runtime exited with error: signal: killed"}
        });
        sqs.send_message()
            .queue_url(&self.dlq_url)
            .message_body(record.to_string())
            .send()
            .await
            .unwrap();
    }

    /// A message SQS redrove here (no request id); with `logs`, the consumer's rate-limited
    /// invocation of it, logged after it was sent.
    async fn redriven(&self, logs: bool) {
        aws_sdk_sqs::Client::new(&self.sdk)
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(r#"{"order":42}"#)
            .send()
            .await
            .unwrap();
        if logs {
            tokio::time::sleep(Duration::from_millis(20)).await;
            put_lines(&self.sdk, redrive_lines(wall_ms())).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The function, with the queue's function named in the config.
    async fn handler(&self, topic: &str, sns_endpoint: &str) -> Handler {
        let config =
            Config::from_toml_str(&format!("[[queue]]\nname = \"{DLQ}\"\nfunction = \"{FUNCTION}\"\n")).unwrap();
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(sns_endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "test", "test", None, None, "tests",
            ));
        let publisher = Publisher::with_loader(loader, topic).await;
        Handler::new(
            Processor::new(config, Clock::Wall, None, "lambda-watchdog"),
            Some(publisher),
        )
        .with_dead_letter_check(Clients::new(&self.sdk), vec![DLQ.to_string()])
    }

    async fn alarm(&self, handler: &Handler) -> (Value, Duration) {
        let event: Value = serde_json::from_str(ALARM).unwrap();
        let started = Instant::now();
        let response = handler
            .handle(lambda_runtime::LambdaEvent::new(
                event,
                lambda_runtime::Context::default(),
            ))
            .await
            .expect("the check never fails the invocation");
        (response, started.elapsed())
    }

    async fn visible(&self) -> u64 {
        let out = aws_sdk_sqs::Client::new(&self.sdk)
            .get_queue_attributes()
            .queue_url(&self.dlq_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .expect("the queue reports its message count")
            .parse()
            .unwrap()
    }

    /// The one notice SNS delivered to the queue subscriber: (subject, the notice as JSON text,
    /// the message attributes).
    async fn notice(&self) -> (String, String, Value) {
        let delivered = drain(&self.sdk, &self.inbox).await;
        assert_eq!(delivered.len(), 1, "one notice per queue: {delivered:?}");
        (
            delivered[0]["Subject"].as_str().unwrap().to_string(),
            delivered[0]["Message"].as_str().unwrap().to_string(),
            delivered[0]["MessageAttributes"].clone(),
        )
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_dead_letter_alarm_sends_the_failed_invocations_lines_classes_and_links_and_leaves_the_messages() {
    let fleet = fleet(true).await;
    fleet.fill().await;
    fleet.redriven(true).await;
    let handler = fleet.handler(&fleet.topic, &fleet.moto.endpoint).await;
    let (response, took) = fleet.alarm(&handler).await;
    assert_eq!(response["dead_letter_check"][0]["result"], "published", "{response}");
    assert!(took < Duration::from_secs(30), "{took:?}");

    let (subject, json, attributes) = fleet.notice().await;
    assert!(
        subject.starts_with("[watchdog] dead letters: 3 messages in uploader-dlq ("),
        "{subject}"
    );
    for class in ["Timeouts", "OutOfMemory", "RateLimited"] {
        assert!(subject.contains(class), "{class} in {subject}");
    }
    for (key, value) in [
        ("kind", "dead-letter"),
        ("class", "DeadLetters"),
        ("severity", "critical"),
        ("function", FUNCTION),
        ("queue", DLQ),
    ] {
        assert_eq!(attributes[key]["Value"], value, "{key} in {attributes}");
    }
    // The queue subscriber gets the notice as JSON (e-mail gets its text, unit-tested).
    let notice: Value = serde_json::from_str(&json).expect("the SQS message is the JSON notice");
    let messages = notice["messages"].as_array().unwrap();
    let by_id = |id: &str| {
        messages
            .iter()
            .find(|m| m["request_ids"].as_array().unwrap().iter().any(|r| r == id))
            .unwrap_or_else(|| panic!("{id} in {notice}"))
    };
    let lines = |m: &Value| -> String {
        m["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cases = [
        (
            TIMED_OUT,
            "async-dead-letter",
            "Timeouts",
            "Task timed out after 3.00 seconds",
        ),
        (
            OUT_OF_MEMORY,
            "on-failure-record",
            "OutOfMemory",
            "Error Type: Runtime.OutOfMemory",
        ),
        (
            RATE_LIMITED,
            "redrive",
            "RateLimited",
            "ThrottlingException: Rate exceeded",
        ),
    ];
    for (id, origin, class, line) in cases {
        let m = by_id(id);
        assert_eq!(m["tie"]["origin"], origin, "{m}");
        assert_eq!(m["function"], FUNCTION, "{m}");
        assert_eq!(m["classes"], serde_json::json!([class]), "{m}");
        assert!(lines(m).contains(line), "{line} in {m}");
        assert!(
            m["log_link"].as_str().unwrap().starts_with("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fuploader/log-events/"),
            "{m}"
        );
    }
    assert_eq!(
        by_id(OUT_OF_MEMORY)["tie"]["error"],
        "Runtime.OutOfMemory: Runtime exited with error: signal: killed (RetriesExhausted)"
    );
    assert!(
        notice["queue_link"]
            .as_str()
            .unwrap()
            .starts_with("https://us-east-1.console.aws.amazon.com/sqs/v3/home?region=us-east-1#/queues/")
    );
    assert_eq!(notice["insights_links"][0][0], "/aws/lambda/uploader");
    assert!(
        notice["insights_links"][0][1]
            .as_str()
            .unwrap()
            .contains("#logsV2:logs-insights")
    );
    assert_eq!(notice["stats"]["visible"], 3);
    assert!(
        !json.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
        "the token in a body is masked:\n{json}"
    );
    assert_eq!(fleet.visible().await, 3, "peeking leaves every message in the queue");

    // Within the cooldown a second alarm sends nothing more.
    let (response, _) = fleet.alarm(&handler).await;
    assert_eq!(response["dead_letter_check"][0]["result"], "cooldown", "{response}");
    assert!(drain(&fleet.sdk, &fleet.inbox).await.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn an_alarm_for_a_queue_already_emptied_says_the_queue_is_empty() {
    let fleet = fleet(true).await;
    let handler = fleet.handler(&fleet.topic, &fleet.moto.endpoint).await;
    let (response, _) = fleet.alarm(&handler).await;
    assert_eq!(response["dead_letter_check"][0]["result"], "published", "{response}");
    let (subject, text, _) = fleet.notice().await;
    assert_eq!(subject, "[watchdog] dead letters: 0 messages in uploader-dlq");
    assert!(text.contains("The queue is empty now"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_without_request_id_and_a_missing_log_group_are_named_in_the_notice() {
    let fleet = fleet(false).await;
    fleet.redriven(false).await;
    let handler = fleet.handler(&fleet.topic, &fleet.moto.endpoint).await;
    let (response, _) = fleet.alarm(&handler).await;
    assert_eq!(response["dead_letter_check"][0]["result"], "published", "{response}");
    let (_, text, _) = fleet.notice().await;
    assert!(text.contains("The message carries no request id"), "{text}");
    assert!(text.contains("Log group /aws/lambda/uploader does not exist"), "{text}");
    assert_eq!(fleet.visible().await, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn with_sns_down_the_notice_is_logged_and_the_invocation_finishes_in_time() {
    let fleet = fleet(true).await;
    fleet.fill().await;
    // A port nobody listens on: SNS refuses every connection.
    let closed = format!("http://127.0.0.1:{}", common::moto::free_port());
    let handler = fleet.handler(&fleet.topic, &closed).await;
    let (response, took) = fleet.alarm(&handler).await;
    let outcome = &response["dead_letter_check"][0];
    assert_eq!(outcome["result"], "logged", "{response}");
    assert!(
        outcome["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not publish")),
        "{response}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(fleet.visible().await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn the_cli_prints_the_same_evidence_on_demand_and_leaves_the_messages() {
    let fleet = fleet(true).await;
    fleet.fill().await;
    let config = std::env::temp_dir().join(format!("lw-dlq-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!("[[queue]]\nname = \"{DLQ}\"\nfunction = \"{FUNCTION}\"\n"),
    )
    .unwrap();
    let run = |output: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_lambda-watchdog"))
            .args(["dlq", DLQ, "--since", "2h", "--output", output, "--config"])
            .arg(&config)
            .envs(fleet.moto.env())
            .env_remove("WATCHDOG_CONFIG")
            .output()
            .expect("the CLI runs")
    };
    let out = run("json");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let notice: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let messages = notice["messages"].as_array().unwrap();
    let by_id = |id: &str| {
        messages
            .iter()
            .find(|m| m["tie"]["request_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {notice}"))
    };
    assert_eq!(by_id(TIMED_OUT)["classes"], serde_json::json!(["Timeouts"]));
    assert_eq!(by_id(OUT_OF_MEMORY)["classes"], serde_json::json!(["OutOfMemory"]));
    assert!(by_id(TIMED_OUT)["lines"].as_array().unwrap().len() >= 4);

    let out = run("markdown");
    assert!(out.status.success());
    let markdown = String::from_utf8_lossy(&out.stdout);
    assert!(
        markdown.starts_with("## dead letters: 2 messages in uploader-dlq"),
        "{markdown}"
    );
    assert!(markdown.contains(&format!("| {TIMED_OUT} | Timeouts |")), "{markdown}");

    let out = run("table");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(OUT_OF_MEMORY));
    assert_eq!(fleet.visible().await, 2, "the CLI only peeks");
    std::fs::remove_file(config).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_alarm_for_a_queue_that_cannot_be_read_still_reaches_the_operator_with_the_reason() {
    let fleet = fleet(false).await;
    aws_sdk_sqs::Client::new(&fleet.sdk)
        .delete_queue()
        .queue_url(&fleet.dlq_url)
        .send()
        .await
        .unwrap();
    let handler = fleet.handler(&fleet.topic, &fleet.moto.endpoint).await;
    let (response, _) = fleet.alarm(&handler).await;
    let outcome = &response["dead_letter_check"][0];
    assert_eq!(outcome["result"], "published", "{response}");
    assert!(
        outcome["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not find queue uploader-dlq")),
        "{response}"
    );
    let (subject, text, _) = fleet.notice().await;
    assert_eq!(subject, "[watchdog] dead letters: could not check uploader-dlq");
    assert!(
        text.contains("Could not check the queue, so this notice has no evidence"),
        "{text}"
    );
}
