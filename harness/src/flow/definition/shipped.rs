//! The definitions shipped in `flows/definitions/` ([`SHIPPED`]): the reference flows in every
//! export format and the broken ones, and the snapshot files the correct ones produce.

use std::collections::BTreeSet;
use std::path::Path;

use flowdef::OperationMap;

use super::manifest_of;
use crate::replay::{Applicability, applicability};
use crate::scenario::Case;
use crate::snapshot::name_for;

/// A definition shipped in `flows/definitions/`: the flow at `index` in `file` (relative to that
/// folder), the name it has in reports and snapshot files (`definition-…`, apart from the Rust
/// reference flows'; the forms of one flow share it, and so their snapshots), and, for a broken
/// one, its real-world mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shipped {
    pub file: &'static str,
    pub index: usize,
    pub name: &'static str,
    pub broken: Option<&'static str>,
}

/// The shipped definitions: every reference flow in every export format, then the broken ones.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        file: "teams-on-refresh-failure.json",
        index: 0,
        name: "definition-teams-on-refresh-failure",
        broken: None,
    },
    Shipped {
        file: "email-on-segment-threshold.json",
        index: 0,
        name: "definition-email-on-segment-threshold",
        broken: None,
    },
    Shipped {
        file: "packages/email-on-segment-threshold.zip",
        index: 0,
        name: "definition-email-on-segment-threshold",
        broken: None,
    },
    Shipped {
        file: "export-on-full-refresh.json",
        index: 0,
        name: "definition-export-on-full-refresh",
        broken: None,
    },
    Shipped {
        file: "packages/contoso-customer-insights-solution.zip",
        index: 0,
        name: "definition-export-on-full-refresh",
        broken: None,
    },
    Shipped {
        file: "logic-apps/export-on-full-refresh/workflow.json",
        index: 0,
        name: "definition-logic-apps-export-on-full-refresh",
        broken: None,
    },
    Shipped {
        file: "status-report-on-refresh-succeeded.json",
        index: 0,
        name: "definition-status-report-on-refresh-succeeded",
        broken: None,
    },
    Shipped {
        file: "packages/contoso-customer-insights-solution.zip",
        index: 1,
        name: "definition-status-report-on-refresh-succeeded",
        broken: None,
    },
    Shipped {
        file: "teams-on-measure-threshold.arm.json",
        index: 0,
        name: "definition-teams-on-measure-threshold",
        broken: None,
    },
    Shipped {
        file: "unification-summary.definition.json",
        index: 0,
        name: "definition-unification-summary",
        broken: None,
    },
    Shipped {
        file: "broken/export-until-default-count.json",
        index: 0,
        name: "definition-export-until-default-count",
        broken: Some("the Until loop keeps the default limit of 60 iterations: 6,000 rows at most"),
    },
    Shipped {
        file: "broken/export-parallel-pages.json",
        index: 0,
        name: "definition-export-parallel-pages",
        broken: Some(
            "Apply to each with concurrency 20 sets a shared Skip variable: pages are fetched twice",
        ),
    },
    Shipped {
        file: "broken/export-http-no-retry.json",
        index: 0,
        name: "definition-export-http-no-retry",
        broken: Some("the HTTP action calls the API with retryPolicy none: a 429 fails it"),
    },
    Shipped {
        file: "broken/email-threshold-as-string.json",
        index: 0,
        name: "definition-email-threshold-as-string",
        broken: Some("compares counts with the threshold as text: '900' is above '1000'"),
    },
];

/// The snapshot files (stems) the correct shipped definitions produce, read from `root`
/// (the folder `flows/definitions/` is in): one per (definition, case) where the case asks for a
/// snapshot and is for the definition by the manifest read from it. An error names a shipped
/// definition that does not load or has no manifest.
pub fn shipped_snapshot_names(root: &Path, cases: &[Case]) -> Result<BTreeSet<String>, String> {
    let map = OperationMap::built_in();
    let mut names = BTreeSet::new();
    for s in SHIPPED.iter().filter(|s| s.broken.is_none()) {
        let path = root.join("flows/definitions").join(s.file);
        let mut flows = flowdef::load(&path).map_err(|e| e.to_string())?;
        if s.index >= flows.len() {
            return Err(format!("{} has no flow #{}", path.display(), s.index));
        }
        let flow = flows.swap_remove(s.index);
        let manifest = manifest_of(&flow, &map)?;
        let handles: Vec<String> = manifest.handles.iter().map(|h| h.trigger.clone()).collect();
        for case in cases.iter().filter(|c| c.scenario.expect.snapshot) {
            if applicability(Some(&manifest), &handles, &case.scenario) == Applicability::Runs {
                names.insert(name_for(s.name, &case.id));
            }
        }
    }
    Ok(names)
}
