//! The OpenAPI document: valid OpenAPI 3.1 (against the OpenAPI Initiative's schema, vendored in
//! `tests/data/openapi-3.1/`), every schema in it a valid JSON Schema 2020-12, and served at
//! `/openapi.json` without auth and outside the call limit.

use serde_json::Value;
use simulator::api::openapi::{Tenant, document};
use simulator::api::routes::{ROUTES, Surface};

use crate::support::*;

fn oas_3_1_schema() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openapi-3.1/schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).unwrap();
    validator
        .iter_errors(instance)
        .take(5)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_document_is_valid_openapi_3_1_with_and_without_the_control_api() {
    let sim = sim(50);
    let schema = oas_3_1_schema();
    for include_control in [false, true] {
        let doc = document(&Tenant::of(&sim, BASE), include_control);
        assert_eq!(doc["openapi"], "3.1.0");
        let errors = violations(&schema, &doc);
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        for (name, s) in doc["components"]["schemas"].as_object().unwrap() {
            assert!(
                jsonschema::meta::validate(s).is_ok(),
                "components.schemas.{name} is not a valid JSON Schema"
            );
        }
    }
}

#[test]
fn a_broken_document_fails_the_validation() {
    let sim = sim(50);
    let mut doc = document(&Tenant::of(&sim, BASE), false);
    doc["paths"]["/v1/instances"]["get"]["responses"] = Value::String("none".to_owned());
    assert!(!violations(&oas_3_1_schema(), &doc).is_empty());
}

#[test]
fn the_control_api_is_described_only_when_asked() {
    let sim = sim(50);
    let without = document(&Tenant::of(&sim, BASE), false);
    let with = document(&Tenant::of(&sim, BASE), true);
    for route in ROUTES {
        let method = route.method.to_ascii_lowercase();
        assert!(
            !with["paths"][route.path][&method].is_null(),
            "{}",
            route.path
        );
        let present = !without["paths"][route.path][&method].is_null();
        assert_eq!(present, route.surface != Surface::Control, "{}", route.path);
    }
}

#[test]
fn auth_errors_and_the_call_limit_are_described() {
    let sim = sim(50);
    let doc = document(&Tenant::of(&sim, BASE), false);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        schemes["subscriptionKey"]["name"],
        "Ocp-Apim-Subscription-Key"
    );
    let op = &doc["paths"]["/v1/instances/{instanceId}/data/{entity}"]["get"];
    assert_eq!(
        op["responses"]["429"]["headers"]["Retry-After"]["required"],
        true
    );
    assert_eq!(
        op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"],
        true
    );
    assert!(op["responses"]["401"].get("content").is_none());
    assert_eq!(
        op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ODataError"
    );
    let jobs = &doc["paths"]["/v1/instances/{instanceId}/workflows/main/jobs"]["post"];
    assert_eq!(
        jobs["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ApiErrorResult"
    );
    assert!(jobs["responses"]["200"].is_object() && jobs["responses"]["202"].is_null());
    let keyed = sim_with(50, |s| s.auth.require_subscription_key = true);
    let doc = document(&Tenant::of(&keyed, BASE), false);
    assert_eq!(
        doc["paths"]["/v1/instances/{instanceId}/data/{entity}"]["get"]["responses"]["401"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/GatewayError"
    );
    let instance = &op["parameters"][0];
    assert_eq!(instance["name"], "instanceId");
    assert_eq!(instance["schema"]["enum"][0], sim.instance_id.as_str());
}

#[test]
fn serve_answers_the_document_without_auth_and_without_counting_it() {
    let sim = sim_with(50, |spec| spec.limits.rate_limit = "1/60s".to_owned());
    for _ in 0..3 {
        let r = request_as(&sim, "GET", "/openapi.json", "", None);
        assert_eq!(r.status, 200);
        assert_eq!(json(&r)["servers"][0]["url"], BASE);
        assert!(json(&r)["paths"]["/_sim/health"].is_null());
    }
    let with = request_as(&sim, "GET", "/openapi.json?includeControl=true", "", None);
    assert!(!json(&with)["paths"]["/_sim/health"]["get"].is_null());
    assert_eq!(
        request_as(&sim, "POST", "/openapi.json", "", None).status,
        405
    );
    assert_eq!(sim.journal.len(), 0, "the document is not a /v1 call");
    // The one call the limit allows is still there.
    assert_eq!(get(&sim, "manage/segments").status, 200);
}
