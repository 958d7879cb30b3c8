//! Stage 1: from a Lambda event to decoded batches.
//!
//! The event is a direct subscription delivery (`{"awslogs":{"data":…}}`), a Kinesis event whose
//! records carry the same gzip JSON, or an already decoded `DATA_MESSAGE` (saved by hand).
//! Decoding is done here rather than in `aws_lambda_events`' serde so that a bad or oversized
//! payload becomes a counted, logged skip instead of a runtime failure before the handler.

use std::io::Read;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use flate2::read::MultiGzDecoder;
use serde_json::Value;

use crate::wire::DataMessage;

/// Padded base64 as AWS writes it; unpadded input is accepted too, since some tools strip it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a batch could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The payload is not base64.
    #[error("could not base64-decode the batch: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The payload is not gzip, or the gzip stream is broken.
    #[error("could not gunzip the batch: {0}")]
    Gzip(#[source] std::io::Error),
    /// The gzip stream inflates past the configured cap.
    #[error("the batch inflates past the {cap}-byte cap on decoded size (a gzip bomb or a misconfigured sender)")]
    TooLarge {
        /// The cap, bytes.
        cap: usize,
    },
    /// The decoded bytes are not a subscription message.
    #[error("the decoded batch is not a CloudWatch Logs subscription message: {0}")]
    Json(#[from] serde_json::Error),
    /// A Kinesis record is not shaped like one.
    #[error("a Kinesis record could not be read: {0}")]
    KinesisRecord(String),
}

impl DecodeError {
    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Base64(_) => "base64",
            DecodeError::Gzip(_) => "gzip",
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Json(_) => "json",
            DecodeError::KinesisRecord(_) => "kinesis_record",
        }
    }
}

/// The shapes of event the processor accepts.
#[derive(Debug)]
pub enum Envelope<'a> {
    /// A direct CloudWatch Logs subscription delivery: the base64 `awslogs.data`.
    Direct(&'a str),
    /// A Kinesis event: one entry per record, its base64 `data` (or why it is unreadable).
    Kinesis(Vec<KinesisItem<'a>>),
    /// An already decoded subscription message.
    Decoded(&'a Value),
    /// Anything else (with a short description of what it looked like).
    Unknown(&'static str),
}

/// One Kinesis record: its id (for partial batch responses) and its base64 data.
#[derive(Debug)]
pub struct KinesisItem<'a> {
    /// The record's sequence number, if present.
    pub sequence_number: Option<&'a str>,
    /// The base64 data, or why the record is unreadable.
    pub data: Result<&'a str, DecodeError>,
}

impl<'a> Envelope<'a> {
    /// Tells the shape of an event apart.
    pub fn detect(event: &'a Value) -> Envelope<'a> {
        if let Some(awslogs) = event.get("awslogs") {
            return match awslogs.get("data").and_then(Value::as_str) {
                Some(data) => Envelope::Direct(data),
                None => Envelope::Unknown("an awslogs object without a data string"),
            };
        }
        if let Some(records) = event.get("Records").and_then(Value::as_array) {
            let kinesis = records.iter().any(|r| {
                r.get("kinesis").is_some() || r.get("eventSource").and_then(Value::as_str) == Some("aws:kinesis")
            });
            if !kinesis {
                return Envelope::Unknown("a Records event that is not from Kinesis");
            }
            return Envelope::Kinesis(records.iter().map(KinesisItem::from_record).collect());
        }
        if event.get("messageType").is_some() && event.get("logEvents").is_some() {
            return Envelope::Decoded(event);
        }
        Envelope::Unknown("neither a CloudWatch Logs subscription event nor a Kinesis event")
    }
}

impl<'a> KinesisItem<'a> {
    fn from_record(record: &'a Value) -> KinesisItem<'a> {
        let kinesis = record.get("kinesis");
        let sequence_number = kinesis.and_then(|k| k.get("sequenceNumber")).and_then(Value::as_str);
        let data = match kinesis.and_then(|k| k.get("data")) {
            Some(Value::String(data)) => Ok(data.as_str()),
            Some(_) => Err(DecodeError::KinesisRecord("its data is not a string".into())),
            None => Err(DecodeError::KinesisRecord("it has no kinesis.data".into())),
        };
        KinesisItem { sequence_number, data }
    }
}

/// Base64-decodes and gunzips a payload, refusing to inflate past `cap` bytes.
pub fn decode_payload(data: &str, cap: usize) -> Result<Vec<u8>, DecodeError> {
    gunzip_capped(&decode_base64(data)?, cap)
}

/// Base64-decodes a payload (padded or not).
pub fn decode_base64(data: &str) -> Result<Vec<u8>, DecodeError> {
    Ok(BASE64.decode(data.trim())?)
}

/// Gunzips (all members) into at most `cap` bytes.
pub fn gunzip_capped(compressed: &[u8], cap: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(size_hint(compressed, cap));
    MultiGzDecoder::new(compressed)
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(DecodeError::Gzip)?;
    if out.len() > cap {
        return Err(DecodeError::TooLarge { cap });
    }
    Ok(out)
}

/// How much room to make for the inflated bytes, so a large batch is not copied as its buffer
/// doubles. A gzip stream ends with its (last member's) size mod 2^32; it is only a hint, so it
/// is held to deflate's best ratio (1032:1) and to the cap, and a payload that lies about it
/// costs at most one extra copy.
fn size_hint(compressed: &[u8], cap: usize) -> usize {
    let stated = match compressed.len() {
        n if n >= 18 => u32::from_le_bytes(compressed[n - 4..].try_into().expect("four bytes")) as usize,
        _ => 0,
    };
    let plausible = compressed.len().saturating_mul(1032);
    let guess = if stated > 0 {
        stated
    } else {
        compressed.len().saturating_mul(8)
    };
    guess.min(plausible).min(cap.saturating_add(1))
}

/// Parses decoded bytes as a subscription message. Strings borrow from `bytes` where they can.
/// Damaged strings cost only themselves (see [`parse_message_counted`]).
pub fn parse_message(bytes: &[u8]) -> Result<DataMessage<'_>, DecodeError> {
    parse_message_counted(bytes).map(|(message, _)| message)
}

/// Parses decoded bytes as a subscription message, and says how many log events had a message
/// that is not UTF-8 and was decoded lossily.
///
/// CloudWatch Logs sends UTF-8, but replayed dead-letter dumps, hand-made files and other
/// senders need not: raw non-UTF-8 bytes, or a lone surrogate escape (`"\udcff"`, valid JSON
/// syntax that no Rust string can hold). A strict parse fails the whole batch on one such
/// string, so when it fails the batch is parsed again, taking every string as bytes and
/// replacing what is not UTF-8 with U+FFFD: the damaged message keeps its other characters, the
/// events beside it are untouched. Batches that are not JSON at all still fail. The strict parse
/// comes first and borrows its strings, so a clean batch costs what it did.
pub fn parse_message_counted(bytes: &[u8]) -> Result<(DataMessage<'_>, usize), DecodeError> {
    match serde_json::from_slice(bytes) {
        Ok(message) => Ok((message, 0)),
        Err(strict) => lossy::parse(bytes).ok_or(DecodeError::Json(strict)),
    }
}

/// The lossy second parse of [`parse_message_counted`].
mod lossy {
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserialize;
    use serde::de::{Deserializer, Error, Visitor};

    use crate::wire::{DataMessage, LogEvent};

    /// A string read as bytes, whatever they are; `repaired` when they were not UTF-8.
    #[derive(Default)]
    struct Lossy<'a> {
        text: Cow<'a, str>,
        repaired: bool,
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Lossy<'a> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_bytes(LossyVisitor(PhantomData))
        }
    }

    struct LossyVisitor<'a>(PhantomData<&'a ()>);

    impl<'de: 'a, 'a> Visitor<'de> for LossyVisitor<'a> {
        type Value = Lossy<'a>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_borrowed_bytes<E: Error>(self, v: &'de [u8]) -> Result<Lossy<'a>, E> {
            let text = String::from_utf8_lossy(v);
            let repaired = matches!(text, Cow::Owned(_));
            Ok(Lossy { text, repaired })
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Lossy<'a>, E> {
            let text = String::from_utf8_lossy(v);
            let repaired = matches!(text, Cow::Owned(_));
            Ok(Lossy {
                text: Cow::Owned(text.into_owned()),
                repaired,
            })
        }

        fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Lossy<'a>, E> {
            Ok(Lossy {
                text: Cow::Borrowed(v),
                repaired: false,
            })
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<Lossy<'a>, E> {
            Ok(Lossy {
                text: Cow::Owned(v.to_string()),
                repaired: false,
            })
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Message<'a> {
        #[serde(borrow)]
        message_type: Lossy<'a>,
        #[serde(borrow, default)]
        owner: Lossy<'a>,
        #[serde(borrow, default)]
        log_group: Lossy<'a>,
        #[serde(borrow, default)]
        log_stream: Lossy<'a>,
        #[serde(borrow, default)]
        subscription_filters: Vec<Lossy<'a>>,
        #[serde(borrow, default)]
        log_events: Vec<Event<'a>>,
    }

    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(borrow, default)]
        id: Lossy<'a>,
        timestamp: i64,
        #[serde(borrow)]
        message: Lossy<'a>,
    }

    /// The message with every string decoded lossily, and how many events' messages were
    /// repaired; `None` if the bytes are not a subscription message even so.
    pub(super) fn parse(bytes: &[u8]) -> Option<(DataMessage<'_>, usize)> {
        let message: Message<'_> = serde_json::from_slice(bytes).ok()?;
        let repaired = message.log_events.iter().filter(|e| e.message.repaired).count();
        let decoded = DataMessage {
            message_type: message.message_type.text,
            owner: message.owner.text,
            log_group: message.log_group.text,
            log_stream: message.log_stream.text,
            subscription_filters: message
                .subscription_filters
                .into_iter()
                .map(|f| f.text.into_owned())
                .collect(),
            log_events: message
                .log_events
                .into_iter()
                .map(|e| LogEvent {
                    id: e.id.text,
                    timestamp: e.timestamp,
                    message: e.message.text,
                })
                .collect(),
        };
        Some((decoded, repaired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::encode_batch;

    #[test]
    fn room_for_the_inflated_bytes_follows_the_gzip_trailer_within_bounds() {
        let json = vec![b' '; 100_000];
        let compressed = BASE64.decode(encode_batch(&json)).unwrap();
        assert_eq!(size_hint(&compressed, 1 << 20), 100_000);
        assert_eq!(size_hint(&compressed, 1000), 1001, "never past the cap");
        let mut lying = compressed.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            size_hint(&lying, usize::MAX) <= n * 1032,
            "held to deflate's best ratio"
        );
        assert_eq!(
            gunzip_capped(&lying, 1 << 20).unwrap_err().kind(),
            "gzip",
            "a lying trailer fails the gzip check"
        );
    }

    #[test]
    fn a_direct_event_round_trips_through_base64_and_gzip() {
        let json = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/x","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":5,"message":"hello"}]}"#;
        let data = encode_batch(json.as_bytes());
        let bytes = decode_payload(&data, 1 << 20).unwrap();
        let message = parse_message(&bytes).unwrap();
        assert_eq!(message.log_group, "/aws/lambda/x");
        assert_eq!(message.log_events[0].message, "hello");
    }

    #[test]
    fn unknown_fields_such_as_policy_level_are_ignored() {
        let json = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","policyLevel":"ACCOUNT_LEVEL_POLICY","subscriptionFilters":[],"logEvents":[],"somethingNew":{"a":1}}"#;
        let message = parse_message(json.as_bytes()).unwrap();
        assert_eq!(message.log_group, "g");
    }

    #[test]
    fn a_message_that_is_not_utf8_costs_only_itself() {
        let batch = |bad_message: &[u8]| {
            let mut json = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/x","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":5,"message":"before"},{"id":"2","timestamp":6,"message":""#.to_vec();
            json.extend_from_slice(bad_message);
            json.extend_from_slice(br#""},{"id":"3","timestamp":7,"message":"after \u00e9"}]}"#);
            json
        };
        let cases: [(&str, &[u8], &str, usize); 6] = [
            ("clean", b"fine", "fine", 0),
            (
                "escaped but clean",
                br"tab\there \ud83d\ude00",
                "tab\there \u{1f600}",
                0,
            ),
            // A lone surrogate comes through as its three bytes, each replaced.
            (
                "a lone trailing surrogate escape",
                br"x \udcff y",
                "x \u{fffd}\u{fffd}\u{fffd} y",
                1,
            ),
            (
                "a lone leading surrogate escape at the end",
                br"x \ud83d",
                "x \u{fffd}\u{fffd}\u{fffd}",
                1,
            ),
            (
                "raw bytes that are not UTF-8",
                b"x \xff\xfe y",
                "x \u{fffd}\u{fffd} y",
                1,
            ),
            ("a UTF-8 sequence cut short", b"caf\xc3", "caf\u{fffd}", 1),
        ];
        for (case, bad, repaired_text, repaired) in cases {
            let bytes = batch(bad);
            let (message, n) = parse_message_counted(&bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(n, repaired, "{case}");
            let messages: Vec<&str> = message.log_events.iter().map(|e| e.message.as_ref()).collect();
            assert_eq!(messages, ["before", repaired_text, "after \u{e9}"], "{case}");
            assert_eq!(message.log_group, "/aws/lambda/x", "{case}");
            assert_eq!(message.subscription_filters, ["f"], "{case}");
        }
    }

    #[test]
    fn a_batch_that_is_not_json_still_fails_whole() {
        let cases: [&[u8]; 3] = [
            br#"{"messageType":"DATA_MESSAGE","logEvents":[{"timestamp":1,"message":"\x"}]}"#,
            b"\xff{}",
            b"[1,2",
        ];
        for bytes in cases {
            let err = parse_message_counted(bytes).map(|(_, n)| n).unwrap_err();
            assert_eq!(err.kind(), "json", "{bytes:?}");
        }
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        let data = encode_batch(b"{}");
        let unpadded = data.trim_end_matches('=');
        assert_eq!(decode_payload(unpadded, 1024).unwrap(), b"{}");
    }

    #[test]
    fn decode_failures_are_told_apart() {
        let cases: [(&str, &str); 3] = [
            ("not base64 !!", "base64"),
            ("aGVsbG8gd29ybGQ=", "gzip"),
            (&encode_batch(b"[1,2"), "json"),
        ];
        for (data, kind) in cases {
            let err = decode_payload(data, 1024)
                .and_then(|b| parse_message(&b).map(|_| ()))
                .unwrap_err();
            assert_eq!(err.kind(), kind, "{data}: {err}");
        }
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        let zeros = vec![0u8; 8 << 20];
        let data = encode_batch(&zeros);
        assert!(data.len() < 64 << 10, "the bomb should be small on the wire");
        let err = decode_payload(&data, 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { cap } if cap == 1 << 20));
        assert_eq!(decode_payload(&data, 8 << 20).unwrap().len(), 8 << 20);
    }

    #[test]
    fn shapes_are_detected() {
        let direct = serde_json::json!({"awslogs": {"data": "abc"}});
        assert!(matches!(Envelope::detect(&direct), Envelope::Direct("abc")));
        let kinesis = serde_json::json!({"Records": [{"eventSource": "aws:kinesis", "kinesis": {"data": "abc", "sequenceNumber": "7"}}, {"eventSource": "aws:kinesis", "kinesis": {}}]});
        match Envelope::detect(&kinesis) {
            Envelope::Kinesis(items) => {
                assert_eq!(items.len(), 2);
                assert_eq!(items[0].sequence_number, Some("7"));
                assert!(matches!(items[0].data, Ok("abc")));
                assert!(items[1].data.is_err());
            }
            other => panic!("{other:?}"),
        }
        let sqs = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]});
        assert!(matches!(Envelope::detect(&sqs), Envelope::Unknown(_)));
        let decoded = serde_json::json!({"messageType": "DATA_MESSAGE", "logEvents": []});
        assert!(matches!(Envelope::detect(&decoded), Envelope::Decoded(_)));
        assert!(matches!(Envelope::detect(&serde_json::json!(42)), Envelope::Unknown(_)));
    }
}
