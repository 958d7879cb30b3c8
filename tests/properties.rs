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
