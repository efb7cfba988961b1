//! Whether the flow holds the subscriptions a case expects.

use serde_json::{Map, Value};
use simulator::Simulator;
use simulator::engine::Subscription;

use crate::outcome::Failure;
use crate::scenario::Scenario;

/// The expected subscriptions the flow does not hold, as a failure.
pub(super) fn missing_subscriptions(sim: &Simulator, scenario: &Scenario) -> Option<Failure> {
    let held: Vec<Subscription> = sim
        .subscriptions()
        .into_iter()
        .filter(|s| s.deleted_at.is_none())
        .collect();
    let missing: Vec<String> = scenario
        .subscriptions
        .iter()
        .filter(|want| {
            !held
                .iter()
                .any(|h| h.trigger.id() == want.trigger && inputs_match(&want.inputs, &h.inputs))
        })
        .map(|want| format!("{} {}", want.trigger, Value::Object(want.inputs.clone())))
        .collect();
    (!missing.is_empty()).then(|| {
        let actual = if held.is_empty() {
            "no subscription".to_owned()
        } else {
            held.iter()
                .map(|h| format!("{} {}", h.trigger.id(), Value::Object(h.inputs.clone())))
                .collect::<Vec<_>>()
                .join("; ")
        };
        Failure::new(
            "subscriptions",
            format!("the flow holds {}", missing.join("; ")),
            format!("it holds {actual}"),
        )
    })
}

/// The flow's subscription requests the API refused (a `4xx` other than `429`), each with the
/// API's answer, as one message: `POST .../subscriptions -> 400: {"error": ...}`.
pub(super) fn refused_subscriptions(sim: &Simulator) -> Option<String> {
    let refused: Vec<String> = sim
        .journal
        .since(0)
        .into_iter()
        .filter(|e| {
            e.connection.as_deref() != Some(super::HARNESS_TOKEN)
                && e.method == "POST"
                && e.target.contains("/subscriptions")
                && (400..500).contains(&e.status)
                && e.status != 429
        })
        .map(|e| {
            let target = e
                .target
                .find("/triggers/")
                .map_or(e.target.as_str(), |i| &e.target[i + 1..]);
            format!(
                "POST {target} -> {}: {}",
                e.status,
                e.error.as_deref().unwrap_or("(no message)")
            )
        })
        .collect();
    (!refused.is_empty()).then(|| {
        format!(
            "the API refused the flow's subscription{}: {}",
            if refused.len() == 1 { "" } else { "s" },
            refused.join("; ")
        )
    })
}

/// Whether held inputs satisfy the wanted ones (names case-insensitively, numbers by value).
fn inputs_match(want: &Map<String, Value>, held: &Map<String, Value>) -> bool {
    want.iter().all(|(k, v)| {
        held.iter().any(|(hk, hv)| {
            hk.eq_ignore_ascii_case(k)
                && match (v, hv) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (a, b) => a == b,
                }
        })
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn inputs_match_numbers_by_value_and_names_ignoring_case() {
        let want = map(json!({"segmentName": "HighValueCustomers", "threshold": 1000}));
        let held = map(json!({"segmentName": "highvaluecustomers", "threshold": 1000.0}));
        assert!(inputs_match(&want, &held));
        let off = map(json!({"segmentName": "HighValueCustomers", "threshold": 1001}));
        assert!(!inputs_match(&want, &off));
    }
}
