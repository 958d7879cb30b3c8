//! The `lambda-watchdog` binary as a user runs it.

mod common;

use std::process::{Command, Output};

use common::{expected_counts, root};
use lambda_watchdog::emf::check_document;
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambda-watchdog"))
        .args(args)
        .current_dir(root())
        .env_remove("WATCHDOG_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("the CLI runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn replay_with_emf_output_prints_only_valid_documents() {
    let out = run(&["replay", "--output", "emf", "events/"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 20);
    for line in &lines {
        check_document(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let invocations: u64 = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|d| d["FunctionName"] == "uploader")
        .filter_map(|d| d["Invocations"].as_u64())
        .sum();
    assert_eq!(invocations, expected_counts()["uploader"]["Invocations"]);
}

#[test]
fn replay_prints_a_table_with_every_function_and_what_stands_out() {
    let out = run(&["replay", "events/"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for function in expected_counts().keys().filter(|f| !f.starts_with('_')) {
        assert!(text.contains(function.as_str()), "{function} missing from\n{text}");
    }
    assert!(text.contains("p95"));
    assert!(text.contains("What stands out"));
    assert!(text.contains("timed out"));
    assert!(text.contains("chunks of work may be too small"));
    assert!(stderr(&out).contains("watchdog.toml"), "says which config it used");
}

#[test]
fn replay_json_gives_the_same_counts_for_scripts() {
    let out = run(&["replay", "--output", "json", "events/"]);
    assert!(out.status.success());
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let expected = expected_counts();
    for f in report["functions"].as_array().unwrap() {
        let name = f["function"].as_str().unwrap();
        for metric in [
            "Invocations",
            "Timeouts",
            "OutOfMemory",
            "Errors",
            "NearTimeout",
            "ShortRuns",
        ] {
            assert_eq!(
                f["counts"][metric].as_u64().unwrap(),
                expected[name][metric],
                "{name} {metric}"
            );
        }
    }
    assert_eq!(
        report["processor"]["DecodeFailures"].as_u64().unwrap(),
        expected["_processor"]["DecodeFailures"]
    );
    let first = &report["functions"][0];
    assert!(first["counts"]["Timeouts"].as_u64().unwrap() > 0, "worst first");
}

/// Issue 13: `replay --output json` must report InitFailures as the EMF carries them.
#[test]
fn replay_json_reports_init_failures_as_the_emf_does() {
    let json = run(&["replay", "--output", "json", "events/"]);
    assert!(json.status.success());
    let report: Value = serde_json::from_str(&stdout(&json)).unwrap();
    let emf = run(&["replay", "--output", "emf", "events/"]);
    assert!(emf.status.success());
    let mut from_emf: std::collections::BTreeMap<String, u64> = Default::default();
    for line in stdout(&emf).lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        if let (Some(function), Some(n)) = (doc["FunctionName"].as_str(), doc["InitFailures"].as_u64()) {
            *from_emf.entry(function.to_string()).or_default() += n;
        }
    }
    assert!(from_emf.values().sum::<u64>() > 0, "the samples hold a failed init");
    for f in report["functions"].as_array().unwrap() {
        let name = f["function"].as_str().unwrap();
        let shown = f["counts"]["InitFailures"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} has no InitFailures in the JSON"));
        let in_emf = from_emf
            .get(name)
            .unwrap_or_else(|| panic!("the EMF documents have no InitFailures for {name}"));
        assert_eq!(shown, *in_emf, "{name} InitFailures");
    }
}

#[test]
fn unreadable_files_are_named_and_make_the_exit_code_fail() {
    let dir = std::env::temp_dir().join(format!("lw-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{ this is not json").unwrap();
    let out = run(&[
        "replay",
        "events/15-control-message.json",
        broken.to_str().unwrap(),
        "/no/such/file.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("broken.json") && err.contains("not JSON"), "{err}");
    assert!(err.contains("/no/such/file.json"), "{err}");
    assert!(
        stdout(&out).contains("1 control messages"),
        "the readable file was still processed"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_config_is_refused_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("lw-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("bad.toml");
    std::fs::write(&config, "[defaults]\nnear_timeout_ratio = 2.0\n").unwrap();
    let out = run(&["replay", "--config", config.to_str().unwrap(), "events/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("defaults.near_timeout_ratio"), "{}", stderr(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plain_log_files_replay_with_their_log_group() {
    let dir = std::env::temp_dir().join(format!("lw-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("uploader.log");
    std::fs::write(
        &log,
        "START RequestId: aaaaaaaa-0000-4000-8000-000000000001 Version: $LATEST\n\
         2026-11-29T10:00:01.000Z\taaaaaaaa-0000-4000-8000-000000000001\tERROR\tError: ER_CON_COUNT_ERROR: Too many connections\n\
         REPORT RequestId: aaaaaaaa-0000-4000-8000-000000000001\tDuration: 3016.78 ms\tBilled Duration: 3101 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB\tStatus: timeout\n",
    )
    .unwrap();
    let without = run(&["replay", log.to_str().unwrap()]);
    assert_eq!(without.status.code(), Some(1));
    assert!(stderr(&without).contains("--log-group"));
    let out = run(&[
        "replay",
        "--output",
        "json",
        "--log-group",
        "/aws/lambda/uploader",
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let f = &report["functions"][0];
    assert_eq!(f["function"], "uploader");
    assert_eq!(f["counts"]["Timeouts"], 1);
    assert_eq!(f["counts"]["TooManyConnections"], 1);
    assert_eq!(
        f["counts"]["Errors"], 0,
        "a timed-out invocation counts under Timeouts only"
    );
    assert_eq!(f["timeout"]["seconds"], 3.0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn replay_counts_the_same_through_its_in_process_state_as_without_shared_state() {
    let sums = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let documents: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        lambda_watchdog::testing::fleet::sums(&documents)
    };
    let shared = sums(&["replay", "--output", "emf", "events/"]);
    let alone = sums(&["replay", "--output", "emf", "--no-shared-state", "events/"]);
    assert!(shared.keys().any(|(_, _, m)| m == "Timeouts"), "{shared:?}");
    lambda_watchdog::testing::fleet::assert_same_cells(&alone, &shared);
    // The same folder given twice: every batch comes again, and neither way counts it twice.
    let twice = sums(&["replay", "--output", "emf", "events/", "events/"]);
    lambda_watchdog::testing::fleet::assert_same_cells(&shared, &twice);
    let twice_alone = sums(&["replay", "--output", "emf", "--no-shared-state", "events/", "events/"]);
    lambda_watchdog::testing::fleet::assert_same_cells(&alone, &twice_alone);
}

#[test]
fn a_state_table_and_no_shared_state_cannot_be_asked_for_together() {
    let out = run(&["replay", "--state-table", "t", "--no-shared-state", "events/"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--no-shared-state"), "{}", stderr(&out));
}
