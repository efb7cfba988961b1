//! The parity ledger (`docs/parity.md`) against the code, in both directions: every route the
//! simulator serves (`api::ROUTES`) has a row in *Endpoints* and every row there is a route;
//! every connector action of the connector page has a row in *Connector actions* naming a
//! route; every trigger has a row in *Triggers* citing both page versions and every row there
//! is a trigger; every row is tagged and every source key it cites is defined in *Sources*.
//! That the route table is exactly what the router serves is checked in `routes.rs`.

use std::collections::BTreeSet;

use simulator::api::ROUTES;
use simulator::api::routes::find;
use simulator::engine::Trigger;

/// The connector's actions, as the connector reference lists them (notes §2.1).
const CONNECTOR_ACTIONS: [&str; 10] = [
    "Create item",
    "Get entities",
    "Get item",
    "Get items from an entity",
    "Retrieve data from a partition",
    "Retrieve partitions for an entity",
    "Retrieve partitions for an entity V2",
    "Sends the status report",
    "Sends the status report V2",
    "Update item",
];

const TAGS: [&str; 3] = ["documented", "modelled", "inferred"];

fn ledger() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/parity.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The table rows (not the header or the separator) of the section under `## {title}`, up to
/// the next `## ` heading, as their cells.
fn rows(ledger: &str, title: &str) -> Vec<Vec<String>> {
    let heading = format!("## {title}");
    let start = ledger
        .lines()
        .position(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("docs/parity.md has no section {heading}"));
    let mut out = Vec::new();
    for line in ledger.lines().skip(start + 1) {
        if line.starts_with("## ") {
            break;
        }
        if !line.starts_with('|') || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect();
        // Header rows name the columns.
        if matches!(
            cells[0].as_str(),
            "Route" | "Action" | "Rule" | "Trigger" | "Delivery rule" | "Key"
        ) {
            continue;
        }
        out.push(cells);
    }
    out
}

/// `GET /v1/...` of a cell written `` `GET /v1/...` `` (a route), if it is one.
fn route_of(cell: &str) -> Option<(&str, &str)> {
    let inner = cell.strip_prefix('`')?.split('`').next()?;
    let (method, path) = inner.split_once(' ')?;
    (["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) && path.starts_with('/'))
        .then_some((method, path))
}

#[test]
fn every_route_has_a_tagged_endpoint_row_and_every_row_is_a_route() {
    let ledger = ledger();
    let rows = rows(&ledger, "Endpoints");
    let mut listed = BTreeSet::new();
    for row in &rows {
        let (method, path) = route_of(&row[0]).unwrap_or_else(|| panic!("not a route: {}", row[0]));
        assert!(
            ROUTES.iter().any(|r| r.method == method && r.path == path),
            "docs/parity.md lists {method} {path}, which the simulator does not serve"
        );
        assert!(
            listed.insert((method.to_owned(), path.to_owned())),
            "{method} {path} is listed twice"
        );
        assert!(TAGS.iter().any(|t| row[2].contains(t)), "untagged: {row:?}");
        assert!(!row[3].is_empty(), "no source or reason: {row:?}");
    }
    for route in ROUTES {
        assert!(
            listed.contains(&(route.method.to_owned(), route.path.to_owned())),
            "docs/parity.md has no Endpoints row for `{} {}`",
            route.method,
            route.path
        );
    }
}

#[test]
fn every_connector_action_has_a_row_naming_a_served_route() {
    let ledger = ledger();
    let rows = rows(&ledger, "Endpoints");
    let actions: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| CONNECTOR_ACTIONS.contains(&r[0].as_str()))
        .collect();
    assert!(
        actions.is_empty(),
        "action rows belong to Connector actions"
    );
    let rows = rows_of_actions(&ledger);
    let named: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        named, CONNECTOR_ACTIONS,
        "one row per action, in the page's order"
    );
    for row in &rows {
        let (method, path) = route_of(&row[1]).unwrap_or_else(|| panic!("no call: {row:?}"));
        let concrete = path.replace('{', "x").replace('}', "");
        let route = find(method, &concrete)
            .unwrap_or_else(|| panic!("{}: {method} {path} is not served", row[0]));
        assert_eq!(route.path, path, "{}", row[0]);
        assert!(TAGS.iter().any(|t| row[2].contains(t)), "untagged: {row:?}");
        assert!(row[3].contains("[CONN]"), "no [CONN] for {row:?}");
    }
}

/// A row of the trigger table: its first cell is a trigger id in backticks.
fn is_trigger_row(row: &[String]) -> bool {
    let id = &row[0];
    id.len() > 2 && id.starts_with('`') && id.ends_with('`') && !id.contains(' ')
}

fn rows_of_actions(ledger: &str) -> Vec<Vec<String>> {
    rows(ledger, "Connector actions")
        .into_iter()
        .filter(|r| r.len() == 4 && route_of(&r[1]).is_some())
        .collect()
}

#[test]
fn every_trigger_has_a_row_citing_both_page_versions_and_every_row_is_a_trigger() {
    let ledger = ledger();
    let rows: Vec<Vec<String>> = rows(&ledger, "Triggers")
        .into_iter()
        .filter(|r| is_trigger_row(r))
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r[0].trim_matches('`')).collect();
    let all: Vec<&str> = Trigger::ALL.iter().map(|t| t.id()).collect();
    assert_eq!(ids, all, "one row per trigger, in order");
    for row in &rows {
        assert!(
            row[1].contains("[PA-DOC-2021]") && row[1].contains("[PA-DOC]"),
            "{}: cite the 2021 page and the current one: {}",
            row[0],
            row[1]
        );
    }
}

#[test]
fn every_row_is_tagged_and_every_source_key_is_defined() {
    let ledger = ledger();
    let keys: BTreeSet<String> = rows(&ledger, "Sources")
        .iter()
        .flat_map(|r| keys_in(&r[0]))
        .chain(rows(&ledger, "Sources").iter().flat_map(|r| keys_in(&r[1])))
        .collect();
    for key in [
        "[CONN]",
        "[PA-DOC]",
        "[PA-DOC-2021]",
        "[API-MODEL]",
        "[LA-HTTP]",
    ] {
        assert!(keys.contains(key), "{key} is not defined");
    }
    for section in [
        "Endpoints",
        "Connector actions",
        "Triggers",
        "Throttling",
        "Flow definitions",
    ] {
        for row in rows(&ledger, section) {
            let line = row.join(" | ");
            for key in keys_in(&line) {
                assert!(
                    keys.contains(&key),
                    "{section}: {key} is not in Sources: {line}"
                );
            }
            // The trigger table says documented and modelled by its columns.
            if !is_trigger_row(&row) {
                assert!(
                    TAGS.iter().any(|t| line.contains(t)),
                    "{section}: untagged row: {line}"
                );
            }
        }
    }
}

/// The `[KEY]`s of a text (upper-case letters, digits and dashes between brackets).
fn keys_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let key = &after[..close];
        if !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
            && key.chars().any(|c| c.is_ascii_uppercase())
        {
            out.push(format!("[{key}]"));
        }
        rest = &after[close..];
    }
    out
}

#[test]
fn a_route_the_ledger_does_not_list_would_be_caught() {
    let ledger = ledger();
    let rows = rows(&ledger, "Endpoints");
    assert!(
        !rows
            .iter()
            .any(|r| route_of(&r[0]) == Some(("GET", "/v1/instances/{instanceId}/nope"))),
        "the fixture route must not be listed"
    );
    assert!(!ROUTES.iter().any(|r| r.path.ends_with("/nope")));
    assert_eq!(
        keys_in("a [CONN] b [I] [x] [PA-DOC-2021]"),
        ["[CONN]", "[I]", "[PA-DOC-2021]"]
    );
}
