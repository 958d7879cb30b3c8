//! Stage 2: what one log event says. Platform lines (START, END, REPORT, INIT_REPORT, …) in both
//! the plain-text and the JSON log format, the older failure lines (`Task timed out`, `Runtime
//! exited`), and application lines of every runtime with their level and request id.
//!
//! Parsing is tolerant: fields are found by key, tabs or spaces, any order, any missing. It never
//! panics: a line cut anywhere, broken JSON or any bytes (decoded lossily) give at worst an
//! application line with nothing found. The parts, each with its contract and edge cases:
//!
//! - [`platform_text`]: `START`, `END`, `REPORT`, … in the plain-text log format;
//! - [`json_line`]: JSON-format lines, platform records and structured application lines, read
//!   with the scanner in [`json`] (members as key and raw value, malformed input an `Err`);
//! - [`app`]: the tokenizer that reads a plain-text application line's prefix;
//! - [`bytes`]: the byte searches and small-number reads under all of them.

mod app;
mod bytes;
mod json;
mod json_line;
mod platform_text;

use std::borrow::Cow;

use crate::signals::{Scan, Signals, scan_each, scan_line};

/// How an invocation (or an init phase) ended, as Lambda reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `success`.
    Success,
    /// `failure`.
    Failure,
    /// `error`.
    Error,
    /// `timeout`.
    Timeout,
    /// A value this version does not know.
    Other,
}

impl Status {
    fn parse(s: &str) -> Status {
        match s.trim().to_ascii_lowercase().as_str() {
            "success" => Status::Success,
            "failure" => Status::Failure,
            "error" => Status::Error,
            "timeout" => Status::Timeout,
            _ => Status::Other,
        }
    }

    /// Whether the status means the invocation failed (timeouts are told apart).
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failure | Status::Error)
    }
}

/// A log level, reduced to what matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// TRACE, DEBUG.
    Debug,
    /// INFO, NOTICE.
    Info,
    /// WARN, WARNING.
    Warn,
    /// ERROR, FATAL, CRITICAL and worse.
    Error,
}

impl Level {
    /// Reads a level word ([`crate::vocabulary::LEVEL_WORDS`]). Plain-text lines must spell it
    /// in capitals (so that an English word in a message is not taken for a level); JSON fields
    /// may use any case.
    fn from_word(word: &str, any_case: bool) -> Option<Level> {
        crate::vocabulary::level_of_word(word, any_case)
    }

    /// pino and bunyan write numeric levels: 50 error, 60 fatal.
    fn from_number(n: f64) -> Option<Level> {
        Some(match n as i64 {
            50.. => Level::Error,
            40..=49 => Level::Warn,
            30..=39 => Level::Info,
            0..=29 => Level::Debug,
            _ => return None,
        })
    }
}

/// The numbers and outcome of a REPORT line or a `platform.report` record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report<'a> {
    /// The invocation.
    pub request_id: &'a str,
    /// Run time, ms.
    pub duration_ms: Option<f64>,
    /// Init time on a cold start, ms.
    pub init_duration_ms: Option<f64>,
    /// Billed time, ms (since 2025 it includes the init time: never a run time).
    pub billed_duration_ms: Option<f64>,
    /// SnapStart restore time, ms.
    pub restore_duration_ms: Option<f64>,
    /// Configured memory, MB.
    pub memory_size_mb: Option<f64>,
    /// Peak memory, MB.
    pub max_memory_used_mb: Option<f64>,
    /// Newer-style outcome (absent on older REPORT lines).
    pub status: Option<Status>,
    /// Newer-style error type, e.g. `Runtime.OutOfMemory`.
    pub error_type: Option<Cow<'a, str>>,
}

/// What one log event is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// An invocation starts (`START` / `platform.start`).
    Start {
        /// The invocation.
        request_id: &'a str,
    },
    /// An invocation's end (`END`): carries nothing REPORT does not.
    End {
        /// The invocation.
        request_id: &'a str,
    },
    /// `REPORT` / `platform.report` (boxed: one line in a dozen is one, and the rest stay small
    /// in a batch's list of lines).
    Report(Box<Report<'a>>),
    /// `platform.runtimeDone`: the runtime's own view of the outcome.
    RuntimeDone {
        /// The invocation.
        request_id: &'a str,
        /// Its status.
        status: Option<Status>,
        /// Its error type.
        error_type: Option<Cow<'a, str>>,
    },
    /// `INIT_REPORT` / `RESTORE_REPORT` / `platform.initReport` / `platform.restoreReport`.
    PhaseReport {
        /// Whether the phase ran during an invocation (`Phase: invoke`).
        during_invoke: bool,
        /// Whether it is a SnapStart restore (`RESTORE_REPORT`, `platform.restoreReport`).
        restore: bool,
        /// The outcome; absent means success.
        status: Option<Status>,
        /// The error type.
        error_type: Option<Cow<'a, str>>,
    },
    /// An execution environment starts its init (`INIT_START`, `RESTORE_START`,
    /// `platform.initStart`, `platform.restoreStart`): lines without a request id after it are
    /// the init's.
    InitStart,
    /// Another platform line with nothing to count (XRAY, EXTENSION, …).
    Platform,
    /// An application line (or an older-style failure line such as `Task timed out`).
    App(AppLine<'a>),
}

/// An application line: its request id if it carries one, its level, and what it mentions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppLine<'a> {
    /// The request id written in the line, if any.
    pub request_id: Option<&'a str>,
    /// The level, if the line has one.
    pub level: Option<Level>,
    /// Failure signals found in the text.
    pub signals: Signals,
    /// `Task timed out after N seconds`: N.
    pub timed_out_after: Option<f64>,
    /// `chunk_size=N` or a JSON `chunk_size` field.
    pub chunk_size: Option<f64>,
}

impl AppLine<'_> {
    /// Whether the line is at error level or worse.
    pub fn is_error(&self) -> bool {
        self.level == Some(Level::Error)
    }
}

/// Parses one log event's message.
pub fn parse(message: &str) -> Line<'_> {
    let (mut line, text) = read(message);
    if let Line::App(app) = &mut line {
        app.take_scan(scan_line(text), text);
    }
    line
}

/// Parses every message of a batch, as [`parse`] parses each: the same lines, with the signal
/// scan of all of them done in one pass ([`crate::signals::scan_each`]), which on short lines
/// costs a fraction of one search per line.
pub fn parse_all<'a>(messages: impl IntoIterator<Item = &'a str>) -> Vec<Line<'a>> {
    let (mut lines, texts): (Vec<Line<'a>>, Vec<&'a str>) = messages.into_iter().map(read).unzip();
    for ((line, text), found) in lines.iter_mut().zip(&texts).zip(scan_each(&texts)) {
        if let Line::App(app) = line {
            app.take_scan(found, text);
        }
    }
    lines
}

/// Reads a message up to its signal scan: the line, and for an application line the text the
/// scan reads (the body after a plain-text prefix, or a JSON line's members less its short
/// furniture); other lines give no text.
fn read(message: &str) -> (Line<'_>, &str) {
    // Nearly every line starts with a printable ASCII byte; only the others need a full trim.
    let trimmed = match message.as_bytes().first() {
        Some(b) if b.is_ascii_graphic() => message,
        _ => message.trim_start(),
    };
    let text_app = || {
        let (app, text) = app::parse_text_app(message);
        (Line::App(app), text)
    };
    match trimmed.as_bytes().first() {
        Some(b'{') => json_line::parse_json(trimmed).unwrap_or_else(text_app),
        Some(b'S' | b'E' | b'R' | b'I' | b'X' | b'L' | b'T') => {
            platform_text::parse_text_platform(trimmed).map_or_else(text_app, |line| (line, ""))
        }
        _ => text_app(),
    }
}

impl AppLine<'_> {
    /// Takes what the signal scan found in `text`, the text [`read`] gave with the line.
    fn take_scan(&mut self, found: Scan, text: &str) {
        self.signals = found.signals;
        self.timed_out_after = bytes::number_at(text, found.timed_out_after_at);
        // A JSON line's own `chunk_size` member comes first.
        self.chunk_size = self.chunk_size.or_else(|| bytes::number_at(text, found.chunk_size_at));
    }
}

/// Whether a token is a request id (UUID-shaped).
pub fn is_request_id(token: &str) -> bool {
    let b = token.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return false;
    }
    // Every byte a hex digit or a dash, and no dashes but the four: checked without a branch
    // per byte, since every application line's id goes through here.
    let (mut other, mut dashes) = (0u8, 0u8);
    for &c in b {
        let hex = c.wrapping_sub(b'0') < 10 || (c | 0x20).wrapping_sub(b'a') < 6;
        let dash = c == b'-';
        other |= u8::from(!hex && !dash);
        dashes += u8::from(dash);
    }
    other == 0 && dashes == 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Signal;

    const ID: &str = "b70435cc-261c-4438-b9b6-efe4c8f04b21";

    fn report(line: &str) -> Report<'_> {
        match parse(line) {
            Line::Report(r) => *r,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn app(line: &str) -> AppLine<'_> {
        match parse(line) {
            Line::App(a) => a,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn start_and_end_lines_give_their_request_id() {
        let cases = [
            (
                "START RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21 Version: $LATEST\n",
                true,
            ),
            (
                "START RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tVersion: 12\n",
                true,
            ),
            ("END RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\n", false),
            (
                r#"{"time":"2026-11-29T10:00:00.000Z","type":"platform.start","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","version":"$LATEST"}}"#,
                true,
            ),
        ];
        for (line, is_start) in cases {
            let expected = if is_start {
                Line::Start { request_id: ID }
            } else {
                Line::End { request_id: ID }
            };
            assert_eq!(parse(line), expected, "{line}");
        }
    }

    #[test]
    fn report_lines_give_every_field_they_carry() {
        struct Case {
            line: &'static str,
            duration: Option<f64>,
            init: Option<f64>,
            memory: Option<f64>,
            max_memory: Option<f64>,
            status: Option<Status>,
            error_type: Option<&'static str>,
        }
        let cases = [
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 3004.92 ms\tBilled Duration: 3117 ms\tMemory Size: 128 MB\tMax Memory Used: 33 MB\tInit Duration: 111.23 ms\t\n",
                duration: Some(3004.92),
                init: Some(111.23),
                memory: Some(128.0),
                max_memory: Some(33.0),
                status: None,
                error_type: None,
            },
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 3016.78 ms\tBilled Duration: 3101 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB\tStatus: timeout\n",
                duration: Some(3016.78),
                init: None,
                memory: Some(128.0),
                max_memory: Some(31.0),
                status: Some(Status::Timeout),
                error_type: None,
            },
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21 Duration: 32973.23 ms Billed Duration: 32974 ms Memory Size: 128 MB Max Memory Used: 128 MB Status: error Error Type: Runtime.OutOfMemory",
                duration: Some(32973.23),
                init: None,
                memory: Some(128.0),
                max_memory: Some(128.0),
                status: Some(Status::Error),
                error_type: Some("Runtime.OutOfMemory"),
            },
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 133.61 ms\tBilled Duration: 134 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tRestore Duration: 518.37 ms\tBilled Restore Duration: 519 ms\tStatus: error\tError Type: Runtime.ExitError\t\nXRAY TraceId: 1-5d83-abc\tSegmentId: 3125\tSampled: true\n",
                duration: Some(133.61),
                init: None,
                memory: Some(128.0),
                max_memory: Some(40.0),
                status: Some(Status::Error),
                error_type: Some("Runtime.ExitError"),
            },
            Case {
                line: r#"{"time":"2026-11-29T10:00:00.000Z","type":"platform.report","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","metrics":{"durationMs":30000.0,"billedDurationMs":30000,"memorySizeMB":128,"maxMemoryUsedMB":74,"initDurationMs":985.4},"status":"timeout"}}"#,
                duration: Some(30000.0),
                init: Some(985.4),
                memory: Some(128.0),
                max_memory: Some(74.0),
                status: Some(Status::Timeout),
                error_type: None,
            },
            Case {
                line: r#"{"time":"2026-11-29T10:00:00.000Z","type":"platform.report","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","metrics":{"durationMs":12.5},"status":"error","errorType":"Runtime.OutOfMemory","newField":[1]}}"#,
                duration: Some(12.5),
                init: None,
                memory: None,
                max_memory: None,
                status: Some(Status::Error),
                error_type: Some("Runtime.OutOfMemory"),
            },
        ];
        for c in cases {
            let r = report(c.line);
            assert_eq!(r.request_id, ID, "{}", c.line);
            assert_eq!(r.duration_ms, c.duration, "{}", c.line);
            assert_eq!(r.init_duration_ms, c.init, "{}", c.line);
            assert_eq!(r.memory_size_mb, c.memory, "{}", c.line);
            assert_eq!(r.max_memory_used_mb, c.max_memory, "{}", c.line);
            assert_eq!(r.status, c.status, "{}", c.line);
            assert_eq!(r.error_type.as_deref(), c.error_type, "{}", c.line);
        }
    }

    #[test]
    fn a_snapstart_report_keeps_restore_apart_from_billed_restore() {
        let r = report(
            "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 10.00 ms\tRestore Duration: 518.37 ms\tBilled Restore Duration: 519 ms\n",
        );
        assert_eq!(r.restore_duration_ms, Some(518.37));
        assert_eq!(r.duration_ms, Some(10.0));
    }

    #[test]
    fn phase_reports_give_phase_status_and_error_type() {
        let cases = [
            (
                "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout\n",
                false,
                Some(Status::Timeout),
                None,
            ),
            (
                "INIT_REPORT Init Duration: 1236.04 ms\tPhase: invoke\tStatus: error\tError Type: Extension.Crash\n",
                true,
                Some(Status::Error),
                Some("Extension.Crash"),
            ),
            (
                "RESTORE_REPORT Restore Duration: 1236.04 ms\tStatus: error\tError Type: Runtime.ExitError\n",
                false,
                Some(Status::Error),
                Some("Runtime.ExitError"),
            ),
            (
                r#"{"time":"t","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"error","errorType":"Runtime.Unknown","metrics":{"durationMs":10.0}}}"#,
                false,
                Some(Status::Error),
                Some("Runtime.Unknown"),
            ),
        ];
        for (line, invoke, status, error_type) in cases {
            match parse(line) {
                Line::PhaseReport {
                    during_invoke,
                    status: s,
                    error_type: e,
                    ..
                } => {
                    assert_eq!(during_invoke, invoke, "{line}");
                    assert_eq!(s, status, "{line}");
                    assert_eq!(e.as_deref(), error_type, "{line}");
                }
                other => panic!("{line} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn init_and_restore_starts_open_an_init_phase() {
        let cases = [
            "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n",
            "RESTORE_START Runtime Version: java:21.v20\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:8e1f\n",
            r#"{"time":"t","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"nodejs:20"}}"#,
            r#"{"time":"t","type":"platform.restoreStart","record":{"runtimeVersion":"java:21"}}"#,
        ];
        for line in cases {
            assert_eq!(parse(line), Line::InitStart, "{line}");
        }
    }

    #[test]
    fn quiet_platform_lines_count_nothing() {
        let cases = [
            "XRAY TraceId: 1-5d83-abc\tSegmentId: 3125\tSampled: true\n",
            "EXTENSION\tName: datadog-agent\tState: Ready\tEvents: [INVOKE,SHUTDOWN]\n",
            r#"{"time":"t","type":"platform.logsDropped","record":{"reason":"x","droppedRecords":3}}"#,
        ];
        for line in cases {
            assert_eq!(parse(line), Line::Platform, "{line}");
        }
    }

    #[test]
    fn runtime_done_gives_status() {
        let line = r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","status":"failure","errorType":"Runtime.ExitError","metrics":{"durationMs":1233.9,"producedBytes":0}}}"#;
        match parse(line) {
            Line::RuntimeDone {
                request_id,
                status,
                error_type,
            } => {
                assert_eq!(request_id, ID);
                assert_eq!(status, Some(Status::Failure));
                assert_eq!(error_type.as_deref(), Some("Runtime.ExitError"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn application_lines_of_every_runtime_give_request_id_and_level() {
        let cases: [(&str, Option<&str>, Option<Level>); 19] = [
            (
                "[ERROR]\t2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tRequest failed\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "[INFO]\t2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tERROR in the message is not a level\n",
                Some(ID),
                Some(Level::Info),
            ),
            (
                "[ERROR] KeyError: 'x'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 3\n",
                None,
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tERROR\tError: boom\n    at handler (/var/task/index.js:3:9)\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tERROR\tInvoke Error \t{\"errorType\":\"Error\",\"errorMessage\":\"x\"}\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tWARN\tslow\n",
                Some(ID),
                Some(Level::Warn),
            ),
            ("2026/11/29 10:00:01 ERROR failed to list\n", None, Some(Level::Error)),
            ("2026/11/29 10:00:01 processing the ERROR queue\n", None, None),
            (
                "2026-11-29 10:05:01.234 b70435cc-261c-4438-b9b6-efe4c8f04b21 ERROR UserSync - Failed\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123456Z ERROR my_crate::handler: failed\n",
                None,
                Some(Level::Error),
            ),
            (
                "[2026-11-29T10:00:01Z ERROR my_crate] failed\n",
                None,
                Some(Level::Error),
            ),
            (
                "time=2026-11-29T10:00:01Z level=error msg=\"failed\"\n",
                None,
                Some(Level::Error),
            ),
            (
                "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\n",
                None,
                Some(Level::Error),
            ),
            (
                "thread 'main' panicked at src/main.rs:10:5:\nboom\n",
                None,
                Some(Level::Error),
            ),
            (
                "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n",
                None,
                Some(Level::Error),
            ),
            (
                "RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21 Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n",
                Some(ID),
                None,
            ),
            (
                "2024-03-04T17:22:38.033Z b70435cc-261c-4438-b9b6-efe4c8f04b21 Task timed out after 3.00 seconds\n",
                Some(ID),
                None,
            ),
            ("just some words\n", None, None),
            ("Error: plain words first\n", None, None),
        ];
        for (line, id, level) in cases {
            let a = app(line);
            assert_eq!(a.request_id, id, "request id of {line:?}");
            assert_eq!(a.level, level, "level of {line:?}");
        }
    }

    /// Issue 13: the levels of every runtime and common logger, each with look-alikes that must
    /// not be read as a level.
    #[test]
    fn every_runtimes_level_is_read_where_it_writes_it_and_nowhere_else() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, Option<&str>, Option<Level>)] = &[
            // .NET runtime: the level field between the request id and the message.
            (".NET fail field", "2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tfail\tOrder 7 failed\n", Some(ID), Some(Level::Error)),
            (".NET crit field", "2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tcrit\tdisk gone\n", Some(ID), Some(Level::Error)),
            (".NET info field", "2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tinfo\tfail is a word here\n", Some(ID), Some(Level::Info)),
            (".NET warn field", "2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\twarn\tslow\n", Some(ID), Some(Level::Warn)),
            (".NET console logger through the runtime", "2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tinfo\tfail: Acme.Orders.Handler[0]\n      Order 7 failed\n", Some(ID), Some(Level::Error)),
            ("a message word after the id is no .NET level", "2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tfailed\tto parse\n", Some(ID), None),
            // Microsoft console logger on its own.
            ("console logger fail", "fail: Acme.Orders.Handler[0]\n      Order 7 failed\n", None, Some(Level::Error)),
            ("console logger info", "info: Acme.Orders.Handler[0]\n      Order 7 done\n", None, Some(Level::Info)),
            ("fail: in prose is no level", "fail: could not open file\n", None, None),
            // Ruby Logger, with and without the request id as progname.
            ("Ruby Logger ERROR", "E, [2026-12-02T10:00:00.000000 #8] ERROR -- : Order 7 failed\n", None, Some(Level::Error)),
            ("Ruby Logger with request id", "I, [2026-12-02T10:00:00.000000 #8]  INFO -- b70435cc-261c-4438-b9b6-efe4c8f04b21: ERROR is a word here\n", Some(ID), Some(Level::Info)),
            ("Ruby Logger FATAL", "F, [2026-12-02T10:00:00.000000 #8] FATAL -- : gone\n", None, Some(Level::Error)),
            ("a letter and a comma is no Ruby Logger", "E, the letter\n", None, None),
            ("Ruby's unhandled error", "Error raised from handler method\n", None, Some(Level::Error)),
            // Unhandled-error records behind a text prefix.
            ("error record behind a prefix", "2026-12-02T10:00:00.000Z b70435cc-261c-4438-b9b6-efe4c8f04b21 Unhandled: {\"errorMessage\":\"boom\",\"errorType\":\"java.lang.IllegalStateException\"}\n", Some(ID), Some(Level::Error)),
            ("pretty error record behind a prefix", "Error raised from handler method\n{\n  \"errorMessage\": \"no implicit conversion\",\n  \"errorType\": \"Function<TypeError>\"\n}\n", None, Some(Level::Error)),
            ("an errorType member in prose is no record", "we log \"errorType\" fields now\n", None, None),
            // logback's and log4j2's default patterns.
            ("logback default", "10:00:00.000 [main] ERROR com.acme.Job - Order 7 failed\n", None, Some(Level::Error)),
            ("logback with a pool thread", "2026-12-02 10:00:00,000 [pool-1-thread-3] WARN  com.acme.Job - slow\n", None, Some(Level::Warn)),
            ("a bracket tag in a message", "[db] ERROR is only a word here\n", None, None),
            // Node.js during init: `undefined` where the request id goes.
            ("Node init error", "2026-12-02T10:00:00.000Z\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\"Error\"}\n", None, Some(Level::Error)),
            ("Node init info", "2026-12-02T10:00:00.000Z\tundefined\tINFO\tloading config\n", None, Some(Level::Info)),
            // Go slog text, logfmt, Python's default format.
            ("slog text", "time=2026-12-02T10:00:00.000Z level=ERROR msg=\"write failed\" error_count=1\n", None, Some(Level::Error)),
            ("logfmt counters are no level", "time=2026-12-02T10:00:00.000Z msg=done error_count=0 errors=0\n", None, None),
            ("Python default format", "ERROR:root:write failed\n", None, Some(Level::Error)),
            ("0 errors is no level", "processed 10 items, 0 errors\n", None, None),
        ];
        for (name, line, id, level) in cases {
            let a = app(line);
            assert_eq!(a.request_id, *id, "request id: {name}");
            assert_eq!(a.level, *level, "level: {name}");
        }
    }

    #[test]
    fn structured_loggers_levels_are_read_in_json() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, Option<&str>, Option<Level>)] = &[
            ("Powertools for Python", r#"{"level":"ERROR","location":"handler:12","message":"boom","timestamp":"2026-12-02 10:00:00,000+0000","service":"orders","function_request_id":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#, Some(ID), Some(Level::Error)),
            ("Powertools for .NET", r#"{"coldStart":true,"level":"Error","service":"orders","message":"boom"}"#, None, Some(Level::Error)),
            (".NET JSON format, Information", r#"{"timestamp":"2026-12-02T10:00:00.000Z","level":"Information","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","message":"fine"}"#, Some(ID), Some(Level::Info)),
            (".NET JSON format, Critical", r#"{"timestamp":"2026-12-02T10:00:00.000Z","level":"Critical","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","message":"gone"}"#, Some(ID), Some(Level::Error)),
            ("pino fatal", r#"{"level":60,"time":1795946400000,"pid":8,"msg":"gone"}"#, None, Some(Level::Error)),
            ("pino info", r#"{"level":30,"time":1795946400000,"pid":8,"msg":"error budget fine"}"#, None, Some(Level::Info)),
            ("Go slog JSON", r#"{"time":"2026-12-02T10:00:00Z","level":"ERROR","msg":"write failed"}"#, None, Some(Level::Error)),
            ("Rust tracing JSON", r#"{"timestamp":"2026-12-02T10:00:00.000000Z","level":"ERROR","fields":{"message":"write failed"},"target":"orders"}"#, None, Some(Level::Error)),
            ("an error counter is no level", r#"{"level":"INFO","error_count":0,"msg":"0 errors"}"#, None, Some(Level::Info)),
            ("Serilog compact JSON", r#"{"@t":"2026-12-02T10:00:00.000Z","@mt":"Order {Id} failed","@l":"Error","Id":7}"#, None, Some(Level::Error)),
            ("ECS log.level", r#"{"@timestamp":"2026-12-02T10:00:00.000Z","log.level":"error","message":"boom"}"#, None, Some(Level::Error)),
        ];
        for (name, line, id, level) in cases {
            let a = app(line);
            assert_eq!(a.request_id, *id, "request id: {name}");
            assert_eq!(a.level, *level, "level: {name}");
        }
    }

    #[test]
    fn json_application_lines_give_request_id_and_level_in_any_case() {
        let cases: [(&str, Option<&str>, Option<Level>); 7] = [
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"ERROR","message":"boom","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
                Some(ID),
                Some(Level::Error),
            ),
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"error","message":"boom","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
                Some(ID),
                Some(Level::Error),
            ),
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"warning","message":"ERROR is a word here","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
                Some(ID),
                Some(Level::Warn),
            ),
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"FATAL","message":"x","AWSRequestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","logger":"com.x"}"#,
                Some(ID),
                Some(Level::Error),
            ),
            (
                r#"{"level":50,"time":1795946400000,"msg":"pino error"}"#,
                None,
                Some(Level::Error),
            ),
            (
                r#"{"errorMessage":"Rate exceeded","errorType":"com.amazonaws.AmazonServiceException","stackTrace":["a","b"]}"#,
                None,
                Some(Level::Error),
            ),
            (r#"{"message":"no level at all"}"#, None, None),
        ];
        for (line, id, level) in cases {
            let a = app(line);
            assert_eq!(a.request_id, id, "request id of {line}");
            assert_eq!(a.level, level, "level of {line}");
        }
    }

    #[test]
    fn task_timed_out_gives_the_timeout_in_seconds() {
        let a =
            app("2024-03-04T17:22:38.033Z b70435cc-261c-4438-b9b6-efe4c8f04b21 Task timed out after 3.00 seconds\n");
        assert_eq!(a.timed_out_after, Some(3.0));
        let a = app(
            r#"{"timestamp":"t","level":"ERROR","message":"Task timed out after 30.02 seconds","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
        );
        assert_eq!(a.timed_out_after, Some(30.02));
    }

    #[test]
    fn chunk_sizes_are_read_from_text_and_json() {
        assert_eq!(
            app("[INFO]\tt\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tprocessed chunk_size=50 items").chunk_size,
            Some(50.0)
        );
        assert_eq!(
            app(r#"{"level":"INFO","message":"batch","chunk_size":25}"#).chunk_size,
            Some(25.0)
        );
        assert_eq!(app("nothing").chunk_size, None);
    }

    #[test]
    fn request_ids_are_uuid_shaped() {
        let cases = [
            ("b70435cc-261c-4438-b9b6-efe4c8f04b21", true),
            ("B70435CC-261C-4438-B9B6-EFE4C8F04B21", true),
            ("b70435cc-261c-4438-b9b6-efe4c8f04b2", false),
            ("b70435cc-261c-4438-b9b6-efe4c8f04b2g", false),
            ("b70435cc-261c-4438-b9b6-efe4c8f-4b21", false),
            ("b70435cc0261c-4438-b9b6-efe4c8f04b21", false),
            ("2026-11-29T10:00:01.123Z", false),
        ];
        for (token, is_id) in cases {
            assert_eq!(is_request_id(token), is_id, "{token}");
        }
    }

    #[test]
    fn signals_ride_along_with_the_line() {
        let a = app("2026/11/29 10:10:05 ERROR failed to open db: pq: sorry, too many clients already");
        assert!(a.signals.has(Signal::TooManyConnections));
        assert!(a.is_error());
    }

    #[test]
    fn platform_records_read_escaped_strings_and_tolerate_odd_metrics() {
        let line = r#"{"time":"t","type":"platform.report","record":{"requestId":"r-1","status":"time\u006fut","errorType":"Sandbox.Timed\"Out\"","metrics":null}}"#;
        match parse(line) {
            Line::Report(r) => {
                assert_eq!(r.request_id, "r-1");
                assert_eq!(r.status, Some(Status::Timeout));
                assert_eq!(r.error_type.as_deref(), Some("Sandbox.Timed\"Out\""));
                assert_eq!(r.duration_ms, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn platform_records_are_read_wherever_they_stand_and_whatever_their_metrics() {
        let id = "r-1";
        let cases = [
            // The record first, the type after it.
            (
                r#"{"record":{"requestId":"r-1","metrics":{"durationMs":12.5,"memorySizeMB":128}},"type":"platform.report","time":"t"}"#,
                Some(12.5),
            ),
            // Metrics that are an object but not well-formed members leave the numbers unknown.
            (
                r#"{"time":"t","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs" 12},"status":"success"}}"#,
                None,
            ),
            (
                r#"{"time":"t","type":"platform.report","record":{"metrics":[1,{"x":"}"}],"requestId":"r-1"}}"#,
                None,
            ),
        ];
        for (line, duration) in cases {
            match parse(line) {
                Line::Report(r) => {
                    assert_eq!(r.request_id, id, "{line}");
                    assert_eq!(r.duration_ms, duration, "{line}");
                }
                other => panic!("{line} gave {other:?}"),
            }
        }
        // A platform line whose record is not an object is no platform line.
        assert!(matches!(
            parse(r#"{"time":"t","type":"platform.report","record":"r-1"}"#),
            Line::App(_)
        ));
        // An application line may have a member called record.
        let a = app(r#"{"level":"ERROR","record":{"id":7},"message":"Too many connections"}"#);
        assert!(a.is_error() && a.signals.has(Signal::TooManyConnections));
    }

    /// Issue 12: an application that logged `{ "record":` crashed the processor, which indexed
    /// the byte after the colon.
    #[test]
    fn json_cut_off_right_after_a_member_colon_is_an_app_line_not_a_panic() {
        let cases = [
            r#"{ "record":"#,
            r#"{"record":"#,
            r#"{"record": "#,
            r#"{"type":"platform.report","record":"#,
            r#"{"type":"platform.report","record":{"metrics":"#,
            r#"{"type":"platform.report","record":{"metrics": "#,
            r#"{"type":"platform.report","record":{"requestId":"r-1","metrics":"#,
            r#"{"level":"#,
            r#"{"a":"#,
        ];
        for line in cases {
            let a = app(line);
            assert_eq!(a.level, None, "{line}");
            assert_eq!(a.request_id, None, "{line}");
        }
    }

    #[test]
    fn broken_json_falls_back_to_text() {
        let a = app("{not json at all ERROR");
        assert_eq!(a.level, None);
        let a = app(r#"{"level": {"weird": true}, "message": "Too many connections"}"#);
        assert!(a.signals.has(Signal::TooManyConnections));
    }
}
