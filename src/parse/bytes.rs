//! Byte primitives under the parsers: searches for the first byte of a kind, eight bytes at a
//! time, and small numbers read without `f64`'s parser.
//!
//! Every search takes a start (`from`) and gives a position inside the slice or `None`; a start
//! at or past the end is not an error, it finds nothing. No function here indexes: words are
//! taken with `get`, so no input and no start can make one panic.
//!
//! Why by hand: the members, tokens and values searched are short (a request id, a level, a
//! timestamp), shorter than it takes a SIMD search (`memchr`) to pay for its setup; a byte loop
//! was the parser's largest cost. The word trick stops paying on long runs without a hit (a
//! multi-kilobyte message), where `memchr` would win; the parsers only search those for `\n`,
//! with `memchr`.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Flags (in its high bit) each byte of `x` that is below `n` (`n` at most 128).
///
/// Contract: the lowest flagged byte is exact (no false positive, no false negative below it);
/// bytes above it can be flagged by a borrow, so callers use only the lowest flag.
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// Flags (in its high bit) each byte of `x` equal to `c`; as with [`bytes_below`], only the
/// lowest flag is exact.
fn bytes_equal(x: u64, c: u8) -> u64 {
    bytes_below(x ^ (ONES * u64::from(c)), 1)
}

/// The first byte at or after `from` that `is_hit`, looked for eight bytes at a time with
/// `flag_word`, which must flag such bytes of a word as [`bytes_below`] does (lowest flag exact).
fn first_hit(b: &[u8], from: usize, flag_word: impl Fn(u64) -> u64, is_hit: impl Fn(u8) -> bool) -> Option<usize> {
    let mut j = from;
    while let Some(word) = b.get(j..j.saturating_add(8)).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let hits = flag_word(u64::from_le_bytes(word));
        if hits != 0 {
            return Some(j + hits.trailing_zeros() as usize / 8);
        }
        j += 8;
    }
    b.get(j..)?.iter().position(|&c| is_hit(c)).map(|k| j + k)
}

/// Where the token that starts at `from` ends: at the first space or control byte (a tab, the
/// end of the line), or at the end of the text: at least `from` and at most `b.len()`, and a
/// `from` past the end gives `b.len()`.
///
/// | `b`          | `from` | end |
/// |--------------|--------|-----|
/// | `""`         | 0      | 0   |
/// | `"abc"`      | 0      | 3   |
/// | `"ab cd"`    | 0      | 2   |
/// | `"ab\tcd"`   | 3      | 5   |
/// | `" x"`       | 0      | 0   |
/// | `"ab"`       | 9      | 2   |
pub(super) fn token_end(b: &[u8], from: usize) -> usize {
    first_hit(b, from, |x| bytes_below(x, b' ' + 1), |c| c <= b' ').unwrap_or(b.len())
}

/// The first `"` or `\` at or after `from`: two words at a time, where keys and short values
/// end, then `memchr`'s SIMD search, for the message strings that run on.
pub(super) fn quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    let head_end = from.saturating_add(16).min(b.len());
    let head = first_hit(
        b.get(..head_end)?,
        from,
        |x| bytes_equal(x, b'"') | bytes_equal(x, b'\\'),
        |c| matches!(c, b'"' | b'\\'),
    );
    head.or_else(|| memchr::memchr2(b'"', b'\\', b.get(head_end..)?).map(|k| head_end + k))
}

/// The first `"`, `{`, `[`, `}` or `]` at or after `from`. Setting bit 5 folds `[` into `{` and
/// `]` into `}`, and no other byte into either.
pub(super) fn structural(b: &[u8], from: usize) -> Option<usize> {
    let folded = |x: u64| x | (ONES * 0x20);
    first_hit(
        b,
        from,
        |x| bytes_equal(x, b'"') | bytes_equal(folded(x), b'{') | bytes_equal(folded(x), b'}'),
        |c| matches!(c, b'"' | b'{' | b'[' | b'}' | b']'),
    )
}

/// `digits` as a number, if they are 1 to 15 ASCII digits: few enough to be exact in an `f64`
/// (and never to overflow a `u64`), and quicker to add up than to hand to `f64`'s parser.
pub(super) fn whole_number(digits: &[u8]) -> Option<f64> {
    ((1..=15).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit))
        .then(|| digits.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')) as f64)
}

/// The number written at byte `at` of `text` (digits and a decimal point, `50`, `3.00`, `.5`),
/// if there is one; `None` for an `at` past the end or off a char boundary.
///
/// | `text`           | `at` | number  |
/// |------------------|------|---------|
/// | `""`             | 0    | `None`  |
/// | `"50 items"`     | 0    | 50      |
/// | `"3.00 seconds"` | 0    | 3       |
/// | `"50. Done"`     | 0    | 50      |
/// | `"x50"`          | 0    | `None`  |
/// | `"short"`        | 40   | `None`  |
pub(super) fn number_at(text: &str, at: Option<usize>) -> Option<f64> {
    let rest = text.get(at?..)?;
    let b = rest.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    // Whole numbers (chunk sizes, mostly) are read directly.
    if b.get(digits) != Some(&b'.')
        && let Some(n) = b.get(..digits).and_then(whole_number)
    {
        return Some(n);
    }
    let end = b
        .iter()
        .position(|&c| !(c.is_ascii_digit() || c == b'.'))
        .unwrap_or(b.len());
    rest.get(..end)?.trim_end_matches('.').parse().ok()
}

/// The text up to its first `\n` (all of it if there is none).
pub(super) fn first_line(s: &str) -> &str {
    // `\n` is ASCII, so the cut is a char boundary.
    memchr::memchr(b'\n', s.as_bytes())
        .and_then(|end| s.get(..end))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every start from 0 to past the end, against the obvious byte loop.
    fn agrees_with_a_byte_loop(
        name: &str,
        search: impl Fn(&[u8], usize) -> Option<usize>,
        is_hit: impl Fn(u8) -> bool,
    ) {
        let texts: [&[u8]; 10] = [
            b"",
            b"\"",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefghi\"",
            b"ab{cd[ef]gh}ij\"kl\\mn op\tq\n",
            "caf\u{e9} \u{2603}\"\\{[".as_bytes(),
            b"\xff\xfe\x80\x7f\"\x00 \x1f\x20",
            b"0123456789abcdef0123456789abcdef\\",
            b"fetched page 3 of account 1234 with 50 items in 123 ms chunk_size=50 and a long tail\"}",
        ];
        for text in texts {
            for from in 0..=text.len() + 9 {
                let expected = text
                    .get(from..)
                    .and_then(|rest| rest.iter().position(|&c| is_hit(c)))
                    .map(|k| from + k);
                assert_eq!(search(text, from), expected, "{name} in {text:?} from {from}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn a_string_ends_at_the_first_quote_or_backslash_wherever_the_two_searches_meet(
            text in proptest::collection::vec(proptest::prop_oneof![20 => proptest::strategy::Just(b'a'), 2 => proptest::strategy::Just(0xff), 1 => proptest::strategy::Just(b'"'), 1 => proptest::strategy::Just(b'\\')], 0..80),
            from in 0..90usize,
        ) {
            let expected = text
                .get(from..)
                .and_then(|rest| rest.iter().position(|&c| matches!(c, b'"' | b'\\')))
                .map(|k| from + k);
            proptest::prop_assert_eq!(quote_or_backslash(&text, from), expected, "{:?} from {}", text, from);
        }
    }

    #[test]
    fn searches_find_the_first_hit_from_any_start_and_nothing_past_the_end() {
        agrees_with_a_byte_loop("quote_or_backslash", quote_or_backslash, |c| matches!(c, b'"' | b'\\'));
        agrees_with_a_byte_loop("structural", structural, |c| {
            matches!(c, b'"' | b'{' | b'[' | b'}' | b']')
        });
        // token_end gives the end of the text where the loop finds nothing.
        agrees_with_a_byte_loop(
            "token_end",
            |b, from| Some(token_end(b, from)).filter(|&end| end < b.len()),
            |c| c <= b' ',
        );
    }

    #[test]
    fn token_ends_follow_the_table() {
        let cases: [(&[u8], usize, usize); 7] = [
            (b"", 0, 0),
            (b"abc", 0, 3),
            (b"ab cd", 0, 2),
            (b"ab\tcd", 3, 5),
            (b" x", 0, 0),
            (b"ab", 9, 2),
            (b"abcdefghijklmnopq r", 2, 17),
        ];
        for (text, from, end) in cases {
            assert_eq!(token_end(text, from), end, "{text:?} from {from}");
        }
    }

    #[test]
    fn whole_numbers_are_one_to_fifteen_digits() {
        let cases: [(&[u8], Option<f64>); 7] = [
            (b"", None),
            (b"0", Some(0.0)),
            (b"512", Some(512.0)),
            (b"999999999999999", Some(999_999_999_999_999.0)),
            (b"9999999999999999", None),
            (b"12a", None),
            (b"-1", None),
        ];
        for (digits, n) in cases {
            assert_eq!(whole_number(digits), n, "{digits:?}");
        }
    }

    #[test]
    fn numbers_after_a_phrase_are_read_whole_or_decimal() {
        let cases = [
            ("50 items", 0, Some(50.0)),
            ("50", 0, Some(50.0)),
            ("3.00 seconds", 0, Some(3.0)),
            ("50. Done", 0, Some(50.0)),
            (".5", 0, Some(0.5)),
            ("123456789012345678", 0, Some(123_456_789_012_345_678.0)),
            ("", 0, None),
            ("x50", 0, None),
            (".", 0, None),
            ("chunk_size=7", 11, Some(7.0)),
            ("short", 40, None),
            ("caf\u{e9}", 4, None),
        ];
        for (text, at, number) in cases {
            assert_eq!(number_at(text, Some(at)), number, "{text:?} at {at}");
        }
        assert_eq!(number_at("50", None), None);
    }

    #[test]
    fn first_lines_stop_at_the_first_newline() {
        for (text, first) in [
            ("", ""),
            ("\n", ""),
            ("\n\n", ""),
            ("a\nb", "a"),
            ("ab", "ab"),
            ("a\r\nb", "a\r"),
        ] {
            assert_eq!(first_line(text), first, "{text:?}");
        }
    }
}
