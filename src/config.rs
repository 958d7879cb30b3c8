//! The configuration: a TOML file (or the text of `WATCHDOG_CONFIG` in Lambda), every key
//! optional. It is checked once at start: an unknown key, a bad regex or glob, or a value out of
//! range is refused with a message that names the key.

use std::path::Path;
use std::sync::Arc;

use globset::{Glob, GlobMatcher, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::Deserialize;

use crate::metrics::{Metric, ProcessorMetric, Unit};
use crate::rules::{RuleMatcher, RuleSetError};

/// Default cap on a batch's decoded size (32 MiB).
pub const DEFAULT_MAX_DECODED_BYTES: usize = 32 << 20;
/// Default of `hold_seconds`.
pub const DEFAULT_HOLD_SECONDS: f64 = 60.0;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The causes are in the messages and not chained as sources, so that a printer of the
    // whole chain (anyhow's `{:#}`) shows each once.
    /// The file could not be read.
    #[error("could not read the config file {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The text is not valid TOML or has unknown keys or wrong types.
    #[error("the config is not valid TOML at line {line}, column {column}: {message}")]
    Toml {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// What the TOML reader said, in one line.
        message: String,
    },
    /// A key has a value the processor cannot use.
    #[error("the config key `{key}` is not valid: {reason}")]
    Invalid {
        /// The key, e.g. `rule[1].pattern`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Largest `notices.thresholds` value: the notifier keeps that many occurrence times per
/// (function, class), and its memory is bounded by it.
pub const MAX_THRESHOLD: u64 = 100;

/// Most custom rules a config may have. An invocation keeps the rules it has shown as bits of
/// one `u64`, and 64 metrics per function and minute is well past what a dashboard can show.
pub const MAX_RULES: usize = 64;

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    namespace: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    max_decoded_bytes: Option<usize>,
    hold_seconds: Option<f64>,
    value_metrics: Option<bool>,
    cost_metrics: Option<bool>,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    function: Vec<RawFunction>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    notices: RawNotices,
    #[serde(default)]
    advice: RawAdvice,
    #[serde(default)]
    queue: Vec<QueueOverride>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNotices {
    cooldown_minutes: Option<f64>,
    max_per_invocation: Option<usize>,
    samples: Option<usize>,
    request_ids: Option<usize>,
    region: Option<String>,
    #[serde(default)]
    redact: Vec<String>,
    #[serde(default)]
    thresholds: RawThresholds,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    timeouts: Option<u64>,
    out_of_memory: Option<u64>,
    rate_limited: Option<u64>,
    too_many_connections: Option<u64>,
    errors: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAdvice {
    min_invocations: Option<usize>,
    dominant_share: Option<f64>,
    target_duration_ratio: Option<f64>,
    window_minutes: Option<f64>,
    cooldown_minutes: Option<f64>,
}

/// How failure alerts are sent (the `[notices]` section).
#[derive(Debug, Clone)]
pub struct NoticeSettings {
    /// After a notice for a (function, class), later ones within this many ms are merged.
    pub cooldown_ms: i64,
    /// Most notices one invocation of the processor sends; the rest go in one summary notice.
    pub max_per_invocation: usize,
    /// Invocations quoted per notice (one excerpt each).
    pub samples: usize,
    /// Request ids listed per notice.
    pub request_ids: usize,
    /// The Region named in notices and used for console links (else `AWS_REGION`, else
    /// `AWS_DEFAULT_REGION`; see [`crate::notify::Notifier::known_region`]).
    pub region: Option<String>,
    /// Extra secret patterns to mask in samples.
    pub redact: Vec<Regex>,
    /// Occurrences within one cooldown window before a class is alerted, per class metric name.
    pub thresholds: Vec<(Metric, u64)>,
}

/// When chunk-size advice is given (the `[advice]` section).
#[derive(Debug, Clone, PartialEq)]
pub struct AdviceSettings {
    /// Fewest recent invocations before advising.
    pub min_invocations: usize,
    /// Share of recent invocations that makes a pattern dominant.
    pub dominant_share: f64,
    /// Where the advised chunk size should put the expected duration, as a share of the timeout.
    pub target_duration_ratio: f64,
    /// How far back "recent" reaches, ms.
    pub window_ms: i64,
    /// Advice for a function at most once per this many ms.
    pub cooldown_ms: i64,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    timeout_seconds: Option<f64>,
    near_timeout_ratio: Option<f64>,
    short_run_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    #[serde(rename = "match")]
    pattern: String,
    timeout_seconds: Option<f64>,
    near_timeout_ratio: Option<f64>,
    short_run_seconds: Option<f64>,
    #[serde(default)]
    chunked: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    metric: String,
    pattern: String,
    functions: Option<Vec<String>>,
    value: Option<String>,
    unit: Option<String>,
}

/// The defaults that apply to every function no `[[function]]` entry overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    /// The timeout assumed when neither the config nor the logs tell it (300 s).
    pub timeout_seconds: f64,
    /// Share of the timeout at or above which a finished invocation is a near-timeout (0.8).
    pub near_timeout_ratio: f64,
    /// Chunked workers' successful runs shorter than this are short runs (60 s).
    pub short_run_seconds: f64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            timeout_seconds: 300.0,
            near_timeout_ratio: 0.8,
            short_run_seconds: 60.0,
        }
    }
}

#[derive(Debug, Clone)]
struct FunctionEntry {
    matcher: GlobMatcher,
    timeout_seconds: Option<f64>,
    near_timeout_ratio: Option<f64>,
    short_run_seconds: Option<f64>,
    chunked: bool,
}

/// A custom per-invocation counter, like a metric filter but counted once per invocation.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The metric name.
    pub metric: Arc<str>,
    /// The line pattern.
    pub pattern: Regex,
    /// The pattern as a plain phrase, when it has no regex syntax: found with memchr's SIMD
    /// substring search, several times faster per line than a regex set.
    pub literal: Option<memchr::memmem::Finder<'static>>,
    functions: Option<GlobSet>,
    /// A regex whose first capture group's number becomes the metric value.
    pub value: Option<Regex>,
    /// A value pattern written `PHRASE(\d+)` or `PHRASE(\d+)WORDS`, the usual shapes: its
    /// number is read after the phrase by hand, several times quicker than the regex engine's
    /// captures.
    value_phrase: Option<ValuePhrase>,
    /// The EMF unit (Count unless given).
    pub unit: &'static str,
}

impl Rule {
    /// Whether the line matches the rule's pattern.
    pub fn matches(&self, line: &str) -> bool {
        match &self.literal {
            Some(finder) => finder.find(line.as_bytes()).is_some(),
            None => self.pattern.is_match(line),
        }
    }

    /// The number this line gives the rule, if it has a value pattern that captures one. The
    /// capture slots are the caller's, so a hot loop does not allocate them per line;
    /// `locations` must come from this rule's `value` regex.
    pub fn value_with(&self, line: &str, locations: &mut regex::CaptureLocations) -> Option<f64> {
        let value = self.value.as_ref()?;
        if let Some(phrase) = &self.value_phrase
            && let Ok(number) = phrase.number_in(line)
        {
            return number;
        }
        value.captures_read(locations, line)?;
        let (start, end) = locations.get(1)?;
        line[start..end].parse().ok()
    }
}

/// A value pattern `PHRASE(\d+)WORDS` (`WORDS` may be empty): plain text around one run of
/// digits.
#[derive(Debug, Clone)]
struct ValuePhrase {
    phrase: memchr::memmem::Finder<'static>,
    after: String,
}

impl ValuePhrase {
    /// The shape of `value`, if it has it: text without regex syntax, `(\d+)`, and text without
    /// regex syntax that does not begin with a digit (one that did could take digits back from
    /// `\d+`, and only the regex engine backtracks).
    fn of(value: &str) -> Option<ValuePhrase> {
        let (before, after) = value.split_once(r"(\d+)")?;
        let plain_after = regex::escape(after) == after && !after.starts_with(|c: char| c.is_ascii_digit());
        Some(ValuePhrase {
            phrase: plain_phrase(before)?,
            after: after.to_string(),
        })
        .filter(|_| plain_after)
    }

    /// The number the regex would capture in `line`: the digits after the first PHRASE that
    /// digits and then WORDS follow. `Err` when a byte outside ASCII stands where a digit could:
    /// `\d` also matches other scripts' digits, and only the regex can say what it captures then.
    fn number_in(&self, line: &str) -> Result<Option<f64>, ()> {
        let bytes = line.as_bytes();
        let mut from = 0;
        while let Some(found) = self.phrase.find(&bytes[from..]) {
            // A match of a whole phrase ends on a char boundary, and digits are ASCII.
            let at = from + found + self.phrase.needle().len();
            let digits = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            if bytes.get(at + digits).is_some_and(|b| !b.is_ascii()) {
                return Err(());
            }
            if digits > 0 && bytes[at + digits..].starts_with(self.after.as_bytes()) {
                return Ok(line[at..at + digits].parse().ok());
            }
            from += found + 1;
        }
        Ok(None)
    }
}

/// A searcher for `pattern` as a plain phrase, if it is one: not empty, and no regex syntax in it.
/// Groups, repetitions and classes a config's regex may nest: far more than a rule needs, and
/// few enough that compiling it stays shallow on any thread's stack (regex's own limit, 250, let
/// a fuzzed 180-level pattern overflow a 2 MB stack in a debug build).
const REGEX_NEST_LIMIT: u32 = 64;

/// A regex from the config, with [`REGEX_NEST_LIMIT`] and the size limit of the rules' set.
fn user_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .nest_limit(REGEX_NEST_LIMIT)
        .size_limit(crate::rules::REGEX_SIZE_LIMIT)
        .build()
}

fn plain_phrase(pattern: &str) -> Option<memchr::memmem::Finder<'static>> {
    (!pattern.is_empty() && regex::escape(pattern) == pattern)
        .then(|| memchr::memmem::Finder::new(pattern.as_bytes()).into_owned())
}

/// What the processor knows about one function from the config. Small and `Copy`: no
/// allocation per lookup; the rules' patterns are compiled once, in [`Config::rule_matcher`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FunctionSettings {
    /// The configured timeout, if any.
    pub timeout_seconds: Option<f64>,
    /// Near-timeout share.
    pub near_timeout_ratio: f64,
    /// Short-run threshold, seconds.
    pub short_run_seconds: f64,
    /// Whether the function is a chunked worker (short runs and chunk advice apply).
    pub chunked: bool,
    /// The rules that apply to this function: bit `i` is [`Config::rules`]`[i]`.
    rule_bits: u64,
}

impl FunctionSettings {
    /// The rules that apply to this function as bits: bit `i` is rule `i`.
    pub fn rule_bits(&self) -> u64 {
        self.rule_bits
    }

    /// Indexes into [`Config::rules`] of the rules that apply to this function, in config order.
    pub fn rules(&self) -> impl Iterator<Item = usize> + use<> {
        crate::rules::bits(self.rule_bits)
    }
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// CloudWatch namespace of the metrics.
    pub namespace: String,
    /// The raw exclude globs, as written.
    pub exclude_patterns: Vec<String>,
    exclude: GlobSet,
    /// Cap on a batch's decoded size, bytes.
    pub max_decoded_bytes: usize,
    /// How long counts that a later batch could still change are held back, seconds (after an
    /// invocation that has not reported: beyond its timeout).
    pub hold_seconds: f64,
    /// Whether the per-invocation value metrics ([`Metric::VALUES`]: durations, memory) are
    /// written. Off, only the counts are: each function then costs [`Metric::COUNTS`] metrics
    /// instead of both lists (`value_metrics = false`).
    pub value_metrics: bool,
    /// Whether [`Metric::COST`] (billed duration, GB-seconds) is written, per invocation that
    /// reports it (`cost_metrics = true`; off by default: two more metrics per function).
    pub cost_metrics: bool,
    /// The defaults.
    pub defaults: Defaults,
    functions: Vec<FunctionEntry>,
    /// Custom rules, in config order.
    pub rules: Vec<Rule>,
    /// Their patterns compiled together, once, shared by every function and every clone.
    matcher: Arc<RuleMatcher>,
    /// Failure alerts.
    pub notices: NoticeSettings,
    /// Chunk-size advice.
    pub advice: AdviceSettings,
    /// `[[queue]]`: which function feeds a dead-letter queue, where Lambda's configuration
    /// cannot tell (see [`crate::dlq`]).
    pub queues: Vec<QueueOverride>,
}

/// A `[[queue]]` entry: the function whose failures land in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueOverride {
    /// The queue's name (the last part of its URL or ARN).
    pub name: String,
    /// The function's name.
    pub function: String,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_toml_str("").expect("the empty config is valid")
    }
}

impl Config {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Config::from_toml_str(&text)
    }

    /// Checks TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|err| toml_error(text, &err))?;
        Config::check(raw)
    }

    fn check(raw: RawConfig) -> Result<Config, ConfigError> {
        let namespace = raw.namespace.unwrap_or_else(|| "LambdaWatchdog".to_string());
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(invalid("namespace", "must be 1 to 255 characters"));
        }
        if namespace.starts_with("AWS/") {
            return Err(invalid(
                "namespace",
                "namespaces starting with AWS/ are reserved for AWS",
            ));
        }
        if !namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c))
        {
            return Err(invalid("namespace", "may hold only letters, digits and . - _ / # :"));
        }

        let exclude = glob_set(&raw.exclude, "exclude")?;
        let max_decoded_bytes = raw.max_decoded_bytes.unwrap_or(DEFAULT_MAX_DECODED_BYTES);
        if max_decoded_bytes < 1024 {
            return Err(invalid("max_decoded_bytes", "must be at least 1024 bytes"));
        }

        let hold_seconds = raw.hold_seconds.unwrap_or(DEFAULT_HOLD_SECONDS);
        if !(0.0..=3600.0).contains(&hold_seconds) {
            return Err(invalid(
                "hold_seconds",
                format!("must be 0 to 3600 seconds, got {hold_seconds}"),
            ));
        }

        let mut defaults = Defaults::default();
        if let Some(t) = raw.defaults.timeout_seconds {
            defaults.timeout_seconds = check_timeout("defaults.timeout_seconds", t)?;
        }
        if let Some(r) = raw.defaults.near_timeout_ratio {
            defaults.near_timeout_ratio = check_ratio("defaults.near_timeout_ratio", r)?;
        }
        if let Some(s) = raw.defaults.short_run_seconds {
            defaults.short_run_seconds = check_seconds("defaults.short_run_seconds", s)?;
        }

        let mut functions = Vec::with_capacity(raw.function.len());
        for (i, f) in raw.function.into_iter().enumerate() {
            let key = |k: &str| format!("function[{i}].{k}");
            functions.push(FunctionEntry {
                matcher: glob(&f.pattern, &key("match"))?.compile_matcher(),
                timeout_seconds: f
                    .timeout_seconds
                    .map(|t| check_timeout(&key("timeout_seconds"), t))
                    .transpose()?,
                near_timeout_ratio: f
                    .near_timeout_ratio
                    .map(|r| check_ratio(&key("near_timeout_ratio"), r))
                    .transpose()?,
                short_run_seconds: f
                    .short_run_seconds
                    .map(|s| check_seconds(&key("short_run_seconds"), s))
                    .transpose()?,
                chunked: f.chunked,
            });
        }

        if raw.rule.len() > MAX_RULES {
            return Err(invalid(
                "rule",
                format!(
                    "at most {MAX_RULES} rules, got {}: each one is a metric per function and minute",
                    raw.rule.len()
                ),
            ));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rule.len());
        for (i, r) in raw.rule.into_iter().enumerate() {
            let key = |k: &str| format!("rule[{i}].{k}");
            check_metric_name(&key("metric"), &r.metric)?;
            if rules.iter().any(|other| *other.metric == *r.metric) {
                return Err(invalid(
                    key("metric"),
                    format!("`{}` is used by an earlier rule", r.metric),
                ));
            }
            let pattern = user_regex(&r.pattern).map_err(|e| invalid(key("pattern"), e.to_string()))?;
            let value = match r.value {
                Some(v) => {
                    let re = user_regex(&v).map_err(|e| invalid(key("value"), e.to_string()))?;
                    if re.captures_len() < 2 {
                        return Err(invalid(
                            key("value"),
                            "needs a capture group around the number, e.g. `chunk_size=(\\d+)`",
                        ));
                    }
                    Some(re)
                }
                None => None,
            };
            let unit = match r.unit {
                Some(u) => Unit::EMF_NAMES
                    .iter()
                    .find(|name| **name == u)
                    .copied()
                    .ok_or_else(|| {
                        invalid(
                            key("unit"),
                            format!("`{u}` is not a CloudWatch unit (Count, Milliseconds, Bytes, Percent, ...)"),
                        )
                    })?,
                None => Unit::Count.name(),
            };
            let functions = r
                .functions
                .map(|globs| glob_set(&globs, &key("functions")))
                .transpose()?;
            // A pattern without regex syntax is matched as a plain phrase.
            let literal = plain_phrase(&r.pattern);
            let value_phrase = value.as_ref().and_then(|v| ValuePhrase::of(v.as_str()));
            rules.push(Rule {
                metric: r.metric.into(),
                pattern,
                literal,
                functions,
                value,
                value_phrase,
                unit,
            });
        }

        let matcher = RuleMatcher::new(&rules).map_err(|err| match err {
            RuleSetError::TooLarge { rule, .. } => invalid(format!("rule[{rule}].pattern"), err.to_string()),
            RuleSetError::Phrases(_) => invalid("rule", err.to_string()),
        })?;

        let n = raw.notices;
        let minutes = |key: &str, v: Option<f64>, default: f64| -> Result<i64, ConfigError> {
            let v = v.unwrap_or(default);
            if !(0.0..=10_080.0).contains(&v) {
                return Err(invalid(
                    key,
                    format!("must be between 0 and 10080 minutes (a week), got {v}"),
                ));
            }
            Ok((v * 60_000.0) as i64)
        };
        let count = |key: &str, v: Option<usize>, default: usize, max: usize| -> Result<usize, ConfigError> {
            let v = v.unwrap_or(default);
            if !(1..=max).contains(&v) {
                return Err(invalid(key, format!("must be between 1 and {max}, got {v}")));
            }
            Ok(v)
        };
        let mut redact = Vec::with_capacity(n.redact.len());
        for (i, pattern) in n.redact.iter().enumerate() {
            redact.push(user_regex(pattern).map_err(|e| invalid(format!("notices.redact[{i}]"), e.to_string()))?);
        }
        let t = n.thresholds;
        let thresholds = [
            (Metric::Timeouts, t.timeouts, 1),
            (Metric::OutOfMemory, t.out_of_memory, 1),
            (Metric::TooManyConnections, t.too_many_connections, 1),
            (Metric::RateLimited, t.rate_limited, 1),
            (Metric::Errors, t.errors, 5),
        ]
        .into_iter()
        .map(|(metric, v, default)| (metric, v.unwrap_or(default).max(1)))
        .collect::<Vec<_>>();
        if let Some((metric, t)) = thresholds.iter().find(|(_, t)| *t > MAX_THRESHOLD) {
            let key = match metric {
                Metric::Timeouts => "timeouts",
                Metric::OutOfMemory => "out_of_memory",
                Metric::TooManyConnections => "too_many_connections",
                Metric::RateLimited => "rate_limited",
                _ => "errors",
            };
            return Err(invalid(
                format!("notices.thresholds.{key}"),
                format!("must be at most {MAX_THRESHOLD} occurrences, got {t}"),
            ));
        }
        let notices = NoticeSettings {
            cooldown_ms: minutes("notices.cooldown_minutes", n.cooldown_minutes, 15.0)?,
            max_per_invocation: count("notices.max_per_invocation", n.max_per_invocation, 10, 100)?,
            samples: count("notices.samples", n.samples, 3, 20)?,
            request_ids: count("notices.request_ids", n.request_ids, 10, 100)?,
            region: n.region,
            redact,
            thresholds,
        };
        let a = raw.advice;
        let advice = AdviceSettings {
            // No more than the runs a worker's advice can look back on.
            min_invocations: count(
                "advice.min_invocations",
                a.min_invocations,
                5,
                crate::notify::MAX_RUNS_PER_FUNCTION,
            )?,
            dominant_share: check_ratio("advice.dominant_share", a.dominant_share.unwrap_or(0.5))?,
            target_duration_ratio: check_ratio("advice.target_duration_ratio", a.target_duration_ratio.unwrap_or(0.5))?,
            window_ms: minutes("advice.window_minutes", a.window_minutes, 60.0)?.max(60_000),
            cooldown_ms: minutes("advice.cooldown_minutes", a.cooldown_minutes, 60.0)?,
        };

        let mut queues = raw.queue;
        for (i, q) in queues.iter_mut().enumerate() {
            q.name = q.name.trim().to_string();
            q.function = q.function.trim().to_string();
            if q.name.is_empty() || q.function.is_empty() {
                return Err(invalid(format!("queue[{i}]"), "needs both `name` and `function`"));
            }
        }
        Ok(Config {
            namespace,
            exclude_patterns: raw.exclude,
            exclude,
            max_decoded_bytes,
            hold_seconds,
            value_metrics: raw.value_metrics.unwrap_or(true),
            cost_metrics: raw.cost_metrics.unwrap_or(false),
            defaults,
            functions,
            rules,
            matcher: Arc::new(matcher),
            notices,
            advice,
            queues,
        })
    }

    /// Whether a log group is excluded by the `exclude` globs.
    pub fn is_excluded(&self, log_group: &str) -> bool {
        self.exclude.is_match(log_group)
    }

    /// The rules' patterns, compiled together when the config was loaded.
    pub fn rule_matcher(&self) -> &RuleMatcher {
        &self.matcher
    }

    /// What the config says about a function: the first matching `[[function]]` over the
    /// defaults, and the rules that apply to it. It matches the function's name against the
    /// config's globs, so callers on a hot path keep the answer per function (the processor
    /// does, per batch); nothing is compiled or allocated here.
    pub fn settings_for(&self, function: &str) -> FunctionSettings {
        let entry = self.functions.iter().find(|f| f.matcher.is_match(function));
        let rule_bits = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.functions.as_ref().is_none_or(|set| set.is_match(function)))
            .fold(0, |bits, (i, _)| bits | 1 << i);
        FunctionSettings {
            timeout_seconds: entry.and_then(|e| e.timeout_seconds),
            near_timeout_ratio: entry
                .and_then(|e| e.near_timeout_ratio)
                .unwrap_or(self.defaults.near_timeout_ratio),
            short_run_seconds: entry
                .and_then(|e| e.short_run_seconds)
                .unwrap_or(self.defaults.short_run_seconds),
            chunked: entry.is_some_and(|e| e.chunked),
            rule_bits,
        }
    }
}

/// A TOML error as line, column and the reader's message, without the excerpt of the text that
/// its `Display` adds (and its `Debug`, the whole text with byte spans).
fn toml_error(text: &str, err: &toml::de::Error) -> ConfigError {
    let at = err.span().map_or(0, |span| span.start).min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    ConfigError::Toml {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
        message: err.message().trim().replace('\n', " "),
    }
}

/// Where [`load`] found the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file: the one given, or the fallback.
    File(std::path::PathBuf),
    /// The text of `WATCHDOG_CONFIG`.
    Env,
    /// None: the defaults.
    Defaults,
}

/// The one way the Lambda function and the CLI load their config: the `file` given, else the
/// text of `WATCHDOG_CONFIG` when set and not blank, else `fallback` when that file exists (the
/// CLI's `./watchdog.toml`; Lambda has none), else the defaults. Then `WATCHDOG_NAMESPACE`, when
/// set and not blank, overrides `namespace` (the template passes its `MetricNamespace`, so the
/// metrics land where its alarms and dashboard look even when the TOML says otherwise).
pub fn load(file: Option<&Path>, fallback: Option<&Path>) -> Result<(Config, Source), ConfigError> {
    let text = std::env::var("WATCHDOG_CONFIG").ok();
    let namespace = std::env::var("WATCHDOG_NAMESPACE").ok();
    load_from(file, fallback, text.as_deref(), namespace.as_deref())
}

/// [`load`] with the variables' values given (`None`: not set).
pub fn load_from(
    file: Option<&Path>,
    fallback: Option<&Path>,
    config_text: Option<&str>,
    namespace: Option<&str>,
) -> Result<(Config, Source), ConfigError> {
    let config_text = config_text.filter(|t| !t.trim().is_empty());
    let (mut config, source) = match (file, config_text, fallback.filter(|f| f.is_file())) {
        (Some(file), _, _) => (Config::load(file)?, Source::File(file.to_path_buf())),
        (None, Some(text), _) => (Config::from_toml_str(text)?, Source::Env),
        (None, None, Some(file)) => (Config::load(file)?, Source::File(file.to_path_buf())),
        (None, None, None) => (Config::default(), Source::Defaults),
    };
    if let Some(namespace) = namespace.filter(|n| !n.trim().is_empty()) {
        // Checked by the config itself, so the variable obeys exactly the rules of the key.
        // A JSON string is a valid TOML basic string.
        let toml = format!("namespace = {}", serde_json::Value::String(namespace.to_string()));
        let checked = Config::from_toml_str(&toml).map_err(|err| match err {
            ConfigError::Invalid { reason, .. } => ConfigError::Invalid {
                key: "WATCHDOG_NAMESPACE".into(),
                reason,
            },
            other => other,
        })?;
        config.namespace = checked.namespace;
    }
    Ok((config, source))
}

fn glob(pattern: &str, key: &str) -> Result<Glob, ConfigError> {
    Glob::new(pattern).map_err(|e| invalid(key, e.to_string()))
}

fn glob_set(patterns: &[String], key: &str) -> Result<GlobSet, ConfigError> {
    let mut builder = GlobSetBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        builder.add(glob(p, &format!("{key}[{i}]"))?);
    }
    builder.build().map_err(|e| invalid(key, e.to_string()))
}

fn check_timeout(key: &str, t: f64) -> Result<f64, ConfigError> {
    // Lambda's own limit is 900 s; a larger value is a typo (milliseconds?).
    if !(t > 0.0 && t <= 900.0) {
        return Err(invalid(
            key,
            format!("must be more than 0 and at most 900 seconds (Lambda's limit), got {t}"),
        ));
    }
    Ok(t)
}

fn check_ratio(key: &str, r: f64) -> Result<f64, ConfigError> {
    if !(r > 0.0 && r <= 1.0) {
        return Err(invalid(key, format!("must be more than 0 and at most 1, got {r}")));
    }
    Ok(r)
}

fn check_seconds(key: &str, s: f64) -> Result<f64, ConfigError> {
    if !(0.0..=900.0).contains(&s) {
        return Err(invalid(key, format!("must be between 0 and 900 seconds, got {s}")));
    }
    Ok(s)
}

fn check_metric_name(key: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 255 || !name.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            key,
            "must be 1 to 255 printable ASCII characters without spaces",
        ));
    }
    let builtin = Metric::COUNTS
        .iter()
        .chain(Metric::VALUES.iter())
        .chain(Metric::COST.iter())
        .any(|m| m.name() == name)
        || ProcessorMetric::ALL.iter().any(|m| m.name() == name);
    if builtin || name == "FunctionName" || name == "Processor" {
        return Err(invalid(key, format!("`{name}` is a built-in name")));
    }
    Ok(())
}

#[cfg(test)]
mod load_tests {
    use super::*;

    const SAMPLE: &str = "namespace = \"FromToml\"\n[defaults]\ntimeout_seconds = 60";

    #[test]
    fn a_regex_nested_deeper_than_any_rule_needs_is_refused_naming_its_key() {
        let nested = |depth: usize| format!("{}x{}", "(".repeat(depth), ")".repeat(depth));
        let rule = |pattern: &str| format!("[[rule]]\nmetric = \"Deep\"\npattern = '{pattern}'\n");
        assert!(Config::from_toml_str(&rule(&nested(20))).is_ok());
        let err = Config::from_toml_str(&rule(&nested(180))).unwrap_err().to_string();
        assert!(err.contains("rule[0].pattern") || err.contains("pattern"), "{err}");
        assert!(err.contains("nest"), "{err}");
        let redact = format!("[notices]\nredact = ['{}']\n", nested(180));
        let err = Config::from_toml_str(&redact).unwrap_err().to_string();
        assert!(err.contains("notices.redact[0]"), "{err}");
    }

    #[test]
    fn advice_cannot_ask_for_more_runs_than_a_worker_keeps() {
        let max = crate::notify::MAX_RUNS_PER_FUNCTION;
        let ok = Config::from_toml_str(&format!("[advice]\nmin_invocations = {max}")).unwrap();
        assert_eq!(ok.advice.min_invocations, max);
        let err = Config::from_toml_str(&format!("[advice]\nmin_invocations = {}", max + 1)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("advice.min_invocations") && text.contains(&format!("between 1 and {max}")),
            "{text}"
        );
    }

    #[test]
    fn watchdog_namespace_overrides_the_configs_namespace_and_keeps_the_rest() {
        let config = load_from(None, None, Some(SAMPLE), Some("Team/Watchdog")).unwrap().0;
        assert_eq!(config.namespace, "Team/Watchdog");
        assert_eq!(config.defaults.timeout_seconds, 60.0);
        let config = load_from(None, None, None, Some("Team/Watchdog")).unwrap().0;
        assert_eq!(config.namespace, "Team/Watchdog");
    }

    #[test]
    fn an_unset_or_blank_watchdog_namespace_leaves_the_configs_namespace() {
        for blank in [None, Some(""), Some("  ")] {
            assert_eq!(
                load_from(None, None, Some(SAMPLE), blank).unwrap().0.namespace,
                "FromToml"
            );
        }
        assert_eq!(
            load_from(None, None, Some(" "), None).unwrap().0.namespace,
            "LambdaWatchdog"
        );
    }

    #[test]
    fn the_config_comes_from_the_file_given_else_the_variable_else_the_fallback_file_else_defaults() {
        let sample = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/watchdog.toml"));
        let missing = Path::new("no/such/fallback.toml");
        let cases = [
            (
                "a file given wins",
                Some(sample),
                Some(SAMPLE),
                None,
                Source::File(sample.into()),
                "LambdaWatchdog",
            ),
            (
                "then the variable",
                None,
                Some(SAMPLE),
                Some(sample),
                Source::Env,
                "FromToml",
            ),
            (
                "then the fallback file",
                None,
                Some("  "),
                Some(sample),
                Source::File(sample.into()),
                "LambdaWatchdog",
            ),
            (
                "a missing fallback: defaults",
                None,
                None,
                Some(missing),
                Source::Defaults,
                "LambdaWatchdog",
            ),
        ];
        for (name, file, text, fallback, source, namespace) in cases {
            let (config, from) = load_from(file, fallback, text, None).unwrap();
            assert_eq!(from, source, "{name}");
            assert_eq!(config.namespace, namespace, "{name}");
        }
        let (config, _) = load_from(Some(sample), None, None, Some("Team/Watchdog")).unwrap();
        assert_eq!(
            config.namespace, "Team/Watchdog",
            "the namespace variable applies to files too"
        );
    }

    #[test]
    fn a_bad_watchdog_namespace_fails_the_cold_start_naming_the_variable() {
        for bad in ["AWS/Lambda", "has space", "quote\"d", &"x".repeat(256)] {
            let err = load_from(None, None, Some(SAMPLE), Some(bad)).unwrap_err().to_string();
            assert!(err.contains("`WATCHDOG_NAMESPACE` is not valid"), "{bad}: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_config_gives_the_documented_defaults() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config.namespace, "LambdaWatchdog");
        assert_eq!(
            config.defaults,
            Defaults {
                timeout_seconds: 300.0,
                near_timeout_ratio: 0.8,
                short_run_seconds: 60.0
            }
        );
        assert_eq!(config.max_decoded_bytes, 32 << 20);
        assert!(
            config.value_metrics,
            "durations and memory are written unless turned off"
        );
        assert!(
            !config.cost_metrics,
            "billed duration and GB-seconds only when asked for"
        );
        let s = config.settings_for("anything");
        assert_eq!(s.timeout_seconds, None);
        assert!(!s.chunked);
        assert_eq!(s.rule_bits(), 0);
    }

    #[test]
    fn the_shipped_sample_config_is_valid() {
        let text = include_str!("../watchdog.toml");
        let config = Config::from_toml_str(text).unwrap();
        assert!(config.is_excluded("/aws/lambda/lambda-watchdog"));
        assert!(!config.is_excluded("/aws/lambda/uploader"));
        let scraper = config.settings_for("scraper-worker");
        assert_eq!(scraper.timeout_seconds, Some(300.0));
        assert!(scraper.chunked);
        assert_eq!(scraper.rules().count(), 2);
        assert_eq!(config.settings_for("uploader").rules().count(), 1);
    }

    #[test]
    fn the_config_shown_in_the_readme_is_valid() {
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Configuration").expect("a Configuration section")..];
        let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let block = &section[start..start + section[start..].find("```").expect("the block ends")];
        let config = Config::from_toml_str(block).unwrap_or_else(|e| panic!("README config: {e}"));
        assert_eq!(config.notices.cooldown_ms, 15 * 60_000);
        assert_eq!(config.advice.target_duration_ratio, 0.5);
        assert!(config.settings_for("scraper-1").chunked);
        assert_eq!(config.queues[0].function, "scraper-worker");
    }

    #[test]
    fn queue_entries_need_a_name_and_a_function() {
        let cases = [
            ("both given", "[[queue]]\nname = \"a-dlq\"\nfunction = \"a\"\n", Ok(1)),
            ("none", "", Ok(0)),
            (
                "an empty function",
                "[[queue]]\nname = \"a-dlq\"\nfunction = \" \"\n",
                Err("queue[0]"),
            ),
            ("no function", "[[queue]]\nname = \"a-dlq\"\n", Err("function")),
            (
                "an unknown key",
                "[[queue]]\nname = \"a\"\nfunction = \"a\"\nurl = \"x\"\n",
                Err("url"),
            ),
        ];
        for (name, text, expected) in cases {
            match (Config::from_toml_str(text), expected) {
                (Ok(config), Ok(n)) => assert_eq!(config.queues.len(), n, "{name}"),
                (Err(err), Err(key)) => assert!(err.to_string().contains(key), "{name}: {err}"),
                (got, _) => panic!("{name}: {:?}", got.map(|c| c.queues)),
            }
        }
    }

    #[test]
    fn the_first_matching_function_entry_wins() {
        let config = Config::from_toml_str(
            r#"
            [[function]]
            match = "scraper-worker"
            timeout_seconds = 120
            [[function]]
            match = "scraper-*"
            timeout_seconds = 300
            chunked = true
            "#,
        )
        .unwrap();
        assert_eq!(config.settings_for("scraper-worker").timeout_seconds, Some(120.0));
        assert!(!config.settings_for("scraper-worker").chunked);
        assert_eq!(config.settings_for("scraper-pages").timeout_seconds, Some(300.0));
        assert_eq!(config.settings_for("uploader").timeout_seconds, None);
    }

    #[test]
    fn bad_configs_are_refused_with_the_key_named() {
        let too_many_rules: String = (0..=MAX_RULES)
            .map(|i| format!("[[rule]]\nmetric = \"R{i}\"\npattern = \"r{i}\"\n"))
            .collect();
        let cases = [
            ("namespce = \"x\"", "namespce"),
            ("[defaults]\nnear_timeout_ratio = 1.5", "defaults.near_timeout_ratio"),
            ("[defaults]\ntimeout_seconds = 300000", "defaults.timeout_seconds"),
            ("[[function]]\nmatch = \"a[\"", "function[0].match"),
            ("[[function]]\nmatch = \"a\"\ntimeout = 3", "timeout"),
            ("[[rule]]\nmetric = \"X\"\npattern = \"(unclosed\"", "rule[0].pattern"),
            (
                "[[rule]]\nmetric = \"X\"\npattern = \"a\"\nvalue = \"\\\\d+\"",
                "rule[0].value",
            ),
            ("[[rule]]\nmetric = \"Timeouts\"\npattern = \"a\"", "rule[0].metric"),
            (
                "[[rule]]\nmetric = \"X\"\npattern = \"a\"\nunit = \"Parsecs\"",
                "rule[0].unit",
            ),
            (
                "[[rule]]\nmetric = \"X\"\npattern = \"a\"\n[[rule]]\nmetric = \"X\"\npattern = \"b\"",
                "rule[1].metric",
            ),
            (too_many_rules.as_str(), "at most 64 rules, got 65"),
            ("exclude = [\"{a\"]", "exclude[0]"),
            ("namespace = \"AWS/Lambda\"", "namespace"),
            ("max_decoded_bytes = 10", "max_decoded_bytes"),
            ("[notices]\nredact = [\"(\"]", "notices.redact[0]"),
            ("[notices]\ncooldown_minute = 5", "cooldown_minute"),
            ("[advice]\ntarget_duration_ratio = 0", "advice.target_duration_ratio"),
            ("[notices.thresholds]\ntimeout = 3", "timeout"),
            ("[notices.thresholds]\nerrors = 101", "notices.thresholds.errors"),
        ];
        for (text, key) in cases {
            let err = Config::from_toml_str(text).unwrap_err().to_string();
            assert!(
                err.contains(key),
                "config {text:?} gave {err:?}, which does not name {key}"
            );
        }
    }

    #[test]
    fn a_value_rule_reads_the_captured_number() {
        let config = Config::from_toml_str(
            "[[rule]]\nmetric = \"ChunkSize\"\npattern = \"chunk_size=\"\nvalue = \"chunk_size=(\\\\d+)\"",
        )
        .unwrap();
        let rule = &config.rules[0];
        let mut slots = rule.value.as_ref().unwrap().capture_locations();
        assert_eq!(rule.value_with("processed chunk_size=50 items", &mut slots), Some(50.0));
        assert_eq!(rule.value_with("no number here", &mut slots), None);
        // The first phrase that a digit follows, as the regex finds it.
        assert_eq!(rule.value_with("chunk_size=chunk_size=0", &mut slots), Some(0.0));
        assert_eq!(rule.value_with("chunk_size=x, chunk_size=7", &mut slots), Some(7.0));
        assert!(
            rule.value_phrase.is_some(),
            "`PHRASE(\\d+)` is read without the regex engine"
        );
        for (value, by_hand) in [
            (r"with (\d+) items", true),
            (r"(\d+) items", false),
            (r"with (\d+)0", false),
            (r"(?i)with (\d+)", false),
            (r"with (\d+) item(s)", false),
        ] {
            assert_eq!(ValuePhrase::of(value).is_some(), by_hand, "{value}");
        }
    }

    #[test]
    fn regex_rules_too_large_to_compile_together_are_refused_naming_the_rule_that_tips_them_over() {
        // Each compiles alone; four of them exceed the regex engine's 10 MiB limit together.
        let text: String = (0..4)
            .map(|i| format!("[[rule]]\nmetric = \"R{i}\"\npattern = '(?i)\\w{{60}}deadlock{i}'\n"))
            .collect();
        let err = Config::from_toml_str(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("the config key `rule[3].pattern` is not valid"),
            "{err}"
        );
        assert!(err.contains("too large to compile together"), "{err}");
        let three: String = text.split("[[rule]]").take(4).collect::<Vec<_>>().join("[[rule]]");
        assert_eq!(Config::from_toml_str(&three).unwrap().rules.len(), 3);
    }

    #[test]
    fn toml_errors_give_line_and_column_and_a_short_message_once() {
        let cases = [
            (
                "unknown key on line 3",
                "namespace = \"X\"\n\n[defaults]\ntimout_seconds = 3",
                4,
                1,
                "unknown field `timout_seconds`",
            ),
            ("unclosed string", "namespace = \"X", 1, 15, "string"),
            ("wrong type", "[notices]\nsamples = \"three\"", 2, 11, "invalid type"),
        ];
        for (name, text, line, column, words) in cases {
            let err = Config::from_toml_str(text).unwrap_err();
            let shown = err.to_string();
            assert!(
                shown.starts_with(&format!(
                    "the config is not valid TOML at line {line}, column {column}: "
                )),
                "{name}: {shown}"
            );
            assert!(shown.contains(words), "{name}: {shown}");
            assert!(
                !shown.contains('\n') && !shown.contains("^^^"),
                "{name}: one line, no excerpt: {shown}"
            );
            assert!(
                std::error::Error::source(&err).is_none(),
                "{name}: the cause is in the message only"
            );
        }
    }

    #[test]
    fn an_unreadable_config_file_names_the_file_and_says_why_once() {
        let err = Config::load(Path::new("no/such/watchdog.toml")).unwrap_err();
        let shown = format!("{:#}", anyhow::Error::from(err));
        assert!(
            shown.starts_with("could not read the config file no/such/watchdog.toml: "),
            "{shown}"
        );
        assert_eq!(shown.matches("No such file").count(), 1, "{shown}");
    }

    /// Value patterns of the hand-read shape that a reader by hand could get wrong: a phrase
    /// that overlaps itself, words that hold the phrase or begin it, words and phrases outside
    /// ASCII or made of a digit; and patterns that only look like the shape.
    const VALUE_SHAPES: &[(&str, bool)] = &[
        (r"aa(\d+)a", true),
        (r"x=(\d+)x=", true),
        (r"=(\d+)", true),
        (r"1(\d+)x", true),
        (r"a1(\d+) ", true),
        (r"\u{e9}(\d+)\u{e9}", false),
        ("\u{e9}(\\d+)\u{e9}", true),
        ("\u{663}(\\d+)", true),
        ("x=(\\d+)\u{663}", true),
        ("=(\\d+)\n", true),
        (r"a(\d+)b(\d+)", false),
        (r"(?x)a (\d+)", false),
        (r"a\.(\d+)", false),
        (r"a(\d+)(?:b)", false),
        (r"a(\d+)\b", false),
        (r"a(\d+)1", false),
        (r"a(\d*)", false),
    ];

    #[test]
    fn value_patterns_of_the_plain_shape_are_read_by_hand_and_no_others() {
        for &(value, by_hand) in VALUE_SHAPES {
            assert_eq!(ValuePhrase::of(value).is_some(), by_hand, "{value:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_value_read_by_hand_is_the_number_the_regex_captures(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec!["a", "aa", "1", "x", "=", "x=", " ", "\n", "\u{e9}", "\u{663}", "7", "42", "b"]),
                0..12,
            ),
            shape in 0..VALUE_SHAPES.len(),
        ) {
            let line: String = pieces.concat();
            let (value, _) = VALUE_SHAPES[shape];
            let regex = regex::Regex::new(value).unwrap();
            let by_regex = regex
                .captures(&line)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<f64>().ok());
            if let Some(phrase) = ValuePhrase::of(value)
                && let Ok(by_hand) = phrase.number_in(&line)
            {
                proptest::prop_assert_eq!(by_hand, by_regex, "{:?} in {:?}", value, line);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn a_phrase_value_is_read_as_the_regex_would_capture_it(
            line in "(chunk_size=|chunk_|=|with |[0-9]{1,3}| items| item|٣|x| ){0,8}",
            value in proptest::sample::select(vec![
                r"chunk_size=(\\d+)",
                r"with (\\d+) items",
                r"with (\\d+)",
                r"=(\\d+) ",
                r"with (\\d+)1",
            ]),
        ) {
            let config = Config::from_toml_str(&format!(
                "[[rule]]\nmetric = \"Value\"\npattern = \"chunk\"\nvalue = \"{value}\"",
            ))
            .unwrap();
            let rule = &config.rules[0];
            let value = rule.value.as_ref().unwrap();
            let mut slots = value.capture_locations();
            let by_regex = value
                .captures(&line)
                .and_then(|c| c[1].parse::<f64>().ok());
            proptest::prop_assert_eq!(rule.value_with(&line, &mut slots), by_regex);
        }
    }
}
