//! Shared helpers: a small tenant on a frozen clock, and requests against it.

use simulator::api::{self, ApiRequest, ApiResponse};
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

pub const BASE: &str = "http://sim.test";

/// A simulator of `customers` profiles, seed 42, frozen at the default epoch.
pub fn sim(customers: usize) -> Simulator {
    sim_with(customers, |_| {})
}

pub fn sim_with(customers: usize, edit: impl FnOnce(&mut TenantSpec)) -> Simulator {
    let mut spec = TenantSpec::demo();
    spec.customers = customers;
    spec.limits.rate_limit = "off".to_owned();
    edit(&mut spec);
    Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(SimTime::DEFAULT_EPOCH),
    ))
}

pub fn request(sim: &Simulator, method: &str, path_and_query: &str, body: &str) -> ApiResponse {
    request_as(sim, method, path_and_query, body, Some("Bearer test"))
}

pub fn request_as(
    sim: &Simulator,
    method: &str,
    path_and_query: &str,
    body: &str,
    authorization: Option<&str>,
) -> ApiResponse {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    api::handle(
        sim,
        &ApiRequest {
            method,
            path,
            query,
            authorization,
            subscription_key: None,
            admin_token: None,
            body: body.as_bytes(),
            base_url: BASE,
            peer_loopback: true,
        },
    )
}

/// `GET /v1/instances/{id}/{rest}`.
pub fn get(sim: &Simulator, rest: &str) -> ApiResponse {
    request(
        sim,
        "GET",
        &format!("/v1/instances/{}/{rest}", sim.instance_id),
        "",
    )
}

pub fn json(r: &ApiResponse) -> serde_json::Value {
    serde_json::from_slice(&r.bytes()).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&r.bytes())
        )
    })
}

/// Percent-encodes a query value (spaces as %20, quotes, parentheses).
pub fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The error code and message of an error answer, in either of the API's shapes: OData
/// (`{"error":{"code","message"}}`, the data routes) or `ApiErrorResult` (`{"errorCode",
/// "message"}`, the other `/v1` routes).
pub fn error_of(r: &ApiResponse) -> (String, String) {
    let v = json(r);
    let (code, message) = if v.get("error").is_some() {
        (&v["error"]["code"], &v["error"]["message"])
    } else {
        (&v["errorCode"], &v["message"])
    };
    (
        code.as_str().unwrap_or_default().to_owned(),
        message.as_str().unwrap_or_default().to_owned(),
    )
}

/// The part of the request an error blames, in either shape.
pub fn error_target(v: &serde_json::Value) -> &serde_json::Value {
    if v.get("error").is_some() {
        &v["error"]["target"]
    } else {
        &v["params"]["target"]
    }
}
