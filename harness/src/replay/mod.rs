//! Replaying a scenario against a flow on virtual time.
//!
//! [`Runner`] runs one case: it builds the case's simulator ([`tenant`]), starts the flow under
//! test ([`FlowUnderTest`]; a command flow through `command`, after `discovery` found its
//! triggers), applies the steps ([`steps`]) along the `timeline`, and gathers what happened into
//! a [`CaseRun`]. In-process flows get [`inproc::InProcessIo`] on virtual time ([`time`]); a
//! command or URL flow runs on one clock that follows the wall clock while it may be working
//! (`realtime`, `clock_gate`, [`pace`]); every flow posts to the mocked [`sinks`].

mod applicability;
mod case_run;
mod clock_gate;
mod command;
mod discovery;
mod flow_under_test;
pub mod inproc;
pub mod pace;
mod realtime;
mod runner;
pub mod sinks;
pub mod steps;
mod subscriptions;
pub mod tenant;
pub mod time;
mod timeline;

pub use applicability::{Applicability, applicability};
pub use case_run::{CaseRun, EntityKeys};
pub use command::{CommandError, split_command};
pub use flow_under_test::FlowUnderTest;
pub use pace::{Pace, Waits};
pub use realtime::{RealTimeWait, WaitObserver};
pub use runner::{RunOptions, Runner, RunnerError};
pub use tenant::{CaseTenantError, build_simulator};

/// The bearer token of the flow's connection (in-process and command flows).
pub const FLOW_TOKEN: &str = "flow";
/// The bearer token of the harness's own calls (steps that create or update items).
pub const HARNESS_TOKEN: &str = "insightsim-harness";
