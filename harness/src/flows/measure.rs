//! `teams-on-measure-threshold`: post to a Teams channel when a business measure rises above a
//! threshold, with the measure's name, its new value and the threshold, once per event.

use serde::Deserialize;
use serde_json::{Number, Value, json};

use super::event::{Memory, is_success, parse_event};
use crate::flow::{BoxFuture, Flow, FlowContext};
use crate::scenario::SinkKind;

pub(crate) const TRIGGER: &str = "measure-threshold-crossed";

/// The fields of a `measure-threshold-crossed` delivery this flow uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeasureCrossed {
    event_id: String,
    measure_name: String,
    #[serde(default)]
    display_name: Option<String>,
    threshold: Number,
    #[serde(default)]
    previous_value: Option<Number>,
    value: Number,
}

/// The Teams message for a crossing. Numbers are written exactly as the event carries them (a
/// revenue of `1000000.5` stays `1000000.5`): a reader compares them with the threshold.
fn message(event: &MeasureCrossed) -> Value {
    let name = &event.measure_name;
    let label = event.display_name.as_deref().unwrap_or(name);
    let (value, threshold) = (&event.value, &event.threshold);
    let previously = event
        .previous_value
        .as_ref()
        .map_or(String::new(), |p| format!(" (previously {p})"));
    json!({
        "title": format!("{label} crossed {threshold}"),
        "text": format!(
            "{label} ({name}) rose to {value}, above the threshold of {threshold}{previously}."
        ),
        "measureName": name,
        "value": value,
        "threshold": threshold,
        "eventId": event.event_id,
    })
}

/// Posts `{"title", "text", "measureName", "value", "threshold", "eventId"}` to the `Teams` sink,
/// once per event.
#[derive(Debug)]
pub struct TeamsOnMeasureThreshold {
    memory: Memory,
}

impl TeamsOnMeasureThreshold {
    pub fn new() -> TeamsOnMeasureThreshold {
        TeamsOnMeasureThreshold {
            memory: Memory::event_ids(),
        }
    }

    /// The mistake of a broken variant: no memory of handled events.
    pub(crate) fn not_idempotent() -> TeamsOnMeasureThreshold {
        TeamsOnMeasureThreshold {
            memory: Memory::nothing(),
        }
    }
}

impl Default for TeamsOnMeasureThreshold {
    fn default() -> Self {
        TeamsOnMeasureThreshold::new()
    }
}

impl Flow for TeamsOnMeasureThreshold {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let Some(event) = parse_event::<MeasureCrossed>(event, TRIGGER) else {
                return 400;
            };
            if !self.memory.first_time(&event.event_id) {
                return 202; // Already posted: acknowledge the redelivery, do nothing.
            }
            if is_success(ctx.io.sink(SinkKind::Teams, message(&event)).await) {
                202
            } else {
                // Teams is down: let the connector redeliver, and post then.
                self.memory.forget(&event.event_id);
                502
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{Call, FakeIo, HOOK, subscription};

    fn crossed(event_id: &str, value: Value) -> Value {
        json!({
            "eventId": event_id,
            "eventType": "measure-threshold-crossed",
            "subscriptionId": "s1",
            "instanceId": "i1",
            "occurredAt": "2026-01-02T00:00:00Z",
            "measureName": "TotalRevenue",
            "displayName": "Total revenue",
            "threshold": 1000000,
            "previousValue": 900000,
            "value": value,
            "evaluationTime": "2026-01-02T00:00:00Z",
            "jobId": "j1",
        })
    }

    /// Delivers `events` in order; checks the answers and the Teams messages' `text`s.
    async fn check(flow: &dyn Flow, events: Vec<Value>, statuses: &[u16], texts: &[&str]) {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let mut answered = Vec::new();
        for event in events {
            answered.push(flow.on_event(&ctx, event).await);
        }
        assert_eq!(answered, statuses);
        let posted = io.sink_calls(SinkKind::Teams);
        let posted_texts: Vec<&str> = posted.iter().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(posted_texts, texts);
        assert!(io.api_calls().is_empty(), "it calls no API");
    }

    #[tokio::test]
    async fn posts_the_measure_its_value_and_the_threshold_exactly() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let status = TeamsOnMeasureThreshold::new()
            .on_event(&ctx, crossed("e1", json!(1000000.5)))
            .await;
        assert_eq!(status, 202);
        assert_eq!(
            io.sink_calls(SinkKind::Teams),
            vec![json!({
                "title": "Total revenue crossed 1000000",
                "text": "Total revenue (TotalRevenue) rose to 1000000.5, above the threshold of 1000000 (previously 900000).",
                "measureName": "TotalRevenue",
                "value": 1000000.5,
                "threshold": 1000000,
                "eventId": "e1",
            })]
        );
    }

    #[tokio::test]
    async fn names_the_measure_when_the_event_has_no_display_name() {
        let mut event = crossed("e1", json!(1100000));
        event.as_object_mut().map(|o| o.remove("displayName"));
        event.as_object_mut().map(|o| o.remove("previousValue"));
        check(
            &TeamsOnMeasureThreshold::new(),
            vec![event],
            &[202],
            &["TotalRevenue (TotalRevenue) rose to 1100000, above the threshold of 1000000."],
        )
        .await;
    }

    #[tokio::test]
    async fn posts_once_per_event_id() {
        let text = |v: &str| {
            format!(
                "Total revenue (TotalRevenue) rose to {v}, above the threshold of 1000000 (previously 900000)."
            )
        };
        check(
            &TeamsOnMeasureThreshold::new(),
            vec![
                crossed("e1", json!(1100000)),
                crossed("e1", json!(1100000)),
                crossed("e2", json!(1200000)),
            ],
            &[202, 202, 202],
            &[&text("1100000"), &text("1200000")],
        )
        .await;
    }

    #[tokio::test]
    async fn the_forgetful_variant_posts_a_redelivery_again() {
        check(
            &TeamsOnMeasureThreshold::not_idempotent(),
            vec![crossed("e1", json!(1100000)), crossed("e1", json!(1100000))],
            &[202, 202],
            &[
                "Total revenue (TotalRevenue) rose to 1100000, above the threshold of 1000000 (previously 900000).",
                "Total revenue (TotalRevenue) rose to 1100000, above the threshold of 1000000 (previously 900000).",
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn answers_400_to_another_trigger_or_a_payload_without_a_value() {
        let mut other = crossed("e1", json!(1100000));
        other["eventType"] = json!("segment-threshold-crossed");
        let mut partial = crossed("e2", json!(1100000));
        partial.as_object_mut().map(|o| o.remove("value"));
        check(
            &TeamsOnMeasureThreshold::new(),
            vec![other, partial, json!(null)],
            &[400, 400, 400],
            &[],
        )
        .await;
    }

    #[tokio::test]
    async fn answers_502_when_teams_fails_and_posts_on_the_redelivery() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let flow = TeamsOnMeasureThreshold::new();
        io.set_sink_status(503);
        assert_eq!(
            flow.on_event(&ctx, crossed("e1", json!(1100000))).await,
            502
        );
        io.set_sink_status(200);
        assert_eq!(
            flow.on_event(&ctx, crossed("e1", json!(1100000))).await,
            202
        );
        assert_eq!(io.sink_calls(SinkKind::Teams).len(), 2);
    }

    #[tokio::test]
    async fn subscribes_with_the_requested_measure_and_threshold() {
        let io = FakeIo::new([]);
        let inputs = json!({"measureName": "TotalRevenue", "threshold": 1000000});
        let ctx = io.context(vec![
            subscription(TRIGGER, inputs),
            subscription("segment-threshold-crossed", json!({})),
        ]);
        TeamsOnMeasureThreshold::new().start(&ctx).await;
        assert_eq!(
            io.calls(),
            vec![Call::Api(
                "POST triggers/measure-threshold-crossed/subscriptions".to_owned(),
                Some(
                    json!({"measureName": "TotalRevenue", "threshold": 1000000, "NotificationUrl": HOOK})
                ),
            )]
        );
    }
}
