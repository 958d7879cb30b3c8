//! Writes the sample CloudWatch Logs subscription events in `events/` and the totals that a
//! replay of all of them must produce in `tests/data/expected-counts.json`.
//!
//! Run with `cargo run --example generate_events`. The output is the same bytes on every run:
//! fixed timestamps, ids derived from counters, gzip headers without a modification time.
//! Every invocation below declares the classes it must be counted in; the totals and the table
//! in `events/README.md` are summed from those declarations, never typed by hand. It does not
//! use the `lambda_watchdog` library on purpose: it is the oracle the library is tested against.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;

use Class::*;
use Line::*;

/// 2026-11-29T00:00:00Z in epoch milliseconds. Every sample happens between 10:00 and 10:20.
const DAY_MS: u64 = 1_795_910_400_000;
/// Mirrors `exclude` in watchdog.toml: the processor's own group must count nothing.
const EXCLUDED_GROUP_PREFIX: &str = "/aws/lambda/lambda-watchdog";
const ACCOUNT: &str = "123456789012";

/// The per-function metrics of expected-counts.json; each variant's name is the metric's name.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    Invocations,
    Timeouts,
    OutOfMemory,
    Errors,
    RateLimited,
    TooManyConnections,
    ConnectionErrors,
    ColdStarts,
    NearTimeout,
    ShortRuns,
    ApiRateLimitExceeded,
}

const CLASSES: [Class; 11] = [
    Invocations,
    Timeouts,
    OutOfMemory,
    Errors,
    RateLimited,
    TooManyConnections,
    ConnectionErrors,
    ColdStarts,
    NearTimeout,
    ShortRuns,
    ApiRateLimitExceeded,
];
type Counts = [u64; CLASSES.len()];

/// Writes into the repository, or into the folder given as the only argument (scripts compare a
/// fresh generation there with the files shipped in the repository).
fn main() -> io::Result<()> {
    let root = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    };
    let events = root.join("events");
    fs::create_dir_all(&events)?;
    // expected-counts.json describes every file in events/: drop those of an earlier run.
    for entry in fs::read_dir(&events)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            fs::remove_file(path)?;
        }
    }
    // Files are numbered in the order written here, which is the order a replay reads them.
    let mut g = Gen::new(events);
    scraper_worker(&mut g)?;
    uploader(&mut g)?;
    orch_user(&mut g)?;
    orch_files(&mut g)?;
    report_builder(&mut g)?;
    thumbnailer(&mut g)?;
    special_deliveries(&mut g)?;
    // One sample per runtime and Lambda feature that the fleet above does not cover (issue 13).
    invoicer(&mut g)?;
    profile_sync(&mut g)?;
    ledger(&mut g)?;
    notifier(&mut g)?;
    shared_group(&mut g)?;
    catalog(&mut g)?;
    g.finish(&root)
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Times are epoch ms; line offsets are ms from the invocation's START.

/// Python 3.12, plain text. Configured: timeout 300 s and chunked, so near timeout from 240 s
/// and short runs under 60 s.
fn scraper_worker(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Python 3.12, text";
    const KEY_ERROR: &str = "[ERROR] KeyError: 'next_page'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 41, in handler\n    page = resp[\"next_page\"]\n";
    const LIMITED: &str = "Request failed: API Rate Limit Exceeded (retry-after 30)";
    const RETRYING: &str = "page 4 returned an error page, retrying";
    const TIMED_OUT: &str = "{time} {id} Task timed out after 300.00 seconds\n";
    let mut s = g.stream("scraper-worker", Style::Python, "python:3.12.v41", 1024);

    let t = s.init(at(10, 0, 0.0), 1_203.55);
    let cold = run(31_402.17, 141).xray();
    let t = scrape(&mut s, t + 14, cold, &[ColdStarts, ShortRuns], &[]);
    let t = scrape(&mut s, t + 420, run(22_118.4, 143), &[ShortRuns], &[]);
    // The level decides, not a word in the message: this WARNING is no error.
    let warning = [(9_050, Log("WARNING", RETRYING))];
    let t = scrape(&mut s, t + 380, run(44_870.02, 150), &[ShortRuns], &warning);
    // Starts in this file and ends in the next, where its traceback carries no request id.
    let crash_start = t + 510;
    let crash = s.start(crash_start);
    s.line(crash_start + 820, &crash, info("fetching page 7"));
    g.direct(
        "scraper-worker-python-text-a",
        KIND,
        "Cold start (INIT_START, Init Duration, XRAY line in the REPORT event), three short runs, \
         a WARNING that mentions an error, the START of an invocation that ends in the next file.",
        Payload::Data(s.batch()),
    )?;

    s.line(crash_start + 3_050, &crash, Raw(KEY_ERROR));
    let crashed = run(3_112.64, 151).status("error", Some("Runtime.Unhandled"));
    let t = s.end(&crash, crash_start, crashed, &[Errors]);
    // Three rate-limit errors in one invocation count once.
    let retries = [
        (2_000, error(LIMITED)),
        (33_000, error(LIMITED)),
        (64_000, error(LIMITED)),
    ];
    let expect = [Errors, RateLimited, ApiRateLimitExceeded];
    let t = scrape(&mut s, t + 450, run(96_530.75, 162), &expect, &retries);
    let t = scrape(&mut s, t + 390, run(27_544.3, 158), &[ShortRuns], &[]);
    g.direct(
        "scraper-worker-python-text-b",
        KIND,
        "Unhandled KeyError without request id between a START of the previous file and a \
         REPORT with Status: error; API Rate Limit Exceeded logged three times; a short run.",
        Payload::Data(s.batch()),
    )?;

    let t = scrape(&mut s, t + 610, run(262_140.33, 204), &[NearTimeout], &[]);
    // Old style: no status on REPORT, and the timeout line comes after it.
    let (timeout, timed_out) = (run(300_000.0, 388), [(300_001, Raw(TIMED_OUT))]);
    scrape(&mut s, t + 520, timeout, &[Timeouts], &timed_out);
    g.direct(
        "scraper-worker-python-text-c",
        KIND,
        "Near timeout (262 s of 300 s); an old-style timeout whose `Task timed out` line follows \
         its REPORT.",
        Payload::Data(s.batch()),
    )
}

/// A scraper-worker invocation that logs a chunk every 7.3 s, and `extra` lines.
fn scrape(s: &mut Stream, at: u64, report: Report, expect: &[Class], extra: &[(u64, Line)]) -> u64 {
    let last = report.duration_ms as u64 - 1_500;
    let chunks = (900..last).step_by(7_300);
    let mut lines: Vec<_> = chunks
        .map(|offset| (offset, info("processed chunk_size=50 items")))
        .collect();
    lines.extend_from_slice(extra);
    lines.sort_by_key(|(offset, _)| *offset);
    s.invoke(at, &lines, report, expect)
}

/// Node.js 20, JSON format, not configured: 300 s until its own timeout teaches 30 s.
fn uploader(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Node.js 20, JSON";
    const DEPRECATION: &str = "(node:8) [DEP0005] DeprecationWarning: Buffer() is deprecated due to security and usability issues. Please use the Buffer.alloc(), Buffer.allocUnsafe(), or Buffer.from() methods instead.\n";
    const CAPPED: &str = "Error: ER_CON_COUNT_ERROR: Too many connections\n    at Handshake.Sequence._packetToError (/var/task/node_modules/mysql/lib/protocol/sequences/Sequence.js:47:14)";
    const REFUSED: &str = "Error: connect ECONNREFUSED 10.0.3.7:3306\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)";
    const GCS: &str =
        "\n<--- Last few GCs --->\n\n[8:0x6b5d0c0]     6410 ms: Mark-Compact 500.1 (513.6) -> 498.7 (514.1) MB\n";
    const HEAP: &str = "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n";
    let mut s = g.stream("uploader", Style::Json, "nodejs:20.v48", 512);

    let t = s.init(at(10, 1, 0.0), 412.7);
    let lines = [(15, info("uploading batch of 12 files"))];
    let t = s.invoke(t + 3, &lines, run(2_013.0, 96), &[ColdStarts]);
    // Not every line of a JSON-format group is JSON.
    let lines = [(40, Raw(DEPRECATION)), (3_500, info("uploaded 12 files"))];
    let t = s.invoke(t + 700, &lines, run(3_604.81, 101), &[]);
    // MySQL's connection cap, logged twice: counts once.
    let lines = [(1_200, error(CAPPED)), (4_300, error(CAPPED))];
    let expect = [TooManyConnections, ConnectionErrors, Errors];
    let t = s.invoke(t + 950, &lines, run(7_911.0, 104), &expect);
    let failed = run(2_207.5, 99).status("error", Some("Error"));
    let lines = [(2_150, error(REFUSED))];
    let t = s.invoke(t + 620, &lines, failed, &[ConnectionErrors, Errors]);
    // A logging library that writes the level in lower case.
    let lines = [(4_000, Log("error", "upload webhook answered 500, retrying"))];
    s.invoke(t + 800, &lines, run(4_402.25, 103), &[Errors]);
    g.direct(
        "uploader-node-json-a",
        KIND,
        "Cold start (initStart, initReport, initDurationMs), a non-JSON DeprecationWarning line, \
         ER_CON_COUNT_ERROR twice, ECONNREFUSED with status error, a lower-case `error` level.",
        Payload::Data(s.batch()),
    )?;

    let lines = [
        (30, info("resizing 48 MB upload in memory")),
        (6_500, Raw(GCS)),
        (6_700, Raw(HEAP)),
    ];
    let oom = run(6_812.0, 512).status("error", Some("Runtime.OutOfMemory"));
    let t = s.invoke(at(10, 1, 50.0), &lines, oom, &[OutOfMemory, Errors]);
    // The crash reset the environment.
    let t = s.init(t + 40, 398.1);
    let lines = [(20, info("uploading batch of 3 files"))];
    let t = s.invoke(t + 2, &lines, run(2_771.33, 90), &[ColdStarts]);
    // Teaches this unconfigured function its 30 s timeout.
    let timeout = run(30_000.0, 188).status("timeout", None);
    let lines = [(25, info("uploading 2 GB archive"))];
    s.invoke(t + 1_300, &lines, timeout, &[Timeouts]);
    g.direct(
        "uploader-node-json-b",
        KIND,
        "Out of memory (V8 heap messages, Runtime.OutOfMemory, 512 of 512 MB); re-init; a timeout \
         with durationMs 30000.0, which teaches a 30 s timeout.",
        Payload::Data(s.batch()),
    )?;

    let t = s.init(at(10, 3, 0.0), 405.2);
    let lines = [(30, info("uploading 1 GB archive"))];
    let near = run(25_004.9, 140);
    let t = s.invoke(t + 2, &lines, near, &[ColdStarts, NearTimeout]);
    // As on Lambda Managed Instances: no billedDurationMs, memorySizeMB, maxMemoryUsedMB.
    let managed = run(3_118.0, 0).without_memory();
    s.invoke(t + 2_000, &[(25, info("uploading 5 files"))], managed, &[]);
    g.direct(
        "uploader-node-json-c",
        KIND,
        "A 25 s run of the learned 30 s timeout (near timeout); a platform.report without \
         billedDurationMs, memorySizeMB and maxMemoryUsedMB.",
        Payload::Data(s.batch()),
    )
}

/// Java 21, plain text with Log4j2, not configured: 300 s until its own timeout teaches 60 s.
fn orch_user(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Java 21, text (Log4j2)";
    const RESET: &str = "UserSync - Failed to sync user 4411: java.net.SocketException: Connection reset by peer";
    const HEAP: &str = "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3541)\n\tat com.example.orch.UserSync.loadAll(UserSync.java:88)\n";
    const THROTTLED: &str = "{\"errorMessage\":\"Rate exceeded (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ThrottlingException; Request ID: V4KG1B2O6JJ7LL3RMS0LQ8LL1BVV4KQNSO5AEMVJF66Q9ASUAAJG)\",\"errorType\":\"com.amazonaws.services.dynamodbv2.model.AmazonDynamoDBException\",\"stackTrace\":[\"com.amazonaws.http.AmazonHttpClient$RequestExecutor.handleErrorResponse(AmazonHttpClient.java:1879)\",\"com.example.orch.Checkpoint.save(Checkpoint.java:52)\"]}\n";
    let mut s = g.stream("orch-user", Style::Log4j, "java:21.v30", 1024);

    // The first init hit the 10 s limit; Lambda ran it again inside the first invocation,
    // whose REPORT carries that second init duration.
    s.init(at(10, 5, 0.0), 2_310.48);
    let init_timeout = "INIT_REPORT Init Duration: 9999.92 ms\tPhase: init\tStatus: timeout\n";
    s.log(at(10, 5, 10.0), init_timeout.to_string());
    let lines = [
        (2_400, info("UserSync - Syncing 120 users from directory")),
        (13_900, info("UserSync - Synced 120 users")),
    ];
    let t = s.invoke(at(10, 5, 10.02), &lines, run(14_220.61, 388), &[ColdStarts]);
    let lines = [
        (120, info("UserSync - Syncing 80 users from directory")),
        (5_214, error(RESET)),
        (7_900, info("UserSync - Synced 79 users, 1 failed")),
    ];
    let done = run(8_034.2, 402);
    let t = s.invoke(t + 610, &lines, done, &[Errors, ConnectionErrors]);
    let lines = [
        (95, info("UserSync - Loading full directory export")),
        (6_300, Raw(HEAP)),
    ];
    let oom = run(6_457.3, 1024).status("error", Some("Runtime.ExitError"));
    s.invoke(t + 880, &lines, oom, &[OutOfMemory, Errors]);
    g.direct(
        "orch-user-java-text-a",
        KIND,
        "INIT_REPORT with Status: timeout before the first START (a cold start); a Log4j2 ERROR \
         with Connection reset by peer; java.lang.OutOfMemoryError with 1024 of 1024 MB and \
         Status: error, Runtime.ExitError.",
        Payload::Data(s.batch()),
    )?;

    let t = s.init(at(10, 6, 10.0), 2_244.9);
    let lines = [(210, info("UserSync - Syncing 240 users from directory"))];
    let t = s.invoke(t + 5, &lines, run(20_310.77, 420), &[ColdStarts]);
    // New style: the status is on REPORT, no `Task timed out` line. Teaches a 60 s timeout.
    let lines = [(150, info("UserSync - Syncing 4100 users from directory"))];
    let timeout = run(60_004.12, 517).status("timeout", None);
    s.invoke(t + 700, &lines, timeout, &[Timeouts]);
    g.direct(
        "orch-user-java-text-b",
        KIND,
        "Re-init after the crash; a 20 s run; a new-style timeout (Duration 60004.12 ms, \
         Status: timeout) that teaches a 60 s timeout.",
        Payload::Data(s.batch()),
    )?;

    let t = s.init(at(10, 7, 34.0), 2_198.04);
    // An unhandled exception, which the Java runtime logs as a JSON error object.
    let lines = [(300, info("UserSync - Writing checkpoint")), (3_850, Raw(THROTTLED))];
    let unhandled = run(3_902.5, 430).status("error", Some("Runtime.Unhandled"));
    let t = s.invoke(t + 4, &lines, unhandled, &[ColdStarts, RateLimited, Errors]);
    let lines = [
        (180, info("UserSync - Syncing 3600 users from directory")),
        (52_100, info("UserSync - Synced 3600 users")),
    ];
    s.invoke(t + 1_250, &lines, run(52_311.08, 455), &[NearTimeout]);
    g.direct(
        "orch-user-java-text-c",
        KIND,
        "Re-init after the timeout; an unhandled DynamoDB `Rate exceeded` logged as a JSON error \
         object, Status: error, Runtime.Unhandled; a 52 s run of the learned 60 s (near timeout).",
        Payload::Data(s.batch()),
    )
}

/// A Go binary on provided.al2023, plain text without request ids, delivered through Kinesis.
/// Configured chunked, no timeout: 300 s until its own timeout teaches 120 s.
fn orch_files(g: &mut Gen) -> io::Result<()> {
    const TOO_MANY: &str = "failed to open db: pq: sorry, too many clients already";
    const KILLED: &str = "RequestId: {id} Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n";
    let listing = info("listing bucket chunk_size=200");
    let copied = info("copied 200 files");
    let mut s = g.stream("orch-files", Style::Go, "provided:al2023.v95", 256);

    let t = s.init(at(10, 10, 0.0), 61.2);
    let lines = [(2_043, listing), (5_200, error(TOO_MANY))];
    let expect = [ColdStarts, TooManyConnections, ConnectionErrors, Errors];
    let t = s.invoke(t + 8, &lines, run(5_472.18, 61), &expect);
    let lines = [(1_030, listing), (13_800, copied)];
    let t = s.invoke(t + 600, &lines, run(14_006.5, 88), &[ShortRuns]);
    // Starts in the first record and ends in the second, where its error has no request id.
    let refused_start = t + 520;
    let refused = s.start(refused_start);
    s.line(refused_start + 1_100, &refused, listing);
    let first = s.batch();

    let dial = error("dial tcp 10.0.4.9:5432: connect: connection refused");
    s.line(at(10, 11, 0.0), &refused, dial);
    let done = run(39_810.4, 74);
    let t = s.end(&refused, refused_start, done, &[ConnectionErrors, Errors]);
    let t = s.invoke(t + 480, &[(700, listing)], run(9_020.0, 80), &[ShortRuns]);
    // Old style again, the timeout line before REPORT this time. Teaches a 120 s timeout.
    let timed_out = Raw("{time} {id} Task timed out after 120.00 seconds\n");
    let lines = [(1_000, listing), (120_003, timed_out)];
    let t = s.invoke(t + 900, &lines, run(120_003.55, 112), &[Timeouts]);
    // 100 s is near the learned 120 s, though far from the default 300 s.
    let t = s.init(t + 900, 58.3);
    let lines = [(1_000, listing), (99_000, copied)];
    let near = run(100_207.9, 97);
    let t = s.invoke(t + 6, &lines, near, &[ColdStarts, NearTimeout]);
    let lines = [
        (400, info("loading manifest of 2400000 objects")),
        (3_900, Raw("fatal error: runtime: out of memory\n")),
        (3_901, Raw("goroutine 1 [running]:\n")),
        (3_940, Raw(KILLED)),
    ];
    let oom = run(3_941.26, 256).status("error", Some("Runtime.ExitError"));
    s.invoke(t + 700, &lines, oom, &[OutOfMemory, Errors]);
    let second = s.batch();

    g.kinesis(
        "orch-files-go-text-kinesis",
        "Go on provided.al2023, text",
        "Two records, consecutive batches of one log stream, lines without request id: too many \
         clients; connection refused (its START is in the first record); an old-style timeout \
         before its REPORT; a 100 s run after learning 120 s; a Go OOM with signal: killed.",
        vec![Payload::Data(first), Payload::Data(second)],
    )
}

/// Python 3.13, JSON format, lower-case levels from a logging library, delivered through an
/// account-level subscription policy.
fn report_builder(g: &mut Gen) -> io::Result<()> {
    const CHUNK: &str =
        r#"{"timestamp":"{time}","level":"INFO","message":"rendering section","requestId":"{id}","chunk_size":25}"#;
    const THROTTLED: &str = "botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling the PutMetricData operation: Rate exceeded";
    const RETRYING: &str = "retrying GetObject after a transient error";
    let mut s = g.stream("report-builder", Style::Json, "python:3.13.v22", 2048);
    s.account_policy = true;

    let t = s.init(at(10, 16, 0.0), 834.5);
    let lines = [(40, info("building daily report")), (2_100, Raw(CHUNK))];
    let t = s.invoke(t + 3, &lines, run(12_480.3, 610), &[ColdStarts]);
    let lines = [(3_300, Log("warning", RETRYING))];
    let t = s.invoke(t + 900, &lines, run(8_113.0, 612), &[]);
    let lines = [(5_000, Log("error", "section 'forecast' is empty, skipped"))];
    let t = s.invoke(t + 750, &lines, run(6_902.71, 640), &[Errors]);
    let lines = [(4_000, error(THROTTLED))];
    let t = s.invoke(t + 1_100, &lines, run(4_210.0, 633), &[RateLimited, Errors]);
    let lines = [(60, info("building weekly report"))];
    s.invoke(t + 1_400, &lines, run(9_877.25, 655), &[]);
    g.direct(
        "report-builder-python-json",
        "Python 3.13, JSON",
        "policyLevel ACCOUNT_LEVEL_POLICY; a `chunk_size` JSON member; a `warning` that mentions \
         an error; a lower-case `error`; ThrottlingException at ERROR.",
        Payload::Data(s.batch()),
    )
}

/// Node.js 22, plain text: 150 short runs within 10:15 in three concurrent execution
/// environments, so more than 100 durations per metric and minute.
fn thumbnailer(g: &mut Gen) -> io::Result<()> {
    for (env, suffix) in (0..3u64).zip(["a", "b", "c"]) {
        let mut s = g.stream("thumbnailer", Style::Node, "nodejs:22.v60", 1536);
        let mut t = s.init(at(10, 15, 0.2) + env * 150, 187.0 + env as f64 * 11.3);
        for n in 0..50 {
            // 100.00 to 899.99 ms.
            let duration_ms = 100.0 + (mix(env * 100 + n) % 80_000) as f64 / 100.0;
            let lines = [(duration_ms as u64 / 2, info("resized image"))];
            let expect: &[Class] = if n == 0 { &[ColdStarts] } else { &[] };
            let done = run(duration_ms, 180 + n as u32 % 20);
            t = s.invoke(t + 40, &lines, done, expect);
        }
        assert!(t < at(10, 16, 0.0), "thumbnailer runs end within 10:15");
        g.direct(
            &format!("thumbnailer-node-text-{suffix}"),
            "Node.js 22, text",
            "50 runs of 100 to 900 ms within 10:15 (150 over the three files), the first one cold.",
            Payload::Data(s.batch()),
        )?;
    }
    Ok(())
}

/// A control message, the processor's own group, and input that cannot be decoded.
fn special_deliveries(g: &mut Gen) -> io::Result<()> {
    const NOTICE_FAILED: &str = r#"{"timestamp":"{time}","level":"ERROR","fields":{"message":"Could not send a notice.","error":"ThrottlingException: Rate exceeded"},"target":"lambda_watchdog::notify"}"#;
    g.direct(
        "control-message",
        "-",
        "CONTROL_MESSAGE: CloudWatch Logs checking that the destination is reachable.",
        Payload::Control(at(10, 19, 30.0)),
    )?;

    // What it would count if it were read: an invocation, an error, a rate limit.
    let mut s = g.stream("lambda-watchdog", Style::Go, "provided:al2023.v95", 256);
    s.account_policy = true;
    let lines = [(310, Raw(NOTICE_FAILED))];
    let done = run(402.11, 41);
    s.invoke(at(10, 19, 0.0), &lines, done, &[Errors, RateLimited]);
    g.direct(
        "lambda-watchdog-own-group",
        "Rust on provided.al2023, text",
        "The processor's own log group (excluded by watchdog.toml): an ERROR with Rate exceeded.",
        Payload::Data(s.batch()),
    )?;

    // A valid batch that is never delivered intact: each broken form of it must count as one
    // decode failure and nothing else.
    let mut ghost = g.stream("uploader", Style::Json, "nodejs:20.v48", 512);
    let timeout = run(230.0, 80).status("timeout", None);
    let lines = [(100, error("Error: Rate exceeded"))];
    ghost.invoke(at(10, 19, 10.0), &lines, timeout, &[]);
    let json = ghost.batch().data_message();
    let half_json = &json.as_bytes()[..json.len() / 2];
    let gzipped = gzip(json.as_bytes());
    let half_gzip = &gzipped[..gzipped.len() / 2];
    let broken = [
        (
            "not-base64",
            "the batch's JSON itself, neither gzipped nor base64-encoded",
            json.clone(),
        ),
        (
            "not-gzip",
            "base64 of the batch's JSON, not gzipped",
            STANDARD.encode(&json),
        ),
        (
            "invalid-json",
            "a valid gzip of the batch's JSON cut in half",
            STANDARD.encode(gzip(half_json)),
        ),
        (
            "gzip-bomb",
            "gzip of 64 MiB of zero bytes: over the 32 MiB decode cap",
            STANDARD.encode(gzip_zeros(64 << 20)),
        ),
    ];
    for (name, about, data) in broken {
        let (name, about) = (format!("malformed-{name}"), format!("`data` is {about}."));
        g.direct(&name, "-", &about, Payload::Broken(data))?;
    }

    // A bad record must not cost the good ones around it.
    let listing = info("listing bucket chunk_size=200");
    let mut s = g.stream("orch-files", Style::Go, "provided:al2023.v95", 256);
    let t = s.init(at(10, 17, 0.0), 60.4);
    let done = run(15_112.0, 70);
    let t = s.invoke(t + 7, &[(900, listing)], done, &[ColdStarts, ShortRuns]);
    let before = s.batch();
    s.invoke(t + 650, &[(800, listing)], run(8_240.66, 72), &[ShortRuns]);
    let after = s.batch();
    g.kinesis(
        "malformed-kinesis-bad-record",
        "Go on provided.al2023, text",
        "Three records: an orch-files batch of a second execution environment, a gzip stream cut \
         in half, the next batch of the same log stream.",
        vec![
            Payload::Data(before),
            Payload::Broken(STANDARD.encode(half_gzip)),
            Payload::Data(after),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Every runtime's logs and every Lambda log shape (issue 13)

/// .NET 8, plain text. The runtime writes `<time>\t<request id>\t<level>\t<message>` with .NET's
/// four-letter levels `trce dbug info warn fail crit` (docs.aws.amazon.com/lambda/latest/dg/
/// csharp-logging.html, "Log output"); the Microsoft console logger writes `fail: Category[0]`
/// and the message on indented lines after it (Microsoft.Extensions.Logging.Console,
/// SimpleConsoleFormatter). Not configured: 300 s.
fn invoicer(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = ".NET 8, text";
    // RDS Proxy's pool exhausted, through Npgsql (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
    // rds-proxy.troubleshooting.html).
    const PROXY: &str =
        "Npgsql.PostgresException (0x80004005): 08P01: Timed-out waiting to acquire database connection";
    const CONSOLE: &str =
        "fail: Invoicer.TaxClient[0]\n      Invoice 7 rejected by the tax service: 422 Unprocessable Entity\n";
    const OOM: &str = "System.OutOfMemoryException: Exception of type 'System.OutOfMemoryException' was thrown.\n   at Invoicer.Pdf.Render(Order order) in /src/Invoicer/Pdf.cs:line 88";
    let mut s = g.stream("invoicer", Style::DotNet, "dotnet:8.v34", 512);

    let t = s.init(at(10, 2, 0.0), 1_342.8);
    // Look-alikes that count nothing: "0 errors", a rate-limit header, a timeout setting.
    let lines = [
        (40, Log("info", "invoicing 12 orders, connect_timeout=10")),
        (
            900,
            Log("info", "processed 12 items, 0 errors, x-ratelimit-remaining: 0"),
        ),
    ];
    let t = s.invoke(t + 4, &lines, run(1_204.6, 131), &[ColdStarts]);
    let lines = [(2_300, Log("fail", PROXY))];
    let expect = [TooManyConnections, ConnectionErrors, Errors];
    let t = s.invoke(t + 700, &lines, run(2_510.33, 140), &expect);
    let lines = [(800, Raw(CONSOLE)), (1_500, Log("info", "invoice 8 done"))];
    let t = s.invoke(t + 640, &lines, run(1_618.0, 138), &[Errors]);
    let lines = [(400, Log("warn", "rendering 4000-page PDF")), (5_100, Log("fail", OOM))];
    let oom = run(5_230.9, 512).status("error", Some("Runtime.ExitError"));
    s.invoke(t + 910, &lines, oom, &[OutOfMemory, Errors]);
    g.direct(
        "invoicer-dotnet-text",
        KIND,
        "The .NET runtime's level field (`info`, `warn`, `fail`); RDS Proxy's exhausted pool at \
         `fail`; the Microsoft console logger's `fail: Category[0]`; System.OutOfMemoryException \
         with Status: error; `0 errors`, `x-ratelimit-remaining`, `connect_timeout=10` count nothing.",
        Payload::Data(s.batch()),
    )
}

/// Ruby 3.3, plain text. Ruby's Logger writes `E, [time #pid] ERROR -- progname: message`, and
/// Lambda's Ruby runtime passes the request id as progname (ruby lib/logger/formatter.rb;
/// docs.aws.amazon.com/lambda/latest/dg/ruby-logging.html). An unhandled error is logged as
/// "Error raised from handler method" followed by its error record (aws-lambda-ruby-runtime-
/// interface-client, LambdaLogger.log_error; docs.aws.amazon.com/lambda/latest/dg/
/// ruby-exceptions.html for the record).
fn profile_sync(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Ruby 3.3, text";
    // Redis: "ERR max number of clients reached" (redis src/networking.c).
    const CAPPED: &str = "Redis::CommandError: ERR max number of clients reached";
    const UNHANDLED: &str = "Error raised from handler method\n{\n  \"errorMessage\": \"undefined method `fetch' for nil\",\n  \"errorType\": \"Function<NoMethodError>\",\n  \"stackTrace\": [\n    \"/var/task/function.rb:14:in `handler'\"\n  ]\n}\n";
    let mut s = g.stream("profile-sync", Style::Ruby, "ruby:3.3.v19", 256);

    let t = s.init(at(10, 4, 0.0), 611.4);
    let lines = [(30, info("syncing 40 profiles"))];
    let t = s.invoke(t + 3, &lines, run(3_402.7, 71), &[ColdStarts]);
    let lines = [
        (1_200, error(CAPPED)),
        (2_000, Log("WARN", "x-ratelimit-remaining: 0, backing off")),
    ];
    let expect = [TooManyConnections, ConnectionErrors, Errors];
    let t = s.invoke(t + 520, &lines, run(2_250.0, 73), &expect);
    let lines = [(60, info("syncing 3 profiles")), (410, Raw(UNHANDLED))];
    let failed = run(433.1, 74).status("error", Some("Runtime.Unhandled"));
    s.invoke(t + 480, &lines, failed, &[Errors]);
    g.direct(
        "profile-sync-ruby-text",
        KIND,
        "Ruby Logger lines with the request id as progname; Redis's `max number of clients \
         reached` at ERROR; an unhandled error (\"Error raised from handler method\" and its \
         error record, no request id) with Status: error.",
        Payload::Data(s.batch()),
    )
}

/// Java 21 with SnapStart, logback's default pattern `%d{HH:mm:ss.SSS} [%thread] %-5level
/// %logger{36} - %msg%n` (logback.qos.ch/manual/layouts.html), which carries no request id.
/// SnapStart writes RESTORE_START and RESTORE_REPORT, and the REPORT carries `Restore Duration`
/// (docs.aws.amazon.com/lambda/latest/dg/snapstart-monitoring.html).
fn ledger(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Java 21 SnapStart, text (logback)";
    // HikariCP: HikariPool.createTimeoutException.
    const POOL: &str = "HikariPool-1 - Connection is not available, request timed out after 30000ms.";
    let mut s = g.stream("ledger", Style::Logback, "java:21.v30", 1024);

    let t = s.restore(at(10, 8, 0.0), 412.06);
    let lines = [(200, info("posting 310 entries"))];
    let t = s.invoke(t + 3, &lines, run(4_110.5, 301), &[ColdStarts]);
    let lines = [(100, info("posting 88 entries")), (30_150, error(POOL))];
    let failed = run(30_412.0, 322).status("error", Some("Runtime.Unhandled"));
    let t = s.invoke(t + 800, &lines, failed, &[ConnectionErrors, Errors]);
    // 429 as a status only: the rate id in the URL says nothing.
    let lines = [
        (50, info("GET https://rates.example.com/v1/rates/429 200")),
        (
            900,
            Log(
                "WARN",
                "rates client: upstream said 429 TooManyRequests, retrying in 2 s",
            ),
        ),
    ];
    s.invoke(t + 700, &lines, run(3_300.0, 318), &[RateLimited]);
    g.direct(
        "ledger-java-snapstart-text",
        KIND,
        "A SnapStart restore (RESTORE_START, RESTORE_REPORT, Restore Duration on the REPORT) as \
         the cold start; logback lines without request id; HikariCP's pool timeout (a connection \
         error, not a cap) with Status: error; `429 TooManyRequests`, and 429 inside a URL.",
        Payload::Data(s.batch()),
    )
}

/// Node.js 20, plain text. During init the runtime writes `undefined` where the request id goes
/// (aws-lambda-nodejs-runtime-interface-client, src/LogPatch.js). axios: "Request failed with
/// status code 429" (axios lib/core/settle.js).
fn notifier(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Node.js 20, text";
    let mut s = g.stream("notifier", Style::Node, "nodejs:20.v48", 256);

    let t = at(10, 12, 0.0);
    let t = s.init(t, 288.1);
    // Init lines: never Errors, whatever their level.
    s.log(
        t - 200,
        format!(
            "{}\tundefined\tWARN\tSLACK_URL not set, using the default\n",
            iso(t - 200)
        ),
    );
    s.log(
        t - 100,
        format!(
            "{}\tundefined\tERROR\tcould not warm the template cache\n",
            iso(t - 100)
        ),
    );
    let lines = [(20, info("sending 4 messages"))];
    let t = s.invoke(t + 2, &lines, run(903.5, 88), &[ColdStarts]);
    let lines = [(600, error("AxiosError: Request failed with status code 429"))];
    let failed = run(702.0, 90).status("error", Some("Runtime.UnhandledPromiseRejection"));
    let t = s.invoke(t + 400, &lines, failed, &[RateLimited, Errors]);
    let lines = [(300, info("GET /v1/channels/4290/messages 200"))];
    s.invoke(t + 350, &lines, run(512.2, 90), &[]);
    g.direct(
        "notifier-node-text",
        KIND,
        "Init lines with `undefined` in place of the request id (a WARN and an ERROR, which count \
         nothing); axios's `status code 429` with Status: error; 4290 in a path.",
        Payload::Data(s.batch()),
    )
}

/// Two functions logging to one custom log group, as advanced logging controls allow; their log
/// streams are named `YYYY/MM/DD/<function>[<version>]<environment id>` and
/// `…/<function>[<version>][<environment id>]` (docs.aws.amazon.com/lambda/latest/dg/
/// monitoring-cloudwatchlogs-advanced.html). A Go function with slog's text handler
/// (pkg.go.dev/log/slog, TextHandler) and a Rust function with tracing-subscriber's JSON
/// formatter (docs.rs/tracing-subscriber, fmt::format::Json), both on provided.al2023.
fn shared_group(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Go (slog) and Rust (tracing JSON) on provided.al2023, text, one group";
    const GROUP: &str = "/shared/lambda";
    const DIAL: &str = "time={time} level=ERROR msg=\"quote failed\" err=\"dial tcp 10.0.4.9:6379: i/o timeout\"\n";
    const QUIET: &str = "time={time} level=INFO msg=\"quotes refreshed\" error_count=0 connect_timeout=10\n";
    const LIMITED: &str = r#"{"timestamp":"{time}","level":"ERROR","fields":{"message":"upstream answered: HTTP/1.1 429 Too Many Requests"},"target":"quotes::client"}"#;
    const DONE: &str =
        r#"{"timestamp":"{time}","level":"INFO","fields":{"message":"served","error_count":0},"target":"quotes"}"#;

    let mut pricing = g.stream("pricing", Style::Go, "provided:al2023.v95", 128);
    pricing.custom_group(GROUP, false);
    let t = pricing.init(at(10, 13, 0.0), 48.2);
    let t = pricing.invoke(t + 2, &[(300, Raw(QUIET))], run(412.0, 31), &[ColdStarts]);
    pricing.invoke(
        t + 300,
        &[(250, Raw(DIAL))],
        run(2_104.3, 33),
        &[ConnectionErrors, Errors],
    );

    let mut quotes = g.stream("quotes", Style::Go, "provided:al2023.v95", 128);
    quotes.custom_group(GROUP, true);
    let t = quotes.init(at(10, 13, 0.5), 31.7);
    let t = quotes.invoke(t + 2, &[(90, Raw(DONE))], run(120.4, 22), &[ColdStarts]);
    quotes.invoke(t + 200, &[(700, Raw(LIMITED))], run(803.9, 24), &[RateLimited, Errors]);

    g.direct(
        "shared-group-pricing-go",
        KIND,
        "`/shared/lambda`, stream `…/pricing[$LATEST]…`: slog text lines (`level=ERROR` with \
         `i/o timeout`; `error_count=0`, `connect_timeout=10` count nothing).",
        Payload::Data(pricing.batch()),
    )?;
    g.direct(
        "shared-group-quotes-rust",
        KIND,
        "`/shared/lambda`, stream `…/quotes[3][…]`: tracing JSON lines in a text-format group \
         (`HTTP/1.1 429 Too Many Requests` at ERROR); counted apart from pricing.",
        Payload::Data(quotes.batch()),
    )
}

/// Node.js 22 on Lambda Managed Instances, JSON format: one environment runs several requests at
/// once, so their lines interleave in one stream, and its reports carry no billed duration or
/// memory (docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances.html). Lines are
/// attributed by request id only.
fn catalog(g: &mut Gen) -> io::Result<()> {
    const KIND: &str = "Node.js 22 on Managed Instances, JSON";
    const THROTTLED: &str =
        "PutItem failed: ProvisionedThroughputExceededException: Rate of requests exceeds the allowed throughput.";
    const WARNING: &str =
        "(node:8) Warning: Setting the NODE_TLS_REJECT_UNAUTHORIZED environment variable to '0' is insecure.\n";
    let mut s = g.stream("catalog", Style::Json, "nodejs:22.v60", 2048);
    s.concurrent = true;

    let t = at(10, 14, 0.0);
    let a = s.start(t);
    let b = s.start(t + 15);
    s.line(t + 40, &a, info("indexing 20 products"));
    s.line(t + 60, &b, error(THROTTLED));
    // Not JSON and no request id: whose it is cannot be told, and it counts nothing.
    s.log(t + 80, WARNING.to_string());
    let c = s.start(t + 95);
    s.line(t + 120, &c, info("indexing 3 products"));
    s.end(&a, t, run(310.0, 0).without_memory(), &[]);
    s.end(&b, t + 15, run(402.5, 0).without_memory(), &[RateLimited, Errors]);
    s.end(&c, t + 95, run(480.25, 0).without_memory(), &[]);
    g.direct(
        "catalog-node-managed-instances-json",
        KIND,
        "Three requests in flight at once in one stream, attributed by request id: \
         ProvisionedThroughputExceededException at ERROR in one of them; a plain line without \
         request id that counts nothing; reports without billed duration or memory.",
        Payload::Data(s.batch()),
    )
}

// ---------------------------------------------------------------------------------------------
// Log streams and the lines Lambda writes to them

/// How a runtime writes application lines; `Json` is the JSON log format of any runtime.
#[derive(Clone, Copy, PartialEq)]
enum Style {
    /// Python logging: `[LEVEL]\t<time>\t<request id>\t<message>`.
    Python,
    /// Node.js console: `<time>\t<request id>\t<LEVEL>\t<message>`.
    Node,
    /// Log4j2 with aws-lambda-java-log4j2's pattern `%d %X{AWSRequestId} %-5p %c{1} - %m%n`.
    Log4j,
    /// Go's log/slog text output, with no request id.
    Go,
    /// `{"timestamp":...,"level":...,"message":...,"requestId":...}`, platform records as JSON.
    Json,
    /// The .NET runtime: `<time>\t<request id>\t<level>\t<message>`, levels in .NET's four letters.
    DotNet,
    /// Ruby's Logger with the request id as progname: `E, [<time> #8] ERROR -- <id>: <message>`.
    Ruby,
    /// logback's default pattern, no request id: `10:00:00.000 [main] ERROR com.acme.Ledger - <message>`.
    Logback,
}

/// An application line, given its time and request id when written.
#[derive(Clone, Copy)]
enum Line {
    /// A level and a message, written in the stream's style.
    Log(&'static str, &'static str),
    /// Written as is, after replacing `{time}` and `{id}`.
    Raw(&'static str),
}

fn info(message: &'static str) -> Line {
    Log("INFO", message)
}

fn error(message: &'static str) -> Line {
    Log("ERROR", message)
}

/// The end of one invocation as the platform reports it.
struct Report {
    duration_ms: f64,
    /// Max Memory Used in MB; `None` as on Lambda Managed Instances (JSON format only).
    used_mb: Option<u32>,
    /// Status and Error Type; `None` is success, and an old-style text REPORT without status.
    status: Option<(&'static str, Option<&'static str>)>,
    xray: bool,
}

fn run(duration_ms: f64, used_mb: u32) -> Report {
    Report {
        duration_ms,
        used_mb: Some(used_mb),
        status: None,
        xray: false,
    }
}

impl Report {
    fn status(self, status: &'static str, error_type: Option<&'static str>) -> Self {
        Report {
            status: Some((status, error_type)),
            ..self
        }
    }

    fn xray(self) -> Self {
        Report { xray: true, ..self }
    }

    fn without_memory(self) -> Self {
        Report { used_mb: None, ..self }
    }
}

struct LogEvent {
    id: String,
    timestamp: u64,
    message: String,
}

/// One log stream: one execution environment, which runs one invocation at a time.
struct Stream {
    function: &'static str,
    name: String,
    style: Style,
    runtime: &'static str,
    memory_mb: u32,
    seed: u64,
    requests: u64,
    events: Vec<LogEvent>,
    logged: u64,
    /// The request id between START and REPORT.
    open: Option<String>,
    /// The last INIT's duration, which the next REPORT carries.
    init_ms: Option<f64>,
    /// Classes declared by the invocations reported since the last batch was cut.
    counts: Counts,
    account_policy: bool,
    /// The last SnapStart restore's duration, which the next REPORT carries.
    restore_ms: Option<f64>,
    /// A log group other than `/aws/lambda/<function>`.
    group: Option<&'static str>,
    /// Several invocations at once (Lambda Managed Instances): START does not wait for REPORT.
    concurrent: bool,
}

impl Stream {
    fn log(&mut self, t: u64, message: String) {
        let window = at(10, 0, 0.0)..=at(10, 20, 0.0);
        assert!(
            window.contains(&t),
            "{}: {} is not in 10:00-10:20",
            self.function,
            iso(t)
        );
        let last = self.events.last().map_or(0, |e| e.timestamp);
        assert!(t >= last, "{}: {} goes back in time", self.function, iso(t));
        self.logged += 1;
        // 13 digits of time and 43 of counter: 56 digits, like CloudWatch's event ids.
        let id = format!("{t}{:043}", self.seed * 1_000_000 + self.logged);
        self.events.push(LogEvent {
            id,
            timestamp: t,
            message,
        });
    }

    /// Starts an execution environment; returns when its init ends.
    fn init(&mut self, t: u64, init_ms: f64) -> u64 {
        let hash: String = (0..4).map(|i| format!("{:016x}", mix(self.seed + i))).collect();
        let (runtime, arn) = (self.runtime, format!("arn:aws:lambda:us-east-1::runtime:{hash}"));
        let end = t + init_ms.ceil() as u64;
        if self.style == Style::Json {
            let record = format!(
                r#"{{"initializationType":"on-demand","phase":"init","runtimeVersion":"{runtime}","runtimeVersionArn":"{arn}"}}"#
            );
            self.log(t, platform(t, "platform.initStart", &record));
            let record = format!(
                r#"{{"initializationType":"on-demand","phase":"init","status":"success","metrics":{{"durationMs":{}}}}}"#,
                num(init_ms)
            );
            self.log(end, platform(end, "platform.initReport", &record));
        } else {
            let line = format!("INIT_START Runtime Version: {runtime}\tRuntime Version ARN: {arn}\n");
            self.log(t, line);
        }
        self.init_ms = Some(init_ms);
        end
    }

    /// Starts an execution environment from a SnapStart snapshot; returns when its restore ends.
    fn restore(&mut self, t: u64, restore_ms: f64) -> u64 {
        let hash: String = (0..4).map(|i| format!("{:016x}", mix(self.seed + i))).collect();
        let (runtime, arn) = (self.runtime, format!("arn:aws:lambda:us-east-1::runtime:{hash}"));
        let end = t + restore_ms.ceil() as u64;
        self.log(
            t,
            format!("RESTORE_START Runtime Version: {runtime}\tRuntime Version ARN: {arn}\n"),
        );
        self.log(end, format!("RESTORE_REPORT Restore Duration: {restore_ms:.2} ms\n"));
        self.restore_ms = Some(restore_ms);
        end
    }

    /// Logs to `group` instead of `/aws/lambda/<function>`, in a stream named after the
    /// function, with the environment id in brackets or not.
    fn custom_group(&mut self, group: &'static str, bracketed_environment: bool) {
        let environment = format!("{:016x}{:016x}", mix(self.seed << 40), mix(!self.seed));
        self.name = if bracketed_environment {
            format!("2026/11/29/{}[3][{environment}]", self.function)
        } else {
            format!("2026/11/29/{}[$LATEST]{environment}", self.function)
        };
        self.group = Some(group);
    }

    /// One whole invocation: START, `lines` at their offsets, END and REPORT. Lines timed after
    /// the end follow the REPORT. Returns the REPORT's time.
    fn invoke(&mut self, start: u64, lines: &[(u64, Line)], report: Report, expect: &[Class]) -> u64 {
        let id = self.start(start);
        let end = start + report.duration_ms.round() as u64;
        let (during, after): (Vec<_>, Vec<_>) = lines.iter().partition(|(at, _)| start + at <= end);
        for &(offset, line) in during {
            self.line(start + offset, &id, line);
        }
        self.end(&id, start, report, expect);
        for &(offset, line) in after {
            self.line(start + offset, &id, line);
        }
        end
    }

    /// Writes START for a new request id and returns it.
    fn start(&mut self, t: u64) -> String {
        assert!(
            self.concurrent || self.open.is_none(),
            "{}: START before REPORT",
            self.function
        );
        self.requests += 1;
        let id = request_id(self.seed * 1_000 + self.requests);
        let line = if self.style == Style::Json {
            platform(
                t,
                "platform.start",
                &format!(r#"{{"requestId":"{id}","version":"$LATEST"}}"#),
            )
        } else {
            format!("START RequestId: {id} Version: $LATEST\n")
        };
        self.log(t, line);
        self.open = Some(id.clone());
        id
    }

    fn line(&mut self, t: u64, id: &str, line: Line) {
        let text = match (line, self.style) {
            (Raw(text), _) => text.replace("{time}", &iso(t)).replace("{id}", id),
            (Log(level, message), Style::Python) => {
                format!("[{level}]\t{}\t{id}\t{message}\n", iso(t))
            }
            (Log(level, message), Style::Node) => format!("{}\t{id}\t{level}\t{message}\n", iso(t)),
            (Log(level, message), Style::Log4j) => {
                format!("{} {id} {level:<5} {message}\n", log4j_time(t))
            }
            (Log(level, message), Style::Go) => format!("{} {level} {message}\n", go_time(t)),
            (Log(level, message), Style::DotNet) => format!("{}\t{id}\t{level}\t{message}\n", iso(t)),
            (Log(level, message), Style::Ruby) => {
                let letter = &level[..1];
                format!("{letter}, [{} #8] {level:>5} -- {id}: {message}\n", ruby_time(t))
            }
            (Log(level, message), Style::Logback) => {
                format!(
                    "{} [main] {level:<5} com.acme.ledger.Job - {message}\n",
                    logback_time(t)
                )
            }
            (Log(level, message), Style::Json) => {
                let (time, level, message) = (iso(t), q(level), q(message));
                format!(r#"{{"timestamp":"{time}","level":{level},"message":{message},"requestId":"{id}"}}"#)
            }
        };
        self.log(t, text);
    }

    /// Ends the invocation: END and REPORT (text) or runtimeDone and report (JSON). `expect`
    /// lists the classes it must be counted in besides Invocations. Returns the REPORT's time.
    fn end(&mut self, id: &str, start: u64, report: Report, expect: &[Class]) -> u64 {
        if self.concurrent {
            self.open = None;
        } else {
            assert_eq!(
                self.open.take().as_deref(),
                Some(id),
                "REPORT of an invocation not started"
            );
        }
        let init_ms = self.init_ms.take();
        let restore_ms = self.restore_ms.take();
        let cold = expect.contains(&ColdStarts);
        assert_eq!(
            init_ms.is_some() || restore_ms.is_some(),
            cold,
            "{id}: declare ColdStarts exactly with an init or restore duration"
        );
        assert!(
            !expect.contains(&Invocations),
            "{id}: Invocations is implied by the REPORT"
        );
        let end = start + report.duration_ms.round() as u64;
        // Billed duration includes the init since 2025.
        let billed = (report.duration_ms + init_ms.unwrap_or(0.0)).ceil() as u64;
        let (size, duration) = (self.memory_mb, report.duration_ms);
        if self.style == Style::Json {
            let (status, error_type) = report.status.unwrap_or(("success", None));
            let error_type = error_type.map_or(String::new(), |e| format!(r#","errorType":"{e}""#));
            let duration = num(duration);
            let record = format!(
                r#"{{"requestId":"{id}","status":"{status}"{error_type},"metrics":{{"durationMs":{duration},"producedBytes":0}}}}"#
            );
            self.log(end, platform(end, "platform.runtimeDone", &record));
            let mut metrics = format!(r#""durationMs":{duration}"#);
            if let Some(used) = report.used_mb {
                let _ = write!(
                    metrics,
                    r#","billedDurationMs":{billed},"memorySizeMB":{size},"maxMemoryUsedMB":{used}"#
                );
            }
            if let Some(init_ms) = init_ms {
                let _ = write!(metrics, r#","initDurationMs":{}"#, num(init_ms));
            }
            let record = format!(r#"{{"requestId":"{id}","metrics":{{{metrics}}},"status":"{status}"{error_type}}}"#);
            self.log(end, platform(end, "platform.report", &record));
        } else {
            let used = report.used_mb.expect("a text REPORT always shows memory");
            self.log(end, format!("END RequestId: {id}\n"));
            let mut line = format!(
                "REPORT RequestId: {id}\tDuration: {duration:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {size} MB\tMax Memory Used: {used} MB\t"
            );
            if let Some(init_ms) = init_ms {
                let _ = write!(line, "Init Duration: {init_ms:.2} ms\t");
            }
            if let Some(restore_ms) = restore_ms {
                let billed_restore = restore_ms.ceil() as u64;
                let _ = write!(
                    line,
                    "Restore Duration: {restore_ms:.2} ms\tBilled Restore Duration: {billed_restore} ms\t"
                );
            }
            if let Some((status, error_type)) = report.status {
                let _ = write!(line, "Status: {status}\t");
                if let Some(error_type) = error_type {
                    let _ = write!(line, "Error Type: {error_type}\t");
                }
            }
            line.push('\n');
            if report.xray {
                let (epoch, trace, segment) = (start / 1000, mix(start), mix(start + 1));
                let _ = writeln!(
                    line,
                    "XRAY TraceId: 1-{epoch:08x}-{:08x}{trace:016x}\tSegmentId: {segment:016x}\tSampled: true\t",
                    trace >> 40
                );
            }
            self.log(end, line);
        }
        self.counts[Invocations as usize] += 1;
        for &class in expect {
            self.counts[class as usize] += 1;
        }
        end
    }

    /// Cuts the events logged so far into one subscription batch.
    fn batch(&mut self) -> Batch {
        Batch {
            function: self.function,
            group: self.group,
            stream: self.name.clone(),
            events: std::mem::take(&mut self.events),
            counts: std::mem::take(&mut self.counts),
            account_policy: self.account_policy,
        }
    }
}

/// A platform record of the JSON log format.
fn platform(t: u64, kind: &str, record: &str) -> String {
    format!(r#"{{"time":"{}","type":"{kind}","record":{record}}}"#, iso(t))
}

// ---------------------------------------------------------------------------------------------
// Subscription payloads, event files and totals

/// The events of one log stream, in order, as one subscription delivery carries them.
struct Batch {
    function: &'static str,
    /// A log group other than `/aws/lambda/<function>`.
    group: Option<&'static str>,
    stream: String,
    events: Vec<LogEvent>,
    /// What the REPORTs in this batch must count.
    counts: Counts,
    account_policy: bool,
}

impl Batch {
    fn group(&self) -> String {
        self.group
            .map_or_else(|| format!("/aws/lambda/{}", self.function), str::to_string)
    }

    /// The DATA_MESSAGE JSON, before gzip and base64.
    fn data_message(&self) -> String {
        let events: Vec<String> = self
            .events
            .iter()
            .map(|e| {
                format!(
                    r#"{{"id":"{}","timestamp":{},"message":{}}}"#,
                    e.id,
                    e.timestamp,
                    q(&e.message)
                )
            })
            .collect();
        let policy = if self.account_policy {
            r#","policyLevel":"ACCOUNT_LEVEL_POLICY""#
        } else {
            ""
        };
        format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"{ACCOUNT}","logGroup":{},"logStream":{},"subscriptionFilters":["lambda-watchdog"],"logEvents":[{}]{policy}}}"#,
            q(&self.group()),
            q(&self.stream),
            events.join(",")
        )
    }
}

/// What one delivery (a direct invocation or one Kinesis record) carries.
enum Payload {
    Data(Batch),
    /// A CONTROL_MESSAGE sent at this time.
    Control(u64),
    /// A `data` value that does not decode to a batch.
    Broken(String),
}

/// What a set of deliveries must count.
#[derive(Default)]
struct Tally {
    functions: BTreeMap<&'static str, Counts>,
    decode_failures: u64,
    control_messages: u64,
    batches_processed: u64,
}

impl Tally {
    fn count(&mut self, function: &'static str, counts: &Counts) {
        let total = self.functions.entry(function).or_insert([0; CLASSES.len()]);
        for (total, n) in total.iter_mut().zip(counts) {
            *total += n;
        }
    }

    fn add(&mut self, other: &Tally) {
        for (function, counts) in &other.functions {
            self.count(function, counts);
        }
        self.decode_failures += other.decode_failures;
        self.control_messages += other.control_messages;
        self.batches_processed += other.batches_processed;
    }

    fn processor(&self) -> [(&'static str, u64); 3] {
        [
            ("DecodeFailures", self.decode_failures),
            ("ControlMessages", self.control_messages),
            ("BatchesProcessed", self.batches_processed),
        ]
    }

    /// Tallies one delivery; returns its base64 `data` and its last event's time, if any.
    fn encode(&mut self, payload: Payload) -> (String, Option<u64>) {
        match payload {
            Payload::Data(batch) => {
                if !batch.group().starts_with(EXCLUDED_GROUP_PREFIX) {
                    self.batches_processed += 1;
                    self.count(batch.function, &batch.counts);
                }
                let last = batch.events.last().map(|e| e.timestamp);
                (STANDARD.encode(gzip(batch.data_message().as_bytes())), last)
            }
            Payload::Control(t) => {
                self.control_messages += 1;
                let json = format!(
                    r#"{{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{{"id":"","timestamp":{t},"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}}]}}"#
                );
                (STANDARD.encode(gzip(json.as_bytes())), Some(t))
            }
            Payload::Broken(data) => {
                self.decode_failures += 1;
                (data, None)
            }
        }
    }

    /// The non-zero counts in one line, for the README.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (function, counts) in &self.functions {
            let named: Vec<String> = CLASSES
                .iter()
                .zip(counts)
                .filter(|(_, n)| **n > 0)
                .map(|(class, n)| format!("{class:?} {n}"))
                .collect();
            if !named.is_empty() {
                parts.push(format!("{function}: {}", named.join(", ")));
            }
        }
        for (name, n) in self.processor() {
            if n > 0 {
                parts.push(format!("{name} {n}"));
            }
        }
        if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// Writes the numbered event files and keeps the totals they must produce.
struct Gen {
    dir: PathBuf,
    files: u32,
    streams: u64,
    kinesis_records: u64,
    rows: Vec<String>,
    total: Tally,
}

impl Gen {
    fn new(dir: PathBuf) -> Self {
        Gen {
            dir,
            files: 0,
            streams: 0,
            kinesis_records: 0,
            rows: Vec::new(),
            total: Tally::default(),
        }
    }

    fn stream(&mut self, function: &'static str, style: Style, runtime: &'static str, memory_mb: u32) -> Stream {
        self.streams += 1;
        let seed = self.streams;
        Stream {
            function,
            name: format!("2026/11/29/[$LATEST]{:016x}{:016x}", mix(seed << 40), mix(!seed)),
            style,
            runtime,
            memory_mb,
            seed,
            requests: 0,
            events: Vec::new(),
            logged: 0,
            open: None,
            init_ms: None,
            counts: [0; CLASSES.len()],
            account_policy: false,
            restore_ms: None,
            group: None,
            concurrent: false,
        }
    }

    /// Writes `{"awslogs":{"data":...}}`, as CloudWatch Logs invokes a subscribed function.
    fn direct(&mut self, name: &str, kind: &str, about: &str, payload: Payload) -> io::Result<()> {
        let mut tally = Tally::default();
        let (data, _) = tally.encode(payload);
        let body = format!("{{\n  \"awslogs\": {{\n    \"data\": {}\n  }}\n}}\n", q(&data));
        self.write(name, kind, "direct", about, tally, body)
    }

    /// Writes a Kinesis Data Streams event with one record per payload.
    fn kinesis(&mut self, name: &str, kind: &str, about: &str, payloads: Vec<Payload>) -> io::Result<()> {
        let mut tally = Tally::default();
        let mut records = Vec::new();
        let mut arrival = 0;
        for payload in payloads {
            let (data, last) = tally.encode(payload);
            // A record arrives a little after its last event, a broken one after the previous.
            arrival = last.map_or(arrival + 37, |t| t + 1_250);
            self.kinesis_records += 1;
            let n = self.kinesis_records;
            let sequence = format!("4966{:052}", 1_000_000 + n);
            let partition_key = format!("{:016x}{:016x}", mix(n), mix(n << 20));
            records.push(format!(
                r#"    {{
      "kinesis": {{
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "{partition_key}",
        "sequenceNumber": "{sequence}",
        "data": {},
        "approximateArrivalTimestamp": {}.{:03}
      }},
      "eventSource": "aws:kinesis",
      "eventVersion": "1.0",
      "eventID": "shardId-000000000000:{sequence}",
      "eventName": "aws:kinesis:record",
      "invokeIdentityArn": "arn:aws:iam::{ACCOUNT}:role/lambda-watchdog-kinesis",
      "awsRegion": "us-east-1",
      "eventSourceARN": "arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/lambda-watchdog-logs"
    }}"#,
                q(&data),
                arrival / 1000,
                arrival % 1000
            ));
        }
        let body = format!("{{\n  \"Records\": [\n{}\n  ]\n}}\n", records.join(",\n"));
        self.write(name, kind, "Kinesis", about, tally, body)
    }

    fn write(
        &mut self,
        name: &str,
        kind: &str,
        delivery: &str,
        about: &str,
        tally: Tally,
        body: String,
    ) -> io::Result<()> {
        self.files += 1;
        let file = format!("{:02}-{name}.json", self.files);
        fs::write(self.dir.join(&file), body)?;
        let counts = tally.describe();
        self.rows
            .push(format!("| `{file}` | {about} | {kind} | {delivery} | {counts} |"));
        self.total.add(&tally);
        Ok(())
    }

    /// Writes tests/data/expected-counts.json and events/README.md.
    fn finish(self, root: &Path) -> io::Result<()> {
        let members = |pairs: Vec<(String, u64)>| -> String {
            let lines: Vec<String> = pairs.iter().map(|(k, n)| format!("    {}: {n}", q(k))).collect();
            lines.join(",\n")
        };
        let mut json = String::from("{\n");
        for (function, counts) in &self.total.functions {
            let pairs = CLASSES
                .iter()
                .zip(counts)
                .map(|(c, n)| (format!("{c:?}"), *n))
                .collect();
            let _ = writeln!(json, "  {}: {{\n{}\n  }},", q(function), members(pairs));
        }
        let pairs = self
            .total
            .processor()
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        let _ = writeln!(json, "  \"_processor\": {{\n{}\n  }}\n}}", members(pairs));
        let data = root.join("tests").join("data");
        fs::create_dir_all(&data)?;
        fs::write(data.join("expected-counts.json"), json)?;

        let mut readme = String::from(README_HEAD);
        readme.push_str("| File | Contents | Format / runtime | Delivery | Must count |\n");
        readme.push_str("| --- | --- | --- | --- | --- |\n");
        for row in &self.rows {
            let _ = writeln!(readme, "{row}");
        }
        readme.push_str(README_TAIL);
        fs::write(self.dir.join("README.md"), readme)
    }
}

const README_HEAD: &str = "# Sample events

Lambda events as CloudWatch Logs subscriptions deliver them, for the sample fleet of
`watchdog.toml`: one event per file, either `{\"awslogs\":{\"data\":...}}` (direct) or a Kinesis
Data Streams event whose records carry the same gzip + base64 `data`. All log events are on
2026-11-29 between 10:00 and 10:20 UTC, account 123456789012, us-east-1.

- Regenerate: `cargo run --example generate_events` (`examples/generate_events.rs`). It rewrites
  every `*.json` here, this file and `tests/data/expected-counts.json`, with the same bytes on
  every run; `-- DIR` writes them under DIR instead. Edit the generator, not these files.
- Replay them all, in name order: `cargo run --release -- replay events/`

`tests/data/expected-counts.json` holds the totals that a replay of all files, in name order,
must produce. The generator sums them from what each invocation declares; the last column is
that sum per file (an invocation counts in the file that holds its REPORT).

";

const README_TAIL: &str = "
The totals assume these rules:

- Invocations: one per REPORT line or `platform.report` record. A line without request id
  belongs to the invocation open in its log stream, even when the START came in an earlier batch.
- Timeouts, OutOfMemory: once per invocation, whichever signals it shows. Errors: status error or
  failure, or a line whose level field (in any case) is ERROR, FATAL or CRITICAL, but not for a
  timed-out invocation. RateLimited, TooManyConnections, ConnectionErrors: a matching message at
  any level, once per invocation; TooManyConnections implies ConnectionErrors.
- ColdStarts: an init duration or a SnapStart `Restore Duration` on the REPORT.
  `INIT_REPORT ... Phase: init Status: timeout` is neither an invocation nor a timeout, and
  teaches no timeout.
- Levels: the line's level where its runtime or logger writes it (.NET's `fail`/`crit`, the
  console logger's `fail: Category[0]`, Ruby Logger's letter and word, logback's pattern,
  `level=ERROR`, JSON `level`), never a word in the message; lines of an init (Node.js writes
  `undefined` for their request id) are never Errors; a runtime's unhandled-error record counts
  as an error also behind a text prefix.
- `429` is a rate limit only as an HTTP status, never inside a URL; `x-ratelimit-remaining`,
  `0 errors`, `error_count=0`, `connect_timeout=10` count nothing. RDS Proxy's exhausted pool
  and Redis's client limit are connection caps; HikariCP's pool timeout is a connection error.
- A function logging to another log group is named by its log stream (`/shared/lambda`).
- A stream running several requests at once (Managed Instances) is read by request id only; a
  line there without one counts nothing.
- NearTimeout: no timeout and duration >= 0.8 x the timeout, which comes from watchdog.toml, else
  from the function's last timeout earlier in file order, else is 300 s.
- ShortRuns: chunked functions only (scraper-*, orch-files), no timeout, no error, under 60 s.
- ApiRateLimitExceeded: the rule of watchdog.toml, scraper-* only.
- `_processor`: DecodeFailures, one per batch that cannot be decoded (a bad Kinesis record is
  one); ControlMessages, one per control batch; BatchesProcessed, one per DATA_MESSAGE batch read,
  excluded groups left out. The malformed files count nothing else.
";

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Epoch milliseconds of `hour:minute:seconds` on 2026-11-29 UTC.
fn at(hour: u64, minute: u64, seconds: f64) -> u64 {
    DAY_MS + (hour * 60 + minute) * 60_000 + (seconds * 1000.0).round() as u64
}

/// Hours, minutes, seconds and milliseconds of the day.
fn clock(t: u64) -> (u64, u64, u64, u64) {
    let ms = t - DAY_MS;
    (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// `2026-11-29T10:00:01.217Z`, as Lambda runtimes and JSON records write time.
fn iso(t: u64) -> String {
    let (h, m, s, ms) = clock(t);
    format!("2026-11-29T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// `2026/11/29 10:00:01`, as Go's log and slog packages write time.
fn go_time(t: u64) -> String {
    let (h, m, s, _) = clock(t);
    format!("2026/11/29 {h:02}:{m:02}:{s:02}")
}

/// `2026-11-29 10:00:01.217`, as Log4j2's `%d` writes time.
fn log4j_time(t: u64) -> String {
    let (h, m, s, ms) = clock(t);
    format!("2026-11-29 {h:02}:{m:02}:{s:02}.{ms:03}")
}

/// `2026-11-29T10:00:01.217000`, as Ruby's Logger writes time (`%Y-%m-%dT%H:%M:%S.%6N`).
fn ruby_time(t: u64) -> String {
    let (h, m, s, ms) = clock(t);
    format!("2026-11-29T{h:02}:{m:02}:{s:02}.{ms:03}000")
}

/// `10:00:01.217`, as logback's default pattern writes time (`%d{HH:mm:ss.SSS}`).
fn logback_time(t: u64) -> String {
    let (h, m, s, ms) = clock(t);
    format!("{h:02}:{m:02}:{s:02}.{ms:03}")
}

/// A JSON string literal.
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A JSON number that keeps its fraction, as Lambda writes `"durationMs":2013.0`.
fn num(x: f64) -> String {
    format!("{:?}", (x * 100.0).round() / 100.0)
}

/// splitmix64: bits that look random, derived from a counter, the same on every run.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A version 4 UUID derived from a counter.
fn request_id(n: u64) -> String {
    let (a, b) = (mix(n), mix(n ^ 0x5555_5555_5555_5555));
    let variant = 0x8000 | ((b >> 48) & 0x3fff);
    format!(
        "{:08x}-{:04x}-4{:03x}-{variant:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// Gzip as CloudWatch Logs sends it; the header has no modification time, so output is stable.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("gzip into memory cannot fail");
    encoder.finish().expect("gzip into memory cannot fail")
}

/// Gzip of `len` zero bytes, fed 1 MiB at a time.
fn gzip_zeros(len: usize) -> Vec<u8> {
    let piece = vec![0u8; 1 << 20];
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    for _ in 0..len / piece.len() {
        encoder.write_all(&piece).expect("gzip into memory cannot fail");
    }
    encoder.finish().expect("gzip into memory cannot fail")
}
