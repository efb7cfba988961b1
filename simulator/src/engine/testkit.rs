//! Shared fixtures for the engine's tests: a small quiet tenant, and a driver that answers
//! deliveries on virtual time.

use std::collections::VecDeque;

use serde_json::Value;

use super::{AttemptResult, DeliveryAttempt, Effect, Engine, Initial, MeasureValue, Subscription};
use crate::tenant::TenantSpec;
use crate::tenant::spec::FailureRates;
use crate::time::{SimDuration, SimTime};

pub(super) const T0: SimTime = SimTime::DEFAULT_EPOCH;

pub(super) fn secs(n: i64) -> SimDuration {
    SimDuration::from_secs(n)
}

/// The demo tenant (10,000 customers) with no schedule and no random failures.
pub(super) fn tenant() -> TenantSpec {
    let mut spec = TenantSpec::demo();
    spec.refresh.schedule_enabled = false;
    spec.refresh.failures = FailureRates {
        transient: 0.0,
        permanent: 0.0,
        timeout: 0.0,
    };
    for ds in &mut spec.data_sources {
        ds.failures = None;
    }
    spec
}

/// Initial measure values for the demo measures.
pub(super) fn initial() -> Initial {
    let spec = tenant();
    Initial {
        measure_values: spec
            .measures
            .iter()
            .map(|m| match m.name.as_str() {
                "TotalRevenue" => MeasureValue::Scalar(1_000_000.0),
                "ActiveCustomers" => MeasureValue::Scalar(800.0),
                "AverageOrderValue" => MeasureValue::Scalar(55.5),
                _ => MeasureValue::ByDimension(vec![
                    ("Germany".to_owned(), 400_000.5),
                    ("France".to_owned(), 300_000.0),
                ]),
            })
            .collect(),
    }
}

pub(super) fn engine() -> Engine {
    Engine::new(&tenant(), 42, T0, initial())
}

/// A subscription body: `inputs` plus a loopback `NotificationUrl`.
pub(super) fn hook(inputs: Value) -> Value {
    let mut body = serde_json::json!({"NotificationUrl": "http://127.0.0.1:9000/hook"});
    if let (Some(b), Some(i)) = (body.as_object_mut(), inputs.as_object()) {
        b.extend(i.clone());
    }
    body
}

/// Subscribes to `trigger` at [`T0`] with `inputs` (see [`hook`]).
pub(super) fn watch(engine: &mut Engine, trigger: &str, inputs: Value) -> Subscription {
    watch_at(engine, T0, trigger, inputs)
}

/// Subscribes to `trigger` at `at` with `inputs` (see [`hook`]).
pub(super) fn watch_at(
    engine: &mut Engine,
    at: SimTime,
    trigger: &str,
    inputs: Value,
) -> Subscription {
    match engine.subscribe(at, trigger, &hook(inputs)) {
        Ok(sub) => sub,
        Err(e) => panic!("subscribing to {trigger}: {e}"),
    }
}

/// Subscribes at [`T0`] to `segment-threshold-crossed` of `segment` at `threshold`.
pub(super) fn watch_segment(engine: &mut Engine, segment: &str, threshold: u64) -> Subscription {
    let inputs = serde_json::json!({"segmentName": segment, "threshold": threshold});
    watch(engine, "segment-threshold-crossed", inputs)
}

/// Evaluates `segment` to 0 and then to 5 members at `at`: one upward crossing of a threshold
/// of 0 to 4.
pub(super) fn cross_from_zero(engine: &mut Engine, at: SimTime, segment: &str) {
    for count in [0, 5] {
        if let Err(e) = engine.evaluate_segment(at, segment, count) {
            panic!("evaluating {segment}: {e}");
        }
    }
}

/// The index of a segment, by name (any case).
pub(super) fn segment_index(engine: &Engine, name: &str) -> usize {
    let segments = engine.segments();
    match segments
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(name))
    {
        Some(i) => i,
        None => panic!("no segment {name}"),
    }
}

/// Runs the engine up to `until`, answering every delivery attempt (those already in flight
/// first) at the moment it is sent with `respond`, and jumping to each due time in between, as
/// the harness's virtual clock does. Returns the attempts in the order they were sent.
pub(super) fn drive(
    engine: &mut Engine,
    until: SimTime,
    respond: &mut dyn FnMut(&DeliveryAttempt) -> AttemptResult,
) -> Vec<DeliveryAttempt> {
    // Effects the test dropped are recovered from the in-flight set instead.
    let _ = engine.take_effects();
    let mut pending: VecDeque<DeliveryAttempt> = engine.in_flight_attempts().into();
    let mut sent = Vec::new();
    let deliveries = |effects: Vec<Effect>| {
        effects.into_iter().filter_map(|e| match e {
            Effect::Deliver(a) => Some(a),
            Effect::SegmentCountChanged { .. } => None,
        })
    };
    loop {
        while let Some(a) = pending.pop_front() {
            let result = respond(&a);
            sent.push(a.clone());
            let now = engine.now();
            pending.extend(deliveries(engine.delivery_result(
                now,
                a.attempt_id,
                result,
            )));
        }
        let next = engine.next_due().filter(|&t| t <= until);
        pending.extend(deliveries(engine.run_until(next.unwrap_or(until))));
        if next.is_none() && pending.is_empty() {
            return sent;
        }
    }
}

/// [`drive`] with every attempt answered 200.
pub(super) fn drive_ok(engine: &mut Engine, until: SimTime) -> Vec<DeliveryAttempt> {
    drive(engine, until, &mut |_| AttemptResult::Status(200))
}
