use super::aws::{filter_pattern, search_window};
use super::*;

const A: &str = "6f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const B: &str = "7a1b2c3d-4e5f-4a6b-9c8d-1e2f3a4b5c6d";
const T: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z

fn message(body: &str, attributes: &[(&str, &str)], message_attributes: &[(&str, &str)]) -> Peeked {
    Peeked {
        message_id: "m-1".into(),
        body: body.into(),
        attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        message_attributes: message_attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn line(offset_ms: i64, text: &str) -> FetchedLine {
    FetchedLine {
        timestamp_ms: T + offset_ms,
        log_stream: "2026/11/29/[$LATEST]0123456789abcdef".into(),
        message: text.into(),
    }
}

#[test]
fn queue_urls_give_name_account_and_region() {
    let cases = [
        (
            "an AWS queue URL",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq",
            Some(("orders-dlq", "123456789012", "eu-west-1")),
        ),
        (
            "the legacy host name",
            "https://eu-west-1.queue.amazonaws.com/123456789012/orders-dlq",
            Some(("orders-dlq", "123456789012", "eu-west-1")),
        ),
        (
            "a local endpoint takes the default Region",
            "http://127.0.0.1:5000/123456789012/orders-dlq",
            Some(("orders-dlq", "123456789012", "us-east-1")),
        ),
        ("a bare name", "orders-dlq", None),
        (
            "no queue name",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/",
            None,
        ),
        ("an extra path part", "https://sqs.eu-west-1.amazonaws.com/1/q/x", None),
    ];
    for (name, url, expected) in cases {
        let got = QueueRef::from_url(url, "us-east-1").ok();
        let got = got
            .as_ref()
            .map(|q| (q.name.as_str(), q.account.as_str(), q.region.as_str()));
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn each_kind_of_dead_letter_is_tied_to_its_invocation() {
    let on_failure = format!(
        r#"{{"version":"1.0","timestamp":"2026-11-29T10:00:05.250Z","requestContext":{{"requestId":"{A}","functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:uploader:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3}},"requestPayload":{{"key":"k"}},"responseContext":{{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"}},"responsePayload":{{"errorType":"Error","errorMessage":"upload failed"}}}}"#
    );
    let cases = [
        (
            "an async dead letter carries the request id and error in attributes",
            message(
                r#"{"key":"k"}"#,
                &[("SentTimestamp", "1795946405000")],
                &[
                    ("RequestID", A),
                    ("ErrorCode", "200"),
                    ("ErrorMessage", "Task timed out after 3.00 seconds"),
                ],
            ),
            Tie {
                origin: Origin::AsyncDeadLetter,
                function: None,
                request_id: Some(A.into()),
                error: Some("Task timed out after 3.00 seconds (error code 200)".into()),
                time_ms: Some(T + 5_000),
            },
        ),
        (
            "an on-failure record names its function, request id and error",
            message(&on_failure, &[("SentTimestamp", "1795946409000")], &[]),
            Tie {
                origin: Origin::OnFailureRecord,
                function: Some("uploader".into()),
                request_id: Some(A.into()),
                error: Some("Error: upload failed (RetriesExhausted)".into()),
                time_ms: Some(T + 5_250),
            },
        ),
        (
            "a redriven message has only its sent time",
            message(r#"{"order":42}"#, &[("SentTimestamp", "1795946400000")], &[]),
            Tie {
                origin: Origin::Redrive,
                function: None,
                request_id: None,
                error: None,
                time_ms: Some(T),
            },
        ),
        (
            "a body with a requestContext that is not an object is a redrive",
            message(r#"{"requestContext":"x"}"#, &[], &[]),
            Tie {
                origin: Origin::Redrive,
                function: None,
                request_id: None,
                error: None,
                time_ms: None,
            },
        ),
    ];
    for (name, m, expected) in cases {
        assert_eq!(tie(&m), expected, "{name}");
    }
}

#[test]
fn function_names_come_out_of_arns_with_or_without_qualifier() {
    let cases = [
        ("arn:aws:lambda:eu-west-1:123456789012:function:uploader", "uploader"),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:uploader:$LATEST",
            "uploader",
        ),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:uploader:live",
            "uploader",
        ),
        ("uploader", "uploader"),
    ];
    for (arn, name) in cases {
        assert_eq!(function_from_arn(arn), name, "{arn}");
    }
}

#[test]
fn fetched_lines_are_classified_by_the_processor() {
    let report = |id: &str, status: &str| {
        format!(
            "REPORT RequestId: {id}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t{status}\n"
        )
    };
    // (case, lines, classes, request ids of failed invocations)
    type Case = (&'static str, Vec<FetchedLine>, Vec<&'static str>, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        (
            "a timed-out invocation is a timeout",
            vec![
                line(0, &format!("START RequestId: {A} Version: $LATEST\n")),
                line(
                    3_000,
                    &format!("2026-11-29T10:00:03.000Z {A} Task timed out after 3.00 seconds\n"),
                ),
                line(3_001, &format!("END RequestId: {A}\n")),
                line(3_002, &report(A, "Status: timeout")),
            ],
            vec!["Timeouts"],
            vec![A],
        ),
        (
            "an out-of-memory report is OOM",
            vec![
                line(0, &format!("START RequestId: {B} Version: $LATEST\n")),
                line(900, &report(B, "Status: error\tError Type: Runtime.OutOfMemory")),
            ],
            vec!["OutOfMemory"],
            vec![B],
        ),
        (
            "a rate-limit error is a rate limit",
            vec![
                line(0, &format!("START RequestId: {A} Version: $LATEST\n")),
                line(
                    10,
                    &format!("2026-11-29T10:00:00.010Z\t{A}\tERROR\tThrottlingException: Rate exceeded\n"),
                ),
                line(20, &format!("END RequestId: {A}\n")),
                line(
                    30,
                    &format!(
                        "REPORT RequestId: {A}\tDuration: 20.00 ms\tBilled Duration: 20 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t\n"
                    ),
                ),
            ],
            vec!["RateLimited"],
            vec![A],
        ),
        (
            "an error alone is an error",
            vec![
                line(0, &format!("START RequestId: {B} Version: $LATEST\n")),
                line(
                    10,
                    &format!("2026-11-29T10:00:00.010Z\t{B}\tERROR\tInvoke Error: upload failed\n"),
                ),
                line(20, &format!("END RequestId: {B}\n")),
                line(
                    30,
                    &format!(
                        "REPORT RequestId: {B}\tDuration: 20.00 ms\tBilled Duration: 20 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t\n"
                    ),
                ),
            ],
            vec!["Errors"],
            vec![B],
        ),
        ("no lines, no classes", vec![], vec![], vec![]),
    ];
    for (name, lines, classes, ids) in cases {
        let (got, found) = classify(&Config::default(), "uploader", &lines);
        assert_eq!(got, classes, "{name}");
        assert_eq!(found, ids, "{name}");
    }
}

#[test]
fn search_windows_look_before_a_failure_record_and_after_a_redriven_send() {
    let hour = 3_600_000;
    let now = T + 2 * hour;
    let cases = [
        (
            "an async dead letter: the hour before it",
            Origin::AsyncDeadLetter,
            Some(T),
            (T - hour, T + 60_000),
        ),
        (
            "an on-failure record: the same",
            Origin::OnFailureRecord,
            Some(T),
            (T - hour, T + 60_000),
        ),
        (
            "a redrive: the hour after it was sent",
            Origin::Redrive,
            Some(T),
            (T, T + hour),
        ),
        (
            "a redrive sent just now: up to now",
            Origin::Redrive,
            Some(now - 1_000),
            (now - 1_000, now),
        ),
        ("no time: the last hour", Origin::Redrive, None, (now - hour, now)),
    ];
    for (name, origin, time, expected) in cases {
        assert_eq!(search_window(origin, time, hour, now), expected, "{name}");
    }
}

#[test]
fn filter_patterns_quote_the_request_id_or_fall_back_to_failure_words() {
    assert_eq!(filter_pattern(Some(A)), format!("\"{A}\""));
    assert_eq!(
        filter_pattern(Some("a\"b")),
        "\"ab\"",
        "a quote cannot end the term early"
    );
    assert!(filter_pattern(None).contains("?\"Task timed out\""));
}

fn sample_notice() -> DeadLetterNotice {
    let config = Config::default();
    let queue = QueueRef::from_url(
        "https://sqs.eu-west-1.amazonaws.com/123456789012/uploader-dlq",
        "us-east-1",
    )
    .unwrap();
    let m = message(
        r#"{"key":"k","password":"hunter2hunter2"}"#,
        &[("SentTimestamp", "1795946405000"), ("ApproximateReceiveCount", "2")],
        &[
            ("RequestID", A),
            ("ErrorCode", "200"),
            ("ErrorMessage", "Task timed out after 3.00 seconds"),
        ],
    );
    let lines = vec![
        line(0, &format!("START RequestId: {A} Version: $LATEST\n")),
        line(
            1_000,
            &format!("2026-11-29T10:00:01.000Z\t{A}\tINFO\tconnecting with password=hunter2hunter2\n"),
        ),
        line(
            3_000,
            &format!("2026-11-29T10:00:03.000Z {A} Task timed out after 3.00 seconds\n"),
        ),
        line(
            3_002,
            &format!(
                "REPORT RequestId: {A}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout\n"
            ),
        ),
    ];
    let evidence = message_evidence(&config, &queue.region, &m, Some("uploader".into()), lines, Vec::new());
    DeadLetterNotice::new(
        queue,
        QueueStats {
            visible: Some(3),
            in_flight: Some(0),
        },
        vec![evidence],
        T + 65_000,
        &[("uploader".into(), T - 3_600_000, T + 65_000)],
    )
}

#[test]
fn a_notice_names_the_queue_the_invocation_its_class_and_links() {
    let notice = sample_notice();
    assert_eq!(
        notice.subject(),
        "[watchdog] dead letters: 3 messages in uploader-dlq (Timeouts)"
    );
    let text = notice.text();
    for expected in [
        "Queue uploader-dlq in eu-west-1, account 123456789012",
        "3 visible, 0 in flight; 1 peeked (left in the queue)",
        "Oldest peeked message: 60 s old.",
        &format!("Request id: {A}"),
        "Error: Task timed out after 3.00 seconds (error code 200)",
        "Classes: Timeouts",
        "Task timed out after 3.00 seconds",
        "received twice",
        "https://eu-west-1.console.aws.amazon.com/sqs/v3/home?region=eu-west-1#/queues/https%3A%2F%2Fsqs.eu-west-1.amazonaws.com%2F123456789012%2Fuploader-dlq",
        "Open these log events: https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fuploader/log-events/",
        "Logs Insights over /aws/lambda/uploader: https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:logs-insights",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        !text.contains("hunter2"),
        "a secret in a line or body is masked:\n{text}"
    );
    assert!(!notice.markdown().contains("hunter2"));
    let json = serde_json::to_value(&notice).unwrap();
    assert_eq!(json["messages"][0]["classes"][0], "Timeouts");
    assert_eq!(json["messages"][0]["tie"]["origin"], "async-dead-letter");
}

#[test]
fn an_empty_queue_says_so() {
    let queue = QueueRef::from_url(
        "https://sqs.eu-west-1.amazonaws.com/123456789012/uploader-dlq",
        "us-east-1",
    )
    .unwrap();
    let cases = [
        ("nothing left", Some(0), "The queue is empty now"),
        ("all in flight", Some(2), "2 are in flight"),
    ];
    for (name, in_flight, expected) in cases {
        let stats = QueueStats {
            visible: Some(0),
            in_flight,
        };
        let notice = DeadLetterNotice::new(queue.clone(), stats, Vec::new(), T, &[]);
        assert!(notice.text().contains(expected), "{name}: {}", notice.text());
        assert_eq!(
            notice.subject(),
            "[watchdog] dead letters: 0 messages in uploader-dlq",
            "{name}"
        );
    }
}

#[test]
fn lines_and_bodies_are_capped() {
    let config = Config::default();
    let long = "x".repeat(10_000);
    let lines: Vec<FetchedLine> = (0..100).map(|i| line(i, &format!("{A} {long}"))).collect();
    let m = message(&long, &[], &[("RequestID", A)]);
    let e = message_evidence(&config, "eu-west-1", &m, Some("uploader".into()), lines, Vec::new());
    assert_eq!(e.lines.len(), MAX_LINES_PER_MESSAGE);
    assert!(e.lines.iter().all(|l| l.message.len() <= MAX_LINE_BYTES));
    assert!(e.body_excerpt.len() <= MAX_BODY_BYTES);
}

#[test]
fn the_insights_query_filters_by_the_request_ids() {
    let q = insights_query(&[A.to_string(), B.to_string()]);
    assert!(q.contains(&format!("@requestId in [\"{A}\", \"{B}\"]")), "{q}");
    assert!(insights_query(&[]).contains("filter"), "without ids: the errors query");
}
