//! Power Automate and Logic Apps flow definitions, run on a host's clock: the loader (every
//! export format), the Workflow Definition Language's expressions, the action runtime, and
//! `check`, which lists every construct insightsim cannot run.
//!
//! ```
//! use std::path::Path;
//!
//! let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/definitions");
//! // A solution export holds several flows; each is checked and loaded on its own.
//! let solution = dir.join("packages/contoso-customer-insights-solution.zip");
//! let report = flowdef::check(&solution);
//! assert!(report.is_ok(), "{report}");
//! let flows = flowdef::load(&solution).unwrap();
//! let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
//! assert_eq!(names, ["ExportOnFullRefresh", "StatusReportOnRefreshSucceeded"]);
//! let trigger = flows[0].definition.trigger.as_ref().unwrap();
//! assert_eq!(trigger.trigger_id, "full-refresh-completed");
//! ```
//!
//! A loaded flow runs on any [`Host`] through an [`Engine`]: turn it on (it subscribes), hand
//! it each delivery, read its [`RunRecord`]s. The harness's host is the simulator on virtual
//! time (`harness::flow::definition`); `tests/it/runtime.rs` uses a scripted one.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod check;
pub mod expr;
pub mod intent;
pub mod load;
pub mod model;
pub mod operations;

pub use check::{FlowReport, Problem, Report, check, check_with};
pub use intent::{Effect, Intent, intent};
pub use load::{Format, LoadError, LoadedFlow, load, load_bytes, load_with};
pub use operations::{Connector, OperationMap, Sink};
pub mod host;
pub mod runtime;

pub use host::{BoxFuture, Host, Reply};
pub use runtime::{ActionRecord, Engine, NotRunnable, RunOutcome, RunRecord};
