//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) on stable, without fuzzing: every
//! file goes through the same function its cargo-fuzz target calls (`lambda_watchdog::fuzzing`),
//! so an input that once crashed a target, or that a campaign found interesting, is checked by
//! every `cargo test`. The campaign itself and its figures: README, "Fuzzing".

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("the corpus of {target} is missing ({}): {e}", folder.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "the corpus of {target} has only {} files",
        files.len()
    );
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        // A panic names the file, so the failing input can be run under the fuzzer again.
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "fuzz target {target} panicked on {}", path.display());
    }
}

#[test]
fn every_corpus_event_goes_through_the_whole_processor() {
    replay("event", lambda_watchdog::fuzzing::event);
}

#[test]
fn every_corpus_line_parses() {
    replay("line", lambda_watchdog::fuzzing::line);
}

#[test]
fn every_corpus_config_loads_or_is_refused() {
    replay("config", lambda_watchdog::fuzzing::config);
}

#[test]
fn every_corpus_line_goes_through_redaction() {
    replay("redact", lambda_watchdog::fuzzing::redact);
}
