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
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde::Serialize;

use crate::clock::Clock;
use crate::engine::{AttemptResult, DeliveryAttempt, Effect, Engine, Initial, MeasureValue};
use crate::faults::RouteFaults;
use crate::ids;
use crate::journal::Journal;
use crate::rate_limit::Limiter;
use crate::store::{Population, Store};
use crate::tenant::TenantSpec;
use crate::time::SimTime;

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
    /// Salts the ids of the instance, jobs, subscriptions, events and deliveries (the data keeps
    /// the seed's, and so do durations and other seeded draws): two simulators with the same
    /// seed and different salts never share an event id or an instance id.
    pub id_salt: Option<String>,
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
            id_salt: None,
        }
    }
}

/// A status report received through "Sends the status report" (V1 or V2).
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) store: Store,
    pub(crate) engine: Engine,
    pub(crate) status_reports: Vec<StatusReport>,
}

impl World {
    /// Applies what the engine did to the data (segment membership, measure values) and returns
    /// the deliveries to send. Called after every engine call, so that whatever a delivery says
    /// is what the API answers by the time it is sent.
    fn absorb(&mut self, effects: Vec<Effect>) -> Vec<DeliveryAttempt> {
        // The data is synced from the engine's state rather than from `SegmentCountChanged`
        // effects alone: measures have no effect of their own, and one path for both keeps them
        // consistent even after a reset.
        self.sync_store();
        effects
            .into_iter()
            .filter_map(|effect| match effect {
                Effect::Deliver(attempt) => Some(attempt),
                Effect::SegmentCountChanged { .. } => None,
            })
            .collect()
    }

    /// Copies the engine's segment counts and measure values into the data layer (allocating
    /// only for a measure whose values changed: this runs after every engine call).
    fn sync_store(&mut self) {
        for i in 0..self.store.live.segments.len() {
            let count = self.engine.segment_count(i);
            self.store.set_segment_count(i, count);
        }
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
            self.store.set_measure_values(i, values);
        }
    }
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
    id_salt: Option<String>,
    pop: Arc<Population>,
    world: RwLock<World>,
    pub journal: Journal,
    /// The simulated connector's call limit (per bearer token), and its grading of clients.
    pub limiter: Limiter,
    /// Seeded faults injected into `/v1` calls (`PUT /_sim/faults`).
    pub faults: RouteFaults,
    report_seq: Mutex<u64>,
    /// Deliveries produced by API calls, waiting for the delivery driver.
    outbox: Mutex<Vec<DeliveryAttempt>>,
    waker: Mutex<Option<Waker>>,
    throttle_hook: Mutex<Option<ThrottleHook>>,
    /// HTTP requests the server has received and not yet answered (see [`RequestInFlight`]).
    requests_in_flight: AtomicUsize,
}

/// Counts one HTTP request as in flight while it lives (the server holds one per request, from
/// its head to its answer), so that an observer can tell a client that is working from one
/// that is quiet.
#[derive(Debug)]
pub struct RequestInFlight<'a> {
    sim: &'a Simulator,
}

impl Drop for RequestInFlight<'_> {
    fn drop(&mut self) {
        self.sim.requests_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Called with the connection's token whenever the call limit throttles a call.
pub type ThrottleHook = Box<dyn Fn(&str) + Send + Sync>;

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
            id_salt,
        } = config;
        let pop = Arc::new(Population::generate(&spec, spec.seed));
        let store = Store::from_population(&spec, pop.clone());
        let start = clock.now();
        let mut engine = Engine::new(&spec, spec.seed, start, initial_measures(&store));
        if let Some(salt) = &id_salt {
            engine.set_id_salt(salt);
        }
        // A spec is validated before it gets here; an invalid limit falls back to the default.
        let limiter = Limiter::new(spec.limits.rate_limit_setting().unwrap_or_default());
        Simulator {
            instance_id: ids::instance_id(spec.seed, id_salt.as_deref()),
            started_at: start,
            clock,
            admin_token,
            control_loopback_only,
            id_salt,
            world: RwLock::new(World {
                store,
                engine,
                status_reports: Vec::new(),
            }),
            pop,
            journal: Journal::new(journal_capacity),
            limiter,
            faults: RouteFaults::new(spec.seed),
            report_seq: Mutex::new(0),
            outbox: Mutex::new(Vec::new()),
            waker: Mutex::new(None),
            throttle_hook: Mutex::new(None),
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

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write()
    }

    /// The data as the API serves it, read-only (for tests, benchmarks and tools; the lock is
    /// held while the guard lives, so keep it short).
    pub fn store(&self) -> MappedRwLockReadGuard<'_, Store> {
        RwLockReadGuard::map(self.world.read(), |w| &w.store)
    }

    /// The status reports received so far, in order.
    pub fn status_reports(&self) -> Vec<StatusReport> {
        self.world.read().status_reports.clone()
    }

    pub(crate) fn record_status_report(&self, report: StatusReport) {
        self.world.write().status_reports.push(report);
    }

    /// Back to the state right after start: data, changes, subscriptions, jobs, deliveries,
    /// reports, faults, the call-limit state and the journal. The generated population is kept,
    /// so this is fast; the clock is not moved.
    pub fn reset(&self) {
        let mut world = self.world.write();
        world.store = Store::from_population(&self.spec, self.pop.clone());
        let initial = initial_measures(&world.store);
        world.engine = Engine::new(&self.spec, self.spec.seed, self.clock.now(), initial);
        if let Some(salt) = &self.id_salt {
            world.engine.set_id_salt(salt);
        }
        world.status_reports.clear();
        self.journal.clear();
        self.limiter.reset();
        self.faults.clear();
        self.outbox.lock().clear();
        *self.report_seq.lock() = 0;
    }

    /// Runs the lifecycle up to now and sends what falls due to the delivery driver.
    pub fn tick(&self) {
        self.with_engine(|_, _| ((), Vec::new()));
    }

    /// Runs `f` on the engine (after bringing the engine up to now), applies the effects it
    /// returns or leaves behind to the data, and hands new deliveries to the delivery driver.
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Engine, SimTime) -> (T, Vec<Effect>)) -> T {
        let now = self.clock.now();
        let (value, deliveries, replan) = {
            let mut world = self.world.write();
            let due_before = world.engine.next_due();
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
            (value, deliveries, replan)
        };
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

    fn wake(&self) {
        if let Some(wake) = self.waker.lock().as_ref() {
            wake();
        }
    }

    /// Reports how a delivery attempt went.
    pub fn delivery_result(&self, attempt_id: u64, result: AttemptResult) {
        self.with_engine(|engine, now| ((), engine.delivery_result(now, attempt_id, result)));
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

    /// Counts a request as in flight until the returned guard is dropped (the server's part).
    pub fn request_started(&self) -> RequestInFlight<'_> {
        self.requests_in_flight.fetch_add(1, Ordering::SeqCst);
        RequestInFlight { sim: self }
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
        let mut seq = self.report_seq.lock();
        *seq += 1;
        ids::uuid_n(self.spec.seed, "statusreport", *seq)
    }

    // Observations: what the harness reads after (or during) a case.

    /// The subscriptions, live and deleted, in creation order (an observation for the harness and
    /// the control API; it copies, so no lock is held by the caller).
    pub fn subscriptions(&self) -> Vec<crate::engine::Subscription> {
        self.world.read().engine.subscriptions()
    }

    /// Every trigger event so far, in order.
    pub fn events(&self) -> Vec<crate::engine::EventView> {
        self.world.read().engine.events()
    }

    /// Every delivery (with its attempts) so far, in order.
    pub fn deliveries(&self) -> Vec<crate::engine::DeliveryView> {
        self.world.read().engine.deliveries()
    }

    /// The segments as the API describes them.
    pub fn segments(&self) -> Vec<crate::engine::SegmentView> {
        self.world.read().engine.segments()
    }

    /// Generated rows per entity name (created items not counted).
    pub fn entity_rows(&self) -> std::collections::BTreeMap<String, u64> {
        let world = self.world.read();
        world
            .store
            .entities
            .iter()
            .map(|e| (e.schema.name.clone(), world.store.base_len(e)))
            .collect()
    }

    /// Heap bytes of the generated data (an estimate of the tenant's resident size).
    pub fn data_bytes(&self) -> usize {
        self.pop.heap_bytes()
    }
}
