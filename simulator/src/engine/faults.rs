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

use super::delivery::{AttemptFault, FaultKind};
use super::error::EngineError;
use super::state::Engine;
use super::triggers::Trigger;
use super::walk;
use crate::time::{SimDuration, SimTime};

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

/// The faults decided for one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct FaultPlan {
    pub(super) duplicate: bool,
    /// Held back, for at most this long.
    pub(super) reorder: Option<SimDuration>,
    /// Replayed this long after delivery.
    pub(super) late_replay: Option<SimDuration>,
    /// Injected into the first attempt.
    pub(super) attempt: Option<AttemptFault>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct FaultState {
    pub(super) config: DeliveryFaults,
    /// Events matched so far, per rule.
    pub(super) matched: Vec<u32>,
}

impl Engine {
    /// Replaces the delivery fault configuration (and restarts the `first` counts).
    pub fn set_delivery_faults(&mut self, faults: DeliveryFaults) -> Result<(), EngineError> {
        faults.validate()?;
        self.faults = FaultState {
            matched: vec![0; faults.rules.len()],
            config: faults,
        };
        Ok(())
    }

    pub fn delivery_faults(&self) -> &DeliveryFaults {
        &self.faults.config
    }

    /// Decides the faults of a new event (draws keyed by the event id, so they do not depend on
    /// anything else that happened).
    pub(super) fn plan_faults(&mut self, trigger: Trigger, event_id: &str) -> FaultPlan {
        let Some(r) = self
            .faults
            .config
            .rules
            .iter()
            .enumerate()
            .position(|(i, rule)| {
                DeliveryFaults::matches(rule, trigger)
                    && rule
                        .first
                        .is_none_or(|n| self.faults.matched.get(i).copied().unwrap_or(0) < n)
            })
        else {
            return FaultPlan::default();
        };
        if let Some(m) = self.faults.matched.get_mut(r) {
            *m += 1;
        }
        let rule = &self.faults.config.rules[r];
        let draw =
            |kind: &str, p: f64| p > 0.0 && walk::unit(self.seed, &["fault", event_id, kind]) < p;
        // One attempt fault at most: the first drawn, in this order.
        let attempt = if draw("refuse", rule.refuse) {
            Some(AttemptFault::Refuse)
        } else if draw("answerLost", rule.answer_lost) {
            Some(AttemptFault::AnswerLost {
                status: rule.answer_lost_status,
            })
        } else if draw("timeoutAfterSend", rule.timeout_after_send) {
            Some(AttemptFault::TimeoutAfterSend)
        } else {
            None
        };
        FaultPlan {
            duplicate: draw("duplicate", rule.duplicate),
            reorder: draw("reorder", rule.reorder).then_some(rule.hold_max),
            late_replay: draw("lateReplay", rule.late_replay).then_some(rule.late_after),
            attempt,
        }
    }

    /// The hold of a reordered delivery ended with no next event: release it.
    pub(super) fn on_release_held(&mut self, now: SimTime, s: usize, hold: u64) {
        let sub = &mut self.subscriptions[s];
        if sub.hold != hold || sub.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut sub.held);
        sub.fifo.extend(held);
        self.pump(now, s);
    }

    /// Re-sends a delivered event, as a new delivery in its subscription's FIFO.
    pub(super) fn on_late_replay(&mut self, now: SimTime, d: usize) {
        let (e, s) = (self.deliveries[d].event, self.deliveries[d].subscription);
        if !self.subscriptions[s].is_active() {
            return;
        }
        let replay = self.new_delivery(now, e, Some(FaultKind::LateReplay), true, None);
        self.subscriptions[s].fifo.push_back(replay);
        self.pump(now, s);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::delivery::DeliveryStatus;
    use super::super::testkit::{self, T0, drive_ok};
    use super::*;

    fn faults(rules: serde_json::Value) -> DeliveryFaults {
        serde_json::from_value(json!({ "rules": rules })).unwrap()
    }

    /// Three crossings of one subscription under `rules`; checks `(event index, fault)` of the
    /// first attempts in the order they were sent.
    fn check(rules: serde_json::Value, expected: &[(usize, Option<FaultKind>)]) {
        let mut engine = testkit::engine();
        engine.set_delivery_faults(faults(rules)).unwrap();
        engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": 0})),
            )
            .unwrap();
        for i in 0..3 {
            let at = T0 + SimDuration::from_secs(i * 10);
            engine.evaluate_segment(at, "ChurnRisk", 0).unwrap();
            engine.evaluate_segment(at, "ChurnRisk", 5).unwrap();
        }
        // Nothing is answered until all three events exist, so the FIFO order shows.
        let sent = drive_ok(&mut engine, T0 + SimDuration::from_days(1));
        let events: Vec<String> = engine.events().iter().map(|e| e.event_id.clone()).collect();
        let journal = engine.deliveries();
        let got: Vec<(usize, Option<FaultKind>)> = sent
            .iter()
            .map(|a| {
                let d = journal
                    .iter()
                    .find(|d| d.delivery_id == a.delivery_id)
                    .unwrap();
                (
                    events.iter().position(|e| *e == a.event_id).unwrap(),
                    d.fault,
                )
            })
            .collect();
        assert_eq!(got, expected);
        assert!(
            journal
                .iter()
                .all(|d| d.status == DeliveryStatus::Delivered)
        );
    }

    #[test]
    fn no_faults_deliver_each_event_once_in_order() {
        check(json!([]), &[(0, None), (1, None), (2, None)]);
    }

    #[test]
    fn duplicate_sends_the_same_event_twice_in_a_row() {
        check(
            json!([{"duplicate": 1.0, "first": 1}]),
            &[
                (0, None),
                (0, Some(FaultKind::Duplicate)),
                (1, None),
                (2, None),
            ],
        );
    }

    #[test]
    fn reorder_delivers_an_event_after_the_next_one() {
        check(
            json!([{"trigger": "segment-threshold-crossed", "reorder": 1.0, "first": 1}]),
            &[(1, None), (0, Some(FaultKind::Reorder)), (2, None)],
        );
    }

    #[test]
    fn reordering_every_event_swaps_consecutive_pairs() {
        // The second overtakes the first (and is not held itself); the third is held and,
        // with no fourth, released after holdMax.
        check(
            json!([{"reorder": 1.0, "holdMax": "1h"}]),
            &[
                (1, None),
                (0, Some(FaultKind::Reorder)),
                (2, Some(FaultKind::Reorder)),
            ],
        );
    }

    #[test]
    fn a_held_event_is_released_when_no_next_event_comes() {
        check(
            json!([{"reorder": 1.0, "holdMax": "5s"}]),
            &[
                (0, Some(FaultKind::Reorder)),
                (1, Some(FaultKind::Reorder)),
                (2, Some(FaultKind::Reorder)),
            ],
        );
    }

    #[test]
    fn late_replay_resends_a_delivered_event_later() {
        check(
            json!([{"lateReplay": 1.0, "lateAfter": "1h", "first": 1}]),
            &[
                (0, None),
                (1, None),
                (2, None),
                (0, Some(FaultKind::LateReplay)),
            ],
        );
    }

    #[test]
    fn rules_for_other_triggers_do_not_apply() {
        check(
            json!([{"trigger": "full-refresh-completed", "duplicate": 1.0}]),
            &[(0, None), (1, None), (2, None)],
        );
    }

    #[test]
    fn invalid_configurations_are_refused() {
        let mut engine = testkit::engine();
        let err = engine
            .set_delivery_faults(faults(json!([{"duplicate": 2.0}])))
            .unwrap_err();
        assert!(err.to_string().contains("rules[0].duplicate"), "{err}");
        let err = engine
            .set_delivery_faults(faults(json!([{"trigger": "nope"}])))
            .unwrap_err();
        assert!(err.to_string().contains("full-refresh-completed"), "{err}");
        assert!(serde_json::from_value::<DeliveryFaults>(json!({"rules": [{"dupe": 1}]})).is_err());
    }

    /// One crossing under `rules`, each attempt answered 202 by the endpoint unless a fault
    /// says otherwise (as the shells do, through `crate::delivery::perform`); returns what the
    /// endpoint saw (`true`: the request reached it) and the journal's results.
    fn attempts_under(rules: serde_json::Value) -> (Vec<(u32, bool)>, Vec<String>) {
        let mut engine = testkit::engine();
        engine.set_delivery_faults(faults(rules)).unwrap();
        engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": 0})),
            )
            .unwrap();
        engine.evaluate_segment(T0, "ChurnRisk", 0).unwrap();
        engine.evaluate_segment(T0, "ChurnRisk", 5).unwrap();
        let mut seen = Vec::new();
        testkit::drive(&mut engine, T0 + SimDuration::from_hours(1), &mut |a| {
            let reached = a.fault.is_none_or(AttemptFault::reaches_endpoint);
            seen.push((a.attempt, reached));
            a.fault
                .map_or(super::super::delivery::AttemptResult::Status(202), |f| {
                    f.observed()
                })
        });
        let journal = engine.deliveries();
        assert_eq!(journal.len(), 1);
        assert_eq!(journal[0].status, DeliveryStatus::Delivered);
        let results = journal[0]
            .attempts
            .iter()
            .map(|a| a.result.clone().unwrap_or_default())
            .collect();
        (seen, results)
    }

    #[test]
    fn a_lost_answer_is_retried_after_the_flow_handled_the_first_attempt() {
        let (seen, results) = attempts_under(json!([{"answerLost": 1.0, "answerLostStatus": 502}]));
        assert_eq!(seen, [(1, true), (2, true)]);
        assert_eq!(
            results,
            [
                "status 502 (injected: the endpoint handled it, its answer was lost)",
                "status 202"
            ]
        );
    }

    #[test]
    fn a_timeout_after_sending_is_retried_after_the_flow_handled_the_first_attempt() {
        let (seen, results) = attempts_under(json!([{"timeoutAfterSend": 1.0}]));
        assert_eq!(seen, [(1, true), (2, true)]);
        assert_eq!(
            results[0],
            "timeout (injected: the endpoint handled it, the answer came too late)"
        );
    }

    #[test]
    fn a_refused_first_attempt_never_reaches_the_flow_and_is_retried() {
        let (seen, results) = attempts_under(json!([{"refuse": 1.0}]));
        assert_eq!(seen, [(1, false), (2, true)]);
        assert_eq!(
            results[0],
            "connection error: connection refused (injected: the connection was refused)"
        );
    }

    #[test]
    fn an_answer_lost_status_must_be_an_http_status() {
        let mut engine = testkit::engine();
        let err = engine
            .set_delivery_faults(faults(json!([{"answerLost": 1.0, "answerLostStatus": 42}])))
            .unwrap_err();
        assert!(
            err.to_string().contains("rules[0].answerLostStatus"),
            "{err}"
        );
        let err = engine
            .set_delivery_faults(faults(json!([{"refuse": 1.5}])))
            .unwrap_err();
        assert!(err.to_string().contains("rules[0].refuse"), "{err}");
    }

    #[test]
    fn a_duplicate_is_a_separate_delivery_of_the_same_event() {
        let mut engine = testkit::engine();
        engine
            .set_delivery_faults(faults(json!([{"duplicate": 1.0}])))
            .unwrap();
        engine
            .subscribe(T0, "full-refresh-completed", &testkit::hook(json!({})))
            .unwrap();
        engine.refresh(T0, Default::default()).unwrap();
        let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(1));
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].event_id, sent[1].event_id);
        assert_ne!(sent[0].delivery_id, sent[1].delivery_id);
    }
}
