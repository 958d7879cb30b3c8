//! The recorded `GetMetricData` answers in `tests/data/report/`, turned into what the report's
//! stages take, for the unit tests of [`super::build`], [`super::chart`] and [`super::fetch`].

use std::collections::HashMap;

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{MetricDataResult, StatusCode};
use serde_json::Value;

use super::fetch::{Fetched, Problems};
use super::{Plan, Window, parse_time};
use crate::Config;

/// Two hours of four functions, in two pages.
pub const RECORDING: &str = include_str!("../../tests/data/report/get-metric-data.json");

/// The config the recording is read with: scraper-* and uploader have timeouts in the config,
/// orch-user takes the default.
pub const CONFIG: &str = r#"
[defaults]
timeout_seconds = 300

[[function]]
match = "scraper-*"
timeout_seconds = 300
chunked = true

[[function]]
match = "uploader"
timeout_seconds = 10
"#;

/// The functions in the recording; quiet-fn has no datapoints.
pub const FUNCTIONS: [&str; 4] = ["orch-user", "quiet-fn", "scraper-worker", "uploader"];

fn recording() -> Value {
    serde_json::from_str(RECORDING).expect("the recording is JSON")
}

/// The recording's window, read an hour after it ended.
pub fn window() -> Window {
    let doc = recording();
    let start = parse_time(doc["StartTime"].as_str().unwrap()).unwrap();
    let end = parse_time(doc["EndTime"].as_str().unwrap()).unwrap();
    Window::new(start, end, end + 3600).unwrap()
}

/// The config above.
pub fn config() -> Config {
    Config::from_toml_str(CONFIG).unwrap()
}

/// The plan for the recorded functions and window.
pub fn plan(chart: bool) -> Plan {
    Plan::new(
        "LambdaWatchdog",
        window(),
        FUNCTIONS.iter().map(|f| f.to_string()).collect(),
        chart,
    )
}

/// The recorded pages as SDK outputs for `plan`: results matched to its queries by label and
/// given its query ids; results for series the plan does not ask for are left out.
pub fn pages(plan: &Plan) -> Vec<GetMetricDataOutput> {
    let by_label: HashMap<String, usize> = (0..plan.series.len()).map(|i| (plan.label(i), i)).collect();
    recording()["Pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|page| {
            let results = page["MetricDataResults"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| {
                    let index = by_label.get(r["Label"].as_str()?)?;
                    let times = r["Timestamps"]
                        .as_array()?
                        .iter()
                        .map(|t| DateTime::from_secs(parse_time(t.as_str().unwrap()).unwrap()));
                    let values = r["Values"].as_array()?.iter().map(|v| v.as_f64().unwrap());
                    Some(
                        MetricDataResult::builder()
                            .id(Plan::id(*index))
                            .label(r["Label"].as_str()?)
                            .set_timestamps(Some(times.collect()))
                            .set_values(Some(values.collect()))
                            .status_code(StatusCode::from(r["StatusCode"].as_str()?))
                            .build(),
                    )
                })
                .collect();
            GetMetricDataOutput::builder()
                .set_metric_data_results(Some(results))
                .set_next_token(page["NextToken"].as_str().map(str::to_owned))
                .build()
        })
        .collect()
}

/// The recording as fetched for `plan`.
pub fn fetched(plan: &Plan) -> Fetched {
    let mut fetched = Fetched::for_plan(plan);
    let mut problems = Problems::default();
    for page in pages(plan) {
        let more = page.next_token().is_some();
        fetched.add_page(plan, &page, more, &mut problems);
    }
    fetched.finish(problems);
    fetched
}
