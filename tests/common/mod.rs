//! Helpers shared by the integration tests: the shipped sample events and their expected counts.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use lambda_watchdog::processor::{Clock, Outcome, Processor};
use lambda_watchdog::{Config, replay};
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sample fleet's config.
pub fn sample_config() -> Config {
    Config::load(&root().join("watchdog.toml")).expect("watchdog.toml is valid")
}

/// Every sample event file, in name order.
pub fn event_files() -> Vec<PathBuf> {
    let (files, errors) = replay::collect(&[root().join("events")]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(files.len() >= 20, "the samples are missing: {files:?}");
    files
}

/// Replays every sample file through one processor, as the CLI does.
pub fn replay_samples() -> Vec<Outcome> {
    let mut processor = Processor::new(sample_config(), Clock::FollowLogs, None, "lambda-watchdog");
    event_files()
        .iter()
        .flat_map(|f| replay::replay_file(&mut processor, f, None).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The expected totals the generator wrote next to the samples.
pub fn expected_counts() -> BTreeMap<String, BTreeMap<String, u64>> {
    let text = std::fs::read_to_string(root().join("tests/data/expected-counts.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Sums counters per (dimension value, metric) over EMF documents; value arrays count their values.
pub fn totals(documents: &[String], dimension: &str) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for line in documents {
        let doc: Value = serde_json::from_str(line).unwrap();
        let Some(key) = doc.get(dimension).and_then(Value::as_str) else {
            continue;
        };
        let metrics = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
        for m in metrics {
            let name = m["Name"].as_str().unwrap();
            let value = match &doc[name] {
                Value::Array(values) => values.len() as f64,
                v => v.as_f64().unwrap(),
            };
            *out.entry(key.to_string())
                .or_default()
                .entry(name.to_string())
                .or_default() += value;
        }
    }
    out
}
