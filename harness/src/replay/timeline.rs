//! The timeline of a case against an in-process flow: apply the steps that are due, run the
//! lifecycle up to now, hand every delivery to the flow, wait until all its tasks are idle
//! ([`TimeCtl`]), then jump the clock to the next thing that is due (a step, a lifecycle event,
//! a flow's sleep). Nothing waits on the wall clock.
//!
//! A flow the harness cannot see inside (a command or a URL) runs on the same steps and
//! dispatch, with the clock and quiet detection of `realtime.rs`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use simulator::delivery::Sender;
use simulator::engine::{AttemptResult, DeliveryAttempt};
use simulator::{SimDuration, SimTime, Simulator};

use super::case_run::CaseRun;
use super::clock_gate::ClockGate;
use super::flow_under_test::Running;
use super::inproc::IN_PROCESS_HOOK;
use super::sinks::Sinks;
use super::steps::{apply_step, describe_step};
use super::time::TimeCtl;
use crate::outcome::Failure;
use crate::scenario::Scenario;

/// The wall instants at which a process or URL flow answered deliveries (pushed by the
/// dispatch tasks, taken by the real-time loop).
/// With each answer, whether it was a `2xx`.
pub(super) type Answers = std::sync::Arc<parking_lot::Mutex<Vec<(std::time::Instant, bool)>>>;

/// How long a case runs after its last step when it does not say (`run_for`).
const RUN_FOR_DEFAULT: SimDuration = SimDuration::from_hours(1);

/// One case's simulator, its flow's time, and how deliveries reach the flow.
pub(super) struct Timeline<'a> {
    pub sim: &'a Arc<Simulator>,
    pub time: &'a TimeCtl,
    pub sinks: &'a Sinks,
    pub sender: &'a Sender,
    /// Longest a single delivery to a process or URL flow may take (wall time).
    pub delivery_timeout: Duration,
    /// Where the dispatch of a delivery to a process or URL flow records when it was answered.
    pub answers: Option<&'a Answers>,
    /// The clock gate of a process or URL flow: an answer counts from the instant its
    /// delivery is stamped with (see [`answered_at`]).
    pub gate: Option<&'a Arc<ClockGate>>,
}

impl Timeline<'_> {
    /// How long a case lasts: its last step, then `run_for`.
    pub(super) fn length(scenario: &Scenario) -> SimDuration {
        let last = scenario
            .steps
            .iter()
            .map(|s| s.at)
            .max()
            .unwrap_or(SimDuration::ZERO);
        last + scenario.run_for.unwrap_or(RUN_FOR_DEFAULT)
    }

    /// Applies the steps from `next_step` on that are due by now; returns the next one.
    pub(super) fn apply_due_steps(
        &self,
        scenario: &Scenario,
        mut next_step: usize,
        run: &mut CaseRun,
    ) -> usize {
        let sim = self.sim;
        let now = sim.clock.now();
        while next_step < scenario.steps.len() && run.start + scenario.steps[next_step].at <= now {
            let step = &scenario.steps[next_step];
            if run.first_step_seq.is_none() {
                run.first_step_seq = Some(sim.journal.last_seq());
            }
            run.steps.push((now, describe_step(step)));
            if let Err(e) = apply_step(sim, step) {
                run.errors.push(Failure::new(
                    format!("steps[{next_step}]"),
                    "the step to apply",
                    e,
                ));
            }
            next_step += 1;
        }
        next_step
    }

    /// The timeline of an in-process flow: steps, lifecycle and flow, until the end of the case.
    pub(super) async fn run(&self, scenario: &Scenario, running: &mut Running, run: &mut CaseRun) {
        let sim = self.sim;
        let time = self.time;
        let t0 = run.start;
        let end = t0 + Timeline::length(scenario);
        let mut next_step = 0;
        loop {
            next_step = self.apply_due_steps(scenario, next_step, run);
            self.settle(running).await;
            let candidates = [
                scenario.steps.get(next_step).map(|s| t0 + s.at),
                sim.next_due(),
                time.next_wake(),
            ];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            if next > end {
                break;
            }
            if next > sim.clock.now() {
                sim.clock.advance_to(next);
            }
            time.wake_due(sim.clock.now());
        }
    }

    /// Runs the lifecycle up to now and hands deliveries to the flow until everything is quiet.
    pub(super) async fn settle(&self, running: &mut Running) {
        loop {
            self.sim.tick();
            let deliveries = self.sim.take_deliveries();
            let none = deliveries.is_empty();
            for attempt in deliveries {
                self.dispatch(running, attempt);
            }
            self.time.until_idle().await;
            if none && self.time.active() == 0 && self.sim.pending_deliveries() == 0 {
                return;
            }
        }
    }

    pub(super) fn dispatch(&self, running: &Running, attempt: DeliveryAttempt) {
        let guard = self.time.enter();
        let sim = self.sim.clone();
        if attempt.url == IN_PROCESS_HOOK {
            let Running::InProcess { flow, ctx, .. } = running else {
                sim.delivery_result(
                    attempt.attempt_id,
                    AttemptResult::ConnectionError("no in-process flow".into()),
                );
                return;
            };
            let (flow, ctx) = (flow.clone(), ctx.clone());
            tokio::spawn(async move {
                let _guard = guard;
                let handle = async {
                    let event: Value = serde_json::from_str(&attempt.body).unwrap_or(Value::Null);
                    // The handler runs in its own task so that a panic is caught and answered.
                    let handler = tokio::spawn(async move { flow.on_event(&ctx, event).await });
                    match handler.await {
                        Ok(status) => AttemptResult::Status(status),
                        Err(e) => AttemptResult::ConnectionError(format!("the flow panicked: {e}")),
                    }
                };
                // An injected attempt fault means the same here as to the HTTP sender.
                let result = simulator::delivery::perform(&attempt, handle).await;
                sim.delivery_result(attempt.attempt_id, result);
            });
        } else {
            let sender = self.sender.clone();
            let timeout = self.delivery_timeout;
            let answers = self.answers.cloned();
            let sent = sim.clock.now();
            let stamp = self.gate.map(|gate| gate.stamp(sent));
            tokio::spawn(async move {
                let _guard = guard;
                let result = sender.send(&attempt, timeout).await;
                let ok = matches!(result, AttemptResult::Status(s) if (200..300).contains(&s));
                match stamp {
                    Some(stamp) => {
                        let at = answered_at(stamp, sim.clock.now() - sent);
                        sim.delivery_result_at(attempt.attempt_id, result, at);
                    }
                    None => sim.delivery_result(attempt.attempt_id, result),
                }
                if let Some(answers) = answers {
                    answers.lock().push((std::time::Instant::now(), ok));
                }
            });
        }
    }
}

/// The simulated instant an answer from a flow outside the harness counts from (a retry's
/// back-off, a late replay): the instant its delivery is stamped with in the transcript, plus the
/// whole seconds the flow took to answer. The clock followed the wall clock while the flow
/// answered, so the milliseconds vary from run to run; a flow that answers within a second
/// (as it should) has its retries at the same offsets as an in-process flow, and one that holds
/// a delivery open for seconds (or times out) still has them that much later.
fn answered_at(stamp: SimTime, took: SimDuration) -> SimTime {
    const SECOND: i64 = 1_000;
    stamp + SimDuration(took.as_millis().max(0) / SECOND * SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_counts_from_its_stamp_plus_whole_seconds() {
        let stamp = SimTime(10_000);
        assert_eq!(answered_at(stamp, SimDuration(3)), stamp);
        assert_eq!(answered_at(stamp, SimDuration(999)), stamp);
        assert_eq!(answered_at(stamp, SimDuration(2_004)), SimTime(12_000));
        assert_eq!(answered_at(stamp, SimDuration(-5)), stamp);
    }
}
