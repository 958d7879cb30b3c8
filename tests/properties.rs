//! Property tests: no input, however broken, panics the processor or breaks an EMF document, and
//! decoding never inflates past its cap.

use base64::Engine as _;
use lambda_watchdog::Config;
use lambda_watchdog::decode::{DecodeError, decode_payload};
use lambda_watchdog::emf::check_document;
use lambda_watchdog::parse::parse;
use lambda_watchdog::processor::{Clock, Processor};
use lambda_watchdog::testing::{data_message, direct_event, encode_batch, kinesis_event};
use proptest::prelude::*;
use serde_json::{Value, json};

const T0: i64 = 1_795_946_400_000;

fn processor() -> Processor {
    Processor::new(Config::default(), Clock::Fixed(T0), None, "lambda-watchdog")
}

fn processor_counter(outcome: &lambda_watchdog::Outcome, metric: &str) -> u64 {
    outcome
        .documents
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|d| d.get("Processor").is_some())
        .map(|d| d[metric].as_u64().unwrap())
        .sum()
}

/// JSON values of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        Just(json!("awslogs")),
        Just(json!("Records")),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("awslogs".to_string()),
                    Just("data".to_string()),
                    Just("Records".to_string()),
                    Just("kinesis".to_string()),
                    Just("messageType".to_string()),
                    Just("logEvents".to_string()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Lines made of the vocabulary Lambda logs use, in any order: closer to real input than noise.
fn loggy_line() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "START",
        "END",
        "REPORT",
        "RequestId:",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "Duration:",
        "Billed",
        "Memory",
        "Size:",
        "Max",
        "Used:",
        "Init",
        "Status:",
        "timeout",
        "error",
        "Error",
        "Type:",
        "Runtime.OutOfMemory",
        "ms",
        "MB",
        "128",
        "3.5",
        "\t",
        "\n",
        "[ERROR]",
        "ERROR",
        "Task timed out after",
        "seconds",
        "{",
        "}",
        "\"type\":",
        "\"platform.report\"",
        "\"record\":",
        "\"level\":",
        ":",
        ",",
        "Too many connections",
        "Rate exceeded",
        "signal: killed",
        "INIT_REPORT",
        "Phase:",
        "invoke",
        "é",
        "💥",
    ]);
    prop::collection::vec(words, 0..30).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_a_payload_are_one_counted_decode_failure(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let outcome = processor().handle_event(&json!({"awslogs": {"data": data}}));
        prop_assert_eq!(processor_counter(&outcome, "DecodeFailures"), 1);
    }

    #[test]
    fn gzipped_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let outcome = processor().handle_event(&json!({"awslogs": {"data": encode_batch(&bytes)}}));
        for doc in &outcome.documents {
            prop_assert!(check_document(doc).is_ok());
        }
    }

    #[test]
    fn arbitrary_json_events_never_panic(event in any_json()) {
        let outcome = processor().handle_event(&event);
        for doc in &outcome.documents {
            prop_assert!(check_document(doc).is_ok());
        }
    }

    #[test]
    fn arbitrary_lines_never_panic_the_parser(line in ".{0,300}") {
        let _ = parse(&line);
    }

    #[test]
    fn arbitrary_batches_give_valid_documents_and_count_at_most_once_per_line(
        lines in prop::collection::vec(prop_oneof![loggy_line(), ".{0,80}"], 0..40),
        through_kinesis in any::<bool>(),
    ) {
        let events: Vec<(i64, &str)> = lines.iter().enumerate().map(|(i, l)| (T0 + i as i64 * 100, l.as_str())).collect();
        let message = data_message("/aws/lambda/f", "stream", &events);
        let event = if through_kinesis { kinesis_event(&[message]) } else { direct_event(&message) };
        let outcome = processor().handle_event(&event);
        for doc in &outcome.documents {
            prop_assert!(check_document(doc).is_ok(), "{}", doc);
            let doc: Value = serde_json::from_str(doc).unwrap();
            if doc.get("FunctionName").is_some() {
                for metric in ["Invocations", "Timeouts", "Errors", "OutOfMemory", "RateLimited", "TooManyConnections"] {
                    prop_assert!(doc[metric].as_u64().unwrap_or(0) <= lines.len() as u64, "{} > lines", metric);
                }
            }
        }
    }

    #[test]
    fn decoding_never_inflates_past_the_cap(zeros in 0usize..200_000, cap in 1024usize..100_000) {
        let data = encode_batch(&vec![0u8; zeros]);
        match decode_payload(&data, cap) {
            Ok(bytes) => prop_assert!(bytes.len() <= cap && bytes.len() == zeros),
            Err(DecodeError::TooLarge { .. }) => prop_assert!(zeros > cap),
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }
}

/// Every log line of the sample events (decoded through the library, as the processor decodes
/// them), plus a few with characters of two to four bytes, so that cuts fall inside characters.
fn sample_lines() -> &'static [String] {
    static LINES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        use lambda_watchdog::decode::{Envelope, parse_message};
        let mut lines: Vec<String> = Vec::new();
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
        let mut files: Vec<_> = std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.extension().is_some_and(|x| x == "json")) {
            let event: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            let datas: Vec<&str> = match Envelope::detect(&event) {
                Envelope::Direct(data) => vec![data],
                Envelope::Kinesis(items) => items.into_iter().filter_map(|i| i.data.ok()).collect(),
                _ => vec![],
            };
            for data in datas {
                let Ok(bytes) = decode_payload(data, 1 << 20) else { continue };
                let Ok(message) = parse_message(&bytes) else { continue };
                lines.extend(message.log_events.iter().map(|e| e.message.to_string()));
            }
        }
        assert!(lines.len() >= 100, "the samples gave only {} lines", lines.len());
        lines.extend([
            "2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tERROR\tcaf\u{e9} \u{2603} \u{1f600} too many clients already\n".to_string(),
            "{\"level\":\"ERROR\",\"message\":\"\u{e9}\u{1f600} Rate exceeded\",\"requestId\":\"b70435cc-261c-4438-b9b6-efe4c8f04b21\"}".to_string(),
        ]);
        lines.sort();
        lines.dedup();
        lines
    })
}

/// Issue 12: the generators above almost never produce truncated JSON, so they never found the
/// panic on `{ "record":`. Every real line, cut at every byte: no prefix panics the parser or
/// the processor, a prefix that still holds the whole line parses as the line does, and a JSON
/// platform line cut before its closing brace is no platform line.
#[test]
fn every_sample_line_cut_at_every_byte_parses_without_a_panic() {
    for line in sample_lines() {
        // One processor per line: the prefixes of different lines can be the same batch, and a
        // batch seen before is skipped.
        let mut p = processor();
        let whole = parse(line);
        let complete = line.trim_end().len();
        let json_platform = line.starts_with('{') && !matches!(whole, lambda_watchdog::parse::Line::App(_));
        for cut in (0..=line.len()).filter(|&cut| line.is_char_boundary(cut)) {
            let prefix = &line[..cut];
            let parsed = parse(prefix);
            if cut >= complete {
                assert_eq!(parsed, whole, "{prefix:?} holds the whole line {line:?}");
            } else if json_platform {
                assert!(
                    matches!(parsed, lambda_watchdog::parse::Line::App(_)),
                    "{prefix:?}, cut from a JSON platform line, parsed as {parsed:?}"
                );
            }
            let message = data_message("/aws/lambda/cut", "s", &[(T0, prefix)]);
            let outcome = p.handle_event(&message);
            assert_eq!(processor_counter(&outcome, "EventsProcessed"), 1, "{prefix:?}");
            for document in &outcome.documents {
                check_document(document).unwrap_or_else(|why| panic!("{prefix:?}: {why}"));
            }
        }
    }
}

/// JSON-escapes `bytes` as a string's contents, leaving bytes that are not UTF-8 as they are (as a
/// non-UTF-8 sender would write them).
fn json_string_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A real line cut at any byte, inside a character too, sent raw in a batch beside an intact
    /// line: the cut line is repaired (and counted) only when the cut broke a character, and the
    /// intact line is processed either way.
    #[test]
    fn a_sample_line_cut_inside_a_character_costs_only_itself(pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let line = pick.get(sample_lines());
        let cut = at.index(line.len() + 1);
        let broken = !line.is_char_boundary(cut);
        let mut json = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/cut","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":"#.to_vec();
        json.extend_from_slice(format!("{T0},\"message\":\"").as_bytes());
        json.extend_from_slice(&json_string_bytes(&line.as_bytes()[..cut]));
        json.extend_from_slice(format!("\"}},{{\"id\":\"2\",\"timestamp\":{T0},\"message\":\"REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\\tDuration: 3000.00 ms\\tStatus: timeout\"}}]}}").as_bytes());
        let outcome = processor().handle_event(&json!({"awslogs": {"data": encode_batch(&json)}}));
        prop_assert_eq!(processor_counter(&outcome, "DecodeFailures"), 0);
        prop_assert_eq!(processor_counter(&outcome, "EventsProcessed"), 2);
        prop_assert_eq!(processor_counter(&outcome, "MessagesRepaired"), u64::from(broken));
        for document in &outcome.documents {
            prop_assert!(check_document(document).is_ok(), "{}", document);
        }
    }
}
