//! Delivery faults (SPEC 3.9): duplicates, reordering and late replays, seeded, so a harness
//! can check that a flow is idempotent and order-tolerant; and failures of an event's first
//! attempt (a refused connection, an answer lost after the flow handled the event, a timeout
//! after sending), so that it can check that a flow handles the platform's retries.
//!
//! The configuration arrives as JSON on `PUT /_sim/faults` under a `deliveries` key, or from a
//! scenario file:
//!
//! ```json
//! {"rules": [
//!   {"trigger": "segment-threshold-crossed", "duplicate": 1.0, "first": 2},
//!   {"reorder": 0.2, "lateReplay": 0.1, "lateAfter": "10m"},
//!   {"trigger": "unification-completed", "answerLost": 1.0, "answerLostStatus": 502}
//! ]}
//! ```
//!
//! Each new event is matched against the rules in order; the first rule whose `trigger` matches
//! (absent or `"*"` matches every trigger) and that is not spent (`first`: it applies to the
//! first N events it matches) decides, drawing each fault independently with its probability.

use serde::{Deserialize, Serialize};

use super::draw;
use super::error::EngineError;
use super::retry::AttemptResult;
use super::trigger::Trigger;
use crate::time::SimDuration;

/// The delivery fault configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct DeliveryFaults {
    pub rules: Vec<DeliveryFaultRule>,
}

/// One rule: which events it applies to and the probability of each fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct DeliveryFaultRule {
    /// A trigger id; absent or `"*"` for every trigger.
    pub trigger: Option<String>,
    /// Probability that the event is delivered twice (the copy right after the original).
    pub duplicate: f64,
    /// Probability that the event is held back and delivered after the next event of its
    /// subscription (or after `holdMax`, if no next event comes). The next event overtakes it
    /// and is not held itself, so `1.0` swaps consecutive pairs of events.
    pub reorder: f64,
    /// Probability that the event is sent again `lateAfter` after it was delivered.
    pub late_replay: f64,
    pub late_after: SimDuration,
    pub hold_max: SimDuration,
    /// Probability that the first attempt's connection is refused (the flow never sees it).
    pub refuse: f64,
    /// Probability that the flow gets and handles the first attempt but its answer is lost:
    /// the platform sees `answerLostStatus` instead, and retries.
    pub answer_lost: f64,
    /// The status the platform sees for a lost answer (default 500).
    pub answer_lost_status: u16,
    /// Probability that the flow gets and handles the first attempt but the platform times out
    /// before the answer arrives, and retries.
    pub timeout_after_send: f64,
    /// Apply to the first N matching events only (counted from when the faults were set).
    pub first: Option<u32>,
}

impl Default for DeliveryFaultRule {
    fn default() -> Self {
        DeliveryFaultRule {
            trigger: None,
            duplicate: 0.0,
            reorder: 0.0,
            late_replay: 0.0,
            late_after: SimDuration::from_mins(5),
            hold_max: SimDuration::from_mins(1),
            refuse: 0.0,
            answer_lost: 0.0,
            answer_lost_status: 500,
            timeout_after_send: 0.0,
            first: None,
        }
    }
}

impl DeliveryFaults {
    /// Checks trigger ids and probabilities.
    pub fn validate(&self) -> Result<(), EngineError> {
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(t) = &rule.trigger
                && t != "*"
                && Trigger::parse(t).is_none()
            {
                return Err(EngineError::invalid(
                    format!("rules[{i}].trigger"),
                    format!(
                        "unknown trigger \"{t}\"; use \"*\" or one of {}",
                        Trigger::ids()
                    ),
                ));
            }
            for (name, p) in [
                ("duplicate", rule.duplicate),
                ("reorder", rule.reorder),
                ("lateReplay", rule.late_replay),
                ("refuse", rule.refuse),
                ("answerLost", rule.answer_lost),
                ("timeoutAfterSend", rule.timeout_after_send),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(EngineError::invalid(
                        format!("rules[{i}].{name}"),
                        format!("{p} is not a probability; use a number from 0 to 1"),
                    ));
                }
            }
            if !(100..=599).contains(&rule.answer_lost_status) {
                return Err(EngineError::invalid(
                    format!("rules[{i}].answerLostStatus"),
                    format!(
                        "{} is not an HTTP status; use 500 to 599 (retried) or another status from 100 to 599",
                        rule.answer_lost_status
                    ),
                ));
            }
            if rule.late_after < SimDuration::ZERO || rule.hold_max < SimDuration::ZERO {
                return Err(EngineError::invalid(
                    format!("rules[{i}]"),
                    "durations must not be negative",
                ));
            }
        }
        Ok(())
    }

    fn matches(rule: &DeliveryFaultRule, trigger: Trigger) -> bool {
        rule.trigger
            .as_deref()
            .is_none_or(|t| t == "*" || t == trigger.id())
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

/// The faults decided for one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FaultPlan {
    pub(super) duplicate: bool,
    /// Held back, for at most this long.
    pub(super) reorder: Option<SimDuration>,
    /// Replayed this long after delivery.
    pub(super) late_replay: Option<SimDuration>,
    /// Injected into the first attempt.
    pub(super) attempt: Option<AttemptFault>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct FaultState {
    pub(super) config: DeliveryFaults,
    /// Events matched so far, per rule.
    pub(super) matched: Vec<u32>,
}

impl FaultState {
    /// A fresh, checked configuration (the `first` counts start again).
    pub(super) fn new(config: DeliveryFaults) -> Result<FaultState, EngineError> {
        config.validate()?;
        Ok(FaultState {
            matched: vec![0; config.rules.len()],
            config,
        })
    }

    /// Decides the faults of a new event (draws keyed by the event id, so they do not depend on
    /// anything else that happened).
    pub(super) fn plan(&mut self, seed: u64, trigger: Trigger, event_id: &str) -> FaultPlan {
        let Some(r) = self.config.rules.iter().enumerate().position(|(i, rule)| {
            DeliveryFaults::matches(rule, trigger)
                && rule
                    .first
                    .is_none_or(|n| self.matched.get(i).copied().unwrap_or(0) < n)
        }) else {
            return FaultPlan::default();
        };
        if let Some(m) = self.matched.get_mut(r) {
            *m += 1;
        }
        let rule = &self.config.rules[r];
        let hit = |kind: &str, p: f64| p > 0.0 && draw::unit(seed, &["fault", event_id, kind]) < p;
        // One attempt fault at most: the first drawn, in this order.
        let attempt = if hit("refuse", rule.refuse) {
            Some(AttemptFault::Refuse)
        } else if hit("answerLost", rule.answer_lost) {
            Some(AttemptFault::AnswerLost {
                status: rule.answer_lost_status,
            })
        } else if hit("timeoutAfterSend", rule.timeout_after_send) {
            Some(AttemptFault::TimeoutAfterSend)
        } else {
            None
        };
        FaultPlan {
            attempt,
            duplicate: hit("duplicate", rule.duplicate),
            reorder: hit("reorder", rule.reorder).then_some(rule.hold_max),
            late_replay: hit("lateReplay", rule.late_replay).then_some(rule.late_after),
        }
    }
}
