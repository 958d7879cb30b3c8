//! Notices through real SNS calls: against a local AWS API server (moto_server), read back from
//! an SQS queue subscribed to the topic; and with SNS unreachable or hanging, the invocation
//! still succeeds within its time budget, the notice is in the log and the failure is counted.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::moto::{Moto, drain, topic_with_queue};
use common::{event_files, root, sample_config, totals};
use lambda_watchdog::lambda::Handler;
use lambda_watchdog::notify::sns::Publisher;
use lambda_watchdog::processor::{Clock, Processor};
use serde_json::Value;

#[tokio::test(flavor = "current_thread")]
async fn replayed_notices_arrive_through_sns_with_subject_attributes_samples_links_and_advice() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let (topic, queue) = topic_with_queue(&config, "watchdog-notices").await;
    let notices_file = std::env::temp_dir().join(format!("lw-notices-{}.jsonl", std::process::id()));

    let out = Command::new(env!("CARGO_BIN_EXE_lambda-watchdog"))
        .args([
            "replay",
            "--output",
            "json",
            "--publish",
            "--topic-arn",
            &topic,
            "--notices",
        ])
        .arg(&notices_file)
        .arg("events/")
        .current_dir(root())
        .envs(moto.env())
        .env_remove("WATCHDOG_CONFIG")
        .output()
        .expect("the CLI runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let written = std::fs::read_to_string(&notices_file).unwrap();
    let expected = written.lines().count() as u64;
    assert!(expected >= 10, "the samples call for alerts and advice, got {expected}");
    assert_eq!(report["processor"]["NoticesSent"].as_u64(), Some(expected));
    assert_eq!(report["processor"]["NoticeFailures"].as_u64(), Some(0));

    let delivered = drain(&config, &queue).await;
    assert_eq!(delivered.len() as u64, expected, "every notice reaches the queue");
    let mut classes = Vec::new();
    for envelope in &delivered {
        let subject = envelope["Subject"].as_str().unwrap();
        assert!(subject.starts_with("[watchdog] ") && subject.len() <= 100, "{subject}");
        let attrs = &envelope["MessageAttributes"];
        for key in ["function", "class", "severity"] {
            assert_eq!(attrs[key]["Type"], "String", "{key} in {attrs}");
        }
        // SQS subscribers get the machine-readable notice.
        let notice: Value =
            serde_json::from_str(envelope["Message"].as_str().unwrap()).expect("the sqs message is the JSON notice");
        assert_eq!(notice["function"], attrs["function"]["Value"]);
        assert_eq!(notice["class"], attrs["class"]["Value"]);
        classes.push((
            notice["function"].as_str().unwrap().to_string(),
            notice["class"].as_str().unwrap().to_string(),
        ));
        if notice["kind"] == "alert" {
            assert!(!notice["request_ids"].as_array().unwrap().is_empty(), "{notice}");
            let sample = &notice["samples"][0];
            assert!(sample["line"].as_str().is_some_and(|l| !l.is_empty()), "{notice}");
            let link = sample["link"].as_str().unwrap();
            // The function's own group, or the custom group it shares (`/shared/lambda`).
            let group = if notice["function"] == "pricing" || notice["function"] == "quotes" {
                "$252Fshared$252Flambda/"
            } else {
                "$252Faws$252Flambda$252F"
            };
            let at = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/";
            assert!(link.starts_with(&format!("{at}{group}")), "{link}");
            assert!(
                notice["insights_link"]
                    .as_str()
                    .unwrap()
                    .contains("logs-insights$3FqueryDetail$3D~(")
            );
        }
    }
    for (function, class) in [
        ("uploader", "Timeouts"),
        ("uploader", "OutOfMemory"),
        ("uploader", "TooManyConnections"),
        ("orch-user", "RateLimited"),
        ("orch-files", "TooManyConnections"),
        ("quotes", "RateLimited"),
        ("invoicer", "OutOfMemory"),
        ("scraper-worker", "ChunkSize"),
    ] {
        assert!(
            classes.contains(&(function.into(), class.into())),
            "no {class} notice for {function}: {classes:?}"
        );
    }
    let advice = delivered
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["Message"].as_str().unwrap()).unwrap())
        .find(|n| n["function"] == "scraper-worker" && n["kind"] == "advice")
        .unwrap();
    assert_eq!(advice["advice"]["direction"], "larger");
    assert_eq!(advice["advice"]["chunk_size"], 50.0);
    assert!(advice["advice"]["suggested_chunk_size"].as_u64().unwrap() > 50);
    std::fs::remove_file(notices_file).unwrap();
}

async fn handler_with_sns_at(endpoint: &str) -> Handler {
    handler_with_topic(endpoint, "arn:aws:sns:us-east-1:123456789012:watchdog").await
}

async fn handler_with_topic(endpoint: &str, topic_arn: &str) -> Handler {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "test", "test", None, None, "tests",
        ));
    let publisher = Publisher::with_loader(loader, topic_arn).await;
    Handler::new(
        Processor::new(sample_config(), Clock::FollowLogs, None, "lambda-watchdog"),
        Some(publisher),
    )
}

/// Runs every sample event through the handler's two phases; returns the notice counters and
/// the longest time one invocation spent on notices.
async fn run_samples(handler: &Handler, deadline_in: Duration) -> (f64, f64, Duration) {
    let mut documents = Vec::new();
    let mut slowest = Duration::ZERO;
    for file in event_files() {
        let event: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let ingested = handler.ingest(&event);
        let deadline_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            + deadline_in;
        let started = Instant::now();
        documents.extend(handler.notify(&ingested.notices, deadline_ms.as_millis() as u64).await);
        slowest = slowest.max(started.elapsed());
    }
    let t = totals(&documents, "Processor");
    let p = t.get("lambda-watchdog").expect("the processor's notice metrics");
    let metric = |name: &str| *p.get(name).unwrap_or_else(|| panic!("no {name} metric in {p:?}"));
    (metric("NoticesSent"), metric("NoticeFailures"), slowest)
}

#[tokio::test(flavor = "current_thread")]
async fn a_function_with_three_seconds_left_publishes_when_sns_answers_and_logs_before_its_deadline_when_sns_hangs() {
    // A subscriber of its own, as the other test here has: tracing caches which call sites are
    // enabled, and a test without one running beside a test with one can make it miss lines.
    let (logs, _guard) = common::logs::capture();
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let (topic, queue) = topic_with_queue(&config, "watchdog-short").await;
    let three_seconds = Duration::from_secs(3);

    let handler = handler_with_topic(&moto.endpoint, &topic).await;
    let (sent, failed, _) = run_samples(&handler, three_seconds).await;
    assert!(sent >= 10.0, "the samples' notices are published, got {sent}");
    assert_eq!(failed, 0.0, "none is refused for lack of time");
    assert_eq!(
        drain(&config, &queue).await.len() as f64,
        sent,
        "every one reaches the queue"
    );

    // SNS accepts connections and never answers: each invocation gives up before its deadline.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let handler = handler_with_topic(&hanging, &topic).await;
    let (sent, failed, slowest) = run_samples(&handler, three_seconds).await;
    assert_eq!(sent, 0.0);
    assert!(failed >= 10.0, "every notice is logged and counted, got {failed}");
    assert!(
        slowest < three_seconds,
        "an invocation with 3 s left spent {slowest:?} on notices"
    );
    let text = logs.text();
    assert!(
        text.contains("Could not deliver a notice; here it is in full."),
        "{text}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn with_sns_unreachable_or_hanging_the_invocation_finishes_in_time_and_logs_the_notice() {
    let (logs, _guard) = common::logs::capture();

    // Unreachable: nothing listens on the port.
    let closed = format!("http://127.0.0.1:{}", common::moto::free_port());
    let handler = handler_with_sns_at(&closed).await;
    let (sent, failed, slowest) = run_samples(&handler, Duration::from_secs(20)).await;
    assert_eq!(sent, 0.0);
    assert!(failed >= 10.0, "every notice is counted as failed, got {failed}");
    assert!(
        slowest < Duration::from_secs(18),
        "notices took {slowest:?} of a 20 s invocation"
    );

    // Hanging: a server that accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let handler = handler_with_sns_at(&hanging).await;
    let (sent, failed, slowest) = run_samples(&handler, Duration::from_secs(20)).await;
    assert_eq!(sent, 0.0);
    assert!(failed >= 10.0);
    assert!(
        slowest < Duration::from_secs(18),
        "a hanging SNS held an invocation for {slowest:?}"
    );

    let text = logs.text();
    assert!(
        text.contains("Could not deliver a notice; here it is in full."),
        "{text}"
    );
    assert!(
        text.contains(r#""function":"uploader""#) || text.contains(r#"\"function\":\"uploader\""#),
        "the whole notice is in the log"
    );
}
