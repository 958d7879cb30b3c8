//! Scenario tests for the processor: each case is a batch as Lambda writes it and the metrics a
//! user would see for it in CloudWatch.

use super::*;
use crate::testing::{data_message, direct_event, kinesis_event};
use serde_json::json;

const T0: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z
const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const STREAM: &str = "2026/11/29/[$LATEST]0123456789abcdef0123456789abcdef";

fn processor(config: &str) -> Processor {
    Processor::new(
        Config::from_toml_str(config).unwrap(),
        Clock::Fixed(T0 + 3_600_000),
        None,
        "lambda-watchdog",
    )
}

fn batch(function: &str, lines: &[String]) -> Value {
    batch_at(function, T0, lines)
}

/// A batch whose lines are logged a second apart from `first_ms` on.
fn batch_at(function: &str, first_ms: i64, lines: &[String]) -> Value {
    let events: Vec<(i64, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (first_ms + i as i64 * 1000, l.as_str()))
        .collect();
    data_message(&format!("/aws/lambda/{function}"), STREAM, &events)
}

/// Handles each event, then flushes what is held: everything a user would see in CloudWatch.
fn run(p: &mut Processor, events: &[Value]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = events.iter().map(|e| p.handle_event(e)).collect();
    outcomes.push(p.flush());
    outcomes
}

/// Sums a metric over the documents of one function (counts) or counts its values. The name
/// must be one the processor publishes (or a rule of `RULES`): a misspelled name is an error,
/// never 0.
fn total(outcome: &Outcome, function: &str, metric: &str) -> f64 {
    sum(std::slice::from_ref(outcome), function, metric)
}

const RULES: [&str; 2] = ["ApiRateLimitExceeded", "ChunkSize"];

fn sum(outcomes: &[Outcome], function: &str, metric: &str) -> f64 {
    let known = Metric::COUNTS
        .iter()
        .chain(&Metric::VALUES)
        .map(|m| m.name())
        .chain(RULES)
        .any(|name| name == metric);
    assert!(known, "no metric is named {metric}");
    outcomes
        .iter()
        .flat_map(|o| &o.documents)
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|d| d["FunctionName"] == function)
        .map(|d| match &d[metric] {
            Value::Number(n) => n.as_f64().unwrap(),
            Value::Array(values) => values.len() as f64,
            Value::Null if Metric::VALUES.iter().any(|m| m.name() == metric) => 0.0,
            other => panic!("{metric} is {other} in {d}"),
        })
        .sum()
}

fn processor_total(outcome: &Outcome, metric: &str) -> u64 {
    outcome
        .documents
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|d| d.get("Processor").is_some())
        .map(|d| {
            d[metric]
                .as_u64()
                .unwrap_or_else(|| panic!("no processor metric {metric}"))
        })
        .sum()
}

fn report(id: &str, duration_ms: f64, tail: &str) -> String {
    format!(
        "REPORT RequestId: {id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t{tail}\n",
        duration_ms.ceil()
    )
}

fn start(id: &str) -> String {
    format!("START RequestId: {id} Version: $LATEST\n")
}

struct Case {
    name: &'static str,
    config: &'static str,
    lines: Vec<String>,
    expect: &'static [(&'static str, f64)],
}

#[test]
fn each_class_is_counted_once_per_invocation() {
    let cases = vec![
        Case {
            name: "an old-style timeout line after its REPORT is a timeout, not a near-timeout",
            config: "",
            lines: vec![start(A), report(A, 3004.92, ""), format!("2026-11-29T10:00:03.000Z {A} Task timed out after 3.00 seconds\n")],
            expect: &[("Invocations", 1.0), ("Timeouts", 1.0), ("NearTimeout", 0.0), ("Errors", 0.0)],
        },
        Case {
            name: "a new-style Status: timeout report is a timeout",
            config: "",
            lines: vec![start(A), report(A, 3016.78, "Status: timeout")],
            expect: &[("Timeouts", 1.0), ("Errors", 0.0), ("NearTimeout", 0.0)],
        },
        Case {
            name: "both timeout styles for one invocation count once",
            config: "",
            lines: vec![
                start(A),
                format!("2026-11-29T10:00:03.000Z {A} Task timed out after 3.00 seconds\n"),
                report(A, 3016.78, "Status: timeout"),
            ],
            expect: &[("Timeouts", 1.0), ("Invocations", 1.0)],
        },
        Case {
            name: "every out-of-memory sign in one invocation counts once, and the failure is an error",
            config: "",
            lines: vec![
                start(A),
                "fatal error: runtime: out of memory\n".into(),
                format!("RequestId: {A} Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n"),
                format!("REPORT RequestId: {A}\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n"),
            ],
            expect: &[("OutOfMemory", 1.0), ("Errors", 1.0), ("Timeouts", 0.0)],
        },
        Case {
            name: "full memory on a timed-out invocation is an out-of-memory timeout, not an error",
            config: "",
            lines: vec![
                start(A),
                format!("REPORT RequestId: {A}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: timeout\n"),
            ],
            expect: &[("OutOfMemory", 1.0), ("Timeouts", 1.0), ("Errors", 0.0)],
        },
        Case {
            name: "an invocation that logged errors and then timed out counts under Timeouts only",
            config: "",
            lines: vec![start(A), format!("[ERROR]\t2026-11-29T10:00:01.000Z\t{A}\tquery is slow\n"), report(A, 3000.0, "Status: timeout")],
            expect: &[("Timeouts", 1.0), ("Errors", 0.0)],
        },
        Case {
            name: "full memory on a successful invocation is not an out-of-memory",
            config: "",
            lines: vec![
                start(A),
                format!("REPORT RequestId: {A}\tDuration: 30.00 ms\tBilled Duration: 30 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t\n"),
            ],
            expect: &[("OutOfMemory", 0.0), ("Errors", 0.0), ("Invocations", 1.0)],
        },
        Case {
            name: "five too-many-connections lines are one invocation with a connection cap",
            config: "",
            lines: std::iter::once(start(A))
                .chain((0..5).map(|_| format!("2026-11-29T10:00:01.000Z\t{A}\tERROR\tError: ER_CON_COUNT_ERROR: Too many connections\n")))
                .chain(std::iter::once(report(A, 120.0, "")))
                .collect(),
            expect: &[("TooManyConnections", 1.0), ("ConnectionErrors", 1.0), ("Errors", 1.0), ("RateLimited", 0.0)],
        },
        Case {
            name: "lines without a request id belong to the invocation running in the stream",
            config: "",
            lines: vec![
                start(A),
                report(A, 100.0, ""),
                start(B),
                "2026/11/29 10:00:05 ERROR dial tcp 10.0.4.9:5432: connect: connection refused\n".into(),
                report(B, 100.0, ""),
            ],
            expect: &[("Invocations", 2.0), ("Errors", 1.0), ("ConnectionErrors", 1.0)],
        },
        Case {
            name: "an info line that mentions ERROR is not an error",
            config: "",
            lines: vec![start(A), format!("[INFO]\t2026-11-29T10:00:01.000Z\t{A}\tretrying the ERROR queue\n"), report(A, 100.0, "")],
            expect: &[("Errors", 0.0)],
        },
        Case {
            name: "a rate-limit message counts once whatever its wording",
            config: "",
            lines: vec![
                start(A),
                format!("[ERROR]\t2026-11-29T10:00:01.000Z\t{A}\tRequest failed: API Rate Limit Exceeded\n"),
                format!("[WARNING]\t2026-11-29T10:00:01.000Z\t{A}\tHTTP 429 Too Many Requests\n"),
                report(A, 100.0, ""),
            ],
            expect: &[("RateLimited", 1.0), ("Errors", 1.0)],
        },
        Case {
            name: "near-timeout is judged against the configured timeout",
            config: "[[function]]\nmatch = \"f\"\ntimeout_seconds = 10",
            lines: vec![start(A), report(A, 8500.0, ""), start(B), report(B, 7900.0, "")],
            expect: &[("NearTimeout", 1.0), ("Invocations", 2.0)],
        },
        Case {
            name: "near-timeout uses the default five minutes when nothing else is known",
            config: "",
            lines: vec![start(A), report(A, 250_000.0, ""), start(B), report(B, 8_500.0, "")],
            expect: &[("NearTimeout", 1.0)],
        },
        Case {
            name: "a timeout teaches the timeout that judges the invocations after it",
            config: "",
            lines: vec![start(B), report(B, 30_000.0, "Status: timeout"), start(A), report(A, 25_000.0, "")],
            expect: &[("NearTimeout", 1.0), ("Timeouts", 1.0)],
        },
        Case {
            name: "an invocation before a function's first timeout is judged against what was known at its time",
            config: "",
            lines: vec![start(A), report(A, 25_000.0, ""), start(B), report(B, 30_000.0, "Status: timeout")],
            expect: &[("NearTimeout", 0.0), ("Timeouts", 1.0)],
        },
        Case {
            name: "short runs count only for chunked workers that succeeded",
            config: "[[function]]\nmatch = \"f\"\nchunked = true",
            lines: vec![start(A), report(A, 20_000.0, ""), start(B), report(B, 20_000.0, "Status: error\tError Type: Runtime.Unhandled")],
            expect: &[("ShortRuns", 1.0), ("Errors", 1.0)],
        },
        Case {
            name: "short runs do not count for workers not configured as chunked",
            config: "",
            lines: vec![start(A), report(A, 20_000.0, "")],
            expect: &[("ShortRuns", 0.0)],
        },
        Case {
            name: "a cold start counts with its init duration",
            config: "",
            lines: vec![
                "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n".into(),
                start(A),
                report(A, 100.0, "Init Duration: 111.23 ms"),
                start(B),
                report(B, 100.0, ""),
            ],
            expect: &[("ColdStarts", 1.0), ("InitDuration", 1.0), ("Duration", 2.0), ("MaxMemoryUsed", 2.0), ("MemoryUtilization", 2.0)],
        },
        Case {
            name: "a SnapStart restore counts as a cold start, from its REPORT or its RESTORE_REPORT",
            config: "",
            lines: vec![
                "RESTORE_START Runtime Version: java:21.v20\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:8e1f\n".into(),
                "RESTORE_REPORT Restore Duration: 412.06 ms\n".into(),
                start(A),
                report(A, 100.0, "Restore Duration: 412.06 ms\tBilled Restore Duration: 413 ms"),
                start(B),
                report(B, 100.0, ""),
            ],
            expect: &[("Invocations", 2.0), ("ColdStarts", 1.0), ("InitFailures", 0.0)],
        },
        Case {
            name: "a RESTORE_REPORT alone makes the next invocation a cold start",
            config: "",
            lines: vec!["RESTORE_REPORT Restore Duration: 412.06 ms\n".into(), start(A), report(A, 100.0, ""), start(B), report(B, 100.0, "")],
            expect: &[("Invocations", 2.0), ("ColdStarts", 1.0)],
        },
        Case {
            name: "an init suppressed into the invoke phase is a cold start without an init duration",
            config: "",
            lines: vec![
                start(A),
                "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n".into(),
                "INIT_REPORT Init Duration: 3008.51 ms\tPhase: invoke\tStatus: success\n".into(),
                report(A, 3100.0, ""),
                start(B),
                report(B, 100.0, ""),
            ],
            expect: &[("Invocations", 2.0), ("ColdStarts", 1.0), ("InitFailures", 0.0), ("Errors", 0.0)],
        },
        Case {
            name: "a failed init phase counts as an init failure",
            config: "",
            lines: vec!["INIT_REPORT Init Duration: 9999.92 ms\tPhase: init\tStatus: timeout\n".into(), start(A), report(A, 10.0, "")],
            expect: &[("InitFailures", 1.0), ("Timeouts", 0.0)],
        },
        Case {
            name: "JSON-format records are understood like plain text",
            config: "",
            lines: vec![
                json!({"time": "t", "type": "platform.start", "record": {"requestId": A}}).to_string(),
                json!({"timestamp": "t", "level": "error", "message": "connect ECONNREFUSED 10.0.3.7:3306", "requestId": A}).to_string(),
                json!({"time": "t", "type": "platform.runtimeDone", "record": {"requestId": A, "status": "error"}}).to_string(),
                json!({"time": "t", "type": "platform.report", "record": {"requestId": A, "status": "error", "errorType": "Runtime.OutOfMemory", "metrics": {"durationMs": 2013.0, "memorySizeMB": 512, "maxMemoryUsedMB": 512}}}).to_string(),
            ],
            expect: &[("Invocations", 1.0), ("OutOfMemory", 1.0), ("Errors", 1.0), ("ConnectionErrors", 1.0)],
        },
        Case {
            name: "a custom rule counts once per invocation and a value rule records the number",
            config: "[[rule]]\nmetric = \"ApiRateLimitExceeded\"\npattern = \"API Rate Limit Exceeded\"\n[[rule]]\nmetric = \"ChunkSize\"\npattern = \"chunk_size=\"\nvalue = \"chunk_size=(\\\\d+)\"",
            lines: vec![
                start(A),
                format!("[INFO]\tt\t{A}\tprocessing chunk_size=50\n"),
                format!("[ERROR]\tt\t{A}\tAPI Rate Limit Exceeded\n"),
                format!("[ERROR]\tt\t{A}\tAPI Rate Limit Exceeded\n"),
                report(A, 100.0, ""),
                start(B),
                report(B, 100.0, ""),
            ],
            expect: &[("ApiRateLimitExceeded", 1.0), ("ChunkSize", 1.0), ("RateLimited", 1.0)],
        },
    ];
    for case in cases {
        let mut p = processor(case.config);
        let outcomes = run(&mut p, &[direct_event(&batch("f", &case.lines))]);
        for doc in outcomes.iter().flat_map(|o| &o.documents) {
            emf::check_document(doc).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        }
        for (metric, expected) in case.expect {
            assert_eq!(sum(&outcomes, "f", metric), *expected, "{}: {metric}", case.name);
        }
    }
}

#[test]
fn stream_state_carries_an_invocation_across_batches() {
    let mut p = processor("");
    p.handle_event(&direct_event(&batch_at("f", T0, &[start(A)])));
    let second = p.handle_event(&direct_event(&batch_at(
        "f",
        T0 + 5_000,
        &[
            "2026/11/29 10:00:05 ERROR pq: sorry, too many clients already\n".into(),
            report(A, 6_000.0, "Status: error"),
        ],
    )));
    assert_eq!(total(&second, "f", "TooManyConnections"), 1.0);
    assert_eq!(total(&second, "f", "Invocations"), 1.0);
    let record = second.invocations.iter().find(|r| r.request_id == A).unwrap();
    assert!(record.counted.has(Metric::Errors));
    assert_eq!(
        record.evidence[0].line,
        "2026/11/29 10:00:05 ERROR pq: sorry, too many clients already"
    );
}

#[test]
fn a_batch_delivered_twice_is_counted_once() {
    let mut p = processor("");
    let event = direct_event(&batch("f", &[start(A), report(A, 100.0, "Status: error")]));
    let first = p.handle_event(&event);
    let again = p.handle_event(&event);
    assert_eq!(total(&first, "f", "Errors"), 1.0);
    assert_eq!(total(&again, "f", "Errors"), 0.0);
    assert_eq!(total(&again, "f", "Invocations"), 0.0);
    assert_eq!(total(&again, "f", "Duration"), 0.0);
    assert_eq!(processor_total(&again, "DuplicateBatches"), 1);
    assert_eq!(processor_total(&again, "BatchesProcessed"), 0);
    assert!(again.invocations.is_empty());
}

/// Issue 12: an application line cut off after `"record":` panicked the parser, which lost the
/// whole batch (and, with the fingerprint recorded first, skipped its retry).
#[test]
fn a_batch_with_json_cut_off_after_a_member_colon_still_counts_its_timeout() {
    let mut p = processor("");
    let lines = [
        start(A),
        r#"{ "record":"#.to_string(),
        r#"{"type":"platform.report","record":{"metrics":"#.to_string(),
        report(A, 3000.0, "Status: timeout"),
    ];
    let outcome = p.handle_event(&direct_event(&batch("f", &lines)));
    assert_eq!(total(&outcome, "f", "Timeouts"), 1.0);
    assert_eq!(processor_total(&outcome, "EventsProcessed"), 4);
    let again = p.handle_event(&direct_event(&batch("f", &lines)));
    assert_eq!(processor_total(&again, "DuplicateBatches"), 1);
}

#[test]
fn a_timeout_line_in_the_next_batch_makes_the_latest_invocation_a_timeout_once() {
    let mut p = processor("");
    let first = p.handle_event(&direct_event(&batch_at("f", T0, &[start(A), report(A, 3_001.0, "")])));
    assert_eq!(total(&first, "f", "Invocations"), 1.0);
    let late = direct_event(&batch_at(
        "f",
        T0 + 2_000,
        &[format!(
            "2026-11-29T10:00:04.000Z {A} Task timed out after 3.00 seconds"
        )],
    ));
    let second = p.handle_event(&late);
    assert_eq!(total(&second, "f", "Timeouts"), 1.0);
    assert_eq!(total(&second, "f", "Invocations"), 0.0, "its REPORT was counted before");
    let again = p.handle_event(&late);
    assert_eq!(total(&again, "f", "Timeouts"), 0.0);
}

#[test]
fn invocations_of_one_batch_are_each_counted_once_whatever_the_batches_around_them() {
    let mut p = processor("");
    let lines = [
        start(A),
        format!("[ERROR]\t2026-11-29T10:00:01.000Z\t{A}\tToo many connections"),
        report(A, 100.0, ""),
        start(B),
        format!("[ERROR]\t2026-11-29T10:00:04.000Z\t{B}\tToo many connections"),
    ];
    let first = p.handle_event(&direct_event(&batch_at("f", T0, &lines)));
    assert_eq!(
        total(&first, "f", "TooManyConnections"),
        1.0,
        "A is whole; B has not reported"
    );
    assert_eq!(total(&first, "f", "Invocations"), 1.0);
    // B was still running: its next lines count what is new for it, and only that.
    let second = p.handle_event(&direct_event(&batch_at(
        "f",
        T0 + 5_000,
        &[
            format!("[ERROR]\t2026-11-29T10:00:05.000Z\t{B}\tToo many connections"),
            report(B, 5_000.0, "Status: error"),
        ],
    )));
    assert_eq!(total(&second, "f", "TooManyConnections"), 1.0);
    assert_eq!(total(&second, "f", "Invocations"), 1.0);
    let rest = p.flush();
    assert_eq!(total(&rest, "f", "TooManyConnections"), 0.0);
}

#[test]
fn a_retried_attempt_with_the_same_request_id_counts_as_another_invocation() {
    let mut p = processor("");
    let outcomes = run(
        &mut p,
        &[
            direct_event(&batch_at("f", T0, &[start(A), report(A, 100.0, "Status: error")])),
            direct_event(&batch_at(
                "f",
                T0 + 60_000,
                &[start(A), report(A, 120.0, "Status: error")],
            )),
        ],
    );
    assert_eq!(sum(&outcomes, "f", "Invocations"), 2.0);
    assert_eq!(sum(&outcomes, "f", "Errors"), 2.0);
    assert_eq!(
        sum(&outcomes[..1], "f", "Invocations"),
        1.0,
        "the first attempt is counted at once"
    );
}

#[test]
fn a_learned_timeout_is_remembered_for_later_batches() {
    let mut p = processor("");
    p.handle_event(&direct_event(&batch_at(
        "f",
        T0,
        &[
            start(A),
            format!("t {A} Task timed out after 30.00 seconds"),
            report(A, 30_004.0, ""),
        ],
    )));
    assert_eq!(
        p.timeout_for("f"),
        Timeout {
            seconds: 30.0,
            source: TimeoutSource::Learned
        }
    );
    let later = run(
        &mut p,
        &[direct_event(&batch_at(
            "f",
            T0 + 60_000,
            &[start(B), report(B, 25_000.0, "")],
        ))],
    );
    assert_eq!(sum(&later, "f", "NearTimeout"), 1.0);
    assert_eq!(p.timeout_for("g").source, TimeoutSource::Default);
}

#[test]
fn metrics_are_stamped_with_the_minute_of_the_logs() {
    let mut p = processor("");
    let lines = [start(A), report(A, 100.0, "")];
    let events: Vec<(i64, &str)> = vec![(T0 + 61_500, lines[0].as_str()), (T0 + 62_000, lines[1].as_str())];
    let outcome = p.handle_event(&direct_event(&data_message("/aws/lambda/f", STREAM, &events)));
    let doc: Value = serde_json::from_str(&outcome.documents[0]).unwrap();
    assert_eq!(doc["_aws"]["Timestamp"], T0 + 60_000);
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "LambdaWatchdog");
}

#[test]
fn events_outside_the_emf_window_are_counted_not_emitted() {
    let mut p = processor("");
    let lines = [start(A), report(A, 100.0, "Status: error")];
    let old = T0 - 15 * 24 * 3_600_000;
    let future = T0 + 4 * 3_600_000;
    let events: Vec<(i64, &str)> = vec![
        (old, lines[0].as_str()),
        (old, lines[1].as_str()),
        (future, lines[1].as_str()),
    ];
    let outcome = p.handle_event(&direct_event(&data_message("/aws/lambda/f", STREAM, &events)));
    assert_eq!(processor_total(&outcome, "EventsTooOld"), 2);
    assert_eq!(processor_total(&outcome, "EventsTooNew"), 1);
    assert_eq!(total(&outcome, "f", "Invocations"), 0.0);
}

#[test]
fn excluded_and_own_log_groups_are_never_processed() {
    let config = Config::from_toml_str("exclude = [\"/aws/lambda/noisy-*\"]").unwrap();
    let mut p = Processor::new(
        config,
        Clock::Fixed(T0),
        Some("/aws/lambda/lambda-watchdog".into()),
        "lambda-watchdog",
    );
    for function in ["noisy-1", "lambda-watchdog"] {
        let outcome = p.handle_event(&direct_event(&batch(
            function,
            &[start(A), report(A, 1.0, "Status: error")],
        )));
        assert_eq!(processor_total(&outcome, "BatchesExcluded"), 1, "{function}");
        assert!(outcome.invocations.is_empty(), "{function}");
        assert_eq!(
            outcome.documents.len(),
            1,
            "only the processor's own document for {function}"
        );
    }
}

#[test]
fn control_messages_and_unknown_events_are_counted_and_skipped() {
    let mut p = processor("");
    let control = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "", "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": T0, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]});
    let outcome = p.handle_event(&direct_event(&control));
    assert_eq!(processor_total(&outcome, "ControlMessages"), 1);
    let outcome = p.handle_event(&json!({"detail-type": "something else"}));
    assert_eq!(processor_total(&outcome, "DecodeFailures"), 1);
}

#[test]
fn a_bad_kinesis_record_is_skipped_and_its_neighbours_are_processed() {
    let mut p = processor("");
    let mut event = kinesis_event(&[
        batch("f", &[start(A), report(A, 1.0, "")]),
        batch("f", &[]),
        batch("f", &[start(B), report(B, 1.0, "")]),
    ]);
    event["Records"][1]["kinesis"]["data"] = json!("H4sI-not-base64!");
    let outcome = p.handle_event(&event);
    assert_eq!(outcome.shape, Shape::Kinesis);
    assert_eq!(processor_total(&outcome, "DecodeFailures"), 1);
    assert_eq!(processor_total(&outcome, "BatchesProcessed"), 2);
    assert_eq!(total(&outcome, "f", "Invocations"), 2.0);
}

#[test]
fn function_names_come_from_log_groups() {
    let cases = [
        ("/aws/lambda/uploader", "uploader"),
        ("/ecs/service/web", "web"),
        ("plain", "plain"),
        ("/aws/lambda/", "/aws/lambda/"),
        ("", "unknown"),
    ];
    for (group, name) in cases {
        assert_eq!(function_name(group), name, "{group}");
    }
}

#[test]
fn truncation_never_cuts_a_character() {
    let s = "é".repeat(10);
    let t = truncate(&s, 7);
    assert!(t.len() <= 7);
    assert!(t.ends_with('…'));
    assert_eq!(truncate("short", 10), "short");
}

#[test]
fn the_log_group_of_an_undecodable_batch_is_named_when_it_can_be_read() {
    let cases: [(&[u8], Option<&str>); 3] = [
        (
            br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/uploader","logStream":"s","logEv"#,
            Some("/aws/lambda/uploader"),
        ),
        (b"\x1f\x8b\x08\x00 compressed bytes", None),
        (br#"{"logGroup":"unterminated"#, None),
    ];
    for (bytes, group) in cases {
        assert_eq!(sniff_log_group(bytes), group, "{}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn request_ids_are_equal_only_when_every_byte_is() {
    let differ_at = |i: usize| {
        let mut id = A.as_bytes().to_vec();
        id[i] = if id[i] == b'a' { b'b' } else { b'a' };
        String::from_utf8(id).unwrap()
    };
    let copy = A.as_bytes().to_vec();
    assert!(
        same_id(A, std::str::from_utf8(&copy).unwrap()),
        "a copy elsewhere in memory is equal"
    );
    for i in 0..A.len() {
        assert!(!same_id(A, &differ_at(i)), "a difference at byte {i} is seen");
    }
    assert!(!same_id(A, &A[..35]));
    assert!(same_id("init", "init"));
    assert!(!same_id("init", "inix"));
}

// The cases of the arrival-invariance issue: one warm processor, batches in the order given.

const C: &str = "cccccccc-0000-4000-8000-000000000003";

fn timeout_line(id: &str, seconds: f64) -> String {
    format!("2026-11-29T10:05:00.000Z {id} Task timed out after {seconds:.2} seconds\n")
}

fn error_line(id: &str) -> String {
    format!("[ERROR]\t2026-11-29T10:00:01.000Z\t{id}\tfailed to fetch page 7\n")
}

fn end(id: &str) -> String {
    format!("END RequestId: {id}\n")
}

/// The per-metric sums of `batches` delivered in this order, then flushed.
fn sums_of(config: &str, batches: &[Value], metrics: &[&str]) -> Vec<f64> {
    let mut p = processor(config);
    let events: Vec<Value> = batches.iter().map(direct_event).collect();
    let outcomes = run(&mut p, &events);
    metrics.iter().map(|m| sum(&outcomes, "f", m)).collect()
}

#[test]
fn a_timeout_line_after_a_near_timeout_report_makes_a_timeout_only() {
    let config = "[[function]]\nmatch = \"f\"\ntimeout_seconds = 300";
    let batches = [
        batch_at("f", T0, &[start(A), end(A), report(A, 290_000.0, "")]),
        batch_at("f", T0 + 3_000, &[timeout_line(A, 300.0)]),
    ];
    assert_eq!(
        sums_of(config, &batches, &["Timeouts", "NearTimeout", "Invocations"]),
        [1.0, 0.0, 1.0]
    );
}

#[test]
fn an_error_then_a_short_report_in_the_next_batch_is_an_error_not_a_short_run() {
    let config = "[[function]]\nmatch = \"f\"\nchunked = true";
    let batches = [
        batch_at("f", T0, &[start(A), error_line(A)]),
        batch_at("f", T0 + 14_000, &[end(A), report(A, 14_000.0, "")]),
    ];
    assert_eq!(
        sums_of(config, &batches, &["Errors", "ShortRuns", "Invocations"]),
        [1.0, 0.0, 1.0]
    );
}

#[test]
fn a_timeout_line_before_a_report_without_status_in_the_next_batch_is_a_timeout_only() {
    let batches = [
        batch_at("f", T0, &[start(A), timeout_line(A, 3.0)]),
        batch_at("f", T0 + 3_000, &[report(A, 3_004.0, "")]),
    ];
    assert_eq!(
        sums_of("", &batches, &["Timeouts", "NearTimeout", "Invocations"]),
        [1.0, 0.0, 1.0]
    );
}

#[test]
fn an_error_line_then_a_timeout_report_is_a_timeout_only() {
    let batches = [
        batch_at("f", T0, &[start(A), error_line(A)]),
        batch_at("f", T0 + 3_000, &[report(A, 3_000.0, "Status: timeout")]),
    ];
    assert_eq!(sums_of("", &batches, &["Timeouts", "Errors"]), [1.0, 0.0]);
}

#[test]
fn the_second_batch_of_an_invocation_delivered_first_counts_each_class_once() {
    let oom_report = format!(
        "REPORT RequestId: {A}\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n"
    );
    let cases = [
        (
            [
                batch_at("f", T0, &[start(A), timeout_line(A, 3.0)]),
                batch_at("f", T0 + 3_000, &[report(A, 3_000.0, "Status: timeout"), start(B)]),
            ],
            vec![("Timeouts", 1.0), ("Invocations", 1.0)],
        ),
        (
            [
                batch_at("f", T0, &[start(A), "fatal error: runtime: out of memory\n".into()]),
                batch_at("f", T0 + 3_000, &[oom_report, start(B)]),
            ],
            vec![("Errors", 1.0), ("OutOfMemory", 1.0), ("Invocations", 1.0)],
        ),
    ];
    for (batches, expect) in cases {
        let metrics: Vec<&str> = expect.iter().map(|(m, _)| *m).collect();
        let want: Vec<f64> = expect.iter().map(|(_, n)| *n).collect();
        let in_order = sums_of("", &batches, &metrics);
        let reversed = sums_of("", &[batches[1].clone(), batches[0].clone()], &metrics);
        assert_eq!(in_order, want, "in order");
        assert_eq!(reversed, want, "second batch first");
    }
}

#[test]
fn lines_without_a_request_id_go_to_their_own_invocation_when_batches_arrive_1_3_2() {
    let refused = "2026/11/29 10:00:05 ERROR dial tcp 10.0.4.9:5432: connect: connection refused\n";
    let too_many = "2026/11/29 10:00:09 ERROR pq: sorry, too many clients already\n";
    // The third batch holds only a line of C without its id: where it belongs shows only
    // from the batch before it.
    let batches = [
        batch_at("f", T0, &[start(A), report(A, 500.0, ""), start(B)]),
        batch_at("f", T0 + 10_000, &[refused.into(), report(B, 2_000.0, ""), start(C)]),
        batch_at("f", T0 + 20_000, &[too_many.into()]),
        batch_at("f", T0 + 30_000, &[report(C, 12_000.0, "")]),
    ];
    for order in permutations(4) {
        let mut p = processor("");
        let events: Vec<Value> = order.iter().map(|&i| direct_event(&batches[i])).collect();
        let outcomes = run(&mut p, &events);
        let net = |id: &str, metric: Metric| -> i64 {
            outcomes
                .iter()
                .flat_map(|o| &o.invocations)
                .filter(|r| r.request_id == id)
                .map(|r| i64::from(r.counted.has(metric)) - i64::from(r.retracted.has(metric)))
                .sum()
        };
        assert_eq!(net(B, Metric::ConnectionErrors), 1, "{order:?}: B's refused connection");
        assert_eq!(net(B, Metric::TooManyConnections), 0, "{order:?}");
        assert_eq!(net(C, Metric::TooManyConnections), 1, "{order:?}: C's connection cap");
        assert_eq!(net(A, Metric::ConnectionErrors), 0, "{order:?}");
        assert_eq!(sum(&outcomes, "f", "ConnectionErrors"), 2.0, "{order:?}");
        assert_eq!(sum(&outcomes, "f", "Invocations"), 3.0, "{order:?}");
        assert_eq!(sum(&outcomes, "f", "TooManyConnections"), 1.0, "{order:?}");
    }
}

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut order = rest.clone();
            order.insert(at, n - 1);
            all.push(order);
        }
    }
    all
}

#[test]
fn an_error_line_before_the_first_start_is_an_init_failure_not_an_invocation_error() {
    let batches = [batch_at(
        "f",
        T0,
        &[
            "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n".into(),
            "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'\n".into(),
            "INIT_REPORT Init Duration: 250.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\n".into(),
            start(A),
            report(A, 100.0, ""),
            start(B),
        ],
    )];
    assert_eq!(
        sums_of("", &batches, &["Errors", "InitFailures", "Invocations"]),
        [0.0, 1.0, 1.0]
    );
}

#[test]
fn an_error_line_of_an_init_that_succeeds_counts_nowhere_but_stays_evidence() {
    let mut p = processor("");
    let outcomes = run(
        &mut p,
        &[direct_event(&batch_at(
            "f",
            T0,
            &[
                "INIT_START Runtime Version: nodejs:20.v30\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:1a2b\n".into(),
                "2026-11-29T10:00:00.100Z\tundefined\tERROR\tcould not warm the cache\n".into(),
                start(A),
                report(A, 100.0, ""),
                start(B),
            ],
        ))],
    );
    assert_eq!(sum(&outcomes, "f", "Errors"), 0.0);
    assert_eq!(sum(&outcomes, "f", "InitFailures"), 0.0);
}

#[test]
fn a_function_whose_every_invocation_reruns_a_failing_import_counts_one_error_per_invocation() {
    let import_error = "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'\n";
    let mut lines: Vec<String> = vec![
        "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n"
            .into(),
        import_error.into(),
        "INIT_REPORT Init Duration: 250.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\n"
            .into(),
    ];
    for id in [A, B, C] {
        lines.push(start(id));
        lines.push(import_error.into());
        lines.push(end(id));
        lines.push(report(id, 2.0, "Status: error\tError Type: Runtime.ImportModuleError"));
    }
    assert_eq!(
        sums_of(
            "",
            &[batch_at("f", T0, &lines)],
            &["Errors", "Invocations", "InitFailures"]
        ),
        [3.0, 3.0, 1.0]
    );
}

#[test]
fn held_counts_go_out_once_their_time_has_passed() {
    let config =
        Config::from_toml_str("hold_seconds = 30\n[[function]]\nmatch = \"f\"\ntimeout_seconds = 300").unwrap();
    let mut p = Processor::new(config, Clock::FollowLogs, None, "lambda-watchdog");
    let first = p.handle_event(&direct_event(&batch_at("f", T0, &[start(A), report(A, 290_000.0, "")])));
    assert_eq!(
        total(&first, "f", "Invocations"),
        1.0,
        "what no later line can take back goes out at once"
    );
    assert_eq!(
        total(&first, "f", "NearTimeout"),
        0.0,
        "a later Task timed out line could take it back"
    );
    assert_eq!(p.held(), 1);
    // Another function's batch a minute later: the near-timeout is due and goes out with it.
    let later = p.handle_event(&direct_event(&batch_at("g", T0 + 60_000, &[start(B)])));
    assert_eq!(total(&later, "f", "NearTimeout"), 1.0);
    // A timeout line that still comes corrects it at the same minute.
    let late = p.handle_event(&direct_event(&batch_at("f", T0 + 61_000, &[timeout_line(A, 300.0)])));
    assert_eq!(total(&late, "f", "NearTimeout"), -1.0);
    assert_eq!(total(&late, "f", "Timeouts"), 1.0);
    let record = late.invocations.iter().find(|r| r.request_id == A).unwrap();
    assert!(record.retracted.has(Metric::NearTimeout) && record.counted.has(Metric::Timeouts));
}

#[test]
fn an_invocation_that_never_reports_is_counted_at_its_first_line_once_past_its_timeout() {
    let config = Config::from_toml_str("hold_seconds = 10\n[[function]]\nmatch = \"f\"\ntimeout_seconds = 60").unwrap();
    let mut p = Processor::new(config, Clock::FollowLogs, None, "lambda-watchdog");
    let first = p.handle_event(&direct_event(&batch_at("f", T0, &[start(A), error_line(A)])));
    assert_eq!(total(&first, "f", "Errors"), 0.0, "it may still report");
    let later = p.handle_event(&direct_event(&batch_at("g", T0 + 75_000, &[start(B)])));
    assert_eq!(total(&later, "f", "Errors"), 1.0);
    let doc: Value = serde_json::from_str(&later.documents[0]).unwrap();
    assert_eq!(doc["_aws"]["Timestamp"], T0, "filed at its first line's minute");
}

/// Issue 12: the minute rounding and the EMF window overflowed on extreme event timestamps.
#[test]
fn extreme_event_timestamps_are_counted_as_outside_the_window_or_processed_never_a_panic() {
    let extremes = [i64::MIN, i64::MIN + 1, -60_001, -1, 0, i64::MAX - 1, i64::MAX];
    let clocks = [
        Clock::Fixed(T0),
        Clock::Fixed(i64::MIN),
        Clock::Fixed(i64::MAX),
        Clock::FollowLogs,
    ];
    for clock in clocks {
        for &ts in &extremes {
            let message = data_message(
                "/aws/lambda/f",
                STREAM,
                &[
                    (ts, &start(A)),
                    (ts, "2026/11/29 10:00:05 ERROR pq: sorry, too many clients already"),
                    (ts, &report(A, 3000.0, "Status: timeout")),
                ],
            );
            let mut p = Processor::new(Config::default(), clock, None, "lambda-watchdog");
            let outcome = p.handle_event(&direct_event(&message));
            let (processed, too_old, too_new) = (
                processor_total(&outcome, "EventsProcessed"),
                processor_total(&outcome, "EventsTooOld"),
                processor_total(&outcome, "EventsTooNew"),
            );
            assert_eq!(
                processed + too_old + too_new,
                3,
                "{clock:?} at {ts}: every event is accounted for"
            );
            for document in &outcome.documents {
                crate::emf::check_document(document).unwrap_or_else(|why| panic!("{clock:?} at {ts}: {why}"));
            }
            if processed == 3 {
                assert_eq!(total(&outcome, "f", "Timeouts"), 1.0, "{clock:?} at {ts}");
            }
        }
    }
    // Following the logs, the newest event is "now": even at the ends of time it is processed.
    let mut p = Processor::new(Config::default(), Clock::FollowLogs, None, "lambda-watchdog");
    let at_the_end = data_message(
        "/aws/lambda/f",
        STREAM,
        &[(i64::MAX, &report(A, 3000.0, "Status: timeout"))],
    );
    assert_eq!(total(&p.handle_event(&direct_event(&at_the_end)), "f", "Timeouts"), 1.0);
}

#[test]
fn minutes_start_on_the_minute_and_saturate_at_the_ends_of_time() {
    let cases = [
        (0, 0),
        (59_999, 0),
        (60_000, 60_000),
        (-1, -60_000),
        (T0 + 59_999, T0),
        (i64::MAX, i64::MAX - i64::MAX.rem_euclid(60_000)),
        (i64::MIN, i64::MIN),
    ];
    for (ms, minute) in cases {
        assert_eq!(minute_start(ms), minute, "{ms}");
    }
}

/// Issue 12: one message with a lone surrogate escape or raw non-UTF-8 bytes made its whole
/// batch undecodable, and the timeout beside it was lost.
#[test]
fn a_message_that_is_not_utf8_is_repaired_and_counted_and_its_batch_still_counts() {
    for bad in [&br"x \udcff y"[..], b"x \xff\xfe y"] {
        let mut json = serde_json::to_vec(&batch(
            "f",
            &[start(A), "PLACEHOLDER".into(), report(A, 3000.0, "Status: timeout")],
        ))
        .unwrap();
        let at = json.windows(11).position(|w| w == b"PLACEHOLDER").unwrap();
        json.splice(at..at + 11, bad.iter().copied());
        let event = json!({"awslogs": {"data": crate::testing::encode_batch(&json)}});
        let outcome = processor("").handle_event(&event);
        assert_eq!(total(&outcome, "f", "Timeouts"), 1.0, "{bad:?}");
        assert_eq!(processor_total(&outcome, "MessagesRepaired"), 1, "{bad:?}");
        assert_eq!(processor_total(&outcome, "EventsProcessed"), 3, "{bad:?}");
        assert_eq!(processor_total(&outcome, "DecodeFailures"), 0, "{bad:?}");
    }
}

/// Issue 13: with advanced logging controls two functions can share one log group; each is
/// named by its log stream, not by the group's last part.
#[test]
fn two_functions_sharing_a_custom_log_group_count_apart() {
    let mut p = processor("");
    let orders = data_message(
        "/shared/lambda",
        "2026/11/29/orders-api[$LATEST]0123456789abcdef0123456789abcdef",
        &[
            (T0, start(A).as_str()),
            (T0 + 1000, report(A, 3016.78, "Status: timeout").as_str()),
        ],
    );
    let billing = data_message(
        "/shared/lambda",
        "2026/11/29/billing-job[3][fedcba9876543210fedcba9876543210]",
        &[(T0, start(B).as_str()), (T0 + 1000, report(B, 120.0, "").as_str())],
    );
    let outcomes = run(&mut p, &[orders, billing]);
    assert_eq!(sum(&outcomes, "orders-api", "Invocations"), 1.0);
    assert_eq!(sum(&outcomes, "orders-api", "Timeouts"), 1.0);
    assert_eq!(sum(&outcomes, "billing-job", "Invocations"), 1.0);
    assert_eq!(sum(&outcomes, "billing-job", "Timeouts"), 0.0);
    let named_lambda = outcomes
        .iter()
        .flat_map(|o| &o.documents)
        .any(|d| d.contains(r#""FunctionName":"lambda""#));
    assert!(!named_lambda, "the group's last part is no function here");
}

/// Issue 13: Lambda Managed Instances run several requests at once in one environment, so a log
/// stream interleaves them. Lines are attributed by their request id; a line without one cannot
/// be told apart and counts for neither.
#[test]
fn a_stream_running_requests_at_once_attributes_lines_by_request_id_only() {
    let report = |id: &str, status: &str| {
        json!({"time": "t", "type": "platform.report", "record": {"requestId": id, "status": status, "metrics": {"durationMs": 120.0}}}).to_string()
    };
    let lines = vec![
        json!({"time": "t", "type": "platform.start", "record": {"requestId": A}}).to_string(),
        json!({"time": "t", "type": "platform.start", "record": {"requestId": B}}).to_string(),
        json!({"timestamp": "t", "level": "ERROR", "message": "Rate exceeded", "requestId": B}).to_string(),
        // No request id: after B's START, but it could be A's as well.
        "2026/11/29 10:00:03 ERROR Too many connections\n".to_string(),
        report(A, "success"),
        report(B, "error"),
    ];
    let mut p = processor("");
    let outcomes = run(&mut p, &[batch("mi", &lines)]);
    assert_eq!(sum(&outcomes, "mi", "Invocations"), 2.0);
    assert_eq!(sum(&outcomes, "mi", "Errors"), 1.0, "B only");
    assert_eq!(sum(&outcomes, "mi", "RateLimited"), 1.0, "B's own line");
    assert_eq!(
        sum(&outcomes, "mi", "TooManyConnections"),
        0.0,
        "a line without request id is evidence only"
    );

    // A later batch of the same stream with one invocation at a time is still read by request id.
    let later = vec![
        json!({"time": "t", "type": "platform.start", "record": {"requestId": A}}).to_string(),
        "2026/11/29 10:01:01 ERROR Too many connections\n".to_string(),
        report(A, "success"),
    ];
    let outcomes = run(&mut p, &[batch_at("mi", T0 + 60_000, &later)]);
    assert_eq!(sum(&outcomes, "mi", "Invocations"), 1.0);
    assert_eq!(sum(&outcomes, "mi", "TooManyConnections"), 0.0);
    assert_eq!(sum(&outcomes, "mi", "Errors"), 0.0);
}

/// The metric names the documents carry for a function and for the processor itself.
fn metric_names(outcomes: &[Outcome]) -> (std::collections::BTreeSet<String>, std::collections::BTreeSet<String>) {
    let (mut function, mut own) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for d in outcomes.iter().flat_map(|o| &o.documents) {
        let doc: Value = serde_json::from_str(d).unwrap();
        let into = if doc.get("FunctionName").is_some() {
            &mut function
        } else {
            &mut own
        };
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
            into.insert(m["Name"].as_str().unwrap().to_string());
        }
    }
    (function, own)
}

#[test]
fn the_metric_counts_in_the_deploy_guide_are_the_metrics_the_documents_carry() {
    // A cold start and a warm run: every count and every value metric has something to carry.
    let lines = vec![
        "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n"
            .into(),
        start(A),
        report(A, 100.0, "Init Duration: 111.23 ms"),
        start(B),
        report(B, 100.0, ""),
    ];
    let (all, own) = metric_names(&run(&mut processor(""), &[batch("uploader", &lines)]));
    let (counts_only, _) = metric_names(&run(
        &mut processor("value_metrics = false"),
        &[batch("uploader", &lines)],
    ));
    let (with_cost, _) = metric_names(&run(
        &mut processor("cost_metrics = true"),
        &[batch("uploader", &lines)],
    ));
    let names = |list: &[Metric]| {
        list.iter()
            .map(|m| m.name().to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let expected_all: std::collections::BTreeSet<String> =
        names(&Metric::COUNTS).union(&names(&Metric::VALUES)).cloned().collect();
    assert_eq!(
        all, expected_all,
        "a function's documents carry every count and every value metric"
    );
    assert_eq!(
        counts_only,
        names(&Metric::COUNTS),
        "value_metrics = false keeps the counts only"
    );
    let processor_names: std::collections::BTreeSet<String> =
        ProcessorMetric::ALL.iter().map(|m| m.name().to_string()).collect();
    assert_eq!(own, processor_names, "the processor's own documents");
    let expected_cost: std::collections::BTreeSet<String> =
        expected_all.union(&names(&Metric::COST)).cloned().collect();
    assert_eq!(
        with_cost, expected_cost,
        "cost_metrics = true adds billed duration and GB-seconds"
    );

    let guide: String = include_str!("../../docs/deploy.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let per_function = all.len();
    let fixed = per_function + own.len();
    for phrase in [
        format!("adds up to {per_function} metrics under its `FunctionName`"),
        format!("{} counts, from `Invocations` to `InitFailures`", Metric::COUNTS.len()),
        format!("and {} values,", Metric::VALUES.len()),
        format!("the same {per_function} metrics with no dimensions"),
        format!("own {} `Processor` metrics", own.len()),
        format!("`({per_function} × N + {fixed}) × $0.30`"),
        format!("drops the {} value metrics", Metric::VALUES.len()),
        format!("`({} × N + {}) ×", counts_only.len(), counts_only.len() + own.len()),
        format!("adds {} value metrics per function", Metric::COST.len()),
        format!("`({} × N + {}) ×", with_cost.len(), with_cost.len() + own.len()),
    ] {
        assert!(guide.contains(&phrase), "docs/deploy.md should say {phrase:?}");
    }
}

#[test]
fn cost_metrics_carry_each_invocations_billed_duration_and_gb_seconds_when_asked_for() {
    let json_report = |billed: &str| {
        format!(
            r#"{{"time":"2026-11-29T10:00:30.000Z","type":"platform.report","record":{{"requestId":"{A}","metrics":{{"durationMs":29990.0{billed}}},"status":"success"}}}}"#
        )
    };
    /// (case, config, lines, expected billed ms and GB-seconds).
    type CostCase = (&'static str, &'static str, Vec<String>, Option<(f64, f64)>);
    let cases: [CostCase; 5] = [
        (
            "a text REPORT: 3,117 billed ms at 1,024 MB",
            "cost_metrics = true",
            vec![
                start(A),
                format!(
                    "REPORT RequestId: {A}\tDuration: 3004.92 ms\tBilled Duration: 3117 ms\tMemory Size: 1024 MB\tMax Memory Used: 33 MB\tInit Duration: 111.23 ms\n"
                ),
            ],
            Some((3117.0, 3.117)),
        ),
        (
            "a JSON platform.report: 30,000 billed ms at 512 MB",
            "cost_metrics = true",
            vec![json_report(r#","billedDurationMs":30000,"memorySizeMB":512"#)],
            Some((30_000.0, 15.0)),
        ),
        (
            "a report without billed duration or memory (Managed Instances) carries none",
            "cost_metrics = true",
            vec![json_report("")],
            None,
        ),
        ("off by default", "", vec![start(A), report(A, 100.0, "")], None),
        (
            "value_metrics = false does not turn them off",
            "cost_metrics = true\nvalue_metrics = false",
            vec![start(A), report(A, 100.0, "")],
            Some((100.0, 0.0125)),
        ),
    ];
    for (name, config, lines, expected) in cases {
        let outcomes = run(&mut processor(config), &[batch("uploader", &lines)]);
        let docs: Vec<Value> = outcomes
            .iter()
            .flat_map(|o| &o.documents)
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .filter(|d| d["FunctionName"] == "uploader")
            .collect();
        assert_eq!(
            docs.iter().map(|d| d["Invocations"].as_i64().unwrap_or(0)).sum::<i64>(),
            1,
            "{name}: the invocation is counted"
        );
        let values = |metric: &str| -> Vec<f64> {
            docs.iter()
                .filter_map(|d| d.get(metric))
                .flat_map(|v| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .collect()
        };
        match expected {
            Some((billed, gb_seconds)) => {
                assert_eq!(values("BilledDuration"), vec![billed], "{name}");
                let got = values("GBSeconds");
                assert!(got.len() == 1 && (got[0] - gb_seconds).abs() < 1e-9, "{name}: {got:?}");
                let unit = |metric: &str| {
                    docs.iter()
                        .flat_map(|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().clone())
                        .find(|m| m["Name"] == metric)
                        .map(|m| m["Unit"].as_str().unwrap().to_string())
                };
                assert_eq!(unit("BilledDuration").as_deref(), Some("Milliseconds"), "{name}");
                assert_eq!(unit("GBSeconds").as_deref(), Some("None"), "{name}");
            }
            None => {
                assert!(
                    docs.iter()
                        .all(|d| d.get("BilledDuration").is_none() && d.get("GBSeconds").is_none()),
                    "{name}: {docs:?}"
                );
            }
        }
    }
}

#[test]
fn an_invocation_that_still_holds_counts_is_settled_not_forgotten_when_newer_ones_need_its_room() {
    let mut p = Processor::new(Config::default(), Clock::FollowLogs, None, "lambda-watchdog");
    // Errors of an invocation that has not reported: held, not due for a while.
    let mut events = vec![batch_at("held-worker", T0, &[start(A), error_line(A)])];
    // Then more invocations of another function than the processor remembers, each still
    // running when its batch ends (remembered for a later batch), all within a few seconds, so
    // that nothing is due by the clock.
    let per_batch = 500;
    for b in 0..MAX_TRACKED.div_ceil(per_batch) + 1 {
        let mut lines = Vec::new();
        for i in 0..per_batch {
            lines.push(start(&format!("{b:08x}-0000-4000-8000-{i:012x}")));
        }
        let events_at: Vec<(i64, &str)> = lines.iter().map(|l| (T0 + 2_000, l.as_str())).collect();
        events.push(data_message("/aws/lambda/busy-worker", STREAM, &events_at));
    }
    let outcomes: Vec<Outcome> = events.iter().map(|e| p.handle_event(e)).collect();
    assert_eq!(
        sum(&outcomes, "held-worker", "Errors"),
        1.0,
        "written when it made room, before any flush"
    );
    assert_eq!(
        sum(&[p.flush()], "held-worker", "Errors"),
        0.0,
        "and not again at the end"
    );
}

/// Rules at the edges of the batch-wide search for candidates: a phrase that holds the NUL that
/// parts lines in the search buffer, case-insensitive regexes folding past ASCII (Kelvin sign,
/// long s), one with more needles than own searches, one without needles, an anchored one, and
/// one for another function only.
const EDGE_RULES: &[(&str, &str, Option<&str>)] = &[
    ("ApiLimit", "API Rate Limit", None),
    ("Limit", "Limit", None),
    ("NulInside", "a\0b", None),
    ("Kelvin", "(?i)kelvin", None),
    ("LongS", "(?i)ſtop", None),
    ("Many", r"(alpha|beta|gamma|delta|omega|sigma)-\d", None),
    ("NoNeedle", r"\w+=\d+", None),
    ("ErrorLevel", r"^\[ERROR\]", None),
    ("OthersDeadlock", "(?i)deadlock", Some("other-*")),
];

fn edge_rules_config() -> String {
    EDGE_RULES
        .iter()
        .map(|(metric, pattern, functions)| {
            let pattern = toml::Value::String(pattern.to_string());
            let functions = functions.map_or(String::new(), |f| format!("functions = [\"{f}\"]\n"));
            format!("[[rule]]\nmetric = \"{metric}\"\npattern = {pattern}\n{functions}")
        })
        .collect()
}

/// Each rule's count for `function`, summed over the documents; a rule no document names
/// counted nothing. Every metric a document names must be a built-in one or a rule's.
fn edge_rule_counts(outcomes: &[Outcome], function: &str) -> Vec<f64> {
    let documents: Vec<Value> = outcomes
        .iter()
        .flat_map(|o| &o.documents)
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|d| d["FunctionName"] == function)
        .collect();
    EDGE_RULES
        .iter()
        .map(|(metric, _, _)| {
            documents
                .iter()
                .filter_map(|d| d.get(*metric))
                .map(|v| v.as_f64().unwrap_or_else(|| panic!("{metric} is {v}")))
                .sum()
        })
        .collect()
}

mod edge_rule_properties {
    use super::*;
    use proptest::prelude::*;

    fn piece() -> impl Strategy<Value = String> {
        let window = crate::window::WINDOW_BYTES;
        prop_oneof![
            8 => proptest::sample::select(&[
                "API ", "Rate ", "Limit", "limit", "a", "\0", "b", "\u{212A}", "K", "elvin", "ELVIN", "ſ", "S",
                "top", "TOP", "alpha-", "OMEGA-", "Sigma-", "1", "=", "_", " ", "DeadLock", "[ERROR]", "\u{1F600}",
            ][..])
            .prop_map(String::from),
            1 => proptest::sample::select(vec![window - 40, window / 3, window + 1]).prop_map(|n| "f".repeat(n)),
        ]
    }

    /// Invocations, each its app lines' texts.
    fn invocations() -> impl Strategy<Value = Vec<Vec<String>>> {
        proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(piece(), 0..5).prop_map(|p| p.concat()), 0..5),
            0..5,
        )
    }

    fn lines_of(invocations: &[Vec<String>]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut lines = Vec::new();
        let mut app = Vec::new();
        for (n, texts) in invocations.iter().enumerate() {
            let id = format!("{n:08x}-0000-4000-8000-{n:012x}");
            lines.push(start(&id));
            let own: Vec<String> = texts
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let level = if k % 2 == 0 { "ERROR" } else { "INFO" };
                    format!("[{level}]\t2026-11-29T10:00:00.000Z\t{id}\t{t}\n")
                })
                .collect();
            lines.extend(own.iter().cloned());
            app.push(own);
            lines.push(report(&id, 100.0, ""));
        }
        (lines, app)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn each_rule_counts_the_invocations_with_a_line_its_own_pattern_matches_in_one_batch_or_line_by_line(
            orders in invocations(),
            others in invocations(),
        ) {
            let config = Config::from_toml_str(&edge_rules_config()).unwrap();
            let functions = [("orders-api", &orders), ("other-job", &others)];
            let mut whole = processor(&edge_rules_config());
            let mut by_line = processor(&edge_rules_config());
            let mut whole_batches = Vec::new();
            let mut line_batches = Vec::new();
            let mut wants = Vec::new();
            for (function, invocations) in functions {
                let (lines, app) = lines_of(invocations);
                whole_batches.push(batch(function, &lines));
                for (k, line) in lines.iter().enumerate() {
                    line_batches.push(batch_at(function, T0 + k as i64 * 1000, std::slice::from_ref(line)));
                }
                let want: Vec<f64> = EDGE_RULES
                    .iter()
                    .enumerate()
                    .map(|(r, (_, _, only))| {
                        let applies = only.is_none_or(|_| function.starts_with("other-"));
                        let rule = &config.rules[r];
                        app.iter()
                            .filter(|own| applies && own.iter().any(|l| rule.pattern.is_match(l)))
                            .count() as f64
                    })
                    .collect();
                wants.push((function, want));
            }
            let whole = run(&mut whole, &whole_batches);
            let by_line = run(&mut by_line, &line_batches);
            for (function, want) in wants {
                prop_assert_eq!(&edge_rule_counts(&whole, function), &want, "{} in one batch", function);
                prop_assert_eq!(&edge_rule_counts(&by_line, function), &want, "{} line by line", function);
            }
        }
    }
}
