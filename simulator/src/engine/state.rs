//! The engine: all simulated state of one tenant's refreshes, triggers and deliveries, and the
//! loop that advances it along the event queue.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::catalog::{DataSourceState, MeasureState, MeasureValue, SegmentState};
use super::delivery::{Delivery, DeliveryAttempt, RetryPolicy};
use super::faults::FaultState;
use super::jobs::Job;
use super::queue::{Due, Queue};
use super::subscriptions::SubscriptionState;
use super::triggers::Event;
use crate::ids;
use crate::tenant::TenantSpec;
use crate::time::{SimDuration, SimTime};

/// What the caller computed from the generated data before the engine starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Initial {
    /// The first value of each measure, in the order of `spec.measures`. A missing entry starts
    /// at 0 (or with no dimension values).
    pub measure_values: Vec<MeasureValue>,
}

/// Something the shell must do: the engine's only way to act on the outside world.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "effect")]
pub enum Effect {
    /// A segment's member count changed. The data layer must apply it before sending any
    /// delivery returned in the same batch, so that events and the API agree.
    SegmentCountChanged { segment: usize, count: u64 },
    /// POST this attempt to its URL, then report the result with [`Engine::delivery_result`].
    Deliver(DeliveryAttempt),
}

/// Choices where the real service's behaviour is unknown and users may want the other one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct EngineOptions {
    /// What a schedule tick does while another job is queued or running.
    pub schedule_overlap: ScheduleOverlap,
    /// Whether `unification-completed` fires (with `taskStatus = skipped`) when the whole
    /// map → match → merge chain was skipped because an ingestion task failed.
    pub unification_fires_when_skipped: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            schedule_overlap: ScheduleOverlap::Queue,
            unification_fires_when_skipped: true,
        }
    }
}

/// See [`EngineOptions::schedule_overlap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScheduleOverlap {
    /// The scheduled job is created at once and waits (`queued`) for the jobs ahead of it.
    Queue,
    /// The tick is skipped (counted in [`ScheduleView::skipped`]); no job is created.
    Skip,
}

/// The refresh schedule, for the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub enabled: bool,
    pub next_at: Option<SimTime>,
    pub every: SimDuration,
    /// Ticks so far (each submitted a scheduled full refresh unless skipped).
    pub ticks: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Counters {
    pub(super) jobs: u64,
    pub(super) tasks: u64,
    pub(super) events: u64,
    pub(super) deliveries: u64,
    pub(super) subscriptions: u64,
    pub(super) attempts: u64,
    pub(super) holds: u64,
    pub(super) schedule_ticks: u64,
    pub(super) schedule_skipped: u64,
}

/// The event engine of one simulated tenant. Pure: it never reads a clock and does no I/O;
/// every call that depends on time takes `now`, and every action on the outside world comes
/// back as an [`Effect`].
#[derive(Debug, Clone)]
pub struct Engine {
    pub(super) spec: TenantSpec,
    pub(super) seed: u64,
    pub(super) start: SimTime,
    pub(super) initial: Initial,
    pub(super) options: EngineOptions,
    /// Seeds the ids of jobs, tasks, subscriptions, events and deliveries: the tenant seed,
    /// or a salted one (see [`Engine::set_id_salt`]).
    pub(super) id_seed: u64,
    pub(super) instance_id: String,
    /// The latest instant the engine has seen; time never goes back.
    pub(super) now: SimTime,
    pub(super) queue: Queue,
    /// Effects produced by calls that do not return effects themselves (cancel, submit, ...);
    /// handed out by the next call that does.
    pub(super) outbox: Vec<Effect>,
    pub(super) counters: Counters,
    pub(super) sources: Vec<DataSourceState>,
    pub(super) segments: Vec<SegmentState>,
    pub(super) measures: Vec<MeasureState>,
    pub(super) jobs: Vec<Job>,
    /// The job whose tasks are running; jobs run one at a time.
    pub(super) running_job: Option<usize>,
    /// Jobs waiting for the running one, in submission order.
    pub(super) waiting_jobs: VecDeque<usize>,
    pub(super) next_schedule_at: Option<SimTime>,
    pub(super) subscriptions: Vec<SubscriptionState>,
    pub(super) events: Vec<Event>,
    pub(super) deliveries: Vec<Delivery>,
    /// Attempts sent and not yet reported: attempt id → delivery index.
    pub(super) in_flight: BTreeMap<u64, usize>,
    pub(super) faults: FaultState,
    pub(super) policy: RetryPolicy,
}

impl Engine {
    /// A tenant at `start`: every data source refreshed a little before, every segment and
    /// measure evaluated once at `start`, no jobs, and the first scheduled refresh queued.
    pub fn new(spec: &TenantSpec, seed: u64, start: SimTime, initial: Initial) -> Engine {
        Engine::with_options(spec, seed, start, initial, EngineOptions::default())
    }

    pub fn with_options(
        spec: &TenantSpec,
        seed: u64,
        start: SimTime,
        initial: Initial,
        options: EngineOptions,
    ) -> Engine {
        let instance_id = ids::uuid(seed, &["instance"]);
        let mut engine = Engine {
            spec: spec.clone(),
            seed,
            id_seed: seed,
            start,
            initial: initial.clone(),
            options,
            instance_id,
            now: start,
            queue: Queue::default(),
            outbox: Vec::new(),
            counters: Counters::default(),
            sources: Vec::new(),
            segments: Vec::new(),
            measures: Vec::new(),
            jobs: Vec::new(),
            running_job: None,
            waiting_jobs: VecDeque::new(),
            next_schedule_at: None,
            subscriptions: Vec::new(),
            events: Vec::new(),
            deliveries: Vec::new(),
            in_flight: BTreeMap::new(),
            faults: FaultState::default(),
            policy: RetryPolicy::from_spec(&spec.delivery),
        };
        engine.build_catalog(&initial);
        if spec.refresh.schedule_enabled {
            let first = start + spec.refresh.schedule_first_after;
            engine.next_schedule_at = Some(first);
            engine.queue.push(first, Due::ScheduledRefresh);
        }
        engine
    }

    /// Makes the ids of jobs, tasks, subscriptions, events and deliveries differ from those of
    /// another run with the same seed (and the same salt gives the same ids again). The harness
    /// salts each case with its id, so that a flow that lives through several cases (one behind
    /// a URL) never sees an event id twice.
    pub fn set_id_salt(&mut self, salt: &str) {
        self.id_seed = ids::hash_parts(self.seed, &["ids", salt]);
    }

    /// Back to the state `new` built, at `start`: jobs, events, deliveries, subscriptions and
    /// delivery faults are dropped; the options are kept.
    pub fn reset(&mut self, start: SimTime) {
        let id_seed = self.id_seed;
        *self = Engine::with_options(
            &self.spec,
            self.seed,
            start,
            self.initial.clone(),
            self.options.clone(),
        );
        self.id_seed = id_seed;
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Changes the options; they apply to decisions taken from now on.
    pub fn set_options(&mut self, options: EngineOptions) {
        self.options = options;
    }

    /// The tenant's instance id (`ids::uuid(seed, ["instance"])`).
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The latest instant the engine has been told about.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// When the earliest queued item falls due (the harness jumps its clock here when idle).
    pub fn next_due(&self) -> Option<SimTime> {
        self.queue.next_due()
    }

    /// Items waiting on the queue (for `/_sim/state`).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Delivery attempts sent and not yet reported with [`Engine::delivery_result`]. The harness
    /// is idle only when this is 0.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Processes every queued item due at or before `now`, in `(due_at, seq)` order, including
    /// items they queue that are also due; each runs at its own due time. Returns the effects,
    /// with any left by earlier calls first.
    pub fn run_until(&mut self, now: SimTime) -> Vec<Effect> {
        self.catch_up(now);
        self.take_effects()
    }

    /// Hands out effects produced by calls that return none (they are also returned by the
    /// next `run_until`).
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }

    /// Runs the queue up to `now` and makes `now` the engine's time (never going back).
    pub(super) fn catch_up(&mut self, now: SimTime) -> SimTime {
        while let Some((at, item)) = self.queue.pop_due(now) {
            self.now = self.now.max(at);
            self.handle(at, item);
        }
        self.now = self.now.max(now);
        self.now
    }

    fn handle(&mut self, at: SimTime, item: Due) {
        match item {
            Due::ScheduledRefresh => self.on_schedule_tick(at),
            Due::AttemptEnd { job, task, attempt } => self.on_attempt_end(at, job, task, attempt),
            Due::TaskRetry { job, task } => self.on_task_retry(at, job, task),
            Due::DeliveryRetry { delivery } => self.on_delivery_retry(at, delivery),
            Due::ReleaseHeld { subscription, hold } => self.on_release_held(at, subscription, hold),
            Due::LateReplay { delivery } => self.on_late_replay(at, delivery),
        }
    }

    /// The refresh schedule.
    pub fn schedule(&self) -> ScheduleView {
        ScheduleView {
            enabled: self.spec.refresh.schedule_enabled,
            next_at: self.next_schedule_at,
            every: self.spec.refresh.schedule_every,
            ticks: self.counters.schedule_ticks,
            skipped: self.counters.schedule_skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::delivery::{AttemptResult, DeliveryAttempt};
    use super::super::testkit::{self, tenant};
    use super::*;

    fn check(engine: &Engine, expected_next_due: Option<SimTime>) {
        assert_eq!(engine.next_due(), expected_next_due);
    }

    #[test]
    fn a_new_engine_queues_only_the_first_scheduled_refresh() {
        let mut spec = tenant();
        spec.refresh.schedule_enabled = true;
        spec.refresh.schedule_first_after = SimDuration::from_secs(10);
        let engine = Engine::new(&spec, 1, testkit::T0, Initial::default());
        check(&engine, Some(testkit::T0 + SimDuration::from_secs(10)));
        assert!(engine.jobs().is_empty());
    }

    #[test]
    fn a_new_engine_without_a_schedule_has_nothing_due() {
        let engine = Engine::new(&tenant(), 1, testkit::T0, Initial::default());
        check(&engine, None);
    }

    #[test]
    fn reset_returns_to_the_state_of_new() {
        let mut engine = testkit::engine();
        let fresh = testkit::engine();
        engine
            .subscribe(
                testkit::T0,
                "full-refresh-completed",
                &testkit::hook(serde_json::json!({})),
            )
            .unwrap();
        engine
            .evaluate_segment(testkit::T0, "ChurnRisk", 5)
            .unwrap();
        engine.reset(testkit::T0);
        assert!(engine.subscriptions().is_empty());
        assert!(engine.jobs().is_empty());
        assert_eq!(
            serde_json::to_value(engine.segments()).unwrap(),
            serde_json::to_value(fresh.segments()).unwrap()
        );
    }

    #[test]
    fn time_never_goes_back() {
        let mut engine = testkit::engine();
        engine.run_until(testkit::T0 + SimDuration::from_secs(5));
        engine.run_until(testkit::T0);
        assert_eq!(engine.now(), testkit::T0 + SimDuration::from_secs(5));
    }

    /// One call on the engine, for the determinism law.
    #[derive(Debug, Clone)]
    enum Op {
        Refresh {
            fail: Option<usize>,
            scheduled: bool,
        },
        Evaluate {
            segment: usize,
            count: u64,
        },
        Subscribe {
            threshold: u64,
        },
        Unsubscribe {
            n: usize,
        },
        Faults,
        Advance {
            secs: i64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (prop::option::of(0usize..4), any::<bool>())
                .prop_map(|(fail, scheduled)| Op::Refresh { fail, scheduled }),
            (0usize..4, 0u64..3000).prop_map(|(segment, count)| Op::Evaluate { segment, count }),
            (0u64..3000).prop_map(|threshold| Op::Subscribe { threshold }),
            (0usize..4).prop_map(|n| Op::Unsubscribe { n }),
            Just(Op::Faults),
            (1i64..600).prop_map(|secs| Op::Advance { secs }),
        ]
    }

    /// Runs `ops` on a fresh engine with random failure rates and a schedule, answering
    /// deliveries from `results` in turn; returns the journals as JSON.
    fn replay(seed: u64, ops: &[Op], results: &[u16]) -> String {
        let mut spec = tenant();
        spec.refresh.schedule_enabled = true;
        spec.refresh.schedule_every = SimDuration::from_mins(7);
        spec.refresh.failures = crate::tenant::spec::FailureRates {
            transient: 0.1,
            permanent: 0.05,
            timeout: 0.02,
        };
        let mut engine = Engine::new(&spec, seed, testkit::T0, testkit::initial());
        for trigger in super::super::triggers::Trigger::ALL {
            let inputs = match trigger.id() {
                "segment-threshold-crossed" => {
                    serde_json::json!({"segmentName": "ChurnRisk", "threshold": 1800})
                }
                "measure-threshold-crossed" => {
                    serde_json::json!({"measureName": "TotalRevenue", "threshold": 1_000_000})
                }
                _ => serde_json::json!({}),
            };
            engine
                .subscribe(testkit::T0, trigger.id(), &testkit::hook(inputs))
                .unwrap();
        }
        let mut results = results.iter().copied().cycle();
        let mut respond = |_: &DeliveryAttempt| match results.next() {
            Some(0) | None => AttemptResult::Timeout,
            Some(code) => AttemptResult::Status(code),
        };
        let names = [
            "HighValueCustomers",
            "ChurnRisk",
            "NewsletterSubscribers",
            "NewCustomers",
        ];
        for op in ops {
            let now = engine.now();
            match op {
                Op::Refresh { fail, scheduled } => {
                    let mut req = super::super::jobs::RefreshRequest::default();
                    if !scheduled {
                        req.kind = super::super::jobs::SubmissionKind::OnDemand;
                    }
                    if let Some(i) = fail {
                        let name = engine.data_sources()[*i % 3].name.clone();
                        req.data_sources
                            .insert(name, super::super::jobs::Outcome::Fail);
                    }
                    engine.refresh(now, req).unwrap();
                }
                Op::Evaluate { segment, count } => {
                    engine
                        .evaluate_segment(now, names[*segment], *count)
                        .unwrap();
                }
                Op::Subscribe { threshold } => {
                    engine
                        .subscribe(now, "segment-threshold-crossed", &testkit::hook(serde_json::json!({"segmentName": "NewCustomers", "threshold": threshold})))
                        .unwrap();
                }
                Op::Unsubscribe { n } => {
                    let id = engine.subscriptions()[*n].id.clone();
                    engine.unsubscribe(now, &id);
                }
                Op::Faults => {
                    let faults = serde_json::from_value(serde_json::json!({"rules": [{"duplicate": 0.3, "reorder": 0.3, "lateReplay": 0.3}]})).unwrap();
                    engine.set_delivery_faults(faults).unwrap();
                }
                Op::Advance { secs } => {
                    testkit::drive(
                        &mut engine,
                        now + SimDuration::from_secs(*secs),
                        &mut respond,
                    );
                }
            }
        }
        let end = engine.now() + SimDuration::from_hours(2);
        testkit::drive(&mut engine, end, &mut respond);
        serde_json::to_string(&serde_json::json!({
            "events": engine.events(),
            "deliveries": engine.deliveries(),
            "jobs": engine.jobs(),
            "segments": engine.segments(),
            "measures": engine.measures(),
            "dataSources": engine.data_sources(),
            "subscriptions": engine.subscriptions(),
        }))
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Law: two engines with the same seed given the same calls produce identical
        /// journals (events, deliveries, jobs, catalog, subscriptions), byte for byte.
        #[test]
        fn the_same_seed_and_calls_give_the_same_journals(
            seed in any::<u64>(),
            ops in prop::collection::vec(op(), 1..25),
            results in prop::collection::vec(prop_oneof![Just(200u16), Just(500), Just(404), Just(0)], 1..10),
        ) {
            let a = replay(seed, &ops, &results);
            let b = replay(seed, &ops, &results);
            prop_assert!(a == b, "journals differ for seed={seed}");
        }
    }

    #[test]
    fn different_seeds_give_different_ids() {
        let ops = [
            Op::Refresh {
                fail: None,
                scheduled: true,
            },
            Op::Advance { secs: 300 },
        ];
        assert_ne!(replay(1, &ops, &[200]), replay(2, &ops, &[200]));
    }
}
