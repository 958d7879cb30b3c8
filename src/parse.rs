//! Stage 2: what one log event says. Platform lines (START, END, REPORT, INIT_REPORT, …) in both
//! the plain-text and the JSON log format, the older failure lines (`Task timed out`, `Runtime
//! exited`), and application lines of every runtime with their level and request id.
//!
//! Parsing is tolerant: fields are found by key, tabs or spaces, any order, any missing.

use std::borrow::Cow;

use crate::signals::{Scan, Signals, scan_line};

/// How an invocation (or an init phase) ended, as Lambda reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `success`.
    Success,
    /// `failure`.
    Failure,
    /// `error`.
    Error,
    /// `timeout`.
    Timeout,
    /// A value this version does not know.
    Other,
}

impl Status {
    fn parse(s: &str) -> Status {
        match s.trim().to_ascii_lowercase().as_str() {
            "success" => Status::Success,
            "failure" => Status::Failure,
            "error" => Status::Error,
            "timeout" => Status::Timeout,
            _ => Status::Other,
        }
    }

    /// Whether the status means the invocation failed (timeouts are told apart).
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failure | Status::Error)
    }
}

/// A log level, reduced to what matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// TRACE, DEBUG.
    Debug,
    /// INFO, NOTICE.
    Info,
    /// WARN, WARNING.
    Warn,
    /// ERROR, FATAL, CRITICAL and worse.
    Error,
}

impl Level {
    /// Reads a level word. Plain-text lines must spell it in capitals (so that an English word in
    /// a message is not taken for a level); JSON fields may use any case.
    fn from_word(word: &str, any_case: bool) -> Option<Level> {
        // At most 9 bytes ("EMERGENCY"); upper-cased on the stack, matched by length and bytes.
        if word.is_empty() || word.len() > 9 {
            return None;
        }
        let mut buffer = [0u8; 9];
        let bytes = &mut buffer[..word.len()];
        bytes.copy_from_slice(word.as_bytes());
        if any_case {
            bytes.make_ascii_uppercase();
        }
        Some(match &*bytes {
            b"ERROR" | b"ERR" | b"FATAL" | b"CRITICAL" | b"CRIT" | b"PANIC" | b"SEVERE" | b"ALERT" | b"EMERGENCY"
            | b"EMERG" => Level::Error,
            b"WARN" | b"WARNING" => Level::Warn,
            b"INFO" | b"NOTICE" => Level::Info,
            b"DEBUG" | b"TRACE" | b"FINE" | b"FINER" | b"FINEST" => Level::Debug,
            _ => return None,
        })
    }

    /// pino and bunyan write numeric levels: 50 error, 60 fatal.
    fn from_number(n: f64) -> Option<Level> {
        Some(match n as i64 {
            50.. => Level::Error,
            40..=49 => Level::Warn,
            30..=39 => Level::Info,
            0..=29 => Level::Debug,
            _ => return None,
        })
    }
}

/// The numbers and outcome of a REPORT line or a `platform.report` record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report<'a> {
    /// The invocation.
    pub request_id: &'a str,
    /// Run time, ms.
    pub duration_ms: Option<f64>,
    /// Init time on a cold start, ms.
    pub init_duration_ms: Option<f64>,
    /// SnapStart restore time, ms.
    pub restore_duration_ms: Option<f64>,
    /// Configured memory, MB.
    pub memory_size_mb: Option<f64>,
    /// Peak memory, MB.
    pub max_memory_used_mb: Option<f64>,
    /// Newer-style outcome (absent on older REPORT lines).
    pub status: Option<Status>,
    /// Newer-style error type, e.g. `Runtime.OutOfMemory`.
    pub error_type: Option<Cow<'a, str>>,
}

/// What one log event is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// An invocation starts (`START` / `platform.start`).
    Start {
        /// The invocation.
        request_id: &'a str,
    },
    /// An invocation's end (`END`): carries nothing REPORT does not.
    End {
        /// The invocation.
        request_id: &'a str,
    },
    /// `REPORT` / `platform.report`.
    Report(Report<'a>),
    /// `platform.runtimeDone`: the runtime's own view of the outcome.
    RuntimeDone {
        /// The invocation.
        request_id: &'a str,
        /// Its status.
        status: Option<Status>,
        /// Its error type.
        error_type: Option<Cow<'a, str>>,
    },
    /// `INIT_REPORT` / `RESTORE_REPORT` / `platform.initReport` / `platform.restoreReport`.
    PhaseReport {
        /// Whether the phase ran during an invocation (`Phase: invoke`).
        during_invoke: bool,
        /// The outcome; absent means success.
        status: Option<Status>,
        /// The error type.
        error_type: Option<Cow<'a, str>>,
    },
    /// Another platform line with nothing to count (INIT_START, XRAY, EXTENSION, …).
    Platform,
    /// An application line (or an older-style failure line such as `Task timed out`).
    App(AppLine<'a>),
}

/// An application line: its request id if it carries one, its level, and what it mentions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppLine<'a> {
    /// The request id written in the line, if any.
    pub request_id: Option<&'a str>,
    /// The level, if the line has one.
    pub level: Option<Level>,
    /// Failure signals found in the text.
    pub signals: Signals,
    /// `Task timed out after N seconds`: N.
    pub timed_out_after: Option<f64>,
    /// `chunk_size=N` or a JSON `chunk_size` field.
    pub chunk_size: Option<f64>,
}

impl AppLine<'_> {
    /// Whether the line is at error level or worse.
    pub fn is_error(&self) -> bool {
        self.level == Some(Level::Error)
    }
}

/// Parses one log event's message.
pub fn parse(message: &str) -> Line<'_> {
    // Nearly every line starts with a printable ASCII byte; only the others need a full trim.
    let trimmed = match message.as_bytes().first() {
        Some(b) if b.is_ascii_graphic() => message,
        _ => message.trim_start(),
    };
    match trimmed.as_bytes().first() {
        Some(b'{') => parse_json(trimmed).unwrap_or_else(|| Line::App(parse_text_app(message))),
        Some(b'S' | b'E' | b'R' | b'I' | b'X' | b'L' | b'T') => {
            parse_text_platform(trimmed).unwrap_or_else(|| Line::App(parse_text_app(message)))
        }
        _ => Line::App(parse_text_app(message)),
    }
}

fn parse_text_platform(line: &str) -> Option<Line<'_>> {
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
        return Some(Line::Report(Report {
            request_id: first_token(rest)?,
            duration_ms: f.number("Duration:"),
            init_duration_ms: f.number("Init Duration:"),
            restore_duration_ms: f.number("Restore Duration:"),
            memory_size_mb: f.number("Memory Size:"),
            max_memory_used_mb: f.number("Max Memory Used:"),
            status: f.word("Status:").map(Status::parse),
            error_type: f.word("Error Type:").map(Cow::Borrowed),
        }));
    }
    if first.starts_with("INIT_REPORT") || first.starts_with("RESTORE_REPORT") {
        let f = Fields::of(first);
        return Some(Line::PhaseReport {
            during_invoke: f.word("Phase:") == Some("invoke"),
            status: f.word("Status:").map(Status::parse),
            error_type: f.word("Error Type:").map(Cow::Borrowed),
        });
    }
    const QUIET: [&str; 7] = [
        "INIT_START",
        "RESTORE_START",
        "XRAY TraceId",
        "EXTENSION\t",
        "EXTENSION ",
        "TELEMETRY",
        "LOGS\t",
    ];
    if QUIET.iter().any(|p| first.starts_with(p)) {
        return Some(Line::Platform);
    }
    None
}

fn first_line(s: &str) -> &str {
    memchr::memchr(b'\n', s.as_bytes()).map_or(s, |end| &s[..end])
}

fn first_token(s: &str) -> Option<&str> {
    let s = s.trim_ascii_start();
    // Separators are ASCII, so the token's end is a char boundary.
    let token = &s[..token_end(s.as_bytes(), 0)];
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
                if let Some(colon) = memchr::memchr(b':', segment.as_bytes())
                    && fields.len < fields.tabbed.len()
                {
                    fields.tabbed[fields.len] = (segment[..colon].trim_ascii(), segment[colon + 1..].trim_ascii());
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
            return self.tabbed[..self.len]
                .iter()
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
    let mut from = 0;
    while let Some(pos) = line[from..].find(key) {
        let at = from + pos;
        let before = line[..at].trim_end_matches(' ');
        let qualified = before.len() < at
            && ["Billed", "Init", "Restore", "Max", "Memory", "Billed Restore"]
                .iter()
                .any(|q| before.ends_with(q));
        let boundary = at == 0 || line[..at].ends_with(['\t', ' ']);
        if boundary && !qualified {
            return Some(line[at + key.len()..].trim_start_matches(' '));
        }
        from = at + key.len();
    }
    None
}

/// Whether a token is a request id (UUID-shaped).
pub fn is_request_id(token: &str) -> bool {
    let b = token.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return false;
    }
    // Every byte a hex digit or a dash, and no dashes but the four: checked without a branch
    // per byte, since every application line's id goes through here.
    let (mut other, mut dashes) = (0u8, 0u8);
    for &c in b {
        let hex = c.wrapping_sub(b'0') < 10 || (c | 0x20).wrapping_sub(b'a') < 6;
        let dash = c == b'-';
        other |= u8::from(!hex && !dash);
        dashes += u8::from(dash);
    }
    other == 0 && dashes == 4
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

fn level_token(token: &str) -> Option<Level> {
    // `[ERROR]`, `ERROR:` and the like; brackets and colons are ASCII, so the cuts are char
    // boundaries.
    let b = token.as_bytes();
    let start = b.iter().take_while(|&&c| c == b'[').count();
    let closing = b[start..].iter().rev().take_while(|&&c| c == b']' || c == b':').count();
    Level::from_word(&token[start..b.len() - closing], false)
}

/// The tokens of a message's first line, separated by spaces, tabs and other control bytes, as
/// byte ranges. Written out by hand because it runs on every application line: a `str::split`
/// with a set of separators decodes UTF-8 char by char and cost more than the rest of the line.
struct Tokens<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Tokens<'a> {
        Tokens {
            bytes: text.as_bytes(),
            at: 0,
        }
    }
}

impl Iterator for Tokens<'_> {
    /// Start and end of the token.
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let b = self.bytes;
        let mut i = self.at;
        while i < b.len() && b[i] <= b' ' && b[i] != b'\n' {
            i += 1;
        }
        if i >= b.len() || b[i] == b'\n' {
            self.at = b.len();
            return None;
        }
        let start = i;
        i = token_end(b, i);
        self.at = i;
        Some((start, i))
    }
}

/// Reads a plain-text application line: request id and level from its first few tokens.
fn parse_text_app(message: &str) -> AppLine<'_> {
    let mut request_id = None;
    let mut level = None;
    let mut level_open = true;
    // Where the prefix of timestamps, request id and level ends: nothing to find before it, so
    // the signal scan starts there.
    let mut body_start = 0;
    let mut in_prefix = true;
    for (i, (start, end)) in Tokens::new(message).take(6).enumerate() {
        // Separators are ASCII, so token bounds are char boundaries.
        let token = &message[start..end];
        if request_id.is_none() && is_request_id(token) {
            request_id = Some(token);
            if in_prefix {
                body_start = end;
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
            body_start = end;
        }
        if request_id.is_some() && !level_open {
            break;
        }
    }
    if level.is_none() && starts_like_a_crash(first_line(message)) {
        level = Some(Level::Error);
    }
    let body = &message[body_start..];
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

/// The number written at byte `at` of `text` (digits and a decimal point).
fn number_at(text: &str, at: Option<usize>) -> Option<f64> {
    let rest = text.get(at?..)?;
    let b = rest.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    // Whole numbers (chunk sizes, mostly) are read directly.
    if b.get(digits) != Some(&b'.')
        && let Some(n) = whole_number(&b[..digits])
    {
        return Some(n);
    }
    let end = b
        .iter()
        .position(|&c| !(c.is_ascii_digit() || c == b'.'))
        .unwrap_or(b.len());
    rest[..end].trim_end_matches('.').parse().ok()
}

/// The top-level members of a JSON log line that matter here. Read by [`top_level`], a small
/// scanner that jumps from quote to quote and skips nested values whole: application lines are
/// most of a JSON-format log group, and building a serde struct for each one cost more than
/// everything else done to the line (the benchmark in `benches/` shows it).
#[derive(Debug, Default, PartialEq)]
struct TopLevel<'a> {
    kind: Option<&'a str>,
    record: RecordMember<'a>,
    level: Option<Level>,
    request_id: Option<&'a str>,
    error_type: bool,
    chunk_size: Option<f64>,
    /// The bytes that can hold a signal: from the first member to the last that is not a short
    /// timestamp, level or request id. Keeps the phrase scan off the line's fixed furniture.
    text: (usize, usize),
}

/// The `record` member of a JSON line: absent, an object (read as a platform record in the same
/// pass), or something else, which no platform line has.
#[derive(Debug, Default, PartialEq)]
enum RecordMember<'a> {
    #[default]
    Absent,
    Object(PlatformRecord<'a>),
    Other,
}

/// Walks the members of the JSON object that opens at byte `from` of `text`, in order:
/// `visit(key, where the value starts, where the key starts)` reads or skips the value and says
/// where it ends. Gives the index just past the object, or `None` if it is not well-formed (the
/// members before the fault have been visited).
fn walk_object<'a>(
    text: &'a str,
    from: usize,
    mut visit: impl FnMut(&'a str, usize, usize) -> Option<usize>,
) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, from);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_start = i;
        let key_end = string_end(b, i)?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let end = visit(&text[key_start + 1..key_end - 1], i, key_start)?;
        i = skip_ws(b, end);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// A string value without escapes, as it stands. Only short members are read this way, so a
/// long message is never searched for escapes.
fn plain_str(raw: &str) -> Option<&str> {
    raw.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|t| !t.contains('\\'))
}

/// A string value, unescaped if it has to be.
fn json_str(raw: &str) -> Option<Cow<'_, str>> {
    match plain_str(raw) {
        Some(text) => Some(Cow::Borrowed(text)),
        None if raw.starts_with('"') => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
        None => None,
    }
}

/// Reads the top-level members of a JSON object into `out`, or `None` if the line is not one.
/// (Filled in place: the struct, with a platform record inside, is too big to move per line.)
fn top_level<'a>(line: &'a str, out: &mut TopLevel<'a>) -> Option<()> {
    let mut level_seen = false;
    walk_object(line, 0, |key, start, key_start| {
        // A platform record is read where it stands, so its bytes are walked once.
        let end = match key {
            "record" if line.as_bytes().get(start) == Some(&b'{') => {
                let (record, end) = PlatformRecord::read_at(line, start)?;
                out.record = RecordMember::Object(record);
                end
            }
            _ => value_end(line.as_bytes(), start)?,
        };
        let raw = &line[start..end];
        // Furniture: members whose short values never carry a failure phrase.
        let furniture = match key {
            "timestamp" | "time" => true,
            "type" => {
                out.kind = plain_str(raw);
                false
            }
            "record" => {
                if out.record == RecordMember::Absent {
                    out.record = RecordMember::Other;
                }
                false
            }
            "level" | "severity" | "levelname" => {
                if !level_seen {
                    level_seen = true;
                    out.level = match plain_str(raw) {
                        Some(word) => Level::from_word(word, true),
                        None => raw.parse().ok().and_then(Level::from_number),
                    };
                }
                true
            }
            "requestId" => {
                out.request_id = plain_str(raw).filter(|t| !t.is_empty()).or(out.request_id);
                true
            }
            "AWSRequestId" | "AWSrequestId" | "request_id" | "aws_request_id" => {
                out.request_id = out.request_id.or(plain_str(raw).filter(|t| !t.is_empty()));
                true
            }
            "errorType" => {
                out.error_type = true;
                false
            }
            "chunk_size" => {
                out.chunk_size = json_number(raw);
                false
            }
            _ => false,
        };
        if !(furniture && raw.len() <= 48) {
            let from = if out.text.1 == 0 { key_start } else { out.text.0 };
            out.text = (from, end);
        }
        Some(end)
    })?;
    Some(())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Index just past the string that opens at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j = quote_or_backslash(b, j)?;
        if b[j] == b'\\' {
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Flags (in its high bit) each byte of `x` that is below `n` (`n` at most 128). The lowest
/// flagged byte is exact; bytes above it can be flagged by a borrow, so only it is used.
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// Flags (in its high bit) each byte of `x` equal to `c`; the lowest flag is exact.
fn bytes_equal(x: u64, c: u8) -> u64 {
    bytes_below(x ^ (ONES * u64::from(c)), 1)
}

/// The first byte at or after `from` that `is_hit`, looked for eight bytes at a time with
/// `flag_word`, which flags such bytes of a word as [`bytes_below`] does. The members, tokens
/// and values searched here are short, shorter than it takes a SIMD search to pay for its setup.
fn first_hit(b: &[u8], from: usize, flag_word: impl Fn(u64) -> u64, is_hit: impl Fn(u8) -> bool) -> Option<usize> {
    let mut j = from;
    while let Some(chunk) = b.get(j..j + 8) {
        let hits = flag_word(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if hits != 0 {
            return Some(j + hits.trailing_zeros() as usize / 8);
        }
        j += 8;
    }
    b.get(j..)?.iter().position(|&c| is_hit(c)).map(|k| j + k)
}

/// Where the token that starts at `from` ends: at the first space or control byte (a tab, the
/// end of the line), or at the end of the text.
fn token_end(b: &[u8], from: usize) -> usize {
    first_hit(b, from, |x| bytes_below(x, b' ' + 1), |c| c <= b' ').unwrap_or(b.len())
}

/// The first `"` or `\` at or after `from`.
fn quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    first_hit(
        b,
        from,
        |x| bytes_equal(x, b'"') | bytes_equal(x, b'\\'),
        |c| matches!(c, b'"' | b'\\'),
    )
}

/// The first `"`, `{`, `[`, `}` or `]` at or after `from`. Setting bit 5 folds `[` into `{` and
/// `]` into `}`, and no other byte into either.
fn structural(b: &[u8], from: usize) -> Option<usize> {
    let folded = |x: u64| x | (ONES * 0x20);
    first_hit(
        b,
        from,
        |x| bytes_equal(x, b'"') | bytes_equal(folded(x), b'{') | bytes_equal(folded(x), b'}'),
        |c| matches!(c, b'"' | b'{' | b'[' | b'}' | b']'),
    )
}

/// A JSON number: whole numbers of up to 15 digits directly (exact), others through `f64`'s
/// parser.
fn json_number(raw: &str) -> Option<f64> {
    whole_number(raw.as_bytes()).or_else(|| raw.parse().ok())
}

/// `digits` as a number, if they are 1 to 15 ASCII digits: few enough to be exact in an `f64`,
/// and quicker to add up than to hand to `f64`'s parser.
fn whole_number(digits: &[u8]) -> Option<f64> {
    ((1..=15).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit))
        .then(|| digits.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')) as f64)
}

/// Index just past the value that starts at `i`; nested objects and arrays are skipped whole.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                j = structural(b, j)?;
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                }
                j += 1;
            }
        }
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))?;
            (len > 0).then_some(i + len)
        }
    }
}

/// The members of a `platform.*` record that matter here.
#[derive(Debug, Default, PartialEq)]
struct PlatformRecord<'a> {
    request_id: Option<&'a str>,
    status: Option<Cow<'a, str>>,
    error_type: Option<Cow<'a, str>>,
    phase: Option<Cow<'a, str>>,
    metrics: PlatformMetrics,
}

#[derive(Debug, Default, PartialEq)]
struct PlatformMetrics {
    duration_ms: Option<f64>,
    memory_size_mb: Option<f64>,
    max_memory_used_mb: Option<f64>,
    init_duration_ms: Option<f64>,
    restore_duration_ms: Option<f64>,
}

impl<'a> PlatformRecord<'a> {
    /// Reads the record object that opens at byte `from` of `text`, and where it ends.
    fn read_at(text: &'a str, from: usize) -> Option<(PlatformRecord<'a>, usize)> {
        let b = text.as_bytes();
        let mut record = PlatformRecord::default();
        let end = walk_object(text, from, |key, start, _| {
            if key == "metrics" && b.get(start) == Some(&b'{') {
                let m = &mut record.metrics;
                let numbers = walk_object(text, start, |key, start, _| {
                    let end = value_end(b, start)?;
                    let slot = match key {
                        "durationMs" => &mut m.duration_ms,
                        "memorySizeMB" => &mut m.memory_size_mb,
                        "maxMemoryUsedMB" => &mut m.max_memory_used_mb,
                        "initDurationMs" => &mut m.init_duration_ms,
                        "restoreDurationMs" => &mut m.restore_duration_ms,
                        _ => return Some(end),
                    };
                    *slot = json_number(&text[start..end]);
                    Some(end)
                });
                // Odd metrics leave the numbers unknown, as long as the record is still JSON.
                return numbers.or_else(|| value_end(b, start));
            }
            let end = value_end(b, start)?;
            let value = &text[start..end];
            match key {
                "requestId" => record.request_id = plain_str(value),
                "status" => record.status = json_str(value),
                "errorType" => record.error_type = json_str(value),
                "phase" => record.phase = json_str(value),
                _ => {}
            }
            Some(end)
        })?;
        Some((record, end))
    }
}

fn parse_json(line: &str) -> Option<Line<'_>> {
    let mut top = TopLevel::default();
    top_level(line, &mut top)?;
    if let Some(kind) = top.kind.and_then(|k| k.strip_prefix("platform.")) {
        let mut absent = PlatformRecord::default();
        let record = match &mut top.record {
            RecordMember::Object(record) => record,
            RecordMember::Absent => &mut absent,
            RecordMember::Other => return None,
        };
        let status = record.status.as_deref().map(Status::parse);
        return Some(match kind {
            "start" => Line::Start {
                request_id: record.request_id?,
            },
            "report" => Line::Report(Report {
                request_id: record.request_id?,
                duration_ms: record.metrics.duration_ms,
                init_duration_ms: record.metrics.init_duration_ms,
                restore_duration_ms: record.metrics.restore_duration_ms,
                memory_size_mb: record.metrics.memory_size_mb,
                max_memory_used_mb: record.metrics.max_memory_used_mb,
                status,
                error_type: record.error_type.take(),
            }),
            "runtimeDone" => Line::RuntimeDone {
                request_id: record.request_id?,
                status,
                error_type: record.error_type.take(),
            },
            "initReport" | "restoreReport" => Line::PhaseReport {
                during_invoke: record.phase.as_deref() == Some("invoke"),
                status,
                error_type: record.error_type.take(),
            },
            _ => Line::Platform,
        });
    }
    // An unhandled exception written as {"errorMessage":…,"errorType":…} is an error.
    let level = top.level.or(top.error_type.then_some(Level::Error));
    let text = &line[top.text.0..top.text.1];
    let found: Scan = scan_line(text);
    Some(Line::App(AppLine {
        request_id: top.request_id,
        level,
        signals: found.signals,
        timed_out_after: number_at(text, found.timed_out_after_at),
        chunk_size: top.chunk_size.or_else(|| number_at(text, found.chunk_size_at)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Signal;

    const ID: &str = "b70435cc-261c-4438-b9b6-efe4c8f04b21";

    fn report(line: &str) -> Report<'_> {
        match parse(line) {
            Line::Report(r) => r,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn app(line: &str) -> AppLine<'_> {
        match parse(line) {
            Line::App(a) => a,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn start_and_end_lines_give_their_request_id() {
        let cases = [
            (
                "START RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21 Version: $LATEST\n",
                true,
            ),
            (
                "START RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tVersion: 12\n",
                true,
            ),
            ("END RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\n", false),
            (
                r#"{"time":"2026-11-29T10:00:00.000Z","type":"platform.start","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","version":"$LATEST"}}"#,
                true,
            ),
        ];
        for (line, is_start) in cases {
            let expected = if is_start {
                Line::Start { request_id: ID }
            } else {
                Line::End { request_id: ID }
            };
            assert_eq!(parse(line), expected, "{line}");
        }
    }

    #[test]
    fn report_lines_give_every_field_they_carry() {
        struct Case {
            line: &'static str,
            duration: Option<f64>,
            init: Option<f64>,
            memory: Option<f64>,
            max_memory: Option<f64>,
            status: Option<Status>,
            error_type: Option<&'static str>,
        }
        let cases = [
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 3004.92 ms\tBilled Duration: 3117 ms\tMemory Size: 128 MB\tMax Memory Used: 33 MB\tInit Duration: 111.23 ms\t\n",
                duration: Some(3004.92),
                init: Some(111.23),
                memory: Some(128.0),
                max_memory: Some(33.0),
                status: None,
                error_type: None,
            },
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 3016.78 ms\tBilled Duration: 3101 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB\tStatus: timeout\n",
                duration: Some(3016.78),
                init: None,
                memory: Some(128.0),
                max_memory: Some(31.0),
                status: Some(Status::Timeout),
                error_type: None,
            },
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21 Duration: 32973.23 ms Billed Duration: 32974 ms Memory Size: 128 MB Max Memory Used: 128 MB Status: error Error Type: Runtime.OutOfMemory",
                duration: Some(32973.23),
                init: None,
                memory: Some(128.0),
                max_memory: Some(128.0),
                status: Some(Status::Error),
                error_type: Some("Runtime.OutOfMemory"),
            },
            Case {
                line: "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 133.61 ms\tBilled Duration: 134 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tRestore Duration: 518.37 ms\tBilled Restore Duration: 519 ms\tStatus: error\tError Type: Runtime.ExitError\t\nXRAY TraceId: 1-5d83-abc\tSegmentId: 3125\tSampled: true\n",
                duration: Some(133.61),
                init: None,
                memory: Some(128.0),
                max_memory: Some(40.0),
                status: Some(Status::Error),
                error_type: Some("Runtime.ExitError"),
            },
            Case {
                line: r#"{"time":"2026-11-29T10:00:00.000Z","type":"platform.report","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","metrics":{"durationMs":30000.0,"billedDurationMs":30000,"memorySizeMB":128,"maxMemoryUsedMB":74,"initDurationMs":985.4},"status":"timeout"}}"#,
                duration: Some(30000.0),
                init: Some(985.4),
                memory: Some(128.0),
                max_memory: Some(74.0),
                status: Some(Status::Timeout),
                error_type: None,
            },
            Case {
                line: r#"{"time":"2026-11-29T10:00:00.000Z","type":"platform.report","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","metrics":{"durationMs":12.5},"status":"error","errorType":"Runtime.OutOfMemory","newField":[1]}}"#,
                duration: Some(12.5),
                init: None,
                memory: None,
                max_memory: None,
                status: Some(Status::Error),
                error_type: Some("Runtime.OutOfMemory"),
            },
        ];
        for c in cases {
            let r = report(c.line);
            assert_eq!(r.request_id, ID, "{}", c.line);
            assert_eq!(r.duration_ms, c.duration, "{}", c.line);
            assert_eq!(r.init_duration_ms, c.init, "{}", c.line);
            assert_eq!(r.memory_size_mb, c.memory, "{}", c.line);
            assert_eq!(r.max_memory_used_mb, c.max_memory, "{}", c.line);
            assert_eq!(r.status, c.status, "{}", c.line);
            assert_eq!(r.error_type.as_deref(), c.error_type, "{}", c.line);
        }
    }

    #[test]
    fn a_snapstart_report_keeps_restore_apart_from_billed_restore() {
        let r = report(
            "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 10.00 ms\tRestore Duration: 518.37 ms\tBilled Restore Duration: 519 ms\n",
        );
        assert_eq!(r.restore_duration_ms, Some(518.37));
        assert_eq!(r.duration_ms, Some(10.0));
    }

    #[test]
    fn phase_reports_give_phase_status_and_error_type() {
        let cases = [
            (
                "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout\n",
                false,
                Some(Status::Timeout),
                None,
            ),
            (
                "INIT_REPORT Init Duration: 1236.04 ms\tPhase: invoke\tStatus: error\tError Type: Extension.Crash\n",
                true,
                Some(Status::Error),
                Some("Extension.Crash"),
            ),
            (
                "RESTORE_REPORT Restore Duration: 1236.04 ms\tStatus: error\tError Type: Runtime.ExitError\n",
                false,
                Some(Status::Error),
                Some("Runtime.ExitError"),
            ),
            (
                r#"{"time":"t","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"error","errorType":"Runtime.Unknown","metrics":{"durationMs":10.0}}}"#,
                false,
                Some(Status::Error),
                Some("Runtime.Unknown"),
            ),
        ];
        for (line, invoke, status, error_type) in cases {
            match parse(line) {
                Line::PhaseReport {
                    during_invoke,
                    status: s,
                    error_type: e,
                } => {
                    assert_eq!(during_invoke, invoke, "{line}");
                    assert_eq!(s, status, "{line}");
                    assert_eq!(e.as_deref(), error_type, "{line}");
                }
                other => panic!("{line} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn quiet_platform_lines_count_nothing() {
        let cases = [
            "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0d5c\n",
            "XRAY TraceId: 1-5d83-abc\tSegmentId: 3125\tSampled: true\n",
            "EXTENSION\tName: datadog-agent\tState: Ready\tEvents: [INVOKE,SHUTDOWN]\n",
            r#"{"time":"t","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"nodejs:20"}}"#,
            r#"{"time":"t","type":"platform.logsDropped","record":{"reason":"x","droppedRecords":3}}"#,
        ];
        for line in cases {
            assert_eq!(parse(line), Line::Platform, "{line}");
        }
    }

    #[test]
    fn runtime_done_gives_status() {
        let line = r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","status":"failure","errorType":"Runtime.ExitError","metrics":{"durationMs":1233.9,"producedBytes":0}}}"#;
        match parse(line) {
            Line::RuntimeDone {
                request_id,
                status,
                error_type,
            } => {
                assert_eq!(request_id, ID);
                assert_eq!(status, Some(Status::Failure));
                assert_eq!(error_type.as_deref(), Some("Runtime.ExitError"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn application_lines_of_every_runtime_give_request_id_and_level() {
        let cases: [(&str, Option<&str>, Option<Level>); 19] = [
            (
                "[ERROR]\t2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tRequest failed\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "[INFO]\t2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tERROR in the message is not a level\n",
                Some(ID),
                Some(Level::Info),
            ),
            (
                "[ERROR] KeyError: 'x'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 3\n",
                None,
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tERROR\tError: boom\n    at handler (/var/task/index.js:3:9)\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tERROR\tInvoke Error \t{\"errorType\":\"Error\",\"errorMessage\":\"x\"}\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tWARN\tslow\n",
                Some(ID),
                Some(Level::Warn),
            ),
            ("2026/11/29 10:00:01 ERROR failed to list\n", None, Some(Level::Error)),
            ("2026/11/29 10:00:01 processing the ERROR queue\n", None, None),
            (
                "2026-11-29 10:05:01.234 b70435cc-261c-4438-b9b6-efe4c8f04b21 ERROR UserSync - Failed\n",
                Some(ID),
                Some(Level::Error),
            ),
            (
                "2026-11-29T10:00:01.123456Z ERROR my_crate::handler: failed\n",
                None,
                Some(Level::Error),
            ),
            (
                "[2026-11-29T10:00:01Z ERROR my_crate] failed\n",
                None,
                Some(Level::Error),
            ),
            (
                "time=2026-11-29T10:00:01Z level=error msg=\"failed\"\n",
                None,
                Some(Level::Error),
            ),
            (
                "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\n",
                None,
                Some(Level::Error),
            ),
            (
                "thread 'main' panicked at src/main.rs:10:5:\nboom\n",
                None,
                Some(Level::Error),
            ),
            (
                "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n",
                None,
                Some(Level::Error),
            ),
            (
                "RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21 Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n",
                Some(ID),
                None,
            ),
            (
                "2024-03-04T17:22:38.033Z b70435cc-261c-4438-b9b6-efe4c8f04b21 Task timed out after 3.00 seconds\n",
                Some(ID),
                None,
            ),
            ("just some words\n", None, None),
            ("Error: plain words first\n", None, None),
        ];
        for (line, id, level) in cases {
            let a = app(line);
            assert_eq!(a.request_id, id, "request id of {line:?}");
            assert_eq!(a.level, level, "level of {line:?}");
        }
    }

    #[test]
    fn json_application_lines_give_request_id_and_level_in_any_case() {
        let cases: [(&str, Option<&str>, Option<Level>); 7] = [
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"ERROR","message":"boom","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
                Some(ID),
                Some(Level::Error),
            ),
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"error","message":"boom","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
                Some(ID),
                Some(Level::Error),
            ),
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"warning","message":"ERROR is a word here","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
                Some(ID),
                Some(Level::Warn),
            ),
            (
                r#"{"timestamp":"2026-11-29T10:00:01Z","level":"FATAL","message":"x","AWSRequestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21","logger":"com.x"}"#,
                Some(ID),
                Some(Level::Error),
            ),
            (
                r#"{"level":50,"time":1795946400000,"msg":"pino error"}"#,
                None,
                Some(Level::Error),
            ),
            (
                r#"{"errorMessage":"Rate exceeded","errorType":"com.amazonaws.AmazonServiceException","stackTrace":["a","b"]}"#,
                None,
                Some(Level::Error),
            ),
            (r#"{"message":"no level at all"}"#, None, None),
        ];
        for (line, id, level) in cases {
            let a = app(line);
            assert_eq!(a.request_id, id, "request id of {line}");
            assert_eq!(a.level, level, "level of {line}");
        }
    }

    #[test]
    fn task_timed_out_gives_the_timeout_in_seconds() {
        let a =
            app("2024-03-04T17:22:38.033Z b70435cc-261c-4438-b9b6-efe4c8f04b21 Task timed out after 3.00 seconds\n");
        assert_eq!(a.timed_out_after, Some(3.0));
        let a = app(
            r#"{"timestamp":"t","level":"ERROR","message":"Task timed out after 30.02 seconds","requestId":"b70435cc-261c-4438-b9b6-efe4c8f04b21"}"#,
        );
        assert_eq!(a.timed_out_after, Some(30.02));
    }

    #[test]
    fn chunk_sizes_are_read_from_text_and_json() {
        assert_eq!(
            app("[INFO]\tt\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tprocessed chunk_size=50 items").chunk_size,
            Some(50.0)
        );
        assert_eq!(
            app(r#"{"level":"INFO","message":"batch","chunk_size":25}"#).chunk_size,
            Some(25.0)
        );
        assert_eq!(app("nothing").chunk_size, None);
    }

    #[test]
    fn numbers_after_a_phrase_are_read_whole_or_decimal() {
        let cases = [
            ("50 items", Some(50.0)),
            ("50", Some(50.0)),
            ("3.00 seconds", Some(3.0)),
            ("50. Done", Some(50.0)),
            (".5", Some(0.5)),
            ("123456789012345678", Some(123_456_789_012_345_678.0)),
            ("", None),
            ("x50", None),
        ];
        for (text, number) in cases {
            assert_eq!(number_at(text, Some(0)), number, "{text:?}");
        }
        assert_eq!(number_at("chunk_size=7", Some(11)), Some(7.0));
        assert_eq!(number_at("short", Some(40)), None);
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
            assert_eq!(json_number(raw), number, "{raw}");
        }
    }

    #[test]
    fn request_ids_are_uuid_shaped() {
        let cases = [
            ("b70435cc-261c-4438-b9b6-efe4c8f04b21", true),
            ("B70435CC-261C-4438-B9B6-EFE4C8F04B21", true),
            ("b70435cc-261c-4438-b9b6-efe4c8f04b2", false),
            ("b70435cc-261c-4438-b9b6-efe4c8f04b2g", false),
            ("b70435cc-261c-4438-b9b6-efe4c8f-4b21", false),
            ("b70435cc0261c-4438-b9b6-efe4c8f04b21", false),
            ("2026-11-29T10:00:01.123Z", false),
        ];
        for (token, is_id) in cases {
            assert_eq!(is_request_id(token), is_id, "{token}");
        }
    }

    #[test]
    fn signals_ride_along_with_the_line() {
        let a = app("2026/11/29 10:10:05 ERROR failed to open db: pq: sorry, too many clients already");
        assert!(a.signals.has(Signal::TooManyConnections));
        assert!(a.is_error());
    }

    #[test]
    fn the_json_scanner_reads_only_top_level_members() {
        let line = r#"{ "context": {"level": "debug", "requestId": "x", "list": [1, "}", {"a": "]"}]}, "msg": "say \"level\": \"ERROR\"", "level" : "Error", "n": -1.5e3, "ok": true, "requestId":"aaaaaaaa-0000-4000-8000-000000000001", "chunk_size": 40 }"#;
        let mut top = TopLevel::default();
        assert_eq!(top_level(line, &mut top), Some(()));
        assert_eq!(top.level, Some(Level::Error));
        assert_eq!(top.request_id, Some("aaaaaaaa-0000-4000-8000-000000000001"));
        assert_eq!(top.chunk_size, Some(40.0));
        for broken in [r#"{"a": "#, r#"{"a" 1}"#, r#"{"a": [1, 2}"#, "{", r#"{"a":1,}"#, "[1]"] {
            assert_eq!(top_level(broken, &mut TopLevel::default()), None, "{broken}");
        }
    }

    #[test]
    fn platform_records_read_escaped_strings_and_tolerate_odd_metrics() {
        let line = r#"{"time":"t","type":"platform.report","record":{"requestId":"r-1","status":"time\u006fut","errorType":"Sandbox.Timed\"Out\"","metrics":null}}"#;
        match parse(line) {
            Line::Report(r) => {
                assert_eq!(r.request_id, "r-1");
                assert_eq!(r.status, Some(Status::Timeout));
                assert_eq!(r.error_type.as_deref(), Some("Sandbox.Timed\"Out\""));
                assert_eq!(r.duration_ms, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn platform_records_are_read_wherever_they_stand_and_whatever_their_metrics() {
        let id = "r-1";
        let cases = [
            // The record first, the type after it.
            (
                r#"{"record":{"requestId":"r-1","metrics":{"durationMs":12.5,"memorySizeMB":128}},"type":"platform.report","time":"t"}"#,
                Some(12.5),
            ),
            // Metrics that are an object but not well-formed members leave the numbers unknown.
            (
                r#"{"time":"t","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs" 12},"status":"success"}}"#,
                None,
            ),
            (
                r#"{"time":"t","type":"platform.report","record":{"metrics":[1,{"x":"}"}],"requestId":"r-1"}}"#,
                None,
            ),
        ];
        for (line, duration) in cases {
            match parse(line) {
                Line::Report(r) => {
                    assert_eq!(r.request_id, id, "{line}");
                    assert_eq!(r.duration_ms, duration, "{line}");
                }
                other => panic!("{line} gave {other:?}"),
            }
        }
        // A platform line whose record is not an object is no platform line.
        assert!(matches!(
            parse(r#"{"time":"t","type":"platform.report","record":"r-1"}"#),
            Line::App(_)
        ));
        // An application line may have a member called record.
        let a = app(r#"{"level":"ERROR","record":{"id":7},"message":"Too many connections"}"#);
        assert!(a.is_error() && a.signals.has(Signal::TooManyConnections));
    }

    /// Issue 12: an application that logged `{ "record":` crashed the processor, which indexed
    /// the byte after the colon.
    #[test]
    fn json_cut_off_right_after_a_member_colon_is_an_app_line_not_a_panic() {
        let cases = [
            r#"{ "record":"#,
            r#"{"record":"#,
            r#"{"record": "#,
            r#"{"type":"platform.report","record":"#,
            r#"{"type":"platform.report","record":{"metrics":"#,
            r#"{"type":"platform.report","record":{"metrics": "#,
            r#"{"type":"platform.report","record":{"requestId":"r-1","metrics":"#,
            r#"{"level":"#,
            r#"{"a":"#,
        ];
        for line in cases {
            let a = app(line);
            assert_eq!(a.level, None, "{line}");
            assert_eq!(a.request_id, None, "{line}");
        }
    }

    #[test]
    fn broken_json_falls_back_to_text() {
        let a = app("{not json at all ERROR");
        assert_eq!(a.level, None);
        let a = app(r#"{"level": {"weird": true}, "message": "Too many connections"}"#);
        assert!(a.signals.has(Signal::TooManyConnections));
    }
}
