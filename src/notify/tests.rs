//! Which notices go out, and what they carry.

use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::processor::{Counted, Evidence, InvocationRecord};
use crate::testing::{data_message, direct_event};
use crate::{Clock, Processor};

const T0: i64 = 1_795_946_400_000;
const MINUTE: i64 = 60_000;

/// Records as the processor makes them, from batches of plain lines, one batch per entry.
fn records(config: &Config, function: &str, batches: &[(i64, Vec<String>)]) -> Vec<Vec<InvocationRecord>> {
    let mut p = Processor::new(config.clone(), Clock::Fixed(T0 + 3_600_000), None, "w");
    batches
        .iter()
        .map(|(at, lines)| {
            let events: Vec<(i64, &str)> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| (at + i as i64 * 10, l.as_str()))
                .collect();
            p.handle_event(&direct_event(&data_message(
                &format!("/aws/lambda/{function}"),
                "2026/11/29/[$LATEST]abc",
                &events,
            )))
            .invocations
        })
        .collect()
}

fn id(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-000000000000")
}

fn timeout_invocation(n: u32) -> Vec<String> {
    vec![
        format!("START RequestId: {} Version: $LATEST", id(n)),
        format!(
            "[ERROR]\t2026-11-29T10:00:01.000Z\t{}\tquery took too long password=hunter2",
            id(n)
        ),
        format!(
            "REPORT RequestId: {}\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout",
            id(n)
        ),
    ]
}

#[test]
fn the_first_timeout_goes_out_at_once_and_later_ones_are_merged_until_the_cooldown_ends() {
    let config = Config::default();
    let batches = [
        (T0, timeout_invocation(1)),
        (T0 + MINUTE, timeout_invocation(2)),
        (T0 + 2 * MINUTE, timeout_invocation(3)),
        (T0 + 20 * MINUTE, timeout_invocation(4)),
    ];
    let mut notifier = Notifier::new("us-east-1");
    let sent: Vec<Vec<Notice>> = records(&config, "uploader", &batches)
        .iter()
        .map(|r| notifier.notices_for(&config, r))
        .collect();
    let timeouts = |notices: &Vec<Notice>| {
        notices
            .iter()
            .filter(|n| n.class == "Timeouts")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(timeouts(&sent[0]).len(), 1);
    assert_eq!(timeouts(&sent[0])[0].merged, 0);
    assert!(
        timeouts(&sent[1]).is_empty() && timeouts(&sent[2]).is_empty(),
        "within the 15-minute cooldown"
    );
    let later = timeouts(&sent[3]);
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].merged, 2, "the two merged timeouts are reported");
    assert!(later[0].text().contains("2 more occurrence(s)"));
}

#[test]
fn a_class_with_a_threshold_waits_for_enough_occurrences_in_the_window() {
    let config = Config::from_toml_str("[notices.thresholds]\nerrors = 3").unwrap();
    let error = |n: u32| {
        vec![
            format!("START RequestId: {} Version: $LATEST", id(n)),
            format!(
                "REPORT RequestId: {}\tDuration: 10.00 ms\tStatus: error\tError Type: Runtime.Unhandled",
                id(n)
            ),
        ]
    };
    let batches: Vec<(i64, Vec<String>)> = (0..3).map(|i| (T0 + i as i64 * MINUTE, error(i))).collect();
    let mut notifier = Notifier::new("us-east-1");
    let counts: Vec<usize> = records(&config, "orch-user", &batches)
        .iter()
        .map(|r| {
            notifier
                .notices_for(&config, r)
                .iter()
                .filter(|n| n.class == "Errors")
                .count()
        })
        .collect();
    assert_eq!(counts, vec![0, 0, 1]);
}

#[test]
fn an_alert_carries_request_ids_masked_samples_links_and_fingerprints() {
    let config = Config::default();
    let lines: Vec<String> = (1..=3).flat_map(timeout_invocation).collect();
    let recs = records(&config, "uploader", &[(T0, lines)]);
    let notices = Notifier::new("eu-west-1").notices_for(&config, &recs[0]);
    let alert = notices.iter().find(|n| n.class == "Timeouts").unwrap();
    assert_eq!(alert.count, 3);
    assert_eq!(alert.request_ids, vec![id(1), id(2), id(3)]);
    assert_eq!(alert.severity, Severity::Critical);
    let sample = &alert.samples[0];
    assert!(
        sample.line.contains("password=[REDACTED]") && !sample.line.contains("hunter2"),
        "{}",
        sample.line
    );
    assert!(
        sample.after.iter().any(|l| l.contains("REPORT")),
        "context lines come along"
    );
    assert!(sample.link.starts_with("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fuploader/log-events/"));
    assert!(
        sample
            .link
            .contains(&format!("$3Fstart$3D{T0}$26end$3D{}", T0 + MINUTE)),
        "{}",
        sample.link
    );
    assert!(
        alert
            .insights_link
            .as_ref()
            .unwrap()
            .contains("logs-insights$3FqueryDetail$3D~(")
    );
    assert_eq!(alert.fingerprints[0].invocations, 3, "{:?}", alert.fingerprints);
    let text = alert.text();
    assert!(text.contains("Timeout: 30s (learned"), "{text}");
    assert!(!text.contains("hunter2"));
}

#[test]
fn notices_over_the_cap_fold_into_one_summary() {
    let config = Config::from_toml_str("[notices]\nmax_per_invocation = 3").unwrap();
    let mut all = Vec::new();
    for f in 0..5 {
        let function = format!("worker-{f}");
        all.extend(records(&config, &function, &[(T0, timeout_invocation(f))]).remove(0));
    }
    let notices = Notifier::new("us-east-1").notices_for(&config, &all);
    assert_eq!(notices.len(), 3);
    let summary = notices.last().unwrap();
    assert_eq!(summary.kind, Kind::Summary);
    assert_eq!(summary.summarised.len(), 3, "{:?}", summary.summarised);
}

#[test]
fn short_runs_of_a_chunked_worker_get_larger_chunk_advice_with_a_concrete_size() {
    let config =
        Config::from_toml_str("[[function]]\nmatch = \"scraper-*\"\ntimeout_seconds = 300\nchunked = true").unwrap();
    let lines: Vec<String> = (0..6)
        .flat_map(|n| {
            vec![
                format!("START RequestId: {} Version: $LATEST", id(n)),
                format!("[INFO]\tt\t{}\tprocessed chunk_size=50 items", id(n)),
                format!("REPORT RequestId: {}\tDuration: {}.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB", id(n), 20_000 + n * 1000),
            ]
        })
        .collect();
    let recs = records(&config, "scraper-worker", &[(T0, lines)]);
    let mut notifier = Notifier::new("us-east-1");
    let notices = notifier.notices_for(&config, &recs[0]);
    let advice = notices.iter().find(|n| n.kind == Kind::Advice).expect("advice");
    let a = advice.advice.as_ref().unwrap();
    assert_eq!(a.direction, Direction::Larger);
    assert_eq!(a.chunk_size, Some(50.0));
    // p95 of 20..25 s is 25 s; 150 s / 25 s = 6, so 50 becomes 300.
    assert_eq!(a.suggested_chunk_size, Some(300));
    assert!(advice.text().contains("from 50 to 300"), "{}", advice.text());
    assert_eq!(advice.timeout.unwrap().source, TimeoutSource::Config);
    // Once per cooldown.
    assert!(
        notifier
            .notices_for(&config, &recs[0])
            .iter()
            .all(|n| n.kind != Kind::Advice)
    );
}

fn notice_with(function: &str, line: String) -> Notice {
    let record = InvocationRecord {
        account: Arc::from("123456789012"),
        function: Arc::from(function),
        log_group: Arc::from(format!("/aws/lambda/{function}").as_str()),
        log_stream: Arc::from("s"),
        request_id: id(1),
        timestamp_ms: T0,
        counted: Counted::default(),
        retracted: Counted::default(),
        duration_ms: None,
        init_duration_ms: None,
        memory_size_mb: None,
        max_memory_used_mb: None,
        timeout: Timeout {
            seconds: 3.0,
            source: TimeoutSource::Default,
        },
        chunk_size: None,
        error_type: None,
        rules: Default::default(),
        chunked: false,
        evidence: (0..3)
            .map(|_| Evidence {
                timestamp_ms: T0,
                line: line.clone(),
                before: [line.clone()].into_iter().collect(),
                after: [line.clone()].into_iter().collect(),
            })
            .collect(),
    };
    Notifier::new("us-east-1").alert(&Config::default(), function, Metric::Errors, &[&record], 0)
}

#[test]
fn subjects_are_short_printable_ascii_on_one_line() {
    let notice = notice_with(
        "überlanger-funktionsname-mit-sehr-vielen-zeichen-die-niemand-lesen-will-und-noch-mehr-text-dahinter",
        "x".into(),
    );
    let message = sns::message_for(&notice);
    assert!(message.subject.len() <= sns::MAX_SUBJECT_CHARS, "{}", message.subject);
    assert!(
        message.subject.chars().all(|c| c.is_ascii_graphic() || c == ' '),
        "{}",
        message.subject
    );
    assert!(message.subject.starts_with("[watchdog] ?berlanger"));
    assert_eq!(sns::clean_subject("a\nb\tc"), "a b c");
}

#[test]
fn huge_multibyte_samples_are_trimmed_to_fit_sns_and_stay_valid() {
    // Alerts already cut lines to 1,000 bytes; the size limit is the last line of defence, so
    // give it samples far past 256 KB.
    let mut notice = notice_with("f", "x".into());
    for s in &mut notice.samples {
        s.line = "ü💥".repeat(30_000);
        s.before = vec!["é".repeat(60_000)];
    }
    let message = sns::message_for(&notice);
    assert!(
        !message.notice.samples.is_empty(),
        "trimmed, not dropped, when trimming is enough"
    );
    assert!(
        message.message.len() <= sns::MAX_MESSAGE_BYTES,
        "{} bytes",
        message.message.len()
    );
    let parsed: serde_json::Value = serde_json::from_str(&message.message).unwrap();
    assert!(parsed["default"].as_str().unwrap().contains("[watchdog] f"));
    let machine: serde_json::Value = serde_json::from_str(parsed["sqs"].as_str().unwrap()).unwrap();
    assert_eq!(machine["function"], "f");
    let attrs: Vec<&str> = message.attributes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(attrs, vec!["function", "class", "severity", "kind"]);
}

/// A JSON-format invocation (Lambda's JSON log format) that logs one application line.
fn json_invocation(n: u32, at: &str, line: &str) -> Vec<String> {
    let id = id(n);
    vec![
        format!(
            r#"{{"time":"2026-11-29T{at}Z","type":"platform.start","record":{{"requestId":"{id}","version":"$LATEST"}}}}"#
        ),
        line.replace("REQUEST", &id),
        format!(
            r#"{{"time":"2026-11-29T{at}Z","type":"platform.report","record":{{"requestId":"{id}","metrics":{{"durationMs":12.0,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":60}},"status":"success"}}}}"#
        ),
    ]
}

#[test]
fn structured_lines_that_differ_in_values_read_as_one_template_with_its_count_explained() {
    let config = Config::from_toml_str("[notices.thresholds]\nerrors = 1").unwrap();
    let lines: Vec<String> = [(1, "10:00:00.000", "123"), (2, "10:00:00.500", "456")]
        .into_iter()
        .flat_map(|(n, at, upload)| {
            json_invocation(
                n,
                at,
                &format!(r#"{{"level":"error","msg":"upload failed for id {upload}","requestId":"REQUEST"}}"#),
            )
        })
        .collect();
    let recs = records(&config, "uploader", &[(T0, lines)]);
    let notices = Notifier::new("eu-west-1").notices_for(&config, &recs[0]);
    let alert = notices.iter().find(|n| n.class == "Errors").expect("an Errors alert");
    let text = alert.text();
    assert!(
        text.contains("  x2    ERROR upload failed for id <n>\n"),
        "both invocations under one template:\n{text}"
    );
    assert!(
        text.contains("xN: logged by N of the 2 invocations in this notice"),
        "the count is explained:\n{text}"
    );
    assert!(!text.contains("{<str>"), "no JSON shape as a fingerprint:\n{text}");
}

#[test]
fn the_subject_and_body_name_the_account_and_region_and_an_unknown_region_is_said() {
    let config = Config::default();
    let recs = records(&config, "uploader", &[(T0, timeout_invocation(1))]);
    let cases = [
        (
            "a known region",
            Some("eu-west-1".to_string()),
            "eu-west-1",
            "Region eu-west-1",
        ),
        ("no region known", None, "Region unknown", "Region unknown"),
    ];
    for (name, region, in_subject, in_body) in cases {
        let notices = Notifier::with_region(region).notices_for(&config, &recs[0]);
        let alert = notices.iter().find(|n| n.class == "Timeouts").expect("a timeout alert");
        let subject = sns::message_for(alert).subject;
        assert!(
            subject.contains("123456789012") && subject.contains(in_subject),
            "{name}: {subject}"
        );
        let text = alert.text();
        assert!(
            text.contains(&format!("Logs of account 123456789012, {in_body}.")),
            "{name}: {text}"
        );
    }
}

#[test]
fn a_long_function_name_is_shortened_so_that_the_account_and_region_stay_in_the_subject() {
    let notice = notice_with(&"a-very-long-function-name".repeat(4), "x".into());
    let subject = sns::message_for(&notice).subject;
    assert!(subject.len() <= sns::MAX_SUBJECT_CHARS, "{subject}");
    assert!(subject.ends_with("(123456789012, us-east-1)"), "{subject}");
    assert!(
        subject.starts_with("[watchdog] a-very-long-function-n") && subject.contains("...: "),
        "{subject}"
    );
}

#[test]
fn the_window_covers_a_timeouts_early_lines_in_seconds_and_no_line_is_quoted_twice() {
    // The ERROR line comes 1 min 46 s before the REPORT of its timeout; the REPORT is evidence
    // too, and the two share their context.
    let config = Config::default();
    let n = 7;
    let batches = [
        (
            T0 + 106_000,
            vec![
                format!("START RequestId: {} Version: $LATEST", id(n)),
                format!("[ERROR]\t2026-11-29T10:01:46.000Z\t{}\tupload of part 3 stalled", id(n)),
            ],
        ),
        (
            T0 + 168_000,
            vec![
                format!("2026-11-29T10:02:48.000Z {} Task timed out after 62.00 seconds", id(n)),
                format!("END RequestId: {}", id(n)),
                format!(
                    "REPORT RequestId: {}\tDuration: 62000.00 ms\tBilled Duration: 62000 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout",
                    id(n)
                ),
            ],
        ),
    ];
    let all: Vec<InvocationRecord> = records(&config, "uploader", &batches).concat();
    let notices = Notifier::new("us-east-1").notices_for(&config, &all);
    let alert = notices.iter().find(|n| n.class == "Timeouts").expect("a timeout alert");
    let text = alert.text();
    let window = text.lines().find(|l| l.starts_with("Window: ")).unwrap();
    let quoted: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  > ") || (l.starts_with("    ") && !l.starts_with("     ")))
        .collect();
    let first_sample = alert.samples.iter().map(|s| s.timestamp_ms).min().unwrap();
    let last_sample = alert.samples.iter().map(|s| s.until_ms).max().unwrap();
    assert!(
        window.starts_with(&format!(
            "Window: {} to ",
            &crate::present::rfc3339_ms(first_sample)[11..19]
        )),
        "{window}\n{text}"
    );
    assert!(window.contains(" to 10:02:48 UTC on 2026-11-29"), "{window}");
    for (i, line) in quoted.iter().enumerate() {
        assert!(!quoted[..i].contains(line), "{line:?} is quoted twice:\n{text}");
    }
    assert!(
        quoted.iter().any(|l| l.contains("upload of part")) && quoted.iter().any(|l| l.contains("Task timed out")),
        "{text}"
    );
    // The console links span the quoted lines: from their first minute to after their last.
    let sample = &alert.samples[0];
    assert!(
        sample
            .link
            .contains(&format!("$3Fstart$3D{}$26end$3D{}", T0 + MINUTE, T0 + 3 * MINUTE)),
        "{} {} {}",
        first_sample,
        last_sample,
        sample.link
    );
}

#[test]
fn one_function_name_in_two_accounts_gets_an_alert_per_account() {
    let config = Config::default();
    let mut recs = records(&config, "uploader", &[(T0, timeout_invocation(1))]).remove(0);
    let other: Vec<InvocationRecord> = recs
        .iter()
        .cloned()
        .map(|mut r| {
            r.account = Arc::from("210987654321");
            r
        })
        .collect();
    recs.extend(other);
    let notices = Notifier::new("us-east-1").notices_for(&config, &recs);
    let subjects: Vec<String> = notices
        .iter()
        .filter(|n| n.class == "Timeouts")
        .map(|n| sns::message_for(n).subject)
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[0].ends_with("(123456789012, us-east-1)"), "{subjects:?}");
    assert!(subjects[1].ends_with("(210987654321, us-east-1)"), "{subjects:?}");

    let capped = Config::from_toml_str("[notices]\nmax_per_invocation = 1").unwrap();
    let summary = Notifier::new("us-east-1").notices_for(&capped, &recs).remove(0);
    assert_eq!(summary.kind, Kind::Summary);
    assert!(
        summary.subject().ends_with("(several accounts, us-east-1)"),
        "{}",
        summary.subject()
    );
    assert!(
        summary
            .text()
            .contains("Logs of account 123456789012, 210987654321, Region us-east-1."),
        "{}",
        summary.text()
    );
}
