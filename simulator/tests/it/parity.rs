//! The parity ledger (`docs/parity.md`) lists every route and trigger, tagged; and every route
//! in the ledger's source list (`api::ROUTES`) really answers.

use simulator::api::ROUTES;
use simulator::engine::Trigger;

use crate::support::*;

fn ledger() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/parity.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The ledger row of a route or trigger, if any.
fn row<'a>(ledger: &'a str, needle: &str) -> Option<&'a str> {
    ledger
        .lines()
        .find(|l| l.starts_with('|') && l.contains(needle))
}

#[test]
fn every_route_is_in_the_ledger_with_a_tag() {
    let ledger = ledger();
    for (method, path) in ROUTES {
        let needle = format!("`{method} {path}`");
        let line = row(&ledger, &needle)
            .unwrap_or_else(|| panic!("docs/parity.md has no row for {needle}"));
        assert!(
            line.contains("documented") || line.contains("modelled"),
            "untagged: {line}"
        );
    }
}

#[test]
fn every_trigger_is_in_the_ledger_with_a_tag() {
    let ledger = ledger();
    for t in Trigger::ALL {
        let needle = format!("`{}`", t.id());
        let line = row(&ledger, &needle)
            .unwrap_or_else(|| panic!("docs/parity.md has no row for {needle}"));
        assert!(line.contains("[PA-DOC]"), "no source for {needle}: {line}");
    }
}

#[test]
fn every_listed_route_answers() {
    let sim = sim(50);
    let job = json(&request(&sim, "POST", "/_sim/refresh", "{}"))["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = request(
        &sim,
        "POST",
        &format!(
            "/v1/instances/{}/triggers/full-refresh-completed/subscriptions",
            sim.instance_id
        ),
        r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#,
    );
    let sub_id = json(&sub)["id"].as_str().unwrap().to_owned();
    let customer = json(&get(&sim, "data/Customer?$top=1"))["value"][0]["CustomerId"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, pattern) in ROUTES {
        let path = pattern
            .replace("{instanceId}", &sim.instance_id)
            .replace("{entity}", "Customer")
            .replace("{entityId}", &customer)
            .replace("{n}", "0")
            .replace("{dataSource}", "PoS")
            .replace("{segment}", "HighValueCustomers")
            .replace("{measure}", "TotalRevenue")
            .replace("{jobId}", &job)
            .replace("{trigger}", "full-refresh-completed")
            .replace("{id}", &sub_id);
        let body = match (*method, *pattern) {
            (_, p) if p.ends_with("/evaluate") && p.contains("segments") => r#"{"entityCount":10}"#,
            (_, p) if p.ends_with("/evaluate") => r#"{"value":10}"#,
            (_, "/_sim/clock/advance") => r#"{"by":"1s"}"#,
            (_, p) if p.contains("statusreport") => r#"{"reportType":"daily"}"#,
            (_, p) if p.ends_with("/subscriptions") => {
                r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#
            }
            ("POST" | "PATCH", p) if p.contains("/data/") => r#"{"City":"Springfield"}"#,
            _ => "",
        };
        let r = request(&sim, method, &path, body);
        let code = if r.status >= 400 {
            error_of(&r).0
        } else {
            String::new()
        };
        assert!(
            r.status != 405 && code != "UnknownPath",
            "{method} {pattern} does not answer: {} {}",
            r.status,
            String::from_utf8_lossy(&r.bytes())
        );
    }
}
