//! Shared state through real DynamoDB calls, against a local AWS API server (moto_server): the
//! table the CLI creates with the template's schema, containers that share it counting a fleet
//! exactly, the calls that costs, and `replay --state-table` giving the counts `replay` gives.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::moto::Moto;
use lambda_watchdog::state::{Dynamo, StateError, Store, create_table};
use lambda_watchdog::testing::fleet::{
    self, FleetSpec, Rng, assert_same_cells, baseline, counter, deal, direct_deliveries,
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
