//! The call-limit timeline of one connection, as an inline SVG: time on x, admitted calls in the
//! trailing window on y, the limit as a dashed line, each `Retry-After` wait as a shaded band,
//! and every call as a mark (admitted, throttled, or an early retry: a call inside a band).
//!
//! The SVG is self-contained (no scripts, no fonts fetched) and well-formed XML, so the report's
//! test reads it back with an XML parser. Every mark carries its data (`data-t-ms`,
//! `data-status`, `data-window-count`), so the test checks the plot against the journal. Logs
//! with more calls than [`MARKS_MAX`] draw one mark per pixel column and kind instead, with
//! `data-count`, so a long load run stays a small page.

use std::fmt::Write as _;

use super::timeline::{CallLog, Marked};

/// Above this many calls, marks are grouped by pixel column.
pub const MARKS_MAX: usize = 2_000;

const WIDTH: f64 = 880.0;
const HEIGHT: f64 = 230.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

/// Escapes text for XML/HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 text.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The time axis, with long idle stretches cut out: a case often subscribes at 0 s and acts
/// minutes later, which would squeeze every call into one pixel column. A gap of more than two
/// windows without calls or waits is drawn as a break of [`BREAK_PX`] pixels.
struct Axes {
    /// The visible stretches of time, in order.
    segments: Vec<(i64, i64)>,
    /// Pixels per millisecond.
    scale: f64,
    y_max: f64,
}

const BREAK_PX: f64 = 14.0;

impl Axes {
    fn new(times: &[(i64, i64)], end_ms: i64, window_ms: i64, y_max: f64) -> Axes {
        let mut spans: Vec<(i64, i64)> = times.to_vec();
        spans.push((0, 0));
        spans.push((end_ms, end_ms));
        spans.sort_unstable();
        let pad = (window_ms / 4).max(1);
        let mut segments: Vec<(i64, i64)> = Vec::new();
        for (from, to) in spans {
            match segments.last_mut() {
                Some(last) if from - last.1 <= 2 * window_ms => last.1 = last.1.max(to),
                _ => segments.push((from, to)),
            }
        }
        let n = segments.len();
        for (i, seg) in segments.iter_mut().enumerate() {
            if i > 0 {
                seg.0 -= pad;
            }
            if i + 1 < n {
                seg.1 += pad;
            }
            seg.1 = seg.1.max(seg.0 + 1);
        }
        let total: i64 = segments.iter().map(|(a, b)| b - a).sum();
        let width = WIDTH - LEFT - RIGHT - BREAK_PX * (n.saturating_sub(1)) as f64;
        Axes {
            scale: width / total.max(1) as f64,
            segments,
            y_max,
        }
    }

    fn x(&self, at_ms: i64) -> f64 {
        let mut x = LEFT;
        for (i, &(from, to)) in self.segments.iter().enumerate() {
            if i > 0 {
                x += BREAK_PX;
            }
            if at_ms <= to || i + 1 == self.segments.len() {
                return x + (at_ms.clamp(from, to) - from) as f64 * self.scale;
            }
            x += (to - from) as f64 * self.scale;
        }
        x
    }

    fn y(&self, count: f64) -> f64 {
        HEIGHT - BOTTOM - (count / self.y_max).min(1.0) * (HEIGHT - TOP - BOTTOM)
    }
}

/// The plot of one connection of `log`.
pub fn svg(log: &CallLog, connection: &str) -> String {
    let marks = log.marked(connection);
    let peak = marks.iter().map(|m| m.in_window).max().unwrap_or(0);
    let ceiling = log
        .calls_max
        .map_or(peak, |c| u64::from(c).max(peak))
        .max(1);
    let busy: Vec<(i64, i64)> = marks
        .iter()
        .map(|m| {
            let wait = if m.throttled() {
                m.retry_after_s.unwrap_or(0) as i64 * 1000
            } else {
                0
            };
            (m.at_ms, m.at_ms + wait)
        })
        .collect();
    let axes = Axes::new(
        &busy,
        log.end_ms(),
        log.window_ms,
        (ceiling as f64 * 1.15).ceil(),
    );
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" data-connection="{}" data-calls="{}" data-window-ms="{}"{}>"#,
        escape(connection),
        marks.len(),
        log.window_ms,
        log.calls_max
            .map(|c| format!(r#" data-calls-max="{c}""#))
            .unwrap_or_default(),
    );
    let _ = write!(
        s,
        "<title>Calls of connection {} over time: admitted calls in the trailing {} window, the limit, Retry-After waits and early retries</title>",
        escape(connection),
        seconds(log.window_ms)
    );
    frame(&mut s, &axes, ceiling);
    waits(&mut s, &axes, &marks);
    if let Some(c) = log.calls_max {
        let y = axes.y(f64::from(c));
        let _ = write!(
            s,
            r#"<line class="limit" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"><title>limit: {c} calls per {}</title></line>"#,
            WIDTH - RIGHT,
            seconds(log.window_ms)
        );
        let _ = write!(
            s,
            r#"<text class="limit-label" x="{:.1}" y="{:.1}" text-anchor="end">limit {c}/{}</text>"#,
            WIDTH - RIGHT - 4.0,
            y - 4.0,
            seconds(log.window_ms)
        );
    }
    count_line(&mut s, &axes, &marks);
    if log.calls.len() <= MARKS_MAX {
        for m in &marks {
            mark(&mut s, &axes, m, log.calls_max);
        }
        early_counts(&mut s, &axes, &marks, log.calls_max);
    } else {
        grouped_marks(&mut s, &axes, &marks, log.calls_max);
    }
    s.push_str("</svg>");
    s
}

fn seconds(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn frame(s: &mut String, axes: &Axes, ceiling: u64) {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
    let _ = write!(
        s,
        r#"<rect class="plot-area" x="{x0}" y="{y0}" width="{:.1}" height="{:.1}"/>"#,
        x1 - x0,
        y1 - y0
    );
    // Ticks at round seconds within each visible stretch, and a break mark between stretches.
    let mut last_label = f64::NEG_INFINITY;
    for (i, &(from, to)) in axes.segments.iter().enumerate() {
        if i > 0 {
            let x = axes.x(from) - BREAK_PX / 2.0;
            let _ = write!(
                s,
                r#"<g class="axis-break"><title>no calls from {} to {}</title><line x1="{x:.1}" x2="{x:.1}" y1="{y0}" y2="{y1}"/><path d="M{:.1},{:.1} l6,-8 M{:.1},{:.1} l6,-8"/></g>"#,
                seconds(axes.segments[i - 1].1),
                seconds(from),
                x - 5.0,
                y1 + 4.0,
                x - 1.0,
                y1 + 4.0
            );
        }
        let px = (to - from) as f64 * axes.scale;
        let ticks = (px / 140.0).floor().max(1.0);
        let step = nice_step((to - from) as f64 / ticks);
        let mut t = (from as f64 / step).ceil() * step;
        while t <= to as f64 {
            let x = axes.x(t as i64);
            if x - last_label >= 48.0 {
                let _ = write!(
                    s,
                    r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{y1}" y2="{:.1}"/><text class="tick-label" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    y1 + 4.0,
                    y1 + 16.0,
                    seconds(t as i64)
                );
                last_label = x;
            }
            t += step;
        }
    }
    let _ = write!(
        s,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">time (idle stretches longer than two windows are cut out)</text>"#,
        (x0 + x1) / 2.0,
        HEIGHT - 6.0
    );
    for v in [0, ceiling / 2, ceiling] {
        let y = axes.y(v as f64);
        let _ = write!(
            s,
            r#"<text class="tick-label" x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"#,
            x0 - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r#"<text class="axis-label" transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle">calls in window</text>"#,
        (y0 + y1) / 2.0
    );
}

/// A step between 1-2-5 multiples of whole seconds (or of 100 ms below a second).
fn nice_step(raw_ms: f64) -> f64 {
    let raw = raw_ms.max(100.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= raw)
        .unwrap_or(10.0 * magnitude);
    step.max(100.0)
}

/// The Retry-After waits, as bands from each 429 to its deadline.
fn waits(s: &mut String, axes: &Axes, marks: &[Marked]) {
    let mut bands: Vec<(i64, i64)> = Vec::new();
    for m in marks.iter().filter(|m| m.throttled()) {
        let end = m.at_ms + m.retry_after_s.unwrap_or(0) as i64 * 1000;
        match bands.last_mut() {
            Some(last) if m.at_ms <= last.1 => last.1 = last.1.max(end),
            _ => bands.push((m.at_ms, end)),
        }
    }
    for (from, to) in bands {
        let (x0, x1) = (axes.x(from), axes.x(to));
        let _ = write!(
            s,
            r#"<rect class="wait" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}" data-from-ms="{from}" data-to-ms="{to}"><title>waiting out Retry-After: {} to {}</title></rect>"#,
            (x1 - x0).max(1.0),
            HEIGHT - TOP - BOTTOM,
            seconds(from),
            seconds(to)
        );
    }
}

/// The admitted-in-window count as a step line.
fn count_line(s: &mut String, axes: &Axes, marks: &[Marked]) {
    let mut points = format!("{LEFT:.1},{:.1}", axes.y(0.0));
    let mut last = 0u64;
    let mut last_x = LEFT;
    for m in marks {
        let x = axes.x(m.at_ms);
        // Skip steps that land on the same pixel column and height (long load runs).
        if m.in_window == last && (x - last_x) < 1.0 {
            continue;
        }
        let _ = write!(
            points,
            " {x:.1},{:.1} {x:.1},{:.1}",
            axes.y(last as f64),
            axes.y(m.in_window as f64)
        );
        last = m.in_window;
        last_x = x;
    }
    let _ = write!(points, " {:.1},{:.1}", WIDTH - RIGHT, axes.y(last as f64));
    let _ = write!(
        s,
        r#"<polyline class="window-count" fill="none" points="{points}"/>"#
    );
}

fn mark(s: &mut String, axes: &Axes, m: &Marked, calls_max: Option<u32>) {
    let x = axes.x(m.at_ms);
    let kind = if m.throttled() {
        "throttled"
    } else {
        "admitted"
    };
    let early = if m.early { " early" } else { "" };
    // A throttled call sits on the limit it hit; an admitted one on its window count.
    let level = if m.throttled() {
        calls_max.map_or(m.in_window, u64::from) as f64
    } else {
        m.in_window as f64
    };
    let y = axes.y(level);
    let what = match (m.throttled(), m.early) {
        (true, true) => "early retry, throttled",
        (false, true) => "early retry, admitted",
        (true, false) => "throttled",
        (false, false) => "admitted",
    };
    let retry = m
        .retry_after_s
        .map(|r| format!(r#" data-retry-after-s="{r}""#))
        .unwrap_or_default();
    let _ = write!(
        s,
        r#"<g class="call {kind}{early}" data-t-ms="{}" data-status="{}" data-window-count="{}"{retry}><title>{}: {what}, status {}{}</title>"#,
        m.at_ms,
        m.status,
        m.in_window,
        seconds(m.at_ms),
        m.status,
        m.retry_after_s
            .map(|r| format!(", Retry-After {r} s"))
            .unwrap_or_default()
    );
    shape(s, x, y, m.throttled(), m.early);
    s.push_str("</g>");
}

fn shape(s: &mut String, x: f64, y: f64, throttled: bool, early: bool) {
    if early {
        // A triangle above the point, large enough to see among many calls.
        let _ = write!(
            s,
            r#"<path class="early-mark" d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z"/>"#,
            y - 13.0,
            x - 5.5,
            y - 3.5,
            x + 5.5,
            y - 3.5
        );
    }
    if throttled {
        let _ = write!(
            s,
            r#"<path class="x" d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}"/>"#,
            x - 3.0,
            y - 3.0,
            x + 3.0,
            y + 3.0,
            x - 3.0,
            y + 3.0,
            x + 3.0,
            y - 3.0
        );
    } else {
        let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.2"/>"#);
    }
}

/// Early retries at the same instant draw on top of each other: label each pile with its size.
fn early_counts(s: &mut String, axes: &Axes, marks: &[Marked], calls_max: Option<u32>) {
    let mut piles: std::collections::BTreeMap<i64, (u64, f64)> = std::collections::BTreeMap::new();
    for m in marks.iter().filter(|m| m.early) {
        let level = if m.throttled() {
            calls_max.map_or(m.in_window, u64::from) as f64
        } else {
            m.in_window as f64
        };
        let pile = piles
            .entry(axes.x(m.at_ms).round() as i64)
            .or_insert((0, f64::INFINITY));
        pile.0 += 1;
        pile.1 = pile.1.min(axes.y(level));
    }
    // Piles a few pixels apart read as one: merge them so their labels do not overlap.
    let mut merged: Vec<(i64, (u64, f64))> = Vec::new();
    for (x, (count, y)) in piles {
        match merged.last_mut() {
            Some((last_x, (n, top))) if x - *last_x < 40 => {
                *n += count;
                *top = top.min(y);
            }
            _ => merged.push((x, (count, y))),
        }
    }
    for (x, (count, y)) in merged.into_iter().filter(|(_, (n, _))| *n > 1) {
        let _ = write!(
            s,
            r#"<text class="early-count" x="{:.1}" y="{:.1}" text-anchor="end">{count} early ×</text>"#,
            x as f64 - 7.0,
            y - 6.0
        );
    }
}

/// One mark per pixel column and kind, for logs too long to draw call by call.
fn grouped_marks(s: &mut String, axes: &Axes, marks: &[Marked], calls_max: Option<u32>) {
    let mut groups: std::collections::BTreeMap<(i64, bool, bool), (i64, u64, u64)> =
        std::collections::BTreeMap::new();
    for m in marks {
        let column = axes.x(m.at_ms).round() as i64;
        let entry = groups
            .entry((column, m.throttled(), m.early))
            .or_insert((m.at_ms, 0, 0));
        entry.1 += 1;
        entry.2 = entry.2.max(m.in_window);
    }
    for ((column, throttled, early), (first_ms, count, peak)) in groups {
        let kind = if throttled { "throttled" } else { "admitted" };
        let early_class = if early { " early" } else { "" };
        let level = if throttled {
            calls_max.map_or(peak, u64::from) as f64
        } else {
            peak as f64
        };
        let _ = write!(
            s,
            r#"<g class="call {kind}{early_class} grouped" data-t-ms="{first_ms}" data-count="{count}"><title>{count} {kind} calls from {}{}</title>"#,
            seconds(first_ms),
            if early { ", early retries" } else { "" }
        );
        shape(s, column as f64, axes.y(level), throttled, early);
        s.push_str("</g>");
    }
}

/// The legend shown under every plot (HTML).
pub const LEGEND: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="700" height="22" viewBox="0 0 700 22"><g class="call admitted"><circle cx="10" cy="11" r="3"/></g><text x="18" y="15">admitted call</text><g class="call throttled"><path class="x" d="M117,8 L123,14 M117,14 L123,8"/></g><text x="130" y="15">throttled (429)</text><g class="call throttled early"><path class="early-mark" d="M240,4 L234.5,13.5 L245.5,13.5 Z"/></g><text x="252" y="15">early retry</text><rect class="wait" x="335" y="5" width="22" height="12"/><text x="362" y="15">Retry-After wait</text><line class="limit" x1="470" x2="500" y1="11" y2="11"/><text x="506" y="15">limit</text><polyline class="window-count" fill="none" points="550,16 560,16 560,8 575,8 575,12 590,12"/><text x="596" y="15">in window</text></svg>"#;
