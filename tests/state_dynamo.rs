//! Shared state through real DynamoDB calls, against a local AWS API server (moto_server): the
//! table the CLI creates with the template's schema, containers that share it counting a fleet
//! exactly (one after another, at the same time, reaped on the way), the calls that costs, an
//! item that expired, and `replay --state-table` giving the counts `replay` gives. A table that
//! throttles is in `tests/state_throttling.rs`.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use common::moto::Moto;
use lambda_watchdog::state::{Dynamo, StateError, Store, create_table, invocation_key};
use lambda_watchdog::testing::direct_event;
use lambda_watchdog::testing::fleet::{
    self, FleetSpec, Rng, assert_same_cells, baseline, counter, data_message, deal, deal_concurrently,
    direct_deliveries, processor, processor_counters, sums,
};

const T_FLEET: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z

#[tokio::test]
async fn containers_sharing_a_dynamodb_table_count_a_fleet_as_one_processor_does() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    create_table(&client, "watchdog-state").await.unwrap();
    let described = client
        .describe_table()
        .table_name("watchdog-state")
        .send()
        .await
        .unwrap();
    let table = described.table().unwrap();
    assert_eq!(table.key_schema()[0].attribute_name(), "pk");
    let ttl = client
        .describe_time_to_live()
        .table_name("watchdog-state")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description().and_then(|d| d.attribute_name()),
        Some("expires")
    );

    let fleet = fleet::generate(FleetSpec {
        functions: 3,
        streams_per_function: 2,
        span_ms: 10 * 60_000,
        start_ms: T_FLEET,
        seed: 3,
    });
    let expected = baseline(&fleet);
    let mut rng = Rng::new(17);
    let deliveries = direct_deliveries(&fleet.streams, 3, &mut rng, 10);
    let store = Arc::new(Store::Dynamo(Dynamo::new(client.clone(), "watchdog-state").unwrap()));
    // The processor blocks this thread while its calls run on the store's own.
    let started = std::time::Instant::now();
    let (got, counters) = deal(&fleet.config, &fleet.streams, 3, &deliveries, &store);
    let elapsed = started.elapsed();
    assert_same_cells(&expected, &got);
    assert_eq!(counter(&counters, "StateFallbacks"), 0);
    assert!(counter(&counters, "DuplicateBatches") > 0);
    let (batches, merges, claims, failures) = store.calls().snapshot();
    eprintln!(
        "{} batches delivered in {elapsed:?} against moto_server: {batches} batch records, {merges} merges, {claims} claims, {failures} failures",
        deliveries.len()
    );
    assert_eq!(failures, 0);
    assert!(
        batches + merges + claims < 4 * deliveries.len() as u64,
        "a handful of calls per batch: {batches} + {merges} + {claims} for {} batches",
        deliveries.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_table_fails_within_its_budget_and_says_why() {
    let closed = format!("http://127.0.0.1:{}", common::moto::free_port());
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&closed)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    let store = Store::Dynamo(Dynamo::new(aws_sdk_dynamodb::Client::new(&config), "watchdog-state").unwrap());
    let started = std::time::Instant::now();
    let results = tokio::task::block_in_place(|| store.claim_batches(&["b#1".to_string(), "b#2".to_string()]));
    assert!(started.elapsed() <= lambda_watchdog::state::ROUND_BUDGET + std::time::Duration::from_secs(1));
    for result in results {
        let err = result.unwrap_err();
        assert!(matches!(err, StateError::Call { .. } | StateError::Timeout(_)), "{err}");
    }
}

fn cli(moto: &Moto, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lambda-watchdog"))
        .args(args)
        .current_dir(common::root())
        .envs(moto.env())
        .output()
        .expect("the CLI runs")
}

#[test]
fn replay_through_a_state_table_made_by_the_cli_counts_the_samples_as_replay_alone_does() {
    let moto = Moto::start();
    let created = cli(&moto, &["state-table", "create", "samples-state"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let alone = cli(&moto, &["replay", "--output", "emf", "events"]);
    assert!(alone.status.success(), "{}", String::from_utf8_lossy(&alone.stderr));
    let shared = cli(
        &moto,
        &["replay", "--output", "emf", "--state-table", "samples-state", "events"],
    );
    assert!(shared.status.success(), "{}", String::from_utf8_lossy(&shared.stderr));
    let documents = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (alone, shared) = (fleet::sums(&documents(&alone)), fleet::sums(&documents(&shared)));
    assert!(alone.keys().any(|(_, _, m)| m == "Timeouts"));
    assert_same_cells(&alone, &shared);
    let again = cli(
        &moto,
        &["replay", "--output", "emf", "--state-table", "samples-state", "events"],
    );
    let again = fleet::sums(&documents(&again));
    assert!(
        again.is_empty(),
        "a second replay through the same table finds every batch processed: {again:?}"
    );
}

/// A fresh table on `moto` named `name`, and a store on it. moto_server checks a condition and
/// writes in two steps, so two overlapping conditional updates of one item can both succeed
/// (seen here: two winners of one `attribute_not_exists` update among 8 at once), which DynamoDB
/// never allows: the store runs one round of calls at a time, whichever container asks, while
/// the containers themselves run at the same time.
async fn table_on(moto: &Moto, name: &str) -> (aws_sdk_dynamodb::Client, Arc<Store>) {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    create_table(&client, name).await.unwrap();
    let dynamo = Dynamo::new(client.clone(), name).unwrap().one_round_at_a_time();
    (client, Arc::new(Store::Dynamo(dynamo)))
}

fn ten_minutes_of_fleet(seed: u64) -> fleet::Fleet {
    fleet::generate(FleetSpec {
        functions: 3,
        streams_per_function: 2,
        span_ms: 10 * 60_000,
        start_ms: T_FLEET,
        seed,
    })
}

#[tokio::test]
async fn containers_running_at_once_against_dynamodb_count_a_fleet_as_one_processor_does() {
    // Four threads, each a container with its own processor, calling the table at the same
    // time through one store (its calls from several threads overlap on its runtime).
    let moto = Moto::start();
    let (_, store) = table_on(&moto, "watchdog-concurrent").await;
    let fleet = ten_minutes_of_fleet(5);
    let expected = baseline(&fleet);
    let mut rng = Rng::new(23);
    let deliveries = direct_deliveries(&fleet.streams, 4, &mut rng, 12);
    let started = Instant::now();
    let dealt = deal_concurrently(&fleet.config, &fleet.streams, 4, &deliveries, &BTreeSet::new(), &store);
    eprintln!(
        "{} batches over 4 containers at once in {:?}",
        deliveries.len(),
        started.elapsed()
    );
    assert_same_cells(&expected, &dealt.cells);
    assert_eq!(counter(&dealt.counters, "StateFallbacks"), 0);
    assert!(counter(&dealt.counters, "DuplicateBatches") > 0);
    assert_eq!(store.calls().snapshot().3, 0, "no call failed");
}

#[tokio::test]
async fn containers_reaped_mid_run_against_dynamodb_cost_no_count() {
    // README: an invocation a reaped container held is decided by the next batch of it
    // anywhere; what it counted is in the table. Every invocation of the fleet reports.
    let moto = Moto::start();
    let (_, store) = table_on(&moto, "watchdog-reaped").await;
    let fleet = ten_minutes_of_fleet(9);
    let expected = baseline(&fleet);
    let mut rng = Rng::new(31);
    let deliveries = direct_deliveries(&fleet.streams, 3, &mut rng, 6);
    let first = rng.below(12) as usize;
    let reaped: BTreeSet<usize> = (first..deliveries.len()).step_by(12).collect();
    let dealt = deal_concurrently(&fleet.config, &fleet.streams, 3, &deliveries, &reaped, &store);
    assert!(
        dealt.reaped > 5 && dealt.held_when_reaped > 0,
        "the reaped containers held counts when they went: {} reaped holding {}",
        dealt.reaped,
        dealt.held_when_reaped
    );
    assert_same_cells(&expected, &dealt.cells);
    assert_eq!(counter(&dealt.counters, "StateFallbacks"), 0);
}

#[tokio::test]
async fn an_invocation_whose_dynamodb_item_expired_between_its_batches_is_counted_as_the_docs_say() {
    // docs/deploy.md, the state table: the container that counted the invocation finds its
    // item gone, says so and corrects from its own memory; another container counts what the
    // later batch shows as if nothing had been counted (the NearTimeout is not taken back).
    let moto = Moto::start();
    let cases = [
        (
            "the late line reaches the container that counted the REPORT",
            0,
            1,
            1,
            None,
        ),
        ("the late line reaches another container", 1, 0, 1, Some(1)),
    ];
    let stream = common::report_then_late_timeout_line();
    let config = "[defaults]\ntimeout_seconds = 300\n";
    let key = invocation_key(
        &stream.log_group,
        &stream.log_stream,
        "6f0b7a8e-1111-4a2b-9c3d-000000000001",
    );
    for (i, (name, late_line_to, fallbacks, invocations, near_timeouts)) in cases.into_iter().enumerate() {
        let table = format!("watchdog-expired-{i}");
        let (client, store) = table_on(&moto, &table).await;
        let mut containers = [processor(config, Some(&store)), processor(config, Some(&store))];
        let mut documents = containers[0]
            .handle_event(&direct_event(&data_message(&stream, 0, 3)))
            .documents;
        let deleted = client
            .delete_item()
            .table_name(&table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(key.clone()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .unwrap();
        assert!(deleted.attributes().is_some(), "{name}: the invocation had an item");
        documents.extend(
            containers[late_line_to]
                .handle_event(&direct_event(&data_message(&stream, 3, 4)))
                .documents,
        );
        for p in &mut containers {
            documents.extend(p.flush().documents);
        }
        let got = sums(&documents);
        let minute = T_FLEET + 240_000;
        let metric = |m: &str| got.get(&("scraper-a".to_string(), minute, m.to_string())).copied();
        assert_eq!(
            counter(&processor_counters(&documents), "StateFallbacks"),
            fallbacks,
            "{name}"
        );
        assert_eq!(metric("Timeouts"), Some(1), "{name}: {got:?}");
        assert_eq!(metric("Invocations"), Some(invocations), "{name}: {got:?}");
        assert_eq!(metric("NearTimeout"), near_timeouts, "{name}: {got:?}");
    }
}
