//! Failure signals in free text: rate limiting, connection caps, connection failures, running
//! out of memory, a runtime that exited. One Aho-Corasick pass per line finds every phrase of
//! [`crate::vocabulary`], ignoring ASCII case (then each match keeps its phrase's case rule and
//! guard), so the cost does not grow with the number of phrases.

use std::sync::LazyLock;

use crate::vocabulary::{self, Case, Guard, Phrase};
use crate::window::{self, TextAt};

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
const NUMBERED: &[(&str, Found)] = &[("task timed out after ", Found::TimedOutAfter)];

/// `chunk_size=`, looked for apart from the table: workers write it on most lines, and each
/// match ends the table's search and costs it a restart, while a substring search of its own
/// passes over matches at SIMD speed. No phrase of the table can overlap it (a test holds
/// them to that), so the table's leftmost-first walk would have found the same first one.
const CHUNK_SIZE: &str = "chunk_size=";

static CHUNK_SIZE_FINDER: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(CHUNK_SIZE));

/// What a phrase in the table stands for.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// The phrase of [`vocabulary::PHRASES`] at this index.
    Phrase(usize),
    TimedOutAfter,
}

/// The searched patterns, lower case: every phrase of the vocabulary (an exact phrase once per
/// distinct spelling), then `Task timed out after `.
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
    scan_each(&[text]).pop().unwrap_or_default()
}

/// What [`scan_line`] gives for each of `texts`, in one pass over all of them (`scan_line` is
/// this for one text).
///
/// The texts are searched a window at a time ([`crate::window`]). No phrase holds a NUL, so no
/// match spans two texts; each match is taken back to its text, and judged there exactly as
/// [`scan_line`] judges it (guards see the text's own edges, not its neighbours).
pub fn scan_each(texts: &[&str]) -> Vec<Scan> {
    let mut found = vec![Scan::default(); texts.len()];
    window::each(texts.iter().copied(), |window| {
        let texts = &texts[window.first..][..window.len()];
        let found = &mut found[window.first..][..window.len()];
        let mut text = TextAt::default();
        let mut at = 0;
        while let Some((pattern, start, end)) = MATCHER.find_at(window.lowered, at) {
            let t = text.of(window, start);
            let base = window.start(t);
            at = base + take(&mut found[t], texts[t].as_bytes(), pattern, start - base, end - base);
        }
        let mut text = TextAt::default();
        for start in CHUNK_SIZE_FINDER.find_iter(window.lowered) {
            let t = text.of(window, start);
            found[t]
                .chunk_size_at
                .get_or_insert(start - window.start(t) + CHUNK_SIZE.len());
        }
    });
    found
}

/// Takes the match of table entry `pattern` at `start..end` of `original` into `found` if it
/// keeps its phrase's case rule and guard, and says where the search goes on: past the match,
/// or one byte after its start when it did not hold.
fn take(found: &mut Scan, original: &[u8], pattern: usize, start: usize, end: usize) -> usize {
    match TABLE[pattern].1 {
        Found::Phrase(i) => {
            let phrase = &vocabulary::PHRASES[i];
            if !holds(phrase, original, start, end) {
                return start + 1;
            }
            for &signal in phrase.signals {
                found.signals.insert(signal);
            }
        }
        Found::TimedOutAfter => {
            found.timed_out_after_at.get_or_insert(end);
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::WINDOW_BYTES;

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

    /// Every phrase of the table as written, in capitals and cut in two; `chunk_size=` and
    /// `Task timed out after ` with their neighbours; guards' neighbours, the byte that parts a
    /// batch, a letter outside ASCII, and a run longer than one SIMD block.
    static MODEL_PIECES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut pieces: Vec<String> = TABLE.iter().map(|(p, _)| p.clone()).collect();
        for spelling in vocabulary::PHRASES.iter().flat_map(|p| p.spellings) {
            let half = (1..spelling.len()).find(|&i| i >= spelling.len() / 2 && spelling.is_char_boundary(i));
            pieces.push(spelling.to_string());
            pieces.push(spelling.to_ascii_uppercase());
            if let Some(half) = half {
                pieces.push(spelling[..half].to_string());
                pieces.push(spelling[half..].to_string());
            }
        }
        let others = [
            "chunk_size=",
            "CHUNK_SIZE=",
            "Chunk_Size=",
            "chunk_",
            "size=",
            "=",
            "12",
            "3.00",
            "9",
            "Task timed out after ",
            "task timed out",
            " after ",
            "x",
            "_",
            " ",
            "\t",
            "\n",
            "\0",
            "\u{e9}",
            "\u{663}",
            "",
            "429",
            ":",
            "(",
            "a rather long stretch of words that runs past one SIMD block of sixty-four bytes",
        ];
        pieces.extend(others.iter().map(|s| s.to_string()));
        pieces
    });

    /// The scan as one leftmost-first walk over the table with `chunk_size=` in it, as the
    /// regex engine walks an alternation of them all (it prefers the first alternative that
    /// matches at the leftmost start, as the table does): what finding `chunk_size=` apart must
    /// not change.
    fn walk_with_chunk_size_in_the_table(text: &str) -> Scan {
        static WALK: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
            let alternatives: Vec<String> = TABLE
                .iter()
                .map(|(p, _)| p.as_str())
                .chain([CHUNK_SIZE])
                .map(|p| format!("({})", regex::escape(p)))
                .collect();
            regex::bytes::Regex::new(&alternatives.join("|")).unwrap()
        });
        let lowered = text.to_ascii_lowercase();
        let mut locations = WALK.capture_locations();
        let mut found = Scan::default();
        let mut at = 0;
        while let Some(m) = WALK.captures_read_at(&mut locations, lowered.as_bytes(), at) {
            let pattern = (1..locations.len()).find(|&g| locations.get(g).is_some()).unwrap() - 1;
            if pattern == TABLE.len() {
                found.chunk_size_at.get_or_insert(m.end());
                at = m.end();
            } else {
                at = take(&mut found, text.as_bytes(), pattern, m.start(), m.end());
            }
        }
        found
    }

    /// A piece of [`MODEL_PIECES`], or as often one around the numbered phrases, so that
    /// lines hold several of them.
    fn model_piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        const NUMBERED: &[&str] = &[
            "chunk_size=",
            "CHUNK_SIZE=",
            "chunk_",
            "size=",
            "12",
            "Task timed out after ",
            "3.00",
            "x",
            " ",
            "\0",
        ];
        prop_oneof![
            any::<proptest::sample::Index>().prop_map(|i| i.get(&MODEL_PIECES).clone()),
            proptest::sample::select(NUMBERED).prop_map(String::from),
        ]
    }

    proptest::proptest! {
        #[test]
        fn the_scans_find_what_one_walk_with_chunk_size_in_the_table_finds(
            texts in proptest::collection::vec(proptest::collection::vec(model_piece(), 0..16), 0..8),
        ) {
            let texts: Vec<String> = texts.iter().map(|t| t.concat()).collect();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let walked: Vec<Scan> = texts.iter().map(|t| walk_with_chunk_size_in_the_table(t)).collect();
            let each: Vec<Scan> = texts.iter().map(|t| scan_line(t)).collect();
            proptest::prop_assert_eq!(&each, &walked, "{:?}", texts);
            proptest::prop_assert_eq!(scan_each(&texts), walked, "{:?}", texts);
        }
    }

    /// A piece of [`model_piece`] or, now and then, a filler that ends windows at every kind
    /// of place or fills one alone.
    fn piece_or_filler() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            4 => model_piece(),
            1 => proptest::sample::select(&[WINDOW_BYTES - 7, WINDOW_BYTES / 3, WINDOW_BYTES + 1][..])
                .prop_map(|n| "w".repeat(n)),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn texts_over_many_windows_are_each_scanned_as_alone(
            texts in proptest::collection::vec(
                proptest::collection::vec(
                    piece_or_filler(),
                    0..8,
                ),
                0..40,
            ),
        ) {
            let texts: Vec<String> = texts.iter().map(|t| t.concat()).collect();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let each: Vec<Scan> = texts.iter().map(|t| scan_line(t)).collect();
            proptest::prop_assert_eq!(scan_each(&texts), each);
        }
    }

    /// A phrase may overlap `chunk_size=` only where its guard always refuses the match: then
    /// the table's walk steps one byte on from it and skips nothing.
    #[test]
    fn no_phrase_can_overlap_chunk_size_so_it_is_found_apart() {
        let needle = CHUNK_SIZE.as_bytes();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        for (pattern, found) in TABLE.iter() {
            let p = pattern.as_bytes();
            let guarded = matches!(found, Found::Phrase(i) if vocabulary::PHRASES[*i].guard == Guard::Word);
            let contains = |a: &[u8], b: &[u8]| a.windows(b.len()).any(|w| w == b);
            assert!(!contains(p, needle) && !contains(needle, p), "{pattern:?}");
            for k in 1..p.len().min(needle.len()) {
                // The phrase ends where `chunk_size=` begins: the byte after it is needle[k].
                let before = p[p.len() - k..] == needle[..k];
                // `chunk_size=` ends where the phrase begins: the byte before it is needle[len-k-1].
                let after = needle[needle.len() - k..] == p[..k];
                let refused = |neighbour: u8| guarded && word(neighbour);
                assert!(
                    (!before || refused(needle[k])) && (!after || refused(needle[needle.len() - k - 1])),
                    "{pattern:?} overlaps {CHUNK_SIZE:?} by {k} bytes"
                );
            }
        }
    }

    #[test]
    fn no_phrase_holds_the_byte_that_parts_a_batch() {
        for (pattern, _) in TABLE.iter() {
            assert!(!pattern.contains('\0'), "{pattern:?}");
        }
    }

    #[test]
    fn a_match_at_the_edge_of_a_line_is_judged_by_that_line_alone() {
        // The guard of `status 429` looks at the bytes around it: in a batch, a neighbour's
        // digit must not count, nor must a phrase run on into the next line.
        let texts = ["status 429", "0 and more", "status 4", "29", "ECONNRESET", "x"];
        let found = scan_each(&texts);
        assert!(found[0].signals.has(Signal::RateLimited), "{found:?}");
        assert!(found[2..].iter().take(2).all(|f| f.signals.is_empty()), "{found:?}");
        assert!(found[4].signals.has(Signal::ConnectionError), "{found:?}");
        assert_eq!(scan_each(&[]), Vec::<Scan>::new());
    }
}
