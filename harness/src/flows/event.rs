//! Reading a delivery, and remembering which ones were handled.

use std::collections::HashSet;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads a delivery as the payload of `trigger`; `None` (answer `400`) when it is another
/// trigger's event or lacks a field the flow needs.
pub(crate) fn parse_event<T: DeserializeOwned>(event: Value, trigger: &str) -> Option<T> {
    if event.get("eventType").and_then(Value::as_str) != Some(trigger) {
        return None;
    }
    serde_json::from_value(event).ok()
}

/// The event ids a flow has handled. The connector delivers at least once (retries, duplicates,
/// late replays and operator redeliveries all carry the same `eventId`), so a flow with a visible
/// effect must act once per id.
#[derive(Debug, Default)]
pub(crate) struct SeenEvents(Mutex<HashSet<String>>);

impl SeenEvents {
    /// Records `event_id`; true the first time it is seen. Recording before acting (not after)
    /// keeps a duplicate that arrives while the first delivery is still being handled out.
    pub(crate) fn first_time(&self, event_id: &str) -> bool {
        self.0.lock().insert(event_id.to_owned())
    }

    /// Forgets `event_id`, so that a redelivery is handled again (when acting failed).
    pub(crate) fn forget(&self, event_id: &str) {
        self.0.lock().remove(event_id);
    }
}

/// Which handled events a flow remembers: every event id (correct), or none (the mistake of a
/// flow that is not idempotent).
#[derive(Debug)]
pub(crate) struct Memory(Option<SeenEvents>);

impl Memory {
    /// Remembers every event id handled.
    pub(crate) fn event_ids() -> Memory {
        Memory(Some(SeenEvents::default()))
    }

    /// Remembers nothing: every delivery is handled as new.
    pub(crate) fn nothing() -> Memory {
        Memory(None)
    }

    /// Records `event_id`; true the first time it is seen (always, for a flow without memory).
    pub(crate) fn first_time(&self, event_id: &str) -> bool {
        self.0.as_ref().is_none_or(|seen| seen.first_time(event_id))
    }

    /// Forgets `event_id`, so that a redelivery is handled again (when acting failed).
    pub(crate) fn forget(&self, event_id: &str) {
        if let Some(seen) = &self.0 {
            seen.forget(event_id);
        }
    }
}

/// Whether a status is a success (`2xx`).
pub(crate) fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Minimal {
        event_id: String,
    }

    fn check(event: Value, expected: Option<&str>) {
        let parsed: Option<Minimal> = parse_event(event, "full-refresh-completed");
        assert_eq!(parsed.map(|m| m.event_id).as_deref(), expected);
    }

    #[test]
    fn reads_an_event_of_the_expected_trigger() {
        check(
            json!({"eventId": "e1", "eventType": "full-refresh-completed"}),
            Some("e1"),
        );
    }

    #[test]
    fn refuses_another_trigger_a_missing_field_and_a_non_object() {
        check(
            json!({"eventId": "e1", "eventType": "unification-completed"}),
            None,
        );
        check(json!({"eventType": "full-refresh-completed"}), None);
        check(json!("full-refresh-completed"), None);
    }

    #[test]
    fn an_event_id_is_new_once_until_forgotten() {
        let seen = SeenEvents::default();
        assert!(seen.first_time("e1"));
        assert!(!seen.first_time("e1"));
        assert!(seen.first_time("e2"));
        seen.forget("e1");
        assert!(seen.first_time("e1"));
    }

    #[test]
    fn a_memory_of_nothing_takes_every_delivery_as_new() {
        let memory = Memory::nothing();
        assert!(memory.first_time("e1"));
        assert!(memory.first_time("e1"));
        let memory = Memory::event_ids();
        assert!(memory.first_time("e1"));
        assert!(!memory.first_time("e1"));
        memory.forget("e1");
        assert!(memory.first_time("e1"));
    }
}
