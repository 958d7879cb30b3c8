//! Builders for subscription payloads, encoded the way CloudWatch Logs encodes them.
//! Used by the tests, the benchmarks and anyone who wants to craft an event by hand.

pub mod fleet;

use std::io::Write;

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

/// Undoes the percent-encoding of a console link's part, after `escape` (the console's `$` in
/// its fragment, Logs Insights' `*` in its query values) is turned back into `%`.
///
/// Panics on a `%` without two hex digits after it, or on bytes that are not UTF-8.
pub fn percent_decode(s: &str, escape: char) -> String {
    let s = s.replace(escape, "%");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("two hex digits after %"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("a percent-encoded UTF-8 text")
}

/// Gzips and base64-encodes (padded STANDARD) a decoded subscription message.
pub fn encode_batch(decoded: &[u8]) -> String {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    gz.write_all(decoded).expect("gzip into memory");
    let compressed = gz.finish().expect("gzip into memory");
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

/// A decoded `DATA_MESSAGE` for one log group and stream, events given as (epoch ms, message).
pub fn data_message(log_group: &str, log_stream: &str, events: &[(i64, &str)]) -> serde_json::Value {
    let log_events: Vec<_> = events
        .iter()
        .enumerate()
        .map(
            |(i, (timestamp, message))| json!({"id": event_id(*timestamp, i), "timestamp": timestamp, "message": message}),
        )
        .collect();
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["lambda-watchdog"],
        "logEvents": log_events,
    })
}

/// An event id shaped like CloudWatch Logs' own: 56 digits, the time first, so that ids grow
/// along a stream as CloudWatch's do.
pub fn event_id(timestamp_ms: i64, index: usize) -> String {
    format!("{:013}{:043}", timestamp_ms.clamp(0, 9_999_999_999_999), index)
}

/// A direct subscription event (`{"awslogs":{"data":…}}`) carrying one decoded message.
pub fn direct_event(message: &serde_json::Value) -> serde_json::Value {
    json!({"awslogs": {"data": encode_batch(message.to_string().as_bytes())}})
}

/// A Kinesis event whose records each carry one decoded message.
pub fn kinesis_event(messages: &[serde_json::Value]) -> serde_json::Value {
    let records: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{i}"),
                "kinesis": {"data": encode_batch(m.to_string().as_bytes()), "sequenceNumber": i.to_string(), "partitionKey": "p"},
            })
        })
        .collect();
    json!({"Records": records})
}
