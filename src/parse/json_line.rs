//! JSON-format log lines: `platform.*` records (Lambda's JSON log format) and structured
//! application lines (level, request id, chunk size), read from the top-level members in one walk
//! of [`Members`].
//!
//! A line that is not a well-formed object (cut off, `{not json}`) gives `None`, and [`super::parse`]
//! reads it as plain text instead.

use std::borrow::Cow;

use super::json::{JsonError, Members, Raw, Span};
use super::{AppLine, Level, Line, Report, Status};

/// The top-level members of a JSON log line that matter here.
#[derive(Debug, Default, PartialEq)]
struct TopLevel<'a> {
    kind: Option<&'a str>,
    record: RecordMember<'a>,
    level: Option<Level>,
    request_id: Option<&'a str>,
    error_type: bool,
    chunk_size: Option<f64>,
    /// The members that can hold a signal: from the first to the last that is not a short
    /// timestamp, level or request id. Keeps the phrase scan off the line's fixed furniture.
    text: &'a str,
}

/// The top-level keys read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// `timestamp`, `time`.
    Time,
    /// `type`.
    Type,
    /// `record`.
    Record,
    /// A logger's level. `log_level`: Python's runtime for unhandled errors in the JSON format;
    /// `@l`: Serilog's compact JSON (github.com/serilog/serilog-formatting-compact); `log.level`:
    /// ECS.
    Level,
    /// `requestId`, the runtimes' own; it wins over the others.
    RequestId,
    /// Other loggers' request ids. Powertools for Python, TypeScript and Java: `function_request_id`
    /// (docs.powertools.aws.dev, Logger, "Standard structured keys").
    OtherRequestId,
    /// `errorType`.
    ErrorType,
    /// `chunk_size`.
    ChunkSize,
    /// Any other key.
    Other,
}

impl Key {
    /// The key's kind, told by its length first: every line has several members, and comparing
    /// a key with each name in turn cost more than reading the member.
    fn of(key: &str) -> Key {
        match (key.len(), key) {
            (2, "@l") | (5, "level") | (8, "severity") | (9, "levelname" | "log_level" | "log.level") => Key::Level,
            (4, "time") | (9, "timestamp") => Key::Time,
            (4, "type") => Key::Type,
            (6, "record") => Key::Record,
            (9, "requestId") => Key::RequestId,
            (9, "errorType") => Key::ErrorType,
            (10, "chunk_size") => Key::ChunkSize,
            (10, "request_id")
            | (12, "AWSRequestId" | "AWSrequestId")
            | (14, "aws_request_id")
            | (19, "function_request_id") => Key::OtherRequestId,
            _ => Key::Other,
        }
    }
}

/// The `record` member of a JSON line: absent, an object (read as a platform record), or
/// something else, which no platform line has.
#[derive(Debug, Default, PartialEq)]
enum RecordMember<'a> {
    #[default]
    Absent,
    Object(PlatformRecord<'a>),
    Other,
}

/// Reads the top-level members of a JSON object into `out`, or fails if the line is not one.
/// (Filled in place: the struct, with a platform record inside, is too big to move per line.)
fn top_level<'a>(line: &'a str, out: &mut TopLevel<'a>) -> Result<(), JsonError> {
    let mut level_seen = false;
    let mut text: Option<Span> = None;
    let mut members = Members::of(line)?;
    for member in members.by_ref() {
        let member = member?;
        let raw = member.value;
        // Furniture: members whose short values never carry a failure phrase.
        let furniture = match Key::of(member.key) {
            Key::Time => true,
            Key::Type => {
                out.kind = raw.plain_str();
                false
            }
            Key::Record => {
                if raw.is_object() {
                    out.record = RecordMember::Object(PlatformRecord::read(raw)?);
                } else if out.record == RecordMember::Absent {
                    out.record = RecordMember::Other;
                }
                false
            }
            Key::Level => {
                if !level_seen {
                    level_seen = true;
                    out.level = match raw.plain_str() {
                        Some(word) => Level::from_word(word, true),
                        None => raw.number().and_then(Level::from_number),
                    };
                }
                true
            }
            Key::RequestId => {
                out.request_id = raw.plain_str().filter(|t| !t.is_empty()).or(out.request_id);
                true
            }
            Key::OtherRequestId => {
                out.request_id = out.request_id.or(raw.plain_str().filter(|t| !t.is_empty()));
                true
            }
            Key::ErrorType => {
                out.error_type = true;
                false
            }
            Key::ChunkSize => {
                out.chunk_size = raw.number();
                false
            }
            Key::Other => false,
        };
        if !(furniture && raw.text().len() <= 48) {
            text = Some(text.map_or(member.span(), |from| from.to(member.span())));
        }
    }
    out.text = text.map_or("", |span| members.text_of(span));
    Ok(())
}

/// The members of a `platform.*` record that matter here.
#[derive(Debug, Default, PartialEq)]
struct PlatformRecord<'a> {
    request_id: Option<&'a str>,
    status: Option<Cow<'a, str>>,
    error_type: Option<Cow<'a, str>>,
    phase: Option<Cow<'a, str>>,
    metrics: PlatformMetrics,
}

#[derive(Debug, Default, PartialEq)]
struct PlatformMetrics {
    duration_ms: Option<f64>,
    billed_duration_ms: Option<f64>,
    memory_size_mb: Option<f64>,
    max_memory_used_mb: Option<f64>,
    init_duration_ms: Option<f64>,
    restore_duration_ms: Option<f64>,
}

impl<'a> PlatformRecord<'a> {
    /// Reads a record object; fails if its members are not well-formed.
    fn read(raw: Raw<'a>) -> Result<PlatformRecord<'a>, JsonError> {
        let mut record = PlatformRecord::default();
        for member in raw.members()? {
            let member = member?;
            let value = member.value;
            match member.key {
                "requestId" => record.request_id = value.plain_str(),
                "status" => record.status = value.string(),
                "errorType" => record.error_type = value.string(),
                "phase" => record.phase = value.string(),
                // Odd metrics leave the numbers unknown: the record is still read.
                "metrics" if value.is_object() => record.metrics = PlatformMetrics::read(value).unwrap_or_default(),
                _ => {}
            }
        }
        Ok(record)
    }
}

impl PlatformMetrics {
    fn read(raw: Raw<'_>) -> Result<PlatformMetrics, JsonError> {
        let mut m = PlatformMetrics::default();
        for member in raw.members()? {
            let member = member?;
            let slot = match member.key {
                "durationMs" => &mut m.duration_ms,
                "billedDurationMs" => &mut m.billed_duration_ms,
                "memorySizeMB" => &mut m.memory_size_mb,
                "maxMemoryUsedMB" => &mut m.max_memory_used_mb,
                "initDurationMs" => &mut m.init_duration_ms,
                "restoreDurationMs" => &mut m.restore_duration_ms,
                _ => continue,
            };
            *slot = member.value.number();
        }
        Ok(m)
    }
}

/// Reads a JSON log line, or `None` if it is not a well-formed object. Gives the line and the
/// text its signal scan reads: for an application line, its members from the first to the last
/// that is not short furniture ([`super::AppLine::take_scan`]); for a platform line, nothing.
pub(super) fn parse_json(line: &str) -> Option<(Line<'_>, &str)> {
    let mut top = TopLevel::default();
    top_level(line, &mut top).ok()?;
    if let Some(kind) = top.kind.and_then(|k| k.strip_prefix("platform.")) {
        let mut absent = PlatformRecord::default();
        let record = match &mut top.record {
            RecordMember::Object(record) => record,
            RecordMember::Absent => &mut absent,
            RecordMember::Other => return None,
        };
        let status = record.status.as_deref().map(Status::parse);
        let platform = match kind {
            "start" => Line::Start {
                request_id: record.request_id?,
            },
            "report" => Line::Report(Box::new(Report {
                request_id: record.request_id?,
                duration_ms: record.metrics.duration_ms,
                init_duration_ms: record.metrics.init_duration_ms,
                billed_duration_ms: record.metrics.billed_duration_ms,
                restore_duration_ms: record.metrics.restore_duration_ms,
                memory_size_mb: record.metrics.memory_size_mb,
                max_memory_used_mb: record.metrics.max_memory_used_mb,
                status,
                error_type: record.error_type.take(),
            })),
            "runtimeDone" => Line::RuntimeDone {
                request_id: record.request_id?,
                status,
                error_type: record.error_type.take(),
            },
            "initReport" | "restoreReport" => Line::PhaseReport {
                during_invoke: record.phase.as_deref() == Some("invoke"),
                restore: kind == "restoreReport",
                status,
                error_type: record.error_type.take(),
            },
            "initStart" | "restoreStart" => Line::InitStart,
            _ => Line::Platform,
        };
        return Some((platform, ""));
    }
    // An unhandled exception written as {"errorMessage":…,"errorType":…} is an error.
    let level = top.level.or(top.error_type.then_some(Level::Error));
    let app = AppLine {
        request_id: top.request_id,
        level,
        chunk_size: top.chunk_size,
        ..AppLine::default()
    };
    Some((Line::App(app), top.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_key_names_are_read_and_near_misses_are_other_members() {
        use Key::*;
        let cases: &[(&str, Key)] = &[
            ("timestamp", Time),
            ("time", Time),
            ("type", Type),
            ("record", Record),
            ("level", Level),
            ("severity", Level),
            ("levelname", Level),
            ("log_level", Level),
            ("@l", Level),
            ("log.level", Level),
            ("requestId", RequestId),
            ("AWSRequestId", OtherRequestId),
            ("AWSrequestId", OtherRequestId),
            ("request_id", OtherRequestId),
            ("aws_request_id", OtherRequestId),
            ("function_request_id", OtherRequestId),
            ("errorType", ErrorType),
            ("chunk_size", ChunkSize),
            // Near misses: another case, a byte more or less, the right length but another name,
            // an escape that a JSON reader would decode to a name (the key is read as written).
            ("", Other),
            ("Level", Other),
            ("LEVEL", Other),
            ("levelx", Other),
            ("leve", Other),
            ("time ", Other),
            (" time", Other),
            ("tim", Other),
            ("Time", Other),
            ("timestamps", Other),
            ("@L", Other),
            ("@", Other),
            ("log-level", Other),
            ("log.Level", Other),
            ("levelName", Other),
            ("requestid", Other),
            ("RequestId", Other),
            ("requestIds", Other),
            ("AWSREQUESTID", Other),
            ("awsRequestId", Other),
            ("request-id", Other),
            ("aws_request_ID", Other),
            ("function_request_i", Other),
            ("errortype", Other),
            ("error_Type", Other),
            ("chunk-size", Other),
            ("chunk_sizes", Other),
            ("records", Other),
            ("typ", Other),
            ("types", Other),
            ("\\u0074ime", Other),
            ("lev\\u0065l", Other),
            ("msg", Other),
        ];
        for &(key, want) in cases {
            assert_eq!(Key::of(key), want, "{key:?}");
        }
    }

    #[test]
    fn the_json_scanner_reads_only_top_level_members() {
        let line = r#"{ "context": {"level": "debug", "requestId": "x", "list": [1, "}", {"a": "]"}]}, "msg": "say \"level\": \"ERROR\"", "level" : "Error", "n": -1.5e3, "ok": true, "requestId":"aaaaaaaa-0000-4000-8000-000000000001", "chunk_size": 40 }"#;
        let mut top = TopLevel::default();
        assert_eq!(top_level(line, &mut top), Ok(()));
        assert_eq!(top.level, Some(Level::Error));
        assert_eq!(top.request_id, Some("aaaaaaaa-0000-4000-8000-000000000001"));
        assert_eq!(top.chunk_size, Some(40.0));
        assert!(top.text.starts_with(r#""context""#) && top.text.ends_with(r#""chunk_size": 40"#));
        for broken in [
            r#"{"a": "#,
            r#"{"a" 1}"#,
            r#"{"a": [1, 2}"#,
            "{",
            r#"{"a":1,}"#,
            "[1]",
            "",
        ] {
            assert!(top_level(broken, &mut TopLevel::default()).is_err(), "{broken}");
        }
    }

    #[test]
    fn the_text_scanned_for_signals_leaves_out_short_furniture() {
        let cases = [
            (
                r#"{"time":"t","level":"ERROR","message":"boom","requestId":"r"}"#,
                r#""message":"boom""#,
            ),
            (r#"{"message":"boom"}"#, r#""message":"boom""#),
            (r#"{"time":"t","level":"ERROR"}"#, ""),
            ("{}", ""),
        ];
        for (line, text) in cases {
            let mut top = TopLevel::default();
            assert_eq!(top_level(line, &mut top), Ok(()), "{line}");
            assert_eq!(top.text, text, "{line}");
        }
    }

    #[test]
    fn a_record_with_broken_members_makes_the_line_unreadable_but_broken_metrics_do_not() {
        assert_eq!(
            parse_json(r#"{"type":"platform.report","record":{"requestId":"r-1" "status":"x"}}"#).map(|(line, _)| line),
            None
        );
        match parse_json(r#"{"type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":5,"x" 1}}}"#)
        {
            Some((Line::Report(r), _)) => assert_eq!((r.request_id, r.duration_ms), ("r-1", None)),
            other => panic!("{other:?}"),
        }
    }
}
