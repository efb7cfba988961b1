//! Power Automate and Logic Apps flow definitions, run on a host's clock: the loader (every
//! export format), the Workflow Definition Language's expressions, the action runtime, and
//! `check`, which lists every construct insightsim cannot run.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod expr;
