//! The timeline of a case: apply the steps that are due, run the lifecycle up to now, hand
//! every delivery to the flow, wait until the flow is quiet, then jump the clock to the next
//! thing that is due (a step, a lifecycle event, a flow's sleep, a `Retry-After` deadline).
//!
//! "Quiet" depends on what the harness can see. An in-process flow is quiet when all its tasks
//! are idle ([`TimeCtl`]). A process or URL flow is opaque: it is quiet when the API journal and
//! the sinks have been still for the settle time, on the wall clock; and while it waits out a
//! `Retry-After` the clock runs at real speed, so that a flow that waits correctly is not taken
//! for one that retries early.
//!
//! Everything the loop needs is in [`Timeline`], so that the policy (how quiet is detected, how
//! the clock moves) can change here without touching the rest of the runner.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use simulator::delivery::Sender;
use simulator::engine::{AttemptResult, DeliveryAttempt};
use simulator::{SimDuration, SimTime, Simulator};

use super::HARNESS_TOKEN;
use super::case_run::CaseRun;
use super::flow_under_test::Running;
use super::inproc::IN_PROCESS_HOOK;
use super::sinks::Sinks;
use super::steps::{apply_step, describe_step};
use super::time::TimeCtl;
use crate::outcome::Failure;
use crate::scenario::Scenario;

/// How long a case runs after its last step when it does not say (`run_for`).
const RUN_FOR_DEFAULT: SimDuration = SimDuration::from_hours(1);
/// The longest wall-clock nap while simulated time runs at real speed.
const REAL_TIME_NAP: Duration = Duration::from_millis(50);

/// One case's simulator, its flow's time, and how deliveries reach the flow.
pub(super) struct Timeline<'a> {
    pub sim: &'a Arc<Simulator>,
    pub time: &'a TimeCtl,
    pub sinks: &'a Sinks,
    pub sender: &'a Sender,
    /// How long a process or URL flow must be silent to count as quiet.
    pub settle: Duration,
    /// Longest a single delivery to a process or URL flow may take (wall time).
    pub delivery_timeout: Duration,
}

impl Timeline<'_> {
    /// The timeline: steps, lifecycle and flow, until the end of the case.
    pub(super) async fn run(&self, scenario: &Scenario, running: &mut Running, run: &mut CaseRun) {
        let sim = self.sim;
        let time = self.time;
        let t0 = run.start;
        let last = scenario
            .steps
            .iter()
            .map(|s| s.at)
            .max()
            .unwrap_or(SimDuration::ZERO);
        let end = t0 + last + scenario.run_for.unwrap_or(RUN_FOR_DEFAULT);
        let mut next_step = 0;
        loop {
            let now = sim.clock.now();
            while next_step < scenario.steps.len() && t0 + scenario.steps[next_step].at <= now {
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
            self.settle(running).await;
            let candidates = [
                scenario.steps.get(next_step).map(|s| t0 + s.at),
                sim.next_due(),
                time.next_wake(),
                self.retry_deadline(running),
            ];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            if next > end {
                break;
            }
            if next > sim.clock.now() {
                if let Some(deadline) = self.retry_deadline(running).filter(|d| *d == next) {
                    // A process or URL flow waits out a Retry-After on the wall clock: let
                    // simulated time follow it, so its next call lands when it really happens.
                    self.run_in_real_time(deadline).await;
                } else {
                    sim.clock.advance_to(next);
                }
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
            if !running.is_in_process() {
                self.quiet_on_the_wall_clock().await;
            }
            if none && self.time.active() == 0 && self.sim.pending_deliveries() == 0 {
                return;
            }
        }
    }

    /// For a flow the harness cannot see inside: the latest `Retry-After` deadline still ahead.
    fn retry_deadline(&self, running: &Running) -> Option<SimTime> {
        if running.is_in_process() {
            return None;
        }
        let now = self.sim.clock.now();
        self.sim
            .limiter
            .report(now)
            .into_iter()
            .filter(|r| r.connection != HARNESS_TOKEN)
            .filter_map(|r| r.retry_not_before)
            .filter(|t| *t > now)
            .max()
    }

    async fn run_in_real_time(&self, deadline: SimTime) {
        let clock = &self.sim.clock;
        // Usually already running: the throttle hook started it at the 429.
        if !clock.is_running() {
            clock.run(1.0);
        }
        while clock.now() < deadline {
            let wait = clock.wall_until(deadline).unwrap_or_default();
            tokio::time::sleep(wait.min(REAL_TIME_NAP)).await;
        }
        // Give the flow its settle time to make the call it waited for.
        tokio::time::sleep(self.settle).await;
        clock.freeze();
    }

    /// Waits until the API journal and the sinks have been still for the settle time, or until
    /// new deliveries wait (the caller dispatches them and comes back).
    async fn quiet_on_the_wall_clock(&self) {
        let mut seen = (self.sim.journal.len(), self.sinks.call_count());
        loop {
            tokio::time::sleep(self.settle).await;
            if self.sim.pending_deliveries() > 0 {
                return;
            }
            let now = (self.sim.journal.len(), self.sinks.call_count());
            if now == seen {
                return;
            }
            seen = now;
        }
    }

    fn dispatch(&self, running: &Running, attempt: DeliveryAttempt) {
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
            tokio::spawn(async move {
                let _guard = guard;
                let result = sender.send(&attempt, timeout).await;
                sim.delivery_result(attempt.attempt_id, result);
            });
        }
    }
}
