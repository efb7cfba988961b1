//! The reference flows (SPEC 4.2): what a Power Automate user builds on the Customer Insights
//! connector, written against [`crate::flow::Flow`] so that they run in-process on the
//! harness's virtual time and as a process (`insightsim flow NAME`). They double as examples of
//! a well-behaved flow — idempotent on `eventId`, honouring `Retry-After`, paging with `$skip`
//! — and, in the broken variants, of the real-world mistakes the suite must catch.
//!
//! ```
//! use harness::flows::find_flow;
//!
//! let flow = (find_flow("export-on-full-refresh").unwrap().make)();
//! assert_eq!(flow.triggers(), ["full-refresh-completed"]);
//! ```

mod api;
mod catalog;
mod email;
mod event;
mod export;
mod manifests;
mod measure;
pub mod mutants;
mod planted;
mod refresh_success;
mod teams;
#[cfg(test)]
mod testing;
mod unification;

pub use catalog::{UnknownFlow, find_flow, mutants, reference_flows};
pub use email::{EmailOffByOneThreshold, EmailOnSegmentThreshold, EmailPollsSegmentCounts};
pub use export::ExportOnFullRefresh;
pub use manifests::manifest_for;
pub use measure::TeamsOnMeasureThreshold;
pub use planted::planted;
pub use refresh_success::EmailOnRefreshSuccess;
pub use teams::TeamsOnRefreshFailure;
pub use unification::SyncOnUnificationSuccess;
