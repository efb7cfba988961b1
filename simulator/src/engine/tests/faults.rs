//! Delivery faults through the engine: duplicates, reordering, late replays, and faults of an
//! event's first attempt.

use serde_json::json;

use crate::engine::testkit::{self, T0, drive_ok};
use crate::engine::{AttemptFault, AttemptResult, DeliveryFaults, DeliveryStatus, FaultKind};
use crate::time::SimDuration;

fn faults(rules: serde_json::Value) -> DeliveryFaults {
    serde_json::from_value(json!({ "rules": rules })).unwrap()
}

/// Three crossings of one subscription under `rules`; checks `(event index, fault)` of the
/// first attempts in the order they were sent.
fn check(rules: serde_json::Value, expected: &[(usize, Option<FaultKind>)]) {
    let mut engine = testkit::engine();
    engine.set_delivery_faults(faults(rules)).unwrap();
    testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    for i in 0..3 {
        let at = T0 + SimDuration::from_secs(i * 10);
        testkit::cross_from_zero(&mut engine, at, "ChurnRisk");
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
    // The second overtakes the first (and is not held itself); the third is held and, with no
    // fourth, released after holdMax.
    check(
        json!([{"reorder": 1.0, "holdMax": "1h"}]),
        &[
            (1, None),
            (0, Some(FaultKind::Reorder)),
            (2, Some(FaultKind::Reorder)),
        ],
    );
}

/// One crossing under `rules`, each attempt answered 202 by the endpoint unless a fault says
/// otherwise (as the shells do, through `crate::delivery::perform`); returns what the endpoint
/// saw (`true`: the request reached it) and the journal's results.
fn attempts_under(rules: serde_json::Value) -> (Vec<(u32, bool)>, Vec<String>) {
    let mut engine = testkit::engine();
    engine.set_delivery_faults(faults(rules)).unwrap();
    testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    testkit::cross_from_zero(&mut engine, T0, "ChurnRisk");
    let mut seen = Vec::new();
    testkit::drive(&mut engine, T0 + SimDuration::from_hours(1), &mut |a| {
        let reached = a.fault.is_none_or(AttemptFault::reaches_endpoint);
        seen.push((a.attempt, reached));
        a.fault
            .map_or(AttemptResult::Status(202), AttemptFault::observed)
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

#[test]
fn a_duplicate_is_a_separate_delivery_of_the_same_event() {
    let mut engine = testkit::engine();
    engine
        .set_delivery_faults(faults(json!([{"duplicate": 1.0}])))
        .unwrap();
    testkit::watch(&mut engine, "full-refresh-completed", json!({}));
    engine.refresh(T0, Default::default()).unwrap();
    let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(1));
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].event_id, sent[1].event_id);
    assert_ne!(sent[0].delivery_id, sent[1].delivery_id);
}
