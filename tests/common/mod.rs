//! Helpers shared by the integration tests: the shipped sample events and their expected counts.
#![allow(dead_code)]

pub mod logs;
pub mod moto;
pub mod throttling;

use std::collections::BTreeMap;
use std::path::PathBuf;

use lambda_watchdog::config::DEFAULT_MAX_DECODED_BYTES;
use lambda_watchdog::decode::decode_payload;
use lambda_watchdog::driver::{Driver, Ingested};
use lambda_watchdog::processor::{Clock, Outcome, Processor};
use lambda_watchdog::testing::encode_batch;
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

/// Replays every sample file through one driver (processor and notifier), as the CLI does.
pub fn replay_samples() -> Vec<Outcome> {
    replay_samples_with(sample_config())
        .into_iter()
        .map(|ingested| ingested.outcome)
        .collect()
}

/// Replays every sample file with `config` through one driver, as the CLI does: what each batch
/// gave, outcome and notices, and last what the end of the replay settled.
pub fn replay_samples_with(config: Config) -> Vec<Ingested> {
    let processor = Processor::new(config, Clock::FollowLogs, None, "lambda-watchdog");
    let driver = Driver::new(processor, None);
    let mut ingested: Vec<Ingested> = event_files()
        .iter()
        .flat_map(|f| replay::replay_file(&driver, f, None).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    // The end of the replay: what waited for a later batch is settled, as `replay` does.
    ingested.push(driver.flush());
    ingested
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

/// Applies `f` to every batch of a saved event (direct or Kinesis) that decodes, and encodes it
/// again the way CloudWatch Logs does. Batches that do not decode (the malformed samples) are left
/// byte for byte as they are.
pub fn map_batches(event: &mut Value, mut f: impl FnMut(&mut Value)) {
    let datas: Vec<&mut Value> = if event.get("awslogs").is_some() {
        event.pointer_mut("/awslogs/data").into_iter().collect()
    } else {
        match event.get_mut("Records") {
            Some(Value::Array(records)) => records
                .iter_mut()
                .filter_map(|r| r.pointer_mut("/kinesis/data"))
                .collect(),
            _ => Vec::new(),
        }
    };
    for data in datas {
        let Some(text) = data.as_str() else { continue };
        let Ok(bytes) = decode_payload(text, DEFAULT_MAX_DECODED_BYTES) else {
            continue;
        };
        let Ok(mut batch) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        f(&mut batch);
        *data = Value::String(encode_batch(batch.to_string().as_bytes()));
    }
}

/// Every (log group, message) of the sample events' data batches, in file order.
pub fn sample_lines() -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for file in event_files() {
        let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        map_batches(&mut event, |batch| {
            if batch["messageType"] != "DATA_MESSAGE" {
                return;
            }
            let group = batch["logGroup"].as_str().unwrap_or_default().to_string();
            for e in batch["logEvents"].as_array().into_iter().flatten() {
                lines.push((group.clone(), e["message"].as_str().unwrap_or_default().to_string()));
            }
        });
    }
    lines
}

/// 2026-11-29T10:00:00Z, where the fleet fixtures start.
const T_FLEET: i64 = 1_795_946_400_000;

/// The first case: [START, END, REPORT 290 s of 300 s] in one batch, the late
/// `Task timed out` line in the next.
pub fn report_then_late_timeout_line() -> lambda_watchdog::testing::fleet::Stream {
    lambda_watchdog::testing::fleet::stream_of(
        "/aws/lambda/scraper-a",
        T_FLEET,
        &[
            (
                0,
                "START RequestId: 6f0b7a8e-1111-4a2b-9c3d-000000000001 Version: $LATEST",
            ),
            (290_000, "END RequestId: 6f0b7a8e-1111-4a2b-9c3d-000000000001"),
            (
                290_000,
                "REPORT RequestId: 6f0b7a8e-1111-4a2b-9c3d-000000000001\tDuration: 290000.00 ms\tBilled Duration: 290000 ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB",
            ),
            (
                290_001,
                "2026-11-29T10:04:50.001Z 6f0b7a8e-1111-4a2b-9c3d-000000000001 Task timed out after 300.00 seconds",
            ),
        ],
    )
}
