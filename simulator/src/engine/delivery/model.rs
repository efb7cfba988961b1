//! Events, deliveries and attempts as the deliveries owner keeps them, and as the control API
//! and the shell see them.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::effect::DeliveryAttempt;
use crate::engine::faults::{AttemptFault, FaultKind, FaultPlan};
use crate::engine::payload::Payload;
use crate::engine::status::DeliveryStatus;
use crate::engine::trigger::Trigger;
use crate::time::{SimDuration, SimTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Phase {
    Queued,
    InFlight,
    WaitingRetry,
    Delivered,
    Dead,
    Cancelled,
}

impl Phase {
    pub(super) fn status(self) -> DeliveryStatus {
        match self {
            Phase::Queued | Phase::WaitingRetry => DeliveryStatus::Pending,
            Phase::InFlight => DeliveryStatus::InFlight,
            Phase::Delivered => DeliveryStatus::Delivered,
            Phase::Dead => DeliveryStatus::Dead,
            Phase::Cancelled => DeliveryStatus::Cancelled,
        }
    }

    pub(super) fn is_final(self) -> bool {
        matches!(self, Phase::Delivered | Phase::Dead | Phase::Cancelled)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Delivery {
    pub(super) id: String,
    /// What the delivery's seeded draws (retry jitter) are keyed by: its id without an id salt.
    pub(super) draw_key: String,
    pub(super) event: usize,
    pub(super) subscription: usize,
    pub(super) phase: Phase,
    pub(super) attempts: Vec<AttemptRecord>,
    pub(super) fault: Option<FaultKind>,
    /// Injected into its first attempt.
    pub(super) attempt_fault: Option<AttemptFault>,
    pub(super) redelivery_of: Option<String>,
    pub(super) reason: Option<String>,
    /// Whether it takes part in its subscription's FIFO (re-sends do not).
    pub(super) ordered: bool,
    pub(super) created_at: SimTime,
}

/// One attempt in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    /// 1-based within the delivery (the `X-Insightsim-Delivery-Attempt` header).
    pub attempt: u32,
    pub attempt_id: u64,
    pub at: SimTime,
    /// `status 200`, `timeout`, `connection error: ...`; null while in flight.
    pub result: Option<String>,
    pub next_attempt_at: Option<SimTime>,
    /// A fault injected into this attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<AttemptFault>,
}

/// A delivery in the journal (`GET /_sim/deliveries`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub delivery_id: String,
    pub event_id: String,
    pub trigger: Trigger,
    pub subscription_id: String,
    pub url: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptRecord>,
    pub fault: Option<FaultKind>,
    pub redelivery_of: Option<String>,
    /// Why it is dead or cancelled.
    pub reason: Option<String>,
    pub created_at: SimTime,
}

/// One event: an occurrence of a trigger for one subscription.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Event {
    pub(crate) id: String,
    pub(crate) trigger: Trigger,
    pub(crate) subscription: usize,
    /// The subscription's id and notification URL (they never change).
    pub(crate) subscription_id: String,
    pub(crate) url: String,
    pub(crate) occurred_at: SimTime,
    #[serde(with = "crate::engine::payload::saved")]
    pub(crate) payload: Payload,
    /// The payload as sent (the same bytes for every delivery of this event).
    pub(crate) body: String,
    pub(crate) faults: FaultPlan,
    /// Why a delivery of the event was cut (its subscription's delivery volume limit).
    pub(crate) cut: Option<String>,
}

/// An event, for the control API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub event_id: String,
    pub trigger: Trigger,
    pub subscription_id: String,
    pub occurred_at: SimTime,
    pub payload: Payload,
    /// Why a delivery of it (the first, or a re-send) was cut by a server limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_cut: Option<String>,
}

impl Event {
    pub(super) fn view(&self) -> EventView {
        EventView {
            event_id: self.id.clone(),
            trigger: self.trigger,
            subscription_id: self.subscription_id.clone(),
            occurred_at: self.occurred_at,
            payload: self.payload.clone(),
            delivery_cut: self.cut.clone(),
        }
    }
}

/// A subscription's deliveries in event order: only the head is ever in flight.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct SubscriptionQueue {
    pub(super) fifo: VecDeque<usize>,
    /// Deliveries held back by the `reorder` fault until the next event (or the hold ends).
    pub(super) held: Vec<usize>,
    /// Which hold `held` belongs to (so a stale release does nothing).
    pub(super) hold: u64,
    /// The volume window: when it started, and the deliveries in it.
    pub(super) window_start: SimTime,
    pub(super) window_deliveries: u64,
}

impl Delivery {
    /// The HTTP request of this delivery's latest attempt, of `event`.
    pub(super) fn attempt(&self, event: &Event, timeout: SimDuration) -> DeliveryAttempt {
        let delivery = self;
        let (attempt, attempt_id, fault) = delivery
            .attempts
            .last()
            .map_or((0, 0, None), |a| (a.attempt, a.attempt_id, a.fault));
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("X-Insightsim-Event-Id".to_owned(), event.id.clone()),
            (
                "X-Insightsim-Subscription-Id".to_owned(),
                event.subscription_id.clone(),
            ),
            (
                "X-Insightsim-Delivery-Attempt".to_owned(),
                attempt.to_string(),
            ),
            ("X-Insightsim-Delivery-Id".to_owned(), delivery.id.clone()),
            (
                "X-Insightsim-Trigger".to_owned(),
                event.trigger.id().to_owned(),
            ),
        ];
        DeliveryAttempt {
            attempt_id,
            delivery_id: delivery.id.clone(),
            event_id: event.id.clone(),
            subscription_id: event.subscription_id.clone(),
            url: event.url.clone(),
            body: event.body.clone(),
            attempt,
            headers,
            timeout,
            fault,
        }
    }

    /// This delivery of `event` in the journal.
    pub(super) fn view(&self, event: &Event) -> DeliveryView {
        let d = self;
        DeliveryView {
            delivery_id: d.id.clone(),
            event_id: event.id.clone(),
            trigger: event.trigger,
            subscription_id: event.subscription_id.clone(),
            url: event.url.clone(),
            status: d.phase.status(),
            attempts: d.attempts.clone(),
            fault: d.fault,
            redelivery_of: d.redelivery_of.clone(),
            reason: d.reason.clone(),
            created_at: d.created_at,
        }
    }
}
