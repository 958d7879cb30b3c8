//! `lambda-watchdog report` as a user runs it, for what it refuses before calling AWS. The
//! CloudWatch calls themselves are tested in the library with aws-smithy-mocks.

use std::process::{Command, Output};

fn report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambda-watchdog"))
        .arg("report")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("WATCHDOG_CONFIG")
        .env_remove("WATCHDOG_TOPIC_ARN")
        .env_remove("RUST_LOG")
        // Were a check to be skipped, the SDK would fail fast instead of looking for credentials.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the CLI runs")
}

fn refused(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn a_chart_file_that_is_neither_svg_nor_png_is_refused_naming_both() {
    let err = refused(&report(&["--chart", "incident.pdf"]));
    assert!(
        err.contains("cannot write incident.pdf: the chart file must end in .svg (for browsers, wikis and chat) or .png (for e-mail)"),
        "{err}"
    );
}

#[test]
fn a_bad_since_says_which_forms_it_takes() {
    let err = refused(&report(&["--since", "yesterday"]));
    assert!(err.contains(r#"could not read the time "yesterday""#), "{err}");
    assert!(err.contains("24h, 90m or 7d"), "{err}");
}

#[test]
fn a_window_that_ends_before_it_starts_is_refused() {
    let err = refused(&report(&[
        "--start",
        "2026-11-29T12:00:00Z",
        "--end",
        "2026-11-29T10:00:00Z",
    ]));
    assert!(
        err.contains("the end (2026-11-29T10:00:00Z) is not after the start (2026-11-29T12:00:00Z)"),
        "{err}"
    );
}

#[test]
fn since_and_start_cannot_be_given_together() {
    let out = report(&["--since", "2h", "--start", "2026-11-29T10:00:00Z"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn publishing_without_a_topic_is_refused() {
    let err = refused(&report(&["--publish"]));
    assert!(
        err.contains("--publish needs a topic: give --topic-arn or set WATCHDOG_TOPIC_ARN"),
        "{err}"
    );
}

#[test]
fn a_bad_function_glob_is_named() {
    let err = refused(&report(&["--function", "scraper-[", "--since", "1h"]));
    assert!(
        err.contains(r#"the function pattern "scraper-[" is not a valid glob"#),
        "{err}"
    );
}

#[test]
fn a_png_chart_in_a_named_region_is_accepted_and_the_report_goes_on_to_cloudwatch() {
    let dir = std::env::temp_dir().join(format!("report-cli-png-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let chart = dir.join("incident.png");
    let out = Command::new(env!("CARGO_BIN_EXE_lambda-watchdog"))
        .args(["report", "--since", "1h", "--region", "eu-west-1", "--chart"])
        .arg(&chart)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("WATCHDOG_CONFIG")
        .env_remove("RUST_LOG")
        // Nothing answers there: the run gets as far as the first CloudWatch call and stops.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("the CLI runs");
    let err = refused(&out);
    assert!(err.contains("could not call CloudWatch ListMetrics"), "{err}");
    assert!(!err.contains("chart"), "the .png name was not refused: {err}");
    assert!(!chart.exists(), "no chart without a report");
    std::fs::remove_dir_all(&dir).unwrap();
}
