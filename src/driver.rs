//! The driver both entry points share, the Lambda handler and `replay`: one warm processor and
//! its notifier (what happened, and which notices it calls for), then delivery of the notices
//! to SNS within a time budget, with the outage back-off, and the EMF documents that count them.
//!
//! It is shared by `&self` (the Lambda runtime calls the handler through a shared reference):
//! the state sits behind a mutex that is never held across an `.await`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::Config;
use crate::metrics::ProcessorMetric;
use crate::notify::sns::{Delivery, Publisher, deliver};
use crate::notify::{Notice, Notifier};
use crate::processor::{Outcome, Processor, Telemetry, wall_ms};
use crate::wire::DataMessage;

/// Most time notices may take in one invocation, so a slow SNS cannot eat the whole timeout.
pub const NOTICE_BUDGET: Duration = Duration::from_secs(30);

/// After SNS fails, how long the driver logs notices instead of trying again, so that an outage
/// does not cost every invocation the time of a failed publish.
pub const SNS_BACKOFF: Duration = Duration::from_secs(60);

/// The time notices may take in an invocation whose deadline is `deadline_ms` (epoch ms), at
/// `now_ms`: what is left before the deadline, less a tenth of it (at most 2 s, at least
/// 100 ms) to write the notice metrics and answer, and at most [`NOTICE_BUDGET`]. A 3 s function
/// with 2.9 s left gets 2.61 s. A deadline in the past means none was given (cargo-lambda's
/// emulator sends a fixed 600000): the notice budget alone.
pub fn notice_budget(deadline_ms: u64, now_ms: u64) -> Duration {
    if deadline_ms <= now_ms {
        return NOTICE_BUDGET;
    }
    let left = Duration::from_millis(deadline_ms - now_ms);
    let margin = (left / 10).clamp(Duration::from_millis(100), Duration::from_secs(2));
    left.saturating_sub(margin).min(NOTICE_BUDGET)
}

/// Processor, notifier and delivery, as one warm container runs them.
pub struct Driver {
    state: Mutex<State>,
    publisher: Option<Publisher>,
    sns_down_until: Mutex<Option<Instant>>,
}

struct State {
    processor: Processor,
    notifier: Notifier,
}

/// What processing one event produced, before any notice is delivered.
pub struct Ingested {
    /// The processor's outcome (EMF documents included).
    pub outcome: Outcome,
    /// The notices it calls for.
    pub notices: Vec<Notice>,
}

/// What delivering one event's notices did.
pub struct Delivered {
    /// Sent and failed notices.
    pub delivery: Delivery,
    /// The counters of it (`NoticesSent`, `NoticeFailures`).
    pub telemetry: Telemetry,
    /// The same counters as EMF documents (none when there was no notice).
    pub documents: Vec<String>,
}

impl Driver {
    /// A driver around a processor and an optional SNS publisher (none: notices are logged).
    pub fn new(processor: Processor, publisher: Option<Publisher>) -> Driver {
        // The config's Region or the environment's, else the one the SDK found for SNS (a
        // replay's profile), else unknown: notices say so rather than guess.
        let region =
            Notifier::known_region(processor.config()).or_else(|| publisher.as_ref().and_then(Publisher::region));
        let notifier = Notifier::with_region(region);
        Driver {
            state: Mutex::new(State { processor, notifier }),
            publisher,
            sns_down_until: Mutex::new(None),
        }
    }

    /// The publisher, if notices go to SNS.
    pub fn publisher(&self) -> Option<&Publisher> {
        self.publisher.as_ref()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state half-updated in a way that matters more than
        // losing the container's memory, so a poisoned lock is simply reused.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the config in use.
    pub fn config(&self) -> Config {
        self.state().processor.config().clone()
    }

    /// Processes one Lambda event of any accepted shape and decides its notices (no I/O).
    pub fn ingest(&self, payload: &Value) -> Ingested {
        self.ingest_with(|processor| processor.handle_event(payload))
    }

    /// Processes one decoded subscription message (replay's plain log files) and decides its
    /// notices.
    pub fn ingest_message(&self, message: &DataMessage<'_>) -> Ingested {
        self.ingest_with(|processor| processor.handle_message(message))
    }

    /// Settles every count the processor holds (the end of a replay; see
    /// [`Processor::flush`]) and the notices they call for.
    pub fn flush(&self) -> Ingested {
        self.ingest_with(Processor::flush)
    }

    fn ingest_with(&self, run: impl FnOnce(&mut Processor) -> Outcome) -> Ingested {
        let mut state = self.state();
        let State { processor, notifier } = &mut *state;
        let outcome = run(processor);
        let notices = notifier.notices_for(processor.config(), &outcome.invocations);
        Ingested { outcome, notices }
    }

    /// Delivers `notices` within `budget` (SNS, or the log without a publisher or while SNS is
    /// backed off) and counts them. After a failure, SNS is left alone for [`SNS_BACKOFF`].
    pub async fn deliver(&self, notices: &[Notice], budget: Duration) -> Delivered {
        if notices.is_empty() {
            return Delivered {
                delivery: Delivery::default(),
                telemetry: Telemetry::default(),
                documents: Vec::new(),
            };
        }
        let down = self
            .sns_down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| Instant::now() < until);
        let delivery = deliver(self.publisher.as_ref(), notices, Instant::now() + budget, down).await;
        if delivery.sns_failed {
            *self.sns_down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + SNS_BACKOFF);
        }
        let (telemetry, documents) = self.count_notices(delivery.sent, delivery.failed);
        Delivered {
            delivery,
            telemetry,
            documents,
        }
    }
}

impl Driver {
    /// Counts notices delivered outside [`Driver::deliver`] (the dead-letter check's): the
    /// counters and their EMF documents, so `NoticeFailures` and its alarm cover them too.
    pub fn count_notices(&self, sent: u64, failed: u64) -> (Telemetry, Vec<String>) {
        let mut telemetry = Telemetry::default();
        telemetry.add(ProcessorMetric::NoticesSent, sent);
        telemetry.add(ProcessorMetric::NoticeFailures, failed);
        let documents = self.state().processor.telemetry_documents(
            &telemetry,
            &[ProcessorMetric::NoticesSent, ProcessorMetric::NoticeFailures],
            wall_ms(),
        );
        (telemetry, documents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_budget_is_the_time_left_less_a_margin_within_thirty_seconds() {
        let now = 1_800_000_000_000;
        let cases = [
            ("a 3 s function with 2.9 s left", Some(2_900), 2_610),
            ("a 10 s function with 9.8 s left", Some(9_800), 8_820),
            ("a 60 s function with 50 s left", Some(50_000), 30_000),
            ("a 900 s function", Some(899_000), 30_000),
            ("half a second left", Some(500), 400),
            ("almost nothing left", Some(50), 0),
            ("the emulator's fixed deadline, long past", None, 30_000),
        ];
        for (name, left_ms, budget_ms) in cases {
            let deadline = left_ms.map_or(600_000, |left| now + left);
            assert_eq!(notice_budget(deadline, now), Duration::from_millis(budget_ms), "{name}");
        }
    }
}
