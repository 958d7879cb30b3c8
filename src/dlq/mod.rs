//! Dead-letter evidence: what failed, for a fleet dead-letter queue. A sample of the queue's
//! messages is peeked (never consumed), each message is tied to the invocation that failed,
//! that invocation's log lines are fetched from CloudWatch Logs and classified by the same
//! [`Processor`] that reads the subscription, and one [`DeadLetterNotice`] says it all.
//!
//! This module holds the pure steps (tying, classifying, building and rendering the notice);
//! [`aws`] holds the calls to SQS, Lambda and CloudWatch Logs.

pub mod aws;
pub mod check;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::Config;
use crate::metrics::Metric;
use crate::notify::links;
use crate::notify::redact;
use crate::processor::{Clock, Processor, truncate};
use crate::wire::{DataMessage, LogEvent};

/// Most messages peeked per queue (one `ReceiveMessage` returns at most 10).
pub const MAX_MESSAGES: usize = 10;
/// Most log lines kept per message in a notice.
pub const MAX_LINES_PER_MESSAGE: usize = 20;
/// Most bytes of a log line in a notice.
pub const MAX_LINE_BYTES: usize = 500;
/// Most bytes of a message body excerpt in a notice.
pub const MAX_BODY_BYTES: usize = 300;

/// A queue, from its URL: `https://sqs.<region>.amazonaws.com/<account>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRef {
    /// The URL, as SQS calls take it.
    pub url: String,
    /// The queue's name.
    pub name: String,
    /// The account that owns it.
    pub account: String,
    /// Its Region.
    pub region: String,
}

/// Why the evidence for a queue could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// The queue URL does not have the shape SQS gives.
    #[error("{url:?} is not an SQS queue URL (expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")]
    QueueUrl {
        /// What was given.
        url: String,
    },
    /// An AWS call failed.
    #[error("could not {action}: {message}")]
    Api {
        /// What was being done (`receive messages from orders-dlq`).
        action: String,
        /// What the SDK said, causes included.
        message: String,
    },
}

impl QueueRef {
    /// Reads a queue URL; the Region comes from an AWS host name, else `default_region`
    /// (a local endpoint such as moto's has none).
    pub fn from_url(url: &str, default_region: &str) -> Result<QueueRef, DlqError> {
        let bad = || DlqError::QueueUrl { url: url.to_string() };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(bad)?;
        let mut parts = rest.trim_end_matches('/').split('/');
        let host = parts.next().ok_or_else(bad)?;
        let account = parts.next().filter(|a| !a.is_empty()).ok_or_else(bad)?;
        let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        // sqs.<region>.amazonaws.com, and the legacy <region>.queue.amazonaws.com.
        let labels: Vec<&str> = host.split('.').collect();
        let region = match labels.as_slice() {
            ["sqs", region, "amazonaws", ..] => region.to_string(),
            [region, "queue", "amazonaws", ..] => region.to_string(),
            _ => default_region.to_string(),
        };
        Ok(QueueRef {
            url: url.to_string(),
            name: name.to_string(),
            account: account.to_string(),
            region,
        })
    }
}

/// One peeked message, as `ReceiveMessage` returned it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Peeked {
    /// SQS's message id.
    pub message_id: String,
    /// The body.
    pub body: String,
    /// System attributes (`SentTimestamp`, `ApproximateReceiveCount`, ...).
    pub attributes: BTreeMap<String, String>,
    /// Message attributes, string and number values.
    pub message_attributes: BTreeMap<String, String>,
}

/// How a message came to be in the dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Lambda's asynchronous dead-letter queue: the event, with `RequestID`, `ErrorCode` and
    /// `ErrorMessage` attributes
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html>).
    AsyncDeadLetter,
    /// An on-failure destination record: JSON with `requestContext` and `responsePayload`
    /// (same page, "Invocation record").
    OnFailureRecord,
    /// A message SQS moved here from a source queue after `maxReceiveCount` receives
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html>).
    Redrive,
}

impl Origin {
    fn words(self) -> &'static str {
        match self {
            Origin::AsyncDeadLetter => "async dead-letter",
            Origin::OnFailureRecord => "on-failure record",
            Origin::Redrive => "SQS redrive",
        }
    }
}

/// What a message says about the invocation that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tie {
    /// How it got here.
    pub origin: Origin,
    /// The function, when the message names it (on-failure records do).
    pub function: Option<String>,
    /// The failed invocation's request id, when the message carries one.
    pub request_id: Option<String>,
    /// The error Lambda recorded (code and message, or error type and message).
    pub error: Option<String>,
    /// When it failed or, for a redrive, when the message was first sent, epoch ms.
    pub time_ms: Option<i64>,
}

/// The function name in a function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`),
/// or the text itself when it is a plain name.
pub fn function_from_arn(arn: &str) -> &str {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if parts.len() > i + 1 && parts[0] == "arn" => parts[i + 1],
        _ => arn,
    }
}

/// Epoch ms of an RFC 3339 UTC timestamp as Lambda writes it (`2026-11-29T10:00:01.123Z`).
fn rfc3339_ms(text: &str) -> Option<i64> {
    use aws_sdk_sns::primitives::{DateTime, DateTimeFormat};
    let t = DateTime::from_str(text, DateTimeFormat::DateTimeWithOffset).ok()?;
    t.to_millis().ok()
}

/// Ties a message to the invocation that failed.
pub fn tie(message: &Peeked) -> Tie {
    let attribute = |name: &str| message.message_attributes.get(name).filter(|v| !v.is_empty()).cloned();
    let sent_ms = message
        .attributes
        .get("SentTimestamp")
        .and_then(|t| t.parse::<i64>().ok());
    if let Some(request_id) = attribute("RequestID") {
        let error = match (attribute("ErrorCode"), attribute("ErrorMessage")) {
            (Some(code), Some(text)) => Some(format!("{text} (error code {code})")),
            (None, Some(text)) => Some(text),
            (Some(code), None) => Some(format!("error code {code}")),
            (None, None) => None,
        };
        return Tie {
            origin: Origin::AsyncDeadLetter,
            function: None,
            request_id: Some(request_id),
            error,
            time_ms: sent_ms,
        };
    }
    let record: Option<serde_json::Value> = serde_json::from_str(&message.body).ok();
    if let Some(context) = record
        .as_ref()
        .and_then(|r| r.get("requestContext"))
        .filter(|c| c.is_object())
    {
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        let record = record.as_ref().unwrap_or(&serde_json::Value::Null);
        let payload = record.get("responsePayload");
        let error_type = text(payload.and_then(|p| p.get("errorType")));
        let error_message = text(payload.and_then(|p| p.get("errorMessage")));
        let condition = text(context.get("condition"));
        let error = match (error_type, error_message) {
            (Some(t), Some(m)) => Some(format!("{t}: {m}")),
            (t, m) => t.or(m),
        };
        let error = match (error, condition) {
            (Some(e), Some(c)) => Some(format!("{e} ({c})")),
            (e, c) => e.or(c),
        };
        return Tie {
            origin: Origin::OnFailureRecord,
            function: text(context.get("functionArn")).map(|arn| function_from_arn(&arn).to_string()),
            request_id: text(context.get("requestId")).filter(|id| !id.is_empty()),
            error,
            time_ms: text(record.get("timestamp")).and_then(|t| rfc3339_ms(&t)).or(sent_ms),
        };
    }
    Tie {
        origin: Origin::Redrive,
        function: None,
        request_id: None,
        error: None,
        time_ms: sent_ms,
    }
}

/// One log line fetched for a failed invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchedLine {
    /// When it was logged, epoch ms.
    pub timestamp_ms: i64,
    /// Its log stream.
    pub log_stream: String,
    /// The line as logged.
    pub message: String,
}

/// The failure classes the processor counts, in the order a notice names them.
const CLASSES: [Metric; 6] = [
    Metric::Timeouts,
    Metric::OutOfMemory,
    Metric::TooManyConnections,
    Metric::RateLimited,
    Metric::ConnectionErrors,
    Metric::Errors,
];

/// What the processor makes of these lines of `function`'s log group: the failure classes
/// (metric names such as `Timeouts`) of the invocations they belong to, and those
/// invocations' request ids. The lines are replayed per log stream in time order as decoded
/// subscription messages, so the classification is the processor's own, guards included.
pub fn classify(config: &Config, function: &str, lines: &[FetchedLine]) -> (Vec<&'static str>, Vec<String>) {
    let log_group = format!("/aws/lambda/{function}");
    let mut streams: BTreeMap<&str, Vec<&FetchedLine>> = BTreeMap::new();
    for line in lines {
        streams.entry(&line.log_stream).or_default().push(line);
    }
    let mut processor = Processor::new(config.clone(), Clock::FollowLogs, None, "lambda-watchdog-dlq");
    let mut records = Vec::new();
    for (stream, mut events) in streams {
        events.sort_by_key(|e| e.timestamp_ms);
        let message = DataMessage {
            message_type: "DATA_MESSAGE".into(),
            owner: "".into(),
            log_group: log_group.as_str().into(),
            log_stream: stream.into(),
            subscription_filters: Vec::new(),
            log_events: events
                .iter()
                .enumerate()
                .map(|(i, e)| LogEvent {
                    id: i.to_string().into(),
                    timestamp: e.timestamp_ms,
                    message: e.message.as_str().into(),
                })
                .collect(),
        };
        records.extend(processor.handle_message(&message).invocations);
    }
    records.extend(processor.flush().invocations);
    let mut found: BTreeSet<Metric> = BTreeSet::new();
    let mut request_ids: Vec<String> = Vec::new();
    for record in &records {
        let failed: Vec<Metric> = CLASSES.into_iter().filter(|m| record.counted.has(*m)).collect();
        if failed.is_empty() {
            continue;
        }
        found.extend(failed);
        if !record.request_id.starts_with("init:") && !request_ids.contains(&record.request_id) {
            request_ids.push(record.request_id.clone());
        }
    }
    let classes = CLASSES
        .into_iter()
        .filter(|m| found.contains(m))
        // A connection cap is also a connection error, and every class but a timeout is also
        // an error: name the narrowest classes alone.
        .filter(|m| !(*m == Metric::ConnectionErrors && found.contains(&Metric::TooManyConnections)))
        .filter(|m| *m != Metric::Errors || found.iter().all(|f| *f == Metric::Errors))
        .map(Metric::name)
        .collect();
    (classes, request_ids)
}

/// The evidence for one peeked message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageEvidence {
    /// SQS's message id.
    pub message_id: String,
    /// How the message got here, and what it names.
    pub tie: Tie,
    /// The function whose failure it is: the message's own, else discovered or configured.
    pub function: Option<String>,
    /// How many times it has been received (each peek adds one).
    pub receive_count: Option<u64>,
    /// The body's start, redacted.
    pub body_excerpt: String,
    /// The failure classes of the fetched lines (metric names, `Timeouts` ...).
    pub classes: Vec<&'static str>,
    /// Request ids of the failed invocations the lines belong to (for a redrive, found in them).
    pub request_ids: Vec<String>,
    /// The invocation's lines, redacted and cut.
    pub lines: Vec<FetchedLine>,
    /// The console at the first line's log stream and minute.
    pub log_link: Option<String>,
    /// What could not be found, in words (`log group ... does not exist`).
    pub problems: Vec<String>,
}

/// What `GetQueueAttributes` said about the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// `ApproximateNumberOfMessages`: visible messages.
    pub visible: Option<u64>,
    /// `ApproximateNumberOfMessagesNotVisible`: received by someone else and not yet back.
    pub in_flight: Option<u64>,
}

/// One notice per dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterNotice {
    /// The queue.
    pub queue: QueueRef,
    /// Its message counts.
    pub stats: QueueStats,
    /// When the evidence was gathered, epoch ms.
    pub at_ms: i64,
    /// The oldest peeked message's age, seconds (by its sent time).
    pub oldest_age_s: Option<i64>,
    /// The peeked messages.
    pub messages: Vec<MessageEvidence>,
    /// The console at the queue.
    pub queue_link: String,
    /// Logs Insights over the failed invocations, per log group.
    pub insights_links: Vec<(String, String)>,
    /// Problems with the queue as a whole (empty, unreadable).
    pub problems: Vec<String>,
}

/// A link to the queue in the SQS console.
pub fn queue_link(queue: &QueueRef) -> String {
    sqs_console(&queue.region, Some(&queue.url))
}

/// The SQS console in `region`: at the queue with this URL, or at the list of queues.
fn sqs_console(region: &str, queue_url: Option<&str>) -> String {
    let queues = format!("https://{region}.console.aws.amazon.com/sqs/v3/home?region={region}#/queues");
    match queue_url {
        Some(url) => format!("{queues}/{}", links::encode_uri_component(url)),
        None => queues,
    }
}

/// The Logs Insights query for these request ids, or the window's failures without any.
pub fn insights_query(request_ids: &[String]) -> String {
    if request_ids.is_empty() {
        return format!(
            "fields @timestamp, @logStream, @requestId, @message\n| {}\n| sort @timestamp asc\n| limit 200",
            crate::vocabulary::insights_errors()
        );
    }
    let ids: Vec<String> = request_ids.iter().map(|id| format!("{id:?}")).collect();
    format!(
        "fields @timestamp, @logStream, @requestId, @message\n| filter @requestId in [{}] or @message like /{}/\n| sort @timestamp asc\n| limit 200",
        ids.join(", "),
        request_ids
            .iter()
            .map(|id| regex::escape(id).replace('/', "\\/"))
            .collect::<Vec<_>>()
            .join("|")
    )
}

/// Redacts and cuts a text the way every notice does: redacted whole, then cut.
fn clean(config: &Config, text: &str, max: usize) -> String {
    truncate(&redact::redact(text, &config.notices.redact), max)
}

/// Builds one message's evidence from what was fetched: lines redacted, cut and capped, classes
/// from the processor, a link to the first line.
pub fn message_evidence(
    config: &Config,
    region: &str,
    message: &Peeked,
    function: Option<String>,
    lines: Vec<FetchedLine>,
    problems: Vec<String>,
) -> MessageEvidence {
    let tie = tie(message);
    let (classes, found_ids) = match &function {
        Some(f) if !lines.is_empty() => classify(config, f, &lines),
        _ => (Vec::new(), Vec::new()),
    };
    let mut request_ids: Vec<String> = tie.request_id.iter().cloned().collect();
    for id in found_ids {
        if !request_ids.contains(&id) {
            request_ids.push(id);
        }
    }
    let mut lines = lines;
    lines.sort_by_key(|l| l.timestamp_ms);
    lines.truncate(MAX_LINES_PER_MESSAGE);
    let log_link = match (&function, lines.first()) {
        (Some(f), Some(first)) => {
            let minute = crate::processor::minute_start(first.timestamp_ms);
            Some(links::log_stream(
                region,
                &format!("/aws/lambda/{f}"),
                &first.log_stream,
                minute,
                lines.last().map_or(minute, |l| l.timestamp_ms).saturating_add(60_000),
            ))
        }
        _ => None,
    };
    MessageEvidence {
        message_id: clean(config, &message.message_id, 200),
        tie: Tie {
            request_id: tie.request_id.as_deref().map(|id| clean(config, id, 200)),
            error: tie.error.as_deref().map(|e| clean(config, e, MAX_LINE_BYTES)),
            ..tie
        },
        function,
        receive_count: message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok()),
        body_excerpt: clean(config, &message.body, MAX_BODY_BYTES),
        classes,
        request_ids: request_ids.iter().map(|id| clean(config, id, 200)).collect(),
        lines: lines
            .into_iter()
            .map(|l| FetchedLine {
                message: clean(config, l.message.trim_end(), MAX_LINE_BYTES),
                ..l
            })
            .collect(),
        log_link,
        problems,
    }
}

impl DeadLetterNotice {
    /// The notice for a queue from its messages' evidence, at `now_ms`; `sent_ms` are the
    /// peeked messages' sent times (for the oldest's age).
    pub fn new(
        queue: QueueRef,
        stats: QueueStats,
        messages: Vec<MessageEvidence>,
        now_ms: i64,
        windows: &[(String, i64, i64)],
    ) -> DeadLetterNotice {
        let oldest = messages.iter().filter_map(|m| m.tie.time_ms).min();
        let mut insights_links = Vec::new();
        let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for m in &messages {
            if let Some(f) = &m.function {
                groups.entry(f).or_default().extend(m.request_ids.iter().cloned());
            }
        }
        for (function, ids) in groups {
            let (start, end) = windows
                .iter()
                .find(|(f, ..)| f == function)
                .map_or((now_ms - 3_600_000, now_ms), |(_, s, e)| (*s, *e));
            let group = format!("/aws/lambda/{function}");
            let link = links::insights(&queue.region, &group, &insights_query(&ids), start, end);
            insights_links.push((group, link));
        }
        let mut problems = Vec::new();
        if messages.is_empty() {
            problems.push(match stats.in_flight {
                Some(n) if n > 0 => format!(
                    "No message could be peeked: {n} are in flight (being received elsewhere, perhaps redriven)."
                ),
                _ => "The queue is empty now: its messages were consumed, redriven or expired before this check."
                    .to_string(),
            });
        }
        DeadLetterNotice {
            queue_link: queue_link(&queue),
            oldest_age_s: oldest.map(|t| (now_ms - t).max(0) / 1000),
            queue,
            stats,
            at_ms: now_ms,
            messages,
            insights_links,
            problems,
        }
    }

    /// The notice for a queue that could not be checked at all (not found, access denied):
    /// the operator still learns that its alarm went off, and why there is no evidence.
    pub fn unreadable(name: &str, region: &str, error: &str, now_ms: i64) -> DeadLetterNotice {
        let queue = QueueRef {
            url: String::new(),
            name: name.to_string(),
            account: "unknown".into(),
            region: region.to_string(),
        };
        let mut notice = DeadLetterNotice::new(queue, QueueStats::default(), Vec::new(), now_ms, &[]);
        notice.queue_link = sqs_console(region, None);
        notice.problems = vec![format!(
            "Could not check the queue, so this notice has no evidence: {error}. Check the function's permissions (the template grants them per watched queue) and look at the queue in the console."
        )];
        notice
    }

    /// Every failure class named by any message, in the notices' order.
    pub fn classes(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = Vec::new();
        for m in &self.messages {
            for c in &m.classes {
                if !all.contains(c) {
                    all.push(c);
                }
            }
        }
        all
    }

    /// A one-line subject.
    pub fn subject(&self) -> String {
        if self.queue.url.is_empty() {
            return format!("[watchdog] dead letters: could not check {}", self.queue.name);
        }
        let count = self.stats.visible.unwrap_or(self.messages.len() as u64);
        let classes = self.classes();
        let what = if classes.is_empty() {
            String::new()
        } else {
            format!(" ({})", classes.join(", "))
        };
        format!(
            "[watchdog] dead letters: {} message{} in {}{what}",
            count,
            if count == 1 { "" } else { "s" },
            self.queue.name
        )
    }

    /// The readable text for e-mail and chat.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.subject());
        let _ = writeln!(
            out,
            "Queue {} in {}, account {}, checked at {} UTC.",
            self.queue.name,
            self.queue.region,
            self.queue.account,
            &crate::present::rfc3339_ms(self.at_ms)
                .get(..19)
                .unwrap_or_default()
                .replace('T', " ")
        );
        let count = |n: Option<u64>| n.map_or("unknown".to_string(), |n| n.to_string());
        let _ = writeln!(
            out,
            "Messages: {} visible, {} in flight; {} peeked (left in the queue).",
            count(self.stats.visible),
            count(self.stats.in_flight),
            self.messages.len()
        );
        if let Some(age) = self.oldest_age_s {
            let _ = writeln!(out, "Oldest peeked message: {} old.", age_words(age));
        }
        for p in &self.problems {
            let _ = writeln!(out, "{p}");
        }
        let _ = writeln!(out, "Open the queue: {}", self.queue_link);
        for m in &self.messages {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "Message {} ({}{}){}",
                m.message_id,
                m.tie.origin.words(),
                m.function
                    .as_deref()
                    .map(|f| format!(", function {f}"))
                    .unwrap_or_default(),
                m.receive_count
                    .map(|c| format!(", received {}", times(c)))
                    .unwrap_or_default()
            );
            if let Some(t) = m.tie.time_ms {
                let label = if m.tie.origin == Origin::Redrive {
                    "Sent"
                } else {
                    "Failed"
                };
                let _ = writeln!(
                    out,
                    "  {label} at {} UTC",
                    &crate::present::rfc3339_ms(t)
                        .get(..23)
                        .unwrap_or_default()
                        .replace('T', " ")
                );
            }
            if !m.request_ids.is_empty() {
                let _ = writeln!(out, "  Request id: {}", m.request_ids.join(", "));
            }
            if let Some(e) = &m.tie.error {
                let _ = writeln!(out, "  Error: {e}");
            }
            if !m.classes.is_empty() {
                let _ = writeln!(out, "  Classes: {}", m.classes.join(", "));
            }
            let _ = writeln!(out, "  Body: {}", m.body_excerpt);
            for p in &m.problems {
                let _ = writeln!(out, "  ! {p}");
            }
            for l in &m.lines {
                let _ = writeln!(
                    out,
                    "    {} {}",
                    crate::present::time_of_day_ms(l.timestamp_ms),
                    l.message.replace('\n', "\n      ")
                );
            }
            if let Some(link) = &m.log_link {
                let _ = writeln!(out, "  Open these log events: {link}");
            }
        }
        for (group, link) in &self.insights_links {
            let _ = writeln!(out, "\nLogs Insights over {group}: {link}");
        }
        out
    }

    /// The notice as Markdown (the CLI's `--output markdown`).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## {}\n", self.subject().trim_start_matches("[watchdog] "));
        let _ = writeln!(
            out,
            "Queue [{}]({}) in {}, account {}. Visible: {}, in flight: {}, peeked: {}.\n",
            self.queue.name,
            self.queue_link,
            self.queue.region,
            self.queue.account,
            self.stats.visible.map_or("?".into(), |n| n.to_string()),
            self.stats.in_flight.map_or("?".into(), |n| n.to_string()),
            self.messages.len()
        );
        for p in &self.problems {
            let _ = writeln!(out, "> {p}\n");
        }
        if !self.messages.is_empty() {
            let _ = writeln!(out, "| Message | Origin | Function | Request id | Classes | Error |");
            let _ = writeln!(out, "|---|---|---|---|---|---|");
            for m in &self.messages {
                let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    cell(&m.message_id),
                    m.tie.origin.words(),
                    cell(m.function.as_deref().unwrap_or("?")),
                    cell(&m.request_ids.join(", ")),
                    m.classes.join(", "),
                    cell(m.tie.error.as_deref().unwrap_or(""))
                );
            }
        }
        for m in self
            .messages
            .iter()
            .filter(|m| !m.lines.is_empty() || !m.problems.is_empty())
        {
            let _ = writeln!(out, "\n### {}\n", m.message_id);
            for p in &m.problems {
                let _ = writeln!(out, "> {p}\n");
            }
            if !m.lines.is_empty() {
                let _ = writeln!(out, "```");
                for l in &m.lines {
                    let _ = writeln!(out, "{} {}", crate::present::time_of_day_ms(l.timestamp_ms), l.message);
                }
                let _ = writeln!(out, "```");
            }
            if let Some(link) = &m.log_link {
                let _ = writeln!(out, "\n[Log events]({link})");
            }
        }
        for (group, link) in &self.insights_links {
            let _ = writeln!(out, "\n[Logs Insights over {group}]({link})");
        }
        out
    }

    /// One row per message (the CLI's `--output table`).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.subject());
        let _ = writeln!(
            out,
            "{:<38} {:<18} {:<24} {:<38} CLASSES",
            "MESSAGE", "ORIGIN", "FUNCTION", "REQUEST ID"
        );
        for m in &self.messages {
            let _ = writeln!(
                out,
                "{:<38} {:<18} {:<24} {:<38} {}",
                m.message_id,
                m.tie.origin.words(),
                m.function.as_deref().unwrap_or("?"),
                m.request_ids.first().map_or("-", String::as_str),
                if m.classes.is_empty() {
                    "-".to_string()
                } else {
                    m.classes.join(",")
                }
            );
        }
        for p in &self.problems {
            let _ = writeln!(out, "{p}");
        }
        out
    }
}

fn times(n: u64) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

fn age_words(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3_600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests;
