//! One case, end to end: skip or run it, check it, compare its snapshot, grade it.

use std::path::Path;
use std::time::Instant;

use crate::check::check;
use crate::outcome::{CaseResult, Failure, Outcome, SnapshotStatus};
use crate::replay::{CaseRun, Runner};
use crate::report::{CallLog, XfailList};
use crate::scenario::{Level, Scenario};
use crate::snapshot::{SnapshotStore, fails_case, name_for};
use crate::transcript;

/// Where snapshots are compared, and against which expected-failure list.
#[derive(Debug, Default, Clone, Copy)]
pub struct CaseSettings<'a> {
    pub snapshots: Option<&'a SnapshotStore>,
    pub xfail: Option<&'a XfailList>,
}

/// Runs one case against the runner's flow and grades it.
pub async fn run_case(
    runner: &Runner,
    id: &str,
    path: &Path,
    scenario: &Scenario,
    settings: CaseSettings<'_>,
) -> CaseResult {
    let started = Instant::now();
    let flow = runner.flow_name();
    let mut result = CaseResult {
        id: id.to_owned(),
        flow: flow.clone(),
        requirement: scenario.requirement.clone(),
        level: scenario.level().unwrap_or(Level::Must),
        seed: runner.options.seed.unwrap_or_else(|| scenario.seed()),
        outcome: Outcome::Pass,
        skip_reason: None,
        failures: Vec::new(),
        duration: Default::default(),
        transcript: String::new(),
        snapshot: None,
        flow_stderr: None,
        expected_failure: settings
            .xfail
            .is_some_and(|x| x.expects(&flow, id).is_some()),
        calls: Default::default(),
        runs: Vec::new(),
    };
    if let Some(reason) = runner.skip_reason(scenario) {
        result.outcome = Outcome::Skipped;
        result.skip_reason = Some(reason);
        result.duration = started.elapsed();
        return result;
    }
    let run = runner.run(scenario).await;
    result.transcript = transcript::render(&run);
    result.flow_stderr = run.flow_stderr.clone();
    result.calls = call_log(&run);
    result.runs = transcript::runs(&run);
    result.failures = check(scenario, &run, runner.manifest());
    // A run that could not be carried out (the flow did not start, a step failed) has nothing
    // worth comparing: its failures say why.
    if scenario.expect.snapshot
        && run.errors.is_empty()
        && let Some(store) = settings.snapshots
    {
        let input = path.to_string_lossy().replace('\\', "/");
        match store.check(&name_for(&flow, id), &result.transcript, Some(&input)) {
            Ok(status) => {
                if fails_case(&status) {
                    result.failures.push(snapshot_failure(&status));
                }
                result.snapshot = Some(status);
            }
            Err(e) => result.failures.push(Failure {
                check: "snapshot".to_owned(),
                expected: "the snapshot to be read and written".to_owned(),
                actual: e.to_string(),
            }),
        }
    }
    result.outcome = match (result.failures.is_empty(), result.level) {
        (true, _) => Outcome::Pass,
        (false, Level::Should) => Outcome::NonStrict,
        (false, Level::Must) => Outcome::Fail,
    };
    result.duration = started.elapsed();
    result
}

fn snapshot_failure(status: &SnapshotStatus) -> Failure {
    let (expected, actual) = match status {
        SnapshotStatus::Mismatch { path, .. } => (
            format!("the transcript to match {path}"),
            "it differs (see the diff; accept with --accept or cargo insta review)".to_owned(),
        ),
        SnapshotStatus::New { path } => (
            "an accepted snapshot".to_owned(),
            format!(
                "none yet; wrote {path} for review (accept with --accept or cargo insta review)"
            ),
        ),
        other => ("a matching snapshot".to_owned(), format!("{other:?}")),
    };
    Failure {
        check: "snapshot".to_owned(),
        expected,
        actual,
    }
}

/// The flow's calls in a case run, with the case's call limit (for the HTML report's plots).
fn call_log(run: &CaseRun) -> CallLog {
    CallLog::from_journal(
        &run.journal,
        run.start,
        CaseRun::is_flow_call,
        run.grades.iter().find_map(|g| g.ideal_per_window),
        run.window.map(|w| w.as_millis()),
    )
}
