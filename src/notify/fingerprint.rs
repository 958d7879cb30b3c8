//! Groups error lines the way an error tracker groups issues: numbers, ids, hex and quoted values
//! are replaced, so "Too many connections" from fifty invocations reads as one line with a count.

use std::sync::LazyLock;

use regex::Regex;

static REPLACEMENTS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<id>"),
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

/// The fingerprint of a log line: its first physical line with variable parts replaced. For a
/// JSON line, the fingerprint of its message (`message`, `msg`, `errorMessage`).
///
/// `line` must already be redacted ([`super::redact::redact`]): the fingerprint is shown in
/// notices. A JSON message is redacted once more after it is unescaped, since an escape
/// (`\/` in a key, `\u0022` for a quote) can hide a secret's shape in the raw line; `extra` are
/// the config's `notices.redact` patterns.
pub fn fingerprint(line: &str, extra: &[Regex]) -> String {
    let message = message_of_json(line).map(|m| super::redact::redact(&m, extra).into_owned());
    let text = message.as_deref().unwrap_or(line);
    let first = text.lines().next().unwrap_or("").trim();
    let mut out = first.to_string();
    for (pattern, replacement) in REPLACEMENTS.iter() {
        out = pattern.replace_all(&out, *replacement).into_owned();
    }
    crate::processor::truncate(out.trim(), 200)
}

fn message_of_json(line: &str) -> Option<String> {
    if !line.trim_start().starts_with('{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = ["errorMessage", "message", "msg"]
        .iter()
        .find_map(|k| value.get(*k)?.as_str().map(str::to_string))?;
    Some(match value.get("errorType").and_then(|t| t.as_str()) {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    })
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
        ];
        for (a, b) in same {
            assert_eq!(fingerprint(a, &[]), fingerprint(b, &[]), "{a} / {b}");
        }
        assert_ne!(
            fingerprint("Too many connections", &[]),
            fingerprint("Rate exceeded", &[])
        );
        assert_eq!(
            fingerprint(
                r#"{"timestamp":"2026-11-29T10:01:08.884Z","level":"ERROR","message":"Error: ER_CON_COUNT_ERROR: Too many connections\n    at Handshake","requestId":"x"}"#,
                &[]
            ),
            "Error: ER_CON_COUNT_ERROR: Too many connections"
        );
        assert_eq!(
            fingerprint(
                r#"{"errorMessage":"Rate exceeded","errorType":"ThrottlingException"}"#,
                &[]
            ),
            "ThrottlingException: Rate exceeded"
        );
        assert_eq!(
            fingerprint("[ERROR] KeyError: 'next_page'\nTraceback (most recent call last):", &[]),
            "[ERROR] KeyError: <str>"
        );
    }
}
