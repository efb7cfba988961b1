//! The conformance harness of insightsim: it replays *scenarios* (the TOML files of
//! `scenarios/`) against a *flow under test* and grades what the flow visibly did — its calls to
//! the Customer Insights API, the webhook deliveries it answered, its calls to downstream
//! connectors (the *sinks*: a Teams message, an e-mail, any HTTP call).
//!
//! A flow is an in-process Rust [`Flow`](flow::Flow), a command started per case
//! (`insightsim run --flow-cmd`), or a running endpoint (`--flow-url`). Each case gets a fresh
//! simulator on a frozen clock; the harness applies the case's steps, hands every delivery to
//! the flow, waits until the flow is quiet, and jumps the clock to the next thing that is due, so
//! a day of the connector's life replays in milliseconds. A flow outside the process shares one
//! clock with the simulator, which follows the wall clock while the flow may be working (see
//! `replay/realtime.rs`). It then checks the case's expectations,
//! compares a transcript snapshot, and grades the case `pass`, `non-strict` (a missed `SHOULD`),
//! `fail` or `skipped`. Property laws generate timelines with proptest and shrink a failure to a
//! scenario file that replays it.
//!
//! # Getting started
//!
//! One scenario against the reference flow that e-mails a segment's first members when the
//! segment crosses its threshold, in-process, on virtual time:
//!
//! ```
//! use std::path::Path;
//!
//! use harness::flows::find_flow;
//! use harness::outcome::Outcome;
//! use harness::replay::{FlowUnderTest, RunOptions};
//! use harness::scenario::{Case, parse};
//! use harness::session::Session;
//!
//! let text = r#"
//! format = 1
//! id = "segment/fires-once"
//! requirement = "A flow MUST e-mail once per upward crossing of the threshold."
//!
//! [[subscriptions]]
//! trigger = "segment-threshold-crossed"
//! inputs = { segmentName = "HighValueCustomers", threshold = 1000 }
//!
//! [[steps]]
//! at = "0s"
//! evaluate_segment = { name = "HighValueCustomers", entity_count = 900 }
//! [[steps]]
//! at = "1d"
//! evaluate_segment = { name = "HighValueCustomers", entity_count = 1100 }
//!
//! [expect]
//! deliveries = [{ trigger = "segment-threshold-crossed", count = 1 }]
//! sinks = [{ sink = "email", count = 1, body_contains = "HighValueCustomers" }]
//! "#;
//! let path = Path::new("segment/fires-once.toml");
//! let case = Case {
//!     id: "segment/fires-once".into(),
//!     path: path.into(),
//!     scenario: parse(text, path)?,
//! };
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! let flow = FlowUnderTest::InProcess(find_flow("email-on-segment-threshold")?);
//! let mut session = Session::start(runtime.handle(), flow, RunOptions::default())?;
//! let result = session.run_case(&case);
//! assert_eq!(result.outcome, Outcome::Pass, "{:?}", result.failures);
//! // One line per observation, on simulated time: what snapshots hold.
//! assert!(result.transcript.contains("+1d          sink      email"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `insightsim run --flow email-on-segment-threshold` does the same for the whole suite, and
//! `tests/suite.rs` does it as one test per (reference flow, case).
//!
//! # Map
//!
//! Each module may import only from the modules listed before it (`tests/it/architecture.rs`
//! checks that no file imports another in a cycle):
//!
//! - [`scenario`]: the file format — [`Scenario`](scenario::Scenario), parsing with errors
//!   that name the file, line and key, loading a [`Suite`](scenario::Suite), the JSON Schema;
//! - [`error_chain`]: an error and its causes on one line;
//! - [`manifest`]: what a flow is for (the triggers it handles, where its effect goes, what the
//!   effect carries);
//! - [`history`]: the run history of a flow that keeps one (a flow definition's runs and
//!   actions, as Power Automate's run view shows them);
//! - [`outcome`]: a graded case ([`CaseResult`](outcome::CaseResult), `Failure`);
//! - [`flow`]: the [`Flow`](flow::Flow) trait and what a flow can do ([`FlowIo`](flow::FlowIo));
//!   [`flow::process`] runs one as a process over real HTTP;
//! - [`flows`]: the reference flows and their deliberately broken variants;
//! - [`replay`]: one case against one flow on virtual time ([`Runner`](replay::Runner) →
//!   [`CaseRun`](replay::CaseRun));
//! - [`check`] (expectations to failures), [`transcript`] (the snapshot text), [`snapshot`]
//!   (insta-format files);
//! - [`report`]: console, JUnit, JSON, expected-failure lists, the exit code;
//! - [`case`]: one case end to end (run, check, snapshot, grade);
//! - [`properties`]: the laws, checked over generated timelines;
//! - [`session`]: a whole run — case selection, the case loop, the laws, the results — as the
//!   CLI and the test suite carry it out;
//! - [`load`]: the load driver of `insightsim load` (on its own: it uses none of the above).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod case;
pub mod check;
pub mod error_chain;
pub mod flow;
pub mod flows;
pub mod history;
pub mod load;
pub mod manifest;
pub mod outcome;
pub mod properties;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod session;
pub mod snapshot;
mod text;
pub mod transcript;
