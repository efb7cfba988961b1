//! Delivery through the engine: results, retries on virtual time, dead letters, re-sending,
//! deleted subscriptions, and the laws of the retry schedule and of nothing lost.

use proptest::prelude::*;
use serde_json::json;

use crate::engine::testkit::{self, T0, drive};
use crate::engine::{AttemptResult, DeliveryAttempt, DeliveryStatus, Effect, Engine, EngineError};
use crate::time::SimDuration;

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
    testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    for i in 0..expected.len() {
        let at = T0 + SimDuration::from_hours(i as i64);
        testkit::cross_from_zero(&mut engine, at, "ChurnRisk");
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
    assert!(matches!(
        engine.redeliver(T0, "nope"),
        Err(EngineError::UnknownDelivery { .. })
    ));
    testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    testkit::cross_from_zero(&mut engine, T0, "ChurnRisk");
    let id = engine.deliveries()[0].delivery_id.clone();
    assert!(matches!(
        engine.redeliver(T0, &id),
        Err(EngineError::DeliveryNotFinished { .. })
    ));
}

#[test]
fn deleting_a_subscription_cancels_its_pending_deliveries() {
    let mut engine = testkit::engine();
    let sub = testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    for _ in 0..3 {
        testkit::cross_from_zero(&mut engine, T0, "ChurnRisk");
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
    let sub = testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    testkit::cross_from_zero(&mut engine, T0, "ChurnRisk");
    assert!(engine.unsubscribe(T0, &sub.id));
    drive(&mut engine, T0 + SimDuration::from_days(1), &mut |_| {
        AttemptResult::Status(200)
    });
    assert_eq!(engine.deliveries()[0].status, DeliveryStatus::Delivered);
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
    testkit::watch(&mut engine, "full-refresh-completed", json!({}));
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

/// An answer reported after the instant it counts from (the harness's clock followed the wall
/// clock while a flow outside it answered) schedules its retry from that instant, not from
/// when it was reported; the plain report counts from now.
#[test]
fn a_retry_counts_from_the_instant_the_answer_is_reported_at() {
    let next_attempt = |answered_at: Option<SimDuration>| {
        let mut spec = testkit::tenant();
        spec.delivery.retry_policy = "fixed".to_owned();
        spec.delivery.retry_interval = SimDuration(5_000);
        spec.delivery.retry_count = 1;
        let mut engine = Engine::new(&spec, 11, T0, testkit::initial());
        testkit::watch(&mut engine, "full-refresh-completed", json!({}));
        engine.refresh(T0, Default::default()).unwrap();
        let mut first = T0;
        let mut effects = engine.run_until(T0);
        let attempt = loop {
            if let Some(a) = effects.drain(..).find_map(|e| match e {
                Effect::Deliver(a) => Some(a),
                Effect::SegmentCountChanged { .. } => None,
            }) {
                break a;
            }
            first = engine.next_due().unwrap();
            effects = engine.run_until(first);
        };
        let reported = first + SimDuration(1_500);
        let result = AttemptResult::Status(503);
        match answered_at {
            Some(offset) => {
                engine.delivery_result_at(reported, first + offset, attempt.attempt_id, result)
            }
            None => engine.delivery_result(reported, attempt.attempt_id, result),
        };
        engine.next_due().unwrap() - first
    };
    assert_eq!(next_attempt(Some(SimDuration::ZERO)), SimDuration(5_000));
    assert_eq!(next_attempt(Some(SimDuration(1_000))), SimDuration(6_000));
    assert_eq!(next_attempt(None), SimDuration(6_500));
    // An instant after the report counts as the report's.
    assert_eq!(next_attempt(Some(SimDuration(9_000))), SimDuration(6_500));
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
            testkit::watch_segment(&mut engine, "ChurnRisk", *t).id
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
