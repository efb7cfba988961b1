//! The engine: the one orchestrator of the owners. It holds the event queue and the clock's
//! latest instant, runs what falls due in `(due_at, seq)` order, and wires the owners together:
//! what the jobs owner reports ([`Step`]s) becomes catalog changes and trigger events; events
//! become deliveries; deliveries become [`Effect`]s for the shell.
//!
//! The owners (`catalog`, `jobs`, `subscriptions`, `delivery`) know nothing of each other or of
//! this file; where one needs another's data, this file passes it in.

use super::catalog::{Catalog, DataSourceView, Initial, MeasureView, SegmentView};
use super::delivery::{Deliveries, Sends};
use super::effect::Effect;
use super::emit::Occurrence;
use super::error::EngineError;
use super::faults::FaultState;
use super::history::HistoryDrops;
use super::jobs::{JobView, Jobs, ScheduleView, Step};
use super::options::EngineOptions;
use super::payload::{Common, Payload};
use super::queue::{Due, Queue};
use super::request::{ForcedMeasure, JobRequest, OperationType, Outcome, RefreshRequest, Target};
use super::schedules::Schedules;
use super::status::RunStatus;
use super::subscriptions::{Filter, SubscribeError, Subscription, Subscriptions};
use super::trigger::Trigger;
use super::value::MeasureValue;
use serde::{Deserialize, Serialize};

use crate::ids;
use crate::tenant::TenantSpec;
use crate::time::SimTime;

/// The event engine of one simulated tenant. Pure: it never reads a clock and does no I/O;
/// every call that depends on time takes `now`, and every action on the outside world comes
/// back as an [`Effect`]. It serializes whole (`serve --state-dir` saves it): a field added
/// later is saved without a line of persistence code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Engine {
    spec: TenantSpec,
    seed: u64,
    initial: Initial,
    options: EngineOptions,
    /// Seeds created objects' ids: the tenant seed or an epoch's ([`Engine::set_id_seed`]).
    pub(super) id_seed: u64,
    pub(super) instance_id: String,
    /// The latest instant the engine has seen; time never goes back.
    now: SimTime,
    pub(super) queue: Queue,
    /// Effects of calls that return none (cancel, submit, ...), for the next call that does.
    #[serde(skip)]
    outbox: Vec<Effect>,
    pub(super) catalog: Catalog,
    jobs: Jobs,
    pub(super) subscriptions: Subscriptions,
    pub(super) deliveries: Deliveries,
    pub(super) faults: FaultState,
    /// Refresh schedules created through the API (`schedule_calls.rs`).
    pub(super) schedules: Schedules,
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
        let mut engine = Engine {
            spec: spec.clone(),
            seed,
            id_seed: seed,
            catalog: Catalog::new(spec, seed, start, &initial),
            jobs: Jobs::new(spec, seed, start),
            subscriptions: Subscriptions::new(spec),
            deliveries: Deliveries::new(spec, seed),
            faults: FaultState::default(),
            schedules: Schedules::default(),
            initial,
            options,
            instance_id: ids::uuid(seed, &["instance"]),
            now: start,
            queue: Queue::default(),
            outbox: Vec::new(),
        };
        if let Some(first) = engine.jobs.next_schedule_at() {
            engine.queue.push(first, Due::ScheduledRefresh);
        }
        engine
    }

    /// Back to the state `new` built, at `start`: jobs, events, deliveries, subscriptions and
    /// delivery faults are dropped; the options are kept.
    pub fn reset(&mut self, start: SimTime) {
        let (id_seed, instance_id) = (self.id_seed, self.instance_id.clone());
        *self = Engine::with_options(
            &self.spec,
            self.seed,
            start,
            self.initial.clone(),
            self.options.clone(),
        );
        (self.id_seed, self.instance_id) = (id_seed, instance_id);
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Changes the options; they apply to decisions taken from now on.
    pub fn set_options(&mut self, options: EngineOptions) {
        self.options = options;
    }

    /// The latest instant the engine has been told about.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// When the earliest queued item falls due (the harness jumps its clock here when idle).
    pub fn next_due(&self) -> Option<SimTime> {
        self.queue.next_due()
    }

    /// Processes every queued item due at or before `now`, in `(due_at, seq)` order, including
    /// items they queue that are also due; each runs at its own due time. Returns the effects,
    /// with any left by earlier calls first.
    pub fn run_until(&mut self, now: SimTime) -> Vec<Effect> {
        self.catch_up(now);
        self.take_effects()
    }

    /// Hands out effects of calls that return none (the next `run_until` returns them too).
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }

    /// The refresh schedule.
    pub fn schedule(&self) -> ScheduleView {
        self.jobs.schedule()
    }

    // Jobs.
    /// Submits a job (the jobs API). It starts at once if no other job is queued or running,
    /// otherwise it waits (`queued`) for the jobs ahead of it.
    pub fn submit_job(&mut self, now: SimTime, req: JobRequest) -> Result<JobView, EngineError> {
        let now = self.catch_up(now);
        let j = self.submit(now, req)?;
        Ok(self.jobs.view(j))
    }

    /// Cancels a queued or running job: its unfinished tasks become `aborted` and the job
    /// `aborted`, now. Events this causes (e.g. `full-refresh-completed` for a scheduled job)
    /// come out of the next call that returns effects.
    pub fn cancel_job(&mut self, now: SimTime, job_id: &str) -> Result<JobView, EngineError> {
        let now = self.catch_up(now);
        let (j, steps) = self
            .jobs
            .cancel(now, job_id, &mut self.queue, &self.options)?;
        self.apply(now, steps);
        Ok(self.jobs.view(j))
    }

    /// All jobs, newest first (the jobs API lists recent jobs first).
    pub fn jobs(&self) -> Vec<JobView> {
        self.jobs.views()
    }

    pub fn job(&self, id: &str) -> Option<JobView> {
        self.jobs.find(id).map(|j| self.jobs.view(j))
    }

    /// `POST /_sim/refresh`: a full refresh (`operationType = all`) submitted now, of the kind
    /// asked for, with any forced outcomes, counts and values.
    pub fn refresh(&mut self, now: SimTime, req: RefreshRequest) -> Result<JobView, EngineError> {
        self.submit_job(now, req.into_job_request())
    }

    /// `POST /_sim/datasources/{name}/refresh`: an on-demand ingestion job for one data source
    /// whose (first) attempt has the given outcome.
    pub fn refresh_datasource(
        &mut self,
        now: SimTime,
        name: &str,
        outcome: Outcome,
    ) -> Result<JobView, EngineError> {
        let name = self.catalog.source_named(name)?.1.to_owned();
        self.submit_job(now, JobRequest::ingestion_of(name, outcome))
    }

    /// `POST /_sim/segments/{name}/evaluate`: an immediate successful evaluation to
    /// `entity_count`, recorded as an on-demand segmentation job that starts and succeeds now.
    /// Returns the effects (the count change first, then any deliveries of crossings).
    pub fn evaluate_segment(
        &mut self,
        now: SimTime,
        name: &str,
        entity_count: u64,
    ) -> Result<Vec<Effect>, EngineError> {
        let now = self.catch_up(now);
        let i = self.catalog.segment_named(name)?;
        let (segment, friendly) = self.catalog.segment_names(i);
        let count = self.catalog.check_count(segment, entity_count)?;
        let names = (segment.to_owned(), friendly.to_owned());
        let job_id = self
            .jobs
            .record_instant(now, Target::Segment(i), names, self.id_seed);
        self.segment_evaluated(now, i, count, &job_id);
        Ok(self.take_effects())
    }

    /// `POST /_sim/measures/{name}/evaluate`: the same for a measure without a dimension.
    pub fn evaluate_measure(
        &mut self,
        now: SimTime,
        name: &str,
        value: f64,
    ) -> Result<Vec<Effect>, EngineError> {
        self.evaluate_measure_with(now, name, ForcedMeasure::Value(value))
    }

    /// The same for any measure: a number, or dimension values for a measure with a dimension.
    pub fn evaluate_measure_with(
        &mut self,
        now: SimTime,
        name: &str,
        value: ForcedMeasure,
    ) -> Result<Vec<Effect>, EngineError> {
        let now = self.catch_up(now);
        let i = self.catalog.measure_named(name)?;
        let value = self.catalog.forced_measure_value(i, &value)?;
        let (measure, display, _) = self.catalog.measure_names(i);
        let names = (measure.to_owned(), display.to_owned());
        let job_id = self
            .jobs
            .record_instant(now, Target::Measure(i), names, self.id_seed);
        self.measure_evaluated(now, i, value, &job_id);
        Ok(self.take_effects())
    }

    // Subscriptions.
    /// Registers a subscription from the JSON body a client POSTed to
    /// `.../triggers/{trigger}/subscriptions`: `{"NotificationUrl": "...", ...inputs}`.
    /// Keys are matched case-insensitively and stored under their canonical names.
    pub fn subscribe(
        &mut self,
        now: SimTime,
        trigger: &str,
        body: &serde_json::Value,
    ) -> Result<Subscription, SubscribeError> {
        let now = self.catch_up(now);
        self.subscriptions
            .subscribe(now, trigger, body, &self.catalog, self.id_seed)
    }

    /// Deletes a subscription: it gets no new events, and its deliveries not yet sent are
    /// cancelled (recorded with reason "subscription deleted"); one in flight finishes, without
    /// retries. False if the id is unknown or already deleted.
    pub fn unsubscribe(&mut self, now: SimTime, id: &str) -> bool {
        let now = self.catch_up(now);
        let Some(s) = self.subscriptions.unsubscribe(now, id) else {
            return false;
        };
        self.deliveries.cancel_subscription(s, &mut self.queue);
        true
    }

    /// Every subscription, deleted ones included, in creation order.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.subscriptions.views()
    }

    pub fn subscription(&self, id: &str) -> Option<Subscription> {
        self.subscriptions.view(id)
    }

    /// Records dropped from the histories to stay within their byte budgets.
    pub fn history_drops(&self) -> HistoryDrops {
        self.catalog.history_drops(self.jobs.dropped())
    }

    // The catalog.
    /// The current member count of segment `index` (0 for an unknown index).
    pub fn segment_count(&self, index: usize) -> u64 {
        self.catalog.segment_count(index)
    }

    /// The current value of measure `index`.
    pub fn measure_value(&self, index: usize) -> Option<&MeasureValue> {
        self.catalog.measure_value(index)
    }

    /// `GET .../manage/datasources`.
    pub fn data_sources(&self) -> Vec<DataSourceView> {
        self.catalog.data_sources(&self.instance_id)
    }

    /// `GET .../manage/segments` (history oldest first).
    pub fn segments(&self) -> Vec<SegmentView> {
        self.catalog.segments(&self.instance_id)
    }

    /// `GET .../manage/measures` (histories oldest first).
    pub fn measures(&self) -> Vec<MeasureView> {
        self.catalog.measures(&self.instance_id)
    }

    // The loop and the wiring.
    /// Runs the queue up to `now` and makes `now` the engine's time (never going back).
    pub(super) fn catch_up(&mut self, now: SimTime) -> SimTime {
        // A long jump of the clock runs only its last scheduled refreshes.
        self.jobs.skip_ticks_before(now, &mut self.queue);
        while let Some((at, item)) = self.queue.pop_due(now) {
            self.now = self.now.max(at);
            self.handle(at, item);
        }
        self.now = self.now.max(now);
        self.now
    }

    fn handle(&mut self, at: SimTime, item: Due) {
        let sends = match item {
            Due::ScheduledRefresh => return self.schedule_tick(at),
            Due::CronTick { schedule } => return self.cron_tick(at, schedule),
            Due::AttemptEnd { job, task, attempt } => {
                let steps = self.jobs.attempt_end(at, job, task, attempt, &self.options);
                return self.apply(at, steps);
            }
            Due::TaskRetry { job, task } => {
                let steps = self.jobs.task_retry(at, job, task);
                return self.apply(at, steps);
            }
            Due::DeliveryRetry { delivery } => self.deliveries.retry(at, delivery),
            Due::ReleaseHeld { subscription, hold } => {
                self.deliveries.release_held(at, subscription, hold)
            }
            Due::LateReplay { delivery } => {
                // A replay of a deleted subscription's event is dropped.
                let s = self.deliveries.subscription_of(delivery);
                if !self.subscriptions.is_active(s) {
                    return;
                }
                self.deliveries.late_replay(at, delivery, self.id_seed)
            }
        };
        self.send(sends);
    }

    /// A schedule tick: the next one is queued, then a scheduled full refresh submitted (or
    /// skipped, if another job is busy and the options say so).
    fn schedule_tick(&mut self, at: SimTime) {
        let (steps, submit) = self.jobs.schedule_tick(at, &self.options);
        self.apply(at, steps);
        if !submit {
            return;
        }
        // A scheduled full refresh (no identifiers, no forcing) always plans: no error to report.
        let _planned = self.submit(at, JobRequest::scheduled(OperationType::All));
    }

    /// Resolves a request against the catalog, plans its job and starts or queues it.
    pub(super) fn submit(&mut self, now: SimTime, req: JobRequest) -> Result<usize, EngineError> {
        let selection = self.catalog.select(req.operation_type, &req.identifiers)?;
        let forcing = self.catalog.resolve_forcing(&req.forcing)?;
        let j = self.jobs.plan(now, req, selection, forcing, self.id_seed);
        let steps = self.jobs.enqueue(now, j, &self.options);
        self.apply(now, steps);
        Ok(j)
    }

    /// Carries out what happened to jobs, in order.
    fn apply(&mut self, now: SimTime, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Queue(at, item) => self.queue.push(at, item),
                Step::Started(target) => self.catalog.refresh_started(target),
                Step::Cancelled(target) => self.catalog.refresh_cancelled(target),
                Step::Ended { job, task } => self.task_ended(now, job, task),
                Step::Unification(j) => self.emit(
                    now,
                    Trigger::UnificationCompleted,
                    |_| Some(()),
                    |_, jobs, common, ()| jobs.unification_payload(common, j, now),
                ),
                Step::FullRefresh(j) => self.emit(
                    now,
                    Trigger::FullRefreshCompleted,
                    |_| Some(()),
                    |_, jobs, common, ()| jobs.full_refresh_payload(common, j),
                ),
            }
        }
    }

    /// A task ended `successful`, `failed` or `timedOut`: its catalog effects, then triggers.
    fn task_ended(&mut self, now: SimTime, j: usize, t: usize) {
        let (target, status, message) = self.jobs.ended(j, t);
        let job_id = self.jobs.job_id(j).to_owned();
        let successful = status == RunStatus::Successful;
        match target {
            Target::DataSource(i) => {
                self.catalog.source_refreshed(now, i, successful);
                // An ingestion ends refresh-succeeded or, after its retries, refresh-failed; a
                // transient failure that is retried ends nothing and fires nothing.
                let trigger = match status {
                    RunStatus::Successful => Trigger::DataSourceRefreshSucceeded,
                    RunStatus::Failed | RunStatus::TimedOut => Trigger::DataSourceRefreshFailed,
                    _ => return,
                };
                self.emit(
                    now,
                    trigger,
                    |f| f.takes_source(i).then_some(()),
                    |catalog, jobs, common, ()| {
                        catalog.data_source_payload(common, i, jobs.task_report(j, t))
                    },
                );
            }
            Target::Segment(i) if successful => {
                let forced = self.jobs.forced_count(j, i);
                let count = self.catalog.next_segment_count(i, forced);
                self.segment_evaluated(now, i, count, &job_id);
            }
            Target::Segment(i) => self.catalog.record_segment_failure(now, i, message),
            Target::Measure(i) if successful => {
                let forced = self.jobs.forced_value(j, i);
                let value = self.catalog.next_measure_value(i, forced);
                self.measure_evaluated(now, i, value, &job_id);
            }
            Target::Measure(i) => self.catalog.record_measure_failure(now, i, message),
            Target::Stage => {}
        }
    }

    /// A successful evaluation moved segment `i` to `count`: the data layer follows (an effect,
    /// before any delivery), and `segment-threshold-crossed` fires for every threshold crossed
    /// upward from the baseline.
    fn segment_evaluated(&mut self, now: SimTime, i: usize, count: u64, job_id: &str) {
        let (previous, changed) = self.catalog.record_segment_success(now, i, count, job_id);
        if changed {
            self.outbox
                .push(Effect::SegmentCountChanged { segment: i, count });
        }
        self.emit(
            now,
            Trigger::SegmentThresholdCrossed,
            |f| f.segment_crossed(i, previous, count).cloned(),
            |catalog, _, common, threshold| {
                catalog.segment_payload(common, i, &threshold, previous, job_id)
            },
        );
    }

    /// A successful evaluation moved measure `i` to `value`. Only measures without a dimension
    /// can be subscribed to, so dimensioned values never match.
    fn measure_evaluated(&mut self, now: SimTime, i: usize, value: MeasureValue, job_id: &str) {
        let previous = self
            .catalog
            .record_measure_success(now, i, value.clone(), job_id);
        let (Some(previous), Some(value)) = (previous.scalar(), value.scalar()) else {
            return;
        };
        self.emit(
            now,
            Trigger::MeasureThresholdCrossed,
            |f| f.measure_crossed(i, previous, value).cloned(),
            |catalog, _, common, threshold| {
                catalog.measure_payload(common, i, &threshold, (previous, value), job_id)
            },
        );
    }

    /// An occurrence of `trigger`: one event per subscription `reach` accepts (see `emit.rs`).
    fn emit<T>(
        &mut self,
        now: SimTime,
        trigger: Trigger,
        reach: impl Fn(&Filter) -> Option<T>,
        build: impl Fn(&Catalog, &Jobs, Common, T) -> Payload,
    ) {
        let sends = Occurrence {
            now,
            trigger,
            seed: self.seed,
            id_seed: self.id_seed,
            instance_id: &self.instance_id,
        }
        .emit(
            &self.subscriptions,
            &mut self.deliveries,
            &mut self.faults,
            reach,
            |common, reached| build(&self.catalog, &self.jobs, common, reached),
        );
        self.send(sends);
    }

    /// Queues what deliveries asked for and hands their attempts to the shell.
    pub(super) fn send(&mut self, sends: Sends) {
        for (at, item) in sends.dues {
            self.queue.push(at, item);
        }
        self.outbox
            .extend(sends.attempts.into_iter().map(Effect::Deliver));
    }
}
