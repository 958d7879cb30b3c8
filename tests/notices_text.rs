//! What an operator reads in the notices of the sample fleet (`events/`, account 123456789012,
//! us-east-1): the e-mail text and subject, checked line by line, as `replay` makes them.

mod common;

use common::{replay_samples_with, sample_config};
use lambda_watchdog::notify::{Kind, Notice, sns};
use lambda_watchdog::testing::percent_decode;

/// Every notice a replay of the samples makes, in order, with the samples' Region configured.
fn sample_notices() -> Vec<Notice> {
    let mut config = sample_config();
    config.notices.region = Some("us-east-1".into());
    let notices: Vec<Notice> = replay_samples_with(config)
        .into_iter()
        .flat_map(|ingested| ingested.notices)
        .collect();
    assert!(
        notices.iter().filter(|n| n.kind == Kind::Alert).count() >= 10,
        "the samples call for alerts: {notices:?}"
    );
    notices
}

fn alert<'a>(notices: &'a [Notice], function: &str, class: &str) -> &'a Notice {
    notices
        .iter()
        .find(|n| n.kind == Kind::Alert && n.function == function && n.class == class)
        .unwrap_or_else(|| panic!("no {class} alert for {function}"))
}

/// `10:01:46` from `10:01:46.481`.
fn second(time: &str) -> &str {
    &time[..8]
}

/// The sample headers of a notice's text: (first, last) time of day, to the millisecond.
fn sample_spans(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.contains(" UTC, request "))
        .map(|l| {
            let span = l.split(" UTC, request ").next().unwrap();
            match span.split_once(" to ") {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (span.to_string(), span.to_string()),
            }
        })
        .collect()
}

/// The (start, end) of a Logs Insights link, as `2026-11-29T10:00:00.000Z`.
fn insights_window(link: &str) -> (String, String) {
    let state = percent_decode(link.split("logs-insights").nth(1).unwrap(), '$');
    let value = |key: &str| {
        let rest = state.split(&format!("{key}~'")).nth(1).unwrap();
        percent_decode(rest.split('~').next().unwrap(), '*')
    };
    (value("start"), value("end"))
}

#[test]
fn every_notice_names_the_account_and_region_in_its_subject_and_body() {
    for notice in sample_notices() {
        let subject = sns::message_for(&notice).subject;
        assert!(subject.ends_with("(123456789012, us-east-1)"), "{subject}");
        assert!(subject.len() <= sns::MAX_SUBJECT_CHARS, "{subject}");
        let text = notice.text();
        assert!(
            text.contains("\nLogs of account 123456789012, Region us-east-1.\n"),
            "{text}"
        );
    }
}

#[test]
fn every_alerts_window_and_insights_link_cover_its_quoted_lines_to_the_second() {
    let notices = sample_notices();
    for notice in notices.iter().filter(|n| n.kind == Kind::Alert) {
        let text = notice.text();
        let window = text
            .lines()
            .find_map(|l| l.strip_prefix("Window: "))
            .unwrap_or_else(|| panic!("no window:\n{text}"));
        let (from, rest) = window.split_once(" to ").unwrap();
        let to = rest.split(' ').next().unwrap();
        assert!(rest.ends_with(" UTC on 2026-11-29."), "{window}");
        let spans = sample_spans(&text);
        assert!(!spans.is_empty(), "an alert quotes lines:\n{text}");
        let (insights_start, insights_end) = insights_window(notice.insights_link.as_deref().unwrap());
        for (first, last) in &spans {
            assert!(
                from <= second(first) && second(last) <= to,
                "{}/{}: window {from} to {to} does not cover {first} to {last}",
                notice.function,
                notice.class
            );
            assert!(
                insights_start[11..23] <= first[..] && insights_end[11..23] > last[..],
                "{}/{}: Logs Insights {insights_start} to {insights_end} does not cover {first} to {last}",
                notice.function,
                notice.class
            );
        }
    }
    // The case the window used to get wrong: an API rate limit logged at 10:01:46 by an
    // invocation that reported at 10:03:21 ("Window: 10:03 to 10:03").
    let text = alert(&notices, "scraper-worker", "RateLimited").text();
    assert!(
        text.contains("\nWindow: 10:01:46 to 10:03:21 UTC on 2026-11-29.\n"),
        "{text}"
    );
}

#[test]
fn no_notice_quotes_a_line_twice() {
    let notices = sample_notices();
    // Timeouts whose lines of evidence share their context: they used to be quoted twice.
    for (function, class) in [
        ("orch-files", "Timeouts"),
        ("uploader", "Timeouts"),
        ("scraper-worker", "Timeouts"),
    ] {
        alert(&notices, function, class);
    }
    for notice in notices.iter().filter(|n| n.kind == Kind::Alert) {
        let text = notice.text();
        let quoted: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("  > ").or_else(|| l.strip_prefix("    ")))
            .collect();
        for (i, line) in quoted.iter().enumerate() {
            assert!(
                !quoted[..i].contains(line),
                "{}/{} quotes {line:?} twice:\n{text}",
                notice.function,
                notice.class
            );
        }
    }
}

#[test]
fn structured_lines_are_grouped_by_level_and_message_and_the_counts_are_explained() {
    let notices = sample_notices();
    for notice in notices.iter().filter(|n| !n.fingerprints.is_empty()) {
        let text = notice.text();
        assert!(text.contains("(xN: logged by N of the "), "{text}");
        let section = text.split("What the logs say").nth(1).unwrap();
        for line in section.lines().skip(1).take_while(|l| l.starts_with("  x")) {
            assert!(!line.contains("{<str>:"), "a JSON shape instead of a message: {line}");
        }
    }
    // Rust's tracing JSON in a text-format group (events/27): its level and message.
    let text = alert(&notices, "quotes", "RateLimited").text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("  x1    ERROR ") && l.contains("Too Many Requests")),
        "{text}"
    );
    // Lambda's JSON platform records by type and status (events/05).
    let text = alert(&notices, "uploader", "Timeouts").text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("  x1    platform.report status=timeout")),
        "{text}"
    );
}
