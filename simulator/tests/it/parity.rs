//! The parity ledger (`docs/parity.md`) lists every route and trigger, tagged. That the route
//! table (`api::ROUTES`) is exactly what the router serves is checked in `routes.rs`.

use simulator::api::ROUTES;
use simulator::engine::Trigger;

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
    for route in ROUTES {
        let needle = format!("`{} {}`", route.method, route.path);
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
