//! Replaying a scenario against a flow on virtual time.

pub mod inproc;
pub mod runner;
pub mod sinks;
pub mod steps;
pub mod time;

pub use runner::{CaseRun, FLOW_TOKEN, FlowUnderTest, HARNESS_TOKEN, RunOptions, Runner};
