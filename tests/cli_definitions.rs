//! `insightsim run --flow-definition` and `insightsim definition check` as a user runs them, on
//! the real binary: the reference definitions pass (their transcripts matching the snapshots),
//! a broken one fails naming the action at fault, and a definition with unsupported constructs
//! gets every one listed with its JSON path, with the documented exit codes (0 every flow can
//! run, 1 unsupported constructs, 2 unreadable input).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn definition(file: &str) -> String {
    root()
        .join("flows/definitions")
        .join(file)
        .display()
        .to_string()
}

/// Runs the binary in the repository (so `scenarios/` and `snapshots/` are the suite's) as on
/// CI (snapshots are checked, never written); returns the exit code, stdout and stderr.
fn insightsim(args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_insightsim"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("INSIGHTSIM_") {
            command.env_remove(key);
        }
    }
    let out = command
        .args(args)
        .current_dir(root())
        .env("CI", "true")
        .env_remove("INSTA_UPDATE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn passed(out: &str) -> usize {
    let summary = out
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary line: {out}"));
    summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {summary}"))
}

#[test]
fn every_reference_definition_passes_its_cases_with_its_snapshots() {
    for (file, name) in [
        (
            "teams-on-refresh-failure.json",
            "definition-teams-on-refresh-failure",
        ),
        (
            "packages/email-on-segment-threshold.zip",
            "definition-email-on-segment-threshold",
        ),
        (
            "export-on-full-refresh.json",
            "definition-export-on-full-refresh",
        ),
        (
            "logic-apps/export-on-full-refresh/workflow.json",
            "definition-logic-apps-export-on-full-refresh",
        ),
        (
            "status-report-on-refresh-succeeded.json",
            "definition-status-report-on-refresh-succeeded",
        ),
        (
            "teams-on-measure-threshold.arm.json",
            "definition-teams-on-measure-threshold",
        ),
        (
            "unification-summary.definition.json",
            "definition-unification-summary",
        ),
    ] {
        let (code, out, err) = insightsim(&[
            "run",
            "--flow-definition",
            &definition(file),
            "--flow-name",
            name,
        ]);
        assert_eq!(code, 0, "{file}:\n{out}\n{err}");
        assert!(passed(&out) >= 7, "{file}:\n{out}");
        assert!(!out.contains("FAIL "), "{file}:\n{out}");
    }
}

/// Several files, and a solution with two flows: every flow is graded in turn under its own
/// name, and the reports hold them all.
#[test]
fn several_definitions_and_a_solution_run_one_flow_each() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let (code, out, err) = insightsim(&[
        "run",
        "--flow-definition",
        &definition("packages/contoso-customer-insights-solution.zip"),
        "--flow-definition",
        &definition("teams-on-refresh-failure.json"),
        "--snapshots",
        dir.path().to_str().unwrap(),
        "--accept",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    for flow in [
        "[ExportOnFullRefresh]",
        "[StatusReportOnRefreshSucceeded]",
        "[teams-on-refresh-failure]",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("PASS  ") && l.contains(flow)),
            "{flow}: {out}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let flows: std::collections::BTreeSet<&str> =
        cases.iter().filter_map(|c| c["flow"].as_str()).collect();
    assert_eq!(flows.len(), 3, "{flows:?}");
    // A definition's run history is in the JSON report: each run with its actions.
    let with_runs = cases
        .iter()
        .find(|c| c["runs"].as_array().is_some_and(|r| !r.is_empty()))
        .unwrap_or_else(|| panic!("no case has runs"));
    assert!(
        with_runs["runs"][0]["actions"][0]["name"].is_string(),
        "{with_runs}"
    );
}

#[test]
fn a_broken_definition_fails_naming_the_action_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = insightsim(&[
        "run",
        "--flow-definition",
        &definition("broken/export-until-default-count.json"),
        "--filter",
        "paging/",
        "--snapshots",
        dir.path().to_str().unwrap(),
        "--accept",
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("FAIL  paging/export-survives-the-call-limit"),
        "{out}"
    );
    assert!(
        out.contains("action 'Until_every_page_is_exported' (Until): stopped after 60 iterations"),
        "{out}"
    );
    assert!(
        out.contains("reproduce: insightsim run --flow-definition "),
        "{out}"
    );
}

fn unsupported(dir: &Path) -> PathBuf {
    let path = dir.join("unsupported.json");
    let flow = serde_json::json!({
        "properties": {
            "displayName": "everything wrong",
            "definition": {
                "triggers": {"Every_day": {"type": "Recurrence", "recurrence": {"frequency": "Day", "interval": 1}}},
                "actions": {
                    "Get": {"type": "OpenApiConnection", "inputs": {"host": {"connectionName": "shared_customerinsights", "operationId": "GetEverything"}, "parameters": {}}},
                    "Typo": {"type": "Compose", "inputs": "@triggerBodyy()", "runAfter": {"Get": ["Succeeded"]}},
                    "Later": {"type": "Compose", "inputs": "x", "runAfter": {"Nowhere": ["Succeeded"]}},
                    "Odd": {"type": "Workflow", "inputs": {}}
                }
            },
            "connectionReferences": {"shared_customerinsights": {"api": {"name": "shared_customerinsights"}}}
        }
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&flow).unwrap()).unwrap();
    path
}

#[test]
fn check_lists_every_unsupported_construct_with_its_path_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = unsupported(dir.path());
    let (code, out, err) = insightsim(&["definition", "check", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    for expected in [
        "$.properties.definition.triggers.Every_day.type",
        "trigger type \"Recurrence\" is not supported",
        "$.properties.definition.actions.Get.inputs.host.operationId",
        "unknown operation \"GetEverything\"",
        "unknown function triggerBodyy(); did you mean triggerBody()?",
        "$.properties.definition.actions.Later.runAfter",
        "$.properties.definition.actions.Odd.type",
    ] {
        assert!(out.contains(expected), "{expected}:\n{out}");
    }
    assert!(out.contains("1 flow(s), 0 runnable, 1 with "), "{out}");
    assert!(!err.contains("panicked"), "{err}");

    // Running it is refused before anything runs, with the reasons, as bad input.
    let (code, out, err) = insightsim(&["run", "--flow-definition", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("cannot run") && err.contains("GetEverything"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn check_exits_0_when_every_flow_can_run() {
    let (code, out, err) = insightsim(&[
        "definition",
        "check",
        &definition("teams-on-refresh-failure.json"),
        &definition("packages/contoso-customer-insights-solution.zip"),
        &definition("logic-apps/export-on-full-refresh/workflow.json"),
        &definition("teams-on-measure-threshold.arm.json"),
        &definition("unification-summary.definition.json"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out.matches("\nok    ").count() + usize::from(out.starts_with("ok    ")),
        6,
        "{out}"
    );
}

#[test]
fn check_exits_2_on_input_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("flow.json");
    std::fs::write(&not_json, "{ not json").unwrap();
    let missing = dir.path().join("missing.zip");
    let (code, out, err) = insightsim(&[
        "definition",
        "check",
        not_json.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("not valid JSON at line 1, column 3"), "{out}");
    assert!(out.contains("cannot read"), "{out}");
    // An operation map that cannot be read is bad input too.
    let (code, _, err) = insightsim(&[
        "definition",
        "check",
        &definition("teams-on-refresh-failure.json"),
        "--operation-map",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read the operation map"), "{err}");
    // And so is a --flow-definition that is no definition.
    let (code, _, err) = insightsim(&["run", "--flow-definition", not_json.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not valid JSON"), "{err}");
}

/// `--operation-map` maps an operation id the built-in map does not know: the definition that
/// uses it then checks clean and runs.
#[test]
fn an_operation_map_makes_an_unknown_operation_known() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(definition("teams-on-refresh-failure.json"))
        .unwrap()
        .replace("\"CreateItem\"", "\"CreateRecord\"");
    assert!(text.contains("CreateRecord"));
    let flow = dir.path().join("flow.json");
    std::fs::write(&flow, text).unwrap();
    let (code, out, _) = insightsim(&["definition", "check", flow.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown operation \"CreateRecord\""), "{out}");

    let map = dir.path().join("operations.toml");
    std::fs::write(
        &map,
        r#"[[operation]]
connector = "customerinsights"
id = "CreateRecord"
title = "Create a record (as a tenant's connector names it)"
path = "POST /datasets/{dataset}/tables/{table}/records"
api = "POST data/{table}"
body = "item"
"#,
    )
    .unwrap();
    let (code, out, err) = insightsim(&[
        "definition",
        "check",
        flow.to_str().unwrap(),
        "--operation-map",
        map.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = insightsim(&[
        "run",
        "--flow-definition",
        flow.to_str().unwrap(),
        "--operation-map",
        map.to_str().unwrap(),
        "--flow-name",
        "definition-teams-on-refresh-failure",
        // The copy outside `flows/definitions/` is compared with the shipped flow's snapshots.
        "--snapshots",
        "snapshots",
        "--filter",
        "datasource/",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
}
