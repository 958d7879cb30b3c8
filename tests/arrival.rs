//! Counts do not depend on how the logs arrive: the same events, cut into other batches,
//! delivered in another order, some of them twice, give the same per-function, per-minute sums
//! as the whole streams delivered at once (README, "When a count is settled").
//!
//! Metamorphic property tests over the sample fleet in `events/` and over generated fleets
//! (`lambda_watchdog::testing::fleet`), shrinking toward "no cuts, in order, nothing twice".

use std::collections::BTreeMap;
use std::path::Path;

use lambda_watchdog::decode::{Envelope, decode_payload, parse_message};
use lambda_watchdog::testing::direct_event;
use lambda_watchdog::testing::fleet::{self, Event, FleetSpec, Rng, Stream, assert_same_cells, data_message, sums};
use lambda_watchdog::{Clock, Config, Processor};
use proptest::prelude::*;

const T_FLEET: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z

/// The sample fleet's streams, in the order their batches stand in `events/`.
fn sample_streams() -> Vec<Stream> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut streams: Vec<Stream> = Vec::new();
    for file in files {
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let datas: Vec<&str> = match Envelope::detect(&event) {
            Envelope::Direct(data) => vec![data],
            Envelope::Kinesis(items) => items.into_iter().filter_map(|i| i.data.ok()).collect(),
            _ => Vec::new(),
        };
        for data in datas {
            let Ok(bytes) = decode_payload(data, 1 << 20) else {
                continue;
            };
            let Ok(message) = parse_message(&bytes) else { continue };
            if message.is_control() || message.log_group.contains("lambda-watchdog") {
                continue;
            }
            let events = message.log_events.iter().map(|e| Event {
                id: e.id.to_string(),
                timestamp_ms: e.timestamp,
                message: e.message.to_string(),
            });
            match streams
                .iter_mut()
                .find(|s| s.log_group == message.log_group && s.log_stream == message.log_stream)
            {
                Some(stream) => stream.events.extend(events),
                None => streams.push(Stream {
                    log_group: message.log_group.to_string(),
                    log_stream: message.log_stream.to_string(),
                    events: events.collect(),
                }),
            }
        }
    }
    assert!(streams.len() >= 8, "the sample fleet has streams of six functions");
    streams
}

fn sample_config() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("watchdog.toml")).unwrap()
}

/// The sample config with every function's timeout named, as its own logs teach them: a
/// timeout learned from the logs judges only the invocations settled after it arrives.
fn sample_config_with_timeouts() -> String {
    let mut config = sample_config();
    for (function, seconds) in [("uploader", 30), ("orch-user", 60), ("orch-files", 120)] {
        // The first entry that matches a function is its settings: name the timeout in the
        // entry the sample config has, or add one.
        let entry = format!("match = \"{function}\"\n");
        if config.contains(&entry) {
            config = config.replacen(&entry, &format!("{entry}timeout_seconds = {seconds}\n"), 1);
        } else {
            config.push_str(&format!("\n[[function]]\n{entry}timeout_seconds = {seconds}\n"));
        }
    }
    let settings = Config::from_toml_str(&config).unwrap().settings_for("orch-files");
    assert_eq!(
        settings.timeout_seconds,
        Some(120.0),
        "the named timeout is the one in force"
    );
    config
}

/// A batch: a stream's events `from..to`.
type Batch = (usize, usize, usize);

/// The per-cell sums after delivering `batches` of `streams` in order, then flushing.
fn deliver(config: &str, clock: Clock, streams: &[Stream], batches: &[Batch]) -> BTreeMap<(String, i64, String), i64> {
    let mut processor = Processor::new(Config::from_toml_str(config).unwrap(), clock, None, "lambda-watchdog");
    let mut documents = Vec::new();
    for &(s, from, to) in batches {
        let outcome = processor.handle_event(&direct_event(&data_message(&streams[s], from, to)));
        documents.extend(outcome.documents);
    }
    documents.extend(processor.flush().documents);
    sums(&documents)
}

fn whole(streams: &[Stream]) -> Vec<Batch> {
    streams
        .iter()
        .enumerate()
        .map(|(s, st)| (s, 0, st.events.len()))
        .collect()
}

fn fixed_clock(streams: &[Stream]) -> Clock {
    let last = streams
        .iter()
        .flat_map(|s| &s.events)
        .map(|e| e.timestamp_ms)
        .max()
        .unwrap_or(T_FLEET);
    Clock::Fixed(last + 3_600_000)
}

/// How a stream is cut into batches.
#[derive(Debug, Clone)]
enum Cutting {
    /// After event `k` where `mask[k % len]`.
    Mask(Vec<bool>),
    /// One event per batch.
    EveryEvent,
    /// Just before and after every REPORT, and just before every `Task timed out` line.
    AroundReports,
}

fn cut(streams: &[Stream], cutting: &Cutting) -> Vec<Vec<Batch>> {
    streams
        .iter()
        .enumerate()
        .map(|(s, stream)| {
            let n = stream.events.len();
            let is_report = |e: &Event| e.message.starts_with("REPORT") || e.message.contains("\"platform.report\"");
            let mut points: Vec<usize> = (1..n)
                .filter(|&k| match cutting {
                    Cutting::Mask(mask) => !mask.is_empty() && mask[(k + s) % mask.len()],
                    Cutting::EveryEvent => true,
                    Cutting::AroundReports => {
                        is_report(&stream.events[k])
                            || is_report(&stream.events[k - 1])
                            || stream.events[k].message.contains("Task timed out")
                    }
                })
                .collect();
            points.insert(0, 0);
            points.push(n);
            points.windows(2).map(|w| (s, w[0], w[1])).collect()
        })
        .collect()
}

/// How the batches are delivered.
#[derive(Debug, Clone)]
struct Delivery {
    /// Interleave the streams (each in its own order) instead of one after the other.
    interleave: Vec<u8>,
    /// Swap a stream's adjacent batches where true.
    swaps: Vec<bool>,
    /// Deliver these batches (by index, modulo) a second time, later.
    again: Vec<u16>,
}

fn order(per_stream: Vec<Vec<Batch>>, delivery: &Delivery) -> Vec<Batch> {
    let mut per_stream = per_stream;
    let mut k = 0;
    for batches in &mut per_stream {
        let mut i = 0;
        while i + 1 < batches.len() {
            if delivery
                .swaps
                .get(k % delivery.swaps.len().max(1))
                .copied()
                .unwrap_or(false)
            {
                batches.swap(i, i + 1);
                i += 1;
            }
            i += 1;
            k += 1;
        }
    }
    let mut out = Vec::new();
    if delivery.interleave.is_empty() {
        out = per_stream.into_iter().flatten().collect();
    } else {
        let mut cursors = vec![0usize; per_stream.len()];
        let mut pick = 0usize;
        loop {
            let left: Vec<usize> = (0..per_stream.len())
                .filter(|&s| cursors[s] < per_stream[s].len())
                .collect();
            if left.is_empty() {
                break;
            }
            let choice = delivery.interleave[pick % delivery.interleave.len()] as usize;
            pick += 1;
            let s = left[choice % left.len()];
            out.push(per_stream[s][cursors[s]]);
            cursors[s] += 1;
        }
    }
    for (n, &i) in delivery.again.iter().enumerate() {
        if out.is_empty() {
            break;
        }
        let batch = out[i as usize % out.len()];
        let at = (i as usize % out.len() + 1 + n).min(out.len());
        out.insert(at, batch);
    }
    out
}

fn cutting() -> impl Strategy<Value = Cutting> {
    prop_oneof![
        4 => prop::collection::vec(any::<bool>(), 1..40).prop_map(Cutting::Mask),
        1 => Just(Cutting::EveryEvent),
        1 => Just(Cutting::AroundReports),
    ]
}

fn delivery(interleave: bool) -> impl Strategy<Value = Delivery> {
    let interleave = if interleave { 1..30usize } else { 0..1usize };
    (
        prop::collection::vec(any::<u8>(), interleave),
        prop::collection::vec(prop::bool::weighted(0.2), 0..30),
        prop::collection::vec(any::<u16>(), 0..6),
    )
        .prop_map(|(interleave, swaps, again)| Delivery {
            interleave,
            swaps,
            again,
        })
}

#[test]
fn the_sample_fleet_counts_what_its_generator_declares_when_delivered_whole() {
    let streams = sample_streams();
    let got = deliver(&sample_config(), fixed_clock(&streams), &streams, &whole(&streams));
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/expected-counts.json"))
            .unwrap(),
    )
    .unwrap();
    for (function, metrics) in expected
        .as_object()
        .unwrap()
        .iter()
        .filter(|(f, _)| !f.starts_with('_'))
    {
        for (metric, want) in metrics.as_object().unwrap() {
            let have: i64 = got
                .iter()
                .filter(|((f, _, m), _)| f == function && m == metric)
                .map(|(_, n)| n)
                .sum();
            assert_eq!(have, want.as_i64().unwrap(), "{function} {metric}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The sample fleet and config as shipped (learned timeouts included), its streams delivered
    /// one after another as in `events/`, each cut anywhere, some batches twice.
    #[test]
    fn the_sample_fleet_recut_and_repeated_gives_the_same_sums(cutting in cutting(), delivery in delivery(false)) {
        let streams = sample_streams();
        let config = sample_config();
        let clock = fixed_clock(&streams);
        let expected = deliver(&config, clock, &streams, &whole(&streams));
        let delivery = Delivery { swaps: Vec::new(), ..delivery };
        let batches = order(cut(&streams, &cutting), &delivery);
        assert_same_cells(&expected, &deliver(&config, clock, &streams, &batches));
    }

    /// The sample fleet with its timeouts named, its batches interleaved across streams, adjacent
    /// batches of a stream swapped, some twice; the clock fixed or following the logs (so that
    /// held counts go out by time and later facts correct them).
    #[test]
    fn the_sample_fleet_recut_reordered_and_repeated_gives_the_same_sums(
        cutting in cutting(),
        delivery in delivery(true),
        follow_logs in any::<bool>(),
    ) {
        let streams = sample_streams();
        let config = sample_config_with_timeouts();
        let expected = deliver(&config, fixed_clock(&streams), &streams, &whole(&streams));
        let clock = if follow_logs { Clock::FollowLogs } else { fixed_clock(&streams) };
        let batches = order(cut(&streams, &cutting), &delivery);
        assert_same_cells(&expected, &deliver(&config, clock, &streams, &batches));
    }

    /// Generated fleets: three runtimes' styles, every outcome, lines without request ids.
    #[test]
    fn generated_fleets_recut_reordered_and_repeated_give_the_same_sums(
        seed in any::<u64>(),
        cutting in cutting(),
        delivery in delivery(true),
        follow_logs in any::<bool>(),
    ) {
        let fleet = fleet::generate(FleetSpec {
            functions: 3,
            streams_per_function: 2,
            span_ms: 20 * 60_000,
            start_ms: T_FLEET,
            seed,
        });
        let streams = &fleet.streams;
        let expected = deliver(&fleet.config, fixed_clock(streams), streams, &whole(streams));
        prop_assert!(!expected.is_empty());
        let clock = if follow_logs { Clock::FollowLogs } else { fixed_clock(streams) };
        let batches = order(cut(streams, &cutting), &delivery);
        assert_same_cells(&expected, &deliver(&fleet.config, clock, streams, &batches));
    }
}

#[test]
fn a_fleet_cut_the_way_cloudwatch_flushes_streams_gives_the_same_sums() {
    let fleet = fleet::generate(FleetSpec {
        functions: 4,
        streams_per_function: 3,
        span_ms: 30 * 60_000,
        start_ms: T_FLEET,
        seed: 7,
    });
    let streams = &fleet.streams;
    let expected = deliver(&fleet.config, fixed_clock(streams), streams, &whole(streams));
    let cuts = fleet::cut_by_time(streams, &mut Rng::new(11));
    assert!(
        cuts.len() > 10 * streams.len(),
        "streams come in many batches: {}",
        cuts.len()
    );
    let batches: Vec<Batch> = cuts.iter().map(|c| (c.stream, c.from, c.to)).collect();
    // In log-time order across streams, as a single warm container would see them.
    let mut by_time = batches.clone();
    by_time.sort_by_key(|&(s, from, _)| streams[s].events[from].timestamp_ms);
    assert_same_cells(&expected, &deliver(&fleet.config, Clock::FollowLogs, streams, &by_time));
}
