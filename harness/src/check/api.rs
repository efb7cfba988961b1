//! How the flow used the API: its calls, the most admitted in a window, early retries, and
//! whether its `$skip` pages cover an entity exactly once.

use crate::outcome::Failure;
use crate::replay::CaseRun;
use crate::scenario::ApiExpect;

pub(super) fn check(api: &ApiExpect, run: &CaseRun) -> Vec<Failure> {
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
                actual: format!(
                    "{early} early retr{}: the flow called again before the Retry-After of a 429 had passed",
                    if early == 1 { "y" } else { "ies" }
                ),
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

/// The row ranges `[start, end)` of `entity` (of `rows` rows) the flow fetched with successful,
/// unfiltered `$skip` pages, sorted.
pub fn fetched_ranges(run: &CaseRun, entity: &str, rows: u64) -> Vec<(u64, u64)> {
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
    ranges.sort_unstable();
    ranges
}

/// Checks that the flow's successful `$skip` pages of `entity` cover `0..rows` exactly once;
/// describes the first gap or overlap.
fn page_coverage(run: &CaseRun, entity: &str, rows: u64) -> Option<String> {
    let ranges = fetched_ranges(run, entity, rows);
    if ranges.is_empty() {
        return Some(format!("no successful page of {entity} was fetched"));
    }
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
