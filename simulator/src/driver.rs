//! The `serve` driver: runs the lifecycle on the clock and sends deliveries.
//!
//! It sleeps until the engine's next due event (on the wall clock, scaled by `--speed`) or until
//! an API call changes the state, runs the engine up to now, and sends each delivery from its own
//! task, reporting the result back. No lock is held across any I/O, so a slow or dead endpoint
//! never blocks other subscriptions or the API; the engine calls themselves (which take the
//! tenant's lock and may run a catch-up of the lifecycle) run on tokio's blocking pool, never on
//! a runtime worker. Deliveries to the simulator itself are refused unless the tenant sets
//! `delivery.allow_self`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::delivery::Sender;
use crate::engine::DeliveryAttempt;
use crate::sim::Simulator;

/// Longest sleep between checks (a safety net; wake-ups normally come from the API).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// How long [`Driver::shutdown`] waits for deliveries in flight before it abandons them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running driver; stop it with [`Driver::shutdown`].
#[derive(Debug)]
pub struct Driver {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Driver {
    pub fn spawn(sim: Arc<Simulator>) -> Driver {
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        sim.set_waker(Some(Box::new(move || wake.notify_one())));
        let (stop, mut stopped) = watch::channel(false);
        let sender = if sim.spec.delivery.allow_self {
            Sender::new()
        } else {
            let own = sim.clone();
            Sender::new().refusing_self(move || own.own_addresses())
        };
        let task = tokio::spawn(async move {
            let mut sending = JoinSet::new();
            loop {
                let ticking = sim.clone();
                let attempts = tokio::task::spawn_blocking(move || {
                    ticking.tick();
                    ticking.take_deliveries()
                })
                .await
                .unwrap_or_default();
                for attempt in attempts {
                    sending.spawn(send(sim.clone(), sender.clone(), attempt));
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
                    _ = stopped.changed() => break,
                }
            }
            // Deliveries in flight get a bounded grace to finish and be reported; the rest are
            // abandoned (still in flight in the engine's journal).
            let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
                while sending.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                sending.abort_all();
            }
            sim.set_waker(None);
        });
        Driver { stop, task }
    }

    /// Stops the driver after the deliveries in flight have finished and been reported, or
    /// after [`SHUTDOWN_GRACE`], whichever comes first.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
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
