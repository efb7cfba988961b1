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

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde::Serialize;

use crate::addresses::{OwnAddresses, PublicUrl};
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
    /// Salts the ids of jobs, subscriptions, events and deliveries (the data and the instance
    /// keep the seed's): two simulators with the same seed and different salts never share an
    /// event id.
    pub id_salt: Option<String>,
    /// Where clients reach the simulator when it is behind a tunnel or proxy: absolute URLs in
    /// answers use it instead of the listen address.
    pub public_url: Option<PublicUrl>,
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
            public_url: None,
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
///
/// The data is an `Arc` snapshot: a reader clones the `Arc` and lets go of the lock before it
/// queries, and a writer changes its own copy (`Arc::make_mut`), so no lock is ever held across
/// work that grows with the data.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) store: Arc<Store>,
    pub(crate) engine: Engine,
    pub(crate) status_reports: Vec<StatusReport>,
    /// Bytes of the kept status reports, and how many were dropped to stay within the budget.
    status_report_bytes: usize,
    pub(crate) status_reports_dropped: u64,
    /// Bytes of the items created and changed since start (`limits.items_bytes_max`).
    pub(crate) items_bytes: usize,
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
    fn stale_segments(&self) -> Vec<(usize, u64)> {
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
    fn sync_measures(&mut self) {
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

    /// Keeps a status report, dropping the oldest ones beyond `bytes_max`.
    fn record_status_report(&mut self, report: StatusReport, bytes_max: usize) {
        self.status_report_bytes += report_bytes(&report);
        self.status_reports.push(report);
        let mut drop = 0;
        while self.status_report_bytes > bytes_max && drop + 1 < self.status_reports.len() {
            self.status_report_bytes -= report_bytes(&self.status_reports[drop]);
            drop += 1;
        }
        if drop > 0 {
            self.status_reports.drain(..drop);
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
    id_salt: Option<String>,
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
    report_seq: Mutex<u64>,
    /// Deliveries produced by API calls, waiting for the delivery driver.
    outbox: Mutex<Vec<DeliveryAttempt>>,
    waker: Mutex<Option<Waker>>,
    throttle_hook: Mutex<Option<ThrottleHook>>,
    query_hook: Mutex<Option<Arc<QueryHook>>>,
}

/// Called when a heavy query starts, on the thread that runs it (a test holds one there to
/// check that nothing else waits for it).
pub type QueryHook = Box<dyn Fn() + Send + Sync>;

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
            public_url,
        } = config;
        let pop = Arc::new(Population::generate(&spec, spec.seed));
        let store = Store::from_population(&spec, pop.clone());
        let start = clock.now();
        let mut engine = Engine::new(&spec, spec.seed, start, initial_measures(&store));
        if let Some(salt) = &id_salt {
            engine.set_id_salt(salt);
        }
        let own = OwnAddresses {
            public: public_url.as_ref().map(|p| (p.host.clone(), p.port)),
            ..OwnAddresses::default()
        };
        // A spec is validated before it gets here; an invalid limit falls back to the default.
        let limiter = Limiter::new(spec.limits.rate_limit_setting().unwrap_or_default());
        Simulator {
            instance_id: ids::uuid(spec.seed, &["instance"]),
            started_at: start,
            clock,
            admin_token,
            control_loopback_only,
            own: RwLock::new(own),
            public_url,
            id_salt,
            world: RwLock::new(World {
                store: Arc::new(store),
                engine,
                status_reports: Vec::new(),
                status_report_bytes: 0,
                status_reports_dropped: 0,
                items_bytes: 0,
            }),
            pop,
            journal: Journal::new(journal_capacity, spec.limits.journal_bytes_max),
            limiter,
            faults: RouteFaults::new(spec.seed),
            report_seq: Mutex::new(0),
            outbox: Mutex::new(Vec::new()),
            waker: Mutex::new(None),
            throttle_hook: Mutex::new(None),
            query_hook: Mutex::new(None),
            spec,
        }
    }

    /// Records that a server listens on `addr` (deliveries to it are refused unless
    /// `delivery.allow_self`); `is_local` tells this machine's addresses apart.
    pub fn add_listener(&self, addr: SocketAddr, is_local: fn(IpAddr) -> bool) {
        let mut own = self.own.write();
        own.listeners.push(addr);
        own.is_local = is_local;
    }

    /// Forgets a listener (its server stopped).
    pub fn remove_listener(&self, addr: SocketAddr) {
        self.own.write().listeners.retain(|l| *l != addr);
    }

    /// Whether a URL's literal host and port name the simulator itself.
    pub fn names_self(&self, host: &str, port: u16) -> bool {
        self.own.read().named_by(host, port)
    }

    /// Where the simulator can be reached: its listeners and its public URL.
    pub fn own_addresses(&self) -> OwnAddresses {
        self.own.read().clone()
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

    /// A snapshot of the data as the API serves it: it holds no lock, and later changes (items
    /// created, segments evaluated) do not show in it.
    pub fn store(&self) -> Arc<Store> {
        self.world.read().store.clone()
    }

    /// The status reports received so far, in order.
    pub fn status_reports(&self) -> Vec<StatusReport> {
        self.world.read().status_reports.clone()
    }

    pub(crate) fn record_status_report(&self, report: StatusReport) {
        let bytes_max = self.spec.limits.journal_bytes_max;
        self.world.write().record_status_report(report, bytes_max);
    }

    /// Back to the state right after start: data, changes, subscriptions, jobs, deliveries,
    /// reports, faults, the call-limit state and the journal. The generated population is kept,
    /// so this is fast; the clock is not moved.
    pub fn reset(&self) {
        // The new data and engine are built with no lock held (it grows with the tenant).
        let store = Arc::new(Store::from_population(&self.spec, self.pop.clone()));
        let mut engine = Engine::new(
            &self.spec,
            self.spec.seed,
            self.clock.now(),
            initial_measures(&store),
        );
        if let Some(salt) = &self.id_salt {
            engine.set_id_salt(salt);
        }
        let mut world = self.world.write();
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

    /// Runs the lifecycle up to now and sends what falls due to the delivery driver.
    pub fn tick(&self) {
        self.with_engine(|_, _| ((), Vec::new()));
    }

    /// Runs `f` on the engine (after bringing the engine up to now), applies the effects it
    /// returns or leaves behind to the data, and hands new deliveries to the delivery driver.
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Engine, SimTime) -> (T, Vec<Effect>)) -> T {
        let now = self.clock.now();
        let (value, deliveries, replan, stale) = {
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
    fn install_segments(&self, stale: Vec<(usize, u64)>) {
        let snapshot = self.store();
        let computed: Vec<_> = stale
            .into_iter()
            .map(|(i, count)| (i, count, snapshot.members_at(i, count)))
            .collect();
        drop(snapshot);
        let mut world = self.world.write();
        for (i, engine_count, (count, members)) in computed {
            if world.engine.segment_count(i) == engine_count
                && world.store.segment_count(i) != Some(count)
            {
                Arc::make_mut(&mut world.store).install_segment(i, count, members);
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

    /// The key attribute of an entity (`CustomerId`) and the keys of its generated rows in their
    /// natural order (the order `$skip` pages through), as text; `None` for an unknown entity or
    /// one without a key.
    pub fn entity_keys(&self, entity: &str) -> Option<(String, Vec<String>)> {
        let world = self.world.read();
        let store = &world.store;
        let e = store.entity(store.entity_index(entity)?);
        let attr = e.schema.key?;
        let name = e.schema.attributes.get(attr)?.name.clone();
        let now = self.clock.now();
        let keys = (0..store.base_len(e))
            .map(|row| match store.value(e, row, attr, now) {
                crate::schema::Value::Str(s) => s.into_owned(),
                crate::schema::Value::Int(n) => n.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        Some((name, keys))
    }

    /// Heap bytes of the generated data (an estimate of the tenant's resident size).
    pub fn data_bytes(&self) -> usize {
        self.pop.heap_bytes()
    }
}
