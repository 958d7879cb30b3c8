//! Plain-text application lines of every runtime: the tokenizer over a message's first line, and
//! the reading of its prefix (timestamps, request id, level) that leaves the body to the signal
//! scan.
//!
//! Contract: [`parse_text_app`] reads any text, the empty line and lines cut mid-character
//! included, and never panics; what it cannot find is `None`.

use super::bytes::{first_line, number_at, token_end};
use super::{AppLine, Level, is_request_id};
use crate::signals::scan_line;

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

/// `[ERROR]`, `ERROR:` and the like.
fn level_token(token: &str) -> Option<Level> {
    let word = token.trim_start_matches('[').trim_end_matches([']', ':']);
    Level::from_word(word, false)
}

/// Reads a plain-text application line: request id and level from its first few tokens.
pub(super) fn parse_text_app(message: &str) -> AppLine<'_> {
    let mut request_id = None;
    let mut level = None;
    let mut level_open = true;
    // Where the prefix of timestamps, request id and level ends: nothing to find before it, so
    // the signal scan starts there.
    let mut body = message;
    let mut in_prefix = true;
    for (i, token) in Tokens::new(message).take(6).enumerate() {
        let Token { text: token, rest } = token;
        if request_id.is_none() && is_request_id(token) {
            request_id = Some(token);
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
            } else if let Some(l) = token.strip_prefix("level=").or_else(|| token.strip_prefix("lvl=")) {
                level = Level::from_word(l.trim_matches('"'), true);
                level_open = false;
            } else if is_prefix_token(token) || (i == 0 && (token.starts_with("time=") || token.starts_with("ts="))) {
                prefix_like = true;
            } else {
                level_open = false;
            }
        }
        in_prefix &= prefix_like;
        if in_prefix {
            body = rest;
        }
        if request_id.is_some() && !level_open {
            break;
        }
    }
    if level.is_none() && starts_like_a_crash(first_line(message)) {
        level = Some(Level::Error);
    }
    let found = scan_line(body);
    AppLine {
        request_id,
        level,
        signals: found.signals,
        timed_out_after: number_at(body, found.timed_out_after_at),
        chunk_size: number_at(body, found.chunk_size_at),
    }
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
