//! How numbers read for people, shared by everything that prints for an operator: the replay
//! summary ([`crate::summary`]), the notices ([`crate::notify`]) and the CloudWatch report
//! ([`crate::report`]). Durations, percentages, where a timeout came from, aligned and Markdown
//! tables, and the duration notes all three give, so that the same number reads the same
//! everywhere.

use std::fmt::Write as _;

use serde::Serialize;

use crate::processor::TimeoutSource;

/// p50, p95 and max of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Median (nearest rank).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Maximum.
    pub max: f64,
    /// How many values.
    pub count: usize,
}

impl Stats {
    /// Nearest-rank percentiles of `values` (which it sorts), or `None` when empty.
    pub fn of(values: &mut [f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Some(Stats {
            p50: rank(0.5),
            p95: rank(0.95),
            max: values[values.len() - 1],
            count: values.len(),
        })
    }
}

/// A duration for people: `45s`, `2.50s`.
pub fn seconds(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.0}s", ms / 1000.0)
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

/// Where a timeout came from, in one word.
pub fn source_word(source: TimeoutSource) -> &'static str {
    match source {
        TimeoutSource::Config => "config",
        TimeoutSource::Learned => "learned",
        TimeoutSource::Default => "default",
    }
}

/// Where a timeout came from, as a phrase for a notice's prose (`Timeout: 300s (...)`); reports
/// and tables use [`source_word`].
pub fn source_phrase(source: TimeoutSource) -> &'static str {
    match source {
        TimeoutSource::Config => "from the config",
        TimeoutSource::Learned => "learned from the function's own timeouts",
        TimeoutSource::Default => "the default; set it in the config",
    }
}

/// The notes about durations that the replay summary and the CloudWatch report share: a p95 close
/// to the timeout (chunks too big), near-timeouts, and short runs (chunks too small).
pub fn duration_notes(
    p95_ms: Option<f64>,
    near_timeouts: u64,
    short_runs: u64,
    timeout_ms: f64,
    near_ratio: f64,
) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(p95) = p95_ms
        && p95 >= near_ratio * timeout_ms
    {
        notes.push(format!(
            "p95 duration {} is {:.0}% of the {} timeout: chunks of work may be too big",
            seconds(p95),
            p95 * 100.0 / timeout_ms,
            seconds(timeout_ms)
        ));
    }
    if near_timeouts > 0 {
        notes.push(format!(
            "{near_timeouts} invocation(s) finished within {:.0}% of the timeout",
            (1.0 - near_ratio) * 100.0
        ));
    }
    if short_runs > 0 {
        notes.push(format!(
            "{short_runs} successful run(s) were short: chunks of work may be too small"
        ));
    }
    notes
}

/// A share as a percentage with two decimals (`2.50%`); a share too small to show is `<0.01%`,
/// an unknown one `-`.
pub fn percent(share: Option<f64>) -> String {
    match share {
        Some(s) if s > 0.0 && s < 0.0001 => "<0.01%".to_string(),
        Some(s) => format!("{:.2}%", s * 100.0),
        None => "-".to_string(),
    }
}

/// Aligned columns for a terminal or an e-mail: left-aligned first column, right-aligned
/// numbers, no trailing spaces.
pub fn columns(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(out, "{c:<w$}");
            } else {
                let _ = write!(out, "  {c:>w$}");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&mut head.iter().copied());
    for row in rows {
        out += &line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Escapes what GitHub-flavoured Markdown would read as markup.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A GitHub-flavoured Markdown table: left-aligned first column, right-aligned numbers, cells
/// escaped.
pub fn markdown_table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", head.join(" | "));
    out += &format!(
        "|{}|\n",
        head.iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { " --- " } else { " ---: " })
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| escape_markdown(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The first and last seconds RFC 3339 can write: 0001-01-01T00:00:00Z and
/// 9999-12-31T23:59:59Z.
const RFC3339_SECONDS: (i64, i64) = (-62_135_596_800, 253_402_300_799);

/// Epoch seconds as RFC 3339 in UTC, e.g. `2026-11-29T14:03:00Z`. A time outside years 1 to
/// 9999 (a hand-made timestamp can say anything) is written as the nearest one inside, so the
/// text always has this shape and its fields can be cut out by position.
pub fn rfc3339(seconds: i64) -> String {
    use aws_sdk_cloudwatch::primitives::{DateTime, DateTimeFormat};
    let (first, last) = RFC3339_SECONDS;
    DateTime::from_secs(seconds.clamp(first, last))
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Epoch milliseconds as RFC 3339 in UTC with milliseconds, e.g. `2026-11-29T14:03:00.250Z`,
/// as the console's links and Logs Insights take them.
pub fn rfc3339_ms(ms: i64) -> String {
    let seconds = rfc3339(ms.div_euclid(1000));
    format!("{}.{:03}Z", seconds.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// `10:01:46`: the time of day in UTC, to the second, from epoch milliseconds.
pub fn time_of_day(ms: i64) -> String {
    let t = rfc3339(ms.div_euclid(1000));
    t.get(11..19).map_or(t.clone(), str::to_string)
}

/// `10:01:46.250`: the time of day in UTC, to the millisecond, from epoch milliseconds.
pub fn time_of_day_ms(ms: i64) -> String {
    let t = rfc3339_ms(ms);
    t.get(11..23).map_or(t.clone(), str::to_string)
}

/// `2026-11-29 14:03` from epoch seconds (UTC).
pub fn short_time(at: i64) -> String {
    let t = rfc3339(at);
    t.get(..16).map_or(t.clone(), |s| s.replace('T', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = Stats::of(&mut values).unwrap();
        assert_eq!((s.p50, s.p95, s.max, s.count), (50.0, 95.0, 100.0, 100));
        assert_eq!(Stats::of(&mut [7.0]).unwrap().p95, 7.0);
        assert!(Stats::of(&mut []).is_none());
    }

    #[test]
    fn durations_show_two_decimals_under_ten_seconds_and_whole_seconds_above() {
        for (ms, shown) in [
            (0.0, "0.00s"),
            (2104.0, "2.10s"),
            (9_999.0, "10.00s"),
            (10_000.0, "10s"),
            (300_112.5, "300s"),
        ] {
            assert_eq!(seconds(ms), shown, "{ms} ms");
        }
    }

    #[test]
    fn shares_too_small_to_show_are_not_shown_as_zero() {
        for (share, shown) in [
            (Some(0.025), "2.50%"),
            (Some(0.00001), "<0.01%"),
            (Some(0.0), "0.00%"),
            (None, "-"),
        ] {
            assert_eq!(percent(share), shown, "{share:?}");
        }
    }

    #[test]
    fn tables_align_names_left_and_numbers_right_without_trailing_spaces() {
        let rows = vec![
            vec!["scraper-worker".to_string(), "6".to_string()],
            vec!["orch".to_string(), "120".to_string()],
        ];
        assert_eq!(
            columns(&["FUNCTION", "N"], &rows),
            "FUNCTION          N\nscraper-worker    6\norch            120\n"
        );
        assert_eq!(
            markdown_table(&["FUNCTION", "N"], &rows[..1]),
            "| FUNCTION | N |\n| --- | ---: |\n| scraper-worker | 6 |\n"
        );
    }

    #[test]
    fn timeout_sources_read_as_one_word() {
        for (source, word) in [
            (TimeoutSource::Config, "config"),
            (TimeoutSource::Learned, "learned"),
            (TimeoutSource::Default, "default"),
        ] {
            assert_eq!(source_word(source), word);
        }
    }

    #[test]
    fn times_keep_their_shape_however_far_off_they_are() {
        let cases = [
            (
                1_795_946_400_250,
                "2026-11-29T10:00:00.250Z",
                "10:00:00",
                "2026-11-29 10:00",
            ),
            (-1, "1969-12-31T23:59:59.999Z", "23:59:59", "1969-12-31 23:59"),
            (i64::MAX, "9999-12-31T23:59:59.807Z", "23:59:59", "9999-12-31 23:59"),
            (i64::MIN, "0001-01-01T00:00:00.192Z", "00:00:00", "0001-01-01 00:00"),
            (
                253_402_302_600_000,
                "9999-12-31T23:59:59.000Z",
                "23:59:59",
                "9999-12-31 23:59",
            ),
        ];
        for (ms, full, day, short) in cases {
            assert_eq!(rfc3339_ms(ms), full, "{ms}");
            assert_eq!(time_of_day(ms), day, "{ms}");
            assert_eq!(time_of_day_ms(ms), full[11..23], "{ms}");
            assert_eq!(short_time(ms.div_euclid(1000)), short, "{ms}");
        }
    }
}
