//! The shipped sample events, run through the library as the Lambda and the CLI run them: the
//! metrics CloudWatch would get must match what the generator says each scenario shows.

mod common;

use common::{expected_counts, replay_samples, totals};
use lambda_watchdog::emf::check_document;
use serde_json::Value;

#[test]
fn every_sample_document_is_valid_emf() {
    let outcomes = replay_samples();
    let documents: Vec<&String> = outcomes.iter().flat_map(|o| &o.documents).collect();
    assert!(documents.len() > 20);
    for doc in documents {
        check_document(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    }
}

#[test]
fn per_function_metrics_match_the_expected_counts() {
    let outcomes = replay_samples();
    let documents: Vec<String> = outcomes.iter().flat_map(|o| o.documents.clone()).collect();
    let got = totals(&documents, "FunctionName");
    let expected = expected_counts();
    for (function, metrics) in expected.iter().filter(|(f, _)| !f.starts_with('_')) {
        for (metric, want) in metrics {
            // Strict: a built-in metric the documents do not carry is a failure, never a 0; only
            // a rule that does not apply to the function (expected 0) is absent.
            let builtin = lambda_watchdog::metrics::Metric::COUNTS
                .iter()
                .any(|m| m.name() == metric);
            let have = match got.get(function).and_then(|m| m.get(metric)) {
                Some(n) => *n,
                None if !builtin && *want == 0 => 0.0,
                None => panic!("{function} has no metric named {metric}"),
            };
            assert_eq!(have, *want as f64, "{function} {metric}");
        }
        // One Duration value per reported invocation, none dropped by the 100-value split.
        let invocations = got[function]["Invocations"];
        assert_eq!(
            got[function].get("Duration").copied().unwrap_or(0.0),
            invocations,
            "{function} Duration values"
        );
    }
    assert!(
        !got.contains_key("lambda-watchdog"),
        "the processor's own group must never be processed"
    );
}

#[test]
fn processor_metrics_match_the_expected_counts() {
    let outcomes = replay_samples();
    let documents: Vec<String> = outcomes.iter().flat_map(|o| o.documents.clone()).collect();
    let got = &totals(&documents, "Processor")["lambda-watchdog"];
    for (metric, want) in &expected_counts()["_processor"] {
        assert_eq!(got[metric], *want as f64, "Processor {metric}");
    }
    assert_eq!(got["BatchesExcluded"], 1.0);
    assert_eq!(got["MessagesRepaired"], 0.0, "the samples are UTF-8");
}

#[test]
fn a_busy_minute_spills_its_durations_over_several_documents_without_loss() {
    let outcomes = replay_samples();
    let thumbnailer: Vec<Value> = outcomes
        .iter()
        .flat_map(|o| &o.documents)
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|d| d["FunctionName"] == "thumbnailer")
        .collect();
    let with_durations: Vec<&Value> = thumbnailer.iter().filter(|d| d.get("Duration").is_some()).collect();
    assert!(
        with_durations
            .iter()
            .all(|d| d["Duration"].as_array().unwrap().len() <= 100)
    );
    let values: usize = with_durations
        .iter()
        .map(|d| d["Duration"].as_array().unwrap().len())
        .sum();
    assert_eq!(values, 150);
}

#[test]
fn metrics_carry_the_minute_of_the_logs_not_the_processing_time() {
    let outcomes = replay_samples();
    let day_start = 1_795_910_400_000i64; // 2026-11-29T00:00:00Z
    for doc in outcomes.iter().flat_map(|o| &o.documents) {
        let doc: Value = serde_json::from_str(doc).unwrap();
        if doc.get("FunctionName").is_some() {
            let ts = doc["_aws"]["Timestamp"].as_i64().unwrap();
            assert_eq!(ts % 60_000, 0, "minute-aligned");
            assert!(
                (day_start + 10 * 3_600_000..day_start + 11 * 3_600_000).contains(&ts),
                "{ts} is not 2026-11-29 10:xx"
            );
        }
    }
}

#[test]
fn evidence_lines_explain_each_failure() {
    let outcomes = replay_samples();
    let oom = outcomes
        .iter()
        .flat_map(|o| &o.invocations)
        .find(|r| &*r.function == "orch-user" && r.counted.has(lambda_watchdog::metrics::Metric::OutOfMemory))
        .expect("orch-user has an out-of-memory invocation");
    assert!(
        oom.evidence.iter().any(|e| e.line.contains("OutOfMemoryError")),
        "{:?}",
        oom.evidence
    );
}

/// Issue 13: every runtime and Lambda log shape has a sample, and each is counted where its
/// generator says, looked up strictly (a function or metric the documents lack is a failure).
#[test]
fn every_runtime_and_log_shape_has_a_sample_counted_as_declared() {
    let outcomes = replay_samples();
    let documents: Vec<String> = outcomes.iter().flat_map(|o| o.documents.clone()).collect();
    let got = totals(&documents, "FunctionName");
    let expected = expected_counts();
    // (function, what it stands for, a class its sample must show besides Invocations)
    let cases = [
        (
            "invoicer",
            ".NET level field, console logger, System.OutOfMemoryException",
            "OutOfMemory",
        ),
        ("invoicer", "RDS Proxy's exhausted pool is a cap", "TooManyConnections"),
        (
            "profile-sync",
            "Ruby Logger and Redis's client limit",
            "TooManyConnections",
        ),
        ("ledger", "SnapStart restore", "ColdStarts"),
        ("ledger", "429 TooManyRequests", "RateLimited"),
        ("notifier", "axios's status code 429", "RateLimited"),
        ("pricing", "custom group, slog text", "ConnectionErrors"),
        ("quotes", "custom group, tracing JSON", "RateLimited"),
        ("catalog", "Managed Instances, by request id", "RateLimited"),
    ];
    for (function, about, class) in cases {
        let want = expected
            .get(function)
            .and_then(|m| m.get(class))
            .unwrap_or_else(|| panic!("expected-counts.json has no {function} {class} ({about})"));
        assert!(*want > 0, "{function}: the sample must show {class} ({about})");
        let have = got
            .get(function)
            .and_then(|m| m.get(class))
            .unwrap_or_else(|| panic!("the documents have no {function} {class} ({about})"));
        assert_eq!(*have, *want as f64, "{function} {class} ({about})");
    }
    // Init lines (Node.js's `undefined` request id) never count as errors.
    assert_eq!(got["notifier"]["Errors"], 1.0);
    // The two functions of `/shared/lambda` count apart, never as one named after the group.
    assert!(!got.contains_key("lambda"), "{:?}", got.keys().collect::<Vec<_>>());
}
