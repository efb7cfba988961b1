//! The `serve` driver: runs the lifecycle on the clock and sends deliveries.
//!
//! It sleeps until the engine's next due event (on the wall clock, scaled by `--speed`) or until
//! an API call changes the state, runs the engine up to now, and sends each delivery from its own
//! task, reporting the result back. No lock is held across any I/O, so a slow or dead endpoint
//! never blocks other subscriptions or the API; the engine calls themselves (which take the
//! tenant's lock, may run a catch-up of the lifecycle and, with a state dir, save) run on tokio's
//! blocking pool, never on a runtime worker. Deliveries to the simulator itself are refused
//! unless the tenant sets `delivery.allow_self`.
//!
//! At start it sends again every attempt the engine holds as in flight: attempts a previous
//! process (whose state was restored from a state dir) sent and never heard back about.
//!
//! Shutting down ([`Driver::shutdown`]) sends nothing new, waits a bounded time for the attempts
//! in flight, abandons the rest (they stay in flight, so a state dir keeps them and the next
//! start sends them again), and says what was left undelivered.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::delivery::{DeliveryTrust, Sender};
use crate::engine::DeliveryAttempt;
use crate::sim::{Simulator, Undelivered};

/// Longest sleep between checks (a safety net; wake-ups normally come from the API).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// How long shutting down waits for the deliveries in flight by default (`serve --drain`).
pub const DRAIN_DEFAULT: Duration = Duration::from_secs(5);

/// What shutting down left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Attempts in flight at shutdown that finished (and were reported) within the drain time.
    pub finished: usize,
    /// Attempts still in flight when the drain time ran out: abandoned unanswered.
    pub abandoned: usize,
    /// Deliveries not delivered yet once the driver stopped, by where they wait (the abandoned
    /// attempts count as in flight).
    pub undelivered: Undelivered,
}

/// A running driver; stop it with [`Driver::shutdown`].
#[derive(Debug)]
pub struct Driver {
    stop: watch::Sender<Option<Duration>>,
    task: JoinHandle<(usize, usize)>,
    sim: Arc<Simulator>,
}

impl Driver {
    /// A driver whose `https://` deliveries trust the public CAs.
    pub fn spawn(sim: Arc<Simulator>) -> Driver {
        Driver::spawn_trusting(sim, &DeliveryTrust::public())
    }

    /// A driver whose `https://` deliveries trust `trust` (`serve --delivery-ca`).
    pub fn spawn_trusting(sim: Arc<Simulator>, trust: &DeliveryTrust) -> Driver {
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        sim.set_waker(Some(Box::new(move || wake.notify_one())));
        let (stop, mut stopped) = watch::channel(None);
        let sender = if sim.spec.delivery.allow_self {
            Sender::trusting(trust)
        } else {
            let own = sim.clone();
            Sender::trusting(trust).refusing_self(move || own.own_addresses())
        };
        let driven = sim.clone();
        let task = tokio::spawn(async move {
            let sim = driven;
            let mut sending = JoinSet::new();
            // Attempts sent by a previous process and never reported: send them again.
            for attempt in sim.in_flight_attempts() {
                sending.spawn(send(sim.clone(), sender.clone(), attempt));
            }
            let mut unsaved = false;
            let drain = loop {
                // Commit, then send: an event a flow has seen is saved (with a state dir), so
                // its id is never handed out again for another event. Unsaved, they wait.
                let ticking = sim.clone();
                let ticked = tokio::task::spawn_blocking(move || {
                    ticking.tick();
                    ticking.commit().map(|()| ticking.take_deliveries())
                })
                .await
                .unwrap_or_else(|_| Ok(Vec::new()));
                match ticked {
                    Ok(attempts) => {
                        unsaved = false;
                        for attempt in attempts {
                            sending.spawn(send(sim.clone(), sender.clone(), attempt));
                        }
                    }
                    Err(e) if !unsaved => {
                        unsaved = true;
                        eprintln!(
                            "insightsim: deliveries wait until the state is saved: {}",
                            crate::persist::chain(&e)
                        );
                    }
                    Err(_) => {}
                }
                // Forget the finished sends (their results are already reported).
                while sending.try_join_next().is_some() {}
                let wait = sim
                    .next_due()
                    .and_then(|at| sim.clock.wall_until(at))
                    .map_or(IDLE_CHECK, |d| d.min(IDLE_CHECK));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = notify.notified() => {}
                    changed = stopped.changed() => {
                        break match changed {
                            Ok(()) => (*stopped.borrow()).unwrap_or(DRAIN_DEFAULT),
                            // The handle was dropped without a shutdown: stop at once.
                            Err(_) => Duration::ZERO,
                        };
                    }
                }
            };
            sim.set_waker(None);
            let outcome = finish(&mut sending, drain).await;
            // Whatever the finished sends produced (the next delivery of a FIFO, a retry) stays
            // with the engine, in flight or pending: nothing new is sent during a shutdown, and
            // a state dir keeps it for the next start.
            drop(sim.take_deliveries());
            if let Err(e) = sim.commit() {
                eprintln!(
                    "insightsim: the last deliveries' results are not saved: {}",
                    crate::persist::chain(&e)
                );
            }
            outcome
        });
        Driver { stop, task, sim }
    }

    /// [`Driver::shutdown_within`] the default drain time, [`DRAIN_DEFAULT`].
    pub async fn shutdown(self) -> DrainReport {
        self.shutdown_within(DRAIN_DEFAULT).await
    }

    /// Stops the driver: nothing new is sent, the attempts in flight get up to `drain` (wall
    /// time) to finish, the rest are abandoned unanswered. Returns what was left undelivered.
    pub async fn shutdown_within(self, drain: Duration) -> DrainReport {
        let _ = self.stop.send(Some(drain));
        let (finished, abandoned) = self.task.await.unwrap_or((0, 0));
        DrainReport {
            finished,
            abandoned,
            undelivered: self.sim.undelivered(),
        }
    }
}

/// Waits up to `drain` for the sends in flight; aborts the rest. Returns (finished, abandoned).
async fn finish(sending: &mut JoinSet<()>, drain: Duration) -> (usize, usize) {
    let mut finished = 0;
    let all = async {
        while sending.join_next().await.is_some() {
            finished += 1;
        }
    };
    let drained = tokio::time::timeout(drain, all).await.is_ok();
    if drained {
        return (finished, 0);
    }
    let abandoned = sending.len();
    sending.abort_all();
    while sending.join_next().await.is_some() {}
    (finished, abandoned)
}

async fn send(sim: Arc<Simulator>, sender: Sender, attempt: DeliveryAttempt) {
    let deadline = sim.now() + attempt.timeout;
    let timeout = sim
        .clock
        .wall_until(deadline)
        .unwrap_or(Duration::from_millis(
            attempt.timeout.as_millis().max(0) as u64
        ));
    let result = sender.send(&attempt, timeout).await;
    let _reported =
        tokio::task::spawn_blocking(move || sim.delivery_result(attempt.attempt_id, result)).await;
}
