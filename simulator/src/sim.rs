//! The simulator: one tenant, its clock, and everything the API and the control API share.
//!
//! # The doors
//!
//! The world (the store and the engine) sits behind one lock that only this crate takes. From
//! outside, and in particular from the harness, a [`Simulator`] is used through its methods:
//!
//! - **acting**: [`Simulator::with_engine`] and [`Simulator::try_with_engine`] run an engine call
//!   at the clock's `now` and apply its effects to the data before any delivery is handed out;
//!   [`Simulator::tick`], [`Simulator::delivery_result`], [`Simulator::reset`];
//! - **observing** (each copies, so the caller holds no lock): [`Simulator::subscriptions`],
//!   [`Simulator::events`], [`Simulator::deliveries`], [`Simulator::segments`],
//!   [`Simulator::entity_rows`], [`Simulator::status_reports`], [`Simulator::next_due`]; and
//!   [`Simulator::store`], a read-only guard on the data for tests and benchmarks;
//! - **the shells' hooks**: [`Simulator::take_deliveries`], [`Simulator::set_waker`],
//!   [`Simulator::set_throttle_hook`];
//! - the shared parts with their own locks: `clock`, `journal`, `limiter` and `faults`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde::{Deserialize, Serialize};

use crate::addresses::{OwnAddresses, PublicUrl};
use crate::clock::Clock;
use crate::engine::{AttemptResult, DeliveryAttempt, Effect, Engine, Initial, MeasureValue};
use crate::epoch::{Epoch, IdEpoch};
use crate::faults::RouteFaults;
use crate::ids;
use crate::journal::Journal;
use crate::persist::{Identity, StateDir};
use crate::rate_limit::Limiter;
use crate::store::{Population, Store};
use crate::tenant::TenantSpec;
use crate::time::SimTime;

mod hooks;
mod in_flight;
mod listeners;
mod observe;
mod undelivered;

pub use hooks::{CommitHook, QueryHook, ThrottleHook};
pub use in_flight::RequestInFlight;
pub use undelivered::Undelivered;

/// How to build a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub spec: TenantSpec,
    pub clock: Clock,
    /// When set, `/_sim` requires `Authorization: Bearer <token>` (or `X-Insightsim-Admin-Token`).
    pub admin_token: Option<String>,
    /// Whether `/_sim` answers only loopback peers (the default).
    pub control_loopback_only: bool,
    /// How many `/v1` calls the journal keeps.
    pub journal_capacity: usize,
    /// Where the epoch of the ids of subscriptions, jobs, tasks, events, deliveries and status
    /// reports comes from (the data and the instance keep the seed's ids); see [`crate::epoch`].
    pub id_epoch: IdEpoch,
    /// Where clients reach the simulator when it is behind a tunnel or proxy: absolute URLs in
    /// answers use it instead of the listen address.
    pub public_url: Option<PublicUrl>,
    /// Gives the instance its own id (the data keeps the seed's ids): the harness gives each case
    /// against a flow outside it its own, so that a flow still working on one case calls an
    /// instance that no longer exists (a clear `404`) instead of the next case's.
    pub instance_salt: Option<String>,
}

impl SimConfig {
    /// The demo tenant on a clock that follows the wall clock.
    pub fn demo() -> SimConfig {
        SimConfig::new(TenantSpec::demo(), Clock::wall(1.0))
    }

    pub fn new(spec: TenantSpec, clock: Clock) -> SimConfig {
        SimConfig {
            spec,
            clock,
            admin_token: None,
            control_loopback_only: true,
            journal_capacity: 100_000,
            id_epoch: IdEpoch::Seed,
            instance_salt: None,
            public_url: None,
        }
    }
}

/// A status report received through "Sends the status report" (V1 or V2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub report_id: String,
    pub version: u8,
    pub report_type: String,
    pub received_at: SimTime,
    pub connection: String,
    pub body: serde_json::Value,
}

/// The mutable state of the tenant, behind one lock: the data and the lifecycle that moves it.
/// Only the crate sees it; outside, the simulator's methods are the way in.
///
/// The data is an `Arc` snapshot: a reader clones the `Arc` and lets go of the lock before it
/// queries, and a writer changes its own copy (`Arc::make_mut`), so no lock is ever held across
/// work that grows with the data.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) store: Arc<Store>,
    pub(crate) engine: Engine,
    /// A persistent vector (`imbl`), so that a commit's snapshot shares it (`durable.rs`).
    pub(crate) status_reports: imbl::Vector<StatusReport>,
    /// Bytes of the kept status reports, and how many were dropped to stay within the budget.
    status_report_bytes: usize,
    pub(crate) status_reports_dropped: u64,
    /// Bytes of the items created and changed since start (`limits.items_bytes_max`).
    pub(crate) items_bytes: usize,
    /// The id epoch in force (a reset moves it on).
    pub(crate) epoch: Epoch,
}

impl World {
    /// The deliveries among what the engine did, after syncing the measure values into the
    /// data; segment member lists, whose computation grows with the tenant, are left to
    /// [`Simulator::install_segments`], outside the lock.
    fn absorb(&mut self, effects: Vec<Effect>) -> Vec<DeliveryAttempt> {
        // The data is synced from the engine's state rather than from `SegmentCountChanged`
        // effects alone: measures have no effect of their own, and one path for both keeps them
        // consistent even after a reset.
        self.sync_measures();
        effects
            .into_iter()
            .filter_map(|effect| match effect {
                Effect::Deliver(attempt) => Some(attempt),
                Effect::SegmentCountChanged { .. } => None,
            })
            .collect()
    }

    /// Segments whose member count in the engine differs from the data's: `(segment, count)`.
    pub(crate) fn stale_segments(&self) -> Vec<(usize, u64)> {
        let n = u64::from(self.store.population.n);
        (0..self.store.live.segments.len())
            .filter_map(|i| {
                let count = self.engine.segment_count(i);
                (self.store.segment_count(i) != Some(count.min(n))).then_some((i, count))
            })
            .collect()
    }

    /// Copies the engine's measure values into the data layer (allocating only for a measure
    /// whose values changed: this runs after every engine call).
    pub(crate) fn sync_measures(&mut self) {
        for i in 0..self.store.live.measures.len() {
            let Some(value) = self.engine.measure_value(i) else {
                continue;
            };
            let current = &self.store.live.measures[i].values;
            let unchanged = match value {
                MeasureValue::Scalar(v) => matches!(current.as_slice(), [(None, c)] if c == v),
                MeasureValue::ByDimension(list) => {
                    list.len() == current.len()
                        && list
                            .iter()
                            .zip(current)
                            .all(|((k, v), (ck, cv))| ck.as_deref() == Some(k.as_str()) && cv == v)
                }
            };
            if unchanged {
                continue;
            }
            let values = match value {
                MeasureValue::Scalar(v) => vec![(None, *v)],
                MeasureValue::ByDimension(list) => {
                    list.iter().map(|(k, v)| (Some(k.clone()), *v)).collect()
                }
            };
            Arc::make_mut(&mut self.store).set_measure_values(i, values);
        }
    }

    /// Puts back the status reports a state dir saved (their bytes counted again).
    pub(crate) fn restore_status_reports(&mut self, reports: Vec<StatusReport>) {
        self.status_report_bytes = reports.iter().map(report_bytes).sum();
        self.status_reports = reports.into_iter().collect();
    }

    /// Keeps a status report, dropping the oldest ones beyond `bytes_max`.
    fn record_status_report(&mut self, report: StatusReport, bytes_max: usize) {
        self.status_report_bytes += report_bytes(&report);
        self.status_reports.push_back(report);
        let mut drop = 0;
        while self.status_report_bytes > bytes_max && drop + 1 < self.status_reports.len() {
            self.status_report_bytes -= report_bytes(&self.status_reports[drop]);
            drop += 1;
        }
        if drop > 0 {
            self.status_reports = self.status_reports.skip(drop);
            self.status_reports_dropped += drop as u64;
        }
    }
}

/// What a kept status report costs: its body as JSON and its names.
fn report_bytes(report: &StatusReport) -> usize {
    report.body.to_string().len() + report.report_type.len() + report.connection.len() + 96
}

fn initial_measures(store: &Store) -> Initial {
    Initial {
        measure_values: store
            .live
            .measures
            .iter()
            .map(|m| match &m.dimension {
                None => MeasureValue::Scalar(m.values.first().map_or(0.0, |(_, v)| *v)),
                Some(_) => MeasureValue::ByDimension(
                    m.values
                        .iter()
                        .map(|(k, v)| (k.clone().unwrap_or_default(), *v))
                        .collect(),
                ),
            })
            .collect(),
    }
}

/// Wakes whoever sends deliveries (the `serve` driver) when new ones are waiting.
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// One simulated tenant. Shared between the HTTP server, the lifecycle driver and the harness.
pub struct Simulator {
    pub spec: TenantSpec,
    pub instance_id: String,
    pub clock: Clock,
    pub started_at: SimTime,
    pub admin_token: Option<String>,
    pub control_loopback_only: bool,
    /// `--public-url`, when set.
    pub public_url: Option<PublicUrl>,
    /// Where the simulator listens (the servers add their listeners), for the rule that a
    /// delivery never reaches the simulator itself.
    own: RwLock<OwnAddresses>,
    pop: Arc<Population>,
    world: RwLock<World>,
    pub journal: Journal,
    /// The simulated connector's call limit (per bearer token), and its grading of clients.
    pub limiter: Limiter,
    /// Seeded faults injected into `/v1` calls (`PUT /_sim/faults`).
    pub faults: RouteFaults,
    pub(crate) report_seq: Mutex<u64>,
    /// Counts changes to the world (the state dir saves when it moved since the last save).
    pub(crate) changes: AtomicU64,
    /// Where the state is saved (`serve --state-dir`), with the tenant it belongs to
    /// (`durable.rs`).
    pub(crate) state_dir: Option<(StateDir, Identity)>,
    /// The simulated instant the clock was last saved at.
    pub(crate) clock_saved: AtomicI64,
    /// Deliveries produced by API calls, waiting for the delivery driver.
    outbox: Mutex<Vec<DeliveryAttempt>>,
    waker: Mutex<Option<Waker>>,
    throttle_hook: Mutex<Option<ThrottleHook>>,
    query_hook: Mutex<Option<Arc<QueryHook>>>,
    /// Called by a commit while it encodes (`durable.rs`).
    pub(crate) commit_hook: Mutex<Option<Arc<CommitHook>>>,
    /// HTTP requests the server has received and not yet answered (see [`RequestInFlight`]).
    requests_in_flight: AtomicUsize,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("instance_id", &self.instance_id)
            .field("seed", &self.spec.seed)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Generates the tenant (the slow part: about 0.5 s per million customers on the README's
    /// benchmark machine).
    pub fn new(config: SimConfig) -> Simulator {
        let SimConfig {
            spec,
            clock,
            admin_token,
            control_loopback_only,
            journal_capacity,
            id_epoch,
            public_url,
            instance_salt,
        } = config;
        let pop = Arc::new(Population::generate(&spec, spec.seed));
        let store = Store::from_population(&spec, pop.clone());
        let start = clock.now();
        let mut engine = Engine::new(&spec, spec.seed, start, initial_measures(&store));
        let epoch = Epoch::start(&id_epoch);
        engine.set_id_seed(epoch.id_seed(spec.seed));
        let instance_id = ids::instance_id(spec.seed, instance_salt.as_deref());
        engine.set_instance_id(instance_id.clone());
        let own = OwnAddresses {
            public: public_url.as_ref().map(|p| (p.host.clone(), p.port)),
            ..OwnAddresses::default()
        };
        // A spec is validated before it gets here; an invalid limit falls back to the default.
        let limiter = Limiter::new(spec.limits.rate_limit_setting().unwrap_or_default());
        Simulator {
            instance_id,
            started_at: start,
            clock,
            admin_token,
            control_loopback_only,
            own: RwLock::new(own),
            public_url,
            world: RwLock::new(World {
                store: Arc::new(store),
                engine,
                status_reports: imbl::Vector::new(),
                status_report_bytes: 0,
                status_reports_dropped: 0,
                items_bytes: 0,
                epoch,
            }),
            pop,
            journal: Journal::new(journal_capacity, spec.limits.journal_bytes_max),
            limiter,
            faults: RouteFaults::new(spec.seed),
            report_seq: Mutex::new(0),
            changes: AtomicU64::new(0),
            state_dir: None,
            clock_saved: AtomicI64::new(i64::MIN),
            outbox: Mutex::new(Vec::new()),
            waker: Mutex::new(None),
            throttle_hook: Mutex::new(None),
            query_hook: Mutex::new(None),
            commit_hook: Mutex::new(None),
            requests_in_flight: AtomicUsize::new(0),
            spec,
        }
    }

    pub fn seed(&self) -> u64 {
        self.spec.seed
    }

    pub fn now(&self) -> SimTime {
        self.clock.now()
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, World> {
        self.world.read()
    }

    /// The world for a change (counted: the state dir saves it before the answer).
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, World> {
        let world = self.world.write();
        self.changes.fetch_add(1, Ordering::AcqRel);
        world
    }

    /// A snapshot of the data as the API serves it: it holds no lock, and later changes (items
    /// created, segments evaluated) do not show in it.
    pub fn store(&self) -> Arc<Store> {
        self.world.read().store.clone()
    }

    /// The status reports received so far, in order.
    pub fn status_reports(&self) -> Vec<StatusReport> {
        // A shared copy under the lock; the list is built outside it.
        let reports = self.world.read().status_reports.clone();
        reports.into_iter().collect()
    }

    pub(crate) fn record_status_report(&self, report: StatusReport) {
        let bytes_max = self.spec.limits.journal_bytes_max;
        self.write().record_status_report(report, bytes_max);
    }

    /// Back to the state right after start: data, changes, subscriptions, jobs, deliveries,
    /// reports, faults, the call-limit state and the journal. The generated population is kept,
    /// so this is fast; the clock is not moved. The id epoch moves on to its next generation,
    /// so no id handed out before the reset is handed out again.
    pub fn reset(&self) {
        // The new data and engine are built with no lock held (it grows with the tenant).
        let store = Arc::new(Store::from_population(&self.spec, self.pop.clone()));
        let mut engine = Engine::new(
            &self.spec,
            self.spec.seed,
            self.clock.now(),
            initial_measures(&store),
        );
        let mut world = self.write();
        world.epoch = world.epoch.next();
        engine.set_id_seed(world.epoch.id_seed(self.spec.seed));
        engine.set_instance_id(self.instance_id.clone());
        world.store = store;
        world.engine = engine;
        world.status_reports.clear();
        world.status_report_bytes = 0;
        world.status_reports_dropped = 0;
        world.items_bytes = 0;
        self.journal.clear();
        self.limiter.reset();
        self.faults.clear();
        self.outbox.lock().clear();
        *self.report_seq.lock() = 0;
    }

    /// After someone moved the clock (`POST /_sim/clock/advance`): counts the move as a change
    /// (the state dir saves the new time before the answer) and runs what fell due.
    pub fn clock_moved(&self) {
        self.run_engine(true, |_, _| ((), Vec::new()));
    }

    /// Runs the lifecycle up to now and sends what falls due to the delivery driver.
    pub fn tick(&self) {
        self.run_engine(false, |_, _| ((), Vec::new()));
    }

    /// Runs `f` on the engine (after bringing the engine up to now), applies the effects it
    /// returns or leaves behind to the data, and hands new deliveries to the delivery driver.
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Engine, SimTime) -> (T, Vec<Effect>)) -> T {
        self.run_engine(true, f)
    }

    /// [`Simulator::with_engine`], counting a change when `f` may change the engine
    /// (`changes`) or something fell due.
    fn run_engine<T>(
        &self,
        changes: bool,
        f: impl FnOnce(&mut Engine, SimTime) -> (T, Vec<Effect>),
    ) -> T {
        let now = self.clock.now();
        let (value, deliveries, replan, stale) = {
            let mut world = self.world.write();
            let due_before = world.engine.next_due();
            if changes || due_before.is_some_and(|due| due <= now) {
                self.changes.fetch_add(1, Ordering::AcqRel);
            }
            let mut effects = world.engine.run_until(now);
            let (value, returned) = f(&mut world.engine, now);
            effects.extend(returned);
            effects.extend(world.engine.take_effects());
            let deliveries = world.absorb(effects);
            // Something new falls due earlier than the driver planned for (a job was submitted).
            let replan = world
                .engine
                .next_due()
                .is_some_and(|due| due_before.is_none_or(|before| due < before));
            (value, deliveries, replan, world.stale_segments())
        };
        // Whatever a delivery says must be what the API answers by the time it is sent, so the
        // new member lists are in place before the deliveries are handed out.
        if !stale.is_empty() {
            self.install_segments(stale);
        }
        // Wake the driver only when it has something new to do: a wake-up for nothing would
        // make its own ticks wake it again, in a loop.
        if !deliveries.is_empty() || replan {
            self.post(deliveries);
            self.wake();
        }
        value
    }

    /// Runs an engine call that returns its effects, or an error (and then has none).
    pub fn try_with_engine<E>(
        &self,
        f: impl FnOnce(&mut Engine, SimTime) -> Result<Vec<Effect>, E>,
    ) -> Result<(), E> {
        self.with_engine(|engine, now| match f(engine, now) {
            Ok(effects) => (Ok(()), effects),
            Err(err) => (Err(err), Vec::new()),
        })
    }

    /// Computes new segment member lists with no lock held (it grows with the tenant), then
    /// installs each one unless the engine has moved on meanwhile (the call that moved it
    /// installs its own).
    pub(crate) fn install_segments(&self, stale: Vec<(usize, u64)>) {
        let snapshot = self.store();
        let computed: Vec<_> = stale
            .into_iter()
            .filter_map(|(i, count)| Some((i, count, snapshot.members_at(i, count)?)))
            .collect();
        drop(snapshot);
        let mut world = self.world.write();
        for (i, engine_count, live) in computed {
            if world.engine.segment_count(i) == engine_count
                && world.store.segment_count(i) != Some(live.count)
            {
                Arc::make_mut(&mut world.store).install_segment(i, live);
            }
        }
    }

    fn wake(&self) {
        if let Some(wake) = self.waker.lock().as_ref() {
            wake();
        }
    }

    /// Reports how a delivery attempt went.
    pub fn delivery_result(&self, attempt_id: u64, result: AttemptResult) {
        self.with_engine(|engine, now| ((), engine.delivery_result(now, attempt_id, result)));
    }

    /// Reports how a delivery attempt went, with what it schedules (a retry, a late replay)
    /// counted from `answered_at` instead of now (see [`Engine::delivery_result_at`]).
    pub fn delivery_result_at(&self, attempt_id: u64, result: AttemptResult, answered_at: SimTime) {
        self.with_engine(|engine, now| {
            let effects = engine.delivery_result_at(now, answered_at, attempt_id, result);
            ((), effects)
        });
    }

    /// When the lifecycle next has something to do.
    pub fn next_due(&self) -> Option<SimTime> {
        self.world.read().engine.next_due()
    }

    fn post(&self, deliveries: Vec<DeliveryAttempt>) {
        if deliveries.is_empty() {
            return;
        }
        self.outbox.lock().extend(deliveries);
    }

    /// Sets the function called when the call limit throttles a call (the harness uses it to let
    /// simulated time follow the wall clock from that very instant, while a flow it cannot see
    /// into waits out its `Retry-After`).
    pub fn set_throttle_hook(&self, hook: Option<ThrottleHook>) {
        *self.throttle_hook.lock() = hook;
    }

    pub(crate) fn throttled(&self, connection: &str) {
        if let Some(hook) = self.throttle_hook.lock().as_ref() {
            hook(connection);
        }
    }

    /// Sets the function called when a heavy query starts (see [`QueryHook`]).
    pub fn set_query_hook(&self, hook: Option<QueryHook>) {
        *self.query_hook.lock() = hook.map(Arc::new);
    }

    pub(crate) fn query_started(&self) {
        // The lock is not held while the hook runs (a test's hook blocks).
        let hook = self.query_hook.lock().clone();
        if let Some(hook) = hook {
            hook();
        }
    }

    /// Counts a request as in flight until the returned guard is dropped (the server's part).
    pub fn request_started(&self) -> RequestInFlight<'_> {
        RequestInFlight::start(&self.requests_in_flight)
    }

    /// How many HTTP requests the server is handling right now (received, not yet answered).
    pub fn requests_in_flight(&self) -> usize {
        self.requests_in_flight.load(Ordering::SeqCst)
    }

    /// How many deliveries wait to be taken.
    pub fn pending_deliveries(&self) -> usize {
        self.outbox.lock().len()
    }

    /// Takes the deliveries waiting to be sent.
    pub fn take_deliveries(&self) -> Vec<DeliveryAttempt> {
        std::mem::take(&mut *self.outbox.lock())
    }

    /// Sets the function called when deliveries are waiting (the `serve` driver's wake-up).
    pub fn set_waker(&self, waker: Option<Waker>) {
        *self.waker.lock() = waker;
    }

    pub(crate) fn next_report_id(&self) -> String {
        let id_seed = self.world.read().epoch.id_seed(self.spec.seed);
        let mut seq = self.report_seq.lock();
        *seq += 1;
        ids::uuid_n(id_seed, "statusreport", *seq)
    }

    /// The id epoch in force (see [`crate::epoch`]).
    pub fn epoch(&self) -> Epoch {
        self.world.read().epoch.clone()
    }
}
