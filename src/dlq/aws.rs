//! The dead-letter check's calls to AWS, each small and bounded: `GetQueueAttributes` and
//! `ReceiveMessage` (zero visibility timeout, never a delete) on the queue,
//! `ListDeadLetterSourceQueues` and Lambda's `ListEventSourceMappings` / `ListFunctions` to find
//! the function a queue collects failures from, and CloudWatch Logs' `FilterLogEvents` for the
//! failed invocations' lines. Every call runs within the deadline it is given; a call that
//! fails or runs out of time becomes a problem written in the notice, never a lost notice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use tracing::warn;

use super::{DeadLetterNotice, DlqError, FetchedLine, MessageEvidence, Origin, Peeked, QueueRef, QueueStats};
use crate::config::Config;

/// Most log lines fetched per message.
pub const MAX_FETCHED_LINES: i32 = 50;
/// Most `ReceiveMessage` calls per check: a standard queue answers from a sample of its
/// servers, so one call can return fewer messages than the queue holds.
pub const MAX_RECEIVES: usize = 3;
/// Most pages of `ListFunctions` read when looking for the function whose dead-letter config
/// names the queue (50 functions a page).
pub const MAX_FUNCTION_PAGES: usize = 10;
/// How far after a redriven message was sent its consumer's failures are looked for.
pub const REDRIVE_WINDOW_MS: i64 = 15 * 60_000;

/// The three clients the check needs.
#[derive(Clone)]
pub struct Clients {
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Lambda.
    pub lambda: aws_sdk_lambda::Client,
}

impl Clients {
    /// Clients from one SDK config (endpoints from `AWS_ENDPOINT_URL_*` as usual).
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            sqs: aws_sdk_sqs::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
        }
    }

    /// Clients from the environment, with short timeouts and three attempts per call.
    pub async fn from_env() -> Clients {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(10))
            .build();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .load()
            .await;
        Clients::new(&config)
    }
}

/// An SDK error with its causes, and whether it is the "not found" of a log group.
fn describe<E: std::error::Error + 'static>(err: &E) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Runs `call` within what is left before `deadline`.
async fn within<T, E, F>(deadline: Instant, action: impl Fn() -> String, call: F) -> Result<T, DlqError>
where
    F: std::future::Future<Output = Result<T, E>>,
    E: std::error::Error + 'static,
{
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(DlqError::Api {
            action: action(),
            message: describe(&err),
        }),
        Err(_) => Err(DlqError::Api {
            action: action(),
            message: "no answer before the check's deadline".into(),
        }),
    }
}

/// The queue's visible and in-flight counts and its ARN.
pub async fn queue_stats(
    clients: &Clients,
    queue: &QueueRef,
    deadline: Instant,
) -> Result<(QueueStats, Option<String>), DlqError> {
    let out = within(
        deadline,
        || format!("read the attributes of {}", queue.name),
        clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::QueueArn)
            .send(),
    )
    .await?;
    let attributes = out.attributes();
    let number = |name: QueueAttributeName| attributes.and_then(|a| a.get(&name)).and_then(|v| v.parse().ok());
    Ok((
        QueueStats {
            visible: number(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        },
        attributes.and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned(),
    ))
}

/// Up to `max` messages, peeked: received with a zero visibility timeout (they stay visible to
/// everyone else) and never deleted. Each receive raises their `ApproximateReceiveCount`.
pub async fn peek(clients: &Clients, queue: &QueueRef, max: usize, deadline: Instant) -> Result<Vec<Peeked>, DlqError> {
    let mut peeked: Vec<Peeked> = Vec::new();
    for _ in 0..MAX_RECEIVES {
        let want = max.saturating_sub(peeked.len()).clamp(1, 10) as i32;
        let out = within(
            deadline,
            || format!("receive messages from {}", queue.name),
            clients
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(want)
                .visibility_timeout(0)
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send(),
        )
        .await?;
        let before = peeked.len();
        for m in out.messages() {
            let id = m.message_id().unwrap_or_default().to_string();
            if peeked.iter().any(|p| p.message_id == id) || peeked.len() >= max {
                continue;
            }
            peeked.push(Peeked {
                message_id: id,
                body: m.body().unwrap_or_default().to_string(),
                attributes: m
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect())
                    .unwrap_or_default(),
                message_attributes: m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .filter_map(|(k, v)| v.string_value().map(|s| (k.clone(), s.to_string())))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        if peeked.len() >= max || peeked.len() == before {
            break;
        }
    }
    Ok(peeked)
}

/// The functions whose failures land in the queue, as Lambda's configuration says: consumers
/// of the source queues whose redrive policy points here (`ListDeadLetterSourceQueues`, then
/// `ListEventSourceMappings` per source queue), and functions whose asynchronous dead-letter
/// config names the queue (`ListFunctions`, at most [`MAX_FUNCTION_PAGES`] pages). The
/// second list is asked only when `async_too`.
pub async fn discover(
    clients: &Clients,
    queue: &QueueRef,
    queue_arn: Option<&str>,
    async_too: bool,
    deadline: Instant,
) -> Result<(Vec<String>, Vec<String>), DlqError> {
    let sources = within(
        deadline,
        || format!("list the source queues of {}", queue.name),
        clients
            .sqs
            .list_dead_letter_source_queues()
            .queue_url(&queue.url)
            .send(),
    )
    .await?;
    let mut consumers = Vec::new();
    for url in sources.queue_urls() {
        let source = QueueRef::from_url(url, &queue.region)?;
        let arn = format!("arn:aws:sqs:{}:{}:{}", source.region, source.account, source.name);
        let mappings = within(
            deadline,
            || format!("list the event source mappings of {}", source.name),
            clients
                .lambda
                .list_event_source_mappings()
                .event_source_arn(&arn)
                .send(),
        )
        .await?;
        for m in mappings.event_source_mappings() {
            if let Some(f) = m.function_arn() {
                let name = super::function_from_arn(f).to_string();
                if !consumers.contains(&name) {
                    consumers.push(name);
                }
            }
        }
    }
    let mut async_functions = Vec::new();
    if let (true, Some(arn)) = (async_too, queue_arn) {
        let mut marker: Option<String> = None;
        for _ in 0..MAX_FUNCTION_PAGES {
            let page = within(
                deadline,
                || "list functions".to_string(),
                clients.lambda.list_functions().set_marker(marker.clone()).send(),
            )
            .await?;
            for f in page.functions() {
                let target = f.dead_letter_config().and_then(|d| d.target_arn());
                if target == Some(arn)
                    && let Some(name) = f.function_name()
                {
                    async_functions.push(name.to_string());
                }
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
    }
    Ok((consumers, async_functions))
}

/// The filter pattern for a failed invocation's lines: its request id as a quoted term, or,
/// for a redrive without one, the platform's failure wordings and error levels.
pub fn filter_pattern(request_id: Option<&str>) -> String {
    match request_id {
        // A quoted term matches the id anywhere in the line; quotes inside would end it.
        Some(id) => format!("\"{}\"", id.replace('"', "")),
        // OR terms (`?`): Lambda's own REPORT/timeout wordings and the usual error levels
        // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).
        None => "?\"Task timed out\" ?\"Status: timeout\" ?\"Status: error\" ?ERROR ?Error ?error".to_string(),
    }
}

/// The window searched for one message's invocation: before a dead-letter or on-failure
/// record's time (Lambda retries for up to `since_ms`), after a redriven message's sent time.
pub fn search_window(origin: Origin, time_ms: Option<i64>, since_ms: i64, now_ms: i64) -> (i64, i64) {
    match (origin, time_ms) {
        (Origin::Redrive, Some(t)) => (t, (t + REDRIVE_WINDOW_MS.max(since_ms)).min(now_ms)),
        (_, Some(t)) => (t - since_ms, (t + 60_000).min(now_ms)),
        (_, None) => (now_ms - since_ms, now_ms),
    }
}

/// Lines of `function`'s log group in the window that match `pattern`, at most
/// [`MAX_FETCHED_LINES`].
pub async fn fetch_lines(
    clients: &Clients,
    function: &str,
    pattern: &str,
    window: (i64, i64),
    deadline: Instant,
) -> Result<Vec<FetchedLine>, DlqError> {
    let group = format!("/aws/lambda/{function}");
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..3 {
        let out = within(
            deadline,
            || format!("read the log events of {group}"),
            clients
                .logs
                .filter_log_events()
                .log_group_name(&group)
                .filter_pattern(pattern)
                .start_time(window.0)
                .end_time(window.1)
                .limit(MAX_FETCHED_LINES - lines.len() as i32)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for e in out.events() {
            lines.push(FetchedLine {
                timestamp_ms: e.timestamp().unwrap_or_default(),
                log_stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
            });
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() || lines.len() >= MAX_FETCHED_LINES as usize {
            break;
        }
    }
    Ok(lines)
}

/// Words for a failed log fetch that an operator can act on.
fn fetch_problem(function: &str, err: &DlqError) -> String {
    let text = err.to_string();
    if text.contains("ResourceNotFound") {
        format!(
            "Log group /aws/lambda/{function} does not exist (deleted, renamed, or the function never logged): no lines."
        )
    } else if text.contains("Throttl") || text.contains("Rate exceeded") {
        format!("CloudWatch Logs throttled the search of /aws/lambda/{function}: no lines; open the links below.")
    } else {
        format!("Could not read the lines of /aws/lambda/{function}: {text}")
    }
}

/// The whole check for one queue: counts, a peek, discovery where messages do not name their
/// function, the lines of each failed invocation, and the notice. Only a queue that cannot be
/// read at all is an error; everything else missing is written into the notice.
pub async fn gather(
    clients: &Clients,
    config: &Config,
    queue_url: &str,
    default_region: &str,
    since_ms: i64,
    now_ms: i64,
    deadline: Instant,
) -> Result<DeadLetterNotice, DlqError> {
    let queue = QueueRef::from_url(queue_url, default_region)?;
    let (stats, arn) = queue_stats(clients, &queue, deadline).await?;
    let peeked = peek(clients, &queue, super::MAX_MESSAGES, deadline).await?;
    let ties: Vec<super::Tie> = peeked.iter().map(super::tie).collect();
    let configured = config
        .queues
        .iter()
        .find(|q| q.name == queue.name)
        .map(|q| q.function.clone());
    let needs_discovery = configured.is_none() && ties.iter().any(|t| t.function.is_none());
    let (mut consumers, mut async_functions) = (Vec::new(), Vec::new());
    let mut queue_problems = Vec::new();
    if needs_discovery {
        let async_too = ties.iter().any(|t| t.origin == Origin::AsyncDeadLetter);
        match discover(clients, &queue, arn.as_deref(), async_too, deadline).await {
            Ok((c, a)) => (consumers, async_functions) = (c, a),
            Err(err) => {
                warn!(queue = %queue.name, error = %err, "Could not discover which function feeds a dead-letter queue.");
                queue_problems.push(format!(
                    "Could not find which function feeds the queue ({err}); name it in a [[queue]] entry of the config."
                ));
            }
        }
    }
    let mut evidence: Vec<MessageEvidence> = Vec::new();
    let mut windows: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (message, tie) in peeked.iter().zip(&ties) {
        let discovered = match tie.origin {
            Origin::Redrive => consumers.first(),
            _ => async_functions.first().or(consumers.first()),
        };
        let function = tie.function.clone().or(configured.clone()).or(discovered.cloned());
        let mut problems = Vec::new();
        let mut lines = Vec::new();
        match &function {
            None => problems.push(
                "No function is known for this message: add a [[queue]] entry naming it to the config.".to_string(),
            ),
            Some(f) => {
                if tie.request_id.is_none() {
                    problems.push(
                        "The message carries no request id: the lines are the function's failures after it was sent."
                            .to_string(),
                    );
                }
                let window = search_window(tie.origin, tie.time_ms, since_ms, now_ms);
                let w = windows.entry(f.clone()).or_insert(window);
                *w = (w.0.min(window.0), w.1.max(window.1));
                match fetch_lines(clients, f, &filter_pattern(tie.request_id.as_deref()), window, deadline).await {
                    Ok(found) => {
                        if found.is_empty() {
                            problems.push(format!("No lines of /aws/lambda/{f} matched in the window searched."));
                        }
                        lines = found;
                    }
                    Err(err) => {
                        warn!(function = %f, error = %err, "Could not fetch a dead letter's log lines.");
                        problems.push(fetch_problem(f, &err));
                    }
                }
            }
        }
        evidence.push(super::message_evidence(
            config,
            &queue.region,
            message,
            function,
            lines,
            problems,
        ));
    }
    let windows: Vec<(String, i64, i64)> = windows.into_iter().map(|(f, (s, e))| (f, s, e)).collect();
    let mut notice = DeadLetterNotice::new(queue, stats, evidence, now_ms, &windows);
    notice.problems.extend(queue_problems);
    Ok(notice)
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::operation::filter_log_events::{FilterLogEventsError, FilterLogEventsOutput};
    use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
    use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
    use aws_sdk_lambda::operation::list_functions::ListFunctionsOutput;
    use aws_sdk_lambda::types::{DeadLetterConfig, EventSourceMappingConfiguration, FunctionConfiguration};
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::list_dead_letter_source_queues::ListDeadLetterSourceQueuesOutput;
    use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
    use aws_sdk_sqs::types::{Message, MessageAttributeValue};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;

    const URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/fleet-dlq";
    const ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:fleet-dlq";
    const ID: &str = "6f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    const NOW: i64 = 1_795_946_460_000;

    fn sqs(message: Message, sources: Vec<String>) -> (aws_sdk_sqs::Client, Vec<Rule>) {
        let attributes = mock!(aws_sdk_sqs::Client::get_queue_attributes).then_output(|| {
            GetQueueAttributesOutput::builder()
                .attributes(QueueAttributeName::ApproximateNumberOfMessages, "1")
                .attributes(QueueAttributeName::ApproximateNumberOfMessagesNotVisible, "0")
                .attributes(QueueAttributeName::QueueArn, ARN)
                .build()
        });
        let receive = mock!(aws_sdk_sqs::Client::receive_message)
            .then_output(move || ReceiveMessageOutput::builder().messages(message.clone()).build());
        let listed = mock!(aws_sdk_sqs::Client::list_dead_letter_source_queues).then_output(move || {
            ListDeadLetterSourceQueuesOutput::builder()
                .set_queue_urls(Some(sources.clone()))
                .build()
                .unwrap()
        });
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&attributes, &receive, &listed], |c| c
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()));
        (client, vec![attributes, receive, listed])
    }

    fn lambda() -> (aws_sdk_lambda::Client, Vec<Rule>) {
        let functions = mock!(aws_sdk_lambda::Client::list_functions).then_output(|| {
            ListFunctionsOutput::builder()
                .functions(FunctionConfiguration::builder().function_name("other").build())
                .functions(
                    FunctionConfiguration::builder()
                        .function_name("uploader")
                        .dead_letter_config(DeadLetterConfig::builder().target_arn(ARN).build())
                        .build(),
                )
                .build()
        });
        let mappings = mock!(aws_sdk_lambda::Client::list_event_source_mappings)
            .match_requests(|r| r.event_source_arn() == Some("arn:aws:sqs:eu-west-1:123456789012:jobs"))
            .then_output(|| {
                ListEventSourceMappingsOutput::builder()
                    .event_source_mappings(
                        EventSourceMappingConfiguration::builder()
                            .function_arn("arn:aws:lambda:eu-west-1:123456789012:function:scraper")
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&functions, &mappings], |c| c
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled()));
        (client, vec![functions, mappings])
    }

    fn logs(throttled: bool) -> (aws_sdk_cloudwatchlogs::Client, Rule) {
        let rule = if throttled {
            mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_error(|| {
                FilterLogEventsError::generic(
                    aws_sdk_cloudwatchlogs::error::ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            })
        } else {
            // The invocation's lines answer its quoted request id; nothing else matches.
            mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_compute_output(|r| {
                let event = |t: i64, m: String| {
                    FilteredLogEvent::builder()
                        .timestamp(t)
                        .log_stream_name("2026/11/29/[$LATEST]abc")
                        .message(m)
                        .build()
                };
                if r.filter_pattern() != Some(&format!("\"{ID}\"")) {
                    return FilterLogEventsOutput::builder().build();
                }
                FilterLogEventsOutput::builder()
                    .events(event(NOW - 9_000, format!("START RequestId: {ID} Version: $LATEST\n")))
                    .events(event(
                        NOW - 6_000,
                        format!("2026-11-29T10:00:54.000Z {ID} Task timed out after 3.00 seconds\n"),
                    ))
                    .build()
            })
        };
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled()));
        (client, rule)
    }

    fn async_dead_letter() -> Message {
        Message::builder()
            .message_id("m-1")
            .body(r#"{"key":"k"}"#)
            .attributes(MessageSystemAttributeName::SentTimestamp, (NOW - 5_000).to_string())
            .message_attributes(
                "RequestID",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(ID)
                    .build()
                    .unwrap(),
            )
            .build()
    }

    fn redriven() -> Message {
        Message::builder()
            .message_id("m-2")
            .body(r#"{"order":42}"#)
            .attributes(MessageSystemAttributeName::SentTimestamp, (NOW - 50_000).to_string())
            .build()
    }

    async fn check(message: Message, sources: Vec<String>, throttled: bool) -> DeadLetterNotice {
        let (sqs, _sqs_rules) = sqs(message, sources);
        let (lambda, _lambda_rules) = lambda();
        let (logs, _logs_rule) = logs(throttled);
        let clients = Clients { sqs, logs, lambda };
        let deadline = Instant::now() + Duration::from_secs(5);
        gather(&clients, &Config::default(), URL, "us-east-1", 3_600_000, NOW, deadline)
            .await
            .expect("the queue is readable")
    }

    #[tokio::test]
    async fn an_async_dead_letter_is_tied_to_the_function_whose_dead_letter_config_names_the_queue() {
        let notice = check(async_dead_letter(), Vec::new(), false).await;
        let m = &notice.messages[0];
        assert_eq!(m.function.as_deref(), Some("uploader"), "{notice:?}");
        assert_eq!(m.classes, vec!["Timeouts"]);
        assert_eq!(m.lines.len(), 2);
        assert!(notice.text().contains("function uploader"));
    }

    #[tokio::test]
    async fn a_redriven_message_is_tied_to_the_consumer_of_the_source_queue() {
        let source = "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs".to_string();
        let notice = check(redriven(), vec![source], false).await;
        let m = &notice.messages[0];
        assert_eq!(m.function.as_deref(), Some("scraper"), "{notice:?}");
        assert!(
            m.problems.iter().any(|p| p.contains("no request id")),
            "{:?}",
            m.problems
        );
        assert!(
            m.problems
                .iter()
                .any(|p| p.contains("No lines of /aws/lambda/scraper matched")),
            "{:?}",
            m.problems
        );
    }

    #[tokio::test]
    async fn logs_throttling_is_named_in_the_notice_and_the_check_finishes() {
        let started = Instant::now();
        let notice = check(async_dead_letter(), Vec::new(), true).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        let m = &notice.messages[0];
        assert!(m.lines.is_empty());
        assert!(
            m.problems.iter().any(|p| p.contains("CloudWatch Logs throttled")),
            "{:?}",
            m.problems
        );
        assert!(notice.text().contains("CloudWatch Logs throttled"));
    }
}
