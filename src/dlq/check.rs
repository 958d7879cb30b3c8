//! The Lambda entry to the dead-letter check: which events ask for it, which queues they name,
//! the per-queue cooldown, and the check itself within the invocation's time budget, published
//! through the notices topic (or logged whole when SNS is down: nothing is lost).
//!
//! Two events ask for it (see the template): EventBridge's `CloudWatch Alarm State Change` for
//! an alarm on a queue's `ApproximateNumberOfMessagesVisible` (entering ALARM), and a scheduled
//! `{"watchdog": "dead-letter-check"}` that checks every queue of `WATCHDOG_DEAD_LETTER_QUEUES`
//! (or its own `queues` list) and alerts on those holding messages.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tracing::{error, info};

use super::aws::{Clients, gather, queue_stats};
use super::{DeadLetterNotice, QueueRef};
use crate::config::Config;
use crate::notify::sns::{MIN_ATTEMPT, Publisher, message_budget, structured};

/// Most queues one event checks.
pub const MAX_QUEUES: usize = 20;
/// How far back a check looks for a failed invocation's lines.
pub const DEFAULT_SINCE_MS: i64 = 3_600_000;
/// Part of the time budget kept for publishing after the evidence is gathered.
pub const PUBLISH_SHARE: f64 = 0.3;

/// What an event asks of the dead-letter check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Queue names (or URLs).
    pub queues: Vec<String>,
    /// Alert only on queues that hold messages (the schedule); an alarm always gets a notice.
    pub only_if_messages: bool,
}

/// Whether `event` asks for a dead-letter check, and for which queues. `configured` is
/// `WATCHDOG_DEAD_LETTER_QUEUES` (comma-separated names): an alarm on a queue outside it is
/// not checked (the function may only read the watched queues).
pub fn request_for(event: &Value, configured: &[String]) -> Option<Request> {
    if event.get("watchdog").and_then(Value::as_str) == Some("dead-letter-check") {
        let listed: Vec<String> = event
            .get("queues")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_else(|| configured.to_vec());
        return Some(Request {
            queues: listed.into_iter().take(MAX_QUEUES).collect(),
            only_if_messages: true,
        });
    }
    if event.get("source").and_then(Value::as_str) != Some("aws.cloudwatch")
        || event.get("detail-type").and_then(Value::as_str) != Some("CloudWatch Alarm State Change")
    {
        return None;
    }
    let detail = event.get("detail")?;
    // See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
    // for the event's shape: the alarm's metrics sit under detail.configuration.metrics.
    let state = detail.pointer("/state/value").and_then(Value::as_str);
    let mut queues: Vec<String> = Vec::new();
    if state == Some("ALARM") {
        for metric in detail
            .pointer("/configuration/metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let m = metric.pointer("/metricStat/metric");
            let sqs = m.and_then(|m| m.get("namespace")).and_then(Value::as_str) == Some("AWS/SQS");
            let name = m
                .and_then(|m| m.pointer("/dimensions/QueueName"))
                .and_then(Value::as_str);
            if let (true, Some(name)) = (sqs, name)
                && !queues.iter().any(|q| q == name)
            {
                queues.push(name.to_string());
            }
        }
    }
    queues.retain(|q| configured.is_empty() || configured.iter().any(|c| c == q));
    queues.truncate(MAX_QUEUES);
    Some(Request {
        queues,
        only_if_messages: false,
    })
}

/// The queue names of `WATCHDOG_DEAD_LETTER_QUEUES`.
pub fn configured_queues() -> Vec<String> {
    std::env::var("WATCHDOG_DEAD_LETTER_QUEUES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the check did for one queue (the invocation's response lists them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueOutcome {
    /// The queue.
    pub queue: String,
    /// `published`, `logged` (no topic, or SNS failed), `cooldown`, `empty` or `failed`.
    pub result: &'static str,
    /// The SNS message id, when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// What went wrong, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The warm container's dead-letter state: when each queue was last alerted.
#[derive(Default)]
pub struct Checker {
    last_sent: Mutex<HashMap<String, i64>>,
}

impl Checker {
    fn cooled(&self, queue: &str, now_ms: i64, cooldown_ms: i64) -> bool {
        let sent = self.last_sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.get(queue).is_none_or(|&at| now_ms - at >= cooldown_ms)
    }

    fn mark(&self, queue: &str, now_ms: i64) {
        let mut sent = self.last_sent.lock().unwrap_or_else(|p| p.into_inner());
        if sent.len() >= 1_000 && !sent.contains_key(queue) {
            sent.clear();
        }
        sent.insert(queue.to_string(), now_ms);
    }

    /// Runs the check for each queue of `request` within `budget` (console links in the config's Region, see
    /// [`crate::notify::Notifier::region_for`]): evidence first (at most
    /// 70% of the budget), then one notice per queue outside its cooldown.
    pub async fn run(
        &self,
        request: &Request,
        clients: &Clients,
        config: &Config,
        publisher: Option<&Publisher>,
        now_ms: i64,
        budget: Duration,
    ) -> Vec<QueueOutcome> {
        let region = crate::notify::Notifier::region_for(config);
        let region = region.as_str();
        let start = Instant::now();
        let deadline = start + budget;
        let evidence_deadline = start + budget.mul_f64(1.0 - PUBLISH_SHARE);
        let mut outcomes = Vec::new();
        for name in &request.queues {
            let outcome = |result, error: Option<String>| QueueOutcome {
                queue: name.clone(),
                result,
                message_id: None,
                error,
            };
            if !self.cooled(name, now_ms, config.notices.cooldown_ms) {
                outcomes.push(outcome("cooldown", None));
                continue;
            }
            let notice = match evidence(
                clients,
                config,
                name,
                region,
                request.only_if_messages,
                now_ms,
                evidence_deadline,
            )
            .await
            {
                Ok(Some(notice)) => notice,
                Ok(None) => {
                    outcomes.push(outcome("empty", None));
                    continue;
                }
                Err(err) => {
                    // The alarm went off all the same: say so, and why the evidence is missing.
                    error!(queue = %name, error = %err, "Could not check a dead-letter queue.");
                    let notice = DeadLetterNotice::unreadable(name, region, &err, now_ms);
                    self.mark(name, now_ms);
                    let (result, message_id, publish_error) = publish(publisher, &notice, deadline).await;
                    outcomes.push(QueueOutcome {
                        queue: name.clone(),
                        result,
                        message_id,
                        error: Some(publish_error.map_or(err.clone(), |p| format!("{err}; {p}"))),
                    });
                    continue;
                }
            };
            self.mark(name, now_ms);
            let (result, message_id, error) = publish(publisher, &notice, deadline).await;
            outcomes.push(QueueOutcome {
                queue: name.clone(),
                result,
                message_id,
                error,
            });
        }
        outcomes
    }
}

/// The notice for one queue, or `None` when `only_if_messages` and it holds none.
async fn evidence(
    clients: &Clients,
    config: &Config,
    name: &str,
    region: &str,
    only_if_messages: bool,
    now_ms: i64,
    deadline: Instant,
) -> Result<Option<DeadLetterNotice>, String> {
    let url = queue_url(clients, name, deadline).await?;
    if only_if_messages {
        let queue = QueueRef::from_url(&url, region).map_err(|e| e.to_string())?;
        let (stats, _) = queue_stats(clients, &queue, deadline)
            .await
            .map_err(|e| e.to_string())?;
        if stats.visible.unwrap_or(0) == 0 {
            return Ok(None);
        }
    }
    gather(clients, config, &url, region, DEFAULT_SINCE_MS, now_ms, deadline)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}

/// A queue's URL: a URL as given, a name through `GetQueueUrl`.
pub async fn queue_url(clients: &Clients, name: &str, deadline: Instant) -> Result<String, String> {
    if name.starts_with("https://") || name.starts_with("http://") {
        return Ok(name.to_string());
    }
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, clients.sqs.get_queue_url().queue_name(name).send()).await {
        Ok(Ok(out)) => out
            .queue_url()
            .map(str::to_owned)
            .ok_or_else(|| format!("SQS gave no URL for {name}")),
        Ok(Err(err)) => Err(format!(
            "could not find queue {name}: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&err)
        )),
        Err(_) => Err(format!("could not find queue {name}: no answer in time")),
    }
}

/// The SNS message for a notice: the `MessageStructure=json` document (text for e-mail, the
/// notice as JSON for the other protocols) and the attributes filter policies use (`kind`
/// `dead-letter`, `class` `DeadLetters`, `severity` `critical`, `function`, `queue`). Lines,
/// then messages, are dropped until it fits SNS's size limit.
pub fn sns_message(notice: &DeadLetterNotice) -> (String, Vec<(String, String)>) {
    let mut notice = notice.clone();
    let function = notice
        .messages
        .iter()
        .find_map(|m| m.function.clone())
        .unwrap_or_else(|| "(unknown)".into());
    let attributes: Vec<(String, String)> = [
        ("kind", "dead-letter".to_string()),
        ("class", "DeadLetters".to_string()),
        ("severity", "critical".to_string()),
        ("function", function),
        ("queue", notice.queue.name.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let budget = message_budget(&attributes);
    loop {
        let machine = serde_json::to_string(&notice).unwrap_or_else(|_| "{}".into());
        let message = structured(&notice.text(), &machine);
        if message.len() <= budget {
            return (message, attributes);
        }
        // Fewer lines for every message (a quarter fewer each round, so a few renders
        // suffice), then fewer messages.
        let most = notice.messages.iter().map(|m| m.lines.len()).max().unwrap_or(0);
        if most > 0 {
            let keep = most * 3 / 4;
            notice.messages.iter_mut().for_each(|m| m.lines.truncate(keep));
        } else if notice.messages.pop().is_none() {
            return (message, attributes);
        }
    }
}

/// Publishes the notice before `deadline`, or logs it whole (no topic, SNS failing, no time).
async fn publish(
    publisher: Option<&Publisher>,
    notice: &DeadLetterNotice,
    deadline: Instant,
) -> (&'static str, Option<String>, Option<String>) {
    let subject = notice.subject();
    let log = |reason: &str| {
        info!(
            subject = %subject,
            notice = %serde_json::to_string(notice).unwrap_or_default(),
            reason,
            "Dead-letter notice (logged, not published)."
        );
    };
    let Some(publisher) = publisher else {
        log("no WATCHDOG_TOPIC_ARN set");
        return ("logged", None, None);
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left < MIN_ATTEMPT {
        log("no time left before the invocation's deadline");
        return ("logged", None, Some("no time left to publish".into()));
    }
    let (message, attributes) = sns_message(notice);
    // The publisher cuts its own timeouts to `left` (see `sns::Timeouts`): no second timer here.
    match publisher
        .publish_structured(&subject, &message, &attributes, left)
        .await
    {
        Ok(id) => ("published", Some(id), None),
        Err(err) => {
            error!(error = %err, "Could not publish a dead-letter notice; it is logged instead.");
            log("SNS failed");
            ("logged", None, Some(err.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALARM: &str = include_str!("../../tests/data/dlq-alarm-event.json");

    #[test]
    fn events_that_ask_for_a_dead_letter_check() {
        let alarm: Value = serde_json::from_str(ALARM).unwrap();
        let mut ok = alarm.clone();
        ok["detail"]["state"]["value"] = "OK".into();
        let watched = vec!["uploader-dlq".to_string(), "scraper-dlq".to_string()];
        let cases = [
            (
                "an alarm entering ALARM names its queue",
                alarm.clone(),
                vec![],
                Some((vec!["uploader-dlq"], false)),
            ),
            (
                "an alarm on a watched queue",
                alarm.clone(),
                watched.clone(),
                Some((vec!["uploader-dlq"], false)),
            ),
            (
                "an alarm on a queue that is not watched checks nothing",
                alarm.clone(),
                vec!["other-dlq".to_string()],
                Some((vec![], false)),
            ),
            ("an alarm back to OK checks nothing", ok, vec![], Some((vec![], false))),
            (
                "the schedule checks every watched queue",
                serde_json::json!({"watchdog": "dead-letter-check"}),
                watched.clone(),
                Some((vec!["uploader-dlq", "scraper-dlq"], true)),
            ),
            (
                "the schedule's own list wins",
                serde_json::json!({"watchdog": "dead-letter-check", "queues": ["a-dlq"]}),
                watched.clone(),
                Some((vec!["a-dlq"], true)),
            ),
            (
                "a log delivery is not a check",
                serde_json::json!({"awslogs": {"data": "H4sI"}}),
                watched.clone(),
                None,
            ),
            (
                "the daily report's schedule is not a check",
                serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}),
                watched,
                None,
            ),
        ];
        for (name, event, configured, expected) in cases {
            let got = request_for(&event, &configured);
            let got = got.as_ref().map(|r| {
                (
                    r.queues.iter().map(String::as_str).collect::<Vec<_>>(),
                    r.only_if_messages,
                )
            });
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn the_sns_message_fits_snss_limit_and_carries_text_json_and_attributes() {
        let queue = QueueRef::from_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q-dlq", "us-east-1").unwrap();
        let line = |i: i64| crate::dlq::FetchedLine {
            timestamp_ms: i,
            log_stream: "s".into(),
            message: "x".repeat(crate::dlq::MAX_LINE_BYTES - 1),
        };
        let message = |n: usize| crate::dlq::MessageEvidence {
            message_id: format!("m-{n}"),
            tie: crate::dlq::tie(&crate::dlq::Peeked::default()),
            function: Some("worker".into()),
            receive_count: Some(1),
            body_excerpt: "y".repeat(crate::dlq::MAX_BODY_BYTES),
            classes: vec!["Errors"],
            request_ids: Vec::new(),
            lines: (0..crate::dlq::MAX_LINES_PER_MESSAGE as i64).map(line).collect(),
            log_link: None,
            problems: Vec::new(),
        };
        let cases = [
            ("a small notice is sent whole", 2, false),
            ("a huge one is cut to fit", 40, true),
        ];
        for (name, messages, cut) in cases {
            let notice = DeadLetterNotice::new(
                queue.clone(),
                crate::dlq::QueueStats::default(),
                (0..messages).map(message).collect(),
                0,
                &[],
            );
            let (sns, attributes) = sns_message(&notice);
            assert!(
                sns.len() <= message_budget(&attributes) && sns.len() <= crate::notify::sns::MAX_MESSAGE_BYTES,
                "{name}: {}",
                sns.len()
            );
            let document: Value = serde_json::from_str(&sns).unwrap();
            let machine: Value = serde_json::from_str(document["sqs"].as_str().unwrap()).unwrap();
            assert!(
                document["email"]
                    .as_str()
                    .unwrap()
                    .starts_with("[watchdog] dead letters:"),
                "{name}"
            );
            let lines: usize = machine["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["lines"].as_array().unwrap().len())
                .sum();
            assert_eq!(lines < messages * crate::dlq::MAX_LINES_PER_MESSAGE, cut, "{name}");
            assert!(
                attributes.contains(&("function".to_string(), "worker".to_string())),
                "{name}"
            );
            assert!(
                attributes.contains(&("queue".to_string(), "q-dlq".to_string())),
                "{name}"
            );
        }
    }

    #[test]
    fn a_queue_is_alerted_once_per_cooldown() {
        let checker = Checker::default();
        assert!(checker.cooled("q", 1_000, 600_000));
        checker.mark("q", 1_000);
        assert!(!checker.cooled("q", 300_000, 600_000));
        assert!(checker.cooled("q", 601_000, 600_000));
        assert!(checker.cooled("other", 2_000, 600_000));
    }
}
