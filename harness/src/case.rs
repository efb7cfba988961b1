//! One case, end to end: skip or run it, check it, compare its snapshot, grade it.

use std::path::Path;
use std::time::Instant;

use simulator::engine::DeliveryView;

use crate::check::check;
use crate::outcome::{CaseResult, Failure, Outcome, SnapshotStatus, TriggerUse};
use crate::replay::pace::human;
use crate::replay::{CaseRun, FlowUnderTest, Runner};
use crate::report::{CallLog, XfailList};
use crate::scenario::{Level, Scenario};
use crate::snapshot::{SnapshotStore, fails_case, name_for, snap_of_pending};
use crate::transcript;

/// Where snapshots are compared, and against which expected-failure list.
#[derive(Debug, Default, Clone, Copy)]
pub struct CaseSettings<'a> {
    pub snapshots: Option<&'a SnapshotStore>,
    pub xfail: Option<&'a XfailList>,
}

/// Runs one case against the runner's flow and grades it.
///
/// A flow outside the harness that acted after it was judged quiet (`CaseRun::late`) gets the
/// case run once more, with the settle window widened to cover the delay (the runner's pace
/// learnt it); if it is late again, the case fails saying so, never "did nothing".
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
        notes: Vec::new(),
        deliveries: Vec::new(),
        replay_file: None,
        runs: Vec::new(),
    };
    if let Some(reason) = runner.skip_reason(scenario) {
        result.outcome = Outcome::Skipped;
        result.skip_reason = Some(reason);
        result.duration = started.elapsed();
        return result;
    }
    let mut run = runner.run(scenario).await;
    if let Some(late) = run.late {
        let window = runner.settle_window();
        result.notes.push(format!(
            "the flow acted late, {} after it was last waited for; re-ran the case with a settle window of {}",
            human(late),
            human(window)
        ));
        run = runner.run(scenario).await;
        if let Some(late) = run.late {
            run.errors.push(Failure::new(
                "timing",
                format!(
                    "the flow to act within the settle window ({}, at most {}; --settle raises it)",
                    human(runner.settle_window()),
                    human(crate::replay::pace::SETTLE_MAX.max(runner.options.waits.settle))
                ),
                format!(
                    "it acted late ({} after the delivery or call it was waited for after)",
                    human(late)
                ),
            ));
        }
    }
    if let Some(overrun) = run.overrun {
        result.notes.push(format!(
            "the case went on {overrun} past its end while the flow was still working"
        ));
    }
    if !run.stale_calls.is_empty() {
        result.notes.push(format!(
            "{} call(s) to an earlier case's instance arrived during this case (answered 404, left out of its grading): the flow was still working on an earlier case, first: {} {}",
            run.stale_calls.len(),
            run.stale_calls[0].method,
            run.stale_calls[0].target
        ));
    }
    if !run.stale_sink_calls.is_empty() {
        result.notes.push(format!(
            "{} sink call(s) naming an earlier case's ids arrived during this case (left out of its grading): the flow was still working on an earlier case",
            run.stale_sink_calls.len()
        ));
    }
    result.transcript = transcript::render(&run);
    result.flow_stderr = run.flow_stderr.clone();
    result.calls = call_log(&run);
    result.deliveries = trigger_uses(&run);
    result.runs = transcript::runs(&run);
    result.failures = check(scenario, &run, runner.manifest());
    let external = !matches!(runner.flow, FlowUnderTest::InProcess(_));
    let waited_real_retry_after = external
        && run
            .journal
            .iter()
            .any(|e| CaseRun::is_flow_call(e) && e.status == 429);
    if scenario.expect.snapshot && waited_real_retry_after {
        result.notes.push(
            "no snapshot: the flow waited out a real Retry-After, whose values depend on timing"
                .to_owned(),
        );
    }
    // A run that could not be carried out (the flow did not start, a step failed) has nothing
    // worth comparing: its failures say why.
    if scenario.expect.snapshot
        && !waited_real_retry_after
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
        SnapshotStatus::Mismatch { path, .. } => match snap_of_pending(path) {
            Some(snap) => (
                format!("the transcript to match {snap}"),
                format!(
                    "it differs (see the diff); the new transcript is in {path}: accept it with --accept or cargo insta review"
                ),
            ),
            None => (
                format!("the transcript to match {path}"),
                "it differs (see the diff; nothing was written)".to_owned(),
            ),
        },
        SnapshotStatus::New { path } => (
            "an accepted snapshot (--strict or CI fails a missing one)".to_owned(),
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

/// How the flow took each trigger's deliveries.
fn trigger_uses(run: &CaseRun) -> Vec<TriggerUse> {
    let mut uses: Vec<TriggerUse> = Vec::new();
    for d in run
        .deliveries
        .iter()
        .filter(|d| d.fault.is_none() && d.redelivery_of.is_none())
    {
        let Some(event) = run.events.iter().find(|e| e.event_id == d.event_id) else {
            continue;
        };
        let trigger = event.trigger.id();
        let answered_ok = answered_ok(d);
        let acted = d.attempts.first().is_some_and(|first| {
            run.journal
                .iter()
                .any(|e| CaseRun::is_flow_call(e) && e.at >= first.at)
                || run.sink_calls.iter().any(|c| c.at >= first.at)
        });
        match uses.iter_mut().find(|u| u.trigger == trigger) {
            Some(u) => {
                u.deliveries += 1;
                u.answered_ok += usize::from(answered_ok);
                u.acted |= acted;
            }
            None => uses.push(TriggerUse {
                trigger: trigger.to_owned(),
                deliveries: 1,
                answered_ok: usize::from(answered_ok),
                acted,
            }),
        }
    }
    uses
}

fn answered_ok(d: &DeliveryView) -> bool {
    d.attempts.iter().any(|a| {
        a.result
            .as_deref()
            .and_then(|r| r.strip_prefix("status "))
            .and_then(|s| s.parse::<u16>().ok())
            .is_some_and(|s| (200..300).contains(&s))
    })
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
