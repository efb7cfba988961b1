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
