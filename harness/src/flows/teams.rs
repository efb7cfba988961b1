//! `teams-on-refresh-failure`: post to a Teams channel when a data source fails to refresh; and
//! its broken twin `teams-not-idempotent`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::event::{Memory, is_success, parse_event};
use crate::flow::{BoxFuture, Flow, FlowContext};
use crate::scenario::SinkKind;

const TRIGGER: &str = "datasource-refresh-failed";

/// The fields of a `datasource-refresh-failed` delivery this flow uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshFailed {
    event_id: String,
    data_source_name: String,
    friendly_name: String,
    #[serde(default)]
    errors: Vec<TaskError>,
}

#[derive(Debug, Deserialize)]
struct TaskError {
    message: String,
}

/// Posts `{"title", "text", "dataSourceName", "eventId"}` to the `Teams` sink, once per event.
#[derive(Debug)]
pub struct TeamsOnRefreshFailure {
    /// Nothing, for the broken variant, which handles a redelivered event again.
    memory: Memory,
}

impl TeamsOnRefreshFailure {
    pub fn new() -> TeamsOnRefreshFailure {
        TeamsOnRefreshFailure {
            memory: Memory::event_ids(),
        }
    }

    /// The mistake: no memory of handled events, so a redelivery posts a second message.
    pub fn not_idempotent() -> TeamsOnRefreshFailure {
        TeamsOnRefreshFailure {
            memory: Memory::nothing(),
        }
    }
}

impl Default for TeamsOnRefreshFailure {
    fn default() -> Self {
        TeamsOnRefreshFailure::new()
    }
}

impl Flow for TeamsOnRefreshFailure {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let Some(event) = parse_event::<RefreshFailed>(event, TRIGGER) else {
                return 400;
            };
            if !self.memory.first_time(&event.event_id) {
                return 202; // Already posted: acknowledge the redelivery, do nothing.
            }
            let detail = event.errors.first().map_or("no details", |e| &e.message);
            let message = json!({
                "title": "Data source refresh failed",
                "text": format!(
                    "{} ({}) failed to refresh: {detail}",
                    event.friendly_name, event.data_source_name
                ),
                "dataSourceName": event.data_source_name,
                "eventId": event.event_id,
            });
            let status = ctx.io.sink(SinkKind::Teams, message).await;
            if is_success(status) {
                return 202;
            }
            // Teams is down: answer an error so the connector redelivers, and forget the event so
            // that the redelivery posts.
            self.memory.forget(&event.event_id);
            502
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{FakeIo, HOOK, subscription};

    fn failed_event(event_id: &str, errors: Value) -> Value {
        json!({
            "eventId": event_id,
            "eventType": "datasource-refresh-failed",
            "subscriptionId": "s1",
            "instanceId": "i1",
            "occurredAt": "2026-01-01T00:10:00Z",
            "dataSourceId": "d1",
            "dataSourceName": "PoS",
            "friendlyName": "Point of Sale",
            "jobId": "j1",
            "taskStatus": "failed",
            "refreshState": "updateFailed",
            "lastRefresh": "2026-01-01T00:00:00Z",
            "errors": errors,
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
        let posted: Vec<Value> = io.sink_calls(SinkKind::Teams);
        let posted_texts: Vec<&str> = posted.iter().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(posted_texts, texts);
        assert!(io.api_calls().is_empty(), "it calls no API");
    }

    #[tokio::test]
    async fn posts_the_failure_with_the_first_error_message() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let errors = json!([
            {"errorCode": "TaskFailed", "message": "the source answered 503"},
            {"errorCode": "TaskFailed", "message": "second"},
        ]);
        let status = TeamsOnRefreshFailure::new()
            .on_event(&ctx, failed_event("e1", errors))
            .await;
        assert_eq!(status, 202);
        assert_eq!(
            io.sink_calls(SinkKind::Teams),
            vec![json!({
                "title": "Data source refresh failed",
                "text": "Point of Sale (PoS) failed to refresh: the source answered 503",
                "dataSourceName": "PoS",
                "eventId": "e1",
            })]
        );
    }

    #[tokio::test]
    async fn says_no_details_when_the_event_has_no_errors() {
        check(
            &TeamsOnRefreshFailure::new(),
            vec![failed_event("e1", json!([]))],
            &[202],
            &["Point of Sale (PoS) failed to refresh: no details"],
        )
        .await;
    }

    #[tokio::test]
    async fn posts_once_for_a_redelivered_event() {
        check(
            &TeamsOnRefreshFailure::new(),
            vec![
                failed_event("e1", json!([])),
                failed_event("e1", json!([])),
                failed_event("e2", json!([])),
            ],
            &[202, 202, 202],
            &[
                "Point of Sale (PoS) failed to refresh: no details",
                "Point of Sale (PoS) failed to refresh: no details",
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn the_not_idempotent_variant_posts_twice_for_the_same_event() {
        check(
            &TeamsOnRefreshFailure::not_idempotent(),
            vec![failed_event("e1", json!([])), failed_event("e1", json!([]))],
            &[202, 202],
            &[
                "Point of Sale (PoS) failed to refresh: no details",
                "Point of Sale (PoS) failed to refresh: no details",
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn answers_400_to_another_trigger_or_a_payload_without_its_fields() {
        let mut other = failed_event("e1", json!([]));
        other["eventType"] = json!("datasource-refresh-succeeded");
        let mut partial = failed_event("e2", json!([]));
        partial.as_object_mut().map(|o| o.remove("dataSourceName"));
        check(
            &TeamsOnRefreshFailure::new(),
            vec![other, partial, json!("not an object")],
            &[400, 400, 400],
            &[],
        )
        .await;
    }

    #[tokio::test]
    async fn answers_502_when_teams_fails_and_posts_again_on_the_redelivery() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let flow = TeamsOnRefreshFailure::new();
        io.set_sink_status(500);
        assert_eq!(
            flow.on_event(&ctx, failed_event("e1", json!([]))).await,
            502
        );
        io.set_sink_status(202);
        assert_eq!(
            flow.on_event(&ctx, failed_event("e1", json!([]))).await,
            202
        );
        assert_eq!(io.sink_calls(SinkKind::Teams).len(), 2);
    }

    #[tokio::test]
    async fn subscribes_to_its_requested_subscriptions_only() {
        let io = FakeIo::new([]);
        let ctx = io.context(vec![
            subscription(TRIGGER, json!({"dataSourceName": "PoS"})),
            subscription("full-refresh-completed", json!({})),
        ]);
        TeamsOnRefreshFailure::new().start(&ctx).await;
        assert_eq!(
            io.calls(),
            vec![crate::flows::testing::Call::Api(
                "POST triggers/datasource-refresh-failed/subscriptions".to_owned(),
                Some(json!({"dataSourceName": "PoS", "NotificationUrl": HOOK})),
            )]
        );
    }
}
