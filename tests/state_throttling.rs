//! The shared state table throttling: every DynamoDB call answered with `ThrottlingException`
//! or `ProvisionedThroughputExceededException` by a local endpoint (moto cannot throttle), so
//! the SDK's own retries and backoff run. A test binary of its own: it reads the warnings back,
//! and tracing caches which call sites are enabled across the tests of one process.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::throttling::Throttling;
use lambda_watchdog::state::{Dynamo, ROUND_BUDGET, Store};
use lambda_watchdog::testing::direct_event;
use lambda_watchdog::testing::fleet::{
    self, Cells, FleetSpec, Rng, assert_same_cells, counter, data_message, direct_deliveries, processor,
    processor_counters, sums,
};

const T_FLEET: i64 = 1_795_946_400_000; // 2026-11-29T10:00:00Z

#[tokio::test]
async fn a_throttling_table_falls_back_loudly_within_its_budget_and_counts_every_batch() {
    // README, "When the table fails": each batch is counted with the container's own memory,
    // as without the table, with StateFallbacks and a warning; no batch is dropped and the
    // invocation does not fail. The SDK retries throttling with backoff (standard retry
    // mode); a round that fails whole ends the event's calls, so a batch waits about one
    // round's budget at most.
    let (logs, _guard) = common::logs::capture();
    // A Python runtime with request ids and a Go one whose lines need their stream's positions.
    let fleet = fleet::generate(FleetSpec {
        functions: 2,
        streams_per_function: 1,
        span_ms: 3 * 60_000,
        start_ms: T_FLEET,
        seed: 13,
    });
    let mut rng = Rng::new(2);
    let deliveries = direct_deliveries(&fleet.streams, 1, &mut rng, 0);
    // What one container without a table counts from the same deliveries.
    let alone = sums(&fleet::one_container(&fleet.config, &fleet.streams, &deliveries, None));
    for exception in ["ThrottlingException", "ProvisionedThroughputExceededException"] {
        let server = Throttling::start(exception);
        // A retry partition of its own: the SDK's retry quota is per partition, shared by
        // every client of the process, and this test drains it.
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&server.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await;
        let dynamo_config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_partition(aws_sdk_dynamodb::config::retry::RetryPartition::new(format!(
                "throttled-{exception}"
            )))
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(dynamo_config);
        let store = Arc::new(Store::Dynamo(Dynamo::new(client, "watchdog-state").unwrap()));
        let mut p = processor(&fleet.config, Some(&store));
        let mut documents = Vec::new();
        let mut slowest = Duration::ZERO;
        for (_, cut) in &deliveries {
            let event = direct_event(&data_message(&fleet.streams[cut.stream], cut.from, cut.to));
            let started = Instant::now();
            let outcome = p.handle_event(&event);
            slowest = slowest.max(started.elapsed());
            documents.extend(outcome.documents);
        }
        documents.extend(p.flush().documents);
        let got: Cells = sums(&documents);
        let counters = processor_counters(&documents);
        let requests = server.requests.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "{exception}: {} batches, {requests} requests answered, slowest batch {slowest:?}",
            deliveries.len()
        );
        assert!(requests > 0, "{exception}: the SDK called the server");
        assert!(counter(&counters, "StateFallbacks") > 0, "{exception}");
        assert_eq!(
            counter(&counters, "BatchesProcessed"),
            deliveries.len() as i64,
            "{exception}: every batch processed"
        );
        assert_same_cells(&alone, &got);
        assert!(
            slowest <= ROUND_BUDGET + Duration::from_secs(3),
            "{exception}: the slowest batch took {slowest:?}"
        );
        let text = logs.text();
        assert!(
            text.contains("WARN") && text.contains("shared state table did not answer") && text.contains(exception),
            "{exception}: a warning names the error: {text}"
        );
    }
}
