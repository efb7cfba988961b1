//! The reference flows and the mutants by name: the ids users type (`insightsim flow NAME`,
//! `run --flow NAME`).

use std::sync::Arc;

use super::email::{EmailOffByOneThreshold, EmailOnSegmentThreshold, EmailPollsSegmentCounts};
use super::export::ExportOnFullRefresh;
use super::measure::TeamsOnMeasureThreshold;
use super::mutants::{self, Mutant};
use super::refresh_success::EmailOnRefreshSuccess;
use super::teams::TeamsOnRefreshFailure;
use super::unification::SyncOnUnificationSuccess;
use crate::flow::FlowFactory;

/// Every reference flow, correct ones first, then the deliberately broken variants that the
/// suite must fail.
pub fn reference_flows() -> Vec<FlowFactory> {
    vec![
        FlowFactory {
            name: "teams-on-refresh-failure",
            description: "posts to Teams when a data source refresh fails, once per event",
            broken: None,
            make: || Arc::new(TeamsOnRefreshFailure::new()),
        },
        FlowFactory {
            name: "email-on-segment-threshold",
            description: "e-mails the data owners when a segment crosses a threshold, with the member count and the first members",
            broken: None,
            make: || Arc::new(EmailOnSegmentThreshold::default()),
        },
        FlowFactory {
            name: "export-on-full-refresh",
            description: "exports all customers page by page after a successful scheduled full refresh, honouring Retry-After",
            broken: None,
            make: || Arc::new(ExportOnFullRefresh::new()),
        },
        FlowFactory {
            name: "teams-on-measure-threshold",
            description: "posts to Teams when a business measure rises above a threshold, with its value and the threshold, once per event",
            broken: None,
            make: || Arc::new(TeamsOnMeasureThreshold::new()),
        },
        FlowFactory {
            name: "sync-on-unification-success",
            description: "asks a downstream system over HTTP to refresh its customer profiles when unification succeeds (and does nothing when it does not), once per event",
            broken: None,
            make: || Arc::new(SyncOnUnificationSuccess::new()),
        },
        FlowFactory {
            name: "email-on-refresh-success",
            description: "e-mails the data owners when a data source refreshes successfully (optionally one source), once per event",
            broken: None,
            make: || Arc::new(EmailOnRefreshSuccess::new()),
        },
        FlowFactory {
            name: "export-ignores-retry-after",
            description: "export-on-full-refresh, but a throttled page is retried at once",
            broken: Some(
                "ignores Retry-After: retries a throttled call at once, hammering the API",
            ),
            make: || Arc::new(ExportOnFullRefresh::ignoring_retry_after()),
        },
        FlowFactory {
            name: "export-first-page-only",
            description: "export-on-full-refresh, but only the first page is exported",
            broken: Some("stops after the first page: forgot to loop over $skip"),
            make: || Arc::new(ExportOnFullRefresh::first_page_only()),
        },
        FlowFactory {
            name: "email-polls-segment-counts",
            description: "e-mails about segment counts found by polling every 15 minutes instead of using the trigger",
            broken: Some(
                "polls instead of subscribing: e-mails on every poll above the threshold, not once per upward crossing",
            ),
            make: || Arc::new(EmailPollsSegmentCounts),
        },
        FlowFactory {
            name: "email-off-by-one-threshold",
            description: "email-on-segment-threshold, but subscribed with threshold + 1",
            broken: Some(
                "subscribes with threshold + 1: misses a count that ends just above the threshold",
            ),
            make: || Arc::new(EmailOffByOneThreshold::default()),
        },
        FlowFactory {
            name: "teams-not-idempotent",
            description: "teams-on-refresh-failure, but without remembering handled events",
            broken: Some("not idempotent: a redelivered event posts a second Teams message"),
            make: || Arc::new(TeamsOnRefreshFailure::not_idempotent()),
        },
    ]
}

/// The broken variants that measure the suite (issue 9), apart from [`reference_flows`]: their
/// catch matrix is `docs/suite.md` (`tests/mutants.rs`).
pub fn mutants() -> Vec<Mutant> {
    mutants::all()
}

/// The reference flow or mutant named `name`, or an error listing the reference flows.
pub fn find_flow(name: &str) -> Result<FlowFactory, UnknownFlow> {
    let flows = reference_flows();
    flows
        .iter()
        .copied()
        .chain(mutants().iter().map(|m| m.flow))
        .find(|f| f.name == name)
        .ok_or_else(|| UnknownFlow {
            name: name.to_owned(),
            known: flows.iter().map(|f| f.name).collect::<Vec<_>>().join(", "),
        })
}

/// A flow name that is neither a reference flow nor a mutant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown flow \"{name}\"; the reference flows are {known} (insightsim flow --list); the broken variants and mutants are listed in docs/suite.md"
)]
pub struct UnknownFlow {
    pub name: String,
    pub known: String,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The trigger a reference flow is for, from its name (`<effect>-on-<job>`).
    fn trigger_of(name: &str) -> &'static str {
        match name {
            n if n.starts_with("teams-on-measure") => "measure-threshold-crossed",
            n if n.starts_with("sync-on-unification") => "unification-completed",
            n if n.starts_with("email-on-refresh-success") => "datasource-refresh-succeeded",
            n if n.starts_with("teams") => "datasource-refresh-failed",
            n if n.starts_with("email") => "segment-threshold-crossed",
            _ => "full-refresh-completed",
        }
    }

    #[test]
    fn names_are_unique_and_every_flow_handles_the_trigger_it_is_named_for() {
        let flows = reference_flows();
        let names: BTreeSet<&str> = flows.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), 11);
        for f in &flows {
            assert_eq!(
                (f.make)().triggers(),
                vec![trigger_of(f.name)],
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn a_correct_reference_flow_handles_each_of_the_six_triggers() {
        let handled: BTreeSet<&str> = reference_flows()
            .iter()
            .filter(|f| f.broken.is_none())
            .flat_map(|f| (f.make)().triggers())
            .collect();
        let all: BTreeSet<&str> = simulator::engine::Trigger::ALL
            .iter()
            .map(|t| t.id())
            .collect();
        assert_eq!(handled, all);
    }

    #[test]
    fn five_are_broken_and_say_their_mistake() {
        let broken: Vec<&str> = reference_flows()
            .iter()
            .filter(|f| f.broken.is_some_and(|m| !m.is_empty()))
            .map(|f| f.name)
            .collect();
        assert_eq!(
            broken,
            [
                "export-ignores-retry-after",
                "export-first-page-only",
                "email-polls-segment-counts",
                "email-off-by-one-threshold",
                "teams-not-idempotent",
            ]
        );
    }

    #[test]
    fn finds_a_flow_by_name_or_lists_the_names() {
        assert_eq!(
            find_flow("export-first-page-only").map(|f| f.name),
            Ok("export-first-page-only")
        );
        assert_eq!(
            find_flow("export-drops-the-last-row-of-each-page").map(|f| f.name),
            Ok("export-drops-the-last-row-of-each-page")
        );
        let err = find_flow("export").map(|f| f.name);
        assert!(
            err.as_ref().is_err_and(|e| e.to_string().starts_with(
                "unknown flow \"export\"; the reference flows are teams-on-refresh-failure, "
            )),
            "{err:?}"
        );
    }
}
