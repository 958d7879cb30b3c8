//! Invocation state that every container shares: what makes "each class once per invocation"
//! hold when CloudWatch Logs deals one invocation's batches to many containers.
//!
//! One table, one key (`pk`), three kinds of item:
//!
//! - **an invocation** (`i#<log group>#<log stream>#<request id>`): `f`, the string set of the
//!   facts its lines established ([`Facts::to_tokens`]), to which every container adds what it
//!   saw (a set union: any order, any number of times, gives the same facts); and what was
//!   counted for it, `m` (its minute), `cc` (the classes), `cr` (the rules), under a version `v`.
//!   A container counts only by moving the counted state from the version it read to the next
//!   one (a conditional write), so of two containers racing on one invocation exactly one files
//!   each change, and the other reads again and finds nothing left to do;
//! - **a log stream** (`s#<log group>#<log stream>`): the positions that tie lines without a
//!   request id to their invocation (`crate::processor`'s shared stream positions);
//! - **a function's learned timeouts** (`t#<function>`): `<epoch ms>|<seconds>` tokens;
//! - **a batch** (`b#<fingerprint>`): written once, by the first container that processes that
//!   batch; a delivery that comes again finds it and counts nothing;
//! - every item has `expires` (epoch seconds, the table's TTL attribute), a day after it was
//!   last written.
//!
//! [`Store::Memory`] keeps the same items in process (the CLI without `--state-table`, and the
//! fleet simulations); [`Store::Dynamo`] keeps them in DynamoDB. The processor calls the store
//! synchronously; the DynamoDB calls run on a thread of their own, in parallel, under a time
//! budget per call round.

mod dynamo;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use dynamo::{Dynamo, create_table};

/// How long an item is kept after its last write (the TTL).
pub const ITEM_TTL_SECONDS: i64 = 24 * 3600;
/// The most calls in flight at once.
pub const MAX_IN_FLIGHT: usize = 16;
/// The most time one round of calls may take before the calls still open count as failed.
pub const ROUND_BUDGET: Duration = Duration::from_secs(5);
/// How many times a container tries to file its counts for one invocation when others keep
/// winning the race.
pub const CLAIM_ATTEMPTS: usize = 4;

/// What failed when talking to the table.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// DynamoDB answered with an error, or could not be reached.
    #[error("DynamoDB {operation} failed: {message}")]
    Call {
        /// The API operation.
        operation: &'static str,
        /// What the SDK said.
        message: String,
    },
    /// The round of calls took longer than its budget.
    #[error("the state table did not answer within {0:?}")]
    Timeout(Duration),
    /// An item read back has a shape this version does not know.
    #[error("state item {key} is malformed: {what}")]
    Malformed {
        /// The item's key.
        key: String,
        /// What is wrong with it.
        what: String,
    },
    /// A fault injected by a test.
    #[error("injected fault")]
    Injected,
    /// Not tried: an earlier round of calls for the same event failed whole.
    #[error("not tried after an earlier call failed: {0}")]
    Skipped(String),
}

/// What was counted for an invocation, as the table keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filed {
    /// The minute its counts are filed under (epoch ms), if any were.
    pub minute: Option<i64>,
    /// The classes counted ([`crate::processor::Counted`]'s bits).
    pub classes: u16,
    /// The rules counted, bit `i` is rule `i`.
    pub rules: u64,
}

/// An invocation as the table holds it after a container added its facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// Every fact token any container added.
    pub tokens: Vec<String>,
    /// What was counted for it.
    pub filed: Filed,
    /// The version of `filed`; a claim must name it.
    pub version: u64,
}

/// How a claim ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This container moved the counted state: it files the change.
    Won,
    /// Another container moved it first: read again and decide anew.
    Lost,
}

/// Calls made, by kind, for the figures of the docs.
#[derive(Debug, Default)]
pub struct Calls {
    /// Batch fingerprints written (conditional puts).
    pub batches: AtomicU64,
    /// Facts added to invocations (updates returning the item).
    pub merges: AtomicU64,
    /// Counted states moved (conditional updates), won or lost.
    pub claims: AtomicU64,
    /// Calls that failed.
    pub failures: AtomicU64,
    /// Write request units the calls would cost in DynamoDB: for each write, one per started
    /// KB of the larger of the item before and after it (counted by the in-process store).
    pub write_units: AtomicU64,
}

/// DynamoDB's write request units for a write that changes an item of `before` bytes into one
/// of `after` bytes.
pub fn write_units(before: usize, after: usize) -> u64 {
    before.max(after).max(1).div_ceil(1024) as u64
}

impl MemoryItem {
    /// The item's size as DynamoDB counts it: attribute names and values.
    fn size(&self, key: &str) -> usize {
        let counted = if self.filed.minute.is_some() { 4 * 8 } else { 3 * 8 };
        "pk".len()
            + key.len()
            + "f".len()
            + self.tokens.iter().map(String::len).sum::<usize>()
            + counted
            + "expires".len()
            + 8
    }
}

impl Calls {
    /// (batches, merges, claims, failures).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.merges.load(Ordering::Relaxed),
            self.claims.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

#[derive(Debug, Default)]
struct MemoryItem {
    tokens: BTreeSet<String>,
    filed: Filed,
    version: u64,
}

/// The in-process table: the same protocol as DynamoDB, for the CLI and the simulations.
#[derive(Debug, Default)]
pub struct Memory {
    items: Mutex<HashMap<String, MemoryItem>>,
    batches: Mutex<BTreeSet<String>>,
    /// Fail every n-th call (tests of the fallback).
    fail_every: Option<u64>,
    made: AtomicU64,
    calls: Calls,
}

impl Memory {
    /// A store whose every `n`-th call fails, to test what the processor does then.
    pub fn failing_every(n: u64) -> Memory {
        Memory {
            fail_every: Some(n.max(1)),
            ..Memory::default()
        }
    }

    /// Deletes an item, as DynamoDB's TTL does a day after its last write (tests of an item
    /// that expired while its invocation still had batches to come). True if it was there.
    pub fn expire(&self, key: &str) -> bool {
        self.items.lock().expect("state lock").remove(key).is_some()
    }

    fn fault(&self, kind: &AtomicU64) -> Result<(), StateError> {
        kind.fetch_add(1, Ordering::Relaxed);
        let n = self.made.fetch_add(1, Ordering::Relaxed) + 1;
        match self.fail_every {
            Some(every) if n.is_multiple_of(every) => {
                self.calls.failures.fetch_add(1, Ordering::Relaxed);
                Err(StateError::Injected)
            }
            _ => Ok(()),
        }
    }
}

/// Where shared state lives.
pub enum Store {
    /// In this process.
    Memory(Memory),
    /// In a DynamoDB table.
    Dynamo(Dynamo),
}

impl Store {
    /// The calls made so far.
    pub fn calls(&self) -> &Calls {
        match self {
            Store::Memory(m) => &m.calls,
            Store::Dynamo(d) => d.calls(),
        }
    }

    /// Records each batch fingerprint; `Ok(true)` for a batch no container processed before.
    pub fn claim_batches(&self, fingerprints: &[String]) -> Vec<Result<bool, StateError>> {
        match self {
            Store::Memory(m) => fingerprints
                .iter()
                .map(|fp| {
                    m.fault(&m.calls.batches)?;
                    m.calls.write_units.fetch_add(1, Ordering::Relaxed);
                    Ok(m.batches.lock().expect("state lock").insert(fp.clone()))
                })
                .collect(),
            Store::Dynamo(d) => d.claim_batches(fingerprints),
        }
    }

    /// Adds each invocation's tokens to what the table holds for it and reads the result.
    /// An empty token list only reads.
    pub fn merge(&self, items: &[(String, Vec<String>)]) -> Vec<Result<View, StateError>> {
        match self {
            Store::Memory(m) => items
                .iter()
                .map(|(key, tokens)| {
                    m.fault(&m.calls.merges)?;
                    let mut all = m.items.lock().expect("state lock");
                    let item = all.entry(key.clone()).or_default();
                    let before = item.size(key);
                    item.tokens.extend(tokens.iter().cloned());
                    m.calls
                        .write_units
                        .fetch_add(write_units(before, item.size(key)), Ordering::Relaxed);
                    Ok(View {
                        tokens: item.tokens.iter().cloned().collect(),
                        filed: item.filed,
                        version: item.version,
                    })
                })
                .collect(),
            Store::Dynamo(d) => d.merge(items),
        }
    }

    /// Takes tokens out of items' sets (a stream's oldest positions).
    pub fn remove(&self, items: &[(String, Vec<String>)]) -> Vec<Result<(), StateError>> {
        match self {
            Store::Memory(m) => items
                .iter()
                .map(|(key, tokens)| {
                    m.fault(&m.calls.merges)?;
                    let mut all = m.items.lock().expect("state lock");
                    if let Some(item) = all.get_mut(key) {
                        let before = item.size(key);
                        for token in tokens {
                            item.tokens.remove(token);
                        }
                        m.calls
                            .write_units
                            .fetch_add(write_units(before, before), Ordering::Relaxed);
                    }
                    Ok(())
                })
                .collect(),
            Store::Dynamo(d) => d.remove(items),
        }
    }

    /// Moves each invocation's counted state from `version` to the next, with `filed`, if no
    /// one moved it since.
    pub fn claim(&self, claims: &[(String, u64, Filed)]) -> Vec<Result<Claim, StateError>> {
        match self {
            Store::Memory(m) => claims
                .iter()
                .map(|(key, version, filed)| {
                    m.fault(&m.calls.claims)?;
                    let mut all = m.items.lock().expect("state lock");
                    let item = all.entry(key.clone()).or_default();
                    let before = item.size(key);
                    if item.version != *version {
                        m.calls
                            .write_units
                            .fetch_add(write_units(before, before), Ordering::Relaxed);
                        return Ok(Claim::Lost);
                    }
                    item.version += 1;
                    item.filed = *filed;
                    m.calls
                        .write_units
                        .fetch_add(write_units(before, item.size(key)), Ordering::Relaxed);
                    Ok(Claim::Won)
                })
                .collect(),
            Store::Dynamo(d) => d.claim(claims),
        }
    }
}

/// One event's calls to a [`Store`]. A round whose every call failed (the table unreachable,
/// throttling, or slower than [`ROUND_BUDGET`]) ends the event's calls: the later ones fail at
/// once with [`StateError::Skipped`], so a table that is down costs an event about one round's
/// budget of waiting, not one per round.
pub(crate) struct EventCalls<'a> {
    store: &'a Store,
    down: Option<String>,
}

impl<'a> EventCalls<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        EventCalls { store, down: None }
    }

    fn guard<T>(
        &mut self,
        n: usize,
        call: impl FnOnce(&Store) -> Vec<Result<T, StateError>>,
    ) -> Vec<Result<T, StateError>> {
        if n == 0 {
            return Vec::new();
        }
        if let Some(reason) = &self.down {
            return (0..n).map(|_| Err(StateError::Skipped(reason.clone()))).collect();
        }
        let results = call(self.store);
        if results.iter().all(Result::is_err) {
            self.down = results.iter().find_map(|r| r.as_ref().err()).map(ToString::to_string);
        }
        results
    }

    /// [`Store::claim_batches`], unless the table is down for this event.
    pub(crate) fn claim_batches(&mut self, fingerprints: &[String]) -> Vec<Result<bool, StateError>> {
        self.guard(fingerprints.len(), |s| s.claim_batches(fingerprints))
    }

    /// [`Store::merge`], unless the table is down for this event.
    pub(crate) fn merge(&mut self, items: &[(String, Vec<String>)]) -> Vec<Result<View, StateError>> {
        self.guard(items.len(), |s| s.merge(items))
    }

    /// [`Store::remove`], unless the table is down for this event.
    pub(crate) fn remove(&mut self, items: &[(String, Vec<String>)]) -> Vec<Result<(), StateError>> {
        self.guard(items.len(), |s| s.remove(items))
    }

    /// [`Store::claim`], unless the table is down for this event.
    pub(crate) fn claim(&mut self, claims: &[(String, u64, Filed)]) -> Vec<Result<Claim, StateError>> {
        self.guard(claims.len(), |s| s.claim(claims))
    }
}

/// The key of an invocation's item.
pub fn invocation_key(log_group: &str, log_stream: &str, request_id: &str) -> String {
    format!("i#{log_group}#{log_stream}#{request_id}")
}

/// The key of a log stream's item ([`crate::processor`]'s shared stream positions).
pub fn stream_key(log_group: &str, log_stream: &str) -> String {
    format!("s#{log_group}#{log_stream}")
}

/// The key of a function's learned timeouts (`<epoch ms>|<seconds>` tokens).
pub fn timeouts_key(function: &str) -> String {
    format!("t#{function}")
}

/// The key of a batch's item.
pub fn batch_key(fingerprint: u64) -> String {
    format!("b#{fingerprint:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_two_containers_racing_on_one_invocation_only_the_first_claim_wins() {
        let store = Store::Memory(Memory::default());
        let key = invocation_key("/aws/lambda/a", "s", "r1");
        let a = store.merge(&[(key.clone(), vec!["f0".into()])]).remove(0).unwrap();
        let b = store.merge(&[(key.clone(), vec!["f1".into()])]).remove(0).unwrap();
        assert_eq!(
            b.tokens,
            vec!["f0".to_string(), "f1".to_string()],
            "the second sees both"
        );
        let filed = Filed {
            minute: Some(0),
            classes: 1,
            rules: 0,
        };
        assert_eq!(
            store.claim(&[(key.clone(), b.version, filed)]).remove(0).unwrap(),
            Claim::Won
        );
        assert_eq!(
            store.claim(&[(key.clone(), a.version, filed)]).remove(0).unwrap(),
            Claim::Lost
        );
        let again = store.merge(&[(key, vec![])]).remove(0).unwrap();
        assert_eq!((again.filed, again.version), (filed, 1));
    }

    #[test]
    fn a_batch_is_new_only_to_the_first_container_that_records_it() {
        let store = Store::Memory(Memory::default());
        let fp = batch_key(42);
        assert!(store.claim_batches(std::slice::from_ref(&fp))[0].as_ref().unwrap());
        assert!(!store.claim_batches(&[fp])[0].as_ref().unwrap());
    }

    #[test]
    fn a_failing_store_fails_the_calls_it_was_told_to() {
        let store = Store::Memory(Memory::failing_every(2));
        let results = store.claim_batches(&[batch_key(1), batch_key(2), batch_key(3), batch_key(4)]);
        let failed: Vec<bool> = results.iter().map(Result::is_err).collect();
        assert_eq!(failed, vec![false, true, false, true]);
    }
}
