//! The one vocabulary of failure classes: each class's phrases with their case rule and
//! false-positive guard, the level words, and the markers of timeouts and error lines. Three
//! consumers are derived from it and from nothing else:
//!
//! - the line scanner ([`crate::signals`]), which searches every phrase in one pass;
//! - the metric-filters generator ([`crate::metric_filters`]), which writes each phrase in the
//!   spellings listed here (filter phrases are case-sensitive and know no guards);
//! - the notices' Logs Insights queries ([`insights_filter`]), which give every phrase with its
//!   case rule and its guard as word boundaries.
//!
//! Decisions written down here (README, "Metrics"):
//!
//! - `429` is a rate limit only as an HTTP status (`status 429`, `HTTP/1.1 429`,
//!   `429 TooManyRequests`, …), never as digits inside a URL, an id or a longer number.
//! - A connection cap (the server, or a proxy's pool, has no connection left) is also a connection
//!   error. RDS Proxy's "Timed-out waiting to acquire database connection" is a cap: the proxy's
//!   pool is exhausted. Redis's "max number of clients reached" is a cap. HikariCP's "Connection
//!   is not available, request timed out" is a connection error only: the application's own pool
//!   waited, which says nothing of the database's limit.
//! - `x-ratelimit-remaining`, "0 errors", `error_count=0`, `connect_timeout=10` say nothing.

use crate::parse::Level;
use crate::signals::Signal;

/// How a phrase's letters must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// In any ASCII case.
    Any,
    /// Exactly as one of its spellings (identifiers such as `ECONNRESET` or `MemoryError`).
    Exact,
}

/// What must surround a match for it to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Nothing: the phrase is specific enough anywhere.
    None,
    /// No ASCII letter, digit or `_` right before or right after it: `status 429` is not
    /// `status 4290`, `MemoryError` is not `MemoryErrors`.
    Word,
}

/// One phrase of the vocabulary.
#[derive(Debug, Clone, Copy)]
pub struct Phrase {
    /// The spellings services write. The first is the phrase itself; with [`Case::Any`] the
    /// others only differ in case, and list what metric filters (case-sensitive) look for.
    pub spellings: &'static [&'static str],
    /// The case rule.
    pub case: Case,
    /// The guard.
    pub guard: Guard,
    /// The classes the phrase raises (most raise one).
    pub signals: &'static [Signal],
}

impl Phrase {
    /// The phrase itself (its first spelling).
    pub fn text(&self) -> &'static str {
        self.spellings[0]
    }

    /// Whether the phrase raises `signal`.
    pub fn raises(&self, signal: Signal) -> bool {
        self.signals.contains(&signal)
    }
}

const fn any(spellings: &'static [&'static str], signals: &'static [Signal]) -> Phrase {
    Phrase {
        spellings,
        case: Case::Any,
        guard: Guard::None,
        signals,
    }
}

const fn any_word(spellings: &'static [&'static str], signals: &'static [Signal]) -> Phrase {
    Phrase {
        spellings,
        case: Case::Any,
        guard: Guard::Word,
        signals,
    }
}

const fn exact_word(spellings: &'static [&'static str], signals: &'static [Signal]) -> Phrase {
    Phrase {
        spellings,
        case: Case::Exact,
        guard: Guard::Word,
        signals,
    }
}

const RATE: &[Signal] = &[Signal::RateLimited];
const CAP: &[Signal] = &[Signal::TooManyConnections];
const CONN: &[Signal] = &[Signal::ConnectionError];
const OOM: &[Signal] = &[Signal::OutOfMemory];
const EXIT: &[Signal] = &[Signal::RuntimeExited];

/// Every phrase, by class. A phrase that another contains is left out when both raise the same
/// classes (`rate limit exceeded` finds `API rate limit exceeded`).
pub const PHRASES: &[Phrase] = &[
    // --- Rate limits ---
    // GitHub REST: "API rate limit exceeded for <ip>" (docs.github.com, "Rate limits for the REST
    // API"); Twitter/X and many vendors: "Rate limit exceeded".
    any(
        &["rate limit exceeded", "Rate limit exceeded", "Rate Limit Exceeded"],
        RATE,
    ),
    // Google APIs: reason "rateLimitExceeded" (cloud.google.com, "Standard error responses").
    any(&["RateLimitExceeded", "rateLimitExceeded"], RATE),
    // AWS throttling message: "Rate exceeded" (ThrottlingException); SES: "Maximum sending rate
    // exceeded" (docs.aws.amazon.com/ses, "Sending limits").
    any(&["Rate exceeded", "rate exceeded"], RATE),
    // AWS SDK error codes (docs.aws.amazon.com/sdkref, "Retry behavior": throttling errors).
    any(&["ThrottlingException"], RATE),
    any(&["TooManyRequestsException"], RATE),
    // HTTP 429's reason phrase (RFC 6585 section 4); Stripe: "Too many requests hit the API too
    // quickly" (docs.stripe.com/rate-limits).
    any(&["Too Many Requests", "Too many requests", "too many requests"], RATE),
    // 429 as a status code only, never inside a URL or an id (the guard).
    // curl and raw HTTP: "HTTP/1.1 429", "HTTP/2 429"; requests/urllib3 and others: "HTTP 429".
    any_word(&["HTTP 429"], RATE),
    any_word(&["HTTP/1.1 429"], RATE),
    any_word(&["HTTP/2 429"], RATE),
    // axios: "Request failed with status code 429" (axios lib/core/settle.js).
    any_word(&["status code 429"], RATE),
    // AWS SDK for Go v2: "https response error StatusCode: 429" (smithy-go transport/http).
    any_word(&["StatusCode: 429", "statusCode: 429"], RATE),
    any_word(&["status: 429"], RATE),
    any_word(&["status=429"], RATE),
    // got and ky: "Response code 429 (Too Many Requests)"; "the server responded with status 429"
    // (fetch wrappers' wording).
    any_word(&["status 429"], RATE),
    // Kubernetes-style and .NET `HttpStatusCode` names printed with the code: "429 TooManyRequests".
    any_word(&["429 TooManyRequests"], RATE),
    // S3: "SlowDown: Please reduce your request rate." (docs.aws.amazon.com/AmazonS3, "Error
    // responses").
    any(&["(SlowDown)"], RATE),
    any(&["Please reduce your request rate"], RATE),
    // AWS SDK for Java: "(Service: Amazon S3; Status Code: 503; Error Code: SlowDown; …)" and
    // "Status Code: 429" (AmazonServiceException.getMessage).
    any(&["Error Code: SlowDown"], RATE),
    any_word(&["Status Code: 429"], RATE),
    // OpenAI: "Rate limit reached for gpt-4o in organization …" and the Python client's
    // `openai.RateLimitError` (platform.openai.com/docs/guides/error-codes).
    any(&["Rate limit reached", "rate limit reached"], RATE),
    any(&["RateLimitError"], RATE),
    // EC2: RequestLimitExceeded (docs.aws.amazon.com/ec2, "Request throttling").
    any(&["RequestLimitExceeded"], RATE),
    // DynamoDB and Kinesis (API references, "Common errors").
    any(&["ProvisionedThroughputExceededException"], RATE),
    // --- Connection caps (each is a connection error too, see classify) ---
    // MySQL error 1040 ER_CON_COUNT_ERROR: "Too many connections" (MySQL server error reference).
    any(&["Too many connections", "too many connections"], CAP),
    // mysqljs/mysql2: error code "ER_CON_COUNT_ERROR".
    exact_word(&["ER_CON_COUNT_ERROR"], CAP),
    // PostgreSQL 53300: "sorry, too many clients already" and "remaining connection slots are
    // reserved for non-replication superuser connections" (postgres src/backend/utils/init).
    any(&["too many clients"], CAP),
    any(&["remaining connection slots are reserved"], CAP),
    // RDS Proxy: "Timed-out waiting to acquire database connection" (docs.aws.amazon.com/
    // AmazonRDS, "Troubleshooting for RDS Proxy"): the proxy's pool is exhausted.
    any(&["Timed-out waiting to acquire database connection"], CAP),
    // Redis: "ERR max number of clients reached" (redis src/networking.c, acceptCommonHandler).
    any(&["max number of clients reached"], CAP),
    // --- Connection errors ---
    // Node.js errno codes (nodejs.org/api/errors.html, "Common system errors").
    exact_word(&["ECONNREFUSED"], CONN),
    exact_word(&["ECONNRESET"], CONN),
    exact_word(&["ETIMEDOUT"], CONN),
    exact_word(&["EHOSTUNREACH"], CONN),
    exact_word(&["ECONNABORTED"], CONN),
    // Node.js http: "socket hang up" (lib/_http_client.js, connResetException).
    any(&["socket hang up"], CONN),
    // strerror(3) of ECONNREFUSED, ECONNRESET ("Connection reset by peer"), ETIMEDOUT, as glibc,
    // Python's OSError and Go's net package print them.
    any(&["Connection refused", "connection refused"], CONN),
    any(&["Connection reset", "connection reset"], CONN),
    any(&["Connection timed out", "connection timed out"], CONN),
    any(&["No route to host"], CONN),
    // Python requests/urllib3: "('Connection aborted.', RemoteDisconnected(…))".
    any(&["Connection aborted"], CONN),
    // Java: java.net.SocketTimeoutException "Connect timed out" (java.net.Socket.connect).
    any(&["Connect timed out", "connect timed out"], CONN),
    // libpq: "server closed the connection unexpectedly" (fe-misc.c); MySQL client error 2013:
    // "Lost connection to MySQL server".
    any(&["server closed the connection unexpectedly"], CONN),
    any(&["Lost connection to MySQL server"], CONN),
    // Go net: "dial tcp 10.0.0.1:5432: i/o timeout" (net/net.go, errTimeout).
    any(&["i/o timeout"], CONN),
    // libpq: "could not connect to server" (postgres src/interfaces/libpq/fe-connect.c).
    any(&["could not connect to server"], CONN),
    // MySQL client error 2003: "Can't connect to MySQL server on ..." (client error reference).
    any(&["Can't connect to MySQL server"], CONN),
    // node-postgres: "Connection terminated unexpectedly" (pg lib/client.js).
    any(
        &[
            "Connection terminated unexpectedly",
            "connection terminated unexpectedly",
        ],
        CONN,
    ),
    // HikariCP: "Connection is not available, request timed out after 30000ms." (HikariPool.java,
    // createTimeoutException): the application's pool waited, a connection error only.
    any(&["Connection is not available, request timed out"], CONN),
    // MySQL Connector/J: "Communications link failure" (CommunicationsException).
    any(&["Communications link failure"], CONN),
    // --- Out of memory ---
    // Lambda's error type (docs.aws.amazon.com/lambda, "Monitoring and troubleshooting").
    any(&["Runtime.OutOfMemory"], OOM),
    // Java: java.lang.OutOfMemoryError (docs.oracle.com, "Understand the OutOfMemoryError").
    any(&["OutOfMemoryError"], OOM),
    // .NET: System.OutOfMemoryException (learn.microsoft.com, System.OutOfMemoryException).
    any(&["OutOfMemoryException"], OOM),
    // Node.js/V8: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of
    // memory" (v8 src/heap/heap.cc via node src/api/environment.cc).
    any(&["JavaScript heap out of memory"], OOM),
    // Go: "fatal error: runtime: out of memory" (go src/runtime/malloc.go).
    any(&["runtime: out of memory"], OOM),
    // Python: the built-in exception MemoryError (docs.python.org, "Built-in Exceptions").
    exact_word(&["MemoryError"], OOM),
    // Ruby: NoMemoryError, "failed to allocate memory" (ruby gc.c, rb_memerror).
    exact_word(&["NoMemoryError"], OOM),
    any(&["failed to allocate memory"], OOM),
    // ENOMEM's strerror(3), as Python's OSError prints it: "[Errno 12] Cannot allocate memory".
    any(&["Cannot allocate memory"], OOM),
    // HotSpot when native memory runs out: "There is insufficient memory for the Java Runtime
    // Environment to continue." (hotspot share/utilities/vmError.cpp).
    any(&["insufficient memory for the Java Runtime Environment"], OOM),
    // Rust's default alloc error handler: "memory allocation of N bytes failed" (std alloc.rs).
    any(&["memory allocation of"], OOM),
    // Lambda: "Runtime exited with error: signal: killed" (the kernel's OOM killer's SIGKILL).
    any(&["signal: killed"], OOM),
    // --- The runtime process exited (Lambda's older failure line) ---
    any(&["Runtime exited with error"], EXIT),
    any(&["Runtime exited without providing a reason"], EXIT),
];

/// The words that are a line's level, and the level each stands for. A plain-text line must
/// write them in capitals (an English word in a message is no level); a JSON `level` field may
/// use any case. Sources: Python `logging` (CRITICAL), log4j2 and logback (FATAL, TRACE),
/// java.util.logging (SEVERE, FINE…), syslog (EMERG, ALERT, CRIT, ERR, NOTICE), Go slog, Rust
/// tracing, Microsoft.Extensions.Logging's `LogLevel` names (Information, Critical).
pub const LEVEL_WORDS: &[(&str, Level)] = &[
    ("ERROR", Level::Error),
    ("ERR", Level::Error),
    ("FATAL", Level::Error),
    ("CRITICAL", Level::Error),
    ("CRIT", Level::Error),
    ("PANIC", Level::Error),
    ("SEVERE", Level::Error),
    ("ALERT", Level::Error),
    ("EMERGENCY", Level::Error),
    ("EMERG", Level::Error),
    ("WARN", Level::Warn),
    ("WARNING", Level::Warn),
    ("INFO", Level::Info),
    ("NOTICE", Level::Info),
    ("INFORMATION", Level::Info),
    ("DEBUG", Level::Debug),
    ("TRACE", Level::Debug),
    ("FINE", Level::Debug),
    ("FINER", Level::Debug),
    ("FINEST", Level::Debug),
];

/// The .NET runtime's level field (between the request id and the message) and the Microsoft
/// console logger's prefix (`fail: Category[0]`): four lower-case letters, exactly
/// (Microsoft.Extensions.Logging.Console `ConsoleFormatter`'s `GetLogLevelString`; Lambda's
/// .NET runtime, docs.aws.amazon.com/lambda, "Log and monitor C# Lambda functions").
pub const DOTNET_LEVELS: &[(&str, Level)] = &[
    ("trce", Level::Debug),
    ("dbug", Level::Debug),
    ("info", Level::Info),
    ("warn", Level::Warn),
    ("fail", Level::Error),
    ("crit", Level::Error),
];

/// Ruby's `Logger` writes the severity's first letter first: `E, [time #pid] ERROR -- prog: msg`
/// (ruby lib/logger/formatter.rb, `Format`).
pub const RUBY_SEVERITY_LETTERS: &[(u8, Level)] = &[
    (b'D', Level::Debug),
    (b'I', Level::Info),
    (b'W', Level::Warn),
    (b'E', Level::Error),
    (b'F', Level::Error),
    (b'A', Level::Error),
];

/// The error levels loggers write into a JSON `level` field, each in upper, capitalised and
/// lower case for metric filters (Powertools, pino's names, slog, tracing, .NET's `Error` and
/// `Critical`).
pub const JSON_ERROR_LEVELS: &[&str] = &["ERROR", "FATAL", "CRITICAL"];

/// What a plain-text error line carries that a message does not (case-sensitive): Python's
/// runtime prefix `[ERROR]` (docs.aws.amazon.com/lambda, "Log and monitor Python Lambda
/// functions"), Ruby Logger's `] ERROR -- ` (see [`RUBY_SEVERITY_LETTERS`]).
pub const TEXT_ERROR_MARKERS: &[&str] = &["[ERROR]", "[CRITICAL]", "[FATAL]", "] ERROR -- ", "] FATAL -- "];

/// Lambda's own timeout markers, in the plain-text and the JSON log format.
pub const TIMEOUT_MARKERS: &[&str] = &["Task timed out after", "Status: timeout", r#""status":"timeout""#];

/// Lambda's failed-invocation markers on REPORT lines (plain-text format).
pub const FAILED_STATUS_MARKERS: &[&str] = &["Status: error", "Status: failure"];

/// A level word, in capitals or (`any_case`) any case.
pub fn level_of_word(word: &str, any_case: bool) -> Option<Level> {
    LEVEL_WORDS
        .iter()
        .find(|(w, _)| {
            w.len() == word.len()
                && if any_case {
                    w.eq_ignore_ascii_case(word)
                } else {
                    *w == word
                }
        })
        .map(|&(_, level)| level)
}

/// A .NET level field, exactly.
pub fn dotnet_level(word: &str) -> Option<Level> {
    DOTNET_LEVELS.iter().find(|(w, _)| *w == word).map(|&(_, level)| level)
}

/// The phrases that raise `signal`.
pub fn phrases_of(signal: Signal) -> impl Iterator<Item = &'static Phrase> {
    PHRASES.iter().filter(move |p| p.raises(signal))
}

/// Every spelling of the phrases that raise `signal`, as metric filters look for them.
pub fn spellings_of(signal: Signal) -> Vec<&'static str> {
    phrases_of(signal).flat_map(|p| p.spellings.iter().copied()).collect()
}

/// A regex-escaped literal.
fn escape(text: &str) -> String {
    regex_syntax_escape(text)
}

fn regex_syntax_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn guarded(p: &Phrase, text: &str) -> String {
    match p.guard {
        Guard::None => escape(text),
        Guard::Word => format!(r"\b{}\b", escape(text)),
    }
}

/// The Logs Insights `filter` clause that shows the lines of `signal`, derived from its phrases:
/// the phrases in any case under one `(?i)` regex, the exact ones in another.
pub fn insights_filter(signals: &[Signal]) -> String {
    let mut any_case = Vec::new();
    let mut exact = Vec::new();
    for p in PHRASES.iter().filter(|p| signals.iter().any(|s| p.raises(*s))) {
        match p.case {
            Case::Any => any_case.push(guarded(p, p.text())),
            Case::Exact => exact.extend(p.spellings.iter().map(|s| guarded(p, s))),
        }
    }
    let mut clauses = Vec::new();
    if !any_case.is_empty() {
        clauses.push(format!("@message like /(?i){}/", any_case.join("|")));
    }
    if !exact.is_empty() {
        clauses.push(format!("@message like /{}/", exact.join("|")));
    }
    format!("filter {}", clauses.join(" or "))
}

/// The Logs Insights `filter` clause for timeouts.
pub fn insights_timeouts() -> String {
    let markers: Vec<String> = TIMEOUT_MARKERS.iter().map(|m| escape(m)).collect();
    format!("filter @message like /{}/", markers.join("|"))
}

/// The Logs Insights `filter` clause for error lines: the level in the places each runtime writes
/// it (never the word in a message), a failed REPORT, an unhandled-error record.
pub fn insights_errors() -> String {
    let mut exact: Vec<String> = TEXT_ERROR_MARKERS
        .iter()
        .chain(FAILED_STATUS_MARKERS)
        .map(|m| escape(m))
        .collect();
    let tab_words: Vec<&str> = LEVEL_WORDS
        .iter()
        .filter(|(_, l)| *l == Level::Error)
        .map(|(w, _)| *w)
        .chain(
            DOTNET_LEVELS
                .iter()
                .filter(|(_, l)| *l == Level::Error)
                .map(|(w, _)| *w),
        )
        .collect();
    // Node.js, .NET and Java runtimes write the level between tabs.
    exact.push(format!(r"\t({})\t", tab_words.join("|")));
    exact.push(r#""errorType""#.to_string());
    let json_levels = JSON_ERROR_LEVELS
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("|");
    format!(
        r#"filter @message like /{}/ or @message like /(?i)"(level|severity|levelname|log_level|@l|log\.level)": ?"({json_levels})"|\blevel=({json_levels})\b/"#,
        exact.join("|")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::scan;

    /// Each family: lines that must raise the signal, and look-alikes that must not.
    fn family(signal: Signal, matching: &[&str], look_alikes: &[&str]) {
        for line in matching {
            assert!(scan(line).has(signal), "{line:?} should raise {signal:?}");
        }
        for line in look_alikes {
            assert!(!scan(line).has(signal), "{line:?} must not raise {signal:?}");
        }
        // The Logs Insights query agrees with the scanner on both lists.
        let query = insights_filter(&[signal]);
        let regexes = insights_regexes(&query);
        for line in matching {
            assert!(
                regexes.iter().any(|r| r.is_match(line)),
                "the query {query} misses {line:?}"
            );
        }
        for line in look_alikes {
            assert!(
                !regexes.iter().any(|r| r.is_match(line)),
                "the query {query} shows {line:?}"
            );
        }
    }

    fn insights_regexes(filter: &str) -> Vec<regex::Regex> {
        filter
            .trim_start_matches("filter ")
            .split(" or ")
            .map(|clause| {
                let body = clause
                    .trim()
                    .strip_prefix("@message like /")
                    .and_then(|c| c.strip_suffix('/'))
                    .unwrap_or_else(|| panic!("{clause}"));
                regex::Regex::new(body).unwrap_or_else(|e| panic!("{body}: {e}"))
            })
            .collect()
    }

    #[test]
    fn rate_limit_phrases_match_status_codes_and_vendor_wordings_but_not_429_in_urls_or_headers() {
        family(
            Signal::RateLimited,
            &[
                "Request failed: API Rate Limit Exceeded (retry-after 30)",
                "An error occurred (ThrottlingException) when calling the PutMetricData operation: Rate exceeded",
                "TooManyRequestsException: Rate exceeded",
                "got HTTP 429 from api.example.com",
                "429 Too Many Requests",
                "Error: the server responded with status 429",
                "upstream said 429 TooManyRequests",
                "< HTTP/1.1 429 Too Many Requests",
                "HTTP/2 429",
                "AxiosError: Request failed with status code 429",
                "operation error S3: PutObject, https response error StatusCode: 429",
                "stripe: Too many requests hit the API too quickly",
                "MessageRejected: Maximum sending rate exceeded.",
                "An error occurred (SlowDown) when calling the PutObject operation: Please reduce your request rate.",
                "RequestLimitExceeded: Request limit exceeded.",
                "ProvisionedThroughputExceededException: The level of configured provisioned throughput",
                "reason: rateLimitExceeded",
                "status=429 path=/v1/items",
                "com.amazonaws.services.s3.model.AmazonS3Exception: Please slow down. (Service: Amazon S3; Status Code: 503; Error Code: SlowDown)",
                "(Service: AmazonSNS; Status Code: 429; Error Code: Throttling)",
                "openai.RateLimitError: Error code: 429 - Rate limit reached for gpt-4o in organization org-x",
            ],
            &[
                "GET https://api.example.com/v1/orders/4291/items 200",
                "fetched /v1/items/429 in 12 ms",
                "order 1429 shipped",
                "request id 7a429f00 done",
                "x-ratelimit-remaining: 0",
                "x-ratelimit-limit: 5000",
                "status 4290 items",
                "status: 200 after 429 ms",
                "rate: 200 req/s",
            ],
        );
    }

    #[test]
    fn connection_cap_phrases_match_each_database_and_proxy_but_not_their_settings() {
        family(
            Signal::TooManyConnections,
            &[
                "Error: ER_CON_COUNT_ERROR: Too many connections",
                "FATAL: sorry, too many clients already",
                "FATAL: remaining connection slots are reserved for non-replication superuser connections",
                "Timed-out waiting to acquire database connection",
                "ReplyError: ERR max number of clients reached",
            ],
            &[
                "max_connections=100",
                "pool: 10 connections open",
                "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                "connect_timeout=10",
                "ER_CON_COUNT_ERRORS_TOTAL=0",
            ],
        );
    }

    #[test]
    fn connection_error_phrases_match_refusals_resets_and_pool_timeouts_but_not_timeout_settings() {
        family(
            Signal::ConnectionError,
            &[
                "connect ECONNREFUSED 10.0.3.7:3306",
                "read ECONNRESET",
                "connect ETIMEDOUT 10.0.0.1:443",
                "dial tcp 10.0.4.9:5432: connect: connection refused",
                "[Errno 104] Connection reset by peer",
                "could not connect to server: Connection refused",
                "dial tcp 10.0.4.9:5432: i/o timeout",
                "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                "com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure",
                "Error: Connection terminated unexpectedly",
                "connect EHOSTUNREACH 10.0.9.9:443",
                "Error: socket hang up",
                "requests.exceptions.ConnectionError: ('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
                "java.net.SocketTimeoutException: Connect timed out",
                "psycopg2.OperationalError: server closed the connection unexpectedly",
                "Lost connection to MySQL server during query",
                "dial tcp 10.0.9.9:443: connect: no route to host",
            ],
            &[
                "connect_timeout=10",
                "connected to db in 12 ms",
                "econnrefused_total=0",
                "ETIMEDOUTS",
                "connection pool size 10",
            ],
        );
    }

    #[test]
    fn an_exhausted_rds_proxy_pool_is_a_cap_and_a_connection_error() {
        let line = "Timed-out waiting to acquire database connection";
        let phrase = PHRASES.iter().find(|p| p.text() == line).unwrap();
        assert!(phrase.raises(Signal::TooManyConnections));
        // classify counts every cap as a connection error too.
        assert!(scan(line).has(Signal::TooManyConnections));
    }

    #[test]
    fn out_of_memory_phrases_match_every_runtime_but_not_memory_figures() {
        family(
            Signal::OutOfMemory,
            &[
                "Runtime.OutOfMemory",
                "java.lang.OutOfMemoryError: Java heap space",
                "Unhandled exception. System.OutOfMemoryException: Exception of type 'System.OutOfMemoryException' was thrown.",
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                "fatal error: runtime: out of memory",
                "[ERROR] MemoryError",
                "Traceback (most recent call last):\nMemoryError",
                "failed to allocate memory (NoMemoryError)",
                "NoMemoryError",
                "Error: Runtime exited with error: signal: killed",
                "memory allocation of 1073741824 bytes failed",
                "OSError: [Errno 12] Cannot allocate memory",
                "There is insufficient memory for the Java Runtime Environment to continue.",
            ],
            &[
                "memory: 120 MB",
                "Max Memory Used: 60 MB",
                "memoryerror_count=0",
                "handleMemoryErrors()",
                "out of memory budget: 0 bytes left to cache",
            ],
        );
    }

    #[test]
    fn error_levels_read_every_runtime_spelling_and_only_in_capitals_in_text() {
        let cases = [
            ("ERROR", false, Some(Level::Error)),
            ("error", false, None),
            ("error", true, Some(Level::Error)),
            ("Critical", true, Some(Level::Error)),
            ("Information", true, Some(Level::Info)),
            ("SEVERE", false, Some(Level::Error)),
            ("errors", true, None),
            ("", true, None),
        ];
        for (word, any_case, level) in cases {
            assert_eq!(level_of_word(word, any_case), level, "{word:?} {any_case}");
        }
        assert_eq!(dotnet_level("fail"), Some(Level::Error));
        assert_eq!(dotnet_level("FAIL"), None, ".NET writes its levels in lower case");
        assert_eq!(dotnet_level("failed"), None);
    }

    #[test]
    fn the_errors_query_shows_level_fields_and_never_the_word_in_a_message() {
        let regexes = insights_regexes(&insights_errors());
        let shown = [
            "[ERROR]\t2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tboom",
            "2026-12-02T10:00:00.000Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tfail\tboom",
            "2026-12-02T10:00:00.000Z\tundefined\tERROR\tUncaught Exception",
            "E, [2026-12-02T10:00:00.000000 #8] ERROR -- : boom",
            r#"{"level":"error","msg":"boom"}"#,
            r#"{"@t":"2026-12-02T10:00:00Z","@mt":"boom","@l":"Error"}"#,
            "time=2026-12-02T10:00:00Z level=ERROR msg=boom",
            "REPORT RequestId: r\tDuration: 1 ms\tStatus: error",
            r#"Error raised from handler method {"errorMessage":"x","errorType":"RuntimeError"}"#,
        ];
        let silent = [
            "processed 10 items, 0 errors",
            "error_count=0",
            "connect_timeout=10",
            "[INFO]\tt\tr\tno error here",
            r#"{"level":"info","msg":"error budget fine"}"#,
        ];
        for line in shown {
            assert!(regexes.iter().any(|r| r.is_match(line)), "misses {line:?}");
        }
        for line in silent {
            assert!(!regexes.iter().any(|r| r.is_match(line)), "shows {line:?}");
        }
    }

    #[test]
    fn the_timeouts_query_shows_both_formats_and_not_timeout_settings() {
        let regexes = insights_regexes(&insights_timeouts());
        assert!(regexes[0].is_match("2024-03-04T17:22:38.033Z id Task timed out after 3.00 seconds"));
        assert!(regexes[0].is_match(r#"{"type":"platform.report","record":{"status":"timeout"}}"#));
        assert!(!regexes[0].is_match("connect_timeout=10"));
    }

    #[test]
    fn every_phrase_is_well_formed() {
        for p in PHRASES {
            assert!(!p.signals.is_empty(), "{:?}", p.spellings);
            for s in p.spellings {
                assert!(!s.is_empty());
                if p.case == Case::Any {
                    assert!(
                        s.eq_ignore_ascii_case(p.text()),
                        "{s} is not a spelling of {}",
                        p.text()
                    );
                }
            }
        }
    }
}
