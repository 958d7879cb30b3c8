//! Failure signals in free text: rate limiting, connection caps, connection failures, running
//! out of memory, a runtime that exited. One Aho-Corasick pass per line finds them all,
//! ignoring ASCII case, so the cost does not grow with the number of phrases.

use std::sync::LazyLock;

use std::cell::RefCell;

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

/// What a phrase in the table stands for.
#[derive(Debug, Clone, Copy)]
enum Found {
    Signal(Signal),
    TimedOutAfter,
    ChunkSize,
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

/// The phrases, lower case; each names the signal it raises. Sources: the error texts of MySQL,
/// PostgreSQL, the AWS SDKs and HTTP, and each Lambda runtime's out-of-memory message.
const PHRASES: &[(&str, Signal)] = &[
    ("api rate limit exceeded", Signal::RateLimited),
    ("rate limit exceeded", Signal::RateLimited),
    ("ratelimitexceeded", Signal::RateLimited),
    ("rate exceeded", Signal::RateLimited),
    ("throttlingexception", Signal::RateLimited),
    ("toomanyrequestsexception", Signal::RateLimited),
    ("too many requests", Signal::RateLimited),
    ("http 429", Signal::RateLimited),
    ("status code 429", Signal::RateLimited),
    ("statuscode: 429", Signal::RateLimited),
    ("status: 429", Signal::RateLimited),
    ("status=429", Signal::RateLimited),
    ("(slowdown)", Signal::RateLimited),
    ("please reduce your request rate", Signal::RateLimited),
    ("requestlimitexceeded", Signal::RateLimited),
    ("provisionedthroughputexceededexception", Signal::RateLimited),
    ("too many connections", Signal::TooManyConnections),
    ("er_con_count_error", Signal::TooManyConnections),
    ("too many clients", Signal::TooManyConnections),
    ("remaining connection slots are reserved", Signal::TooManyConnections),
    ("econnrefused", Signal::ConnectionError),
    ("econnreset", Signal::ConnectionError),
    ("etimedout", Signal::ConnectionError),
    ("connection refused", Signal::ConnectionError),
    ("connection reset", Signal::ConnectionError),
    ("connection timed out", Signal::ConnectionError),
    ("could not connect to server", Signal::ConnectionError),
    ("can't connect to mysql server", Signal::ConnectionError),
    ("connection terminated unexpectedly", Signal::ConnectionError),
    ("runtime.outofmemory", Signal::OutOfMemory),
    ("outofmemoryerror", Signal::OutOfMemory),
    ("javascript heap out of memory", Signal::OutOfMemory),
    ("runtime: out of memory", Signal::OutOfMemory),
    ("memoryerror", Signal::OutOfMemory),
    ("failed to allocate memory", Signal::OutOfMemory),
    ("nomemoryerror", Signal::OutOfMemory),
    ("signal: killed", Signal::OutOfMemory),
    ("memory allocation of", Signal::OutOfMemory),
    ("runtime exited with error", Signal::RuntimeExited),
    ("runtime exited without providing a reason", Signal::RuntimeExited),
];

/// Phrases that carry a number right after them.
const NUMBERED: &[(&str, Found)] = &[
    ("task timed out after ", Found::TimedOutAfter),
    ("chunk_size=", Found::ChunkSize),
];

static TABLE: LazyLock<Vec<(&'static str, Found)>> = LazyLock::new(|| {
    PHRASES
        .iter()
        .map(|&(p, s)| (p, Found::Signal(s)))
        .chain(NUMBERED.iter().copied())
        .collect()
});

/// The packed searcher on its own: for a few dozen phrases and lines of a few hundred bytes it
/// needs no automaton behind it, and calling it directly saves that layer on every line.
static MATCHER: LazyLock<aho_corasick::packed::Searcher> = LazyLock::new(|| {
    aho_corasick::packed::Config::new()
        .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(TABLE.iter().map(|(p, _)| p))
        .build()
        .expect("the built-in phrases compile")
});

thread_local! {
    static LOWERED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Every signal the text mentions, ignoring ASCII case.
pub fn scan(text: &str) -> Signals {
    scan_line(text).signals
}

/// One pass over a line: its signals and where its numbered phrases end, ignoring ASCII case.
///
/// The text is lower-cased into a reused buffer and searched case-sensitively: that lets the
/// phrases be found by aho-corasick's packed (Teddy, SIMD) searcher alone, several times faster
/// than a case-insensitive automaton, which has to walk every byte. Lower-casing ASCII keeps byte
/// offsets, so positions found in the copy hold in the original.
pub fn scan_line(text: &str) -> Scan {
    LOWERED.with(|buffer| {
        let mut lowered = buffer.borrow_mut();
        lowered.clear();
        lowered.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
        let mut found = Scan::default();
        // Every non-overlapping match, so that "Rate exceeded" and "Too many connections" in one
        // line both count. (No phrase of one signal overlaps a phrase of another.)
        for m in MATCHER.find_iter(lowered.as_slice()) {
            match TABLE[m.pattern().as_usize()].1 {
                Found::Signal(signal) => found.signals.insert(signal),
                Found::TimedOutAfter => {
                    found.timed_out_after_at.get_or_insert(m.end());
                }
                Found::ChunkSize => {
                    found.chunk_size_at.get_or_insert(m.end());
                }
            }
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
    fn one_line_can_raise_several_signals() {
        let s = scan("ER_CON_COUNT_ERROR: Too many connections; then Rate exceeded");
        assert!(s.has(Signal::TooManyConnections) && s.has(Signal::RateLimited));
        assert!(!s.has(Signal::OutOfMemory));
    }
}
