//! `check`: every unsupported construct at once, with its JSON path; clear load errors; and no
//! panic on any input.

use std::path::PathBuf;

use flowdef::{LoadError, OperationMap, load_bytes};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Checks `v` written to a file of its own (tests run in parallel).
fn check_json(v: &Value) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("flowdef-check-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("flow.json");
    std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
    let report = flowdef::check(&path);
    let text = report
        .to_string()
        .replace(&path.display().to_string(), "flow.json");
    std::fs::remove_dir_all(&dir).unwrap();
    text
}

#[test]
fn lists_every_unsupported_construct_with_its_json_path() {
    let flow = json!({"properties": {"displayName": "everything wrong", "definition": {
        "triggers": {"Every_day": {"type": "Recurrence", "recurrence": {"frequency": "Day", "interval": 1}}},
        "actions": {
            "List_rows": {"type": "OpenApiConnection", "inputs": {"host": {"connectionName": "shared_commondataserviceforapps", "operationId": "ListRecords"}}},
            "Get": {"type": "OpenApiConnection", "inputs": {"host": {"connectionName": "shared_customerinsights", "operationId": "GetEverything"}}},
            "Xml": {"type": "Compose", "inputs": "@xpath(xml('<a/>'), '/a')"},
            "Typo": {"type": "Compose", "inputs": "@{triggerBodyy()}", "runAfter": {"Nowhere": ["Succeeded"]}},
            "Run_a_child_flow": {"type": "Workflow", "inputs": {}},
            "Loop": {"type": "Until", "expression": "@true", "limit": {"count": 6000}, "actions": {}},
            "Set": {"type": "SetVariable", "inputs": {"name": "never_declared", "value": 1}}
        }
    }}});
    let text = check_json(&flow);
    let expected = [
        "FAIL  everything wrong (flow.json; Power Automate flow JSON; no runnable trigger): 10 unsupported construct(s)",
        "$.properties.definition.triggers.Every_day.type",
        "trigger type \"Recurrence\" is not supported",
        "$.properties.definition.actions.Get.inputs.host.operationId",
        "unknown operation \"GetEverything\" of the customerinsights connector; the known ones are GetItems, GetItem, CreateItem",
        "(map yours with --operation-map FILE, see docs/flow-definitions.md)",
        "$.properties.definition.actions.List_rows.inputs.host",
        "is of a connector insightsim does not provide",
        "$.properties.definition.actions.Loop.limit.count",
        "the Until count must be from 1 to 5000, not 6000",
        "$.properties.definition.actions.Run_a_child_flow.type",
        "action type \"Workflow\" is not supported",
        "$.properties.definition.actions.Typo.inputs",
        "unknown function triggerBodyy(); did you mean triggerBody()?",
        "$.properties.definition.actions.Xml.inputs",
        "the function xpath() is not supported by insightsim",
        "the function xml() is not supported by insightsim",
        "$.properties.definition.actions.Typo.runAfter.Nowhere",
        "runAfter names \"Nowhere\", which is not an action at this level",
        "$.properties.definition.actions.Set.inputs.name",
        "the variable \"never_declared\" is never initialized",
        "1 flow(s), 0 runnable, 1 with 10 problem(s)",
    ];
    for e in expected {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
}

#[test]
fn a_clean_flow_reports_ok_with_its_trigger_and_size() {
    let flow = json!({"triggers": {"T": {"type": "OpenApiConnectionWebhook", "inputs": {
            "host": {"connectionName": "shared_customerinsights", "operationId": "OnUnificationCompleted"}}}},
        "actions": {"A": {"type": "Compose", "inputs": 1}}});
    assert_eq!(
        check_json(&flow),
        "ok    flow (flow.json; workflow definition; unification-completed; 1 action(s))\n1 flow(s), 1 runnable, 0 with 0 problem(s)\n"
    );
}

fn load(bytes: &[u8]) -> Result<Vec<flowdef::LoadedFlow>, LoadError> {
    load_bytes(bytes, "input", &OperationMap::built_in(), &|_| None)
}

#[test]
fn load_errors_name_the_file_and_say_what_was_expected() {
    let e = load(b"{\"triggers\": ").unwrap_err().to_string();
    assert!(
        e.starts_with("input: not valid JSON at line 1, column 13"),
        "{e}"
    );
    let e = load(b"[1, 2]").unwrap_err().to_string();
    assert!(
        e.starts_with(
            "input: not a flow definition; expected a Power Automate or solution .zip export"
        ),
        "{e}"
    );
    let e = load(b"PK\x03\x04garbage").unwrap_err().to_string();
    assert!(
        e.starts_with("input: not a zip archive the loader can read"),
        "{e}"
    );
    let e = flowdef::load(std::path::Path::new("/nonexistent/flow.json"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read /nonexistent/flow.json: "), "{e}");
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            "\\PC{0,12}",
            Just("@triggerBody()?['x']".to_owned()),
            Just("@{add(1, 'a')}".to_owned()),
            Just("OpenApiConnection".to_owned()),
            Just("Foreach".to_owned()),
            Just("Until".to_owned()),
            Just("If".to_owned()),
            Just("OpenApiConnectionWebhook".to_owned()),
            Just("shared_customerinsights".to_owned()),
            Just("GetItems".to_owned()),
        ]
        .prop_map(Value::String),
    ];
    let keys = prop_oneof![
        "[a-z]{1,6}",
        Just("type".to_owned()),
        Just("inputs".to_owned()),
        Just("actions".to_owned()),
        Just("triggers".to_owned()),
        Just("runAfter".to_owned()),
        Just("host".to_owned()),
        Just("connectionName".to_owned()),
        Just("operationId".to_owned()),
        Just("expression".to_owned()),
        Just("limit".to_owned()),
        Just("parameters".to_owned()),
        Just("properties".to_owned()),
        Just("definition".to_owned()),
        Just("resources".to_owned()),
        Just("retryPolicy".to_owned()),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((keys.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any bytes give flows or an error, never a panic.
    #[test]
    fn the_loader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = load(&bytes);
        let mut zipped = b"PK\x03\x04".to_vec();
        zipped.extend(&bytes);
        let _ = load(&zipped);
    }

    /// Any JSON, including shapes close to a definition's, gives flows or an error, never a
    /// panic; a flow that loads either runs or says why not.
    #[test]
    fn the_loader_never_panics_on_json(v in arb_json()) {
        for wrapped in [
            v.clone(),
            json!({"triggers": v.clone(), "actions": v.clone()}),
            json!({"properties": {"definition": {"actions": v.clone()}}}),
            json!({"resources": [{"type": "Microsoft.Logic/workflows", "properties": {"definition": v.clone()}}]}),
        ] {
            if let Ok(flows) = load(&serde_json::to_vec(&wrapped).unwrap()) {
                for f in flows {
                    prop_assert!(f.is_runnable() || !f.problems.is_empty() || f.definition.trigger.is_none());
                }
            }
        }
    }
}

/// An Apply to each that does not say how many iterations run at once gets its platform's
/// default: 1 in a Power Automate export (its limits page), 20 in a Logic Apps workflow or a
/// bare definition (Logic Apps' page); `repetitions` and `Sequential` say so everywhere, and a
/// `repetitions` over 50 is a problem with its path.
#[test]
fn the_default_foreach_concurrency_follows_the_platform() {
    let definition = |runtime: Value| {
        let mut each = json!({"type": "Foreach", "foreach": "@createArray(1, 2)", "actions": {}});
        if !runtime.is_null() {
            each["runtimeConfiguration"] = runtime;
        }
        json!({"triggers": {"T": {"type": "OpenApiConnectionWebhook", "inputs": {
                "host": {"connectionName": "shared_customerinsights", "operationId": "OnUnificationCompleted"}}}},
            "actions": {"Each": each}})
    };
    let concurrency = |flow: &flowdef::LoadedFlow| match &flow.definition.actions["Each"].kind {
        flowdef::model::ActionKind::Foreach { concurrency, .. } => *concurrency,
        other => panic!("not a Foreach: {other:?}"),
    };
    let bare = |runtime: Value| {
        let bytes = serde_json::to_vec(&definition(runtime)).unwrap();
        load(&bytes).unwrap().remove(0)
    };
    let power_automate = |runtime: Value| {
        let flow = json!({"properties": {"displayName": "pa", "definition": definition(runtime),
            "connectionReferences": {"shared_customerinsights": {"api": {"name": "shared_customerinsights"}}}}});
        load(&serde_json::to_vec(&flow).unwrap()).unwrap().remove(0)
    };
    let pa = power_automate(Value::Null);
    assert_eq!(pa.format, flowdef::Format::FlowJson);
    assert_eq!(concurrency(&pa), 1);
    assert_eq!(concurrency(&bare(Value::Null)), 20);
    let five = json!({"concurrency": {"repetitions": 5}});
    assert_eq!(concurrency(&power_automate(five.clone())), 5);
    assert_eq!(concurrency(&bare(five)), 5);
    let mut sequential = definition(Value::Null);
    sequential["actions"]["Each"]["operationOptions"] = json!("Sequential");
    let sequential = load(&serde_json::to_vec(&sequential).unwrap())
        .unwrap()
        .remove(0);
    assert_eq!(concurrency(&sequential), 1);
    let too_many = bare(json!({"concurrency": {"repetitions": 51}}));
    assert_eq!(too_many.problems.len(), 1, "{:?}", too_many.problems);
    assert_eq!(
        too_many.problems[0].path,
        "$.actions.Each.runtimeConfiguration.concurrency.repetitions"
    );
    assert!(
        too_many.problems[0]
            .message
            .contains("from 1 to 50, not 51"),
        "{}",
        too_many.problems[0].message
    );
}
