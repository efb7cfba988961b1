//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, nothing fetched).
//!
//! A run's page has the totals, a summary table, and one section per case — failing cases first
//! — with its verdict, requirement, each failed check's expected and actual, a call-limit
//! timeline per connection ([`super::plot`]), a flow definition's run history, the transcript
//! and the flow's stderr. A load run's
//! page has the load figures and the same plot for every connection.
//!
//! The page is well-formed XML (polyglot HTML5), which lets the tests read it back with an XML
//! parser.

use std::fmt::Write as _;

use simulator::rate_limit::ConnectionReport;

use super::json::RunMeta;
use super::plot::{LEGEND, escape, svg};
use super::runs;
use super::tally::{Tally, Verdict};
use super::timeline::CallLog;
use crate::load::LoadReport;
use crate::outcome::CaseResult;

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; margin: 0; background: #f5f6f8; }
header, main, #summary { max-width: 1000px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 6px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #fff; border: 1px solid #dde1e7; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
.meta { color: #5b6472; margin: 0 0 8px; }
.badge { display: inline-block; min-width: 64px; text-align: center; border-radius: 3px; padding: 1px 6px; font-weight: 600; font-size: 12px; color: #fff; }
.badge.fail, .badge.unexpected-pass { background: #c62828; }
.badge.non-strict { background: #b26a00; }
.badge.expected-failure { background: #6d4c9f; }
.badge.pass { background: #2e7d32; }
.badge.skipped { background: #7b8391; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e3e6eb; }
th { background: #eef0f4; font-weight: 600; }
#summary { margin-top: 12px; }
.case { background: #fff; border: 1px solid #dde1e7; border-left: 5px solid #7b8391; margin: 16px 0; padding: 12px 16px; }
.case.fail, .case.unexpected-pass { border-left-color: #c62828; }
.case.non-strict { border-left-color: #b26a00; }
.case.pass { border-left-color: #2e7d32; }
.case.expected-failure { border-left-color: #6d4c9f; }
.requirement { font-style: italic; margin: 4px 0 8px; }
.checks td.expected { color: #2e5e2e; }
.checks td.actual { color: #8e1c1c; }
figure { margin: 8px 0; }
figcaption { color: #39414e; font-size: 13px; }
svg.timeline { display: block; max-width: 100%; height: auto; background: #fff; }
svg text { font: 11px system-ui, sans-serif; fill: #4a5261; }
.plot-area { fill: #fafbfc; stroke: #cfd4dc; }
.tick { stroke: #9aa2ae; }
.wait { fill: #f6c343; fill-opacity: 0.22; }
.limit { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 6 4; }
.limit-label { fill: #c62828; }
.window-count { stroke: #2f6fd0; stroke-width: 1.6; }
.call.admitted circle { fill: #2e7d32; }
.call.throttled .x { stroke: #c62828; stroke-width: 1.8; }
.early-mark { fill: #ff6d00; stroke: #7a3300; stroke-width: 0.8; }
svg text.early-count { fill: #b34700; font-weight: 700; }
.axis-break line { stroke: #9aa2ae; stroke-dasharray: 2 3; }
.axis-break path { stroke: #4a5261; stroke-width: 1.2; fill: none; }
td.time, .badge { white-space: nowrap; }
.grade-ok { color: #2e7d32; font-weight: 600; }
.grade-non-strict { color: #b26a00; font-weight: 600; }
.grade-fail { color: #c62828; font-weight: 600; }
footer { max-width: 1000px; margin: 0 auto; padding: 12px 20px 30px; color: #7b8391; }
"#;

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
}

/// Where a verdict sorts: failures first, skipped last.
fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Fail | Verdict::UnexpectedPass => 0,
        Verdict::NonStrict => 1,
        Verdict::ExpectedFailure => 2,
        Verdict::Pass => 3,
        Verdict::Skipped => 4,
    }
}

/// The cases in the order the page shows them: failing first, then by id order as given.
pub fn ordered(results: &[CaseResult], strict: bool) -> Vec<(&CaseResult, Verdict)> {
    let mut cases: Vec<(&CaseResult, Verdict)> = results
        .iter()
        .map(|r| (r, Verdict::of(r, strict)))
        .collect();
    cases.sort_by_key(|(_, v)| rank(*v));
    cases
}

/// The report of a run.
pub fn html(results: &[CaseResult], strict: bool, meta: &RunMeta) -> String {
    let tally = Tally::of(results, strict);
    let cases = ordered(results, strict);
    let mut out = String::new();
    head(&mut out, &format!("insightsim report: {}", meta.flow));
    let _ = write!(
        out,
        "<header>\n<h1>insightsim conformance report</h1>\n<p class=\"meta\">flow <code>{}</code> · seed {} · started {} · insightsim {}{}</p>\n<p class=\"totals\" data-passed=\"{}\" data-failed=\"{}\" data-skipped=\"{}\"><strong>{} passed, {} failed, {} skipped</strong>{}</p>\n</header>\n",
        escape(&meta.flow),
        meta.seed
            .map_or_else(|| "per case".to_owned(), |s| s.to_string()),
        escape(&meta.started),
        escape(&meta.version),
        if strict { " · --strict" } else { "" },
        tally.passed,
        tally.failed,
        tally.skipped,
        tally.passed,
        tally.failed,
        tally.skipped,
        extras(&tally),
    );
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<table>\n<thead><tr><th>verdict</th><th>case</th><th>requirement</th><th>time</th></tr></thead>\n<tbody>\n");
    for (i, (r, v)) in cases.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td><span class=\"badge {}\">{}</span></td><td><a href=\"#case-{i}\">{}</a></td><td>{}</td><td class=\"time\">{:.2} s</td></tr>",
            v.name(),
            v.name(),
            v.label(),
            escape(&r.id),
            escape(&r.requirement),
            r.duration.as_secs_f64()
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n<main>\n");
    for (i, (r, v)) in cases.iter().enumerate() {
        case_section(&mut out, i, r, *v);
    }
    out.push_str("</main>\n<footer>Generated by insightsim. Plots: admitted calls in the trailing window of the call limit, per connection; marks are the connection's calls (from the simulator's journal).</footer>\n</body>\n</html>\n");
    out
}

fn extras(t: &Tally) -> String {
    let mut parts = Vec::new();
    if t.non_strict > 0 {
        parts.push(format!("{} non-strict", t.non_strict));
    }
    if t.expected_failures > 0 {
        parts.push(format!("{} expected failures", t.expected_failures));
    }
    if t.unexpected_passes > 0 {
        parts.push(format!("{} unexpected passes", t.unexpected_passes));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn case_section(out: &mut String, i: usize, r: &CaseResult, v: Verdict) {
    let _ = write!(
        out,
        "<section class=\"case {}\" id=\"case-{i}\" data-case-id=\"{}\" data-verdict=\"{}\">\n<h2><span class=\"badge {}\">{}</span> {}</h2>\n<p class=\"requirement\">{}</p>\n<p class=\"meta\">flow <code>{}</code> · seed {} · {:.2} s{}</p>\n",
        v.name(),
        escape(&r.id),
        v.name(),
        v.name(),
        v.label(),
        escape(&r.id),
        escape(&r.requirement),
        escape(&r.flow),
        r.seed,
        r.duration.as_secs_f64(),
        r.skip_reason
            .as_ref()
            .map(|s| format!(" · skipped: {}", escape(s)))
            .unwrap_or_default(),
    );
    if !r.failures.is_empty() {
        out.push_str("<h3>Expected and actual</h3>\n<table class=\"checks\">\n<thead><tr><th>check</th><th>expected</th><th>actual</th></tr></thead>\n<tbody>\n");
        for f in &r.failures {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td class=\"expected\">{}</td><td class=\"actual\">{}</td></tr>",
                escape(&f.check),
                escape(&f.expected),
                escape(&f.actual)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    plots(out, &r.calls);
    run_history(out, r);
    if !r.transcript.is_empty() {
        let _ = write!(
            out,
            "<h3>Transcript</h3>\n<pre class=\"transcript\">{}</pre>\n",
            escape(&r.transcript)
        );
    }
    if let Some(stderr) = r.flow_stderr.as_ref().filter(|s| !s.trim().is_empty()) {
        let _ = write!(
            out,
            "<h3>Flow stderr</h3>\n<pre class=\"stderr\">{}</pre>\n",
            escape(stderr)
        );
    }
    out.push_str("</section>\n");
}

/// How much of an action's inputs or outputs the page shows.
const RUN_VALUE_CHARS_MAX: usize = 300;

/// A flow definition's run history: its findings, then each run as Power Automate's run view
/// lists it, one `<pre>` per run.
fn run_history(out: &mut String, r: &CaseResult) {
    if r.runs.is_empty() {
        return;
    }
    out.push_str("<h3>Run history</h3>\n");
    let findings = runs::findings(r);
    if !findings.is_empty() {
        out.push_str("<ul class=\"findings\">\n");
        for f in &findings {
            let _ = writeln!(out, "<li>{}</li>", escape(f));
        }
        out.push_str("</ul>\n");
    }
    for run in &r.runs {
        let _ = writeln!(
            out,
            "<pre class=\"run\" data-run=\"{}\" data-status=\"{}\">{}</pre>",
            escape(&run.id),
            escape(&run.status),
            escape(&run.render(RUN_VALUE_CHARS_MAX))
        );
    }
}

/// One figure per connection of `log`, with a caption of its numbers.
fn plots(out: &mut String, log: &CallLog) {
    let connections = log.connections();
    if connections.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h3>Call limit</h3>\n<div class=\"plots\">\n{LEGEND}\n"
    );
    for c in connections {
        let marks = log.marked(c);
        let throttled = marks.iter().filter(|m| m.throttled()).count();
        let early = marks.iter().filter(|m| m.early).count();
        let _ = write!(
            out,
            "<figure class=\"connection\" data-connection=\"{}\">\n<figcaption>connection <code>{}</code>: {} calls, {} admitted, {} throttled, <strong>{} early {}</strong>; limit {}</figcaption>\n{}\n</figure>\n",
            escape(c),
            escape(c),
            marks.len(),
            marks.len() - throttled,
            throttled,
            early,
            if early == 1 { "retry" } else { "retries" },
            log.calls_max.map_or_else(
                || "off".to_owned(),
                |m| format!("{m} calls per {} ms", log.window_ms)
            ),
            svg(log, c),
        );
    }
    out.push_str("</div>\n");
}

/// The report of a load run: the figures, the grading table, and one plot per connection.
pub fn load_html(report: &LoadReport, grades: &[ConnectionReport], log: &CallLog) -> String {
    let mut out = String::new();
    head(&mut out, "insightsim load report");
    let _ = write!(
        out,
        "<header>\n<h1>insightsim load report</h1>\n<p class=\"meta\">{} requests in {:.2} s over {} connections: {:.0} req/s · latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms · {} throttled</p>\n</header>\n<section id=\"summary\">\n<h2>Grading</h2>\n<table>\n<thead><tr><th>connection</th><th>calls</th><th>admitted</th><th>throttled</th><th>early retries</th><th>max in window</th><th>grade</th><th>reason</th></tr></thead>\n<tbody>\n",
        report.requests,
        report.elapsed_s,
        report.connections,
        report.requests_per_s,
        report.latency_ms_p50,
        report.latency_ms_p99,
        report.latency_ms_max,
        report.throttled,
    );
    for g in grades {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"grade-{}\">{}</td><td>{}</td></tr>",
            escape(&g.connection),
            g.calls,
            g.admitted,
            g.throttled,
            g.early_retries,
            g.max_admitted_in_window,
            g.grade.as_str(),
            g.grade.as_str(),
            escape(&g.reason)
        );
    }
    out.push_str(
        "</tbody>\n</table>\n</section>\n<main>\n<section class=\"case\" id=\"connections\">\n",
    );
    plots(&mut out, log);
    out.push_str("</section>\n</main>\n<footer>Generated by insightsim load. Each plot shows one connection's calls as the load driver saw them.</footer>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests;
