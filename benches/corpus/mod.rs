//! The generated corpus both benchmarks run on: realistic Lambda logs of Python (text) and
//! Node.js (JSON) workers, deterministic so every run measures the same bytes.

use lambda_watchdog::Config;
use lambda_watchdog::processor::{Clock, Processor};
use lambda_watchdog::testing::{data_message, direct_event};
use serde_json::Value;

pub const T0: i64 = 1_795_946_400_000;

/// A small deterministic generator, so every run measures the same corpus.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn request_id(n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n as u32,
        n & 0xffff,
        n & 0xfff,
        (n >> 4) & 0xfff,
        n * 7919
    )
}

/// One batch of one log stream: `invocations` invocations of a Python (text) or Node (JSON) worker.
pub fn batch(seed: u64, invocations: usize, json: bool) -> (Value, usize) {
    let mut rng = Lcg(seed);
    let mut lines: Vec<String> = Vec::new();
    for i in 0..invocations {
        let id = request_id(seed * 100_000 + i as u64);
        let duration = 1000.0 + (rng.next() % 250_000) as f64;
        let ts = "2026-11-29T10:00:01.123Z";
        if json {
            lines.push(format!(
                r#"{{"time":"{ts}","type":"platform.start","record":{{"requestId":"{id}","version":"$LATEST"}}}}"#
            ));
        } else {
            lines.push(format!("START RequestId: {id} Version: $LATEST\n"));
        }
        for k in 0..12 {
            let roll = rng.next() % 100;
            let (level, msg) = match roll {
                0 => (
                    "ERROR",
                    "Request failed: API Rate Limit Exceeded (retry-after 30)".to_string(),
                ),
                1 => ("ERROR", "Error: ER_CON_COUNT_ERROR: Too many connections".to_string()),
                2..=4 => (
                    "WARNING",
                    format!("retrying page {k} after a slow response from upstream"),
                ),
                _ => (
                    "INFO",
                    format!(
                        "fetched page {k} of account {} with 50 items in {} ms chunk_size=50",
                        rng.next() % 10_000,
                        rng.next() % 900
                    ),
                ),
            };
            if json {
                lines.push(format!(
                    r#"{{"timestamp":"{ts}","level":"{level}","message":"{msg}","logger":"worker","requestId":"{id}"}}"#
                ));
            } else {
                lines.push(format!("[{level}]\t{ts}\t{id}\t{msg}\n"));
            }
        }
        if json {
            lines.push(format!(
                r#"{{"time":"{ts}","type":"platform.report","record":{{"requestId":"{id}","metrics":{{"durationMs":{duration:.1},"billedDurationMs":{},"memorySizeMB":512,"maxMemoryUsedMB":{}}},"status":"success"}}}}"#,
                duration.ceil(),
                100 + rng.next() % 300
            ));
        } else {
            lines.push(format!("END RequestId: {id}\n"));
            lines.push(format!(
                "REPORT RequestId: {id}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {} MB\t\n",
                duration.ceil(),
                100 + rng.next() % 300
            ));
        }
    }
    let text_bytes = lines.iter().map(String::len).sum();
    let events: Vec<(i64, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (T0 + i as i64 * 10, l.as_str()))
        .collect();
    let group = if json {
        "/aws/lambda/uploader"
    } else {
        "/aws/lambda/scraper-worker"
    };
    (
        direct_event(&data_message(
            group,
            &format!("2026/11/29/[$LATEST]{seed:032x}"),
            &events,
        )),
        text_bytes,
    )
}

pub fn corpus() -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut seed = 1;
    while bytes < 52 << 20 {
        let (event, n) = batch(seed, 600, seed % 2 == 0);
        events.push(event);
        bytes += n;
        seed += 1;
    }
    (events, bytes)
}

pub fn data_of(event: &Value) -> &str {
    event["awslogs"]["data"].as_str().expect("a direct event")
}

/// The sample config, `watchdog.toml` as shipped.
pub const SAMPLE_CONFIG: &str = include_str!("../../watchdog.toml");

/// A processor with the sample config, its clock just after the corpus.
pub fn processor() -> Processor {
    processor_with(sample_config())
}

/// A processor with `config`, its clock just after the corpus.
pub fn processor_with(config: Config) -> Processor {
    Processor::new(config, Clock::Fixed(T0 + 60_000), None, "lambda-watchdog")
}

/// The sample config as shipped.
pub fn sample_config() -> Config {
    Config::from_toml_str(SAMPLE_CONFIG).expect("sample config")
}

/// The sample config without its `[[rule]]` entries: the pipeline with no rules.
pub fn no_rules_config() -> Config {
    let text = SAMPLE_CONFIG.split("[[rule]]").next().unwrap_or_default();
    let config = Config::from_toml_str(text).expect("sample config without rules");
    assert!(config.rules.is_empty());
    config
}

/// The production shape that benchmarks measure against: the sample config plus
/// `production.toml` (a case-insensitive regex rule and a value rule).
pub fn production_config() -> Config {
    let text = format!("{SAMPLE_CONFIG}\n{}", include_str!("production.toml"));
    Config::from_toml_str(&text).expect("production config")
}

/// The production config filled up to the 64 rules a config may have, with the shapes users
/// write, in turn: a plain phrase, a case-insensitive phrase, a regex with a number in it, and a
/// value rule (`PHRASE(\d+)`).
pub fn rules_64_config() -> Config {
    let mut text = format!("{SAMPLE_CONFIG}\n{}", include_str!("production.toml"));
    for i in 4..64 {
        let rule = match i % 4 {
            0 => format!("pattern = \"upstream returned E{i:04}\""),
            1 => format!("pattern = \"(?i)payment {i} declined\""),
            2 => format!("pattern = 'order \\d+ failed with code {i}'"),
            _ => format!("pattern = \"retries_{i}=\"\nvalue = 'retries_{i}=(\\d+)'"),
        };
        text.push_str(&format!("\n[[rule]]\nmetric = \"Rule{i}\"\n{rule}\n"));
    }
    let config = Config::from_toml_str(&text).expect("64-rule config");
    assert_eq!(config.rules.len(), 64);
    config
}
