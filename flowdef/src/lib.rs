//! Power Automate and Logic Apps flow definitions, run on a host's clock: the loader (every
//! export format), the Workflow Definition Language's expressions, the action runtime, and
//! `check`, which lists every construct insightsim cannot run.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod check;
pub mod expr;
pub mod load;
pub mod model;
pub mod operations;

pub use check::{FlowReport, Problem, Report, check, check_with};
pub use load::{Format, LoadError, LoadedFlow, load, load_bytes, load_with};
pub use operations::{Connector, OperationMap, Sink};
pub mod host;
pub mod runtime;

pub use host::{BoxFuture, Host, Reply};
pub use runtime::{ActionRecord, Engine, NotRunnable, RunOutcome, RunRecord};
