//! Fuzz target `redact`: see `lambda_watchdog::fuzzing::redact`, which `tests/fuzz_corpus.rs` also
//! runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_watchdog::fuzzing::redact(data));
