//! AWS wire types: what CloudWatch Logs puts inside `awslogs.data` (or inside a Kinesis record).
//!
//! Unknown fields are ignored on purpose: AWS adds fields (`policyLevel` arrived with
//! account-level subscription policies) and a processor that rejects them drops logs.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A decoded subscription batch: one log group, one log stream, events in order.
///
/// See <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample>.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataMessage<'a> {
    /// `DATA_MESSAGE`, or `CONTROL_MESSAGE` for CloudWatch Logs' reachability checks.
    #[serde(borrow)]
    pub message_type: Cow<'a, str>,
    /// The account that owns the log group (`CloudwatchLogs` on control messages).
    #[serde(borrow, default)]
    pub owner: Cow<'a, str>,
    /// The log group, e.g. `/aws/lambda/uploader`.
    #[serde(borrow, default)]
    pub log_group: Cow<'a, str>,
    /// The log stream: one Lambda execution environment.
    #[serde(borrow, default)]
    pub log_stream: Cow<'a, str>,
    /// The subscription filters that matched.
    #[serde(default)]
    pub subscription_filters: Vec<String>,
    /// The log events, oldest first.
    #[serde(borrow, default)]
    pub log_events: Vec<LogEvent<'a>>,
}

impl DataMessage<'_> {
    /// Reads a decoded message from a JSON value (a saved, already decoded batch).
    pub fn deserialize_from(value: &serde_json::Value) -> Result<DataMessage<'_>, serde_json::Error> {
        Deserialize::deserialize(value)
    }

    /// Whether this is a CloudWatch Logs reachability check rather than log data.
    pub fn is_control(&self) -> bool {
        self.message_type == "CONTROL_MESSAGE"
    }
}

/// One log event of a batch.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct LogEvent<'a> {
    /// CloudWatch Logs' event id.
    #[serde(borrow, default)]
    pub id: Cow<'a, str>,
    /// When the event was logged, epoch milliseconds.
    pub timestamp: i64,
    /// The log line, which may hold several physical lines (a stack trace).
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}
