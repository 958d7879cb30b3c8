//! Exact at fleet scale: one fleet's batches dealt to several containers that share their
//! invocation state (`lambda_watchdog::state`) give the per-function, per-minute sums of the
//! whole streams delivered to one processor, whatever container each batch lands in, in any
//! order, some batches twice; and a table that fails falls back loudly without losing a batch.
//!
//! The same protocol against DynamoDB (moto_server) is in `tests/state_dynamo.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lambda_watchdog::Processor;
use lambda_watchdog::state::{Memory, Store};
use lambda_watchdog::testing::direct_event;
use lambda_watchdog::testing::fleet::{
    self, Cells, Cut, FleetSpec, Rng, assert_same_cells, baseline, counter, data_message, deal, deal_concurrently,
    direct_deliveries, processor, sums,
};
use proptest::prelude::*;

const T_FLEET: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z

fn small_fleet(seed: u64) -> fleet::Fleet {
    fleet::generate(FleetSpec {
        functions: 3,
        streams_per_function: 3,
        span_ms: 20 * 60_000,
        start_ms: T_FLEET,
        seed,
    })
}

#[test]
fn a_fleet_dealt_to_eight_containers_that_share_state_counts_as_one_processor_does() {
    let fleet = small_fleet(7);
    let expected = baseline(&fleet);
    assert!(
        expected.keys().any(|(_, _, m)| m == "Timeouts"),
        "the fleet has timeouts to get right"
    );
    let mut rng = Rng::new(99);
    let deliveries = direct_deliveries(&fleet.streams, 8, &mut rng, 40);
    let store = Arc::new(Store::Memory(Memory::default()));
    let (got, counters) = deal(&fleet.config, &fleet.streams, 8, &deliveries, &store);
    assert_same_cells(&expected, &got);
    assert_eq!(counter(&counters, "StateFallbacks"), 0);
    assert!(
        counter(&counters, "DuplicateBatches") > 0,
        "the repeated deliveries were recognised"
    );
}

#[test]
fn a_fleet_dealt_to_sixteen_containers_running_at_once_counts_as_one_processor_does() {
    // Each container is a thread of its own: their calls to the store interleave in any way the
    // scheduler picks, and a stream's batches are processed in whatever order the threads reach
    // them.
    let fleet = fleet::generate(FleetSpec {
        functions: 4,
        streams_per_function: 4,
        span_ms: 30 * 60_000,
        start_ms: T_FLEET,
        seed: 41,
    });
    let expected = baseline(&fleet);
    let mut rng = Rng::new(4);
    let deliveries = direct_deliveries(&fleet.streams, 16, &mut rng, 80);
    let store = Arc::new(Store::Memory(Memory::default()));
    let dealt = deal_concurrently(&fleet.config, &fleet.streams, 16, &deliveries, &BTreeSet::new(), &store);
    assert_same_cells(&expected, &dealt.cells);
    assert_eq!(counter(&dealt.counters, "StateFallbacks"), 0);
    assert!(counter(&dealt.counters, "DuplicateBatches") > 0);
}

/// Every `every`-th delivery (from a random first one) goes to a fresh container: the one it
/// was dealt to is reaped just before.
fn reaps(deliveries: usize, every: usize, rng: &mut Rng) -> BTreeSet<usize> {
    (rng.below(every as u64) as usize..deliveries).step_by(every).collect()
}

#[test]
fn containers_reaped_mid_run_without_a_flush_cost_no_count_when_state_is_shared() {
    // README: "An invocation not reported yet is still held by the container that saw it ...;
    // if that container is reaped, the next batch of it anywhere decides." A reported one was
    // counted in full at once. So a reaped container takes nothing with it that a later batch
    // does not bring back, and every invocation of the fleet reports.
    let fleet = fleet::generate(FleetSpec {
        functions: 4,
        streams_per_function: 4,
        span_ms: 30 * 60_000,
        start_ms: T_FLEET,
        seed: 43,
    });
    let expected = baseline(&fleet);
    let mut rng = Rng::new(12);
    let deliveries = direct_deliveries(&fleet.streams, 8, &mut rng, 30);
    let reaped = reaps(deliveries.len(), 25, &mut rng);
    let store = Arc::new(Store::Memory(Memory::default()));
    let dealt = deal_concurrently(&fleet.config, &fleet.streams, 8, &deliveries, &reaped, &store);
    assert!(
        dealt.reaped > 10 && dealt.held_when_reaped > 0,
        "the reaped containers held counts when they went: {} reaped holding {}",
        dealt.reaped,
        dealt.held_when_reaped
    );
    assert_same_cells(&expected, &dealt.cells);
    assert_eq!(counter(&dealt.counters, "StateFallbacks"), 0);
}

#[test]
fn without_shared_state_the_same_dealing_drifts() {
    // The control for the test above: the fleet and dealing are hard enough that containers
    // deciding alone get cells wrong.
    let fleet = small_fleet(7);
    let expected = baseline(&fleet);
    let mut rng = Rng::new(99);
    let deliveries = direct_deliveries(&fleet.streams, 8, &mut rng, 40);
    let mut containers: Vec<Processor> = (0..8).map(|_| processor(&fleet.config, None)).collect();
    let mut documents = Vec::new();
    for &(c, cut) in &deliveries {
        let event = direct_event(&data_message(&fleet.streams[cut.stream], cut.from, cut.to));
        documents.extend(containers[c].handle_event(&event).documents);
    }
    for p in &mut containers {
        documents.extend(p.flush().documents);
    }
    assert_ne!(expected, sums(&documents));
}

#[test]
fn a_table_that_fails_now_and_then_falls_back_loudly_and_loses_no_invocation() {
    let fleet = small_fleet(11);
    let expected = baseline(&fleet);
    let mut rng = Rng::new(5);
    let deliveries = direct_deliveries(&fleet.streams, 4, &mut rng, 0);
    let store = Arc::new(Store::Memory(Memory::failing_every(7)));
    let (got, counters) = deal(&fleet.config, &fleet.streams, 4, &deliveries, &store);
    assert!(counter(&counters, "StateFallbacks") > 0);
    let invocations = |cells: &Cells| -> BTreeMap<String, i64> {
        let mut per_function = BTreeMap::new();
        for ((function, _, metric), n) in cells {
            if metric == "Invocations" {
                *per_function.entry(function.clone()).or_insert(0) += n;
            }
        }
        per_function
    };
    // Falling back may count an invocation in two containers, never in none.
    let (want, have) = (invocations(&expected), invocations(&got));
    assert_eq!(want.keys().collect::<Vec<_>>(), have.keys().collect::<Vec<_>>());
    for (function, n) in &want {
        assert!(
            have[function] >= *n,
            "{function}: {} of {n} invocations",
            have[function]
        );
    }
}

#[test]
fn a_report_in_one_container_and_its_late_timeout_line_in_another_count_one_timeout() {
    // The first case, across containers: [START, END, REPORT 290 s of 300 s] in one,
    // ["Task timed out after 300.00 seconds"] later in another.
    let stream = common::report_then_late_timeout_line();
    let config = "[defaults]\ntimeout_seconds = 300\n";
    let store = Arc::new(Store::Memory(Memory::default()));
    let deliveries = [
        (
            0,
            Cut {
                stream: 0,
                from: 0,
                to: 3,
            },
        ),
        (
            1,
            Cut {
                stream: 0,
                from: 3,
                to: 4,
            },
        ),
    ];
    let (got, _) = deal(config, std::slice::from_ref(&stream), 2, &deliveries, &store);
    let minute = T_FLEET + 240_000; // the REPORT's, 10:04
    let metric = |name: &str| got.get(&("scraper-a".to_string(), minute, name.to_string())).copied();
    assert_eq!(metric("Timeouts"), Some(1));
    assert_eq!(metric("Invocations"), Some(1));
    assert_eq!(
        metric("NearTimeout"),
        None,
        "counted at the REPORT, taken back by the timeout line: {got:?}"
    );
}

#[test]
fn a_timeout_learned_in_one_container_judges_near_timeouts_in_another() {
    // Function "exporter" names no timeout: its logs teach 120 s. Container 0 sees the
    // invocation that timed out; container 1 a later one that ran 100 s: near its timeout.
    let stream = fleet::stream_of(
        "/aws/lambda/exporter",
        T_FLEET,
        &[
            (
                0,
                "START RequestId: 11111111-0000-4000-8000-000000000001 Version: $LATEST",
            ),
            (
                120_000,
                "2026-11-29T10:02:00.000Z 11111111-0000-4000-8000-000000000001 Task timed out after 120.00 seconds",
            ),
            (120_001, "END RequestId: 11111111-0000-4000-8000-000000000001"),
            (
                120_001,
                "REPORT RequestId: 11111111-0000-4000-8000-000000000001\tDuration: 120000.00 ms\tBilled Duration: 120000 ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB",
            ),
            (
                130_000,
                "START RequestId: 22222222-0000-4000-8000-000000000002 Version: $LATEST",
            ),
            (230_000, "END RequestId: 22222222-0000-4000-8000-000000000002"),
            (
                230_000,
                "REPORT RequestId: 22222222-0000-4000-8000-000000000002\tDuration: 100000.00 ms\tBilled Duration: 100000 ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB",
            ),
        ],
    );
    let config = "[defaults]\ntimeout_seconds = 300\nnear_timeout_ratio = 0.8\n";
    let store = Arc::new(Store::Memory(Memory::default()));
    let deliveries = [
        (
            0,
            Cut {
                stream: 0,
                from: 0,
                to: 4,
            },
        ),
        (
            1,
            Cut {
                stream: 0,
                from: 4,
                to: 7,
            },
        ),
    ];
    let (got, counters) = deal(config, std::slice::from_ref(&stream), 2, &deliveries, &store);
    let minute = T_FLEET + 180_000; // the second REPORT's, 10:03
    assert_eq!(counter(&counters, "StateFallbacks"), 0);
    assert_eq!(
        got.get(&("exporter".to_string(), minute, "NearTimeout".to_string())),
        Some(&1),
        "judged against the 120 s the other container learned: {got:?}"
    );
}

#[test]
fn an_hour_of_streams_stays_exact_while_their_shared_positions_are_trimmed() {
    // An hour of flushes every few seconds puts far more positions in a stream's item than it
    // keeps (400 tokens, then its last 10 minutes): the heads trimmed away must still count.
    let fleet = fleet::generate(FleetSpec {
        functions: 3,
        streams_per_function: 4,
        span_ms: 60 * 60_000,
        start_ms: T_FLEET,
        seed: 21,
    });
    let expected = baseline(&fleet);
    let mut rng = Rng::new(8);
    let deliveries = direct_deliveries(&fleet.streams, 3, &mut rng, 0);
    let store = Arc::new(Store::Memory(Memory::default()));
    let (got, counters) = deal(&fleet.config, &fleet.streams, 3, &deliveries, &store);
    assert_eq!(counter(&counters, "StateFallbacks"), 0);
    assert_same_cells(&expected, &got);
    let items: Vec<(String, Vec<String>)> = fleet
        .streams
        .iter()
        .map(|s| {
            (
                lambda_watchdog::state::stream_key(&s.log_group, &s.log_stream),
                Vec::new(),
            )
        })
        .collect();
    let sizes: Vec<usize> = store
        .merge(&items)
        .into_iter()
        .map(|v| v.unwrap().tokens.len())
        .collect();
    let trimmed = sizes.iter().any(|&n| n < deliveries.len() / fleet.streams.len());
    assert!(
        trimmed && sizes.iter().all(|&n| n <= 600),
        "stream items were trimmed to about 400 tokens: {sizes:?} after {} batches",
        deliveries.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any fleet, any number of containers, any dealing: the same sums as one processor.
    #[test]
    fn generated_fleets_dealt_to_containers_sharing_state_give_the_same_sums(
        seed in any::<u64>(),
        dealing in any::<u64>(),
        containers in 1usize..12,
        again in 0usize..20,
    ) {
        let fleet = small_fleet(seed);
        let expected = baseline(&fleet);
        let mut rng = Rng::new(dealing);
        let deliveries = direct_deliveries(&fleet.streams, containers, &mut rng, again);
        let store = Arc::new(Store::Memory(Memory::default()));
        let (got, counters) = deal(&fleet.config, &fleet.streams, containers, &deliveries, &store);
        prop_assert_eq!(counter(&counters, "StateFallbacks"), 0);
        assert_same_cells(&expected, &got);
    }
}

#[test]
fn an_invocation_whose_item_expired_between_its_batches_is_counted_as_the_docs_say() {
    // docs/deploy.md, the state table: a container that counted the invocation before finds
    // the item gone, says so (StateFallbacks, a warning) and corrects from its own memory; a
    // container that never saw it counts what the later batch shows as if nothing had been
    // counted: the timeout counts, but the NearTimeout counted at the REPORT is not taken back.
    struct Case {
        name: &'static str,
        late_line_to: usize,
        fallbacks: i64,
        invocations: i64,
        near_timeouts: Option<i64>,
    }
    let cases = [
        Case {
            name: "the late line reaches the container that counted the REPORT",
            late_line_to: 0,
            fallbacks: 1,
            invocations: 1,
            near_timeouts: None,
        },
        Case {
            name: "the late line reaches another container",
            late_line_to: 1,
            fallbacks: 0,
            invocations: 1,
            near_timeouts: Some(1),
        },
    ];
    let stream = common::report_then_late_timeout_line();
    let config = "[defaults]\ntimeout_seconds = 300\n";
    let key = lambda_watchdog::state::invocation_key(
        &stream.log_group,
        &stream.log_stream,
        "6f0b7a8e-1111-4a2b-9c3d-000000000001",
    );
    for case in cases {
        let store = Arc::new(Store::Memory(Memory::default()));
        let mut containers = [processor(config, Some(&store)), processor(config, Some(&store))];
        let mut documents = containers[0]
            .handle_event(&direct_event(&data_message(&stream, 0, 3)))
            .documents;
        let Store::Memory(memory) = &*store else { unreachable!() };
        assert!(memory.expire(&key), "{}: the invocation had an item", case.name);
        documents.extend(
            containers[case.late_line_to]
                .handle_event(&direct_event(&data_message(&stream, 3, 4)))
                .documents,
        );
        for p in &mut containers {
            documents.extend(p.flush().documents);
        }
        let got = sums(&documents);
        let counters = fleet::processor_counters(&documents);
        let minute = T_FLEET + 240_000;
        let metric = |name: &str| got.get(&("scraper-a".to_string(), minute, name.to_string())).copied();
        assert_eq!(counter(&counters, "StateFallbacks"), case.fallbacks, "{}", case.name);
        assert_eq!(metric("Timeouts"), Some(1), "{}: {got:?}", case.name);
        assert_eq!(metric("Invocations"), Some(case.invocations), "{}: {got:?}", case.name);
        assert_eq!(metric("NearTimeout"), case.near_timeouts, "{}: {got:?}", case.name);
    }
}

#[test]
fn a_container_whose_table_never_answers_counts_as_one_without_a_table() {
    // README, "When the table fails": the batch is counted with the container's own memory,
    // as without the table. Every call failing, one container must count what one container
    // without a table counts, line for line.
    let fleet = fleet::generate(FleetSpec {
        functions: 2,
        streams_per_function: 2,
        span_ms: 3 * 60_000,
        start_ms: T_FLEET,
        seed: 13,
    });
    let mut rng = Rng::new(2);
    let deliveries = direct_deliveries(&fleet.streams, 1, &mut rng, 0);
    let run = |store: Option<&Arc<Store>>| fleet::one_container(&fleet.config, &fleet.streams, &deliveries, store);
    let alone = sums(&run(None));
    let store = Arc::new(Store::Memory(Memory::failing_every(1)));
    let documents = run(Some(&store));
    assert!(counter(&fleet::processor_counters(&documents), "StateFallbacks") > 0);
    assert_same_cells(&alone, &sums(&documents));
}
