//! The shipped flow definitions (`flows/definitions/`, listed in `SHIPPED`) run through the
//! harness in-process, each held to the manifest read from it: every reference definition passes
//! every case that is for it, its transcripts matching the snapshots (the forms of one flow share
//! them), and every broken one fails at least one case on a behavioural check, with a message
//! naming the action at fault. Turning a definition off unsubscribes; its runs reach the
//! transcript and the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use harness::case::{CaseSettings, run_case};
use harness::check::is_behavioural;
use harness::flow::definition::{
    Registered, SHIPPED, Shipped, explain, manifest_of, register, register_as,
};
use harness::manifest::{Destination, Manifest};
use harness::outcome::{CaseResult, Outcome};
use harness::replay::{FlowUnderTest, RunOptions, Runner};
use harness::scenario::{Case, load_suite};
use harness::snapshot::{Mode, SnapshotStore};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cases() -> Vec<Case> {
    let scenarios = root().join("scenarios");
    load_suite(&scenarios, std::slice::from_ref(&scenarios))
        .unwrap_or_else(|e| panic!("the suite does not load: {e:?}"))
        .cases
}

fn load(file: &str, index: usize) -> flowdef::LoadedFlow {
    let path = root().join("flows/definitions").join(file);
    let mut flows = flowdef::load(&path).unwrap_or_else(|e| panic!("{e}"));
    flows.remove(index)
}

fn shipped(file: &str, index: usize) -> Shipped {
    *SHIPPED
        .iter()
        .find(|s| s.file == file && s.index == index)
        .unwrap_or_else(|| panic!("{file} #{index} is not in SHIPPED"))
}

fn registered(s: &Shipped) -> Registered {
    register_as(
        load(s.file, s.index),
        s.name,
        Arc::new(flowdef::OperationMap::built_in()),
        s.broken,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A runner for the definition, held to the manifest read from it.
async fn runner(r: &Registered) -> Runner {
    let manifest = r.manifest.clone().unwrap_or_else(|e| panic!("{e}"));
    Runner::new(
        FlowUnderTest::InProcess(r.factory),
        RunOptions {
            manifest: Some(manifest),
            ..RunOptions::default()
        },
    )
    .await
    .unwrap()
}

/// Runs every case against the shipped definition, comparing snapshots for a correct one;
/// returns each case's result with the explanation of a failure.
async fn run_all(s: &Shipped) -> Vec<(CaseResult, String)> {
    let r = registered(s);
    let runner = runner(&r).await;
    let mode = Mode::from_env(false).unwrap();
    let store = SnapshotStore::new(root().join("snapshots"), mode).with_source("insightsim run");
    let mut out = Vec::new();
    for case in cases() {
        let settings = CaseSettings {
            snapshots: s.broken.is_none().then_some(&store),
            xfail: None,
        };
        let input = case.path.strip_prefix(root()).unwrap_or(&case.path);
        let result = run_case(&runner, &case.id, input, &case.scenario, settings).await;
        let why = explain(&result);
        out.push((result, why));
    }
    out
}

/// Every case for the flow passes, snapshots included; returns how many ran.
async fn passes_every_case(file: &str, index: usize) -> usize {
    let results = run_all(&shipped(file, index)).await;
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
    assert!(ran > 0, "{file}: no case is for it");
    ran
}

/// Some case fails on a behavioural check; returns the explanations of those cases.
async fn fails_a_behavioural_check(file: &str) -> Vec<String> {
    let s = shipped(file, 0);
    let results = run_all(&s).await;
    let behavioural: Vec<String> = results
        .iter()
        .filter(|(r, _)| r.outcome == Outcome::Fail)
        .filter(|(r, _)| r.failures.iter().any(|f| is_behavioural(&f.check)))
        .map(|(_, why)| why.clone())
        .collect();
    assert!(
        !behavioural.is_empty(),
        "the broken definition {file} ({}) passed every behavioural check",
        s.broken.unwrap_or_default()
    );
    behavioural
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teams_definition_passes_every_refresh_failed_case() {
    assert!(passes_every_case("teams-on-refresh-failure.json", 0).await >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_definition_passes_every_segment_case_as_json_and_as_a_package() {
    let json = passes_every_case("email-on-segment-threshold.json", 0).await;
    let package = passes_every_case("packages/email-on-segment-threshold.zip", 0).await;
    assert!(json >= 9);
    assert_eq!(json, package);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_definition_passes_every_full_refresh_case_as_json_and_in_a_solution() {
    let json = passes_every_case("export-on-full-refresh.json", 0).await;
    let solution = passes_every_case("packages/contoso-customer-insights-solution.zip", 0).await;
    assert!(json >= 8);
    assert_eq!(json, solution);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logic_apps_standard_export_passes_every_full_refresh_case() {
    assert!(passes_every_case("logic-apps/export-on-full-refresh/workflow.json", 0).await >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flows_for_the_other_triggers_pass_their_cases() {
    passes_every_case("teams-on-measure-threshold.arm.json", 0).await;
    passes_every_case("status-report-on-refresh-succeeded.json", 0).await;
    passes_every_case("packages/contoso-customer-insights-solution.zip", 1).await;
    passes_every_case("unification-summary.definition.json", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_until_with_the_default_count_stops_at_6000_rows_and_is_caught() {
    let all = fails_a_behavioural_check("broken/export-until-default-count.json")
        .await
        .join("\n");
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
    let all = fails_a_behavioural_check("broken/export-parallel-pages.json")
        .await
        .join("\n");
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
    let all = fails_a_behavioural_check("broken/export-http-no-retry.json")
        .await
        .join("\n");
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
    let all = fails_a_behavioural_check("broken/email-threshold-as-string.json")
        .await
        .join("\n");
    assert!(
        all.contains("segment/fires-once-per-upward-crossing"),
        "{all}"
    );
}

/// What each shipped definition is for, read from it: the trigger and inputs, the destination
/// of its effects, the names and numbers they carry, the entity it exports.
#[test]
fn the_manifest_of_each_shipped_definition_is_read_from_it() {
    let map = flowdef::OperationMap::built_in();
    let of = |file: &str, index: usize| {
        manifest_of(&load(file, index), &map).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let check = |m: Manifest,
                 trigger: &str,
                 inputs: &[&str],
                 effect: Destination,
                 echo: &[&str],
                 exports: Option<&str>| {
        let h = &m.handles[0];
        assert_eq!(m.handles.len(), 1);
        assert_eq!(h.trigger, trigger);
        assert_eq!(h.inputs.as_deref().unwrap_or_default(), inputs, "{trigger}");
        assert_eq!(h.effect, effect, "{trigger}");
        assert_eq!(h.echo, echo, "{trigger}");
        assert_eq!(h.exports.as_deref(), exports, "{trigger}");
    };
    check(
        of("teams-on-refresh-failure.json", 0),
        "datasource-refresh-failed",
        &["dataSourceName"],
        Destination::Teams,
        &["dataSourceName", "eventId", "friendlyName", "jobId"],
        None,
    );
    check(
        of("packages/email-on-segment-threshold.zip", 0),
        "segment-threshold-crossed",
        &["segmentName", "threshold"],
        Destination::Email,
        &[
            "entityCount",
            "friendlyName",
            "previousCount",
            "segmentName",
            "threshold",
        ],
        None,
    );
    for (file, index) in [
        ("export-on-full-refresh.json", 0),
        ("logic-apps/export-on-full-refresh/workflow.json", 0),
        ("broken/export-http-no-retry.json", 0),
        ("broken/export-parallel-pages.json", 0),
    ] {
        check(
            of(file, index),
            "full-refresh-completed",
            &[],
            Destination::Http,
            &[],
            Some("Customer"),
        );
    }
    check(
        of("teams-on-measure-threshold.arm.json", 0),
        "measure-threshold-crossed",
        &["measureName", "threshold"],
        Destination::Teams,
        &["displayName", "measureName", "previousValue", "value"],
        None,
    );
    check(
        of("packages/contoso-customer-insights-solution.zip", 1),
        "datasource-refresh-succeeded",
        &["dataSourceName"],
        Destination::Email,
        // The e-mail carries these; the event id goes to the status report, not the effect.
        &["dataSourceName", "friendlyName", "lastRefresh"],
        None,
    );
    check(
        of("unification-summary.definition.json", 0),
        "unification-completed",
        &[],
        Destination::Http,
        // The posted summary carries these; the event id keys the activity, not the effect.
        &["jobId", "taskStatus", "unifiedCustomerCount"],
        None,
    );
}

/// A definition whose effects go nowhere insightsim sees, or to several destinations, gets no
/// manifest, with a reason that says what to do.
#[test]
fn a_definition_without_one_destination_has_no_manifest_and_says_why() {
    let map = flowdef::OperationMap::built_in();
    let definition = |actions: serde_json::Value| {
        let def = serde_json::json!({
            "triggers": {"When_done": {"type": "OpenApiConnectionWebhook", "inputs": {"host": {"connectionName": "shared_customerinsights", "operationId": "OnFullRefreshCompleted"}, "parameters": {}}}},
            "actions": actions
        });
        let bytes = serde_json::to_vec(&def).unwrap();
        flowdef::load_bytes(&bytes, "flow.json", &map, &|_| None)
            .unwrap()
            .remove(0)
    };
    let none = manifest_of(&definition(serde_json::json!({})), &map).unwrap_err();
    assert!(
        none.contains("posts to no Teams channel, sends no e-mail and calls no HTTP endpoint")
            && none.ends_with("give its manifest with --manifest FILE"),
        "{none}"
    );
    let two = definition(serde_json::json!({
        "Post": {"type": "Http", "inputs": {"method": "POST", "uri": "https://example.com/a", "body": "x"}},
        "Mail": {"type": "OpenApiConnection", "inputs": {"host": {"connectionName": "shared_office365", "operationId": "SendEmailV2"}, "parameters": {"emailMessage/To": "a@b.c", "emailMessage/Subject": "s", "emailMessage/Body": "b"}}}
    }));
    let several = manifest_of(&two, &map).unwrap_err();
    assert!(
        several.contains("has effects at 2 destinations (mail (email), post (http))"),
        "{several}"
    );
}

/// Turning the flow off when the case ends deletes its subscription (the journal has the
/// `DELETE` of its `Location`, by the flow's connection), and its runs reach the case's
/// transcript and result as the run history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_the_flow_off_unsubscribes_and_its_runs_reach_the_transcript() {
    let case = cases()
        .into_iter()
        .find(|c| c.id == "datasource/refresh-failed-fires-on-permanent-failure")
        .expect("the case exists");
    let r = registered(&shipped("teams-on-refresh-failure.json", 0));
    let runner = runner(&r).await;
    let run = runner.run(&case.scenario).await;
    let sub = &run.subscriptions[0];
    let delete = run
        .journal
        .iter()
        .find(|e| e.method == "DELETE")
        .unwrap_or_else(|| panic!("no DELETE in the journal: {:#?}", run.journal));
    assert!(
        delete.target.ends_with(&format!(
            "/triggers/datasource-refresh-failed/subscriptions/{}",
            sub.id
        )),
        "{}",
        delete.target
    );
    assert_eq!(delete.status, 204);
    assert_eq!(delete.connection, run.journal[0].connection);
    assert_eq!(delete.at, run.end, "turned off when the case ends");
    assert!(run.subscriptions.iter().all(|s| s.deleted_at.is_some()));

    let result = run_case(
        &runner,
        &case.id,
        &case.path,
        &case.scenario,
        CaseSettings::default(),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Pass, "{}", explain(&result));
    let run1 = &result.runs[0];
    assert_eq!(
        (
            run1.id.as_str(),
            run1.event.as_deref(),
            run1.status.as_str()
        ),
        ("run1", Some("ev1"), "Succeeded")
    );
    let names: Vec<&str> = run1.actions.iter().map(|a| a.name.as_str()).collect();
    assert!(
        names.contains(&"Record_the_event") && names.contains(&"Post_message_in_a_chat_or_channel"),
        "{names:?}"
    );
    let transcript = &result.transcript;
    assert!(
        transcript
            .lines()
            .any(|l| l
                .contains(" run       run1 When_a_data_source_refresh_fails ev1 -> Succeeded in ")),
        "{transcript}"
    );
    assert!(
        transcript.lines().any(|l| l.contains(
            " action    run1 Post_message_in_a_chat_or_channel (OpenApiConnection) Succeeded 202 in 0s in={"
        )),
        "{transcript}"
    );
    assert!(
        transcript.lines().any(|l| l.ends_with(
            "call      DELETE triggers/datasource-refresh-failed/subscriptions/sub1 -> 204"
        )),
        "{transcript}"
    );
    // Ids are named as in the rest of the transcript.
    assert!(
        !transcript.contains(&run.events[0].event_id),
        "{transcript}"
    );
}

#[test]
fn a_definition_that_cannot_run_is_refused_with_every_reason() {
    let path = root().join("flows/definitions/teams-on-refresh-failure.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("OnDataSourceRefreshFailed", "OnSomethingElse");
    let map = flowdef::OperationMap::built_in();
    let flow = flowdef::load_bytes(text.as_bytes(), "flow.json", &map, &|_| None)
        .unwrap()
        .remove(0);
    let err = register(flow, Arc::new(map), None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("unknown trigger operation \"OnSomethingElse\"")
            && text.ends_with("`insightsim definition check` lists every problem"),
        "{text}"
    );
}

/// A definition's failed case shows its run history in every report: the console's and JUnit's
/// failure text (what the flow did, then the run history), the JSON report's `runs` and the
/// HTML report's case section, naming the action at fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_history_of_a_failed_case_is_in_every_report() {
    use harness::report::{Console, RunMeta, html, json, junit};

    let case = cases()
        .into_iter()
        .find(|c| c.id == "paging/export-survives-the-call-limit")
        .expect("the case exists");
    let r = registered(&shipped("broken/export-until-default-count.json", 0));
    let runner = runner(&r).await;
    let result = run_case(
        &runner,
        &case.id,
        &case.path,
        &case.scenario,
        CaseSettings::default(),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Fail, "{}", explain(&result));
    let finding = "action 'Until_every_page_is_exported' (Until): stopped after 60 iterations";
    let results = [result];

    let mut console = Console::new(Vec::new());
    console.case(&results[0]).unwrap();
    let console = String::from_utf8(console.into_inner()).unwrap();
    assert!(console.contains("what the flow did:"), "{console}");
    assert!(console.contains(finding), "{console}");
    assert!(console.contains("run history, 1 run(s)"), "{console}");

    let xml = junit(&results, false).unwrap();
    // Quotes are escaped in XML: look for the parts around them.
    assert!(
        xml.contains("Until_every_page_is_exported")
            && xml.contains("(Until): stopped after 60 iterations")
            && xml.contains("run history, 1 run(s)"),
        "{xml}"
    );

    let meta = RunMeta {
        flow: results[0].flow.clone(),
        seed: None,
        strict: false,
        started: "2026-12-01T00:00:00Z".into(),
        version: "test".into(),
    };
    let value = json(&results, false, &meta);
    let runs = &value["cases"][0]["runs"];
    assert_eq!(runs[0]["id"], "run1", "{value}");
    assert!(
        runs[0]["actions"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x["name"] == "Until_every_page_is_exported")),
        "{runs}"
    );
    assert!(
        runs[0]["findings"][0]
            .as_str()
            .is_some_and(|f| f.contains(finding)),
        "{runs}"
    );

    let page = html(&results, false, &meta);
    assert!(page.contains("<h3>Run history</h3>"), "{page}");
    assert!(page.contains("data-run=\"run1\""), "{page}");
    assert!(page.contains("Until_every_page_is_exported"), "{page}");
}
