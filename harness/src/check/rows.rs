//! Exports: every row of an entity reaches the sinks exactly once. The rows are recognised by
//! their keys (`CustomerId`) anywhere in the sink bodies — JSON strings, CSV lines, text — so
//! the check holds whatever shape the export posts.

use std::collections::HashMap;

use super::api::fetched_ranges;
use super::words::{destination, row_ranges, thousands};
use crate::outcome::Failure;
use crate::replay::CaseRun;
use crate::scenario::SinkKind;

/// `declared`: where the flow's manifest says its effects go (named when no row reached a sink).
pub(super) fn check(entity: &str, run: &CaseRun, declared: Option<SinkKind>) -> Vec<Failure> {
    let Some(keys) = run.entity_keys.get(entity) else {
        return vec![Failure::new(
            "export.rows-downstream-once",
            format!("the keys of {entity}'s rows"),
            format!("the tenant has no entity {entity} with a key"),
        )];
    };
    let index: HashMap<&str, usize> = keys
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut seen = vec![0u32; keys.keys.len()];
    let mut in_call = vec![u64::MAX; keys.keys.len()];
    let mut sinks: Vec<SinkKind> = Vec::new();
    for (n, call) in run.sink_calls.iter().enumerate() {
        for token in tokens(&call.body) {
            if let Some(&row) = index.get(token)
                && in_call[row] != n as u64
            {
                in_call[row] = n as u64;
                seen[row] += 1;
                if !sinks.contains(&call.sink) {
                    sinks.push(call.sink);
                }
            }
        }
    }
    let total = keys.keys.len() as u64;
    let missing: Vec<u64> = (0..total).filter(|&r| seen[r as usize] == 0).collect();
    let repeated: Vec<u64> = (0..total).filter(|&r| seen[r as usize] > 1).collect();
    if missing.is_empty() && repeated.is_empty() {
        return Vec::new();
    }
    let to = match (sinks.as_slice(), declared) {
        (&[one], _) | (&[], Some(one)) => format!("the {} sink", destination(one)),
        _ => "any sink".to_owned(),
    };
    let fetched = fetched_ranges(run, entity, total);
    let was_fetched = |r: u64| fetched.iter().any(|&(a, b)| a <= r && r < b);
    let (lost, unfetched): (Vec<u64>, Vec<u64>) = missing.iter().partition(|&&r| was_fetched(r));
    let mut parts = Vec::new();
    if !lost.is_empty() {
        parts.push(format!(
            "rows {} ({} of {} rows of {entity}, by {}) were fetched but never reached {to}: the export loses rows on the way to its target",
            row_ranges(&lost),
            thousands(lost.len() as u64),
            thousands(total),
            keys.key
        ));
    }
    if !unfetched.is_empty() {
        parts.push(format!(
            "rows {} ({} of {}) were never fetched, so never exported",
            row_ranges(&unfetched),
            thousands(unfetched.len() as u64),
            thousands(total)
        ));
    }
    if !repeated.is_empty() {
        let most = repeated
            .iter()
            .map(|&r| seen[r as usize])
            .max()
            .unwrap_or(2);
        parts.push(format!(
            "rows {} ({} of {}) reached {to} more than once (up to {most} times): the export sends rows again",
            row_ranges(&repeated),
            thousands(repeated.len() as u64),
            thousands(total)
        ));
    }
    vec![Failure::new(
        "export.rows-downstream-once",
        format!(
            "every one of the {} rows of {entity} in exactly one sink call (found by its {})",
            thousands(total),
            keys.key
        ),
        parts.join("; "),
    )]
}

/// The words of a body that could be keys: runs of letters, digits, `-` and `_`.
fn tokens(body: &str) -> impl Iterator<Item = &str> {
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use simulator::SimTime;

    use super::*;
    use crate::replay::EntityKeys;
    use crate::replay::sinks::SinkCall;

    fn run(bodies: &[&str]) -> CaseRun {
        let mut run = CaseRun::default();
        run.entity_keys.insert(
            "Customer".into(),
            EntityKeys {
                key: "CustomerId".into(),
                keys: (0..10).map(|i| format!("c{i:02}ab")).collect(),
            },
        );
        run.sink_calls = bodies
            .iter()
            .map(|b| SinkCall {
                sink: SinkKind::Http,
                at: SimTime(0),
                method: "POST".into(),
                path: "/http".into(),
                body: (*b).to_owned(),
                json: None,
            })
            .collect();
        run
    }

    fn actual(bodies: &[&str]) -> Option<String> {
        check("Customer", &run(bodies), Some(SinkKind::Http))
            .pop()
            .map(|f| f.actual)
    }

    #[test]
    fn rows_are_found_by_their_keys_whatever_the_body_shape() {
        let csv = "CustomerId,Name\nc00ab,A\nc01ab,B\nc02ab,C\nc03ab,D\nc04ab,E\n";
        let json = r#"{"ids":["c05ab","c06ab"],"more":[{"id":"c07ab","again":"c07ab"}]}"#;
        assert_eq!(actual(&[csv, json, "c08ab c09ab"]), None);
    }

    #[test]
    fn lost_repeated_and_unfetched_rows_are_named_as_ranges() {
        let lost = actual(&["c00ab c01ab c02ab c03ab c04ab c05ab c06ab"]).unwrap();
        assert_eq!(
            lost, "rows 7..9 (3 of 10) were never fetched, so never exported",
            "nothing was fetched through the API in this run"
        );
        let twice = actual(&[
            "c00ab c01ab c02ab c03ab c04ab",
            "c05ab c06ab c07ab c08ab c09ab",
            "c03ab",
        ])
        .unwrap();
        assert_eq!(
            twice,
            "rows 3 (1 of 10) reached the HTTP sink more than once (up to 2 times): the export sends rows again"
        );
    }
}
