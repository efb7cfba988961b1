//! The manifests of the reference flows (what each is for), and of their broken variants: a
//! broken variant claims to do its reference flow's job, so it carries the same manifest and is
//! held to it.

use super::catalog::mutants;
use crate::manifest::{Destination, Handles, Manifest};

/// One declared trigger.
struct Declared {
    trigger: &'static str,
    inputs: &'static [&'static str],
    effect: Destination,
    echo: &'static [&'static str],
    exports: Option<&'static str>,
}

/// The correct reference flows and what each declares.
const REFERENCE: &[(&str, Declared)] = &[
    (
        "teams-on-refresh-failure",
        Declared {
            trigger: "datasource-refresh-failed",
            inputs: &["dataSourceName"],
            effect: Destination::Teams,
            echo: &["dataSourceName", "friendlyName"],
            exports: None,
        },
    ),
    (
        "email-on-segment-threshold",
        Declared {
            trigger: "segment-threshold-crossed",
            inputs: &["segmentName", "threshold"],
            effect: Destination::Email,
            echo: &["segmentName", "entityCount"],
            exports: None,
        },
    ),
    (
        "export-on-full-refresh",
        Declared {
            trigger: "full-refresh-completed",
            inputs: &[],
            effect: Destination::Http,
            echo: &[],
            exports: Some("Customer"),
        },
    ),
    (
        "teams-on-measure-threshold",
        Declared {
            trigger: "measure-threshold-crossed",
            inputs: &["measureName", "threshold"],
            effect: Destination::Teams,
            echo: &["measureName", "value"],
            exports: None,
        },
    ),
    (
        "sync-on-unification-success",
        Declared {
            trigger: "unification-completed",
            inputs: &[],
            effect: Destination::Http,
            echo: &["jobId", "unifiedCustomerCount"],
            exports: None,
        },
    ),
    (
        "email-on-refresh-success",
        Declared {
            trigger: "datasource-refresh-succeeded",
            inputs: &["dataSourceName"],
            effect: Destination::Email,
            echo: &["dataSourceName", "friendlyName"],
            exports: None,
        },
    ),
];

/// The broken variants among the reference flows, and the flow each breaks.
const BROKEN: &[(&str, &str)] = &[
    ("export-ignores-retry-after", "export-on-full-refresh"),
    ("export-first-page-only", "export-on-full-refresh"),
    ("email-polls-segment-counts", "email-on-segment-threshold"),
    ("email-off-by-one-threshold", "email-on-segment-threshold"),
    ("teams-not-idempotent", "teams-on-refresh-failure"),
];

/// The manifest of the reference flow or mutant named `name`: what the flow it is (or breaks)
/// is for.
pub fn manifest_for(name: &str) -> Option<Manifest> {
    let reference = BROKEN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, of)| *of)
        .or_else(|| mutants().iter().find(|m| m.flow.name == name).map(|m| m.of))
        .unwrap_or(name);
    let (_, d) = REFERENCE.iter().find(|(n, _)| *n == reference)?;
    Some(Manifest {
        description: String::new(),
        handles: vec![Handles {
            trigger: d.trigger.to_owned(),
            inputs: Some(d.inputs.iter().map(|s| (*s).to_owned()).collect()),
            effect: d.effect,
            echo: d.echo.iter().map(|s| (*s).to_owned()).collect(),
            exports: d.exports.map(str::to_owned),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::reference_flows;

    #[test]
    fn every_reference_flow_and_mutant_has_a_valid_manifest_of_the_trigger_it_is_for() {
        for f in reference_flows() {
            let m = manifest_for(f.name).unwrap_or_else(|| panic!("{}", f.name));
            m.validate().unwrap_or_else(|e| panic!("{}: {e}", f.name));
            assert_eq!(m.triggers(), (f.make)().triggers(), "{}", f.name);
        }
        for m in mutants() {
            let manifest = manifest_for(m.flow.name).unwrap();
            assert_eq!(manifest, manifest_for(m.of).unwrap(), "{}", m.flow.name);
        }
        assert_eq!(manifest_for("no-such-flow"), None);
    }
}
