//! The ecosystem commands as a user runs them: `schema` (all three kinds, and the old form with no
//! argument), `openapi`, `connector export`.

use std::process::Command;

fn insightsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_insightsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn schema_prints_each_kind_and_defaults_to_the_scenario() {
    let (code, plain, _) = insightsim(&["schema"]);
    assert_eq!(code, 0);
    let (_, scenario, _) = insightsim(&["schema", "scenario"]);
    assert_eq!(
        plain, scenario,
        "`schema` alone still prints the scenario schema"
    );
    assert_eq!(json(&scenario)["$id"], "urn:insightsim:scenario:format-1");
    let (_, tenant, _) = insightsim(&["schema", "tenant"]);
    assert_eq!(json(&tenant)["$id"], "urn:insightsim:tenant");
    let (_, xfail, _) = insightsim(&["schema", "expected-failures"]);
    assert_eq!(
        json(&xfail)["$id"],
        "urn:insightsim:expected-failures:format-1"
    );
    let (code, _, err) = insightsim(&["schema", "flows"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected-failures"), "{err}");
}

#[test]
fn openapi_prints_the_document_with_and_without_the_control_api() {
    let (code, out, _) = insightsim(&["openapi", "--server-url", "http://127.0.0.1:9999/"]);
    assert_eq!(code, 0);
    let doc = json(&out);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:9999");
    assert!(doc["paths"]["/_sim/state"].is_null());
    let (_, out, _) = insightsim(&["openapi", "--include-control"]);
    assert!(!json(&out)["paths"]["/_sim/state"]["get"].is_null());
}

#[test]
fn connector_export_writes_both_files_and_refuses_a_bad_host() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("connector");
    let target_text = target.to_str().unwrap();
    let (code, out, err) = insightsim(&[
        "connector",
        "export",
        target_text,
        "--host",
        "https://abc.example.app",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("apiDefinition.swagger.json"), "{out}");
    let definition =
        json(&std::fs::read_to_string(target.join("apiDefinition.swagger.json")).unwrap());
    assert_eq!(definition["swagger"], "2.0");
    assert_eq!(definition["host"], "abc.example.app");
    let properties = json(&std::fs::read_to_string(target.join("apiProperties.json")).unwrap());
    assert_eq!(properties["properties"]["capabilities"][1], "triggers");
    let (code, _, err) = insightsim(&[
        "connector",
        "export",
        target_text,
        "--host",
        "abc.example.app",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("e.g. https://"), "{err}");
}
