//! The probes: one target per parser, each a function that takes any input and says whether
//! the parser kept its promise. A parser may refuse an input, but with a clear error (a status
//! under 500 and an OData error body, or an error with a message), never with a panic, a hang
//! or a `5xx`; what it accepts it must read back the same.
//!
//! `tests/fuzz.rs` runs each target on inputs that proptest generates (`INSIGHTSIM_FUZZ_CASES`
//! per target: a few hundred in `cargo test`, as many as you like for a longer run) and on every
//! file of `corpus/<target>/`, the inputs that once failed.
//!
//! ```
//! assert_eq!(fuzz::odata("$top=5&$filter=City%20eq%20'Paris'"), Ok(()));
//! assert_eq!(fuzz::tenant("customers = 0"), Ok(()));
//! ```

mod head;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use simulator::api::{self, ApiRequest, ApiResponse};
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

pub use head::head;

/// What a target found wrong with an input.
pub type Finding = String;

/// A small tenant, shared by the in-process targets (a target never changes its state: reads
/// only, or refused writes).
fn simulator() -> &'static Arc<Simulator> {
    static SIM: OnceLock<Arc<Simulator>> = OnceLock::new();
    SIM.get_or_init(|| {
        let mut spec = TenantSpec::demo();
        spec.customers = 400;
        spec.limits.rate_limit = "off".into();
        spec.refresh.schedule_enabled = false;
        Arc::new(Simulator::new(SimConfig::new(
            spec,
            Clock::frozen_at(SimTime::DEFAULT_EPOCH),
        )))
    })
}

fn call(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> ApiResponse {
    api::handle(
        simulator(),
        &ApiRequest {
            method,
            path,
            query,
            authorization: Some("Bearer fuzz"),
            subscription_key: None,
            admin_token: None,
            body,
            base_url: "http://127.0.0.1:8080",
            peer_loopback: true,
        },
    )
}

/// An answer must be below 500, and an error must have one of the error shapes of the API model
/// with a code and a message: OData's `{"error":{"code","message"}}` (the data routes and the
/// server's own limits) or `ApiErrorResult`'s `{"errorCode","message"}` (the other `/v1` routes).
fn check_answer(what: &str, r: &ApiResponse) -> Result<(), Finding> {
    if r.status >= 500 {
        return Err(format!(
            "{what}: status {}: {}",
            r.status,
            String::from_utf8_lossy(&r.bytes())
        ));
    }
    if r.status >= 400 {
        let body: serde_json::Value = serde_json::from_slice(&r.bytes())
            .map_err(|e| format!("{what}: the {} body is not JSON: {e}", r.status))?;
        let (code, message) = match body.get("error") {
            Some(e) => (e["code"].as_str(), e["message"].as_str()),
            None => (body["errorCode"].as_str(), body["message"].as_str()),
        };
        if message.unwrap_or_default().is_empty() || code.is_none() {
            return Err(format!(
                "{what}: the {} body is not an error: {body}",
                r.status
            ));
        }
    }
    Ok(())
}

/// OData query options (`$filter`, `$select`, `$orderby`, `$top`, `$skip`, `$search`,
/// `$expand`, `$count`) on the entities that have the most to check: the answer is a page or a
/// `400` naming the option.
pub fn odata(query: &str) -> Result<(), Finding> {
    let sim = simulator();
    for entity in ["Customer", "UnifiedActivity", "HighValueCustomers"] {
        let path = format!("/v1/instances/{}/data/{entity}", sim.instance_id);
        let r = call("GET", &path, Some(query), b"");
        check_answer(&format!("GET {path}?{query}"), &r)?;
        if r.status == 200 {
            serde_json::from_slice::<serde_json::Value>(&r.bytes())
                .map_err(|e| format!("GET {path}?{query}: the page is not JSON: {e}"))?;
        }
    }
    Ok(())
}

/// Any method, path, query and body: never a `5xx` (the writes are refused, since the body is
/// no valid item, or land on a fresh copy of nothing that matters).
pub fn target(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Result<(), Finding> {
    let r = call(method, path, query, body);
    check_answer(&format!("{method} {path}?{query:?}"), &r)
}

/// A tenant file: accepted and valid (and the same after a round trip through TOML), or
/// refused with a message.
pub fn tenant(text: &str) -> Result<(), Finding> {
    match TenantSpec::from_toml_over_demo(text, "fuzz.toml") {
        Err(e) if e.to_string().trim().is_empty() => Err("an empty error".to_owned()),
        Err(_) => Ok(()),
        Ok(spec) => {
            spec.validate()
                .map_err(|e| format!("accepted but invalid: {e}"))?;
            let again = TenantSpec::from_toml_over_demo(&spec.to_toml(), "again")
                .map_err(|e| format!("accepted, but its own TOML is refused: {e}"))?;
            if again == spec {
                Ok(())
            } else {
                Err("accepted, but reads back different from its own TOML".to_owned())
            }
        }
    }
}

/// A scenario file: parsed (and the same after [`harness::scenario::write`]), or refused with
/// an error that names the file.
pub fn scenario(text: &str) -> Result<(), Finding> {
    let origin = Path::new("fuzz.toml");
    match harness::scenario::parse(text, origin) {
        Err(e) => {
            let message = e.to_string();
            if message.starts_with("fuzz.toml") {
                Ok(())
            } else {
                Err(format!("the error does not name the file: {message}"))
            }
        }
        Ok(s) => {
            let written = harness::scenario::write(&s);
            match harness::scenario::parse(&written, origin) {
                Ok(again) if again == s => Ok(()),
                Ok(_) => Err(format!("reads back different once written:\n{written}")),
                Err(e) => Err(format!("its written form is refused ({e}):\n{written}")),
            }
        }
    }
}
