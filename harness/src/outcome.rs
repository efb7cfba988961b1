//! The result of running one case.

use std::time::Duration;

use serde::Serialize;

use crate::scenario::Level;

/// How a case was graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    /// A `SHOULD` requirement was missed (a failure under `--strict`).
    NonStrict,
    Fail,
    Skipped,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Which expectation (`expect.deliveries[0]`, `expect.api.pages_complete`, `snapshot`, `flow`).
    pub check: String,
    /// Every acceptable outcome, in words.
    pub expected: String,
    /// What happened.
    pub actual: String,
}

impl Failure {
    pub fn new(
        check: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Failure {
        Failure {
            check: check.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// The snapshot comparison of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum SnapshotStatus {
    Matched,
    /// No snapshot existed; the new one was written as `path` (a `.snap.new`, or the `.snap`
    /// itself with `--accept`).
    New {
        path: String,
    },
    Mismatch {
        path: String,
        diff: String,
    },
    Accepted {
        path: String,
    },
}

/// How a flow took the deliveries of one trigger in one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerUse {
    pub trigger: String,
    /// First attempts of deliveries (not re-sends or fault-injected copies).
    pub deliveries: usize,
    /// Deliveries it answered with a `2xx`.
    pub answered_ok: usize,
    /// Whether it called the API or a sink after a delivery of this trigger.
    pub acted: bool,
}

/// Everything the reports need about one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub flow: String,
    pub requirement: String,
    pub level: Level,
    pub seed: u64,
    pub outcome: Outcome,
    /// Why the case was skipped.
    pub skip_reason: Option<String>,
    pub failures: Vec<Failure>,
    #[serde(serialize_with = "as_secs")]
    pub duration: Duration,
    /// The transcript of what the flow visibly did (also what snapshots hold).
    pub transcript: String,
    pub snapshot: Option<SnapshotStatus>,
    /// The flow process's standard error, when it ran as a process.
    pub flow_stderr: Option<String>,
    /// The case is on the flow's expected-failure list.
    pub expected_failure: bool,
    /// What the harness wants the reader to know beyond the verdict: a re-run after the flow
    /// acted late, time spent past the case's end, a snapshot not taken, stale calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How the flow took each trigger's deliveries in this case (for the end-of-run hint about
    /// a trigger it never acts on; not in the JSON report).
    #[serde(skip)]
    pub deliveries: Vec<TriggerUse>,
    /// For a law that failed: the scenario file its minimal failing timeline was written to
    /// (the reproduce line replays it).
    #[serde(skip)]
    pub replay_file: Option<String>,
    /// The flow's run history, when it keeps one (a flow definition): each run with its
    /// actions, their inputs, outputs, status and duration, ids named as in the transcript.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<crate::history::FlowRun>,
    /// The flow's API calls and the call limit, for the HTML report's plots (not in the JSON
    /// report, whose format it would change).
    #[serde(skip)]
    pub calls: crate::report::CallLog,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl CaseResult {
    /// Whether this result fails the run: a failure (or, under `--strict`, a missed SHOULD)
    /// that was not expected, or an expected failure that passed.
    pub fn fails_run(&self, strict: bool) -> bool {
        let failed = match self.outcome {
            Outcome::Fail => true,
            Outcome::NonStrict => strict,
            Outcome::Pass | Outcome::Skipped => false,
        };
        if self.expected_failure {
            !failed && self.outcome != Outcome::Skipped
        } else {
            failed
        }
    }
}
