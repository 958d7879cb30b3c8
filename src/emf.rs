//! Stage 5: Embedded Metric Format documents, one JSON object per line on stdout, within the
//! limits CloudWatch enforces silently (violations are dropped, only `EMFValidationErrors` tells):
//! at most 100 metrics per directive, 100 values per metric, under 1 MB per document.
//!
//! See <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use serde_json::Value;

/// Most metric definitions one directive may hold.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
/// Most values one metric's array may hold.
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// Largest document CloudWatch accepts, bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Oldest timestamp CloudWatch accepts, relative to now (14 days).
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Furthest future timestamp CloudWatch accepts, relative to now (2 hours).
pub const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;

/// A metric and its value(s) for one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    /// Metric name.
    pub name: &'a str,
    /// EMF unit name.
    pub unit: &'a str,
    /// The value.
    pub value: EntryValue<'a>,
}

/// A single count or a list of values (one per invocation).
#[derive(Debug, Clone, PartialEq)]
pub enum EntryValue<'a> {
    /// One number.
    Count(i64),
    /// Many values; split over documents 100 at a time.
    Values(&'a [f64]),
}

/// Where and how the metrics are filed.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// CloudWatch namespace.
    pub namespace: &'a str,
    /// Epoch ms the values belong to (the logs' own minute).
    pub timestamp_ms: i64,
    /// Dimension keys and values written at the root.
    pub dimensions: &'a [(&'a str, &'a str)],
    /// Dimension sets, each a list of keys (an empty set aggregates over everything).
    pub dimension_sets: &'a [&'a [&'a str]],
}

/// Renders entries as as many documents as the limits require; nothing is dropped. Counts go in
/// the first document only, so that a sum over documents stays right.
pub fn render(target: Target<'_>, entries: &[Entry<'_>]) -> Vec<String> {
    let rounds = entries
        .iter()
        .map(|e| match e.value {
            EntryValue::Count(_) => 1,
            EntryValue::Values(v) => v.len().div_ceil(MAX_VALUES_PER_METRIC).max(1),
        })
        .max()
        .unwrap_or(0);
    let mut documents = Vec::new();
    for round in 0..rounds {
        let in_round: Vec<(&Entry<'_>, EntryValue<'_>)> = entries
            .iter()
            .filter_map(|e| match e.value {
                EntryValue::Count(n) if round == 0 => Some((e, EntryValue::Count(n))),
                EntryValue::Count(_) => None,
                EntryValue::Values(values) => {
                    let chunk = values.chunks(MAX_VALUES_PER_METRIC).nth(round)?;
                    Some((e, EntryValue::Values(chunk)))
                }
            })
            .collect();
        for group in in_round.chunks(MAX_METRICS_PER_DIRECTIVE) {
            documents.push(document(target, group));
        }
    }
    documents
}

/// Writes one document straight to JSON text (strings and numbers through serde_json, so
/// escaping and float formatting are serde_json's). Metric names never clash with dimension
/// keys: the config refuses rule metrics named like a built-in name.
fn document(target: Target<'_>, group: &[(&Entry<'_>, EntryValue<'_>)]) -> String {
    fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
        serde_json::to_writer(&mut *out, value).expect("strings and numbers serialize");
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
    json(&mut out, &target.timestamp_ms);
    out.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
    json(&mut out, target.namespace);
    out.extend_from_slice(b",\"Dimensions\":");
    json(&mut out, target.dimension_sets);
    out.extend_from_slice(b",\"Metrics\":[");
    for (i, (e, _)) in group.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Name\":");
        json(&mut out, e.name);
        out.extend_from_slice(b",\"Unit\":");
        json(&mut out, e.unit);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}]}");
    let members = target
        .dimensions
        .iter()
        .map(|(key, value)| (*key, Ok(*value)))
        .chain(group.iter().map(|(e, value)| (e.name, Err(value))));
    for (name, value) in members {
        out.push(b',');
        json(&mut out, name);
        out.push(b':');
        match value {
            Ok(text) => json(&mut out, text),
            Err(EntryValue::Count(n)) => json(&mut out, n),
            Err(EntryValue::Values(values)) => json(&mut out, values),
        }
    }
    out.push(b'}');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Checks one document against the EMF specification's limits and shape. Returns what is wrong.
/// The tests run every document the processor writes through it.
pub fn check_document(line: &str) -> Result<(), String> {
    if line.len() >= MAX_DOCUMENT_BYTES {
        return Err(format!("document is {} bytes, the limit is 1 MB", line.len()));
    }
    if line.contains('\n') {
        return Err("document spans several lines".into());
    }
    let doc: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let aws = doc.get("_aws").ok_or("no _aws member")?;
    aws.get("Timestamp")
        .and_then(Value::as_i64)
        .ok_or("no integer _aws.Timestamp")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("no CloudWatchMetrics array")?;
    for d in directives {
        d.get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("no Namespace")?;
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("no Dimensions array")?;
        for set in sets {
            let keys = set.as_array().ok_or("a dimension set is not an array")?;
            if keys.len() > 30 {
                return Err("more than 30 keys in a dimension set".into());
            }
            for key in keys {
                let key = key.as_str().ok_or("a dimension key is not a string")?;
                match doc.get(key).and_then(Value::as_str) {
                    Some(v) if !v.is_empty() => {}
                    _ => return Err(format!("dimension {key} has no non-empty string value at the root")),
                }
            }
        }
        let metrics = d.get("Metrics").and_then(Value::as_array).ok_or("no Metrics array")?;
        if metrics.len() > MAX_METRICS_PER_DIRECTIVE {
            return Err(format!("{} metrics in one directive", metrics.len()));
        }
        for m in metrics {
            let name = m.get("Name").and_then(Value::as_str).ok_or("a metric without a Name")?;
            if let Some(unit) = m.get("Unit").and_then(Value::as_str)
                && !crate::metrics::Unit::EMF_NAMES.contains(&unit)
            {
                return Err(format!("metric {name} has the unknown unit {unit}"));
            }
            match doc.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) => {
                    if values.is_empty() || values.len() > MAX_VALUES_PER_METRIC {
                        return Err(format!("metric {name} has {} values", values.len()));
                    }
                    if !values.iter().all(Value::is_number) {
                        return Err(format!("metric {name} has a value that is not a number"));
                    }
                }
                _ => return Err(format!("metric {name} has no numeric value at the root")),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target<'a>(dims: &'a [(&'a str, &'a str)], sets: &'a [&'a [&'a str]]) -> Target<'a> {
        Target {
            namespace: "LambdaWatchdog",
            timestamp_ms: 1_795_946_400_000,
            dimensions: dims,
            dimension_sets: sets,
        }
    }

    #[test]
    fn a_small_set_of_metrics_fits_one_document() {
        let durations = [1.5, 2.5];
        let entries = [
            Entry {
                name: "Invocations",
                unit: "Count",
                value: EntryValue::Count(2),
            },
            Entry {
                name: "Duration",
                unit: "Milliseconds",
                value: EntryValue::Values(&durations),
            },
        ];
        let docs = render(
            target(&[("FunctionName", "uploader")], &[&["FunctionName"], &[]]),
            &entries,
        );
        assert_eq!(docs.len(), 1);
        check_document(&docs[0]).unwrap();
        let doc: Value = serde_json::from_str(&docs[0]).unwrap();
        assert_eq!(doc["FunctionName"], "uploader");
        assert_eq!(doc["Invocations"], 2);
        assert_eq!(doc["Duration"], json!([1.5, 2.5]));
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"], []])
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_946_400_000i64);
    }

    #[test]
    fn names_and_values_are_escaped() {
        let entries = [Entry {
            name: "Say \"hi\"",
            unit: "Count",
            value: EntryValue::Count(1),
        }];
        let docs = render(
            target(&[("FunctionName", "up\\loader")], &[&["FunctionName"]]),
            &entries,
        );
        check_document(&docs[0]).unwrap();
        let doc: Value = serde_json::from_str(&docs[0]).unwrap();
        assert_eq!(doc["Say \"hi\""], 1);
        assert_eq!(doc["FunctionName"], "up\\loader");
    }

    #[test]
    fn more_than_a_hundred_values_spill_into_further_documents_without_loss() {
        let durations: Vec<f64> = (0..250).map(f64::from).collect();
        let entries = [
            Entry {
                name: "Invocations",
                unit: "Count",
                value: EntryValue::Count(250),
            },
            Entry {
                name: "Duration",
                unit: "Milliseconds",
                value: EntryValue::Values(&durations),
            },
        ];
        let docs = render(target(&[("FunctionName", "f")], &[&["FunctionName"]]), &entries);
        assert_eq!(docs.len(), 3);
        let mut seen = Vec::new();
        let mut invocations = 0;
        for d in &docs {
            check_document(d).unwrap();
            let doc: Value = serde_json::from_str(d).unwrap();
            invocations += doc.get("Invocations").and_then(Value::as_u64).unwrap_or(0);
            seen.extend(doc["Duration"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()));
        }
        assert_eq!(invocations, 250, "the count is written once");
        assert_eq!(seen, durations);
    }

    #[test]
    fn more_than_a_hundred_metrics_split_into_several_directives_documents() {
        let names: Vec<String> = (0..230).map(|i| format!("Rule{i}")).collect();
        let entries: Vec<Entry<'_>> = names
            .iter()
            .map(|n| Entry {
                name: n,
                unit: "Count",
                value: EntryValue::Count(1),
            })
            .collect();
        let docs = render(target(&[], &[&[]]), &entries);
        assert_eq!(docs.len(), 3);
        let total: usize = docs
            .iter()
            .map(|d| {
                check_document(d).unwrap();
                serde_json::from_str::<Value>(d).unwrap()["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(total, 230);
    }

    #[test]
    fn the_checker_catches_each_kind_of_violation() {
        let cases = [
            (r#"{"x":1}"#, "_aws"),
            (
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["F"]],"Metrics":[{"Name":"A","Unit":"Count"}]}]},"A":1}"#,
                "dimension F",
            ),
            (
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"A","Unit":"Parsecs"}]}]},"A":1}"#,
                "unit",
            ),
            (
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"A"}]}]}}"#,
                "no numeric value",
            ),
            (
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["F"]],"Metrics":[]}]},"F":""}"#,
                "dimension F",
            ),
        ];
        for (doc, problem) in cases {
            let err = check_document(doc).unwrap_err();
            assert!(err.contains(problem), "{doc}: {err}");
        }
    }
}
