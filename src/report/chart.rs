//! The report as a picture for an incident review: per function, two panels over the same time
//! axis. Above, Duration p95 and max; below, the invocations of every class the watchdog counts
//! as trouble (timeouts, out of memory, errors, init failures, Lambda's throttles, rate limits,
//! the connection cap, other connection errors, near-timeouts), as bars stacked per interval.
//!
//! Durations are drawn on a linear axis scaled to the data, not to the timeout: a function whose
//! p95 is 2 s against a 300 s timeout would otherwise be a flat line at zero. The timeout line is
//! drawn when it is within [`TIMEOUT_IN_VIEW`] times the longest run drawn; further away, the
//! panel says in words how far the timeout is. (A log scale shows both, but makes 280 s and
//! 300 s look the same, which is the difference a review of timeouts is about.)
//!
//! Counts are bars, never lines: a line between two minutes invents the minutes in between, and
//! an interval without a datapoint is left empty, never drawn as 0. One invocation can be in more
//! than one class (an out-of-memory run is often also an error), so a stack is the sum of the
//! classes, not of invocations; the subtitle says so.
//!
//! Plain SVG written by hand with presentation attributes rather than CSS, so that it renders the
//! same in browsers, wikis and chat previews; [`png`] rasterises the same SVG for e-mail clients,
//! which do not show SVG, with a font compiled into the tool.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::build::{ChartData, Class, FunctionReport, Report, short_time};
use super::rfc3339;
use crate::metrics::Metric;
use crate::present::{percent, seconds, source_word};

/// Width of the picture, px.
pub const WIDTH: f64 = 960.0;
/// Functions drawn when the caller does not say.
pub const DEFAULT_MAX_FUNCTIONS: usize = 20;
/// The duration axis reaches the timeout when the timeout is at most this many times the
/// longest run drawn; otherwise the axis fits the runs and the timeout is named in words.
pub const TIMEOUT_IN_VIEW: f64 = 2.0;

/// Left and right edges of the plots.
const LEFT: f64 = 80.0;
const RIGHT: f64 = 930.0;
/// Where the legend starts, below the title and subtitle.
const LEGEND_TOP: f64 = 80.0;
const LEGEND_LINE: f64 = 18.0;
/// Height of one function's row, and of the note under the last one.
const ROW: f64 = 320.0;
const FOOTER: f64 = 30.0;
/// The two panels of a row: top and height, relative to the row.
const DURATION_PANEL: (f64, f64) = (48.0, 100.0);
const COUNT_PANEL: (f64, f64) = (180.0, 100.0);
/// Character width the legend is laid out with, px (11 px DejaVu Sans averages about 6.5).
const CHAR_WIDTH: f64 = 6.5;

/// Colours from the Tableau 10 palette, readable for most colour-blind readers.
const P95_COLOUR: &str = "#1f77b4";
const MAX_COLOUR: &str = "#17becf";
const TIMEOUT_COLOUR: &str = "#d62728";

/// The colour of a class's bars.
pub const fn colour(class: Class) -> &'static str {
    match class {
        Class::Timeouts => "#d62728",
        Class::OutOfMemory => "#8c564b",
        Class::Errors => "#ff7f0e",
        Class::InitFailures => "#e377c2",
        Class::Throttles => "#7f7f7f",
        Class::RateLimited => "#9467bd",
        Class::ConnectionCapped => "#2ca02c",
        Class::OtherConnectionErrors => "#98df8a",
        Class::NearTimeout => "#bcbd22",
    }
}

/// What the chart file's name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartFormat {
    /// SVG, for browsers, wikis and chat tools.
    Svg,
    /// PNG, for e-mail clients.
    Png,
}

/// Why a chart cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// Neither .svg nor .png.
    #[error("cannot write {0}: the chart file must end in .svg (for browsers, wikis and chat) or .png (for e-mail)")]
    Extension(String),
    /// The SVG could not be rasterised (a bug: the SVG is ours).
    #[error("could not draw the chart as PNG: {0}")]
    Render(String),
}

/// Checks that a chart can be written to `path` before any work is done, and says in which
/// format: `.svg` or `.png`, in any case.
pub fn check_path(path: &Path) -> Result<ChartFormat, ChartError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(ChartFormat::Svg),
        Some("png") => Ok(ChartFormat::Png),
        _ => Err(ChartError::Extension(path.display().to_string())),
    }
}

/// The chart in a format, as the bytes of its file.
pub fn render(report: &Report, max_functions: usize, format: ChartFormat) -> Result<Vec<u8>, ChartError> {
    let svg = svg(report, max_functions);
    match format {
        ChartFormat::Svg => Ok(svg.into_bytes()),
        ChartFormat::Png => png(&svg),
    }
}

/// Rasterises one of our SVG charts to PNG at its own size, with DejaVu Sans compiled in (its
/// licence allows embedding: <https://dejavu-fonts.github.io/License.html>), so that the text
/// looks the same on a laptop, in CI and in a container without fonts.
pub fn png(svg: &str) -> Result<Vec<u8>, ChartError> {
    use resvg::{tiny_skia, usvg};
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_font_data(dejavu::sans::regular().to_vec());
    fonts.load_font_data(dejavu::sans::bold().to_vec());
    // The SVG asks for Helvetica, Arial, sans-serif; the generic family is what is here.
    fonts.set_sans_serif_family("DejaVu Sans");
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| ChartError::Render(e.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| ChartError::Render(format!("no room for {}x{} pixels", size.width(), size.height())))?;
    resvg::render(&tree, tiny_skia::Transform::identity(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| ChartError::Render(e.to_string()))
}

/// One legend entry: a line (durations) or a block (bars).
struct Entry {
    label: &'static str,
    colour: &'static str,
    series: &'static str,
    dashed: bool,
    block: bool,
}

fn legend_entries() -> Vec<Entry> {
    let mut entries = vec![
        Entry {
            label: "duration p95",
            colour: P95_COLOUR,
            series: "Duration p95",
            dashed: false,
            block: false,
        },
        Entry {
            label: "duration max",
            colour: MAX_COLOUR,
            series: "Duration max",
            dashed: false,
            block: false,
        },
        Entry {
            label: "timeout",
            colour: TIMEOUT_COLOUR,
            series: "timeout",
            dashed: true,
            block: false,
        },
    ];
    entries.extend(Class::ALL.iter().map(|c| Entry {
        label: c.label(),
        colour: colour(*c),
        series: c.name(),
        dashed: false,
        block: true,
    }));
    entries
}

/// The legend, wrapped at the picture's width; returns the y under its last line.
fn legend(out: &mut String) -> f64 {
    let _ = writeln!(out, r#"<g class="legend">"#);
    let (mut x, mut y) = (20.0, LEGEND_TOP);
    for e in legend_entries() {
        let width = 22.0 + CHAR_WIDTH * e.label.len() as f64;
        if x + width > WIDTH - 20.0 {
            x = 20.0;
            y += LEGEND_LINE;
        }
        let swatch = if e.block {
            format!(
                r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{}"/>"#,
                y - 9.0,
                e.colour
            )
        } else {
            format!(
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"{}/>"#,
                y - 4.0,
                x + 12.0,
                y - 4.0,
                e.colour,
                if e.dashed { r#" stroke-dasharray="4 2""# } else { "" }
            )
        };
        let _ = writeln!(
            out,
            r#"<g class="entry" data-series="{}">{swatch}<text x="{:.1}" y="{y:.1}">{}</text></g>"#,
            e.series,
            x + 16.0,
            e.label
        );
        x += width;
    }
    out.push_str("</g>\n");
    y + 14.0
}

/// Renders the report's chart: the `max_functions` worst functions, one row each.
pub fn svg(report: &Report, max_functions: usize) -> String {
    let drawn: Vec<&FunctionReport> = report.functions.iter().take(max_functions).collect();
    let mut legend_svg = String::new();
    let header = legend(&mut legend_svg);
    let height = header + ROW * drawn.len().max(1) as f64 + FOOTER;
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
    let period = report.window.chart_period_seconds.unwrap_or(60);
    let _ = writeln!(
        out,
        r##"<text x="20" y="44" fill="#555">Namespace {}; worst function first; one point and one bar per {}. Above: Duration p95 and max. Below: invocations by class.</text>"##,
        escape(&report.namespace),
        human_period(period)
    );
    let _ = writeln!(
        out,
        r##"<text x="20" y="60" fill="#555">Bars are stacked; one invocation can be in more than one class (a run out of memory is often also an error). No bar: no datapoint or none.</text>"##
    );
    out.push_str(&legend_svg);
    if drawn.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="20" y="{}" fill="#555">No functions with watchdog metrics in this window.</text>"##,
            header + 40.0
        );
    }
    for (row, f) in drawn.iter().enumerate() {
        function_row(&mut out, report, f, header + ROW * row as f64);
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
    let per = human_period(period);
    let in_window = |points: &[(i64, f64)]| -> Vec<(i64, f64)> {
        points
            .iter()
            .copied()
            .filter(|(t, v)| *t >= range.start && *t < range.end && v.is_finite())
            .collect()
    };
    let (p95, max) = (in_window(&data.p95), in_window(&data.max));

    // Durations: scaled to the runs; the timeout only when it is near enough to be drawn.
    let longest = p95.iter().chain(&max).map(|(_, v)| *v).fold(0.0, f64::max);
    let timeout_in_view = longest <= 0.0 || timeout_ms <= longest * TIMEOUT_IN_VIEW;
    let axis = if timeout_in_view {
        Axis::new(longest.max(timeout_ms) * 1.05)
    } else {
        Axis::new(longest * 1.1)
    };
    let panel = Panel {
        left: LEFT,
        right: RIGHT,
        top: DURATION_PANEL.0,
        height: DURATION_PANEL.1,
        start: range.start,
        end: range.end,
        axis,
        period,
    };
    panel.open(out, "duration", &format!("Duration per {per}: p95 and max"), |v| {
        duration_tick(v, axis.top)
    });
    panel.time_axis(out, false);
    if timeout_in_view {
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
    } else {
        let _ = writeln!(
            out,
            r#"<text class="timeout-note" data-value-ms="{timeout_ms}" x="{:.1}" y="{:.1}" text-anchor="end" fill="{TIMEOUT_COLOUR}">timeout {} ({}) is off the scale: the longest run drawn, {}, is {} of it</text>"#,
            panel.right,
            panel.top - 8.0,
            seconds(timeout_ms),
            source_word(f.timeout.source),
            seconds(longest),
            share(longest / timeout_ms)
        );
    }
    panel.series(out, "Duration max", MAX_COLOUR, 1.0, &max);
    panel.series(out, "Duration p95", P95_COLOUR, 1.75, &p95);
    panel.close(out, !f.has_data);

    // Counts: every class as bars, stacked per interval.
    let mut by_time: BTreeMap<i64, [f64; 9]> = BTreeMap::new();
    for class in Class::ALL {
        for (t, v) in in_window(data.count(class)) {
            by_time.entry(t).or_insert([0.0; 9])[class as usize] = v.max(0.0);
        }
    }
    let most = by_time.values().map(|c| c.iter().sum::<f64>()).fold(0.0, f64::max);
    let panel = Panel {
        top: COUNT_PANEL.0,
        height: COUNT_PANEL.1,
        // At least 0 to 4, so that every count label is a whole number.
        axis: Axis::new(most.max(4.0)),
        ..panel
    };
    panel.open(out, "counts", &format!("Invocations per {per}, by class"), |v| {
        format!("{v:.0}")
    });
    panel.time_axis(out, true);
    panel.bars(out, &by_time);
    if f.has_data && most == 0.0 {
        let _ = writeln!(
            out,
            r##"<text class="none" x="{:.1}" y="{:.1}" text-anchor="middle" fill="#999" font-size="13">none of these in this window</text>"##,
            (panel.left + panel.right) / 2.0,
            panel.top + panel.height / 2.0
        );
    }
    panel.close(out, !f.has_data);
    out.push_str("</g>\n");
}

/// A share for people, never rounded to 0.
fn share(ratio: f64) -> String {
    match ratio * 100.0 {
        p if p < 1.0 => "under 1%".to_string(),
        p => format!("{p:.0}%"),
    }
}

/// A duration axis label: ms under a second, else seconds with as many decimals as the step
/// needs.
fn duration_tick(ms: f64, top: f64) -> String {
    if ms == 0.0 {
        return "0".to_string();
    }
    if top < 1000.0 {
        return format!("{ms:.0}ms");
    }
    let s = ms / 1000.0;
    if (s - s.round()).abs() < 1e-6 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
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

/// Steps of the time axis, seconds: the first that gives at most [`MAX_TIME_TICKS`] intervals.
const TIME_STEPS: [i64; 13] = [
    300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, 2_592_000,
];
const MAX_TIME_TICKS: i64 = 8;

/// Where the time axis has ticks: whole multiples of a round step (so whole hours and days in
/// UTC), with their labels: `HH:MM`, and the date under the first and wherever the day changes.
fn time_ticks(start: i64, end: i64) -> Vec<(i64, String, Option<String>)> {
    let span = (end - start).max(1);
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| span / s <= MAX_TIME_TICKS)
        .unwrap_or(TIME_STEPS[TIME_STEPS.len() - 1]);
    let mut t = start.div_euclid(step) * step;
    if t < start {
        t += step;
    }
    let mut ticks = Vec::new();
    let mut last_day = String::new();
    while t <= end {
        let full = rfc3339(t);
        let (day, time) = (full[..10].to_string(), full[11..16].to_string());
        let date = (day != last_day).then(|| day.clone());
        last_day = day;
        ticks.push((t, time, date));
        t += step;
    }
    ticks
}

#[derive(Debug, Clone, Copy)]
struct Panel {
    left: f64,
    right: f64,
    top: f64,
    height: f64,
    start: i64,
    end: i64,
    axis: Axis,
    period: i64,
}

impl Panel {
    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    fn x(&self, t: i64) -> f64 {
        let span = (self.end - self.start).max(1) as f64;
        self.left + (t.clamp(self.start, self.end) - self.start) as f64 / span * (self.right - self.left)
    }

    fn y(&self, v: f64) -> f64 {
        self.bottom() - v.clamp(0.0, self.axis.top) / self.axis.top * self.height
    }

    /// The panel's group, title, horizontal grid and value labels.
    fn open(&self, out: &mut String, name: &str, title: &str, label: impl Fn(f64) -> String) {
        let _ = writeln!(
            out,
            r#"<g class="panel" data-panel="{name}" data-top="{}" data-height="{}" data-axis-top="{}">"#,
            self.top, self.height, self.axis.top
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-weight="bold" fill="#444">{}</text>"##,
            self.left,
            self.top - 8.0,
            escape(title)
        );
        let mut v = 0.0;
        while v <= self.axis.top + self.axis.step / 2.0 {
            let y = self.y(v);
            let _ = writeln!(
                out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text class="value-label" x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                self.left,
                self.right,
                self.left - 6.0,
                y + 4.0,
                escape(&label(v))
            );
            v += self.axis.step;
        }
    }

    /// Ticks at round times, with labels under the panel when `labelled`.
    fn time_axis(&self, out: &mut String, labelled: bool) {
        let bottom = self.bottom();
        for (t, time, date) in time_ticks(self.start, self.end) {
            let x = self.x(t);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#f0f0f0"/><line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#555"/>"##,
                self.top,
                bottom,
                bottom + 4.0
            );
            if labelled {
                let _ = writeln!(
                    out,
                    r##"<text class="time-label" x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{time}</text>"##,
                    bottom + 16.0
                );
                if let Some(date) = date {
                    let _ = writeln!(
                        out,
                        r##"<text class="date-label" x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{date}</text>"##,
                        bottom + 29.0
                    );
                }
            }
        }
        if labelled {
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">UTC</text>"##,
                // Clear of the first tick's label, which is centred on the axis.
                self.left - 24.0,
                bottom + 16.0
            );
        }
        let _ = writeln!(
            out,
            r##"<polyline class="axis" points="{:.1},{:.1} {:.1},{bottom:.1} {:.1},{bottom:.1}" fill="none" stroke="#555"/>"##,
            self.left, self.top, self.left, self.right
        );
    }

    /// One series as polylines, broken where intervals have no datapoint (no data is not zero);
    /// a lone point is a dot.
    fn series(&self, out: &mut String, name: &str, colour: &str, width: f64, points: &[(i64, f64)]) {
        let mut segments: Vec<Vec<(i64, f64)>> = Vec::new();
        for &(t, v) in points {
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
                r#"<polyline class="series" data-series="{name}" points="{}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round"/>"#,
                coords.join(" ")
            );
        }
    }

    /// Per interval, one bar per class with invocations, stacked in [`Class::ALL`] order across
    /// the interval's width (less a gap when there is room for one).
    fn bars(&self, out: &mut String, by_time: &BTreeMap<i64, [f64; 9]>) {
        for (&t, counts) in by_time {
            let (x0, x1) = (self.x(t), self.x(t + self.period));
            let gap = if x1 - x0 >= 4.0 { 1.0 } else { 0.0 };
            let width = (x1 - x0 - gap).max(0.5);
            let mut below = 0.0;
            for class in Class::ALL {
                let n = counts[class as usize];
                if n <= 0.0 {
                    continue;
                }
                let (y_top, y_bottom) = (self.y(below + n), self.y(below));
                below += n;
                let _ = writeln!(
                    out,
                    r#"<rect class="bar" data-series="{}" data-at="{}" data-count="{n}" x="{:.2}" y="{y_top:.2}" width="{width:.2}" height="{:.2}" fill="{}"><title>{} UTC: {n} {}</title></rect>"#,
                    class.name(),
                    rfc3339(t),
                    x0 + gap / 2.0,
                    y_bottom - y_top,
                    colour(class),
                    short_time(t),
                    class.label()
                );
            }
        }
    }

    fn close(&self, out: &mut String, no_data: bool) {
        if no_data {
            let _ = writeln!(
                out,
                r##"<text class="no-data" x="{:.1}" y="{:.1}" text-anchor="middle" fill="#999" font-size="13">no data</text>"##,
                (self.left + self.right) / 2.0,
                self.top + self.height / 2.0
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
    use crate::report::build::build;
    use crate::report::fixtures;

    fn recorded_svg(max_functions: usize) -> String {
        let plan = fixtures::plan(true);
        svg(
            &build(&plan, &fixtures::fetched(&plan), &fixtures::config()),
            max_functions,
        )
    }

    fn num(node: roxmltree::Node<'_, '_>, attribute: &str) -> f64 {
        node.attribute(attribute)
            .unwrap_or_else(|| panic!("no {attribute} on {node:?}"))
            .parse()
            .unwrap()
    }

    fn points(node: roxmltree::Node<'_, '_>) -> Vec<(f64, f64)> {
        match node.tag_name().name() {
            "circle" => vec![(num(node, "cx"), num(node, "cy"))],
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

    fn row<'a>(doc: &'a roxmltree::Document<'a>, function: &str) -> roxmltree::Node<'a, 'a> {
        doc.descendants()
            .find(|n| n.attribute("data-function") == Some(function))
            .unwrap_or_else(|| panic!("no row for {function}"))
    }

    fn panel<'a, 'i>(row: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
        row.descendants()
            .find(|n| n.attribute("data-panel") == Some(name))
            .unwrap_or_else(|| panic!("no {name} panel"))
    }

    fn texts<'a>(node: roxmltree::Node<'a, '_>, class: &str) -> Vec<&'a str> {
        node.descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .filter_map(|n| n.text())
            .collect()
    }

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
    fn svg_and_png_files_are_accepted_and_other_names_say_which_are() {
        let cases = [
            ("review/chart.svg", Some(ChartFormat::Svg)),
            ("chart.SVG", Some(ChartFormat::Svg)),
            ("incident.png", Some(ChartFormat::Png)),
            ("incident.PNG", Some(ChartFormat::Png)),
            ("chart.pdf", None),
            ("chart", None),
        ];
        for (path, expected) in cases {
            match (check_path(Path::new(path)), expected) {
                (Ok(format), Some(expected)) => assert_eq!(format, expected, "{path}"),
                (Err(err), None) => {
                    let err = err.to_string();
                    assert!(
                        err.contains(path) && err.contains(".svg") && err.contains(".png"),
                        "{err}"
                    );
                }
                (got, expected) => panic!("{path}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn the_chart_is_valid_svg_with_a_row_per_function_worst_first() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let names: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-function")).collect();
        assert_eq!(names, ["scraper-worker", "uploader", "orch-user", "quiet-fn"]);
        for name in &names[..3] {
            let row = row(&doc, name);
            for (panel_name, drawn) in [("duration", "Duration p95"), ("duration", "Duration max")] {
                let panel = panel(row, panel_name);
                let top = num(panel, "data-top");
                let bottom = top + num(panel, "data-height");
                let all: Vec<(f64, f64)> = series(panel, drawn).into_iter().flat_map(points).collect();
                assert!(!all.is_empty(), "{drawn} missing for {name}");
                for (x, y) in all {
                    assert!(
                        (LEFT..=RIGHT).contains(&x) && (top - 0.05..=bottom + 0.05).contains(&y),
                        "{name} {drawn}: {x},{y} outside the panel"
                    );
                }
            }
        }
        let height = num(root, "height");
        let rows_top = height - FOOTER - 4.0 * ROW;
        assert!(
            rows_top > LEGEND_TOP && rows_top < LEGEND_TOP + 4.0 * LEGEND_LINE,
            "{rows_top}"
        );
    }

    /// What the recording holds per function and class over the window (see
    /// `tests/data/report/get-metric-data.json`).
    const DRAWN_COUNTS: [(&str, Class, f64); 13] = [
        ("scraper-worker", Class::Timeouts, 6.0),
        ("scraper-worker", Class::RateLimited, 45.0),
        ("scraper-worker", Class::NearTimeout, 20.0),
        ("scraper-worker", Class::Errors, 3.0),
        ("scraper-worker", Class::OtherConnectionErrors, 2.0),
        ("uploader", Class::OutOfMemory, 2.0),
        ("uploader", Class::Errors, 31.0),
        ("uploader", Class::Throttles, 12.0),
        ("uploader", Class::ConnectionCapped, 30.0),
        // 36 connection errors, 30 of which were the cap: the cap is not stacked twice.
        ("uploader", Class::OtherConnectionErrors, 6.0),
        ("orch-user", Class::Errors, 40.0),
        ("orch-user", Class::RateLimited, 4.0),
        ("orch-user", Class::Timeouts, 0.0),
    ];

    #[test]
    fn every_class_is_drawn_as_bars_whose_heights_are_proportional_to_the_counts() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        for (function, class, total) in DRAWN_COUNTS {
            let counts = panel(row(&doc, function), "counts");
            let px_per_count = num(counts, "data-height") / num(counts, "data-axis-top");
            let bars = series(counts, class.name());
            let drawn: f64 = bars.iter().map(|b| num(*b, "data-count")).sum();
            assert_eq!(drawn, total, "{function} {}", class.name());
            for bar in bars {
                assert_eq!(bar.tag_name().name(), "rect");
                assert_eq!(bar.attribute("fill"), Some(colour(class)));
                let expected = num(bar, "data-count") * px_per_count;
                assert!(
                    (num(bar, "height") - expected).abs() < 0.011,
                    "{function} {} at {:?}: height {} for {expected}",
                    class.name(),
                    bar.attribute("data-at"),
                    num(bar, "height")
                );
            }
        }
        // Every class is in the legend, in its colour.
        let legend = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("legend"))
            .unwrap();
        for class in Class::ALL {
            let entry = series(legend, class.name());
            assert_eq!(entry.len(), 1, "{}", class.name());
            let swatch = entry[0].first_element_child().unwrap();
            assert_eq!(swatch.attribute("fill"), Some(colour(class)));
            assert_eq!(entry[0].last_element_child().unwrap().text(), Some(class.label()));
        }
    }

    #[test]
    fn bars_of_one_interval_are_stacked_without_overlapping() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let counts = panel(row(&doc, "uploader"), "counts");
        let bottom = num(counts, "data-top") + num(counts, "data-height");
        // 11:14: 9 capped, 6 errors, 5 throttled; stacked in the legend's order from the axis up.
        let mut at: Vec<_> = counts
            .descendants()
            .filter(|n| n.attribute("data-at") == Some("2026-11-29T11:14:00Z"))
            .collect();
        at.sort_by(|a, b| num(*b, "y").total_cmp(&num(*a, "y")));
        let stack: Vec<(&str, f64)> = at
            .iter()
            .map(|b| (b.attribute("data-series").unwrap(), num(*b, "data-count")))
            .collect();
        assert_eq!(
            stack,
            [("Errors", 6.0), ("Throttles", 5.0), ("TooManyConnections", 9.0)]
        );
        let mut edge = bottom;
        for bar in &at {
            let (y, h) = (num(*bar, "y"), num(*bar, "height"));
            assert!((y + h - edge).abs() < 0.02, "each bar starts where the one below ends");
            edge = y;
        }
        let x: Vec<f64> = at.iter().map(|b| num(*b, "x")).collect();
        assert!(x.windows(2).all(|w| w[0] == w[1]), "one column per interval: {x:?}");
    }

    #[test]
    fn a_short_function_fills_its_duration_panel_and_a_near_timeout_is_drawn_as_a_line() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        // (function, the timeout line is drawn, lowest share of the panel the p95 peak reaches)
        let cases = [
            ("orch-user", false, 0.25),
            ("scraper-worker", true, 0.7),
            ("uploader", true, 0.1),
        ];
        for (function, line_drawn, reach) in cases {
            let duration = panel(row(&doc, function), "duration");
            let (top, height) = (num(duration, "data-top"), num(duration, "data-height"));
            let bottom = top + height;
            let p95: Vec<f64> = series(duration, "Duration p95")
                .into_iter()
                .flat_map(points)
                .map(|(_, y)| y)
                .collect();
            let highest = p95.iter().copied().fold(f64::INFINITY, f64::min);
            let lowest = p95.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert!(
                bottom - highest >= reach * height,
                "{function}: p95 peaks {:.1}px above the axis of a {height}px panel",
                bottom - highest
            );
            assert!(lowest - highest > 2.0, "{function}: p95 is a flat line");
            let line = duration.descendants().find(|n| n.attribute("class") == Some("timeout"));
            let note = texts(duration, "timeout-note");
            assert_eq!(line.is_some(), line_drawn, "{function}");
            assert_eq!(note.len(), usize::from(!line_drawn), "{function}: {note:?}");
        }
        let orch = panel(row(&doc, "orch-user"), "duration");
        assert_eq!(
            texts(orch, "timeout-note"),
            ["timeout 300s (default) is off the scale: the longest run drawn, 4.99s, is 2% of it"]
        );
    }

    #[test]
    fn durations_are_drawn_against_the_timeout_line_when_it_is_in_range() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let scraper = row(&doc, "scraper-worker");
        let line = scraper
            .descendants()
            .find(|n| n.attribute("class") == Some("timeout"))
            .unwrap();
        assert_eq!(line.attribute("data-value-ms"), Some("300000"));
        let timeout_y = num(line, "y1");
        // SVG's y grows downwards: p95 stays under the timeout except in the six minutes that
        // timed out, where it reaches it (to within the 0.1 px coordinates are written with).
        let p95: Vec<(f64, f64)> = series(scraper, "Duration p95").into_iter().flat_map(points).collect();
        assert_eq!(p95.len(), 120, "one point per minute over two hours");
        assert_eq!(p95.iter().filter(|(_, y)| *y <= timeout_y + 0.05).count(), 6);
        let max: Vec<(f64, f64)> = series(scraper, "Duration max").into_iter().flat_map(points).collect();
        assert_eq!(max.iter().filter(|(_, y)| *y <= timeout_y + 0.05).count(), 6);
        let label = scraper
            .descendants()
            .filter_map(|n| n.text())
            .any(|t| t == "timeout 300s (config)");
        assert!(label, "the timeout line says what it is and where it came from");
    }

    #[test]
    fn axes_read_as_utc_times_whole_counts_and_seconds() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let scraper = row(&doc, "scraper-worker");
        let counts = panel(scraper, "counts");
        assert_eq!(
            texts(counts, "time-label"),
            [
                "10:00", "10:15", "10:30", "10:45", "11:00", "11:15", "11:30", "11:45", "12:00"
            ]
        );
        assert_eq!(texts(counts, "date-label"), ["2026-11-29"]);
        // 14 rate-limited, 1 timeout, 1 error and nothing near the timeout at 10:41: 16 at most.
        assert_eq!(texts(counts, "value-label"), ["0", "5", "10", "15", "20"]);
        assert_eq!(
            texts(panel(scraper, "duration"), "value-label"),
            ["0", "100s", "200s", "300s", "400s"]
        );
        assert_eq!(
            texts(panel(row(&doc, "orch-user"), "duration"), "value-label"),
            ["0", "2s", "4s", "6s"]
        );
        assert!(
            texts(panel(scraper, "duration"), "time-label").is_empty(),
            "labelled once, under the bars"
        );
    }

    #[test]
    fn time_ticks_fall_on_round_utc_times_with_the_date_where_it_changes() {
        const DAY_START: i64 = 1_795_910_400; // 2026-11-29T00:00:00Z
        let labels = |start: i64, end: i64| -> Vec<String> {
            time_ticks(start, end)
                .into_iter()
                .map(|(_, time, date)| date.map_or(time.clone(), |d| format!("{d} {time}")))
                .collect()
        };
        let cases: [(&str, i64, i64, Vec<&str>); 3] = [
            (
                "an hour, every 10 minutes",
                DAY_START + 10 * 3600 + 7 * 60,
                DAY_START + 11 * 3600 + 7 * 60,
                vec!["2026-11-29 10:10", "10:20", "10:30", "10:40", "10:50", "11:00"],
            ),
            (
                "a day ending at 10:23, every 3 hours across midnight",
                DAY_START + 10 * 3600 + 23 * 60,
                DAY_START + 86_400 + 10 * 3600 + 23 * 60,
                vec![
                    "2026-11-29 12:00",
                    "15:00",
                    "18:00",
                    "21:00",
                    "2026-11-30 00:00",
                    "03:00",
                    "06:00",
                    "09:00",
                ],
            ),
            (
                "a week, every day at midnight",
                DAY_START,
                DAY_START + 7 * 86_400,
                vec![
                    "2026-11-29 00:00",
                    "2026-11-30 00:00",
                    "2026-12-01 00:00",
                    "2026-12-02 00:00",
                    "2026-12-03 00:00",
                    "2026-12-04 00:00",
                    "2026-12-05 00:00",
                    "2026-12-06 00:00",
                ],
            ),
        ];
        for (case, start, end, expected) in cases {
            assert_eq!(labels(start, end), expected, "{case}");
        }
    }

    #[test]
    fn duration_labels_use_ms_under_a_second_and_seconds_above() {
        for (ms, top, label) in [
            (0.0, 400.0, "0"),
            (200.0, 400.0, "200ms"),
            (500.0, 2000.0, "0.5s"),
            (2000.0, 6000.0, "2s"),
            (300_000.0, 400_000.0, "300s"),
        ] {
            assert_eq!(duration_tick(ms, top), label, "{ms} of {top}");
        }
    }

    #[test]
    fn a_gap_in_the_data_breaks_the_line_and_leaves_no_bars() {
        let text = recorded_svg(DEFAULT_MAX_FUNCTIONS);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let uploader = row(&doc, "uploader");
        // uploader ran nothing from 11:30 to 11:39.
        assert_eq!(series(uploader, "Duration p95").len(), 2);
        let in_gap = uploader
            .descendants()
            .filter_map(|n| n.attribute("data-at"))
            .filter(|at| ("2026-11-29T11:30:00Z".."2026-11-29T11:40:00Z").contains(at))
            .count();
        assert_eq!(in_gap, 0);
        let quiet = row(&doc, "quiet-fn");
        assert!(series(quiet, "Duration p95").is_empty());
        assert_eq!(texts(quiet, "no-data").len(), 2, "both panels say there is no data");
    }

    #[test]
    fn only_the_worst_functions_are_drawn_and_the_rest_are_counted() {
        let text = recorded_svg(2);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let rows: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-function")).collect();
        assert_eq!(rows, ["scraper-worker", "uploader"]);
        assert!(text.contains("2 more function(s) not drawn"));
    }

    /// The width, height and pixels (RGBA) of a PNG, read with the `png` crate.
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgba);
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    }

    /// The colours of the pixels in a rectangle of the picture.
    fn colours_in(pixels: &[u8], width: u32, (x0, y0, x1, y1): (f64, f64, f64, f64)) -> Vec<[u8; 3]> {
        let mut out = Vec::new();
        for y in y0.round() as usize..y1.round() as usize {
            for x in x0.round() as usize..x1.round() as usize {
                let i = (y * width as usize + x) * 4;
                out.push([pixels[i], pixels[i + 1], pixels[i + 2]]);
            }
        }
        out
    }

    fn rgb(hex: &str) -> [u8; 3] {
        let v = u32::from_str_radix(&hex[1..], 16).unwrap();
        [(v >> 16) as u8, (v >> 8) as u8, v as u8]
    }

    #[test]
    fn the_png_is_the_svg_drawn_at_its_size_with_bars_lines_and_text() {
        let plan = fixtures::plan(true);
        let report = build(&plan, &fixtures::fetched(&plan), &fixtures::config());
        let text = svg(&report, DEFAULT_MAX_FUNCTIONS);
        let bytes = render(&report, DEFAULT_MAX_FUNCTIONS, ChartFormat::Png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let (width, height, pixels) = decode(&bytes);
        let doc = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(
            (f64::from(width), f64::from(height)),
            (WIDTH, num(doc.root_element(), "height"))
        );
        assert!(
            pixels.chunks(4).all(|p| p[3] == 255),
            "an opaque picture: e-mail clients show no checkerboard"
        );
        let not_white = pixels.chunks(4).filter(|p| p[..3] != [255, 255, 255]).count();
        assert!(not_white > pixels.len() / 4 / 100, "{not_white} drawn pixels");

        // Where the SVG has a bar of a class, the PNG has its colour.
        let row_top = |function: &str| {
            let transform = row(&doc, function).attribute("transform").unwrap();
            transform
                .trim_start_matches("translate(0,")
                .trim_end_matches(')')
                .parse::<f64>()
                .unwrap()
        };
        for (function, class) in [
            ("uploader", Class::Throttles),
            ("uploader", Class::ConnectionCapped),
            ("uploader", Class::OutOfMemory),
            ("scraper-worker", Class::RateLimited),
            ("scraper-worker", Class::Timeouts),
            ("orch-user", Class::Errors),
        ] {
            let top = row_top(function);
            let bar = series(panel(row(&doc, function), "counts"), class.name())
                .into_iter()
                .max_by(|a, b| num(*a, "height").total_cmp(&num(*b, "height")))
                .unwrap();
            let (x, y) = (num(bar, "x"), num(bar, "y") + top);
            let (w, h) = (num(bar, "width"), num(bar, "height"));
            let inside = (x + w * 0.3, y + h * 0.3, x + w * 0.7, y + h * 0.7);
            let seen = colours_in(&pixels, width, inside);
            assert!(
                !seen.is_empty() && seen.iter().all(|c| *c == rgb(colour(class))),
                "{function} {}: {seen:?}",
                class.name()
            );
        }

        // Text is drawn: the title's line has dark pixels where the SVG writes it.
        let title = colours_in(&pixels, width, (20.0, 10.0, 400.0, 28.0));
        assert!(
            title.iter().filter(|c| c.iter().all(|v| *v < 100)).count() > 200,
            "the title is drawn"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"\u{7}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
