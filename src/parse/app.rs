//! Plain-text application lines of every runtime: the tokenizer over a message's first line, and
//! the reading of its prefix (timestamps, request id, level) that leaves the body to the signal
//! scan.
//!
//! Contract: [`parse_text_app`] reads any text, the empty line and lines cut mid-character
//! included, and never panics; what it cannot find is `None`.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::bytes::{first_line, token_end};
use super::{AppLine, Level, is_request_id};
use crate::vocabulary;

/// A token of a line and the text after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token<'a> {
    text: &'a str,
    /// Everything after the token, to the end of the message.
    rest: &'a str,
}

/// The tokens of a message's first line, separated by spaces, tabs and other control bytes.
/// Written out by hand because it runs on every application line: a `str::split` with a set of
/// separators decodes UTF-8 char by char and cost more than the rest of the line.
///
/// Contract: tokens are never empty, hold no byte at or below `b' '`, and stop at the first
/// `\n`; separators are ASCII, so every cut is a char boundary.
///
/// | text          | tokens           |
/// |---------------|------------------|
/// | `""`          | none             |
/// | `"\n"`        | none             |
/// | `" \t "`      | none             |
/// | `"a b"`       | `a`, `b`         |
/// | `"a\tb\nc"`   | `a`, `b`         |
/// | `"\u{e9} x"`  | `\u{e9}`, `x`    |
struct Tokens<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Tokens<'a> {
        Tokens { text, at: 0 }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let b = self.text.as_bytes();
        let mut i = self.at;
        while let Some(&c) = b.get(i)
            && c <= b' '
            && c != b'\n'
        {
            i += 1;
        }
        if matches!(b.get(i), None | Some(b'\n')) {
            self.at = b.len();
            return None;
        }
        let end = token_end(b, i);
        self.at = end;
        Some(Token {
            text: self.text.get(i..end)?,
            rest: self.text.get(end..)?,
        })
    }
}

/// A token that can stand in a line prefix around the level: a timestamp, a date, a request id.
/// Timestamps and dates start with a digit (after an opening bracket) and have no lower-case
/// letters.
fn is_prefix_token(token: &str) -> bool {
    let b = token.as_bytes();
    let opened = b.iter().take_while(|&&c| c == b'[').count();
    // The lower-case test folds over the whole token, with no branch per byte: a timestamp has
    // none, and each application line's timestamp comes through here.
    let lower = || b.iter().fold(false, |lower, c| lower | c.is_ascii_lowercase());
    b.get(opened).is_some_and(u8::is_ascii_digit) && !lower() || is_request_id(token)
}

/// `[ERROR]`, `ERROR:`, Python's default `ERROR:root:message` and the like.
fn level_token(token: &str) -> Option<Level> {
    let word = token.trim_start_matches('[').trim_end_matches([']', ':']);
    Level::from_word(word, false).or_else(|| {
        // Python logging's default format: LEVEL:logger:message (logging.BASIC_FORMAT).
        let (level, rest) = word.split_once(':')?;
        (!rest.is_empty()).then(|| Level::from_word(level, false))?
    })
}

/// A thread name in brackets, as logback's and log4j2's default patterns write it after the
/// time: `10:00:00.000 [main] ERROR com.acme.Job - …` (logback `PatternLayout` docs,
/// `%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n`).
fn is_thread_token(token: &str) -> bool {
    token.len() > 2 && token.starts_with('[') && token.ends_with(']')
}

/// The Microsoft console logger's first line: `fail: Category[0]`, the message on indented lines
/// after it (Microsoft.Extensions.Logging.Console, `SimpleConsoleFormatter`).
fn console_logger_level(text: &str) -> Option<Level> {
    let mut tokens = Tokens::new(text);
    let level = vocabulary::dotnet_level(tokens.next()?.text.strip_suffix(':')?)?;
    let category = tokens.next()?.text;
    (category.ends_with(']') && category.contains('[')).then_some(level)
}

/// Ruby's `Logger`: `E, [2026-12-02T10:00:00.000000 #8] ERROR -- progname: message`, where
/// Lambda's Ruby runtime writes the request id as the progname (ruby lib/logger/formatter.rb;
/// docs.aws.amazon.com/lambda, "Log and monitor Ruby Lambda functions"). Gives the level, the
/// request id and the message.
fn ruby_logger(message: &str) -> Option<(Level, Option<&str>, &str)> {
    let b = message.as_bytes();
    let &(_, level) = vocabulary::RUBY_SEVERITY_LETTERS
        .iter()
        .find(|(letter, _)| b.first() == Some(letter))?;
    let rest = message.get(1..)?.strip_prefix(", [")?;
    let (_, after_time) = first_line(rest).split_once("] ")?;
    let (_, after_dashes) = after_time.split_once(" -- ")?;
    let (progname, body) = after_dashes.split_once(':').unwrap_or(("", after_dashes));
    let id = Some(progname.trim()).filter(|p| is_request_id(p));
    // `body` is a part of `message`'s first line: the message goes on to the end of the event.
    let body_at = body.as_ptr() as usize - message.as_ptr() as usize;
    Some((level, id, message.get(body_at..)?))
}

/// Whether the text holds a runtime's unhandled-error record, `{"errorMessage": …,
/// "errorType": …}`, behind a text prefix: Ruby's "Error raised from handler method" followed by
/// the record (aws-lambda-ruby-runtime-interface-client, `LambdaLogger.log_error`), and older
/// Java and custom runtimes that print the record after their own words.
fn holds_error_record(text: &str) -> bool {
    // Built once: `memmem::find` builds its searcher on every call, and this runs for every
    // application line without a level.
    static RUBY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("Error raised from handler method"));
    static ERROR_TYPE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"errorType\""));
    if RUBY.find(text.as_bytes()).is_some() {
        return true;
    }
    let Some(at) = ERROR_TYPE.find(text.as_bytes()) else {
        return false;
    };
    // The object that holds the member: from the last `{` before it.
    let Some(open) = text.get(..at).and_then(|before| before.rfind('{')) else {
        return false;
    };
    let Some(record) = text.get(open..) else { return false };
    matches!(
        super::json_line::parse_json(record.trim_end()),
        Some((
            super::Line::App(AppLine {
                level: Some(Level::Error),
                ..
            }),
            _
        ))
    ) && record.contains("\"errorMessage\"")
}

/// Reads a plain-text application line: request id and level from its first few tokens. Gives
/// the line and its body, the text after the prefix that the signal scan reads
/// ([`super::AppLine::take_scan`]).
pub(super) fn parse_text_app(message: &str) -> (AppLine<'_>, &str) {
    if let Some((level, request_id, body)) = ruby_logger(message) {
        return finish(request_id, Some(level), body);
    }
    let mut request_id = None;
    let mut level = None;
    let mut level_open = true;
    let mut after_id = false;
    // Where the prefix of timestamps, request id and level ends: nothing to find before it, so
    // the signal scan starts there.
    let mut body = message;
    let mut in_prefix = true;
    for (i, token) in Tokens::new(message).take(6).enumerate() {
        let Token { text: token, rest } = token;
        if request_id.is_none() && is_request_id(token) {
            request_id = Some(token);
            after_id = true;
            if in_prefix {
                body = rest;
            }
            continue;
        }
        let mut prefix_like = !level_open && is_prefix_token(token);
        if level_open {
            if let Some(l) = level_token(token) {
                level = Some(l);
                level_open = false;
                prefix_like = true;
            } else if let Some(l) = after_id.then(|| vocabulary::dotnet_level(token)).flatten() {
                // The .NET runtime's level field, between the request id and the message; a
                // console logger's line logged through it carries its own level after it.
                level = Some(console_logger_level(rest).unwrap_or(l));
                level_open = false;
                prefix_like = true;
            } else if let Some(l) = token.strip_prefix("level=").or_else(|| token.strip_prefix("lvl=")) {
                level = Level::from_word(l.trim_matches('"'), true);
                level_open = false;
            } else if is_prefix_token(token)
                // Node.js writes `undefined` where the request id goes while its init runs.
                || token == "undefined"
                || (i == 0 && (token.starts_with("time=") || token.starts_with("ts=")))
                || (i > 0 && in_prefix && is_thread_token(token))
            {
                prefix_like = true;
            } else {
                level_open = false;
            }
        }
        after_id = false;
        in_prefix &= prefix_like;
        if in_prefix {
            body = rest;
        }
        if request_id.is_some() && !level_open {
            break;
        }
    }
    if level.is_none() {
        let first = first_line(message);
        if starts_like_a_crash(first) || holds_error_record(message) {
            level = Some(Level::Error);
        } else {
            level = console_logger_level(first);
        }
    }
    finish(request_id, level, body)
}

fn finish<'a>(request_id: Option<&'a str>, level: Option<Level>, body: &'a str) -> (AppLine<'a>, &'a str) {
    let line = AppLine {
        request_id,
        level,
        ..AppLine::default()
    };
    (line, body)
}

/// Lines that report a crash without a level word: Go panics, Rust panics, Python tracebacks,
/// uncaught Java exceptions.
fn starts_like_a_crash(first: &str) -> bool {
    first.starts_with("panic: ")
        || first.starts_with("fatal error: ")
        || first.starts_with("Traceback (most recent call last)")
        || first.starts_with("Exception in thread ")
        || (first.starts_with("thread '") && first.contains("panicked at"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_the_edge_case_table() {
        let cases: [(&str, &[&str]); 8] = [
            ("", &[]),
            ("\n", &[]),
            ("\n\n", &[]),
            (" \t ", &[]),
            ("a b", &["a", "b"]),
            ("a\tb\nc", &["a", "b"]),
            ("\u{e9} x", &["\u{e9}", "x"]),
            ("  [ERROR]\t2026\x01id ", &["[ERROR]", "2026", "id"]),
        ];
        for (text, tokens) in cases {
            let found: Vec<&str> = Tokens::new(text).map(|t| t.text).collect();
            assert_eq!(found, tokens, "{text:?}");
        }
        let last = Tokens::new("a bc\td").nth(1).unwrap();
        assert_eq!(last.rest, "\td", "the rest follows the token");
    }

    #[test]
    fn level_tokens_take_brackets_and_colons_off() {
        let cases = [
            ("[ERROR]", Some(Level::Error)),
            ("ERROR:", Some(Level::Error)),
            ("[[WARN]]:", Some(Level::Warn)),
            ("[", None),
            ("]:", None),
            ("", None),
            ("error", None),
        ];
        for (token, level) in cases {
            assert_eq!(level_token(token), level, "{token:?}");
        }
    }
}
