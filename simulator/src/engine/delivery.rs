//! The deliveries owner: webhook delivery as a pure state machine. It keeps the journal of
//! events and their deliveries, per subscription a FIFO of deliveries of which only the head is
//! in flight, the attempts in flight, dead letters and re-sending; it waits out the
//! [`RetryPolicy`] on virtual time and carries out the faults planned for each event.
//!
//! The shell performs each [`DeliveryAttempt`] as an HTTP POST and reports back through
//! `Engine::delivery_result`. Every step returns [`Sends`]: items to queue and attempts to hand
//! to the shell, in order.

mod model;

use std::collections::BTreeMap;

use super::draw;
use super::effect::DeliveryAttempt;
use super::error::EngineError;
use super::faults::FaultKind;
use super::queue::{Due, Queue};
use super::retry::{AttemptResult, RetryPolicy};
use crate::tenant::TenantSpec;
use crate::time::{SimDuration, SimTime};
pub(super) use model::Event;
pub use model::{AttemptRecord, DeliveryView, EventView};
use model::{Delivery, Phase, SubscriptionQueue};

/// What a delivery step asks of the engine, each in order: items to queue, attempts to send.
#[derive(Debug, Default)]
pub(super) struct Sends {
    pub(super) dues: Vec<(SimTime, Due)>,
    pub(super) attempts: Vec<DeliveryAttempt>,
}

/// The event journal and every delivery of it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Deliveries {
    /// Persistent vectors (`imbl`): a clone shares them, so the state dir's snapshot of the
    /// engine costs nothing that grows with the history (`durable.rs`).
    events: imbl::Vector<Event>,
    deliveries: imbl::Vector<Delivery>,
    /// Per subscription (by index), its FIFO and held deliveries.
    queues: Vec<SubscriptionQueue>,
    /// Attempts sent and not yet reported: attempt id → delivery index.
    in_flight: BTreeMap<u64, usize>,
    policy: RetryPolicy,
    /// Deliveries one subscription may get per window (`limits.deliveries_per_subscription_max`
    /// within `limits.deliveries_window`).
    volume_max: u64,
    volume_window: SimDuration,
    /// Keys the back-off draws.
    seed: u64,
    /// Events, deliveries, attempts and reorder holds numbered so far.
    event_count: u64,
    delivery_count: u64,
    attempt_count: u64,
    hold_count: u64,
}

impl Deliveries {
    pub(super) fn new(spec: &TenantSpec, seed: u64) -> Deliveries {
        Deliveries {
            events: imbl::Vector::new(),
            deliveries: imbl::Vector::new(),
            queues: Vec::new(),
            in_flight: BTreeMap::new(),
            policy: RetryPolicy::from_spec(&spec.delivery),
            volume_max: spec.limits.deliveries_per_subscription_max.max(1),
            volume_window: spec.limits.deliveries_window,
            seed,
            event_count: 0,
            delivery_count: 0,
            attempt_count: 0,
            hold_count: 0,
        }
    }

    /// The number of the next event (its id is drawn from it).
    pub(super) fn next_event_number(&mut self) -> u64 {
        let n = self.event_count;
        self.event_count += 1;
        n
    }

    /// Records a new event, creates its deliveries (with any faults planned for it) and sends
    /// what its subscription's FIFO allows.
    pub(super) fn deliver(&mut self, now: SimTime, event: Event, id_seed: u64) -> Sends {
        let mut sends = Sends::default();
        let s = event.subscription;
        let plan = event.faults;
        self.events.push_back(event);
        let e = self.events.len() - 1;
        if let Err(cut) = self.admit(now, s) {
            self.events[e].cut = Some(cut);
            return sends;
        }
        // Reordering: an event planned for it is held back while nothing else is held; the next
        // event of the subscription then overtakes it (it is queued first, and is not held
        // itself, even if it was planned to be), and the held one follows. So `reorder = 1.0`
        // swaps consecutive pairs (`ev2, ev1, ev4, ev3, …`), and an event held with no next one
        // is released after `holdMax`.
        let overtakes = self.queues.get(s).is_some_and(|q| !q.held.is_empty());
        let hold_for = plan.reorder.filter(|_| !overtakes);
        let reorder = hold_for.map(|_| FaultKind::Reorder);
        let first = self.new_delivery(now, e, reorder, true, None, id_seed);
        self.deliveries[first].attempt_fault = plan.attempt;
        let mut batch = vec![first];
        if plan.duplicate {
            batch.push(self.new_delivery(now, e, Some(FaultKind::Duplicate), true, None, id_seed));
        }
        if let Some(hold_max) = hold_for {
            self.hold_count += 1;
            let hold = self.hold_count;
            let sub = self.queue_of(s);
            sub.held = batch;
            sub.hold = hold;
            sends.dues.push((
                now + hold_max,
                Due::ReleaseHeld {
                    subscription: s,
                    hold,
                },
            ));
        } else {
            // This event goes first; anything held follows it.
            let sub = self.queue_of(s);
            sub.fifo.extend(batch);
            let held = std::mem::take(&mut sub.held);
            sub.fifo.extend(held);
        }
        self.pump(now, s, &mut sends);
        sends
    }

    /// Records how an attempt went: 2xx delivers; a timeout, connection error, 408, 429 or 5xx
    /// is retried per the policy (on the queue) or, with no retries left, dead-lettered; any
    /// other status is final. A delivery of a deleted subscription (`active` says which are
    /// not) is cancelled instead of retried. An unknown or already reported attempt id changes
    /// nothing. Back-offs and late replays start at `answered_at` (see
    /// [`super::Engine::delivery_result_at`]).
    pub(super) fn record_result(
        &mut self,
        now: SimTime,
        answered_at: SimTime,
        attempt_id: u64,
        result: &AttemptResult,
        active: impl Fn(usize) -> bool,
    ) -> Sends {
        let mut sends = Sends::default();
        let Some(d) = self.in_flight.remove(&attempt_id) else {
            return sends;
        };
        let active = active(self.deliveries[d].subscription);
        let retries_left = self
            .policy
            .count
            .saturating_sub(self.deliveries[d].attempts.len() as u32 - 1);
        let delivery = &mut self.deliveries[d];
        let attempts = delivery.attempts.len() as u32;
        if let Some(last) = delivery.attempts.last_mut() {
            last.result = Some(match last.fault {
                Some(fault) => format!("{} ({})", result.describe(), fault.describe()),
                None => result.describe(),
            });
        }
        if result.is_success() {
            delivery.phase = Phase::Delivered;
        } else if !active {
            delivery.phase = Phase::Cancelled;
            delivery.reason = Some("subscription deleted".to_owned());
        } else if !result.is_retryable() {
            delivery.phase = Phase::Dead;
            delivery.reason = Some(format!("final {}", result.describe()));
        } else if retries_left == 0 {
            delivery.phase = Phase::Dead;
            delivery.reason = Some(format!(
                "gave up after {attempts} attempt{}; last result: {}",
                if attempts == 1 { "" } else { "s" },
                result.describe()
            ));
        } else {
            let k = attempts;
            let (lo, hi) = self.policy.wait_bounds(k);
            let wait = draw::millis_in(
                self.seed,
                &["backoff", &delivery.draw_key, &k.to_string()],
                lo.as_millis(),
                hi.as_millis(),
            );
            let next = answered_at + SimDuration(wait);
            if let Some(last) = delivery.attempts.last_mut() {
                last.next_attempt_at = Some(next);
            }
            delivery.phase = Phase::WaitingRetry;
            sends.dues.push((next, Due::DeliveryRetry { delivery: d }));
            return sends;
        }
        self.settle(now, answered_at, d, &mut sends);
        sends
    }

    /// A delivery's back-off ended: it sends its next attempt.
    pub(super) fn retry(&mut self, now: SimTime, d: usize) -> Sends {
        let mut sends = Sends::default();
        if self
            .deliveries
            .get(d)
            .is_some_and(|x| x.phase == Phase::WaitingRetry)
        {
            self.send(now, d, &mut sends);
        }
        sends
    }

    /// The hold of a reordered delivery ended with no next event: release it.
    pub(super) fn release_held(&mut self, now: SimTime, s: usize, hold: u64) -> Sends {
        let mut sends = Sends::default();
        let sub = self.queue_of(s);
        if sub.hold != hold || sub.held.is_empty() {
            return sends;
        }
        let held = std::mem::take(&mut sub.held);
        sub.fifo.extend(held);
        self.pump(now, s, &mut sends);
        sends
    }

    /// The subscription of delivery `d`.
    pub(super) fn subscription_of(&self, d: usize) -> usize {
        self.deliveries[d].subscription
    }

    /// Re-sends a delivered event (the `lateReplay` fault), as a new delivery in its
    /// subscription's FIFO. The caller checks that the subscription is still active.
    pub(super) fn late_replay(&mut self, now: SimTime, d: usize, id_seed: u64) -> Sends {
        let mut sends = Sends::default();
        let (e, s) = (self.deliveries[d].event, self.deliveries[d].subscription);
        let replay = self.new_delivery(now, e, Some(FaultKind::LateReplay), true, None, id_seed);
        self.queue_of(s).fifo.push_back(replay);
        self.pump(now, s, &mut sends);
        sends
    }

    /// The delivery with this id.
    pub(super) fn find(&self, delivery_id: &str) -> Result<usize, EngineError> {
        self.deliveries
            .iter()
            .position(|x| x.id.eq_ignore_ascii_case(delivery_id.trim()))
            .ok_or_else(|| EngineError::UnknownDelivery {
                id: delivery_id.to_owned(),
            })
    }

    /// Re-sends a dead (or delivered) delivery's event at once, as a new delivery with the same
    /// event id and a fresh series of attempts. It does not wait in the subscription's FIFO. The
    /// caller checks that the subscription is still active.
    pub(super) fn redeliver(
        &mut self,
        now: SimTime,
        d: usize,
        id_seed: u64,
    ) -> Result<Sends, EngineError> {
        let original = &self.deliveries[d];
        if !original.phase.is_final() {
            return Err(EngineError::DeliveryNotFinished {
                id: original.id.clone(),
                status: original.phase.status(),
            });
        }
        let (e, id, s) = (original.event, original.id.clone(), original.subscription);
        if let Err(cut) = self.admit(now, s) {
            self.events[e].cut = Some(cut);
            return Err(EngineError::DeliveryVolume {
                subscription: self.events[e].subscription_id.clone(),
                max: self.volume_max,
                window: self.volume_window,
            });
        }
        let new = self.new_delivery(now, e, None, false, Some(id), id_seed);
        let mut sends = Sends::default();
        self.send(now, new, &mut sends);
        Ok(sends)
    }

    /// Cancels every delivery of subscription `s` not yet sent or waiting for a retry (one in
    /// flight finishes, without retries), and drops what `queue` holds for them.
    pub(super) fn cancel_subscription(&mut self, s: usize, queue: &mut Queue) {
        let mut cancelled = Vec::new();
        for (d, delivery) in self.deliveries.iter_mut().enumerate() {
            if delivery.subscription == s
                && matches!(delivery.phase, Phase::Queued | Phase::WaitingRetry)
            {
                delivery.phase = Phase::Cancelled;
                delivery.reason = Some("subscription deleted".to_owned());
                cancelled.push(d);
            }
        }
        let deliveries = &self.deliveries;
        if let Some(sub) = self.queues.get_mut(s) {
            sub.held.clear();
            sub.fifo.retain(|&d| deliveries[d].phase == Phase::InFlight);
        }
        queue.retain(|item| match *item {
            Due::DeliveryRetry { delivery } => !cancelled.contains(&delivery),
            Due::ReleaseHeld { subscription, .. } => subscription != s,
            Due::LateReplay { delivery } => deliveries[delivery].subscription != s,
            _ => true,
        });
    }

    /// Delivery attempts sent and not yet reported.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The attempts sent and not yet reported, in the order they were sent.
    pub(super) fn in_flight_attempts(&self) -> Vec<DeliveryAttempt> {
        self.in_flight
            .values()
            .map(|&d| self.attempt_for(d))
            .collect()
    }

    /// Every event so far, in the order they occurred.
    pub(super) fn events(&self) -> Vec<EventView> {
        self.events.iter().map(Event::view).collect()
    }

    /// The delivery journal, in creation order.
    pub(super) fn views(&self) -> Vec<DeliveryView> {
        self.deliveries
            .iter()
            .map(|d| d.view(&self.events[d.event]))
            .collect()
    }

    pub(super) fn view(&self, id: &str) -> Option<DeliveryView> {
        self.deliveries
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id.trim()))
            .map(|d| d.view(&self.events[d.event]))
    }

    pub(super) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Counts one more delivery to subscription `s` in its volume window, or says why not when
    /// the window is full (an event's first delivery and a re-send count; the extra deliveries
    /// of injected faults do not). A window starts with the first delivery after the previous
    /// window ended.
    fn admit(&mut self, now: SimTime, s: usize) -> Result<(), String> {
        let (max, window) = (self.volume_max, self.volume_window);
        let q = self.queue_of(s);
        if q.window_deliveries == 0 || now >= q.window_start + window {
            q.window_start = now;
            q.window_deliveries = 0;
        }
        if q.window_deliveries >= max {
            return Err(format!(
                "insightsim server limit: the subscription got {max} deliveries within {window} \
                 (limits.deliveries_per_subscription_max = {max}, limits.deliveries_window = {window})"
            ));
        }
        q.window_deliveries += 1;
        Ok(())
    }

    fn queue_of(&mut self, s: usize) -> &mut SubscriptionQueue {
        if self.queues.len() <= s {
            self.queues.resize_with(s + 1, SubscriptionQueue::default);
        }
        &mut self.queues[s]
    }

    fn new_delivery(
        &mut self,
        now: SimTime,
        e: usize,
        fault: Option<FaultKind>,
        ordered: bool,
        redelivery_of: Option<String>,
        id_seed: u64,
    ) -> usize {
        let n = self.delivery_count;
        self.delivery_count += 1;
        self.deliveries.push_back(Delivery {
            id: crate::ids::uuid_n(id_seed, "delivery", n),
            draw_key: crate::ids::uuid_n(self.seed, "delivery", n),
            event: e,
            subscription: self.events[e].subscription,
            phase: Phase::Queued,
            attempts: Vec::new(),
            fault,
            attempt_fault: None,
            redelivery_of,
            reason: None,
            ordered,
            created_at: now,
        });
        self.deliveries.len() - 1
    }

    /// Sends the head of subscription `s`'s FIFO if it has not been sent yet.
    fn pump(&mut self, now: SimTime, s: usize, sends: &mut Sends) {
        if let Some(&head) = self.queues.get(s).and_then(|q| q.fifo.front())
            && self.deliveries[head].phase == Phase::Queued
        {
            self.send(now, head, sends);
        }
    }

    fn send(&mut self, now: SimTime, d: usize, sends: &mut Sends) {
        self.attempt_count += 1;
        let attempt_id = self.attempt_count;
        let delivery = &mut self.deliveries[d];
        let attempt = delivery.attempts.len() as u32 + 1;
        delivery.phase = Phase::InFlight;
        let fault = delivery.attempt_fault.filter(|_| attempt == 1);
        delivery.attempts.push(AttemptRecord {
            attempt,
            attempt_id,
            at: now,
            result: None,
            next_attempt_at: None,
            fault,
        });
        self.in_flight.insert(attempt_id, d);
        sends.attempts.push(self.attempt_for(d));
    }

    /// The HTTP request of delivery `d`'s latest attempt.
    fn attempt_for(&self, d: usize) -> DeliveryAttempt {
        let delivery = &self.deliveries[d];
        delivery.attempt(&self.events[delivery.event], self.policy.attempt_timeout)
    }

    /// A delivery reached its final phase: free its FIFO and schedule a late replay if one was
    /// planned for its event.
    fn settle(&mut self, now: SimTime, answered_at: SimTime, d: usize, sends: &mut Sends) {
        let delivery = &self.deliveries[d];
        let s = delivery.subscription;
        if delivery.phase == Phase::Delivered
            && matches!(delivery.fault, None | Some(FaultKind::Reorder))
            && delivery.redelivery_of.is_none()
            && let Some(after) = self.events[delivery.event].faults.late_replay
        {
            sends
                .dues
                .push((answered_at + after, Due::LateReplay { delivery: d }));
        }
        if delivery.ordered {
            if let Some(sub) = self.queues.get_mut(s) {
                sub.fifo.retain(|&x| x != d);
            }
            self.pump(now, s, sends);
        }
    }
}
