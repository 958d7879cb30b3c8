//! Failure signals in free text: rate limiting, connection caps, connection failures, running
//! out of memory, a runtime that exited. One Aho-Corasick pass per line finds every phrase of
//! [`crate::vocabulary`], ignoring ASCII case (then each match keeps its phrase's case rule and
//! guard), so the cost does not grow with the number of phrases.

use std::cell::RefCell;
use std::sync::LazyLock;

use crate::vocabulary::{self, Case, Guard, Phrase};

/// One kind of signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Signal {
    /// A third-party or AWS API refused for rate.
    RateLimited = 1,
    /// A database refused a connection because it has too many.
    TooManyConnections = 2,
    /// A connection failed (refused, reset, timed out).
    ConnectionError = 4,
    /// The process ran out of memory.
    OutOfMemory = 8,
    /// The runtime process exited (`Runtime exited with error`).
    RuntimeExited = 16,
}

/// A set of signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals(u8);

/// What one pass over a line found: its signals, and where the two phrases that carry a number
/// (`Task timed out after N seconds`, `chunk_size=N`) end, so the number can be read there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scan {
    /// The failure signals.
    pub signals: Signals,
    /// Byte offset just past `Task timed out after `, if present.
    pub timed_out_after_at: Option<usize>,
    /// Byte offset just past `chunk_size=`, if present.
    pub chunk_size_at: Option<usize>,
}

impl Signals {
    /// Whether the set holds `signal`.
    pub fn has(self, signal: Signal) -> bool {
        self.0 & signal as u8 != 0
    }

    /// Adds a signal.
    pub fn insert(&mut self, signal: Signal) {
        self.0 |= signal as u8;
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Phrases that carry a number right after them.
const NUMBERED: &[(&str, Found)] = &[
    ("task timed out after ", Found::TimedOutAfter),
    ("chunk_size=", Found::ChunkSize),
];

/// What a phrase in the table stands for.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// The phrase of [`vocabulary::PHRASES`] at this index.
    Phrase(usize),
    TimedOutAfter,
    ChunkSize,
}

/// The searched patterns, lower case: every phrase of the vocabulary (an exact phrase once per
/// distinct spelling), then the numbered phrases.
static TABLE: LazyLock<Vec<(String, Found)>> = LazyLock::new(|| {
    let mut table: Vec<(String, Found)> = Vec::new();
    for (i, phrase) in vocabulary::PHRASES.iter().enumerate() {
        let spellings: &[&str] = match phrase.case {
            Case::Any => &phrase.spellings[..1],
            Case::Exact => phrase.spellings,
        };
        for spelling in spellings {
            let lowered = spelling.to_ascii_lowercase();
            if !table.iter().any(|(p, _)| *p == lowered) {
                table.push((lowered, Found::Phrase(i)));
            }
        }
    }
    table.extend(NUMBERED.iter().map(|&(p, f)| (p.to_string(), f)));
    table
});

/// The searcher: aho-corasick's packed (Teddy, SIMD) searcher on its own where the CPU has it
/// (for a few dozen phrases and lines of a few hundred bytes it needs no automaton behind it,
/// and calling it directly saves that layer on every line), else a full automaton. Both find
/// the same leftmost-first matches: zero false negatives either way.
enum Matcher {
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
}

impl Matcher {
    fn find_at(&self, haystack: &[u8], at: usize) -> Option<(usize, usize, usize)> {
        match self {
            Matcher::Packed(s) => s
                .find_in(haystack, aho_corasick::Span::from(at..haystack.len()))
                .map(|m| (m.pattern().as_usize(), m.start(), m.end())),
            Matcher::Automaton(a) => a
                .find(aho_corasick::Input::new(haystack).range(at..))
                .map(|m| (m.pattern().as_usize(), m.start(), m.end())),
        }
    }
}

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    let packed = aho_corasick::packed::Config::new()
        .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
        .heuristic_pattern_limits(false)
        .builder()
        .extend(TABLE.iter().map(|(p, _)| p))
        .build();
    match packed {
        Some(searcher) => Matcher::Packed(searcher),
        None => Matcher::Automaton(
            aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(TABLE.iter().map(|(p, _)| p))
                .expect("the built-in phrases compile"),
        ),
    }
});

thread_local! {
    static LOWERED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with `text` ASCII-lower-cased, in a buffer reused from line to line (byte offsets
/// are those of `text`). The vocabulary scan and the rules' prefilter both search it.
pub fn with_lowered<R>(text: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    LOWERED.with(|buffer| {
        // A caller inside another's `f` gets a buffer of its own rather than a panic.
        let mut own = Vec::new();
        let mut borrowed = buffer.try_borrow_mut();
        let lowered = match borrowed.as_deref_mut() {
            Ok(shared) => shared,
            Err(_) => &mut own,
        };
        lowered.clear();
        lowered.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
        f(lowered)
    })
}

/// Every signal the text mentions, ignoring ASCII case.
pub fn scan(text: &str) -> Signals {
    scan_line(text).signals
}

/// Whether a match of `phrase` at `start..end` of `original` keeps its case rule and its guard.
fn holds(phrase: &Phrase, original: &[u8], start: usize, end: usize) -> bool {
    let word = |b: Option<&u8>| b.is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
    let guarded = match phrase.guard {
        Guard::None => true,
        Guard::Word => !word(start.checked_sub(1).and_then(|i| original.get(i))) && !word(original.get(end)),
    };
    guarded
        && match phrase.case {
            Case::Any => true,
            Case::Exact => original
                .get(start..end)
                .is_some_and(|m| phrase.spellings.iter().any(|s| s.as_bytes() == m)),
        }
}

/// One pass over a line: its signals and where its numbered phrases end, ignoring ASCII case
/// except where a phrase's case rule says otherwise.
///
/// The text is lower-cased into a reused buffer and searched case-sensitively: that lets the
/// phrases be found by aho-corasick's packed (Teddy, SIMD) searcher alone, several times faster
/// than a case-insensitive automaton, which has to walk every byte. Lower-casing ASCII keeps byte
/// offsets, so positions found in the copy hold in the original, where case rules and guards are
/// checked. A match that fails them is skipped by one byte, not by its length, so a phrase that
/// starts inside it is still found.
pub fn scan_line(text: &str) -> Scan {
    with_lowered(text, |lowered| {
        let original = text.as_bytes();
        let mut found = Scan::default();
        let mut at = 0;
        // Every non-overlapping match, so that "Rate exceeded" and "Too many connections" in one
        // line both count.
        while let Some((pattern, start, end)) = MATCHER.find_at(lowered, at) {
            match TABLE[pattern].1 {
                Found::Phrase(i) => {
                    let phrase = &vocabulary::PHRASES[i];
                    if !holds(phrase, original, start, end) {
                        at = start + 1;
                        continue;
                    }
                    for &signal in phrase.signals {
                        found.signals.insert(signal);
                    }
                }
                Found::TimedOutAfter => {
                    found.timed_out_after_at.get_or_insert(end);
                }
                Found::ChunkSize => {
                    found.chunk_size_at.get_or_insert(end);
                }
            }
            at = end;
        }
        found
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_documented_wording_raises_its_signal() {
        let cases = [
            (
                "Request failed: API Rate Limit Exceeded (retry-after 30)",
                Signal::RateLimited,
            ),
            (
                "An error occurred (ThrottlingException) when calling the PutMetricData operation: Rate exceeded",
                Signal::RateLimited,
            ),
            ("TooManyRequestsException: Rate exceeded", Signal::RateLimited),
            ("got HTTP 429 from api.example.com", Signal::RateLimited),
            ("429 Too Many Requests", Signal::RateLimited),
            (
                "An error occurred (SlowDown) when calling the PutObject operation: Please reduce your request rate.",
                Signal::RateLimited,
            ),
            ("RequestLimitExceeded: Request limit exceeded.", Signal::RateLimited),
            (
                "ProvisionedThroughputExceededException: The level of configured provisioned throughput",
                Signal::RateLimited,
            ),
            (
                "Error: ER_CON_COUNT_ERROR: Too many connections",
                Signal::TooManyConnections,
            ),
            ("FATAL: sorry, too many clients already", Signal::TooManyConnections),
            (
                "FATAL: remaining connection slots are reserved for non-replication superuser connections",
                Signal::TooManyConnections,
            ),
            ("connect ECONNREFUSED 10.0.3.7:3306", Signal::ConnectionError),
            ("read ECONNRESET", Signal::ConnectionError),
            ("connect ETIMEDOUT 10.0.0.1:443", Signal::ConnectionError),
            (
                "dial tcp 10.0.4.9:5432: connect: connection refused",
                Signal::ConnectionError,
            ),
            ("[Errno 104] Connection reset by peer", Signal::ConnectionError),
            (
                "could not connect to server: Connection refused",
                Signal::ConnectionError,
            ),
            ("Runtime.OutOfMemory", Signal::OutOfMemory),
            ("java.lang.OutOfMemoryError: Java heap space", Signal::OutOfMemory),
            (
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                Signal::OutOfMemory,
            ),
            ("fatal error: runtime: out of memory", Signal::OutOfMemory),
            ("[ERROR] MemoryError", Signal::OutOfMemory),
            ("failed to allocate memory (NoMemoryError)", Signal::OutOfMemory),
            ("Error: Runtime exited with error: signal: killed", Signal::OutOfMemory),
            ("memory allocation of 1073741824 bytes failed", Signal::OutOfMemory),
            ("Error: Runtime exited with error: exit status 1", Signal::RuntimeExited),
        ];
        for (text, signal) in cases {
            assert!(scan(text).has(signal), "{text:?} should raise {signal:?}");
        }
    }

    #[test]
    fn ordinary_lines_raise_nothing() {
        for text in [
            "processed chunk_size=50 items",
            "connected to db in 12 ms",
            "rate: 200 req/s",
            "memory: 120 MB",
            "",
        ] {
            assert!(scan(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn numbered_phrases_are_located_in_the_original_text() {
        let line = "2024-03-04T17:22:38.033Z id Task timed out after 3.00 seconds; CHUNK_SIZE=7";
        let found = scan_line(line);
        assert_eq!(&line[found.timed_out_after_at.unwrap()..][..4], "3.00");
        assert_eq!(&line[found.chunk_size_at.unwrap()..], "7");
        assert_eq!(scan_line("nothing here"), Scan::default());
    }

    #[test]
    fn guards_and_case_rules_follow_the_edge_case_table() {
        let cases: [(&str, Option<Signal>); 10] = [
            ("", None),
            ("429", None),
            ("status 429", Some(Signal::RateLimited)),
            ("status 42", None),
            ("status 4290", None),
            // A guarded match that fails does not hide a phrase that starts inside it.
            ("429 TooManyRequestsException", Some(Signal::RateLimited)),
            ("ECONNRESET", Some(Signal::ConnectionError)),
            ("econnreset", None),
            ("xECONNRESET", None),
            ("MemoryError", Some(Signal::OutOfMemory)),
        ];
        for (text, signal) in cases {
            let found = scan(text);
            match signal {
                Some(signal) => assert!(found.has(signal), "{text:?} should raise {signal:?}"),
                None => assert!(found.is_empty(), "{text:?} raised {found:?}"),
            }
        }
    }

    #[test]
    fn one_line_can_raise_several_signals() {
        let s = scan("ER_CON_COUNT_ERROR: Too many connections; then Rate exceeded");
        assert!(s.has(Signal::TooManyConnections) && s.has(Signal::RateLimited));
        assert!(!s.has(Signal::OutOfMemory));
    }
}
