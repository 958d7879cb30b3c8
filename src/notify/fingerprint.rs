//! Groups error lines the way an error tracker groups issues: numbers, ids, times, hex and quoted
//! values are replaced, so "Too many connections" from fifty invocations reads as one line with a
//! count. A structured (JSON) line is grouped by its level and its message's template, never by
//! the shape of its JSON: `{"level":"error","msg":"upload failed for id 123"}` reads
//! `ERROR upload failed for id <n>`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

static REPLACEMENTS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<id>"),
        // ISO 8601 and the `2026/11/29 10:00:01` of Go's log package, then a bare time of day.
        (
            r"\b\d{4}[-/]\d{2}[-/]\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?",
            "<time>",
        ),
        (r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<time>"),
        (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
        (r"\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*\b", "<hex>"),
        (r#""[^"]*"|'[^']*'"#, "<str>"),
        (r"\d+(\.\d+)?", "<n>"),
        (r"\s+", " "),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).expect("fingerprint patterns compile"), r))
    .collect()
});

/// Members that hold a structured line's message, most specific first. `errorMessage` is the
/// Lambda runtimes' error record; `message`/`msg` are the common loggers' (Lambda's JSON log
/// format, pino, zap, slog, structlog's `event`); `@message` is Logstash's; `error`/`err` hold an
/// error's text or an error object with a `message` (pino's `err`, zap's `error`).
const MESSAGE_KEYS: [&str; 7] = ["errorMessage", "message", "msg", "error", "err", "event", "@message"];

/// Members that hold a structured line's level (`levelname`: python-json-logger; `severity`:
/// Google's and many others'; `log.level`: Elastic Common Schema, flat or nested).
const LEVEL_KEYS: [&str; 4] = ["level", "levelname", "severity", "log.level"];

/// The fingerprint of a log line: its first physical line with variable parts replaced. For a
/// structured (JSON) line, and for a text prefix followed by a JSON object (Node.js's
/// `Invoke Error` record), its level and the template of its message; a structured line
/// without a message is named by its (sorted) keys.
///
/// `line` must already be redacted ([`super::redact::redact`]): the fingerprint is shown in
/// notices. A JSON message is redacted once more after it is unescaped, since an escape
/// (`\/` in a key, `\u0022` for a quote) can hide a secret's shape in the raw line; `extra` are
/// the config's `notices.redact` patterns.
pub fn fingerprint(line: &str, extra: &[Regex]) -> String {
    let out = match structured(line) {
        Some(s) => {
            let message = super::redact::redact(&s.message, extra);
            let parts = [
                s.prefix.map(template).unwrap_or_default(),
                s.level.unwrap_or_default(),
                template(&message),
            ];
            parts
                .iter()
                .filter(|p| !p.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        }
        None => template(line),
    };
    crate::processor::truncate(out.trim(), 200)
}

/// The first physical line of `text` with its variable parts replaced.
fn template(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim();
    let mut out = first.to_string();
    for (pattern, replacement) in REPLACEMENTS.iter() {
        out = pattern.replace_all(&out, *replacement).into_owned();
    }
    out.trim().to_string()
}

/// What a structured line says, read from its JSON.
struct Structured<'a> {
    /// Text before the object (a runtime's timestamp, request id and level), if any.
    prefix: Option<&'a str>,
    /// The level, upper-case.
    level: Option<String>,
    /// The message, unescaped (not yet templated).
    message: String,
}

fn structured(line: &str) -> Option<Structured<'_>> {
    let trimmed = line.trim();
    if !trimmed.ends_with('}') {
        return None;
    }
    // The object is the whole line, or follows a text prefix and whitespace (Node.js writes
    // `<time>\t<id>\tERROR\tInvoke Error \t{"errorType":...}`).
    let start = if trimmed.starts_with('{') {
        0
    } else {
        trimmed
            .match_indices('{')
            .map(|(i, _)| i)
            .find(|&i| trimmed[..i].ends_with(char::is_whitespace))?
    };
    let object: Map<String, Value> = serde_json::from_str(&trimmed[start..]).ok()?;
    let prefix = Some(trimmed[..start].trim()).filter(|p| !p.is_empty());
    let level = LEVEL_KEYS
        .iter()
        .find_map(|k| object.get(*k))
        .or_else(|| object.get("log")?.get("level"))
        .and_then(level_name);
    let message = message_of(&object)
        .or_else(|| platform_record(&object))
        .unwrap_or_else(|| {
            // Sorted: the order of members says nothing about what happened.
            let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
            keys.sort_unstable();
            format!("{{{}}}", keys.join(","))
        });
    Some(Structured { prefix, level, message })
}

/// The message of a structured line, with the error type in front when the line names one.
fn message_of(object: &Map<String, Value>) -> Option<String> {
    let message = MESSAGE_KEYS
        .iter()
        .find_map(|k| text_of(object.get(*k)?))
        // tracing-subscriber's JSON format keeps the message under `fields`.
        .or_else(|| text_of(object.get("fields")?.get("message")?))?;
    Some(match object.get("errorType").and_then(Value::as_str) {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    })
}

/// A string, or an error object's `message` (with its `name`/`type` in front when it has one).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Object(o) => {
            let message = o.get("message")?.as_str()?;
            match ["name", "type", "errorType"].iter().find_map(|k| o.get(*k)?.as_str()) {
                Some(kind) if !message.starts_with(kind) => Some(format!("{kind}: {message}")),
                _ => Some(message.to_string()),
            }
        }
        _ => None,
    }
}

/// Lambda's JSON platform records (`{"type":"platform.report","record":{"status":...}}`):
/// their type, status and error type, which is what tells two of them apart.
fn platform_record(object: &Map<String, Value>) -> Option<String> {
    let kind = object.get("type")?.as_str()?;
    if !kind.starts_with("platform.") {
        return None;
    }
    let record = object.get("record");
    let field = |k: &str| record.and_then(|r| r.get(k)).and_then(Value::as_str);
    let mut out = kind.to_string();
    for (key, value) in [("status", field("status")), ("errorType", field("errorType"))] {
        if let Some(v) = value {
            out.push_str(&format!(" {key}={v}"));
        }
    }
    Some(out)
}

/// A level as a word: names upper-cased, and pino's numbers as the names pino gives them
/// (<https://getpino.io/#/docs/api?id=levels>: 10 trace to 60 fatal). Anything longer than a
/// level or not a word is left out rather than shown.
fn level_name(value: &Value) -> Option<String> {
    let name = match value {
        Value::String(s) => s.trim().to_ascii_uppercase(),
        Value::Number(n) => match n.as_u64()? {
            10 => "TRACE".into(),
            20 => "DEBUG".into(),
            30 => "INFO".into(),
            40 => "WARN".into(),
            50 => "ERROR".into(),
            60 => "FATAL".into(),
            _ => return None,
        },
        _ => return None,
    };
    (!name.is_empty() && name.len() <= 12 && name.chars().all(|c| c.is_ascii_alphabetic())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_differ_only_in_values_share_a_fingerprint() {
        let same = [
            (
                "2026-11-29T10:00:01.123Z\taaaaaaaa-0000-4000-8000-000000000001\tERROR\tError: ER_CON_COUNT_ERROR: Too many connections",
                "2026-11-29T10:07:44.901Z\tbbbbbbbb-0000-4000-8000-000000000002\tERROR\tError: ER_CON_COUNT_ERROR: Too many connections",
            ),
            ("[ERROR] KeyError: 'next_page'", "[ERROR] KeyError: 'cursor'"),
            (
                "failed to fetch account 4411 after 3 tries",
                "failed to fetch account 98 after 12 tries",
            ),
            ("object 0x7f3a2c at deadbeef12", "object 0x11 at 00ff00aa9"),
            (
                r#"{"level":"error","msg":"upload failed for id 123","time":"2026-11-29T10:01:46Z"}"#,
                r#"{"time":"2026-11-29T10:02:48Z","level":"error","msg":"upload failed for id 456"}"#,
            ),
            (
                r#"{"level":50,"msg":"charge declined","err":{"type":"Error","message":"card 4242 declined"}}"#,
                r#"{"level":50,"msg":"charge declined","err":{"type":"Error","message":"card 1111 declined"}}"#,
            ),
        ];
        for (a, b) in same {
            assert_eq!(fingerprint(a, &[]), fingerprint(b, &[]), "{a} / {b}");
        }
        assert_ne!(
            fingerprint("Too many connections", &[]),
            fingerprint("Rate exceeded", &[])
        );
        assert_ne!(
            fingerprint(r#"{"level":"error","msg":"upload failed"}"#, &[]),
            fingerprint(r#"{"level":"error","msg":"download failed"}"#, &[]),
            "structured lines with different messages stay apart"
        );
    }

    #[test]
    fn structured_lines_read_as_their_level_and_message_template() {
        let cases = [
            (
                "a msg with a lower-case level",
                r#"{"level":"error","msg":"upload failed for id 123"}"#,
                "ERROR upload failed for id <n>",
            ),
            (
                "Lambda's JSON format keeps the first line of a multi-line message",
                r#"{"timestamp":"2026-11-29T10:01:08.884Z","level":"ERROR","message":"Error: ER_CON_COUNT_ERROR: Too many connections\n    at Handshake","requestId":"x"}"#,
                "ERROR Error: ER_CON_COUNT_ERROR: Too many connections",
            ),
            (
                "a runtime's error record names its type",
                r#"{"errorMessage":"Rate exceeded","errorType":"ThrottlingException"}"#,
                "ThrottlingException: Rate exceeded",
            ),
            (
                "an error string",
                r#"{"severity":"ERROR","error":"connect ECONNREFUSED 10.0.0.12:5432"}"#,
                "ERROR connect ECONNREFUSED <n>.<n>:<n>",
            ),
            (
                "an error object's message and name",
                r#"{"level":"warn","error":{"name":"TimeoutError","message":"query took 3001 ms"}}"#,
                "WARN TimeoutError: query took <n> ms",
            ),
            (
                "pino's numeric level and err object",
                r#"{"level":50,"time":1795946506812,"err":{"type":"Error","message":"boom"}}"#,
                "ERROR Error: boom",
            ),
            (
                "structlog's event",
                r#"{"event":"sync failed after 3 retries","levelname":"CRITICAL"}"#,
                "CRITICAL sync failed after <n> retries",
            ),
            (
                "Logstash's @message and ECS's nested log.level",
                r#"{"@message":"disk 97% full","log":{"level":"warning"}}"#,
                "WARNING disk <n>% full",
            ),
            (
                "tracing's fields.message",
                r#"{"timestamp":"2026-11-29T10:13:01.658Z","level":"ERROR","fields":{"message":"quote request failed: HTTP/1.1 429 Too Many Requests"},"target":"quotes"}"#,
                "ERROR quote request failed: HTTP/<n> <n> Too Many Requests",
            ),
            (
                "a platform record by its type and status",
                r#"{"time":"2026-11-29T10:02:31.324Z","type":"platform.report","record":{"requestId":"3e0b3c8b-d4cf-4cc7-a30b-b5ca0b5f080c","metrics":{"durationMs":30000.0},"status":"timeout"}}"#,
                "platform.report status=timeout",
            ),
            (
                "an object without a message by its keys",
                r#"{"level":"error","code":17,"details":{"a":1}}"#,
                "ERROR {code,details,level}",
            ),
            (
                "Node.js's Invoke Error record after its text prefix",
                "2026-11-29T10:00:01.123Z\taaaaaaaa-0000-4000-8000-000000000001\tERROR\tInvoke Error \t{\"errorType\":\"Error\",\"errorMessage\":\"bucket 77 missing\",\"stack\":[\"Error: bucket 77 missing\"]}",
                "<time> <id> ERROR Invoke Error Error: bucket <n> missing",
            ),
            (
                "a level that is not a word is left out",
                r#"{"level":"<script>","msg":"x 1"}"#,
                "x <n>",
            ),
            (
                "a plain line",
                "[ERROR] KeyError: 'next_page'\nTraceback (most recent call last):",
                "[ERROR] KeyError: <str>",
            ),
            ("not JSON after all", "{ oops", "{ oops"),
        ];
        for (name, line, expected) in cases {
            assert_eq!(fingerprint(line, &[]), expected, "{name}");
        }
    }

    #[test]
    fn a_secret_hidden_by_json_escapes_is_masked_in_the_fingerprint() {
        let line = r#"{"level":"error","msg":"login failed password\u003dhunter2"}"#;
        let print = fingerprint(line, &[]);
        assert!(!print.contains("hunter2"), "{print}");
        assert!(print.starts_with("ERROR login failed"), "{print}");
    }
}
