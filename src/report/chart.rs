//! The report as a picture for an incident review: per function, Duration p95 and max against
//! its timeout, and timeouts and rate-limited invocations per interval, over the window.
//!
//! Plain SVG written by hand (axes, one polyline per series, labels, the timeout as a dashed
//! line) with presentation attributes rather than CSS, so that it renders the same in browsers,
//! wikis and chat previews. No PNG: rasterising text needs fonts that Lambda and CI lack.

use std::fmt::Write as _;
use std::path::Path;

use super::build::{ChartData, FunctionReport, Report, percent, short_time};
use crate::metrics::Metric;
use crate::summary::{seconds, source_word};

/// Width of the picture, px.
pub const WIDTH: f64 = 960.0;
/// Functions drawn when the caller does not say.
pub const DEFAULT_MAX_FUNCTIONS: usize = 20;

const HEADER: f64 = 56.0;
const ROW: f64 = 230.0;
const FOOTER: f64 = 30.0;
const PLOT_TOP: f64 = 52.0;
const PLOT_HEIGHT: f64 = 140.0;
/// Left and right edges of the two panels of a row.
const PANELS: [(f64, f64); 2] = [(70.0, 500.0), (580.0, 930.0)];

/// Colours (from the Tableau 10 palette, readable for most colour-blind readers).
const P95_COLOUR: &str = "#1f77b4";
const MAX_COLOUR: &str = "#ff7f0e";
const TIMEOUT_COLOUR: &str = "#d62728";
const RATE_LIMITED_COLOUR: &str = "#9467bd";

/// Why a chart cannot be written to a path.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The file name asks for PNG.
    #[error(
        "cannot write {0}: PNG is not supported (drawing text in PNG needs fonts this tool does not carry); write an .svg file instead, which browsers, wikis and chat tools show, and convert it if you must, e.g. `rsvg-convert -o chart.png chart.svg`"
    )]
    Png(String),
    /// Neither .svg nor .png.
    #[error("cannot write {0}: the chart file must end in .svg")]
    Extension(String),
}

/// Checks that a chart can be written to `path` (an `.svg` file) before any work is done.
pub fn check_path(path: &Path) -> Result<(), ChartError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(()),
        Some("png") => Err(ChartError::Png(path.display().to_string())),
        _ => Err(ChartError::Extension(path.display().to_string())),
    }
}

/// Renders the report's chart: the `max_functions` worst functions, one row each.
pub fn svg(report: &Report, max_functions: usize) -> String {
    let drawn: Vec<&FunctionReport> = report.functions.iter().take(max_functions).collect();
    let height = HEADER + ROW * drawn.len().max(1) as f64 + FOOTER;
    let range = report.range();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#222">"##
    );
    let title = format!(
        "lambda-watchdog: {} to {} UTC",
        short_time(range.start),
        short_time(range.end)
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let _ = writeln!(out, r##"<rect width="{WIDTH}" height="{height}" fill="#fff"/>"##);
    let _ = writeln!(
        out,
        r#"<text x="20" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(&title)
    );
    let period = report
        .window
        .chart_period_seconds
        .map_or_else(String::new, |p| format!(", one point per {}", human_period(p)));
    let _ = writeln!(
        out,
        r##"<text x="20" y="42" fill="#555">Namespace {}{}; worst function first. Left: Duration p95 and max against the timeout. Right: timeouts and rate-limited invocations.</text>"##,
        escape(&report.namespace),
        period
    );
    if drawn.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="20" y="{}" fill="#555">No functions with watchdog metrics in this window.</text>"##,
            HEADER + 40.0
        );
    }
    for (row, f) in drawn.iter().enumerate() {
        function_row(&mut out, report, f, HEADER + ROW * row as f64);
    }
    let left_out = report.functions.len() - drawn.len();
    if left_out > 0 {
        let _ = writeln!(
            out,
            r##"<text x="20" y="{}" fill="#555">{left_out} more function(s) not drawn; raise --chart-max or narrow with --function.</text>"##,
            height - 10.0
        );
    }
    out.push_str("</svg>\n");
    out
}

fn human_period(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 && s > 3600 => format!("{} hours", s / 3600),
        3600 => "hour".to_string(),
        60 => "minute".to_string(),
        s => format!("{} minutes", s / 60),
    }
}

fn function_row(out: &mut String, report: &Report, f: &FunctionReport, top: f64) {
    let _ = writeln!(
        out,
        r#"<g class="function" data-function="{}" transform="translate(0,{top})">"#,
        escape(&f.function)
    );
    let timeout_ms = f.timeout.seconds * 1000.0;
    let summary = if f.has_data {
        format!(
            "{} invocations, {} timed out ({}); p95 {} of a {} timeout ({})",
            f.count(Metric::Invocations).unwrap_or(0),
            f.count(Metric::Timeouts).unwrap_or(0),
            percent(f.timeout_rate),
            f.duration_ms.p95.map_or_else(|| "-".into(), seconds),
            seconds(timeout_ms),
            source_word(f.timeout.source)
        )
    } else {
        "no datapoints in this window".to_string()
    };
    let _ = writeln!(
        out,
        r##"<text x="20" y="20"><tspan font-size="13" font-weight="bold">{}</tspan><tspan fill="#555" dx="10">{}</tspan></text>"##,
        escape(&f.function),
        escape(&summary)
    );
    let empty = ChartData::default();
    let data = f.chart.as_ref().unwrap_or(&empty);
    let range = report.range();
    let period = report.window.chart_period_seconds.unwrap_or(60);

    // Durations: the axis reaches past the timeout so the line is always in view.
    let longest = data.max.iter().chain(&data.p95).map(|(_, v)| *v).fold(0.0, f64::max);
    let duration_axis = Axis::new(longest.max(timeout_ms) * 1.05);
    let panel = Panel {
        left: PANELS[0].0,
        right: PANELS[0].1,
        start: range.start,
        end: range.end,
        axis: duration_axis,
        period,
    };
    panel.open(out, "duration", |v| if v == 0.0 { "0".into() } else { seconds(v) });
    let y = panel.y(timeout_ms);
    let _ = writeln!(
        out,
        r#"<line class="timeout" data-value-ms="{timeout_ms}" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{TIMEOUT_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>"#,
        panel.left, panel.right
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{TIMEOUT_COLOUR}">timeout {} ({})</text>"#,
        panel.right - 4.0,
        y - 4.0,
        seconds(timeout_ms),
        source_word(f.timeout.source)
    );
    panel.series(out, "Duration p95", P95_COLOUR, &data.p95);
    panel.series(out, "Duration max", MAX_COLOUR, &data.max);
    panel.legend(
        out,
        &[("p95", P95_COLOUR), ("max", MAX_COLOUR), ("timeout", TIMEOUT_COLOUR)],
    );
    panel.close(out, !f.has_data);

    let most = data
        .timeouts
        .iter()
        .chain(&data.rate_limited)
        .map(|(_, v)| *v)
        .fold(0.0, f64::max);
    let panel = Panel {
        left: PANELS[1].0,
        right: PANELS[1].1,
        // At least 0 to 4, so that count labels are whole numbers.
        axis: Axis::new(most.max(4.0)),
        ..panel
    };
    panel.open(out, "counts", |v| format!("{v:.0}"));
    panel.series(out, "Timeouts", TIMEOUT_COLOUR, &data.timeouts);
    panel.series(out, "RateLimited", RATE_LIMITED_COLOUR, &data.rate_limited);
    panel.legend(
        out,
        &[("timeouts", TIMEOUT_COLOUR), ("rate-limited", RATE_LIMITED_COLOUR)],
    );
    panel.close(out, !f.has_data);
    out.push_str("</g>\n");
}

/// A y axis from 0 to a round top, with round steps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    top: f64,
    step: f64,
}

impl Axis {
    /// An axis that holds `max`, with 3 to 5 steps of 1, 2 or 5 times a power of ten.
    fn new(max: f64) -> Axis {
        let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
        let raw = max / 4.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * magnitude);
        Axis {
            top: (max / step).ceil() * step,
            step,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Panel {
    left: f64,
    right: f64,
    start: i64,
    end: i64,
    axis: Axis,
    period: i64,
}

impl Panel {
    fn x(&self, t: i64) -> f64 {
        let span = (self.end - self.start).max(1) as f64;
        self.left + (t - self.start) as f64 / span * (self.right - self.left)
    }

    fn y(&self, v: f64) -> f64 {
        let bottom = PLOT_TOP + PLOT_HEIGHT;
        bottom - v.clamp(0.0, self.axis.top) / self.axis.top * PLOT_HEIGHT
    }

    fn open(&self, out: &mut String, name: &str, label: impl Fn(f64) -> String) {
        let _ = writeln!(out, r#"<g class="panel" data-panel="{name}">"#);
        let bottom = PLOT_TOP + PLOT_HEIGHT;
        let mut v = 0.0;
        while v <= self.axis.top + self.axis.step / 2.0 {
            let y = self.y(v);
            let _ = writeln!(
                out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                self.left,
                self.right,
                self.left - 6.0,
                y + 4.0,
                escape(&label(v))
            );
            v += self.axis.step;
        }
        let ticks = 4;
        let short = self.end - self.start <= 86_400;
        for i in 0..=ticks {
            let t = self.start + (self.end - self.start) * i / ticks;
            let x = self.x(t);
            let text = short_time(t);
            let text = if short { &text[11..] } else { &text[5..] };
            let anchor = match i {
                0 => "start",
                i if i == ticks => "end",
                _ => "middle",
            };
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#555"/><text x="{x:.1}" y="{:.1}" text-anchor="{anchor}" fill="#555">{text}</text>"##,
                bottom + 4.0,
                bottom + 16.0
            );
        }
        let _ = writeln!(
            out,
            r##"<polyline class="axis" points="{:.1},{PLOT_TOP:.1} {:.1},{bottom:.1} {:.1},{bottom:.1}" fill="none" stroke="#555"/>"##,
            self.left, self.left, self.right
        );
    }

    /// One series as polylines, broken where intervals have no datapoint (no data is not zero);
    /// a lone point is a dot.
    fn series(&self, out: &mut String, name: &str, colour: &str, points: &[(i64, f64)]) {
        let mut segments: Vec<Vec<(i64, f64)>> = Vec::new();
        for &(t, v) in points.iter().filter(|(t, _)| *t >= self.start && *t < self.end) {
            match segments.last_mut() {
                Some(seg) if seg.last().is_some_and(|(last, _)| t - last <= self.period) => seg.push((t, v)),
                _ => segments.push(vec![(t, v)]),
            }
        }
        // Each point is drawn at the middle of its interval.
        let half = self.period / 2;
        for seg in segments {
            if let [(t, v)] = seg[..] {
                let _ = writeln!(
                    out,
                    r#"<circle class="series" data-series="{name}" cx="{:.1}" cy="{:.1}" r="2" fill="{colour}"/>"#,
                    self.x(t + half),
                    self.y(v)
                );
                continue;
            }
            let coords: Vec<String> = seg
                .iter()
                .map(|&(t, v)| format!("{:.1},{:.1}", self.x(t + half), self.y(v)))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline class="series" data-series="{name}" points="{}" fill="none" stroke="{colour}" stroke-width="1.5" stroke-linejoin="round"/>"#,
                coords.join(" ")
            );
        }
    }

    fn legend(&self, out: &mut String, entries: &[(&str, &str)]) {
        let mut x = self.left;
        for (label, colour) in entries {
            let _ = writeln!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="10" height="3" fill="{colour}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
                PLOT_TOP - 12.0,
                x + 14.0,
                PLOT_TOP - 8.0
            );
            x += 24.0 + 6.5 * label.len() as f64;
        }
    }

    fn close(&self, out: &mut String, no_data: bool) {
        if no_data {
            let _ = writeln!(
                out,
                r##"<text class="no-data" x="{:.1}" y="{:.1}" text-anchor="middle" fill="#999" font-size="13">no data</text>"##,
                (self.left + self.right) / 2.0,
                PLOT_TOP + PLOT_HEIGHT / 2.0
            );
        }
        out.push_str("</g>\n");
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers_above_the_data() {
        assert_eq!(
            Axis::new(300_000.0 * 1.05),
            Axis {
                top: 400_000.0,
                step: 100_000.0
            }
        );
        assert_eq!(Axis::new(7.0), Axis { top: 8.0, step: 2.0 });
        assert_eq!(Axis::new(1.0), Axis { top: 1.0, step: 0.5 });
        assert_eq!(Axis::new(0.0), Axis { top: 1.0, step: 0.5 });
        assert_eq!(Axis::new(f64::NAN), Axis { top: 1.0, step: 0.5 });
    }

    #[test]
    fn only_svg_files_are_accepted_and_png_says_what_to_do() {
        assert!(check_path(Path::new("review/chart.svg")).is_ok());
        assert!(check_path(Path::new("chart.SVG")).is_ok());
        let png = check_path(Path::new("chart.png")).unwrap_err().to_string();
        assert!(png.contains("PNG is not supported") && png.contains(".svg"), "{png}");
        let other = check_path(Path::new("chart")).unwrap_err().to_string();
        assert!(other.contains("must end in .svg"), "{other}");
    }

    use crate::report::build::build;
    use crate::report::fixtures;

    fn recorded_svg(max_functions: usize) -> String {
        let plan = fixtures::plan(true);
        svg(
            &build(&plan, &fixtures::fetched(&plan), &fixtures::config()),
            max_functions,
        )
    }

    fn points(node: roxmltree::Node<'_, '_>) -> Vec<(f64, f64)> {
        match node.tag_name().name() {
            "circle" => vec![(
                node.attribute("cx").unwrap().parse().unwrap(),
                node.attribute("cy").unwrap().parse().unwrap(),
            )],
            _ => node
                .attribute("points")
                .unwrap()
                .split(' ')
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect(),
        }
    }

    fn series<'a, 'i>(group: roxmltree::Node<'a, 'i>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
        group
            .descendants()
            .filter(|n| n.attribute("data-series") == Some(name))
            .collect()
    }

    #[test]
    fn the_chart_is_valid_svg_with_a_row_per_function_and_every_series() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let height: f64 = root.attribute("height").unwrap().parse().unwrap();
        let rows: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("function"))
            .collect();
        let names: Vec<&str> = rows.iter().map(|n| n.attribute("data-function").unwrap()).collect();
        assert_eq!(
            names,
            ["scraper-worker", "uploader", "orch-user", "quiet-fn"],
            "worst first"
        );
        for row in &rows[..3] {
            for name in ["Duration p95", "Duration max", "Timeouts", "RateLimited"] {
                let drawn = series(*row, name);
                assert!(
                    !drawn.is_empty(),
                    "{name} missing for {:?}",
                    row.attribute("data-function")
                );
                for (x, y) in drawn.iter().flat_map(|n| points(*n)) {
                    assert!(
                        (0.0..=WIDTH).contains(&x) && (0.0..=ROW).contains(&y),
                        "{name}: {x},{y}"
                    );
                }
            }
        }
        assert_eq!(
            height,
            HEADER + ROW * 4.0 + FOOTER,
            "one row for each of the four functions"
        );
    }

    #[test]
    fn durations_are_drawn_against_the_timeout_line() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let scraper = doc
            .descendants()
            .find(|n| n.attribute("data-function") == Some("scraper-worker"))
            .unwrap();
        let line = scraper
            .descendants()
            .find(|n| n.attribute("class") == Some("timeout"))
            .unwrap();
        assert_eq!(line.attribute("data-value-ms"), Some("300000"));
        let timeout_y: f64 = line.attribute("y1").unwrap().parse().unwrap();
        // SVG's y grows downwards: p95 stays under the timeout except in the six minutes that
        // timed out, where it reaches it (to within the 0.1 px coordinates are written with).
        let p95: Vec<(f64, f64)> = series(scraper, "Duration p95").into_iter().flat_map(points).collect();
        assert_eq!(p95.len(), 120, "one point per minute over two hours");
        assert_eq!(p95.iter().filter(|(_, y)| *y <= timeout_y + 0.05).count(), 6);
        let max: Vec<(f64, f64)> = series(scraper, "Duration max").into_iter().flat_map(points).collect();
        assert_eq!(max.iter().filter(|(_, y)| *y <= timeout_y + 0.05).count(), 6);
        let label = scraper
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .any(|t| t == "timeout 300s (config)");
        assert!(label, "the timeout line says what it is and where it came from");
    }

    #[test]
    fn a_gap_in_the_data_breaks_the_line_instead_of_drawing_zeros() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let uploader = doc
            .descendants()
            .find(|n| n.attribute("data-function") == Some("uploader"))
            .unwrap();
        // uploader ran nothing from 11:30 to 11:39.
        assert_eq!(series(uploader, "Duration p95").len(), 2);
        let quiet = doc
            .descendants()
            .find(|n| n.attribute("data-function") == Some("quiet-fn"))
            .unwrap();
        assert!(series(quiet, "Duration p95").is_empty());
        let no_data = quiet
            .descendants()
            .filter(|n| n.attribute("class") == Some("no-data"))
            .count();
        assert_eq!(no_data, 2, "both panels say there is no data");
    }

    #[test]
    fn only_the_worst_functions_are_drawn_and_the_rest_are_counted() {
        let text = recorded_svg(2);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let rows: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-function")).collect();
        assert_eq!(rows, ["scraper-worker", "uploader"]);
        assert!(text.contains("2 more function(s) not drawn"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"\u{7}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
