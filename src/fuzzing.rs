//! The fuzz targets' bodies, one function per target. `fuzz/fuzz_targets/*.rs` call them under
//! libFuzzer (nightly, `cargo fuzz run`); `tests/fuzz_corpus.rs` feeds them every file of the
//! committed corpus on stable. Both call the same function, so the replay cannot drift from what
//! was fuzzed. Each one panics only if the code under test is wrong: bad input must come back as
//! a counted skip, an `Err` or an app line, never a panic.

use serde_json::{Value, json};

use crate::config::Config;
use crate::emf::check_document;
use crate::parse::{Line, parse, parse_all};
use crate::processor::{Clock, Processor};
use crate::testing::encode_batch;

/// The sample config (rules, per-function settings, exclusions), so the fuzzed lines also go
/// through the rule matching a real deployment does.
const SAMPLE_CONFIG: &str = include_str!("../watchdog.toml");

fn processor() -> Processor {
    // The sample config is part of the build (and tested to load); the default is a fallback
    // that keeps this free of an `expect`. Loaded once: compiling its rules for every input
    // made the target a few dozen executions a second.
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    let config = CONFIG
        .get_or_init(|| Config::from_toml_str(SAMPLE_CONFIG).unwrap_or_default())
        .clone();
    // Following the logs makes "now" the newest event's time, so extreme timestamps reach the
    // minute arithmetic instead of being dropped as too old or too new first.
    Processor::new(config, Clock::FollowLogs, None, "lambda-watchdog")
}

/// Target `event`: the bytes as a Lambda event (if they are JSON), and the same bytes as the
/// decoded content of a direct subscription's `awslogs.data`, each through a fresh processor.
/// Every EMF document that comes out must pass [`check_document`].
pub fn event(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        check_outcome(processor().handle_event(&value));
    }
    let wrapped = json!({"awslogs": {"data": encode_batch(data)}});
    check_outcome(processor().handle_event(&wrapped));
}

fn check_outcome(outcome: crate::Outcome) {
    for document in &outcome.documents {
        if let Err(why) = check_document(document) {
            panic!("the processor wrote a bad EMF document ({why}): {document}");
        }
    }
}

/// Target `line`: one log message (bytes decoded lossily, as a repaired message would be)
/// through [`parse`]. Request ids that come out must be cut from the line itself, and a batch
/// of the message and each of its physical lines must parse through [`parse_all`] (one signal
/// scan for all) exactly as each parses alone.
pub fn line(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = parse(&text);
    let batch: Vec<&str> = std::iter::once(text.as_ref())
        .chain(text.split_inclusive('\n'))
        .collect();
    let alone: Vec<Line<'_>> = batch.iter().map(|m| parse(m)).collect();
    assert_eq!(parse_all(batch.iter().copied()), alone, "{text:?}");
    let id = match &parsed {
        Line::Start { request_id } | Line::End { request_id } | Line::RuntimeDone { request_id, .. } => {
            Some(*request_id)
        }
        Line::Report(report) => Some(report.request_id),
        Line::App(app) => app.request_id,
        Line::PhaseReport { .. } | Line::InitStart | Line::Platform => None,
    };
    if let Some(id) = id {
        assert!(text.contains(id), "request id {id:?} is not in the line {text:?}");
    }
}

/// Target `config`: TOML text through [`Config::from_toml_str`]; a config that loads must also
/// build a processor and process a small batch.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_toml_str(text) else {
        return;
    };
    let mut processor = Processor::new(config, Clock::Fixed(BATCH_TIME_MS), None, "lambda-watchdog");
    let message = crate::testing::data_message(
        "/aws/lambda/scraper-worker",
        "2026/11/29/[$LATEST]0123456789abcdef",
        &[
            (
                BATCH_TIME_MS,
                "START RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21 Version: $LATEST\n",
            ),
            (
                BATCH_TIME_MS,
                "[ERROR]\t2026-11-29T10:00:01.123Z\tb70435cc-261c-4438-b9b6-efe4c8f04b21\tAPI Rate Limit Exceeded chunk_size=50\n",
            ),
            (
                BATCH_TIME_MS,
                "REPORT RequestId: b70435cc-261c-4438-b9b6-efe4c8f04b21\tDuration: 3004.92 ms\tBilled Duration: 3005 ms\tMemory Size: 128 MB\tMax Memory Used: 33 MB\t\n",
            ),
        ],
    );
    check_outcome(processor.handle_event(&message));
}

/// The batch time of [`config`]'s sample batch, 2026-11-29T10:00:00Z.
const BATCH_TIME_MS: i64 = 1_795_946_400_000;

/// Target `redact`: one line (decoded lossily) through the notices' redaction.
pub fn redact(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _masked = crate::notify::redact::redact(&text, &[]);
}
