//! Whether a case is for the flow under test: by the flow's manifest (what it declares it is
//! for) or, without one, by the triggers it subscribes to.

use crate::manifest::Manifest;
use crate::scenario::Scenario;

/// Whether a case is for the flow under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applicability {
    /// It runs.
    Runs,
    /// It is about something the flow's manifest does not declare (another trigger, an export
    /// it does not make): not for this flow.
    NotDeclared(String),
    /// The flow cannot take it (it does not subscribe to the case's trigger, or does not read an
    /// input the case configures): skipped, with this reason.
    Skipped(String),
}

/// Whether `scenario` is for a flow with `manifest` that subscribes to `handles`. With a
/// manifest, a case for a declared trigger runs even when the flow does not subscribe to it (and
/// fails, naming both); a case about another trigger, or about an export the flow does not
/// declare, is not for it; a case configuring an input the flow does not read is skipped.
/// Without one, a case whose trigger the flow does not subscribe to is skipped.
pub fn applicability(
    manifest: Option<&Manifest>,
    handles: &[String],
    scenario: &Scenario,
) -> Applicability {
    let Some(manifest) = manifest else {
        let missing: Vec<&str> = scenario
            .triggers()
            .into_iter()
            .filter(|t| !handles.iter().any(|m| m == t))
            .collect();
        if missing.is_empty() {
            return Applicability::Runs;
        }
        return Applicability::Skipped(format!(
            "the flow does not subscribe to {} (it handles: {})",
            missing.join(", "),
            if handles.is_empty() {
                "nothing".to_owned()
            } else {
                handles.join(", ")
            }
        ));
    };
    let triggers = scenario.triggers();
    let undeclared: Vec<&str> = triggers
        .iter()
        .copied()
        .filter(|t| !manifest.declares(t))
        .collect();
    if !undeclared.is_empty() {
        return Applicability::NotDeclared(format!(
            "for {}, which the flow's manifest does not declare (it declares {})",
            undeclared.join(", "),
            manifest.triggers().join(", ")
        ));
    }
    let expect = &scenario.expect;
    let exported = expect
        .api
        .as_ref()
        .and_then(|a| a.pages_complete.as_ref())
        .or(expect.rows_downstream.as_ref());
    if let Some(entity) = exported
        && !triggers.iter().any(|t| {
            manifest
                .handle(t)
                .and_then(|h| h.exports.as_ref())
                .is_some_and(|e| e.eq_ignore_ascii_case(entity))
        })
    {
        return Applicability::NotDeclared(format!(
            "about exporting {entity}, which the flow's manifest does not declare (exports = \"{entity}\")"
        ));
    }
    for sub in &scenario.subscriptions {
        let Some(taken) = manifest
            .handle(&sub.trigger)
            .and_then(|h| h.inputs.as_ref())
        else {
            continue;
        };
        if let Some(input) = sub
            .inputs
            .keys()
            .find(|k| !taken.iter().any(|t| t.eq_ignore_ascii_case(k)))
        {
            return Applicability::Skipped(format!(
                "the case configures {input} for {}, which the flow does not read (its manifest's inputs: {})",
                sub.trigger,
                if taken.is_empty() {
                    "none".to_owned()
                } else {
                    taken.join(", ")
                }
            ));
        }
    }
    Applicability::Runs
}
