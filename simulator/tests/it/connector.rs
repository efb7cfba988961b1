//! The custom connector validates against Microsoft's schemas for `apiDefinition.swagger.json`
//! and `apiProperties.json` (vendored in `tests/data/power-platform-connector-schemas/`, MIT), and
//! has the documented actions, the six webhook triggers, the pickers and the auth it promises.

use serde_json::Value;
use simulator::api::connector::{ConnectorError, connector};
use simulator::api::openapi::Tenant;
use simulator::engine::Trigger;

use crate::support::*;

const HOST: &str = "https://abc123.example-tunnel.app";

/// Microsoft's schema files are JSON with comments and trailing commas: strip both.
fn jsonc(text: &str) -> Value {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    // Trailing commas before a closing bracket (outside strings; none of the schemas' strings
    // contain such a sequence).
    let mut cleaned = String::with_capacity(out.len());
    let bytes: Vec<char> = out.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        if *c == ',' {
            let next = bytes[i + 1..].iter().find(|n| !n.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        cleaned.push(*c);
    }
    serde_json::from_str(&cleaned).unwrap()
}

fn schema(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/power-platform-connector-schemas")
        .join(name);
    let mut schema = jsonc(&std::fs::read_to_string(path).unwrap());
    encode_refs(&mut schema);
    schema
}

/// Definition names such as `x-ms-api-annotation<info>` are not valid in a URI: percent-encode
/// `<` and `>` in `$ref`s (a JSON pointer in a fragment is percent-decoded when resolved).
fn encode_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "$ref"
                    && let Value::String(r) = child
                {
                    *r = r.replace('<', "%3C").replace('>', "%3E");
                } else {
                    encode_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(encode_refs),
        _ => {}
    }
}

fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).unwrap();
    validator
        .iter_errors(instance)
        .take(8)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn files() -> (Value, Value) {
    let sim = sim(50);
    let c = connector(&Tenant::of(&sim, HOST), HOST).unwrap();
    (c.api_definition, c.api_properties)
}

#[test]
fn both_files_validate_against_microsofts_schemas() {
    let (definition, properties) = files();
    let errors = violations(&schema("apiDefinition.swagger.schema.json"), &definition);
    assert!(errors.is_empty(), "apiDefinition:\n{}", errors.join("\n"));
    let errors = violations(&schema("paconn-apiProperties.schema.json"), &properties);
    assert!(errors.is_empty(), "apiProperties:\n{}", errors.join("\n"));
}

#[test]
fn a_broken_definition_fails_the_validation() {
    let (mut definition, mut properties) = files();
    definition["paths"]["/v1/instances/{instanceId}/manage/entities"]["get"]["x-ms-trigger"] =
        "sometimes".into();
    assert!(!violations(&schema("apiDefinition.swagger.schema.json"), &definition).is_empty());
    properties["properties"]["connectionParameters"]["api_key"]["type"] = "password".into();
    assert!(!violations(&schema("paconn-apiProperties.schema.json"), &properties).is_empty());
}

#[test]
fn the_documented_actions_have_their_display_names() {
    let (definition, _) = files();
    let summaries: Vec<String> = definition["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter(|op| op.get("x-ms-visibility").is_none() && op.get("x-ms-trigger").is_none())
        .filter_map(|op| op["summary"].as_str().map(str::to_owned))
        .collect();
    for action in [
        "Get entities",
        "Get items from an entity",
        "Create item (preview)",
        "Update item (preview)",
        "Retrieve data from a partition (preview)",
        "Retrieve partitions for an entity V2 (preview)",
        "Sends the status report",
        "Sends the status report V2",
    ] {
        assert!(
            summaries.iter().any(|s| s == action),
            "{action}: {summaries:?}"
        );
    }
    assert_eq!(definition["host"], "abc123.example-tunnel.app");
    assert_eq!(definition["schemes"][0], "https");
    assert!(
        definition["info"]["description"]
            .as_str()
            .unwrap()
            .contains("100 calls per connection per 60 seconds")
    );
}

#[test]
fn the_six_triggers_are_webhook_triggers_with_their_payloads() {
    let (definition, _) = files();
    for t in Trigger::ALL {
        let path = format!(
            "/v1/instances/{{instanceId}}/triggers/{}/subscriptions",
            t.id()
        );
        let item = &definition["paths"][&path];
        let op = &item["post"];
        assert_eq!(op["x-ms-trigger"], "single", "{path}");
        let body = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["in"] == "body")
            .unwrap();
        let url = &body["schema"]["properties"]["NotificationUrl"];
        assert_eq!(url["x-ms-notification-url"], true);
        assert_eq!(url["x-ms-visibility"], "internal");
        let payload = &item["x-ms-notification-content"]["schema"]["properties"];
        assert_eq!(payload["eventType"]["type"], "string", "{path}");
        assert_eq!(payload["eventId"]["type"], "string", "{path}");
    }
    let segment = &definition["paths"]["/v1/instances/{instanceId}/triggers/segment-threshold-crossed/subscriptions"]
        ["post"];
    let inputs = &segment["parameters"][1]["schema"];
    assert_eq!(
        inputs["properties"]["segmentName"]["x-ms-dynamic-values"]["operationId"],
        "ListSegments"
    );
    assert!(
        inputs["required"]
            .as_array()
            .unwrap()
            .contains(&"threshold".into())
    );
    assert!(!definition["paths"]["/v1/instances/{instanceId}/triggers/{trigger}/subscriptions/{id}"]["delete"].is_null());
}

#[test]
fn pickers_and_auth_are_declared() {
    let (definition, properties) = files();
    let items =
        &definition["paths"]["/v1/instances/{instanceId}/data/{entity}"]["get"]["parameters"];
    let entity = items
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "entity")
        .unwrap();
    assert_eq!(entity["x-ms-dynamic-values"]["operationId"], "GetEntities");
    assert_eq!(
        entity["x-ms-dynamic-values"]["value-collection"],
        "entities"
    );
    let ops: Vec<&str> = definition["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    for picker in [
        "ListInstances",
        "GetEntities",
        "ListDataSources",
        "ListSegments",
        "ListMeasures",
    ] {
        assert!(ops.contains(&picker), "{picker} missing: {ops:?}");
    }
    assert_eq!(
        definition["securityDefinitions"]["api_key"]["name"],
        "Authorization"
    );
    let params = &properties["properties"]["connectionParameters"];
    assert_eq!(params["api_key"]["type"], "securestring");
    assert_eq!(
        properties["properties"]["policyTemplateInstances"][0]["parameters"]["x-ms-apimTemplateParameter.name"],
        "Ocp-Apim-Subscription-Key"
    );
}

#[test]
fn a_host_that_is_not_a_url_is_refused_with_an_example() {
    let sim = sim(50);
    for host in ["abc.ngrok.app", "ftp://x", "https://", "https://a/b"] {
        let err = connector(&Tenant::of(&sim, host), host).unwrap_err();
        assert!(matches!(err, ConnectorError::BadHost(_)));
        assert!(err.to_string().contains("e.g. https://"), "{err}");
    }
}

/// Every operation of the connector is a route the simulator serves, and every picker calls an
/// operation of the connector with parameters that operation has.
#[test]
fn the_connector_only_calls_what_the_simulator_serves() {
    let (definition, _) = files();
    let paths = definition["paths"].as_object().unwrap();
    let mut ops = std::collections::BTreeMap::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if method.starts_with("x-ms-") {
                continue;
            }
            let concrete = path
                .replace("{instanceId}", "i")
                .replace("{trigger}", "full-refresh-completed");
            assert!(
                simulator::api::routes::find(&method.to_ascii_uppercase(), &concrete).is_some(),
                "{method} {path} is not a route of the simulator"
            );
            let names: Vec<String> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            ops.insert(op["operationId"].as_str().unwrap().to_owned(), names);
        }
    }
    let mut pickers = 0;
    let mut stack: Vec<&Value> = vec![&definition["paths"]];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(d) = map.get("x-ms-dynamic-values") {
                    pickers += 1;
                    let target = d["operationId"].as_str().unwrap();
                    let params = ops
                        .get(target)
                        .unwrap_or_else(|| panic!("picker calls unknown {target}"));
                    for p in d["parameters"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k)
                    {
                        assert!(params.contains(p), "{target} has no parameter {p}");
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    assert!(pickers >= 5, "{pickers} pickers");
}
