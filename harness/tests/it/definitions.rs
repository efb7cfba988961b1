//! The shipped flow definitions (`flows/definitions/`) run through the harness in-process: every
//! reference definition passes every case of its trigger, and every broken one fails at least
//! one case on a behavioural check (not only a missing subscription), with a message naming the
//! action at fault.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use harness::case::{CaseSettings, run_case};
use harness::flow::definition::{explain, register};
use harness::outcome::{CaseResult, Outcome};
use harness::replay::{FlowUnderTest, RunOptions, Runner};
use harness::scenario::{Case, load_suite};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cases() -> Vec<Case> {
    let scenarios = root().join("scenarios");
    load_suite(&scenarios, std::slice::from_ref(&scenarios))
        .unwrap_or_else(|e| panic!("the suite does not load: {e:?}"))
        .cases
}

/// Runs every case against the flow in `file` (the `index`-th flow of it); returns each case's
/// result with the explanation of a failure.
async fn run_all(file: &str, index: usize, broken: Option<&str>) -> Vec<(CaseResult, String)> {
    let path = root().join("flows/definitions").join(file);
    let mut flows = flowdef::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let flow = flows.remove(index);
    let registered = register(flow, Arc::new(flowdef::OperationMap::built_in()), broken)
        .unwrap_or_else(|e| panic!("{e}"));
    let runner = Runner::new(
        FlowUnderTest::InProcess(registered.factory),
        RunOptions::default(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    for case in cases() {
        registered.runs.take();
        let result = run_case(
            &runner,
            &case.id,
            &case.path,
            &case.scenario,
            CaseSettings::default(),
        )
        .await;
        let runs = registered.runs.take();
        let why = explain(&result, &runs);
        out.push((result, why));
    }
    out
}

/// Every case of the flow's trigger passes; returns how many ran.
async fn passes_every_case(file: &str, index: usize) -> usize {
    let results = run_all(file, index, None).await;
    let failed: Vec<&String> = results
        .iter()
        .filter(|(r, _)| !matches!(r.outcome, Outcome::Pass | Outcome::Skipped))
        .map(|(_, why)| why)
        .collect();
    assert!(
        failed.is_empty(),
        "{file}: {} case(s) failed:\n{}",
        failed.len(),
        failed.iter().map(|s| s.as_str()).collect::<String>()
    );
    let ran = results
        .iter()
        .filter(|(r, _)| r.outcome == Outcome::Pass)
        .count();
    assert!(ran > 0, "{file}: no case applies to it");
    ran
}

/// Some case fails on a behavioural check; returns the explanations of the failed cases.
async fn fails_a_behavioural_check(file: &str, mistake: &str) -> Vec<String> {
    let results = run_all(file, 0, Some(mistake)).await;
    let behavioural: Vec<String> = results
        .iter()
        .filter(|(r, _)| r.outcome == Outcome::Fail)
        .filter(|(r, _)| r.failures.iter().any(|f| f.check != "subscriptions"))
        .map(|(_, why)| why.clone())
        .collect();
    assert!(
        !behavioural.is_empty(),
        "the broken definition {file} ({mistake}) passed every behavioural check"
    );
    behavioural
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teams_definition_passes_every_refresh_failed_case() {
    assert!(passes_every_case("teams-on-refresh-failure.json", 0).await >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_definition_passes_every_segment_case() {
    assert!(passes_every_case("packages/email-on-segment-threshold.zip", 0).await >= 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_definition_passes_every_full_refresh_case() {
    assert!(passes_every_case("export-on-full-refresh.json", 0).await >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logic_apps_standard_export_passes_every_full_refresh_case() {
    assert!(passes_every_case("logic-apps/export-on-full-refresh/workflow.json", 0).await >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flows_for_the_other_triggers_pass_their_cases() {
    passes_every_case("teams-on-measure-threshold.arm.json", 0).await;
    // The second flow of the solution export.
    passes_every_case("packages/contoso-customer-insights-solution.zip", 1).await;
    passes_every_case("unification-summary.definition.json", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_until_with_the_default_count_stops_at_6000_rows_and_is_caught() {
    let why = fails_a_behavioural_check(
        "broken/export-until-default-count.json",
        "the Until loop keeps the default limit of 60 iterations: 6,000 rows at most",
    )
    .await;
    let all = why.join("\n");
    assert!(
        all.contains("paging/export-survives-the-call-limit"),
        "{all}"
    );
    assert!(
        all.contains("action 'Until_every_page_is_exported' (Until): stopped after 60 iterations"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_pages_sharing_a_variable_fetch_duplicates_and_are_caught() {
    let why = fails_a_behavioural_check(
        "broken/export-parallel-pages.json",
        "Apply to each with concurrency 20 sets a shared Skip variable: pages are fetched twice",
    )
    .await;
    let all = why.join("\n");
    assert!(
        all.contains("paging/export-visits-every-customer-once"),
        "{all}"
    );
    assert!(
        all.contains("action 'Apply_to_each_page' (Foreach): ran 20 iterations at once"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_call_without_retries_is_caught_under_the_call_limit() {
    let why = fails_a_behavioural_check(
        "broken/export-http-no-retry.json",
        "the HTTP action calls the API with retryPolicy none: a 429 fails it",
    )
    .await;
    let all = why.join("\n");
    assert!(
        all.contains("call-limit/no-call-before-retry-after"),
        "{all}"
    );
    assert!(
        all.contains("action 'Get_a_page_of_customers' (Http): was throttled (429"),
        "{all}"
    );
    // The same finding in every iteration is counted once.
    assert!(
        all.contains("failed at once instead of waiting and retrying (×"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_compared_as_text_misses_crossings_and_is_caught() {
    let why = fails_a_behavioural_check(
        "broken/email-threshold-as-string.json",
        "compares counts with the threshold as text: '900' is above '1000'",
    )
    .await;
    let all = why.join("\n");
    assert!(
        all.contains("segment/fires-once-per-upward-crossing"),
        "{all}"
    );
}
