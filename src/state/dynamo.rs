//! The shared state in DynamoDB: the calls of [`super::Store`], made in parallel on a thread of
//! their own (the processor is synchronous, and the Lambda handler's runtime is single-threaded),
//! each round bounded by [`super::ROUND_BUDGET`]. Rounds asked for by several threads at once
//! (processors sharing one store) run at the same time on that thread's runtime: one caller's
//! round does not wait for another's.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue, ScalarAttributeType,
    SseSpecification, TimeToLiveSpecification,
};
use tokio::time::Instant;

use super::{Calls, Claim, Filed, ITEM_TTL_SECONDS, MAX_IN_FLIGHT, ROUND_BUDGET, StateError, View};

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A DynamoDB table holding the shared state.
pub struct Dynamo {
    client: Client,
    table: String,
    calls: Calls,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// Held for the whole of a round when rounds must not overlap ([`Dynamo::one_round_at_a_time`]).
    turn: Option<std::sync::Mutex<()>>,
}

fn expires() -> AttributeValue {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    AttributeValue::N((now + ITEM_TTL_SECONDS).to_string())
}

fn call_error<E>(operation: &'static str, err: SdkError<E>) -> StateError
where
    E: std::fmt::Debug + aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let message = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            format!(
                "{}: {}",
                e.code().unwrap_or("unknown error"),
                e.message().unwrap_or("no message")
            )
        }
        other => format!("{other:?}").chars().take(300).collect(),
    };
    StateError::Call { operation, message }
}

fn is_condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    matches!(err, SdkError::ServiceError(s) if s.err().code() == Some("ConditionalCheckFailedException"))
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i128> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn view_of(key: &str, item: &HashMap<String, AttributeValue>) -> Result<View, StateError> {
    let malformed = |what: &str| StateError::Malformed {
        key: key.to_string(),
        what: what.to_string(),
    };
    let tokens = match item.get("f") {
        Some(AttributeValue::Ss(tokens)) => tokens.clone(),
        Some(_) => return Err(malformed("f is not a string set")),
        None => Vec::new(),
    };
    let version = number(item, "v").unwrap_or(0);
    let classes = number(item, "cc").unwrap_or(0);
    let rules = number(item, "cr").unwrap_or(0);
    Ok(View {
        tokens,
        filed: Filed {
            minute: number(item, "m").and_then(|m| i64::try_from(m).ok()),
            classes: u16::try_from(classes).map_err(|_| malformed("cc is out of range"))?,
            rules: u64::try_from(rules).map_err(|_| malformed("cr is out of range"))?,
        },
        version: u64::try_from(version).map_err(|_| malformed("v is out of range"))?,
    })
}

impl Dynamo {
    /// The table `table` through `client`. Starts the thread the calls run on.
    pub fn new(client: Client, table: impl Into<String>) -> Result<Dynamo, StateError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StateError::Call {
                operation: "start",
                message: e.to_string(),
            })?;
        std::thread::Builder::new()
            .name("state-table".into())
            .spawn(move || {
                // Each round is a task of its own: rounds from several callers overlap. The
                // thread ends when the store is dropped (the channel closes).
                runtime.block_on(async move {
                    while let Some(job) = rx.recv().await {
                        tokio::spawn(job());
                    }
                });
            })
            .map_err(|e| StateError::Call {
                operation: "start",
                message: e.to_string(),
            })?;
        Ok(Dynamo {
            client,
            table: table.into(),
            calls: Calls::default(),
            jobs: tx,
            turn: None,
        })
    }

    /// Runs one round at a time, whichever thread asks: for a server whose writes to one item
    /// are not atomic when they overlap (moto_server checks a condition and writes in two
    /// steps, so two overlapping conditional updates can both succeed). DynamoDB needs none of
    /// this; the calls of one round are to distinct items and still run in parallel.
    pub fn one_round_at_a_time(mut self) -> Dynamo {
        self.turn = Some(std::sync::Mutex::new(()));
        self
    }

    /// A client for `table` from the environment (`AWS_REGION`, credentials, and
    /// `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_DYNAMODB` for a local server). Call from async code.
    pub async fn from_env(table: impl Into<String>) -> Result<Dynamo, StateError> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Dynamo::new(Client::new(&config), table)
    }

    /// The calls made so far.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Runs `work` for every item, [`MAX_IN_FLIGHT`] at a time, within [`ROUND_BUDGET`]; results
    /// in the items' order. Blocks the calling thread.
    fn round<I, T, F, Fut>(&self, items: Vec<I>, work: F) -> Vec<Result<T, StateError>>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: Fn(I) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StateError>> + Send + 'static,
    {
        let n = items.len();
        if n == 0 {
            return Vec::new();
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let deadline = Instant::now() + ROUND_BUDGET;
                let mut results = Vec::with_capacity(n);
                let mut items = items.into_iter().peekable();
                while items.peek().is_some() {
                    let handles: Vec<_> = items
                        .by_ref()
                        .take(MAX_IN_FLIGHT)
                        .map(|item| tokio::spawn(tokio::time::timeout_at(deadline, work(item))))
                        .collect();
                    for handle in handles {
                        results.push(match handle.await {
                            Ok(Ok(result)) => result,
                            Ok(Err(_)) => Err(StateError::Timeout(ROUND_BUDGET)),
                            Err(e) => Err(StateError::Call {
                                operation: "task",
                                message: e.to_string(),
                            }),
                        });
                    }
                }
                let _ = tx.send(results);
            })
        });
        let turn = self.turn.as_ref().map(|m| m.lock().unwrap_or_else(|e| e.into_inner()));
        let sent = self.jobs.send(job).is_ok();
        let results = if sent { rx.recv().ok() } else { None };
        drop(turn);
        let results = results.unwrap_or_else(|| {
            (0..n)
                .map(|_| {
                    Err(StateError::Call {
                        operation: "worker",
                        message: "the state table's thread is gone".into(),
                    })
                })
                .collect()
        });
        let failed = results.iter().filter(|r| r.is_err()).count() as u64;
        self.calls.failures.fetch_add(failed, Ordering::Relaxed);
        results
    }

    pub(super) fn claim_batches(&self, fingerprints: &[String]) -> Vec<Result<bool, StateError>> {
        self.calls
            .batches
            .fetch_add(fingerprints.len() as u64, Ordering::Relaxed);
        let (client, table) = (self.client.clone(), self.table.clone());
        self.round(fingerprints.to_vec(), move |key| {
            let put = client
                .put_item()
                .table_name(&table)
                .item("pk", AttributeValue::S(key))
                .item("expires", expires())
                .condition_expression("attribute_not_exists(pk)");
            async move {
                match put.send().await {
                    Ok(_) => Ok(true),
                    Err(err) if is_condition_failed(&err) => Ok(false),
                    Err(err) => Err(call_error("PutItem", err)),
                }
            }
        })
    }

    pub(super) fn merge(&self, items: &[(String, Vec<String>)]) -> Vec<Result<View, StateError>> {
        self.calls.merges.fetch_add(items.len() as u64, Ordering::Relaxed);
        let (client, table) = (self.client.clone(), self.table.clone());
        self.round(items.to_vec(), move |(key, tokens)| {
            let mut update = client
                .update_item()
                .table_name(&table)
                .key("pk", AttributeValue::S(key.clone()))
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":expires", expires())
                .return_values(ReturnValue::AllNew);
            update = if tokens.is_empty() {
                update.update_expression("SET v = if_not_exists(v, :zero), expires = :expires")
            } else {
                update
                    .update_expression("ADD f :f SET v = if_not_exists(v, :zero), expires = :expires")
                    .expression_attribute_values(":f", AttributeValue::Ss(tokens))
            };
            async move {
                let out = update.send().await.map_err(|e| call_error("UpdateItem", e))?;
                view_of(&key, out.attributes().unwrap_or(&HashMap::new()))
            }
        })
    }

    pub(super) fn remove(&self, items: &[(String, Vec<String>)]) -> Vec<Result<(), StateError>> {
        self.calls.merges.fetch_add(items.len() as u64, Ordering::Relaxed);
        let (client, table) = (self.client.clone(), self.table.clone());
        self.round(items.to_vec(), move |(key, tokens)| {
            let update = client
                .update_item()
                .table_name(&table)
                .key("pk", AttributeValue::S(key))
                .update_expression("DELETE f :f")
                .expression_attribute_values(":f", AttributeValue::Ss(tokens));
            async move {
                update.send().await.map_err(|e| call_error("UpdateItem", e))?;
                Ok(())
            }
        })
    }

    pub(super) fn claim(&self, claims: &[(String, u64, Filed)]) -> Vec<Result<Claim, StateError>> {
        self.calls.claims.fetch_add(claims.len() as u64, Ordering::Relaxed);
        let (client, table) = (self.client.clone(), self.table.clone());
        self.round(claims.to_vec(), move |(key, version, filed)| {
            let mut update = client
                .update_item()
                .table_name(&table)
                .key("pk", AttributeValue::S(key))
                .condition_expression("v = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
                .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()))
                .expression_attribute_values(":cc", AttributeValue::N(filed.classes.to_string()))
                .expression_attribute_values(":cr", AttributeValue::N(filed.rules.to_string()))
                .expression_attribute_values(":expires", expires());
            update = match filed.minute {
                Some(m) => update
                    .update_expression("SET v = :next, cc = :cc, cr = :cr, m = :m, expires = :expires")
                    .expression_attribute_values(":m", AttributeValue::N(m.to_string())),
                None => update.update_expression("SET v = :next, cc = :cc, cr = :cr, expires = :expires REMOVE m"),
            };
            async move {
                match update.send().await {
                    Ok(_) => Ok(Claim::Won),
                    Err(err) if is_condition_failed(&err) => Ok(Claim::Lost),
                    Err(err) => Err(call_error("UpdateItem", err)),
                }
            }
        })
    }
}

/// Creates the state table as the template does: key `pk` (string), on-demand, encrypted,
/// TTL on `expires`. Waits until it is active.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StateError> {
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StateError::Call {
                    operation: "CreateTable",
                    message: e.to_string(),
                })?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| StateError::Call {
                    operation: "CreateTable",
                    message: e.to_string(),
                })?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .map_err(|e| call_error("CreateTable", e))?;
    for _ in 0..60 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| call_error("DescribeTable", e))?;
        let active = described
            .table()
            .and_then(|t| t.table_status())
            .is_some_and(|s| s.as_str() == "ACTIVE");
        if active {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires")
                .enabled(true)
                .build()
                .map_err(|e| StateError::Call {
                    operation: "UpdateTimeToLive",
                    message: e.to_string(),
                })?,
        )
        .send()
        .await
        .map_err(|e| call_error("UpdateTimeToLive", e))?;
    Ok(())
}
