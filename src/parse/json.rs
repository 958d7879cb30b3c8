//! The JSON scanner: the members of one object, in order, each a key and its raw value, with
//! nested objects and arrays skipped whole. Values are read only when asked for, through typed
//! accessors on [`Raw`].
//!
//! Contract: [`Members`] yields `Ok` members while the object is well-formed, then ends with
//! `None` at its closing brace, or yields one `Err` at the first fault and ends. No input makes
//! it panic, read past the text or loop: every step moves forward, and every byte is read with
//! `get`. Callers get slices and [`Span`]s, never indices. What follows the closing brace is not
//! looked at (a log line may carry a trailing newline or more).
//!
//! It is not a validator: it finds where each value ends (strings by their closing quote,
//! objects and arrays by balancing brackets outside strings, scalars by the next delimiter), not
//! whether `[1, }` or `tru` are JSON. Lenient on purpose: a value nobody reads need not be
//! checked, and the values that are read are checked by their accessor.
//!
//! | object text               | members                             |
//! |---------------------------|-------------------------------------|
//! | `""`                      | `Err` from [`Members::of`]          |
//! | `"{"`                     | `Err(EndOfText)`                    |
//! | `"{}"`, `" { } x"`        | none                                |
//! | `"{\"a\":1}"`             | `a` = `1`                           |
//! | `"{\"a\":"`, `"{\"a\": "` | `Err(EndOfText)`                    |
//! | `"{\"a\":1,}"`            | `a` = `1`, then `Err(Unexpected)`   |
//! | `"{\"a\" 1}"`             | `Err(Unexpected)`                   |
//! | `"{\"a\":\"x\\\"}"`       | `Err(EndOfText)` (escaped quote)    |
//! | `"[1]"`                   | `Err` from [`Members::of`]          |
//!
//! Speed: application lines are most of a JSON-format log group, and building a serde struct
//! for each one cost more than everything else done to the line; this scanner jumps from quote
//! to quote ([`super::bytes`]) and allocates nothing. `benches/pipeline.rs` measures it.

use std::borrow::Cow;

use super::bytes::{quote_or_backslash, structural, whole_number};

/// Why an object could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum JsonError {
    /// The text ends before the object does.
    #[error("the text ends where {expected} was expected")]
    EndOfText {
        /// What was expected next.
        expected: &'static str,
    },
    /// A byte that cannot stand where it does.
    #[error("found {found:?} where {expected} was expected")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: char,
    },
}

/// Where a member stands in its object's text; joined with [`Span::to`] and read back with
/// [`Members::text_of`], so callers never handle the positions themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// From the start of `self` to the end of `later`.
    pub(super) fn to(self, later: Span) -> Span {
        Span {
            start: self.start,
            end: later.end.max(self.start),
        }
    }
}

/// A raw JSON value as it stands in the text: a string with its quotes, a number, a literal, or
/// a whole nested object or array. Never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    /// The value's text, as written.
    pub(super) fn text(self) -> &'a str {
        self.0
    }

    /// A string value without escapes, as it stands; `None` for other values and for strings
    /// with escapes. Only short members are read this way, so a long message is never searched
    /// for escapes.
    pub(super) fn plain_str(self) -> Option<&'a str> {
        self.0
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .filter(|t| !t.contains('\\'))
    }

    /// A string value, unescaped if it has to be (then allocated); `None` for other values and
    /// for strings whose escapes are not JSON (a lone surrogate `\udcff`, `\x`).
    pub(super) fn string(self) -> Option<Cow<'a, str>> {
        match self.plain_str() {
            Some(text) => Some(Cow::Borrowed(text)),
            None if self.0.starts_with('"') => serde_json::from_str::<String>(self.0).ok().map(Cow::Owned),
            None => None,
        }
    }

    /// A number value: whole numbers of up to 15 digits directly (exact), others through
    /// `f64`'s parser. `None` for other values, quoted numbers included.
    pub(super) fn number(self) -> Option<f64> {
        whole_number(self.0.as_bytes()).or_else(|| self.0.parse().ok())
    }

    /// Whether the value is an object.
    pub(super) fn is_object(self) -> bool {
        self.0.starts_with('{')
    }

    /// The members of an object value (an `Err` for other values).
    pub(super) fn members(self) -> Result<Members<'a>, JsonError> {
        Members::of(self.0)
    }
}

/// One member of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Member<'a> {
    /// The key as written between its quotes (escapes are not decoded: no key read here has
    /// any).
    pub(super) key: &'a str,
    /// The value.
    pub(super) value: Raw<'a>,
    span: Span,
}

impl Member<'_> {
    /// Where the member stands, key to value.
    pub(super) fn span(&self) -> Span {
        self.span
    }
}

/// The members of an object, in order (see the module's contract).
#[derive(Debug, Clone)]
pub(super) struct Members<'a> {
    text: &'a str,
    /// The next byte to read.
    at: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Just past the opening brace.
    First,
    /// Just past a member's value.
    Rest,
    /// Past the closing brace, or failed.
    Done,
}

impl<'a> Members<'a> {
    /// The members of the object that `text` starts with (after whitespace).
    pub(super) fn of(text: &'a str) -> Result<Members<'a>, JsonError> {
        let b = text.as_bytes();
        let at = skip_ws(b, 0);
        match b.get(at) {
            Some(b'{') => Ok(Members {
                text,
                at: at + 1,
                state: State::First,
            }),
            _ => Err(fault(text, at, "`{`")),
        }
    }

    /// The text a span covers (empty if the span is not from this object's text).
    pub(super) fn text_of(&self, span: Span) -> &'a str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    fn next_member(&mut self) -> Result<Option<Member<'a>>, JsonError> {
        let b = self.text.as_bytes();
        let mut i = skip_ws(b, self.at);
        match (self.state, b.get(i)) {
            (State::Done, _) => return Ok(None),
            (State::First | State::Rest, Some(b'}')) => {
                self.at = i + 1;
                self.state = State::Done;
                return Ok(None);
            }
            (State::First, _) => {}
            (State::Rest, Some(b',')) => i = skip_ws(b, i + 1),
            (State::Rest, _) => return Err(fault(self.text, i, "`,` or `}`")),
        }
        if b.get(i) != Some(&b'"') {
            return Err(fault(self.text, i, "a member's key"));
        }
        let key_start = i;
        let key_end = string_end(b, i).ok_or(JsonError::EndOfText {
            expected: "the end of a key",
        })?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return Err(fault(self.text, i, "`:`"));
        }
        let value_start = skip_ws(b, i + 1);
        // Most values are strings: their end is found here, without the call that dispatches on
        // the kind of value.
        let value_end = match b.get(value_start) {
            Some(b'"') => string_end(b, value_start).ok_or(JsonError::EndOfText {
                expected: "the end of a string",
            })?,
            _ => value_end(self.text, value_start)?,
        };
        // The cuts are at ASCII quotes and delimiters, so they are char boundaries; `get` keeps
        // even a broken invariant from panicking.
        let key = self.text.get(key_start + 1..key_end - 1);
        let value = self.text.get(value_start..value_end);
        let (Some(key), Some(value)) = (key, value) else {
            return Err(fault(self.text, key_start, "a member"));
        };
        self.at = value_end;
        self.state = State::Rest;
        Ok(Some(Member {
            key,
            value: Raw(value),
            span: Span {
                start: key_start,
                end: value_end,
            },
        }))
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<Member<'a>, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        let member = self.next_member();
        if member.is_err() {
            self.state = State::Done;
        }
        member.transpose()
    }
}

/// The error for the byte at `at`: the end of the text, or what stands there.
fn fault(text: &str, at: usize, expected: &'static str) -> JsonError {
    match text.get(at..).and_then(|rest| rest.chars().next()) {
        Some(found) => JsonError::Unexpected { expected, found },
        None => JsonError::EndOfText { expected },
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Index just past the string whose opening quote is at `i`, or `None` if it is not closed.
#[inline]
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j = quote_or_backslash(b, j)?;
        if b.get(j) == Some(&b'\\') {
            // Skips the escaped byte, whatever it is; past the end, the search finds nothing.
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

/// Index just past the value that starts at `i`; nested objects and arrays are skipped whole.
/// The value is never empty.
fn value_end(text: &str, i: usize) -> Result<usize, JsonError> {
    let b = text.as_bytes();
    match b.get(i) {
        None => Err(JsonError::EndOfText { expected: "a value" }),
        Some(b'"') => string_end(b, i).ok_or(JsonError::EndOfText {
            expected: "the end of a string",
        }),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                j = structural(b, j).ok_or(JsonError::EndOfText {
                    expected: "the end of an object or array",
                })?;
                match b.get(j) {
                    Some(b'"') => {
                        j = string_end(b, j).ok_or(JsonError::EndOfText {
                            expected: "the end of a string",
                        })?;
                        continue;
                    }
                    Some(b'{' | b'[') => depth += 1,
                    _ => {
                        // The first hit is the opening bracket at `i`, so a closing one always
                        // has an opening one before it.
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                }
                j += 1;
            }
        }
        Some(_) => {
            let len = b
                .get(i..)
                .and_then(|rest| {
                    rest.iter()
                        .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                })
                .ok_or(JsonError::EndOfText {
                    expected: "the end of a value",
                })?;
            if len == 0 {
                return Err(fault(text, i, "a value"));
            }
            Ok(i + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The members of `text` as (key, raw value) pairs, and how the walk ended.
    fn walk(text: &str) -> (Vec<(&str, &str)>, Result<(), JsonError>) {
        let mut members = match Members::of(text) {
            Ok(members) => members,
            Err(err) => return (Vec::new(), Err(err)),
        };
        let mut seen = Vec::new();
        for member in members.by_ref() {
            match member {
                Ok(m) => seen.push((m.key, m.value.text())),
                Err(err) => return (seen, Err(err)),
            }
        }
        assert_eq!(members.next(), None, "{text}: ended, stays ended");
        (seen, Ok(()))
    }

    #[test]
    fn members_follow_the_edge_case_table() {
        let end = |expected| Err(JsonError::EndOfText { expected });
        let unexpected = |expected, found| Err(JsonError::Unexpected { expected, found });
        type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Result<(), JsonError>);
        let cases: Vec<Case> = vec![
            ("", vec![], end("`{`")),
            ("   ", vec![], end("`{`")),
            ("[1]", vec![], unexpected("`{`", '[')),
            ("{", vec![], end("a member's key")),
            ("{}", vec![], Ok(())),
            (" { } x", vec![], Ok(())),
            ("{\"a\":1}", vec![("a", "1")], Ok(())),
            (
                "{ \"a\" : 1 , \"b\" : \"x\" }\n",
                vec![("a", "1"), ("b", "\"x\"")],
                Ok(()),
            ),
            ("{\"a\":", vec![], end("a value")),
            ("{\"a\": ", vec![], end("a value")),
            ("{ \"record\":", vec![], end("a value")),
            ("{\"a\":1", vec![], end("the end of a value")),
            ("{\"a\":1,", vec![("a", "1")], end("a member's key")),
            ("{\"a\":1,}", vec![("a", "1")], unexpected("a member's key", '}')),
            ("{\"a\" 1}", vec![], unexpected("`:`", '1')),
            ("{\"a\":,}", vec![], unexpected("a value", ',')),
            ("{\"a\":1 \"b\":2}", vec![("a", "1")], unexpected("`,` or `}`", '"')),
            ("{\"a\":\"x\\\"}", vec![], end("the end of a string")),
            ("{\"a\":\"x\\", vec![], end("the end of a string")),
            ("{\"a", vec![], end("the end of a key")),
            ("{\"a\":{\"b\":", vec![], end("the end of an object or array")),
            (
                "{\"a\":[1, {\"b\": \"]}\"}], \"c\":true}",
                vec![("a", "[1, {\"b\": \"]}\"}]"), ("c", "true")],
                Ok(()),
            ),
            ("{\"a\": [1, 2}", vec![("a", "[1, 2}")], end("`,` or `}`")),
            (
                "{\"caf\u{e9}\":\"\u{2603}\"}",
                vec![("caf\u{e9}", "\"\u{2603}\"")],
                Ok(()),
            ),
            ("{\"a\":1}\u{e9}", vec![("a", "1")], Ok(())),
            ("{\"a\":1\u{e9}}", vec![("a", "1\u{e9}")], Ok(())),
        ];
        for (text, members, ending) in cases {
            assert_eq!(walk(text), (members, ending), "{text:?}");
        }
    }

    #[test]
    fn every_prefix_of_an_object_is_read_without_a_panic() {
        let line = r#"{"time":"2026-11-29T10:00:00.000Z","type":"platform.report","record":{"requestId":"b70435cc","metrics":{"durationMs":30000.0,"x":[1,"}",{"y":"\"]"}]},"status":"timeout"}}"#;
        for cut in 0..=line.len() {
            let (_, ending) = walk(&line[..cut]);
            assert_eq!(ending.is_ok(), cut == line.len(), "{}", &line[..cut]);
        }
    }

    #[test]
    fn raw_values_are_read_by_their_accessors() {
        let raw = |text| Raw(text);
        assert_eq!(raw("\"ERROR\"").plain_str(), Some("ERROR"));
        assert_eq!(raw("\"a\\\"b\"").plain_str(), None);
        assert_eq!(raw("\"a\\\"b\"").string().as_deref(), Some("a\"b"));
        assert_eq!(raw("\"time\\u006fut\"").string().as_deref(), Some("timeout"));
        assert_eq!(raw("\"\\udcff\"").string(), None, "a lone surrogate is no string");
        assert_eq!(raw("12").string(), None);
        assert_eq!(
            raw("{\"a\":1}").members().map(|mut m| m.next()),
            Ok(Some(Ok(Member {
                key: "a",
                value: Raw("1"),
                span: Span { start: 1, end: 6 },
            })))
        );
        assert!(raw("[1]").members().is_err());
        assert!(raw("{}").is_object() && !raw("[]").is_object());
    }

    #[test]
    fn json_numbers_are_read_whole_decimal_or_exponent() {
        let cases = [
            ("512", Some(512.0)),
            ("12345.6", Some(12345.6)),
            ("-1.5e3", Some(-1500.0)),
            ("1234567890123456789", Some(1_234_567_890_123_456_789.0)),
            ("\"512\"", None),
            ("null", None),
        ];
        for (raw, number) in cases {
            assert_eq!(Raw(raw).number(), number, "{raw}");
        }
    }

    #[test]
    fn spans_join_members_and_read_back_their_text() {
        let text = r#"{"a":1, "b":"x", "c":[2]}"#;
        let mut members = Members::of(text).unwrap();
        let a = members.next().unwrap().unwrap().span();
        let _ = members.next();
        let c = members.next().unwrap().unwrap().span();
        assert_eq!(members.text_of(a), r#""a":1"#);
        assert_eq!(members.text_of(a.to(c)), r#""a":1, "b":"x", "c":[2]"#);
        assert_eq!(members.text_of(c.to(a)), "", "backwards spans are empty");
    }
}
