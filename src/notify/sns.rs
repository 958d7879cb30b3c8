//! Delivery over SNS: subjects and sizes within SNS's limits, `MessageStructure=json` with readable
//! text for e-mail and the full notice for machine subscribers, message attributes for filtering,
//! client timeouts that keep the processor inside its own, and a fallback to the log when SNS is
//! slow or down (nothing is lost, and the invocation still succeeds).
//!
//! See <https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>.

use std::time::{Duration, Instant};

use aws_sdk_sns::types::MessageAttributeValue;
use serde::Serialize;
use serde_json::json;
use tracing::{error, info};

use super::{Kind, Notice};
use crate::processor::truncate;

/// Longest subject SNS accepts.
pub const MAX_SUBJECT_CHARS: usize = 100;
/// Largest message SNS accepts (message and attributes together), bytes.
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// Room kept for attributes and the JSON wrapping when sizing the message.
const HEADROOM_BYTES: usize = 4_096;

/// Most time to connect to SNS, when the time left allows it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Most time one attempt of a publish may take, when the time left allows it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Most time one notice may take, retries included, when the time left allows it.
pub const NOTICE_TIMEOUT: Duration = Duration::from_secs(8);
/// With less time than this left a notice is logged without trying SNS: no round trip to SNS
/// fits in less (they take tens of milliseconds when SNS is well).
pub const MIN_ATTEMPT: Duration = Duration::from_millis(200);

/// The timeouts of one publish: [`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`] and [`NOTICE_TIMEOUT`],
/// each cut to the time `left` for notices, so a 3 s function can still publish (SNS answers in
/// tens of milliseconds) and a slow or hanging SNS cannot hold it past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To connect.
    pub connect: Duration,
    /// Per attempt.
    pub attempt: Duration,
    /// For the notice, attempts together.
    pub notice: Duration,
}

impl Timeouts {
    /// The timeouts when `left` is all the time there is.
    pub fn within(left: Duration) -> Timeouts {
        let notice = NOTICE_TIMEOUT.min(left);
        let attempt = ATTEMPT_TIMEOUT.min(notice);
        Timeouts {
            connect: CONNECT_TIMEOUT.min(attempt),
            attempt,
            notice,
        }
    }
}

/// Why a notice was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// SNS refused or could not be reached after the SDK's retries.
    #[error("could not publish to {topic}: {message}")]
    Publish {
        /// The topic.
        topic: String,
        /// What the SDK said.
        message: String,
    },
    /// The time left for notices ran out before this one.
    #[error("no time left to publish (the processor's own deadline is near)")]
    OutOfTime,
    /// An earlier notice failed in this invocation: SNS is treated as down for the rest.
    #[error("skipped after an earlier failure in this invocation")]
    SnsDown,
}

/// A notice ready for `Publish`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnsMessage {
    /// At most 100 printable ASCII characters, no newline.
    pub subject: String,
    /// The `MessageStructure=json` document: `default`/`email` text, JSON for the rest.
    pub message: String,
    /// Message attributes for subscription filter policies.
    pub attributes: Vec<(String, String)>,
    /// The notice itself.
    pub notice: Notice,
}

/// Makes a subject SNS accepts: printable ASCII only, one line, at most 100 characters.
pub fn clean_subject(subject: &str) -> String {
    let ascii: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else if c.is_whitespace() {
                ' '
            } else {
                '?'
            }
        })
        .collect();
    let trimmed = ascii.trim();
    if trimmed.len() <= MAX_SUBJECT_CHARS {
        return trimmed.to_string();
    }
    format!("{}...", &trimmed[..MAX_SUBJECT_CHARS - 3])
}

/// How many bytes a `MessageStructure=json` document may take when it is published with these
/// message attributes: SNS's limit counts the message and the attributes together, and
/// [`HEADROOM_BYTES`] is kept for the request's own wrapping. Every publisher of structured
/// notices (alerts, dead-letter notices) sizes its document against this one budget.
pub fn message_budget(attributes: &[(String, String)]) -> usize {
    let attributes_bytes: usize = attributes.iter().map(|(k, v)| k.len() + v.len() + "String".len()).sum();
    MAX_MESSAGE_BYTES.saturating_sub(HEADROOM_BYTES + attributes_bytes)
}

/// Builds the message, trimming samples (never mid-character, lines of evidence last) until it fits SNS's size limit.
pub fn message_for(notice: &Notice) -> SnsMessage {
    let mut notice = notice.clone();
    let attributes = vec![
        ("function".to_string(), notice.function.clone()),
        ("class".to_string(), notice.class.clone()),
        ("severity".to_string(), notice.severity.as_str().to_string()),
        (
            "kind".to_string(),
            match notice.kind {
                Kind::Alert => "alert",
                Kind::Advice => "advice",
                Kind::Summary => "summary",
            }
            .to_string(),
        ),
    ];
    let budget = message_budget(&attributes);
    let mut line_cap = 1_000;
    loop {
        let message = render(&notice);
        if message.len() <= budget {
            return SnsMessage {
                subject: clean_subject(&notice.subject()),
                message,
                attributes,
                notice,
            };
        }
        // First shorten lines, then drop context, then drop samples and fingerprints one by one.
        if line_cap > 200 {
            line_cap /= 2;
            for s in &mut notice.samples {
                s.line = truncate(&s.line, line_cap);
                for l in s.before.iter_mut().chain(s.after.iter_mut()) {
                    *l = truncate(l, line_cap / 2);
                }
            }
            for f in &mut notice.fingerprints {
                f.example = truncate(&f.example, line_cap);
                f.fingerprint = truncate(&f.fingerprint, line_cap);
            }
        } else if notice
            .samples
            .iter()
            .any(|s| !s.before.is_empty() || s.after.len() > s.marked.len())
        {
            // Context goes; the lines of evidence among it stay.
            for s in &mut notice.samples {
                s.before.clear();
                s.after = s.marked.iter().filter_map(|&i| s.after.get(i).cloned()).collect();
                s.marked = (0..s.after.len()).collect();
            }
        } else if notice.samples.pop().is_some() || notice.fingerprints.pop().is_some() {
        } else if notice.summarised.len() > 1 {
            let keep = notice.summarised.len() / 2;
            notice.summarised.truncate(keep);
        } else {
            notice.request_ids.truncate(notice.request_ids.len() / 2);
            if notice.request_ids.is_empty() {
                let message = render(&notice);
                return SnsMessage {
                    subject: clean_subject(&notice.subject()),
                    message,
                    attributes,
                    notice,
                };
            }
        }
    }
}

fn render(notice: &Notice) -> String {
    let machine = serde_json::to_string(notice).unwrap_or_else(|_| "{}".into());
    structured(&notice.text(), &machine)
}

/// The `MessageStructure=json` document: `text` for e-mail and the default, `machine` (JSON) for
/// every other protocol.
pub fn structured(text: &str, machine: &str) -> String {
    json!({
        "default": text,
        "email": text,
        "email-json": machine,
        "sqs": machine,
        "lambda": machine,
        "http": machine,
        "https": machine,
        "firehose": machine,
    })
    .to_string()
}

/// Publishes to one topic with timeouts that fit inside the processor's own.
pub struct Publisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

/// What a round of delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Notices SNS took.
    pub sent: u64,
    /// Notices written to the log instead.
    pub failed: u64,
    /// Whether SNS itself failed (refused, unreachable, too slow), as opposed to no time left.
    pub sns_failed: bool,
}

impl Publisher {
    /// A publisher for `topic_arn`, credentials and endpoint from the environment
    /// (`AWS_ENDPOINT_URL_SNS` / `AWS_ENDPOINT_URL` point it at a local server).
    pub async fn new(topic_arn: impl Into<String>) -> Publisher {
        Publisher::with_loader(aws_config::defaults(aws_config::BehaviorVersion::latest()), topic_arn).await
    }

    /// A publisher from an SDK config loader (tests point it at a local server), with the
    /// processor's timeouts and retries applied.
    pub async fn with_loader(loader: aws_config::ConfigLoader, topic_arn: impl Into<String>) -> Publisher {
        let timeouts = sdk_timeouts(Timeouts::within(NOTICE_TIMEOUT));
        let config = loader
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .load()
            .await;
        Publisher {
            client: aws_sdk_sns::Client::new(&config),
            topic_arn: topic_arn.into(),
        }
    }

    /// A publisher from `WATCHDOG_TOPIC_ARN`, or none when it is unset or empty.
    pub async fn from_env() -> Option<Publisher> {
        match std::env::var("WATCHDOG_TOPIC_ARN") {
            Ok(arn) if !arn.trim().is_empty() => Some(Publisher::new(arn.trim()).await),
            _ => None,
        }
    }

    /// The topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// The Region the SDK resolved for this publisher (environment, profile), if any.
    pub fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }

    /// Publishes one message within `left` (the timeouts are cut to it, see [`Timeouts`]).
    pub async fn publish(&self, message: &SnsMessage, left: Duration) -> Result<String, DeliveryError> {
        self.publish_structured(&message.subject, &message.message, &message.attributes, left)
            .await
    }

    /// Publishes a `MessageStructure=json` document (see [`structured`]) with these attributes
    /// within `left`, like [`Publisher::publish`]: notices that are not a [`Notice`] (the
    /// dead-letter check's) reach every subscriber in the same shapes.
    pub async fn publish_structured(
        &self,
        subject: &str,
        message: &str,
        attributes: &[(String, String)],
        left: Duration,
    ) -> Result<String, DeliveryError> {
        let timeouts = Timeouts::within(left);
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(clean_subject(subject))
            .message(message)
            .message_structure("json");
        for (name, value) in attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| DeliveryError::Publish {
                    topic: self.topic_arn.clone(),
                    message: e.to_string(),
                })?;
            request = request.message_attributes(name, attribute);
        }
        let send = request
            .customize()
            .config_override(aws_sdk_sns::config::Builder::default().timeout_config(sdk_timeouts(timeouts)))
            .send();
        // The SDK's own operation timeout should end it first; this holds whatever it does.
        let output = match tokio::time::timeout(timeouts.notice, send).await {
            Ok(result) => result.map_err(|e| DeliveryError::Publish {
                topic: self.topic_arn.clone(),
                message: aws_sdk_sns::error::DisplayErrorContext(&e).to_string(),
            })?,
            Err(_) => {
                return Err(DeliveryError::Publish {
                    topic: self.topic_arn.clone(),
                    message: format!("no answer within {} ms", timeouts.notice.as_millis()),
                });
            }
        };
        Ok(output.message_id().unwrap_or_default().to_string())
    }

    /// Publishes a plain subject and text (reports), within the same limits.
    pub async fn publish_text(&self, subject: &str, text: &str) -> Result<String, DeliveryError> {
        let text = truncate(text, MAX_MESSAGE_BYTES - HEADROOM_BYTES);
        let output = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(clean_subject(subject))
            .message(text)
            .send()
            .await
            .map_err(|e| DeliveryError::Publish {
                topic: self.topic_arn.clone(),
                message: aws_sdk_sns::error::DisplayErrorContext(&e).to_string(),
            })?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }
}

fn sdk_timeouts(t: Timeouts) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(t.connect)
        .operation_attempt_timeout(t.attempt)
        .operation_timeout(t.notice)
        .build()
}

/// Delivers notices, or logs them when there is no topic, SNS fails, or `deadline` passes. A
/// failed notice is written whole as a structured log record, so nothing is lost. After one
/// failure SNS is treated as down for the rest of the call; `sns_down` says it already is.
pub async fn deliver(publisher: Option<&Publisher>, notices: &[Notice], deadline: Instant, sns_down: bool) -> Delivery {
    let mut delivery = Delivery::default();
    let mut down = sns_down;
    for notice in notices {
        let message = message_for(notice);
        let Some(publisher) = publisher else {
            info!(notice = %serde_json::to_string(&message.notice).unwrap_or_default(), subject = %message.subject, "Notice (no WATCHDOG_TOPIC_ARN set, so only logged).");
            continue;
        };
        let result = if down {
            Err(DeliveryError::SnsDown)
        } else {
            match deadline.checked_duration_since(Instant::now()) {
                Some(left) if left >= MIN_ATTEMPT => publisher.publish(&message, left).await.map(|_| ()),
                _ => Err(DeliveryError::OutOfTime),
            }
        };
        match result {
            Ok(()) => delivery.sent += 1,
            Err(err) => {
                if matches!(err, DeliveryError::Publish { .. }) {
                    down = true;
                    delivery.sns_failed = true;
                }
                delivery.failed += 1;
                error!(
                    error = %err,
                    subject = %message.subject,
                    function = %notice.function,
                    class = %notice.class,
                    notice = %serde_json::to_string(&message.notice).unwrap_or_default(),
                    "Could not deliver a notice; here it is in full."
                );
            }
        }
    }
    delivery
}
