//! The replay engine behind `lambda-watchdog replay`: saved events run through the same
//! processor, in name order, in one process, like one warm Lambda container.
//!
//! Accepted files: `*.json` holding a direct subscription event, a Kinesis event, a decoded
//! `DATA_MESSAGE`, or an array of any of these (a dead-letter-queue dump); `*.log` and `*.txt`
//! holding plain log lines of one log group.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::driver::{Driver, Ingested};
use crate::wire::{DataMessage, LogEvent};

/// Why a file could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file or folder could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `.json` file is not JSON.
    #[error("{path} is not JSON: {source}")]
    NotJson {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A plain log file was given without `--log-group`.
    #[error("{path} holds plain log lines: say which log group they come from with --log-group")]
    NoLogGroup {
        /// The path.
        path: String,
    },
    /// The extension is not one replay reads.
    #[error("{path} is not a .json, .log or .txt file")]
    UnknownKind {
        /// The path.
        path: String,
    },
}

/// Expands files and folders into the files to replay: a folder gives its `*.json`, `*.log` and
/// `*.txt` files (not recursing), in name order. Paths that cannot be listed are returned as errors.
pub fn collect(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<ReplayError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && matches!(extension(p), Some("json" | "log" | "txt")))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(source) => errors.push(ReplayError::Read {
                    path: path.display().to_string(),
                    source,
                }),
            }
        } else {
            files.push(path.clone());
        }
    }
    (files, errors)
}

fn extension(path: &Path) -> Option<&str> {
    path.extension().and_then(|e| e.to_str())
}

/// Replays one file through the driver, returning what each event in it produced. Whatever the
/// processor logs about an event (a batch it could not decode, with the reason) is logged
/// inside a span naming the file, and the event's index when the file holds an array.
pub fn replay_file(driver: &Driver, path: &Path, log_group: Option<&str>) -> Result<Vec<Ingested>, ReplayError> {
    let display = || path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Read {
        path: display(),
        source,
    })?;
    match extension(path) {
        Some("json") => {
            let value: Value = serde_json::from_slice(&bytes).map_err(|source| ReplayError::NotJson {
                path: display(),
                source,
            })?;
            Ok(match &value {
                Value::Array(events) => events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        let _span = tracing::warn_span!("replay", file = %path.display(), event = i).entered();
                        driver.ingest(e)
                    })
                    .collect(),
                event => {
                    let _span = tracing::warn_span!("replay", file = %path.display()).entered();
                    vec![driver.ingest(event)]
                }
            })
        }
        Some("log" | "txt") => {
            let group = log_group.ok_or_else(|| ReplayError::NoLogGroup { path: display() })?;
            let text = String::from_utf8_lossy(&bytes);
            let message = plain_lines_message(
                group,
                &path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                &text,
            );
            let _span = tracing::warn_span!("replay", file = %path.display()).entered();
            Ok(vec![driver.ingest_message(&message)])
        }
        _ => Err(ReplayError::UnknownKind { path: display() }),
    }
}

/// Turns plain log lines into one batch. Each line is an event; its time is the timestamp it
/// starts with, else the previous line's (REPORT lines carry none).
pub fn plain_lines_message<'a>(log_group: &str, log_stream: &str, text: &'a str) -> DataMessage<'a> {
    let mut last = text.lines().find_map(leading_timestamp_ms).unwrap_or(0);
    let log_events = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            if let Some(ts) = leading_timestamp_ms(line) {
                last = ts;
            }
            LogEvent {
                id: i.to_string().into(),
                timestamp: last,
                message: line.into(),
            }
        })
        .collect();
    DataMessage {
        message_type: "DATA_MESSAGE".into(),
        owner: "replay".into(),
        log_group: log_group.to_string().into(),
        log_stream: log_stream.to_string().into(),
        subscription_filters: Vec::new(),
        log_events,
    }
}

/// Reads a `YYYY-MM-DD[T ]HH:MM:SS[.fff]` or `YYYY/MM/DD HH:MM:SS` timestamp (UTC) found among
/// the first tokens of a line (after an optional `[LEVEL]`).
pub fn leading_timestamp_ms(line: &str) -> Option<i64> {
    let start = line.find(|c: char| c.is_ascii_digit())?;
    if start > 12 {
        return None;
    }
    let s = &line.as_bytes()[start..];
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let sep_ok =
        matches!(s.get(4), Some(b'-' | b'/')) && s.get(7) == s.get(4) && matches!(s.get(10), Some(b'T' | b' '));
    if !sep_ok || s.get(13) != Some(&b':') || s.get(16) != Some(&b':') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Up to three fraction digits, right-padded: ".5" is 500 ms.
    let mut millis = 0;
    if s.get(19) == Some(&b'.') {
        let digits = s[20..].iter().take_while(|c| c.is_ascii_digit()).take(3);
        let (value, n) = digits.fold((0, 0), |(v, n), c| (v * 10 + i64::from(c - b'0'), n + 1));
        millis = value * 10i64.pow(3 - n);
    }
    let rfc3339 = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
    let date = aws_sdk_cloudwatch::primitives::DateTime::from_str(
        &rfc3339,
        aws_sdk_cloudwatch::primitives::DateTimeFormat::DateTime,
    )
    .ok()?;
    Some(date.secs() * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_at_the_start_of_lines_are_read_as_utc() {
        let cases = [
            ("2026-11-29T10:00:01.123Z\tid\tINFO\thello", Some(1_795_946_401_123)),
            ("[ERROR]\t2026-11-29T10:00:01.5Z\tid\tboom", Some(1_795_946_401_500)),
            ("2026/11/29 10:00:01 ERROR failed", Some(1_795_946_401_000)),
            ("2026-11-29 10:05:01.234 id ERROR x", Some(1_795_946_701_234)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("REPORT RequestId: 1234", None),
            ("2026-13-29T10:00:01Z", None),
            ("2026-02-30T10:00:01Z", None),
        ];
        for (line, expected) in cases {
            assert_eq!(leading_timestamp_ms(line), expected, "{line}");
        }
    }

    #[test]
    fn plain_lines_inherit_the_previous_timestamp() {
        let text = "START RequestId: x\n2026-11-29T10:00:01.000Z x ERROR a\nREPORT RequestId: x\tDuration: 1 ms\n\n";
        let m = plain_lines_message("/aws/lambda/f", "s", text);
        let stamps: Vec<i64> = m.log_events.iter().map(|e| e.timestamp).collect();
        assert_eq!(stamps, vec![1_795_946_401_000; 3]);
    }
}
