//! The conformance harness: scenarios, flow adapters, sinks, replay, checks and reports; and the
//! load driver of `insightsim load`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod case;
pub mod check;
pub mod error_chain;
pub mod flow;
pub mod flows;
pub mod load;
pub mod outcome;
pub mod properties;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod session;
pub mod snapshot;
pub mod transcript;
