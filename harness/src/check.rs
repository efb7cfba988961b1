//! Checking a run against the scenario's expectations. Each check says what was expected (every
//! acceptable outcome) and what happened.

use std::collections::BTreeSet;

use simulator::engine::DeliveryStatus;
use simulator::rate_limit::Grade;

use crate::outcome::Failure;
use crate::replay::CaseRun;
use crate::replay::sinks::SinkCall;
use crate::scenario::{ApiExpect, GradeExpect, Scenario, SinkExpect, SinkKind};

/// How many sink calls a failed sink expectation lists.
const SINK_CALLS_LISTED: usize = 5;

/// Every expectation of `scenario` that `run` does not meet (empty: the case passes).
pub fn check(scenario: &Scenario, run: &CaseRun) -> Vec<Failure> {
    let mut failures = run.errors.clone();
    let expect = &scenario.expect;
    for (i, d) in expect.deliveries.iter().enumerate() {
        let delivered: BTreeSet<&str> = run
            .deliveries
            .iter()
            .filter(|v| v.trigger.id() == d.trigger && v.status == DeliveryStatus::Delivered)
            .map(|v| v.event_id.as_str())
            .collect();
        let occurred = run
            .events
            .iter()
            .filter(|e| e.trigger.id() == d.trigger)
            .count();
        let n = delivered.len() as u64;
        if !d.bounds().admits(n) {
            failures.push(Failure {
                check: format!("expect.deliveries[{i}]"),
                expected: format!("{} {} event(s) delivered", d.bounds().describe(), d.trigger),
                actual: format!("{n} delivered ({occurred} occurred)"),
            });
        }
    }
    for (i, s) in expect.sinks.iter().enumerate() {
        let matching = run.sink_calls.iter().filter(|c| sink_matches(s, c)).count() as u64;
        if !s.bounds().admits(matching) {
            // A few calls say what the flow posted; an export's thousands would bury the report.
            let mut all: Vec<String> = run
                .sink_calls
                .iter()
                .take(SINK_CALLS_LISTED)
                .map(|c| format!("{:?} {}", c.sink, cut(&c.body, 120)))
                .collect();
            if run.sink_calls.len() > SINK_CALLS_LISTED {
                all.push(format!(
                    "and {} more",
                    run.sink_calls.len() - SINK_CALLS_LISTED
                ));
            }
            failures.push(Failure {
                check: format!("expect.sinks[{i}]"),
                expected: format!(
                    "{} matching {} call(s){}",
                    s.bounds().describe(),
                    sink_name(s.sink),
                    sink_filter(s)
                ),
                actual: if all.is_empty() {
                    "no sink call".to_owned()
                } else {
                    format!(
                        "{matching} matching of {}; calls: {}",
                        run.sink_calls.len(),
                        all.join(" | ")
                    )
                },
            });
        }
    }
    if let Some(api) = &expect.api {
        failures.extend(check_api(api, run));
    }
    if let Some(want) = expect.rate_limit_grade {
        let worst = run
            .grades
            .iter()
            .map(|g| g.grade)
            .max_by_key(|g| grade_rank(*g));
        let limit = match want {
            GradeExpect::Ok => 0,
            GradeExpect::NonStrict => 1,
        };
        if let Some(g) = worst
            && grade_rank(g) > limit
        {
            let reasons: Vec<String> = run
                .grades
                .iter()
                .filter(|r| grade_rank(r.grade) > limit)
                .map(|r| format!("{}: {}", r.connection, r.reason))
                .collect();
            failures.push(Failure {
                check: "expect.rate_limit_grade".to_owned(),
                expected: format!(
                    "call-limit grade {}",
                    if limit == 0 { "ok" } else { "ok or non-strict" }
                ),
                actual: reasons.join("; "),
            });
        }
    }
    failures
}

fn grade_rank(g: Grade) -> u8 {
    match g {
        Grade::Ok => 0,
        Grade::NonStrict => 1,
        Grade::Fail => 2,
    }
}

fn sink_name(kind: SinkKind) -> &'static str {
    match kind {
        SinkKind::Teams => "teams",
        SinkKind::Email => "email",
        SinkKind::Http => "http",
        SinkKind::Any => "sink",
    }
}

fn sink_filter(s: &SinkExpect) -> String {
    let mut parts = Vec::new();
    if let Some(text) = &s.body_contains {
        parts.push(format!("whose body contains \"{text}\""));
    }
    for (pointer, value) in &s.json {
        parts.push(format!("with {pointer} = {value}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {}", parts.join(" and "))
    }
}

fn sink_matches(s: &SinkExpect, c: &SinkCall) -> bool {
    (s.sink == SinkKind::Any || s.sink == c.sink)
        && s.body_contains
            .as_ref()
            .is_none_or(|t| c.body.contains(t.as_str()))
        && s.json.iter().all(|(pointer, want)| {
            c.json
                .as_ref()
                .and_then(|j| j.pointer(pointer))
                .is_some_and(|got| {
                    got == want || (got.as_f64().is_some() && got.as_f64() == want.as_f64())
                })
        })
}

fn check_api(api: &ApiExpect, run: &CaseRun) -> Vec<Failure> {
    let mut failures = Vec::new();
    let calls: Vec<_> = run
        .journal
        .iter()
        .filter(|e| CaseRun::is_flow_call(e))
        .collect();
    if let Some(bounds) = api.calls
        && !bounds.admits(calls.len() as u64)
    {
        failures.push(Failure {
            check: "expect.api.calls".to_owned(),
            expected: format!("{} API call(s)", bounds.describe()),
            actual: format!("{} call(s)", calls.len()),
        });
    }
    if let Some(max) = api.max_calls_in_window {
        let most = run
            .grades
            .iter()
            .map(|g| g.max_admitted_in_window)
            .max()
            .unwrap_or(0);
        if most > max {
            failures.push(Failure {
                check: "expect.api.max_calls_in_window".to_owned(),
                expected: format!("at most {max} admitted calls in any call-limit window"),
                actual: format!("{most} in one window"),
            });
        }
    }
    if api.no_early_retries {
        let early: u64 = run.grades.iter().map(|g| g.early_retries).sum();
        if early > 0 {
            failures.push(Failure {
                check: "expect.api.no_early_retries".to_owned(),
                expected: "no call before the Retry-After it was given had passed".to_owned(),
                actual: format!("{early} early retr{}", if early == 1 { "y" } else { "ies" }),
            });
        }
    }
    if let Some(entity) = &api.pages_complete {
        let rows = run.entity_rows.get(entity).copied().unwrap_or(0);
        if let Some(problem) = page_coverage(run, entity, rows) {
            failures.push(Failure {
                check: "expect.api.pages_complete".to_owned(),
                expected: format!(
                    "every one of the {rows} rows of {entity} fetched exactly once with $top/$skip"
                ),
                actual: problem,
            });
        }
    }
    failures
}

/// Checks that the flow's successful `$skip` pages of `entity` cover `0..rows` exactly once;
/// describes the first gap or overlap.
fn page_coverage(run: &CaseRun, entity: &str, rows: u64) -> Option<String> {
    let prefix = format!("/v1/instances/{}/data/{entity}", run.instance_id);
    let page_max = run.page_size_max.max(1);
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for e in run
        .journal
        .iter()
        .filter(|e| CaseRun::is_flow_call(e) && e.method == "GET" && e.status == 200)
    {
        let (path, query) = e.target.split_once('?').unwrap_or((e.target.as_str(), ""));
        if !path.eq_ignore_ascii_case(&prefix) {
            continue;
        }
        let mut top = page_max;
        let mut skip = 0;
        let mut filtered = false;
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
            match k.as_ref() {
                "$top" => top = v.parse().unwrap_or(page_max).min(page_max),
                "$skip" => skip = v.parse().unwrap_or(0),
                "$filter" | "$search" | "$orderby" => filtered = true,
                _ => {}
            }
        }
        if !filtered && skip < rows {
            ranges.push((skip, (skip + top).min(rows)));
        }
    }
    if ranges.is_empty() {
        return Some(format!("no successful page of {entity} was fetched"));
    }
    ranges.sort_unstable();
    let mut covered = 0u64;
    for (start, end) in &ranges {
        if *start > covered {
            return Some(format!(
                "rows {covered}..{start} were never fetched ({} pages fetched)",
                ranges.len()
            ));
        }
        if *start < covered {
            return Some(format!(
                "rows {start}..{} were fetched more than once ({} pages fetched)",
                covered.min(*end),
                ranges.len()
            ));
        }
        covered = *end;
    }
    (covered < rows).then(|| {
        format!(
            "rows {covered}..{rows} were never fetched ({} pages fetched)",
            ranges.len()
        )
    })
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
