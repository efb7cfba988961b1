//! The route table (`api::ROUTES`) is exactly what the router serves, in both directions, and
//! every answer matches the OpenAPI description generated from it:
//!
//! - every described route answers (not `405`, not `UnknownPath`), with a status, content type,
//!   headers and body its description lists;
//! - every path the router answers is described: every described path, mutated (segments
//!   dropped, replaced and inserted from the table's own vocabulary), under every method, is either
//!   refused as unknown (`404 UnknownPath`/`UnknownWorkflow`, `405`) or an instance of a route;
//! - the common answers (`401`, `429`, `404` unknown instance, `403` control from afar) match too.

use serde_json::{Value, json};
use simulator::Simulator;
use simulator::api::openapi::{Tenant, document};
use simulator::api::routes::{ROUTES, Route, Surface, find};
use simulator::api::{self, ApiRequest, ApiResponse};

use crate::support::*;

/// Checks an answer against the description of its route; `Err` says what differs.
pub fn check_answer(doc: &Value, route: &Route, r: &ApiResponse) -> Result<(), String> {
    let described = &doc["paths"][route.path][route.method.to_ascii_lowercase()]["responses"]
        [r.status.to_string()];
    if described.is_null() {
        return Err(format!("status {} is not described", r.status));
    }
    for (name, header) in described["headers"].as_object().into_iter().flatten() {
        if header["required"] == true && r.header(name).is_none() {
            return Err(format!("status {} lacks the header {name}", r.status));
        }
    }
    let body = r.bytes();
    let Some(content) = described["content"].as_object() else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "status {} has a body but none is described",
                r.status
            ))
        };
    };
    let (media, spec) = content.iter().next().ok_or("empty content")?;
    if !r.content_type.starts_with(media.as_str()) {
        return Err(format!(
            "content type {} is not the described {media}",
            r.content_type
        ));
    }
    if media != "application/json" {
        return Ok(());
    }
    let instance: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [spec["schema"]],
    });
    let validator = jsonschema::validator_for(&root).map_err(|e| format!("bad schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(3)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "status {}: body does not match its schema: {}\nbody: {}",
            r.status,
            errors.join("; "),
            String::from_utf8_lossy(&body)
                .chars()
                .take(600)
                .collect::<String>()
        ))
    }
}

/// The concrete values that fill a path's placeholders.
struct Fill {
    instance: String,
    customer: String,
    job: String,
    subscription: String,
}

impl Fill {
    fn new(sim: &Simulator) -> Fill {
        let job = json(&request(sim, "POST", "/_sim/refresh", "{}"))["jobId"]
            .as_str()
            .unwrap()
            .to_owned();
        let sub = request_as(
            sim,
            "POST",
            &format!(
                "/v1/instances/{}/triggers/full-refresh-completed/subscriptions",
                sim.instance_id
            ),
            r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#,
            Some("Bearer fill-1"),
        );
        let first = format!("/v1/instances/{}/data/Customer?$top=1", sim.instance_id);
        let customer = json(&request_as(sim, "GET", &first, "", Some("Bearer fill-2")))["value"][0]
            ["CustomerId"]
            .as_str()
            .unwrap()
            .to_owned();
        Fill {
            instance: sim.instance_id.clone(),
            customer,
            job,
            subscription: json(&sub)["id"].as_str().unwrap().to_owned(),
        }
    }

    fn path(&self, template: &str) -> String {
        template
            .replace("{instanceId}", &self.instance)
            .replace("{entity}", "Customer")
            .replace("{entityId}", &self.customer)
            .replace("{partition}", "0.csv")
            .replace("{dataSource}", "PoS")
            .replace("{segment}", "HighValueCustomers")
            .replace("{measure}", "TotalRevenue")
            .replace("{jobId}", &self.job)
            .replace("{trigger}", "full-refresh-completed")
            .replace("{id}", &self.subscription)
    }
}

/// A valid body for a route.
fn body_for(route: &Route) -> &'static str {
    match (route.method, route.path) {
        (_, p) if p.ends_with("/evaluate") && p.contains("segments") => r#"{"entityCount":10}"#,
        (_, p) if p.ends_with("/evaluate") => r#"{"value":10}"#,
        (_, "/_sim/clock/advance") => r#"{"by":"1s"}"#,
        (_, p) if p.contains("statusreport") => r#"{"reportType":"daily"}"#,
        (_, p) if p.ends_with("/schedules/batch") => r#"[{"cronSchedules":["0 2 * * *"]}]"#,
        ("POST", p) if p.ends_with("/schedules") => r#"{"cronSchedules":["0 2 * * *"]}"#,
        (_, p) if p.ends_with("/subscriptions") => {
            r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#
        }
        ("POST", p) if p.contains("/data/") => {
            r#"{"CustomerId":"00000000000000000000000000000001","FullName":"Ada Lovelace"}"#
        }
        ("PATCH", p) if p.contains("/data/") => r#"{"City":"Springfield"}"#,
        _ => "",
    }
}

fn full_document(sim: &Simulator) -> Value {
    document(&Tenant::of(sim, BASE), true)
}

/// Whether an answer says "no such route" (as opposed to an answer of a route).
fn unknown_route(r: &ApiResponse) -> bool {
    if r.status == 405 {
        return true;
    }
    if r.status != 404 {
        return false;
    }
    let code = error_of(r).0;
    code == "UnknownPath" || code == "UnknownWorkflow"
}

#[test]
fn every_described_route_answers_as_described() {
    let sim = sim(50);
    let doc = full_document(&sim);
    let fill = Fill::new(&sim);
    for route in ROUTES {
        let path = fill.path(route.path);
        let r = request(&sim, route.method, &path, body_for(route));
        assert!(
            !unknown_route(&r),
            "{} {} is described but not served: {} {}",
            route.method,
            route.path,
            r.status,
            String::from_utf8_lossy(&r.bytes())
        );
        if let Err(e) = check_answer(&doc, route, &r) {
            panic!("{} {}: {e}", route.method, route.path);
        }
    }
}

#[test]
fn the_common_error_answers_match_their_descriptions() {
    let sim = sim_with(50, |spec| spec.limits.rate_limit = "1/60s".to_owned());
    let doc = full_document(&sim);
    let fill = Fill::new(&sim);
    for (i, route) in ROUTES.iter().enumerate() {
        let path = fill.path(route.path);
        let body = body_for(route);
        let mut answers = Vec::new();
        match route.surface {
            Surface::V1 => {
                answers.push(request_as(&sim, route.method, &path, body, None));
                let token = format!("Bearer route-{i}");
                request_as(&sim, route.method, &path, body, Some(&token));
                let throttled = request_as(&sim, route.method, &path, body, Some(&token));
                assert_eq!(throttled.status, 429, "{} {}", route.method, route.path);
                answers.push(throttled);
                if route.path.contains("{instanceId}") {
                    let other = path.replace(&fill.instance, "not-an-instance");
                    let token = format!("Bearer route-{i}-other");
                    let r = request_as(&sim, route.method, &other, body, Some(&token));
                    assert_eq!(r.status, 404, "{} {}", route.method, route.path);
                    answers.push(r);
                }
            }
            Surface::Control => {
                let (p, q) = path.split_once('?').unwrap_or((&path, ""));
                answers.push(api::handle(
                    &sim,
                    &ApiRequest {
                        method: route.method,
                        path: p,
                        query: (!q.is_empty()).then_some(q),
                        authorization: None,
                        subscription_key: None,
                        admin_token: None,
                        body: body.as_bytes(),
                        base_url: BASE,
                        peer_loopback: false,
                    },
                ));
            }
            Surface::Meta => {}
        }
        for r in answers {
            if let Err(e) = check_answer(&doc, route, &r) {
                panic!("{} {}: {e}", route.method, route.path);
            }
        }
    }
}

/// Every path the router answers is an instance of a described route.
#[test]
fn every_served_route_is_described() {
    let sim = sim(50);
    let fill = Fill::new(&sim);
    // The table's own vocabulary of literal segments, plus one that is in no route.
    let mut words: Vec<&str> = ROUTES
        .iter()
        .flat_map(|r| r.path.split('/'))
        .filter(|s| !s.is_empty() && !s.contains('{'))
        .collect();
    words.push("zz");
    words.sort_unstable();
    words.dedup();
    let mut probes: Vec<Vec<String>> = Vec::new();
    for route in ROUTES {
        let segs: Vec<String> = fill
            .path(route.path)
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let literal: Vec<bool> = route
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| !s.contains('{'))
            .collect();
        probes.push(segs.clone());
        for i in 0..segs.len() {
            let mut dropped = segs.clone();
            dropped.remove(i);
            probes.push(dropped);
            for w in &words {
                let mut inserted = segs.clone();
                inserted.insert(i + 1, (*w).to_owned());
                probes.push(inserted);
                if literal[i] {
                    let mut replaced = segs.clone();
                    replaced[i] = (*w).to_owned();
                    probes.push(replaced);
                }
            }
        }
    }
    probes.sort();
    probes.dedup();
    let mut checked = 0;
    for probe in &probes {
        let path = format!("/{}", probe.join("/"));
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let r = request(&sim, method, &path, "{}");
            checked += 1;
            if unknown_route(&r) {
                continue;
            }
            // An unknown instance is refused before routing: only probes that replaced the
            // instance segment get it, and they are not routes.
            if error_of_if_json(&r) == "UnknownInstance" {
                continue;
            }
            assert!(
                find(method, &path).is_some(),
                "{method} {path} is served ({}) but not described in api::ROUTES: {}",
                r.status,
                String::from_utf8_lossy(&r.bytes())
            );
        }
    }
    assert!(checked > 10_000, "only {checked} probes");
}

fn error_of_if_json(r: &ApiResponse) -> String {
    serde_json::from_slice::<Value>(&r.bytes())
        .ok()
        .and_then(|v| {
            v["error"]["code"]
                .as_str()
                .or_else(|| v["errorCode"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// A route the router does not serve would be caught by the test above: check that it can fail.
#[test]
fn an_undescribed_path_is_not_found_in_the_table() {
    assert!(find("GET", "/v1/instances/x/manage/workflows/main/status").is_none());
    assert!(find("GET", "/v1/instances/x/data/Customer/key").is_none());
    let sim = sim(50);
    let r = get(&sim, "manage/workflows/main/status");
    assert!(unknown_route(&r), "{}", r.status);
}
