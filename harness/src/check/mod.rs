//! Checking a run against the scenario's expectations. Each check says what was expected (every
//! acceptable outcome) and what happened, and, where the run shows it, names the mistake in a
//! flow maker's words ("the flow is wired to the wrong trigger").
//!
//! - `counts.rs`: deliveries and sink calls counted, the call-limit grade;
//! - `api.rs`: how the flow used the API (calls, windows, early retries, pages);
//! - `effects.rs`: the manifest's declared triggers, effects counted per destination;
//! - `echo.rs`: what each effect carries from its event;
//! - `rows.rs`: every row of an exported entity downstream exactly once;
//! - `words.rs`: the shared wording (sinks, times, event names, numbers and row ranges).
//!
//! The checks look only at what the flow visibly did ([`CaseRun`]) and at what its manifest
//! declares, never at the flow's format: effects are found by destination, names and numbers
//! anywhere in a body, exported rows by their keys in any payload shape.

mod api;
mod counts;
mod echo;
mod effects;
mod rows;
mod words;

use crate::manifest::Manifest;
use crate::outcome::Failure;
use crate::replay::CaseRun;
use crate::scenario::Scenario;

pub use api::fetched_ranges;

/// Every expectation of `scenario` that `run` does not meet (empty: the case passes), with the
/// flow's `manifest` (when it has one) saying where its effects go and what they carry.
pub fn check(scenario: &Scenario, run: &CaseRun, manifest: Option<&Manifest>) -> Vec<Failure> {
    let mut failures = run.errors.clone();
    if let Some(manifest) = manifest {
        failures.extend(effects::declared_triggers(scenario, run, manifest));
    }
    failures.extend(counts::check(&scenario.expect, run));
    if let Some(api) = &scenario.expect.api {
        failures.extend(api::check(api, run));
    }
    if let Some(bounds) = &scenario.expect.effects {
        failures.extend(effects::check(bounds, scenario, run, manifest));
    }
    if scenario.expect.echo
        && let Some(manifest) = manifest
    {
        failures.extend(echo::check(scenario, run, manifest));
    }
    if let Some(entity) = &scenario.expect.rows_downstream {
        let declared = manifest.and_then(|m| m.destination(&scenario.triggers()));
        failures.extend(rows::check(entity, run, declared));
    }
    failures
}

/// Whether a failure's check judges what the flow did — its effects, sink calls, API use,
/// exports, or a law — as opposed to what it subscribed to (the `subscriptions` precondition,
/// `manifest.declared-trigger`, and `expect.deliveries[i]`, which counts what the platform
/// delivered to the subscriptions it holds), a run that could not be carried out (`flow`,
/// `steps[i]`, `tenant`) or a snapshot.
pub fn is_behavioural(check: &str) -> bool {
    (check.starts_with("expect.") && !check.starts_with("expect.deliveries"))
        || check.starts_with("effect.")
        || check.starts_with("export.")
        || check == "property"
}
