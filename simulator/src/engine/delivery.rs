//! Webhook delivery as a pure state machine: per subscription a FIFO of deliveries of which only
//! the head is in flight, the platform's retry policy on virtual time, dead letters and
//! re-sending. The shell performs each [`DeliveryAttempt`] as an HTTP POST and reports back
//! with [`Engine::delivery_result`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::queue::Due;
use super::state::{Effect, Engine};
use super::triggers::Trigger;
use super::walk;
use crate::tenant::spec::DeliverySpec;
use crate::time::{SimDuration, SimTime};

/// A delivery's status in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Not sent yet, or waiting out a back-off.
    Pending,
    InFlight,
    Delivered,
    /// Retries exhausted or a final status: kept as a dead letter, can be re-sent.
    Dead,
    /// The subscription was deleted before it was delivered.
    Cancelled,
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::InFlight => "inFlight",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Cancelled => "cancelled",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Queued,
    InFlight,
    WaitingRetry,
    Delivered,
    Dead,
    Cancelled,
}

impl Phase {
    fn status(self) -> DeliveryStatus {
        match self {
            Phase::Queued | Phase::WaitingRetry => DeliveryStatus::Pending,
            Phase::InFlight => DeliveryStatus::InFlight,
            Phase::Delivered => DeliveryStatus::Delivered,
            Phase::Dead => DeliveryStatus::Dead,
            Phase::Cancelled => DeliveryStatus::Cancelled,
        }
    }

    fn is_final(self) -> bool {
        matches!(self, Phase::Delivered | Phase::Dead | Phase::Cancelled)
    }
}

/// A delivery fault injected on purpose (SPEC 3.9), marked in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// A second delivery of the same event, right after the first.
    Duplicate,
    /// Held back and delivered after the next event of its subscription.
    Reorder,
    /// The event sent again some time after it was delivered.
    LateReplay,
}

/// A fault injected into one delivery *attempt* (the first of an event's delivery): the
/// endpoint's answer is replaced by a failure, so the platform retries. Both shells honour it
/// the same way, through [`crate::delivery::perform`]: the engine only marks the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum AttemptFault {
    /// The connection is refused: the request never reaches the endpoint.
    Refuse,
    /// The endpoint gets the request and handles it, but its answer is lost: the platform sees
    /// this status instead (a `5xx` from a gateway in between).
    AnswerLost { status: u16 },
    /// The endpoint gets the request and handles it, but the platform times out before the
    /// answer arrives.
    TimeoutAfterSend,
}

impl AttemptFault {
    /// Whether the request reaches the endpoint at all.
    pub fn reaches_endpoint(self) -> bool {
        !matches!(self, AttemptFault::Refuse)
    }

    /// What the platform records, whatever the endpoint answered.
    pub fn observed(self) -> AttemptResult {
        match self {
            AttemptFault::Refuse => AttemptResult::ConnectionError("connection refused".to_owned()),
            AttemptFault::AnswerLost { status } => AttemptResult::Status(status),
            AttemptFault::TimeoutAfterSend => AttemptResult::Timeout,
        }
    }

    /// The fault in words, for the journal (`status 500 (injected: the answer was lost)`).
    pub fn describe(self) -> &'static str {
        match self {
            AttemptFault::Refuse => "injected: the connection was refused",
            AttemptFault::AnswerLost { .. } => {
                "injected: the endpoint handled it, its answer was lost"
            }
            AttemptFault::TimeoutAfterSend => {
                "injected: the endpoint handled it, the answer came too late"
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Delivery {
    pub(super) id: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// One HTTP POST for the shell to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    /// Report the result under this id.
    pub attempt_id: u64,
    pub delivery_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub url: String,
    /// The JSON payload.
    pub body: String,
    /// 1-based.
    pub attempt: u32,
    /// `Content-Type`, `X-Insightsim-Event-Id`, `X-Insightsim-Subscription-Id`,
    /// `X-Insightsim-Delivery-Attempt`, `X-Insightsim-Delivery-Id`, `X-Insightsim-Trigger`.
    pub headers: Vec<(String, String)>,
    /// Give up on the request after this long and report [`AttemptResult::Timeout`].
    pub timeout: SimDuration,
    /// A fault to inject into this attempt: the shell performs the attempt through
    /// [`crate::delivery::perform`], which honours it.
    pub fault: Option<AttemptFault>,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Status(u16),
    Timeout,
    ConnectionError(String),
}

impl AttemptResult {
    fn describe(&self) -> String {
        match self {
            AttemptResult::Status(code) => format!("status {code}"),
            AttemptResult::Timeout => "timeout".to_owned(),
            AttemptResult::ConnectionError(e) => format!("connection error: {e}"),
        }
    }

    fn is_success(&self) -> bool {
        matches!(self, AttemptResult::Status(200..=299))
    }

    /// Timeouts, connection errors, 408, 429 and 5xx are retried; other statuses are final.
    fn is_retryable(&self) -> bool {
        match self {
            AttemptResult::Status(code) => matches!(code, 408 | 429 | 500..=599),
            AttemptResult::Timeout | AttemptResult::ConnectionError(_) => true,
        }
    }
}

/// The kind of retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryKind {
    Exponential,
    Fixed,
    None,
}

/// The retry policy (tenant `[delivery]`), with the platform's documented algorithm.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    pub kind: RetryKind,
    /// Retries after the first attempt (0 for `none`).
    pub count: u32,
    pub interval: SimDuration,
    pub interval_min: SimDuration,
    pub interval_max: SimDuration,
    pub attempt_timeout: SimDuration,
}

impl RetryPolicy {
    pub fn from_spec(spec: &DeliverySpec) -> RetryPolicy {
        let kind = match spec.retry_policy.as_str() {
            "fixed" => RetryKind::Fixed,
            "none" => RetryKind::None,
            _ => RetryKind::Exponential,
        };
        RetryPolicy {
            kind,
            count: if kind == RetryKind::None {
                0
            } else {
                spec.retry_count
            },
            interval: spec.retry_interval,
            interval_min: spec.retry_interval_min,
            interval_max: spec.retry_interval_max,
            attempt_timeout: spec.attempt_timeout,
        }
    }

    /// The range the wait before retry `k` (1-based) is drawn from. Exponential (per the
    /// platform doc): retry 1 in `[max(0, min), min(interval, max)]`, retry k in
    /// `[max(2^(k-2)·interval, min), min(2^(k-1)·interval, max)]`; if the cap falls below the
    /// floor, the wait is the cap. Fixed: exactly `interval`.
    pub fn wait_bounds(&self, k: u32) -> (SimDuration, SimDuration) {
        let interval = self.interval.as_millis().max(0);
        let (min, max) = (
            self.interval_min.as_millis().max(0),
            self.interval_max.as_millis().max(0),
        );
        let scaled = |e: u32| {
            if e >= 62 {
                i64::MAX
            } else {
                interval.saturating_mul(1i64 << e)
            }
        };
        let (lo, hi) = match self.kind {
            RetryKind::None => (0, 0),
            RetryKind::Fixed => (interval, interval),
            RetryKind::Exponential if k <= 1 => (min, interval.min(max)),
            RetryKind::Exponential => (scaled(k - 2).max(min), scaled(k - 1).min(max)),
        };
        (SimDuration(lo.min(hi)), SimDuration(hi))
    }
}

impl Engine {
    /// Creates the deliveries of a new event (with any faults planned for it) and sends what
    /// its subscription's FIFO allows.
    ///
    /// Reordering: an event planned for it is held back while nothing else is held; the next
    /// event of the subscription then overtakes it (it is queued first, and is not held itself,
    /// even if it was planned to be), and the held one follows. So `reorder = 1.0` swaps
    /// consecutive pairs (`ev2, ev1, ev4, ev3, …`), and an event held with no next one is
    /// released after `holdMax`.
    pub(super) fn deliver_event(&mut self, now: SimTime, e: usize) {
        let s = self.events[e].subscription;
        let plan = self.events[e].faults;
        let overtakes = !self.subscriptions[s].held.is_empty();
        let hold = plan.reorder.filter(|_| !overtakes);
        let first = self.new_delivery(now, e, hold.map(|_| FaultKind::Reorder), true, None);
        self.deliveries[first].attempt_fault = plan.attempt;
        let mut batch = vec![first];
        if plan.duplicate {
            batch.push(self.new_delivery(now, e, Some(FaultKind::Duplicate), true, None));
        }
        if let Some(hold_max) = hold {
            self.counters.holds += 1;
            let hold = self.counters.holds;
            let sub = &mut self.subscriptions[s];
            sub.held = batch;
            sub.hold = hold;
            self.queue.push(
                now + hold_max,
                Due::ReleaseHeld {
                    subscription: s,
                    hold,
                },
            );
        } else {
            // This event goes first; anything held follows it.
            let sub = &mut self.subscriptions[s];
            sub.fifo.extend(batch);
            let held = std::mem::take(&mut sub.held);
            sub.fifo.extend(held);
        }
        self.pump(now, s);
    }

    pub(super) fn new_delivery(
        &mut self,
        now: SimTime,
        e: usize,
        fault: Option<FaultKind>,
        ordered: bool,
        redelivery_of: Option<String>,
    ) -> usize {
        let n = self.counters.deliveries;
        self.counters.deliveries += 1;
        self.deliveries.push(Delivery {
            id: crate::ids::uuid_n(self.id_seed, "delivery", n),
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
    pub(super) fn pump(&mut self, now: SimTime, s: usize) {
        if let Some(&head) = self.subscriptions[s].fifo.front()
            && self.deliveries[head].phase == Phase::Queued
        {
            self.send(now, head);
        }
    }

    fn send(&mut self, now: SimTime, d: usize) {
        self.counters.attempts += 1;
        let attempt_id = self.counters.attempts;
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
        let attempt = self.attempt_for(d);
        self.outbox.push(Effect::Deliver(attempt));
    }

    /// The HTTP request of delivery `d`'s latest attempt.
    fn attempt_for(&self, d: usize) -> DeliveryAttempt {
        let delivery = &self.deliveries[d];
        let (attempt, attempt_id, fault) = delivery
            .attempts
            .last()
            .map_or((0, 0, None), |a| (a.attempt, a.attempt_id, a.fault));
        let event = &self.events[delivery.event];
        let sub = &self.subscriptions[delivery.subscription].public;
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("X-Insightsim-Event-Id".to_owned(), event.id.clone()),
            ("X-Insightsim-Subscription-Id".to_owned(), sub.id.clone()),
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
            subscription_id: sub.id.clone(),
            url: sub.notification_url.clone(),
            body: event.body.clone(),
            attempt,
            headers,
            timeout: self.policy.attempt_timeout,
            fault,
        }
    }

    /// The attempts sent and not yet reported, in the order they were sent (for a shell that
    /// needs to perform them again, e.g. after dropping the effects that carried them).
    pub fn in_flight_attempts(&self) -> Vec<DeliveryAttempt> {
        self.in_flight
            .values()
            .map(|&d| self.attempt_for(d))
            .collect()
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
        let now = self.catch_up(now);
        if let Some(d) = self.in_flight.remove(&attempt_id) {
            self.record_result(now, d, &result);
        }
        self.take_effects()
    }

    fn record_result(&mut self, now: SimTime, d: usize, result: &AttemptResult) {
        let active = self.subscriptions[self.deliveries[d].subscription].is_active();
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
            let wait = walk::millis_in(
                self.seed,
                &["backoff", &delivery.id, &k.to_string()],
                lo.as_millis(),
                hi.as_millis(),
            );
            let next = now + SimDuration(wait);
            if let Some(last) = delivery.attempts.last_mut() {
                last.next_attempt_at = Some(next);
            }
            delivery.phase = Phase::WaitingRetry;
            self.queue.push(next, Due::DeliveryRetry { delivery: d });
            return;
        }
        self.settle(now, d);
    }

    /// A delivery reached its final phase: free its FIFO and schedule a late replay if one was
    /// planned for its event.
    fn settle(&mut self, now: SimTime, d: usize) {
        let delivery = &self.deliveries[d];
        let s = delivery.subscription;
        if delivery.phase == Phase::Delivered
            && matches!(delivery.fault, None | Some(FaultKind::Reorder))
            && delivery.redelivery_of.is_none()
            && let Some(after) = self.events[delivery.event].faults.late_replay
        {
            self.queue
                .push(now + after, Due::LateReplay { delivery: d });
        }
        if delivery.ordered {
            self.subscriptions[s].fifo.retain(|&x| x != d);
            self.pump(now, s);
        }
    }

    pub(super) fn on_delivery_retry(&mut self, now: SimTime, d: usize) {
        if self
            .deliveries
            .get(d)
            .is_some_and(|x| x.phase == Phase::WaitingRetry)
        {
            self.send(now, d);
        }
    }

    /// Re-sends a dead (or delivered) delivery's event at once, as a new delivery with the same
    /// event id and a fresh series of attempts. It does not wait in the subscription's FIFO.
    pub fn redeliver(
        &mut self,
        now: SimTime,
        delivery_id: &str,
    ) -> Result<Vec<Effect>, EngineError> {
        let now = self.catch_up(now);
        let d = self
            .deliveries
            .iter()
            .position(|x| x.id.eq_ignore_ascii_case(delivery_id.trim()))
            .ok_or_else(|| EngineError::UnknownDelivery {
                id: delivery_id.to_owned(),
            })?;
        let original = &self.deliveries[d];
        let sub = &self.subscriptions[original.subscription];
        if !sub.is_active() {
            return Err(EngineError::SubscriptionDeleted {
                id: sub.public.id.clone(),
            });
        }
        if !original.phase.is_final() {
            return Err(EngineError::DeliveryNotFinished {
                id: original.id.clone(),
                status: original.phase.status(),
            });
        }
        let (e, id) = (original.event, original.id.clone());
        let new = self.new_delivery(now, e, None, false, Some(id));
        self.send(now, new);
        Ok(self.take_effects())
    }

    /// Cancels every delivery of subscription `s` not yet sent or waiting for a retry.
    pub(super) fn cancel_deliveries_of(&mut self, s: usize) {
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
        let sub = &mut self.subscriptions[s];
        sub.held.clear();
        let deliveries = &self.deliveries;
        sub.fifo.retain(|&d| deliveries[d].phase == Phase::InFlight);
        self.queue.retain(|item| match *item {
            Due::DeliveryRetry { delivery } => !cancelled.contains(&delivery),
            Due::ReleaseHeld { subscription, .. } => subscription != s,
            Due::LateReplay { delivery } => deliveries[delivery].subscription != s,
            _ => true,
        });
    }

    /// The delivery journal, in creation order.
    pub fn deliveries(&self) -> Vec<DeliveryView> {
        self.deliveries
            .iter()
            .map(|d| self.delivery_view(d))
            .collect()
    }

    pub fn delivery(&self, id: &str) -> Option<DeliveryView> {
        self.deliveries
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id.trim()))
            .map(|d| self.delivery_view(d))
    }

    fn delivery_view(&self, d: &Delivery) -> DeliveryView {
        let event = &self.events[d.event];
        let sub = &self.subscriptions[d.subscription].public;
        DeliveryView {
            delivery_id: d.id.clone(),
            event_id: event.id.clone(),
            trigger: event.trigger,
            subscription_id: sub.id.clone(),
            url: sub.notification_url.clone(),
            status: d.phase.status(),
            attempts: d.attempts.clone(),
            fault: d.fault,
            redelivery_of: d.redelivery_of.clone(),
            reason: d.reason.clone(),
            created_at: d.created_at,
        }
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::testkit::{self, T0, drive};
    use super::*;

    /// Three events for one subscription to `full-refresh-completed`, answered by `respond`;
    /// checks the final status of each delivery.
    fn check(
        policy: &str,
        respond: impl FnMut(&DeliveryAttempt) -> AttemptResult,
        expected: &[DeliveryStatus],
    ) -> (Engine, Vec<DeliveryAttempt>) {
        let mut spec = testkit::tenant();
        spec.delivery.retry_policy = policy.to_owned();
        let mut engine = Engine::new(&spec, 3, T0, testkit::initial());
        engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": 0})),
            )
            .unwrap();
        for i in 0..expected.len() {
            let at = T0 + SimDuration::from_hours(i as i64);
            engine.evaluate_segment(at, "ChurnRisk", 0).unwrap();
            engine.evaluate_segment(at, "ChurnRisk", 5).unwrap();
        }
        let mut respond = respond;
        let sent = drive(&mut engine, T0 + SimDuration::from_days(2), &mut respond);
        let statuses: Vec<DeliveryStatus> = engine.deliveries().iter().map(|d| d.status).collect();
        assert_eq!(statuses, expected);
        (engine, sent)
    }

    #[test]
    fn a_2xx_delivers_at_the_first_attempt() {
        let (engine, sent) = check(
            "exponential",
            |_| AttemptResult::Status(204),
            &[DeliveryStatus::Delivered],
        );
        assert_eq!(sent.len(), 1);
        assert_eq!(
            engine.deliveries()[0].attempts[0].result.as_deref(),
            Some("status 204")
        );
        let headers = &sent[0].headers;
        assert!(headers.contains(&("X-Insightsim-Delivery-Attempt".into(), "1".into())));
        assert!(headers.contains(&("X-Insightsim-Event-Id".into(), sent[0].event_id.clone())));
    }

    #[test]
    fn a_404_is_final_and_dead_lettered() {
        let (engine, sent) = check(
            "exponential",
            |_| AttemptResult::Status(404),
            &[DeliveryStatus::Dead, DeliveryStatus::Dead],
        );
        assert_eq!(sent.len(), 2);
        assert_eq!(
            engine.deliveries()[0].reason.as_deref(),
            Some("final status 404")
        );
    }

    #[test]
    fn a_429_is_retried_until_it_succeeds() {
        let (_, sent) = check(
            "exponential",
            |a| {
                if a.attempt < 3 {
                    AttemptResult::Status(429)
                } else {
                    AttemptResult::Status(200)
                }
            },
            &[DeliveryStatus::Delivered],
        );
        assert_eq!(
            sent.iter().map(|a| a.attempt).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }

    #[test]
    fn policy_none_dead_letters_after_one_attempt() {
        let (engine, sent) = check("none", |_| AttemptResult::Timeout, &[DeliveryStatus::Dead]);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            engine.deliveries()[0].reason.as_deref(),
            Some("gave up after 1 attempt; last result: timeout")
        );
    }

    #[test]
    fn a_dead_letter_is_redelivered_with_the_same_event_id() {
        let (mut engine, sent) = check(
            "none",
            |_| AttemptResult::Status(500),
            &[DeliveryStatus::Dead],
        );
        let dead = engine.deliveries()[0].clone();
        let effects = engine
            .redeliver(T0 + SimDuration::from_days(3), &dead.delivery_id)
            .unwrap();
        let [Effect::Deliver(again)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert_eq!(again.event_id, sent[0].event_id);
        assert_eq!(again.body, sent[0].body);
        assert_eq!(again.attempt, 1);
        engine.delivery_result(
            T0 + SimDuration::from_days(3),
            again.attempt_id,
            AttemptResult::Status(200),
        );
        let journal = engine.deliveries();
        assert_eq!(journal[1].status, DeliveryStatus::Delivered);
        assert_eq!(
            journal[1].redelivery_of.as_deref(),
            Some(dead.delivery_id.as_str())
        );
        assert_eq!(
            journal[0].status,
            DeliveryStatus::Dead,
            "the dead letter stays in the journal"
        );
    }

    #[test]
    fn redeliver_refuses_unknown_and_unfinished_deliveries() {
        let mut engine = testkit::engine();
        assert_eq!(engine.redeliver(T0, "nope").unwrap_err().status(), 404);
        engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": 0})),
            )
            .unwrap();
        engine.evaluate_segment(T0, "ChurnRisk", 0).unwrap();
        engine.evaluate_segment(T0, "ChurnRisk", 5).unwrap();
        let id = engine.deliveries()[0].delivery_id.clone();
        assert_eq!(engine.redeliver(T0, &id).unwrap_err().status(), 409);
    }

    #[test]
    fn deleting_a_subscription_cancels_its_pending_deliveries() {
        let mut engine = testkit::engine();
        let sub = engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": 0})),
            )
            .unwrap();
        for _ in 0..3 {
            engine.evaluate_segment(T0, "ChurnRisk", 0).unwrap();
            engine.evaluate_segment(T0, "ChurnRisk", 5).unwrap();
        }
        // The first is in flight; the others wait behind it.
        assert!(engine.unsubscribe(T0, &sub.id));
        let statuses: Vec<DeliveryStatus> = engine.deliveries().iter().map(|d| d.status).collect();
        assert_eq!(
            statuses,
            [
                DeliveryStatus::InFlight,
                DeliveryStatus::Cancelled,
                DeliveryStatus::Cancelled
            ]
        );
        assert_eq!(
            engine.deliveries()[1].reason.as_deref(),
            Some("subscription deleted")
        );
        // The attempt in flight fails: it is not retried but cancelled too.
        let sent = drive(&mut engine, T0 + SimDuration::from_days(1), &mut |_| {
            AttemptResult::Status(503)
        });
        assert_eq!(sent.len(), 1);
        assert_eq!(engine.deliveries()[0].status, DeliveryStatus::Cancelled);
        assert_eq!(engine.in_flight(), 0);
        assert_eq!(engine.next_due(), None);
    }

    #[test]
    fn an_attempt_in_flight_when_its_subscription_is_deleted_can_still_deliver() {
        let mut engine = testkit::engine();
        let sub = engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": 0})),
            )
            .unwrap();
        engine.evaluate_segment(T0, "ChurnRisk", 0).unwrap();
        engine.evaluate_segment(T0, "ChurnRisk", 5).unwrap();
        assert!(engine.unsubscribe(T0, &sub.id));
        drive(&mut engine, T0 + SimDuration::from_days(1), &mut |_| {
            AttemptResult::Status(200)
        });
        assert_eq!(engine.deliveries()[0].status, DeliveryStatus::Delivered);
    }

    #[test]
    fn exponential_bounds_match_the_platform_doc() {
        let policy = RetryPolicy::from_spec(&testkit::tenant().delivery);
        let secs = |lo: f64, hi: f64| {
            (
                SimDuration((lo * 1000.0) as i64),
                SimDuration((hi * 1000.0) as i64),
            )
        };
        assert_eq!(policy.wait_bounds(1), secs(5.0, 7.5));
        assert_eq!(policy.wait_bounds(2), secs(7.5, 15.0));
        assert_eq!(policy.wait_bounds(3), secs(15.0, 30.0));
        assert_eq!(policy.wait_bounds(4), secs(30.0, 45.0));
        assert_eq!(policy.wait_bounds(9), secs(45.0, 45.0));
    }

    /// Sends one event to an endpoint that always answers `result`, under `policy`; returns the
    /// attempt times relative to the first and the engine.
    fn always(
        policy: &str,
        interval_ms: i64,
        retries: u32,
        result: AttemptResult,
    ) -> (Vec<i64>, Engine) {
        let mut spec = testkit::tenant();
        spec.delivery.retry_policy = policy.to_owned();
        spec.delivery.retry_interval = SimDuration(interval_ms);
        spec.delivery.retry_count = retries;
        let mut engine = Engine::new(&spec, 11, T0, testkit::initial());
        engine
            .subscribe(T0, "full-refresh-completed", &testkit::hook(json!({})))
            .unwrap();
        engine.refresh(T0, Default::default()).unwrap();
        let mut times = Vec::new();
        let mut now = T0;
        let mut pending = engine.run_until(T0);
        loop {
            for effect in std::mem::take(&mut pending) {
                if let Effect::Deliver(a) = effect {
                    times.push(now);
                    pending.extend(engine.delivery_result(now, a.attempt_id, result.clone()));
                }
            }
            match engine.next_due() {
                Some(t) => {
                    now = t;
                    pending.extend(engine.run_until(t));
                }
                None => break,
            }
        }
        let first = times.first().copied().unwrap_or(T0);
        (
            times.iter().map(|t| (*t - first).as_millis()).collect(),
            engine,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Law: against an endpoint that always fails with a retryable result, an exponential
        /// policy makes exactly 1 + count attempts, each wait within the documented bounds of
        /// its retry number, then dead-letters the delivery.
        #[test]
        fn exponential_retries_follow_the_schedule_on_virtual_time(
            interval_ms in 1_000i64..20_000,
            retries in 0u32..7,
            timeout in any::<bool>(),
        ) {
            let result = if timeout { AttemptResult::Timeout } else { AttemptResult::Status(500) };
            let (times, engine) = always("exponential", interval_ms, retries, result);
            prop_assert_eq!(times.len() as u32, 1 + retries);
            let policy = engine.retry_policy().clone();
            for k in 1..times.len() {
                let wait = times[k] - times[k - 1];
                let (lo, hi) = policy.wait_bounds(k as u32);
                prop_assert!(wait >= lo.as_millis() && wait <= hi.as_millis(), "retry {k}: {wait} not in [{lo}, {hi}]");
            }
            let journal = engine.deliveries();
            prop_assert_eq!(journal[0].status, DeliveryStatus::Dead);
            prop_assert_eq!(journal[0].attempts.len() as u32, 1 + retries);
        }

        /// Law: a fixed policy retries exactly every interval, count times, then dead-letters.
        #[test]
        fn fixed_retries_are_exactly_one_interval_apart(interval_ms in 1i64..100_000, retries in 0u32..6) {
            let (times, engine) = always("fixed", interval_ms, retries, AttemptResult::Status(503));
            let expected: Vec<i64> = (0..=retries as i64).map(|k| k * interval_ms).collect();
            prop_assert_eq!(times, expected);
            prop_assert_eq!(engine.deliveries()[0].status, DeliveryStatus::Dead);
        }

        /// Law: nothing is lost. For any endpoint results per attempt (200, 500, 404, timeout)
        /// and any point at which a subscription is deleted, every delivery ends delivered,
        /// dead or cancelled (cancelled only for the deleted subscription), every event has a
        /// delivery, and without faults each subscription receives its events' first attempts
        /// in the order the events occurred.
        #[test]
        fn every_event_ends_delivered_dead_or_cancelled_in_order(
            results in prop::collection::vec(prop_oneof![Just(200u16), Just(500), Just(404), Just(0)], 1..60),
            counts in prop::collection::vec(0u64..30, 1..10),
            delete_after in prop::option::of(0usize..10),
        ) {
            let mut spec = testkit::tenant();
            spec.delivery.retry_policy = "fixed".into();
            spec.delivery.retry_count = 2;
            let mut engine = Engine::new(&spec, 5, T0, testkit::initial());
            let subs: Vec<String> = [5, 10, 20].iter().map(|t| {
                engine.subscribe(T0, "segment-threshold-crossed", &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": t}))).unwrap().id
            }).collect();
            let mut results = results.into_iter().cycle();
            let mut respond = |_: &DeliveryAttempt| match results.next() {
                Some(0) | None => AttemptResult::Timeout,
                Some(code) => AttemptResult::Status(code),
            };
            let mut sent = Vec::new();
            for (i, c) in counts.iter().enumerate() {
                let at = T0 + SimDuration::from_secs(i as i64 * 7);
                engine.evaluate_segment(at, "ChurnRisk", *c).unwrap();
                if delete_after == Some(i) {
                    engine.unsubscribe(at, &subs[0]);
                }
                sent.extend(drive(&mut engine, at + SimDuration::from_secs(3), &mut respond));
            }
            sent.extend(drive(&mut engine, T0 + SimDuration::from_days(1), &mut respond));
            let journal = engine.deliveries();
            for d in &journal {
                prop_assert!(matches!(d.status, DeliveryStatus::Delivered | DeliveryStatus::Dead | DeliveryStatus::Cancelled), "{d:?}");
                if d.status == DeliveryStatus::Cancelled {
                    prop_assert_eq!(&d.subscription_id, &subs[0]);
                    prop_assert_eq!(d.reason.as_deref(), Some("subscription deleted"));
                }
            }
            let events = engine.events();
            prop_assert_eq!(events.len(), journal.len());
            for sub in &subs {
                let event_order: Vec<&str> = events.iter().filter(|e| &e.subscription_id == sub).map(|e| e.event_id.as_str()).collect();
                let first_attempts: Vec<&str> = sent.iter().filter(|a| &a.subscription_id == sub && a.attempt == 1).map(|a| a.event_id.as_str()).collect();
                prop_assert!(event_order.starts_with(&first_attempts), "{event_order:?} vs {first_attempts:?}");
                if sub != &subs[0] || delete_after.is_none() {
                    prop_assert_eq!(event_order, first_attempts);
                }
            }
        }
    }
}
