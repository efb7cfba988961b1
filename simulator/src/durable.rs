//! The simulator on a state dir (`serve --state-dir`): [`Simulator::open`] restores what was
//! saved, and [`Simulator::commit`] saves what changed.
//!
//! When to save is the one rule that makes the state dir worth having: **commit, then answer**.
//! `api::handle` commits after every request, before the answer leaves, so whatever a client is
//! told was done (a `201` subscription, a `201`/`204` item, an accepted job or `_sim` action)
//! is on disk first. The `serve` driver commits before it sends any delivery, so an event id a
//! flow has seen is never handed out again for another event. Changes are counted
//! (`Simulator::changes`), and a commit with nothing new to save does nothing; concurrent
//! commits share one write.
//!
//! What is saved: the engine whole (subscriptions, jobs and their history, events, deliveries
//! pending, in flight and dead, the catalog's counts, values and history, the event queue), the
//! created and changed items (and the bytes they count against `limits.items_bytes_max`), the status reports, the route faults, the id epoch and the
//! clock. What is not: the journal of calls, the call limiter's windows, and the generated
//! data (generated again from the tenant).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::Engine;
use crate::faults::RouteFaultConfig;
use crate::persist::{FORMAT, Identity, Meta, PersistError, StateDir, encode};
use crate::sim::{CommitHook, SimConfig, Simulator, StatusReport};
use crate::store::{Overlay, Store};
use crate::time::SimDuration;

/// The parts of the saved state, by name.
const ENGINE: &str = "engine";
const OVERLAYS: &str = "overlays";
const REPORTS: &str = "reports";
const ROUTE_FAULTS: &str = "route_faults";
const ITEMS_BYTES: &str = "items_bytes";

/// What a commit takes under the world's lock, to encode after letting go of it.
struct Snapshot {
    engine: Engine,
    store: Arc<Store>,
    reports: imbl::Vector<StatusReport>,
    items_bytes: usize,
}

/// With nothing else to save, the clock is saved once it has moved this much (simulated time)
/// since it last was, so that a restart resumes close to where a running clock was.
const CLOCK_SAVE_STEP: SimDuration = SimDuration::from_secs(10);

impl Simulator {
    /// A simulator on the state dir `dir`: the tenant generated as [`Simulator::new`] does, then
    /// what the dir saved put back (the same tenant, seed and overrides only: another is
    /// refused). A new dir starts with the config's id epoch, saved at once. The clock resumes
    /// at the saved instant or later, never earlier.
    pub fn open(config: SimConfig, dir: &Path) -> Result<Simulator, PersistError> {
        let identity = Identity::of(&config.spec);
        let (state_dir, saved) = StateDir::open(dir, &identity)?;
        let mut sim = Simulator::new(config);
        if let Some(saved) = saved {
            let path = state_dir.path();
            let engine: Engine = saved.part(ENGINE, path)?;
            let overlays: Vec<Overlay> = saved.part(OVERLAYS, path)?;
            let reports: Vec<StatusReport> = saved.part(REPORTS, path)?;
            let route_faults: RouteFaultConfig = saved.part(ROUTE_FAULTS, path)?;
            let items_bytes: usize = saved.part(ITEMS_BYTES, path)?;
            let unreadable = |what: String| PersistError::Unreadable {
                path: path.to_owned(),
                what,
            };
            let stale = {
                let mut world = sim.write();
                Arc::make_mut(&mut world.store)
                    .restore_overlays(overlays)
                    .map_err(unreadable)?;
                world.engine = engine;
                world.items_bytes = items_bytes;
                world.sync_measures();
                *sim.report_seq.lock() = reports.len() as u64;
                world.restore_status_reports(reports);
                world.epoch = saved.meta.epoch;
                world.stale_segments()
            };
            // The segments' member lists as the restored engine counts them.
            sim.install_segments(stale);
            sim.faults
                .set(route_faults)
                .map_err(|e| unreadable(format!("the route faults: {e}")))?;
            sim.clock.advance_to(saved.meta.clock);
        }
        sim.state_dir = Some((state_dir, identity));
        sim.changes.fetch_add(1, Ordering::AcqRel);
        sim.commit()?;
        Ok(sim)
    }

    /// Saves what changed since the last save, durably, before returning (nothing without a
    /// state dir). Safe to call from any thread at any time; see the module docs for when the
    /// simulator's shells call it.
    pub fn commit(&self) -> Result<(), PersistError> {
        let Some((dir, identity)) = &self.state_dir else {
            return Ok(());
        };
        let result = dir.save(
            || {
                let clock_stale = self
                    .now()
                    .0
                    .saturating_sub(self.clock_saved.load(Ordering::Acquire))
                    >= CLOCK_SAVE_STEP.0;
                // A clock that moved on counts as one more change.
                self.changes.load(Ordering::Acquire) + u64::from(clock_stale)
            },
            |saved| {
                // Under the world's lock, only a snapshot: the engine's clone shares its
                // histories, events, deliveries and jobs (persistent vectors), the data is an
                // `Arc`, so the lock is held for time that does not grow with them. Encoding
                // happens after it is let go.
                let (version, epoch, snapshot) = {
                    let world = self.read();
                    let version = self.changes.load(Ordering::Acquire);
                    let snapshot = (saved != Some(version)).then(|| Snapshot {
                        engine: world.engine.clone(),
                        store: world.store.clone(),
                        reports: world.status_reports.clone(),
                        items_bytes: world.items_bytes,
                    });
                    (version, world.epoch.clone(), snapshot)
                };
                let now = self.now();
                let meta = Meta {
                    format: FORMAT,
                    identity: identity.clone(),
                    epoch,
                    clock: now,
                };
                self.clock_saved.store(now.0, Ordering::Release);
                let hook = self.commit_hook.lock().clone();
                if let Some(hook) = hook {
                    hook();
                }
                let mut parts = vec![(crate::persist::META, encode(&meta)?)];
                if let Some(snapshot) = snapshot {
                    parts.push((ENGINE, encode(&snapshot.engine)?));
                    parts.push((OVERLAYS, encode(&snapshot.store.overlays())?));
                    parts.push((REPORTS, encode(&snapshot.reports)?));
                    parts.push((ROUTE_FAULTS, encode(&self.faults.config())?));
                    parts.push((ITEMS_BYTES, encode(&snapshot.items_bytes)?));
                }
                Ok((version, parts))
            },
        );
        if result.is_err() {
            // Try the clock again next time too.
            self.clock_saved.store(i64::MIN, Ordering::Release);
        }
        result
    }

    /// The size in bytes of every saved part as last saved, by name (empty without a state
    /// dir).
    pub fn saved_part_sizes(&self) -> Vec<(&'static str, usize)> {
        self.state_dir
            .as_ref()
            .map(|(dir, _)| dir.part_sizes())
            .unwrap_or_default()
    }

    /// Sets the function called when a commit encodes a snapshot (see [`CommitHook`]).
    pub fn set_commit_hook(&self, hook: Option<CommitHook>) {
        *self.commit_hook.lock() = hook.map(Arc::new);
    }

    /// The file the state is saved in, when there is a state dir.
    pub fn state_file(&self) -> Option<&Path> {
        self.state_dir.as_ref().map(|(dir, _)| dir.path())
    }
}
