//! The metric filters of `lambda-watchdog metric-filters`, evaluated on the sample events: a
//! team that uses them instead of the processor must see every class the processor counts for a
//! function, and nothing where it counts nothing, in either log format.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{expected_counts, sample_config, sample_lines};
use lambda_watchdog::metric_filters::{Format, plan};
use lambda_watchdog::processor::function_name;

/// Lines each (log group, metric, format) filter matches in the samples.
type Matches = BTreeMap<(String, String, Format), usize>;

fn filter_matches() -> (Matches, BTreeSet<String>) {
    let config = sample_config();
    let lines = sample_lines();
    let groups: Vec<String> = lines
        .iter()
        .map(|(g, _)| g.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let plan = plan(&config, &groups).unwrap();
    let mut matches = Matches::new();
    for f in &plan.filters {
        let n = lines
            .iter()
            .filter(|(g, line)| *g == f.log_group && f.pattern.matches(line))
            .count();
        *matches
            .entry((f.log_group.clone(), f.metric.clone(), f.format))
            .or_default() += n;
    }
    let json_groups = lines
        .iter()
        .filter(|(_, line)| line.starts_with(r#"{"time""#) && line.contains(r#""type":"platform."#))
        .map(|(g, _)| g.clone())
        .collect();
    (matches, json_groups)
}

#[test]
fn filters_see_each_class_exactly_where_the_processor_counts_it() {
    let (matches, _) = filter_matches();
    let expected = expected_counts();
    let mut checked = 0;
    for (function, metrics) in expected.iter().filter(|(f, _)| !f.starts_with('_')) {
        for (metric, want) in metrics {
            let found: Vec<usize> = matches
                .iter()
                .filter(|((g, m, _), _)| function_name(g) == function && m == metric)
                .map(|(_, n)| *n)
                .collect();
            if found.is_empty() {
                continue; // no filter for this metric (NearTimeout, ...) or this function (a scoped rule)
            }
            let lines: usize = found.iter().sum();
            assert_eq!(
                lines > 0,
                *want > 0,
                "{function} {metric}: the processor counts {want}, the filters match {lines} lines"
            );
            checked += 1;
        }
    }
    // 11 functions with a log group of their own x 6 built-in classes, plus the scraper-only
    // rule. (The two functions sharing `/shared/lambda` have no filters of their own: a filter
    // reads no stream name.)
    assert_eq!(checked, 67);
}

#[test]
fn a_log_group_never_counts_one_line_in_both_its_text_and_json_filters() {
    let (matches, json_groups) = filter_matches();
    assert_eq!(
        json_groups,
        [
            "/aws/lambda/catalog",
            "/aws/lambda/report-builder",
            "/aws/lambda/uploader"
        ]
        .map(String::from)
        .into(),
        "the samples' JSON-format groups"
    );
    for ((group, metric, format), n) in &matches {
        // A text-format group may hold JSON application lines (a Rust function's tracing JSON in
        // `/shared/lambda`): its Json filters count those, which its Text filters do not.
        let other_format = match format {
            Format::Text => json_groups.contains(group),
            Format::Json => false,
            Format::Any => continue,
        };
        if other_format {
            assert_eq!(
                *n, 0,
                "{group} {metric} {format:?} filter matches lines of the other format"
            );
        }
    }
    // Whatever the group's format, no line is counted by both a Text and a Json filter.
    let config = sample_config();
    let lines = sample_lines();
    let groups: Vec<String> = json_groups
        .iter()
        .cloned()
        .chain(lines.iter().map(|(g, _)| g.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let plan = plan(&config, &groups).unwrap();
    for (group, line) in &lines {
        for text in plan
            .filters
            .iter()
            .filter(|f| f.format == Format::Text && &f.log_group == group)
        {
            let twice = plan.filters.iter().any(|json| {
                json.format == Format::Json
                    && json.log_group == *group
                    && json.metric == text.metric
                    && text.pattern.matches(line)
                    && json.pattern.matches(line)
            });
            assert!(!twice, "{group} {}: {line} is counted by both formats", text.metric);
        }
    }
}
