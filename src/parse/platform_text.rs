//! Plain-text platform lines: `START`, `END`, `REPORT`, `INIT_REPORT`, `RESTORE_REPORT`, and the
//! quiet ones (`INIT_START`, `XRAY`, `EXTENSION`, …). Fields are found by key, separated by tabs
//! or (where a tool turned tabs into spaces) by spaces, in any order, any of them missing.
//!
//! Contract: [`parse_text_platform`] gives `None` for any line that is not one of these (then it
//! is an application line), and never panics: a line cut anywhere is either still a platform
//! line with fewer fields, or `None`.
//!
//! | line                                   | result                              |
//! |----------------------------------------|-------------------------------------|
//! | `""`                                   | `None`                              |
//! | `"START RequestId: "`                  | `None` (no id)                      |
//! | `"START RequestId: r-1"`               | `Start { r-1 }`                     |
//! | `"REPORT RequestId: r-1\tDuration: 3"` | `Report` with duration 3, no memory |
//! | `"REPORT RequestId: r-1\tDuration: "`  | `Report` without duration           |
//! | `"INIT_REPORT"`                        | `PhaseReport` without status        |
//! | `"STARTLING news"`                     | `None`                              |

use std::borrow::Cow;

use super::bytes::{first_line, number_at, token_end};
use super::{Line, Report, Status};

/// Reads a plain-text platform line (its first line; REPORT can be followed by an XRAY line).
pub(super) fn parse_text_platform(line: &str) -> Option<Line<'_>> {
    let first = first_line(line);
    if let Some(rest) = first.strip_prefix("START RequestId: ") {
        return Some(Line::Start {
            request_id: first_token(rest)?,
        });
    }
    if let Some(rest) = first.strip_prefix("END RequestId: ") {
        return Some(Line::End {
            request_id: first_token(rest)?,
        });
    }
    if let Some(rest) = first.strip_prefix("REPORT RequestId: ") {
        let f = Fields::of(first);
        return Some(Line::Report(Box::new(Report {
            request_id: first_token(rest)?,
            duration_ms: f.number("Duration:"),
            init_duration_ms: f.number("Init Duration:"),
            billed_duration_ms: f.number("Billed Duration:"),
            restore_duration_ms: f.number("Restore Duration:"),
            memory_size_mb: f.number("Memory Size:"),
            max_memory_used_mb: f.number("Max Memory Used:"),
            status: f.word("Status:").map(Status::parse),
            error_type: f.word("Error Type:").map(Cow::Borrowed),
        })));
    }
    if first.starts_with("INIT_REPORT") || first.starts_with("RESTORE_REPORT") {
        let f = Fields::of(first);
        return Some(Line::PhaseReport {
            during_invoke: f.word("Phase:") == Some("invoke"),
            restore: first.starts_with("RESTORE_REPORT"),
            status: f.word("Status:").map(Status::parse),
            error_type: f.word("Error Type:").map(Cow::Borrowed),
        });
    }
    if first.starts_with("INIT_START") || first.starts_with("RESTORE_START") {
        return Some(Line::InitStart);
    }
    const QUIET: [&str; 5] = ["XRAY TraceId", "EXTENSION\t", "EXTENSION ", "TELEMETRY", "LOGS\t"];
    if QUIET.iter().any(|p| first.starts_with(p)) {
        return Some(Line::Platform);
    }
    None
}

/// The first token of `s` after leading blanks, if there is one.
fn first_token(s: &str) -> Option<&str> {
    let s = s.trim_ascii_start();
    // Separators are ASCII, so the token's end is a char boundary.
    let token = s.get(..token_end(s.as_bytes(), 0))?;
    (!token.is_empty()).then_some(token)
}

/// The `Key: value` fields of a platform line. Lambda separates them with tabs, which gives a
/// single pass; lines whose tabs were turned into spaces are searched key by key instead.
struct Fields<'a> {
    line: &'a str,
    tabbed: [(&'a str, &'a str); 12],
    len: usize,
}

impl<'a> Fields<'a> {
    fn of(line: &'a str) -> Fields<'a> {
        let mut fields = Fields {
            line,
            tabbed: [("", ""); 12],
            len: 0,
        };
        if memchr::memchr(b'\t', line.as_bytes()).is_some() {
            for segment in line.split('\t') {
                if let Some((key, value)) = segment.split_once(':')
                    && let Some(slot) = fields.tabbed.get_mut(fields.len)
                {
                    *slot = (key.trim_ascii(), value.trim_ascii());
                    fields.len += 1;
                }
            }
        }
        fields
    }

    /// The value of `key` (written with its colon, `"Duration:"`).
    fn value(&self, key: &str) -> Option<&'a str> {
        if self.len > 1 {
            let name = key.trim_end_matches(':');
            return self
                .tabbed
                .iter()
                .take(self.len)
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v);
        }
        value_after(self.line, key)
    }

    fn number(&self, key: &str) -> Option<f64> {
        number_at(self.value(key)?, Some(0))
    }

    fn word(&self, key: &str) -> Option<&'a str> {
        first_token(self.value(key)?)
    }
}

/// Finds `key` as a whole field name (so `Duration:` does not match inside `Billed Duration:`).
fn value_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = line;
    let mut before_len = 0;
    while let Some((before, after)) = rest.split_once(key) {
        let whole_before = line.get(..before_len + before.len())?;
        let trimmed = whole_before.trim_end_matches(' ');
        let qualified = trimmed.len() < whole_before.len()
            && ["Billed", "Init", "Restore", "Max", "Memory", "Billed Restore"]
                .iter()
                .any(|q| trimmed.ends_with(q));
        let boundary = whole_before.is_empty() || whole_before.ends_with(['\t', ' ']);
        if boundary && !qualified {
            return Some(after.trim_start_matches(' '));
        }
        before_len += before.len() + key.len();
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_text_lines_follow_the_edge_case_table() {
        let report = |request_id, duration_ms| {
            Some(Line::Report(Box::new(Report {
                request_id,
                duration_ms,
                ..Report::default()
            })))
        };
        let cases = [
            ("", None),
            ("START RequestId: ", None),
            ("START RequestId:", None),
            ("START RequestId: r-1", Some(Line::Start { request_id: "r-1" })),
            ("END RequestId: r-1\n", Some(Line::End { request_id: "r-1" })),
            ("REPORT RequestId: r-1\tDuration: 3", report("r-1", Some(3.0))),
            ("REPORT RequestId: r-1\tDuration: ", report("r-1", None)),
            ("REPORT RequestId: r-1\tDuration:", report("r-1", None)),
            (
                "REPORT RequestId: r-1 Duration: 3.5 ms Billed Duration: 4 ms",
                Some(Line::Report(Box::new(Report {
                    request_id: "r-1",
                    duration_ms: Some(3.5),
                    billed_duration_ms: Some(4.0),
                    ..Report::default()
                }))),
            ),
            (
                "INIT_REPORT",
                Some(Line::PhaseReport {
                    during_invoke: false,
                    restore: false,
                    status: None,
                    error_type: None,
                }),
            ),
            ("STARTLING news", None),
            ("XRAY TraceId: 1-5d83-abc", Some(Line::Platform)),
        ];
        for (line, parsed) in cases {
            assert_eq!(parse_text_platform(line), parsed, "{line:?}");
        }
    }

    #[test]
    fn fields_are_found_whole_and_only_as_field_names() {
        let cases = [
            ("Billed Duration: 4 ms Duration: 3 ms", "Duration:", Some("3 ms")),
            ("Duration: 3 ms", "Duration:", Some("3 ms")),
            ("Init Duration: 9 ms", "Duration:", None),
            ("XDuration: 9 ms", "Duration:", None),
            ("", "Duration:", None),
            ("Duration:", "Duration:", Some("")),
            ("caf\u{e9} Duration: 1", "Duration:", Some("1")),
        ];
        for (line, key, value) in cases {
            assert_eq!(value_after(line, key), value, "{key} in {line:?}");
        }
    }
}
