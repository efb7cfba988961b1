//! The simulator: one tenant, its clock, and everything the API and the control API share.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde::Serialize;

use crate::clock::Clock;
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

/// The mutable state of the tenant, behind one lock.
#[derive(Debug)]
pub struct World {
    pub store: Store,
    pub status_reports: Vec<StatusReport>,
}

/// One simulated tenant. Shared between the HTTP server, the lifecycle driver and the harness.
#[derive(Debug)]
pub struct Simulator {
    pub spec: TenantSpec,
    pub instance_id: String,
    pub clock: Clock,
    pub started_at: SimTime,
    pub admin_token: Option<String>,
    pub control_loopback_only: bool,
    pop: Arc<Population>,
    world: RwLock<World>,
    pub journal: Journal,
    /// The simulated connector's call limit (per bearer token), and its grading of clients.
    pub limiter: Limiter,
    report_seq: Mutex<u64>,
}

impl Simulator {
    /// Generates the tenant (the slow part: about 2 s per million customers on 2 cores).
    pub fn new(config: SimConfig) -> Simulator {
        let SimConfig {
            spec,
            clock,
            admin_token,
            control_loopback_only,
            journal_capacity,
        } = config;
        let pop = Arc::new(Population::generate(&spec, spec.seed));
        let store = Store::from_population(&spec, pop.clone());
        // A spec is validated before it gets here; an invalid limit falls back to the default.
        let limiter = Limiter::new(spec.limits.rate_limit_setting().unwrap_or_default());
        Simulator {
            instance_id: ids::uuid(spec.seed, &["instance"]),
            started_at: clock.now(),
            clock,
            admin_token,
            control_loopback_only,
            world: RwLock::new(World {
                store,
                status_reports: Vec::new(),
            }),
            pop,
            journal: Journal::new(journal_capacity),
            limiter,
            report_seq: Mutex::new(0),
            spec,
        }
    }

    pub fn seed(&self) -> u64 {
        self.spec.seed
    }

    pub fn now(&self) -> SimTime {
        self.clock.now()
    }

    pub fn read(&self) -> RwLockReadGuard<'_, World> {
        self.world.read()
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write()
    }

    /// Back to the state right after start: data, changes, reports and the journal (the
    /// generated population is kept, so this is fast).
    pub fn reset(&self) {
        let mut world = self.world.write();
        world.store = Store::from_population(&self.spec, self.pop.clone());
        world.status_reports.clear();
        self.journal.clear();
        self.limiter.reset();
        *self.report_seq.lock() = 0;
    }

    pub(crate) fn next_report_id(&self) -> String {
        let mut seq = self.report_seq.lock();
        *seq += 1;
        ids::uuid_n(self.spec.seed, "statusreport", *seq)
    }

    /// Heap bytes of the generated data (an estimate of the tenant's resident size).
    pub fn data_bytes(&self) -> usize {
        self.pop.heap_bytes()
    }
}
