//! CloudWatch Logs metric filters for teams that want no processor: what filter patterns can
//! count of the built-in classes and the custom rules, as a CloudFormation template of
//! `AWS::Logs::MetricFilter` resources (`lambda-watchdog metric-filters`).
//!
//! Filter patterns match one log event at a time, so they count lines, not invocations; the
//! template's `Metadata` says what else they cannot do. Each pattern is built as a small tree that
//! renders to the filter syntax and can also be evaluated ([`Pattern::matches`]), so the tests
//! check the patterns against the sample events.
//!
//! Syntax: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>.
//! Resource: <https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-logs-metricfilter.html>.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::Config;
use crate::metrics::Metric;
use crate::processor::function_name;
use crate::signals::Signal;
use crate::vocabulary;

/// CloudFormation's limit on resources in one template.
pub const MAX_RESOURCES: usize = 500;

/// CloudWatch Logs' quota of metric filters per log group.
pub const MAX_FILTERS_PER_LOG_GROUP: usize = 100;

/// CloudWatch Logs' limit on the length of a filter pattern.
pub const MAX_PATTERN_CHARS: usize = 1024;

/// Why no template could be made.
#[derive(Debug, thiserror::Error)]
pub enum MetricFilterError {
    /// A log group name CloudWatch Logs would refuse.
    #[error("`{name}` is not a log group name: {reason}")]
    LogGroupName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same log group twice: its lines would be counted twice.
    #[error("the log group `{0}` is given twice; each line would be counted twice")]
    DuplicateLogGroup(String),
    /// Every given log group is excluded by the config.
    #[error("no metric filters to make: every given log group is excluded by the config's `exclude`")]
    NothingToDo,
    /// More resources than one template may hold.
    #[error(
        "{count} metric filters are more than the {MAX_RESOURCES} resources one CloudFormation template may hold; \
         run the command for fewer log groups at a time (about {per_group} filters each) and deploy several stacks"
    )]
    TooManyResources {
        /// How many filters.
        count: usize,
        /// Filters per log group.
        per_group: usize,
    },
    /// More filters on one log group than CloudWatch Logs allows.
    #[error(
        "{count} metric filters on `{log_group}` are more than the {MAX_FILTERS_PER_LOG_GROUP} CloudWatch Logs allows per log group; use fewer [[rule]] entries"
    )]
    TooManyForLogGroup {
        /// The log group.
        log_group: String,
        /// How many filters.
        count: usize,
    },
}

/// The log format a filter is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// Lambda's plain-text format: phrases only Lambda's text platform lines contain
    /// (`REPORT ... Status: timeout`, `Task timed out after`, `[ERROR]`).
    Text,
    /// Lambda's JSON format: JSON patterns on `platform.report` records and on `level` fields.
    /// They never match a plain-text line.
    Json,
    /// Either format: phrases an application writes into its lines, which a text pattern finds in
    /// a plain line and inside a JSON line alike. One filter serves both formats; a second one for
    /// JSON would count each line twice.
    Any,
}

impl Format {
    /// The name used in logical ids and in the template's notes.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Text => "Text",
            Format::Json => "Json",
            Format::Any => "Any",
        }
    }
}

/// A value a JSON pattern compares a field with.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    /// A string, compared exactly.
    Str(String),
    /// A number.
    Num(i64),
}

/// A JSON pattern's expression: `$.a.b = "x"`, joined with `&&` and `||`.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpr {
    /// The field at this path (`$.record.status`) equals the value.
    Eq(&'static str, JsonValue),
    /// All of these.
    And(Vec<JsonExpr>),
    /// Any of these.
    Or(Vec<JsonExpr>),
}

/// A filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// Events that contain any of these exact phrases (case-sensitive): `"a"` or `?"a" ?"b"`.
    AnyPhrase(Vec<String>),
    /// JSON events for which the expression holds: `{ $.type = "platform.report" && ... }`.
    Json(JsonExpr),
}

impl Pattern {
    fn phrases(phrases: &[&str]) -> Pattern {
        Pattern::AnyPhrase(phrases.iter().map(|p| p.to_string()).collect())
    }

    /// The pattern in CloudWatch Logs' filter syntax.
    pub fn render(&self) -> String {
        match self {
            Pattern::AnyPhrase(phrases) if phrases.len() == 1 => quote(&phrases[0]),
            Pattern::AnyPhrase(phrases) => phrases
                .iter()
                .map(|p| format!("?{}", quote(p)))
                .collect::<Vec<_>>()
                .join(" "),
            Pattern::Json(expr) => format!("{{ {} }}", expr.render()),
        }
    }

    /// Whether CloudWatch Logs would count this log event, following the documented semantics of
    /// the part of the syntax these patterns use: a quoted phrase matches where it appears exactly
    /// (case-sensitive); a JSON pattern matches only JSON events whose fields compare equal.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::AnyPhrase(phrases) => phrases.iter().any(|p| message.contains(p.as_str())),
            Pattern::Json(expr) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(value @ Value::Object(_)) => expr.eval(&value),
                _ => false,
            },
        }
    }
}

impl JsonExpr {
    fn render(&self) -> String {
        let join = |parts: &[JsonExpr], op: &str| {
            parts
                .iter()
                .map(|p| match p {
                    JsonExpr::Eq(..) => p.render(),
                    _ => format!("({})", p.render()),
                })
                .collect::<Vec<_>>()
                .join(op)
        };
        match self {
            JsonExpr::Eq(path, JsonValue::Str(s)) => format!("{path} = {}", quote(s)),
            JsonExpr::Eq(path, JsonValue::Num(n)) => format!("{path} = {n}"),
            JsonExpr::And(parts) => join(parts, " && "),
            JsonExpr::Or(parts) => join(parts, " || "),
        }
    }

    fn eval(&self, root: &Value) -> bool {
        match self {
            JsonExpr::Eq(path, want) => {
                let field = path
                    .strip_prefix("$.")
                    .unwrap_or(path)
                    .split('.')
                    .try_fold(root, |v, key| v.get(key));
                match (field, want) {
                    (Some(Value::String(have)), JsonValue::Str(want)) => have == want,
                    (Some(Value::Number(have)), JsonValue::Num(want)) => have.as_f64() == Some(*want as f64),
                    _ => false,
                }
            }
            JsonExpr::And(parts) => parts.iter().all(|p| p.eval(root)),
            JsonExpr::Or(parts) => parts.iter().any(|p| p.eval(root)),
        }
    }
}

/// A quoted term; inner backslashes and double quotes escaped with a backslash.
fn quote(term: &str) -> String {
    format!("\"{}\"", term.replace('\\', "\\\\").replace('"', "\\\""))
}

fn eq(path: &'static str, value: &str) -> JsonExpr {
    JsonExpr::Eq(path, JsonValue::Str(value.to_string()))
}

fn report_with(condition: JsonExpr) -> JsonExpr {
    JsonExpr::And(vec![eq("$.type", "platform.report"), condition])
}

fn platform_report_with(condition: JsonExpr) -> Pattern {
    Pattern::Json(report_with(condition))
}

/// The spellings of the phrases that raise `signal`, from [`crate::vocabulary`] (filter phrases
/// are case-sensitive and know no guards; the processor ignores case where the vocabulary allows
/// it and keeps each guard).
pub fn phrases_for(signal: Signal) -> Vec<&'static str> {
    vocabulary::spellings_of(signal)
}

/// The built-in classes that filter patterns can express, with one pattern per format.
pub fn builtin_patterns() -> Vec<(Metric, Format, Pattern)> {
    let mut connection_errors = phrases_for(Signal::TooManyConnections);
    connection_errors.extend(phrases_for(Signal::ConnectionError));
    // Each error level as loggers write it: upper case, capitalised, lower case.
    let spellings: Vec<String> = vocabulary::JSON_ERROR_LEVELS
        .iter()
        .flat_map(|w| {
            let lower = w.to_ascii_lowercase();
            let capital = w[..1].to_string() + &lower[1..];
            [w.to_string(), capital, lower]
        })
        .collect();
    let mut error_levels: Vec<JsonExpr> = ["$.level", "$.severity"]
        .into_iter()
        .flat_map(|field| spellings.iter().map(move |level| eq(field, level)))
        .collect();
    // pino and bunyan: 50 is error, 60 fatal.
    error_levels.push(JsonExpr::Eq("$.level", JsonValue::Num(50)));
    error_levels.push(JsonExpr::Eq("$.level", JsonValue::Num(60)));
    let mut errors_json = vec![report_with(JsonExpr::Or(vec![
        eq("$.record.status", "error"),
        eq("$.record.status", "failure"),
    ]))];
    errors_json.extend(error_levels);
    let errors_text: Vec<&str> = vocabulary::FAILED_STATUS_MARKERS
        .iter()
        .chain(vocabulary::TEXT_ERROR_MARKERS)
        .copied()
        .collect();

    vec![
        (
            Metric::Timeouts,
            Format::Text,
            Pattern::phrases(&vocabulary::TIMEOUT_MARKERS[..2]),
        ),
        (
            Metric::Timeouts,
            Format::Json,
            platform_report_with(eq("$.record.status", "timeout")),
        ),
        (
            Metric::OutOfMemory,
            Format::Text,
            Pattern::phrases(&["Error Type: Runtime.OutOfMemory"]),
        ),
        (
            Metric::OutOfMemory,
            Format::Json,
            platform_report_with(eq("$.record.errorType", "Runtime.OutOfMemory")),
        ),
        (
            Metric::OutOfMemory,
            Format::Any,
            Pattern::phrases(&phrases_for(Signal::OutOfMemory)),
        ),
        (Metric::Errors, Format::Text, Pattern::phrases(&errors_text)),
        (Metric::Errors, Format::Json, Pattern::Json(JsonExpr::Or(errors_json))),
        (
            Metric::RateLimited,
            Format::Any,
            Pattern::phrases(&phrases_for(Signal::RateLimited)),
        ),
        (
            Metric::TooManyConnections,
            Format::Any,
            Pattern::phrases(&phrases_for(Signal::TooManyConnections)),
        ),
        (
            Metric::ConnectionErrors,
            Format::Any,
            Pattern::phrases(&connection_errors),
        ),
    ]
}

/// One metric filter to create.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFilter {
    /// The log group it reads.
    pub log_group: String,
    /// The metric it counts into.
    pub metric: String,
    /// The metric's unit.
    pub unit: &'static str,
    /// The log format it is written for.
    pub format: Format,
    /// What it matches.
    pub pattern: Pattern,
}

/// The metric filters for a set of log groups, and what was left out and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The metrics' namespace.
    pub namespace: String,
    /// The filters, grouped by log group in the order given.
    pub filters: Vec<MetricFilter>,
    /// What was left out, one sentence each.
    pub skipped: Vec<String>,
}

/// What metric filters cannot do that the processor does; written into the template.
pub const LIMITATIONS: &[&str] = &[
    "Per-invocation counting: a filter counts matching log lines. An invocation that logs a rate-limit error five times counts 5, and a timeout or an out-of-memory crash can count twice (the runtime's message and the REPORT line). The processor counts each class once per invocation, also across batches and duplicate deliveries, and ties lines without a request id to the invocation running in their log stream.",
    "Learned timeouts and NearTimeout: a filter cannot compare an invocation's duration with the function's timeout, which the processor takes from the config or learns from the function's own timeouts. NearTimeout and ShortRuns are not produced.",
    "Errors: a filter cannot tell a line's level from the same word in its message, so in the text format only the REPORT status, the Python runtime's [ERROR], [CRITICAL] and [FATAL] prefixes and Ruby Logger's ERROR and FATAL count; the .NET, Node.js and Java runtimes' level fields do not (the JSON format's level field does). Errors of timed-out invocations are not left out. INIT_REPORT and RESTORE_REPORT lines with Status: timeout or error count as Timeouts or Errors (the processor counts them as InitFailures).",
    "OutOfMemory: a filter cannot compare Max Memory Used with Memory Size, so a crash at the memory limit counts only when the report says Runtime.OutOfMemory or the runtime's message is logged.",
    "Case and guards: filter phrases are case-sensitive, so only the usual spellings listed in each pattern count; the processor ignores case. A filter cannot require a word boundary either, so \"status 429\" also matches \"status 4290\", which the processor does not count.",
    "No FunctionName dimension: a metric filter's dimensions must come from fields of a JSON or space-delimited pattern, and CloudWatch Logs does not allow dimensions together with a default value. Every filter counts into the fleet-wide metric (no dimensions), which is what the template's alarms read. For per-function numbers, give each function its own namespace (run the command once per function with a config whose namespace differs).",
    "Not produced: Invocations, ColdStarts, InitFailures, Duration, InitDuration, MaxMemoryUsed, MemoryUtilization, BilledDuration and GBSeconds (use the AWS/Lambda metrics), the processor's own metrics, rules that take their value from the line, rules whose pattern is a regular expression, and phrases longer than a filter pattern can be.",
    "Do not run these filters and the processor with the same namespace: both write the fleet-wide metrics, which would add up.",
];

/// How the formats are told apart; written into the template.
pub const FORMATS_NOTE: &str = "Each class has one filter per log format it can be told in: Text filters use phrases only Lambda's plain-text lines contain, Json filters only match JSON log events, and Any filters look for phrases an application writes in either format. A log group uses one format, so its Text and Json filters never both count one line.";

/// Plans the metric filters of the built-in classes and the config's rules for these log groups.
pub fn plan(config: &Config, log_groups: &[String]) -> Result<Plan, MetricFilterError> {
    let mut seen = BTreeSet::new();
    for group in log_groups {
        check_log_group_name(group)?;
        if !seen.insert(group.as_str()) {
            return Err(MetricFilterError::DuplicateLogGroup(group.clone()));
        }
    }
    let mut skipped = Vec::new();
    // The rules that can become filters, as their patterns; the others are reported once here.
    let mut phrases: Vec<Option<Pattern>> = Vec::with_capacity(config.rules.len());
    for (i, rule) in config.rules.iter().enumerate() {
        let phrase = Pattern::AnyPhrase(vec![rule.pattern.as_str().to_string()]);
        let why = if rule.value.is_some() {
            "it takes its value from the line, and a filter can take a value only from a field of a JSON or space-delimited pattern".to_string()
        } else if rule.literal.is_none() {
            format!(
                "its pattern `{}` is a regular expression; filter patterns take plain phrases (their own regular expressions are limited and capped at five per log group)",
                rule.pattern.as_str()
            )
        } else if phrase.render().len() > MAX_PATTERN_CHARS {
            format!("its phrase is longer than a filter pattern's {MAX_PATTERN_CHARS} characters")
        } else {
            phrases.push(Some(phrase));
            continue;
        };
        skipped.push(format!("Rule `{}` (rule[{i}]): {why}.", rule.metric));
        phrases.push(None);
    }
    let builtin = builtin_patterns();
    let mut filters = Vec::new();
    let mut rule_used = vec![false; config.rules.len()];
    for group in log_groups {
        if config.is_excluded(group) {
            skipped.push(format!("Log group `{group}`: excluded by the config's `exclude`."));
            continue;
        }
        let start = filters.len();
        for (metric, format, pattern) in &builtin {
            filters.push(MetricFilter {
                log_group: group.clone(),
                metric: metric.name().to_string(),
                unit: metric.unit().name(),
                format: *format,
                pattern: pattern.clone(),
            });
        }
        for i in config.settings_for(function_name(group)).rules() {
            let Some(pattern) = &phrases[i] else { continue };
            rule_used[i] = true;
            let rule = &config.rules[i];
            filters.push(MetricFilter {
                log_group: group.clone(),
                metric: rule.metric.to_string(),
                unit: rule.unit,
                format: Format::Any,
                pattern: pattern.clone(),
            });
        }
        let count = filters.len() - start;
        if count > MAX_FILTERS_PER_LOG_GROUP {
            return Err(MetricFilterError::TooManyForLogGroup {
                log_group: group.clone(),
                count,
            });
        }
    }
    if filters.is_empty() {
        return Err(MetricFilterError::NothingToDo);
    }
    for (i, rule) in config.rules.iter().enumerate() {
        if !rule_used[i] && phrases[i].is_some() {
            skipped.push(format!(
                "Rule `{}` (rule[{i}]): its `functions` match none of the given log groups.",
                rule.metric
            ));
        }
    }
    Ok(Plan {
        namespace: config.namespace.clone(),
        filters,
        skipped,
    })
}

fn check_log_group_name(name: &str) -> Result<(), MetricFilterError> {
    let reason = if name.is_empty() || name.len() > 512 {
        Some("it must be 1 to 512 characters")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c)) {
        Some("it may hold only letters, digits and . _ - / #")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(MetricFilterError::LogGroupName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// `scraper-worker` → `ScraperWorker`: the alphanumeric runs, each capitalised.
fn camel(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

impl Plan {
    /// The CloudFormation template: one `AWS::Logs::MetricFilter` per filter, with a
    /// `Description` and `Metadata` that say what the filters cannot do.
    pub fn to_template(&self) -> Result<Value, MetricFilterError> {
        if self.filters.len() > MAX_RESOURCES {
            let groups: BTreeSet<&str> = self.filters.iter().map(|f| f.log_group.as_str()).collect();
            return Err(MetricFilterError::TooManyResources {
                count: self.filters.len(),
                per_group: self.filters.len().div_ceil(groups.len().max(1)),
            });
        }
        let mut group_ids: BTreeMap<&str, String> = BTreeMap::new();
        let mut used_ids: BTreeSet<String> = BTreeSet::new();
        let mut resources = serde_json::Map::new();
        for filter in &self.filters {
            let next = group_ids.len();
            let group_id = group_ids.entry(filter.log_group.as_str()).or_insert_with(|| {
                let mut id = camel(function_name(&filter.log_group));
                id.truncate(200);
                if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
                    id = format!("LogGroup{next}{id}");
                }
                id
            });
            let base = format!("{group_id}{}{}", camel(&filter.metric), filter.format.name());
            let mut id = base.clone();
            let mut n = 2;
            while used_ids.contains(&id) {
                id = format!("{base}{n}");
                n += 1;
            }
            used_ids.insert(id.clone());
            resources.insert(
                id,
                json!({
                    "Type": "AWS::Logs::MetricFilter",
                    "Properties": {
                        "LogGroupName": filter.log_group,
                        "FilterPattern": filter.pattern.render(),
                        "MetricTransformations": [{
                            "MetricNamespace": self.namespace,
                            "MetricName": filter.metric,
                            "MetricValue": "1",
                            "DefaultValue": 0,
                            "Unit": filter.unit,
                        }],
                    },
                }),
            );
        }
        let groups: Vec<&str> = {
            let mut seen = BTreeSet::new();
            self.filters
                .iter()
                .map(|f| f.log_group.as_str())
                .filter(|g| seen.insert(*g))
                .collect()
        };
        Ok(json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": format!(
                "CloudWatch Logs metric filters for {} log group(s), made by `lambda-watchdog metric-filters`: \
                 fleet-wide counts in namespace {}, without the processor. Filters count log lines, not invocations; \
                 Metadata.LambdaWatchdog says what they cannot do.",
                groups.len(),
                self.namespace
            ),
            "Metadata": {
                "LambdaWatchdog": {
                    "Namespace": self.namespace,
                    "LogGroups": groups,
                    "Formats": FORMATS_NOTE,
                    "CannotDo": LIMITATIONS,
                    "Skipped": self.skipped,
                },
            },
            "Resources": resources,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::scan;

    fn sample() -> Config {
        Config::from_toml_str(include_str!("../watchdog.toml")).unwrap()
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn template(config: &Config, names: &[&str]) -> Value {
        plan(config, &groups(names)).unwrap().to_template().unwrap()
    }

    #[test]
    fn phrases_are_quoted_and_joined_with_question_marks() {
        assert_eq!(Pattern::phrases(&["Task timed out"]).render(), r#""Task timed out""#);
        assert_eq!(
            Pattern::phrases(&["Task timed out after", "Status: timeout"]).render(),
            r#"?"Task timed out after" ?"Status: timeout""#
        );
        assert_eq!(Pattern::phrases(&[r#"say "hi" \o/"#]).render(), r#""say \"hi\" \\o/""#);
    }

    #[test]
    fn json_patterns_group_compound_terms_in_parentheses() {
        let timeouts = platform_report_with(eq("$.record.status", "timeout"));
        assert_eq!(
            timeouts.render(),
            r#"{ $.type = "platform.report" && $.record.status = "timeout" }"#
        );
        let either = Pattern::Json(JsonExpr::Or(vec![
            JsonExpr::And(vec![eq("$.a", "x"), JsonExpr::Eq("$.n", JsonValue::Num(50))]),
            eq("$.b", "y"),
        ]));
        assert_eq!(either.render(), r#"{ ($.a = "x" && $.n = 50) || $.b = "y" }"#);
    }

    #[test]
    fn json_patterns_match_only_json_events_with_equal_fields() {
        let timeouts = platform_report_with(eq("$.record.status", "timeout"));
        assert!(
            timeouts.matches(r#"{"time":"t","type":"platform.report","record":{"requestId":"r","status":"timeout"}}"#)
        );
        assert!(
            !timeouts
                .matches(r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"r","status":"timeout"}}"#)
        );
        assert!(!timeouts.matches("REPORT RequestId: r\tDuration: 3.0 ms\tStatus: timeout"));
        let pino = Pattern::Json(JsonExpr::Eq("$.level", JsonValue::Num(50)));
        assert!(pino.matches(r#"{"level":50,"msg":"boom"}"#));
        assert!(!pino.matches(r#"{"level":"50"}"#));
    }

    #[test]
    fn every_builtin_pattern_fits_cloudwatch_logs_length_limit() {
        for (metric, format, pattern) in builtin_patterns() {
            let text = pattern.render();
            assert!(
                text.len() <= MAX_PATTERN_CHARS,
                "{metric:?} {format:?} is {} characters",
                text.len()
            );
        }
    }

    #[test]
    fn filter_phrases_are_phrases_the_processor_counts_for_the_same_class() {
        for signal in [
            Signal::RateLimited,
            Signal::TooManyConnections,
            Signal::ConnectionError,
            Signal::OutOfMemory,
        ] {
            for phrase in phrases_for(signal) {
                assert!(
                    scan(phrase).has(signal),
                    "`{phrase}` is not {signal:?} to the processor"
                );
            }
        }
    }

    #[test]
    fn text_patterns_never_match_lambda_json_records_and_json_patterns_never_match_text_lines() {
        let text_lines = [
            "REPORT RequestId: r\tDuration: 3016.78 ms\tBilled Duration: 3101 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB\tStatus: timeout",
            "REPORT RequestId: r Duration: 3.0 ms Billed Duration: 4 ms Memory Size: 128 MB Max Memory Used: 128 MB Status: error Error Type: Runtime.OutOfMemory",
            "2026-11-29T10:00:00.000Z r Task timed out after 3.00 seconds",
            "[ERROR]\t2026-11-29T10:00:00.000Z\tr\tboom",
        ];
        let json_lines = [
            r#"{"time":"t","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":30000.0},"status":"timeout"}}"#,
            r#"{"time":"t","type":"platform.report","record":{"requestId":"r","status":"error","errorType":"Runtime.OutOfMemory"}}"#,
            r#"{"timestamp":"t","level":"ERROR","message":"boom","requestId":"r"}"#,
        ];
        for (metric, format, pattern) in builtin_patterns() {
            let (matched, unmatched): (&[&str], &[&str]) = match format {
                Format::Text => (&text_lines, &json_lines),
                Format::Json => (&json_lines, &text_lines),
                Format::Any => continue,
            };
            for line in unmatched {
                assert!(!pattern.matches(line), "{metric:?} {format:?} matches {line}");
            }
            assert!(
                matched.iter().any(|line| pattern.matches(line)),
                "{metric:?} {format:?} matches none of its format's lines"
            );
        }
    }

    #[test]
    fn the_sample_config_gives_each_class_and_the_plain_rule_for_both_formats() {
        let t = template(&sample(), &["/aws/lambda/scraper-worker", "/aws/lambda/uploader"]);
        let resources = t["Resources"].as_object().unwrap();
        let ids: Vec<&String> = resources.keys().collect();
        for id in &ids {
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
            assert!(id.len() <= 255);
        }
        // 10 built-in filters per group, plus ApiRateLimitExceeded on scraper-* only.
        assert_eq!(resources.len(), 21);
        let timeouts = &resources["ScraperWorkerTimeoutsJson"]["Properties"];
        assert_eq!(timeouts["LogGroupName"], "/aws/lambda/scraper-worker");
        assert_eq!(
            timeouts["FilterPattern"],
            r#"{ $.type = "platform.report" && $.record.status = "timeout" }"#
        );
        assert_eq!(
            timeouts["MetricTransformations"],
            json!([{"MetricNamespace": "LambdaWatchdog", "MetricName": "Timeouts", "MetricValue": "1", "DefaultValue": 0, "Unit": "Count"}])
        );
        assert_eq!(
            resources["ScraperWorkerTimeoutsText"]["Properties"]["FilterPattern"],
            r#"?"Task timed out after" ?"Status: timeout""#
        );
        assert_eq!(
            resources["ScraperWorkerApiRateLimitExceededAny"]["Properties"]["FilterPattern"],
            r#""API Rate Limit Exceeded""#
        );
        assert!(!resources.contains_key("UploaderApiRateLimitExceededAny"));
        assert!(resources.values().all(|r| r["Type"] == "AWS::Logs::MetricFilter"));
    }

    #[test]
    fn the_template_says_what_filters_cannot_do_and_what_was_skipped() {
        let t = template(&sample(), &["/aws/lambda/scraper-worker"]);
        let meta = &t["Metadata"]["LambdaWatchdog"];
        let cannot = meta["CannotDo"].to_string();
        for needle in [
            "Per-invocation counting",
            "Learned timeouts and NearTimeout",
            "FunctionName",
        ] {
            assert!(cannot.contains(needle), "{needle}");
        }
        let skipped = meta["Skipped"].as_array().unwrap();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].as_str().unwrap().contains("ChunkSize"));
        let description = t["Description"].as_str().unwrap();
        assert!(description.len() <= 1024);
        assert!(description.contains("not invocations"));
    }

    #[test]
    fn regex_rules_are_skipped_and_rules_for_other_functions_are_named() {
        let config = Config::from_toml_str(
            r#"
            namespace = "Fleet/Workers"
            [[rule]]
            metric = "PaymentDeclined"
            pattern = "card (declined|refused)"
            [[rule]]
            metric = "Quota"
            pattern = "quota exhausted"
            functions = ["billing-*"]
            "#,
        )
        .unwrap();
        let plan = plan(&config, &groups(&["/aws/lambda/orders"])).unwrap();
        assert!(
            plan.filters
                .iter()
                .all(|f| f.metric != "PaymentDeclined" && f.metric != "Quota")
        );
        assert!(plan.skipped[0].contains("PaymentDeclined") && plan.skipped[0].contains("regular expression"));
        assert!(plan.skipped[1].contains("Quota") && plan.skipped[1].contains("none of the given log groups"));
        let t = plan.to_template().unwrap();
        assert_eq!(
            t["Resources"]["OrdersErrorsText"]["Properties"]["MetricTransformations"][0]["MetricNamespace"],
            "Fleet/Workers"
        );
    }

    #[test]
    fn a_phrase_too_long_for_a_filter_pattern_is_skipped_and_said_so() {
        let long = "x".repeat(MAX_PATTERN_CHARS);
        let config = Config::from_toml_str(&format!("[[rule]]\nmetric = \"Long\"\npattern = \"{long}\"")).unwrap();
        let plan = plan(&config, &groups(&["/aws/lambda/orders"])).unwrap();
        assert!(plan.filters.iter().all(|f| f.metric != "Long"));
        assert_eq!(plan.skipped.len(), 1, "{:?}", plan.skipped);
        assert!(plan.skipped[0].contains("Long") && plan.skipped[0].contains("longer than"));
        assert!(
            plan.filters
                .iter()
                .all(|f| f.pattern.render().len() <= MAX_PATTERN_CHARS)
        );
    }

    #[test]
    fn excluded_groups_get_no_filters() {
        let plan = plan(
            &sample(),
            &groups(&["/aws/lambda/lambda-watchdog", "/aws/lambda/uploader"]),
        )
        .unwrap();
        assert!(plan.filters.iter().all(|f| f.log_group == "/aws/lambda/uploader"));
        assert!(plan.skipped.iter().any(|s| s.contains("/aws/lambda/lambda-watchdog")));
        let err = super::plan(&sample(), &groups(&["/aws/lambda/lambda-watchdog"])).unwrap_err();
        assert!(matches!(err, MetricFilterError::NothingToDo));
    }

    #[test]
    fn bad_and_repeated_log_group_names_are_refused() {
        let err = plan(&sample(), &groups(&["/aws/lambda/a b"])).unwrap_err().to_string();
        assert!(err.contains("`/aws/lambda/a b` is not a log group name"), "{err}");
        let err = plan(&sample(), &groups(&["/aws/lambda/a", "/aws/lambda/a"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("given twice"), "{err}");
    }

    #[test]
    fn groups_whose_names_differ_only_in_punctuation_get_distinct_ids() {
        let t = template(&Config::default(), &["/aws/lambda/a-b", "/aws/lambda/a_b", "/ecs/7up"]);
        let resources = t["Resources"].as_object().unwrap();
        assert_eq!(resources.len(), 30);
        assert_eq!(
            resources["ABTimeoutsText"]["Properties"]["LogGroupName"],
            "/aws/lambda/a-b"
        );
        assert_eq!(
            resources["ABTimeoutsText2"]["Properties"]["LogGroupName"],
            "/aws/lambda/a_b"
        );
        // An id may not start with a digit.
        assert_eq!(
            resources["LogGroup27upTimeoutsJson"]["Properties"]["LogGroupName"],
            "/ecs/7up"
        );
    }

    #[test]
    fn more_filters_than_a_template_holds_are_refused_with_advice() {
        let many: Vec<String> = (0..60).map(|i| format!("/aws/lambda/f{i}")).collect();
        let err = plan(&Config::default(), &many).unwrap().to_template().unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("600 metric filters") && text.contains("fewer log groups"),
            "{text}"
        );
    }
}
