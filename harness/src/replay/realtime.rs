//! The timeline of a flow the harness cannot see inside (a command or a URL): one clock for the
//! flow and the simulator, real time whenever the flow may be working.
//!
//! An in-process flow's tasks and sleeps are visible, so its case runs on virtual time alone. A
//! process is opaque: all the harness sees is what reaches the simulator and the sinks. So:
//!
//! - **Simulated time follows the wall clock (x1) whenever the flow may be working**, and is
//!   frozen or jumped only once the flow is quiet. "May be working" is any of: a delivery to it
//!   is in flight; one of its API requests is in flight; it called the API or a sink within the
//!   settle window; one of its connections got a `429` and has not called since, and the
//!   deadline plus the retry grace has not passed; it answered a delivery less than a settle
//!   window ago (the windows and graces are in [`super::pace`]). A `429` starts real time at the
//!   instant it is decided ([`ClockGate`]), so a flow that waits exactly `Retry-After` is never
//!   early, and the limiter judges early retries on this same clock.
//! - The loop waits on the wall clock only after a **stimulus** (a delivery, flow activity, a
//!   pending retry): lifecycle transitions that deliver nothing to the flow cost no wall time.
//! - Activity that arrives after the flow was judged quiet (after a jump, or in the tail watched
//!   after each case) is **late**: the case records how late ([`CaseRun::late`]), the pace learns
//!   from it, and the case is run again once with the wider window (`case.rs`).
//! - At the case's end, a flow still working keeps the case going in real time until it is
//!   quiet, up to `--overrun-max` ([`CaseRun::overrun`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use simulator::{SimDuration, SimTime};

use super::HARNESS_TOKEN;
use super::case_run::CaseRun;
use super::clock_gate::ClockGate;
use super::flow_under_test::Running;
use super::pace::{Pace, Waits, human};
use super::timeline::{Answers, Timeline};
use crate::outcome::Failure;
use crate::scenario::Scenario;

/// How often the loop looks at the flow while it may be working.
const POLL: Duration = Duration::from_millis(5);
/// How often a real-time wait for a `Retry-After` is reported.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// A real-time wait of a flow for its `Retry-After`, as a progress display shows it.
#[derive(Debug, Clone)]
pub struct RealTimeWait {
    /// The case (or law) being run.
    pub case: String,
    /// Wall time spent in this stretch of real time so far.
    pub waited: Duration,
    /// Until the latest pending `Retry-After` deadline.
    pub remaining: Duration,
}

/// Told about real-time waits (every second while one lasts).
#[derive(Clone)]
pub struct WaitObserver(pub Arc<dyn Fn(&RealTimeWait) + Send + Sync>);

impl std::fmt::Debug for WaitObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WaitObserver")
    }
}

/// What the harness has seen of the flow since the case started.
#[derive(Debug, Default)]
struct Watch {
    /// The last journal entry looked at.
    seq: u64,
    /// Sink calls seen.
    sinks: usize,
    /// When the current settle window began: the last answer or flow activity (wall).
    window_from: Option<Instant>,
    /// An answer whose reaction (the flow's next call) has not come yet.
    awaiting_reaction: Option<Instant>,
    /// Per connection, the deadline of a `429` it has not called after yet.
    pending: BTreeMap<String, SimTime>,
    /// When the flow was last judged quiet, the stimulus its window started from.
    quiet_from: Option<Instant>,
}

/// One case's timeline against an opaque flow.
pub(super) struct Realtime<'a> {
    pub tl: &'a Timeline<'a>,
    pub gate: &'a ClockGate,
    pub answers: &'a Answers,
    pub waits: Waits,
    pub pace: &'a Mutex<Pace>,
    pub on_wait: Option<&'a WaitObserver>,
    pub case_id: &'a str,
    watch: Watch,
    /// The case's end, once the flow is started.
    end: Option<SimTime>,
    /// The flow ran past `--overrun-max`: stop waiting for it.
    gave_up: bool,
}

impl<'a> Realtime<'a> {
    pub(super) fn new(
        tl: &'a Timeline<'a>,
        gate: &'a ClockGate,
        answers: &'a Answers,
        waits: Waits,
        pace: &'a Mutex<Pace>,
        on_wait: Option<&'a WaitObserver>,
        case_id: &'a str,
    ) -> Realtime<'a> {
        Realtime {
            tl,
            gate,
            answers,
            waits,
            pace,
            on_wait,
            case_id,
            watch: Watch::default(),
            end: None,
            gave_up: false,
        }
    }

    /// The timeline: steps, lifecycle and flow, until the end of the case (and past it while
    /// the flow still works), then a tail watched for late activity.
    pub(super) async fn run(&mut self, scenario: &Scenario, running: &Running, run: &mut CaseRun) {
        let sim = self.tl.sim;
        let t0 = run.start;
        let end = t0 + Timeline::length(scenario);
        self.end = Some(end);
        let mut next_step = 0;
        loop {
            next_step = self.tl.apply_due_steps(scenario, next_step, run);
            self.settle(running, run).await;
            if self.gave_up {
                break;
            }
            let candidates = [
                scenario.steps.get(next_step).map(|s| t0 + s.at),
                sim.next_due(),
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
        }
        self.tail(running, run).await;
        self.gate.freeze();
        run.stretches = self.gate.stretches();
        if sim.clock.now() > end {
            run.overrun = Some(sim.clock.now() - end);
        }
    }

    /// Runs the lifecycle and hands deliveries to the flow until it is quiet, in real time
    /// while it may be working; returns with the clock frozen.
    pub(super) async fn settle(&mut self, running: &Running, run: &mut CaseRun) {
        self.settle_with(running, run, false).await;
    }

    /// Waits for the flow to turn on (subscribe) on a frozen clock: the case's time, and the
    /// tenant's schedule with it, starts from the same instant however long the flow takes to
    /// start, so transcripts do not depend on the machine's speed. Only a `429` the flow must
    /// wait out lets the clock run.
    pub(super) async fn turn_on(&mut self, running: &Running, run: &mut CaseRun) {
        self.settle_with(running, run, true).await;
    }

    async fn settle_with(&mut self, running: &Running, run: &mut CaseRun, turning_on: bool) {
        if self.gave_up {
            return;
        }
        let throttles_before = self.gate.throttles();
        self.look_for_late_activity(run);
        let began = Instant::now();
        let mut next_report = began + REPORT_EVERY;
        loop {
            let throttles = self.gate.throttles();
            self.tl.sim.tick();
            for attempt in self.tl.sim.take_deliveries() {
                self.tl.dispatch(running, attempt);
            }
            self.observe();
            if !self.busy() {
                if self.gate.freeze_unless_throttled_since(throttles) {
                    self.watch.quiet_from = self.watch.window_from;
                    return;
                }
                continue;
            }
            if !turning_on || self.gate.throttles() > throttles_before {
                self.gate.run();
            }
            if self.overran(run) {
                return;
            }
            if Instant::now() >= next_report {
                next_report += REPORT_EVERY;
                self.report_wait(began);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Watches the frozen clock for one settle window after the case: activity there is late
    /// (it is let finish, and watched for again).
    async fn tail(&mut self, running: &Running, run: &mut CaseRun) {
        while !self.gave_up {
            let awaiting = self.watch.awaiting_reaction.is_some();
            let window = self.pace.lock().tail(&self.waits, awaiting);
            let until = Instant::now() + window;
            let mut acted = false;
            while Instant::now() < until {
                tokio::time::sleep(POLL).await;
                if self.activity_waiting() {
                    acted = true;
                    break;
                }
            }
            if !acted {
                return;
            }
            self.settle(running, run).await;
        }
    }

    /// Activity since the flow was judged quiet: it acted late, by the time since the stimulus
    /// it was waited for after.
    fn look_for_late_activity(&mut self, run: &mut CaseRun) {
        let quiet_from = self.watch.quiet_from;
        if self.observe()
            && let Some(from) = quiet_from
        {
            let delay = from.elapsed();
            self.pace.lock().reacted(delay);
            run.late = Some(run.late.map_or(delay, |d| d.max(delay)));
        }
    }

    /// Whether the flow did something the watch has not looked at yet.
    fn activity_waiting(&self) -> bool {
        let sim = self.tl.sim;
        sim.requests_in_flight() > 0
            || self.tl.sinks.call_count() != self.watch.sinks
            || sim
                .journal
                .since(self.watch.seq)
                .iter()
                .any(|e| e.connection.as_deref() != Some(HARNESS_TOKEN))
    }

    /// Takes in what happened since the last look; returns whether the flow was active (called
    /// the API or a sink).
    fn observe(&mut self) -> bool {
        let now = Instant::now();
        let answers: Vec<(Instant, bool)> = std::mem::take(&mut *self.answers.lock());
        if let Some(last) = answers.iter().map(|a| a.0).max() {
            self.watch.window_from = self.watch.window_from.max(Some(last));
        }
        // A 2xx promises work; a refusal (4xx, a timeout) does not wait for a reaction.
        if let Some(last) = answers.iter().filter(|a| a.1).map(|a| a.0).max() {
            self.watch.awaiting_reaction = Some(last);
        }
        let entries = self.tl.sim.journal.since(self.watch.seq);
        if let Some(last) = entries.last() {
            self.watch.seq = last.seq;
        }
        let mut active = false;
        let mut pace = self.pace.lock();
        for e in entries
            .iter()
            .filter(|e| e.connection.as_deref() != Some(HARNESS_TOKEN))
        {
            active = true;
            let connection = e.connection.clone().unwrap_or_default();
            if let Some(deadline) = self.watch.pending.remove(&connection)
                && e.at >= deadline
            {
                pace.waited_past(millis(e.at - deadline));
            }
            if let Some(retry_after_s) = e.retry_after_s {
                let wait = SimDuration::from_secs(i64::try_from(retry_after_s).unwrap_or(i64::MAX));
                self.watch.pending.insert(connection, e.at + wait);
            }
        }
        let sinks = self.tl.sinks.call_count();
        if sinks != self.watch.sinks {
            self.watch.sinks = sinks;
            active = true;
        }
        if active {
            if let Some(answered) = self.watch.awaiting_reaction.take() {
                pace.reacted(now.duration_since(answered));
            }
            self.watch.window_from = Some(now);
        }
        active
    }

    /// Whether the flow may be working (see the module docs).
    fn busy(&self) -> bool {
        let sim = self.tl.sim;
        if self.tl.time.active() > 0 || sim.requests_in_flight() > 0 || sim.pending_deliveries() > 0
        {
            return true;
        }
        let pace = *self.pace.lock();
        let now = sim.clock.now();
        let grace = SimDuration(i64::try_from(pace.retry_grace().as_millis()).unwrap_or(i64::MAX));
        if self.watch.pending.values().any(|d| now < *d + grace) {
            return true;
        }
        let window = pace.settle_window(&self.waits);
        self.watch
            .window_from
            .is_some_and(|from| from.elapsed() < window)
    }

    /// Past the case's end by more than `--overrun-max`: records it, freezes, and gives up.
    fn overran(&mut self, run: &mut CaseRun) -> bool {
        let Some(end) = self.end else {
            return false;
        };
        let now = self.tl.sim.clock.now();
        let max =
            SimDuration(i64::try_from(self.waits.overrun_max.as_millis()).unwrap_or(i64::MAX));
        if now <= end + max {
            return false;
        }
        self.gave_up = true;
        self.gate.freeze();
        run.errors.push(Failure::new(
            "timing",
            format!(
                "the flow to finish within --overrun-max ({}) of the case's end",
                human(self.waits.overrun_max)
            ),
            format!(
                "still working after {}: a delivery or a request in flight, a Retry-After it had not followed, or calls every few hundred ms (raise --overrun-max if the flow is meant to take this long)",
                human(self.waits.overrun_max)
            ),
        ));
        true
    }

    /// Tells the observer how a real-time wait for a `Retry-After` goes.
    fn report_wait(&self, began: Instant) {
        let Some(observer) = self.on_wait else {
            return;
        };
        let now = self.tl.sim.clock.now();
        let Some(deadline) = self.watch.pending.values().max() else {
            return;
        };
        let remaining = if *deadline > now {
            millis(*deadline - now)
        } else {
            Duration::ZERO
        };
        (observer.0)(&RealTimeWait {
            case: self.case_id.to_owned(),
            waited: began.elapsed(),
            remaining,
        });
    }
}

fn millis(d: SimDuration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(0))
}
