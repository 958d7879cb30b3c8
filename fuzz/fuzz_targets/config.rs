//! Fuzz target `config`: see `lambda_watchdog::fuzzing::config`, which `tests/fuzz_corpus.rs` also
//! runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_watchdog::fuzzing::config(data));
