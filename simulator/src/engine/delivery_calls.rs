//! The engine's calls on events and deliveries: part of the orchestrator, wiring the delivery
//! owner to the subscriptions (a deleted one's deliveries are cancelled), the queue and the
//! injected faults.

use super::delivery::{DeliveryView, EventView};
use super::effect::{DeliveryAttempt, Effect};
use super::error::EngineError;
use super::faults::{DeliveryFaults, FaultState};
use super::retry::{AttemptResult, RetryPolicy};
use super::state::Engine;
use crate::time::SimTime;

impl Engine {
    /// Every event so far, in the order they occurred.
    pub fn events(&self) -> Vec<EventView> {
        self.deliveries.events()
    }

    /// The delivery journal, in creation order.
    pub fn deliveries(&self) -> Vec<DeliveryView> {
        self.deliveries.views()
    }

    pub fn delivery(&self, id: &str) -> Option<DeliveryView> {
        self.deliveries.view(id)
    }

    /// Delivery attempts sent and not yet reported with [`Engine::delivery_result`]. The harness
    /// is idle only when this is 0.
    pub fn in_flight(&self) -> usize {
        self.deliveries.in_flight()
    }

    /// The attempts sent and not yet reported, in the order they were sent (for a shell that
    /// needs to perform them again, e.g. after dropping the effects that carried them).
    pub fn in_flight_attempts(&self) -> Vec<DeliveryAttempt> {
        self.deliveries.in_flight_attempts()
    }

    /// Records how an attempt went: 2xx delivers; a timeout, connection error, 408, 429 or 5xx
    /// is retried per the policy (on the queue) or, with no retries left, dead-lettered; any
    /// other status is final. Returns the effects now due (the next delivery of the FIFO, ...).
    /// An unknown or already reported attempt id changes nothing.
    pub fn delivery_result(
        &mut self,
        now: SimTime,
        attempt_id: u64,
        result: AttemptResult,
    ) -> Vec<Effect> {
        self.delivery_result_at(now, now, attempt_id, result)
    }

    /// [`Engine::delivery_result`] for an answer reported later than the instant it counts
    /// from: what the answer schedules (a retry's back-off, a late replay) starts at
    /// `answered_at` (at most `now`), what it sends at once goes at `now`. A shell whose clock
    /// followed the wall clock while the endpoint answered uses it to keep those instants
    /// independent of how fast the endpoint was (the harness, for a flow outside it).
    pub fn delivery_result_at(
        &mut self,
        now: SimTime,
        answered_at: SimTime,
        attempt_id: u64,
        result: AttemptResult,
    ) -> Vec<Effect> {
        let now = self.catch_up(now);
        let answered_at = answered_at.min(now);
        let active = |s| self.subscriptions.is_active(s);
        let sends = self
            .deliveries
            .record_result(now, answered_at, attempt_id, &result, active);
        self.send(sends);
        self.take_effects()
    }

    /// Re-sends a dead (or delivered) delivery's event at once, as a new delivery with the same
    /// event id and a fresh series of attempts. It does not wait in the subscription's FIFO.
    pub fn redeliver(
        &mut self,
        now: SimTime,
        delivery_id: &str,
    ) -> Result<Vec<Effect>, EngineError> {
        let now = self.catch_up(now);
        let d = self.deliveries.find(delivery_id)?;
        self.subscriptions
            .check_active(self.deliveries.subscription_of(d))?;
        let sends = self.deliveries.redeliver(now, d, self.id_seed)?;
        self.send(sends);
        Ok(self.take_effects())
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        self.deliveries.policy()
    }

    /// Replaces the delivery fault configuration (and restarts the `first` counts).
    pub fn set_delivery_faults(&mut self, faults: DeliveryFaults) -> Result<(), EngineError> {
        self.faults = FaultState::new(faults)?;
        Ok(())
    }

    pub fn delivery_faults(&self) -> &DeliveryFaults {
        &self.faults.config
    }
}
