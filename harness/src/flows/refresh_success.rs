//! `email-on-refresh-success`: e-mail the data owners each time a data source refreshes
//! successfully, once per event; a subscription with a `dataSourceName` watches that source only
//! (the connector filters).

use serde::Deserialize;
use serde_json::{Value, json};

use super::event::{Memory, is_success, parse_event};
use crate::flow::{BoxFuture, Flow, FlowContext};
use crate::scenario::SinkKind;

pub(crate) const TRIGGER: &str = "datasource-refresh-succeeded";
const TO: &str = "data-owners@contoso.com";

/// The fields of a `datasource-refresh-succeeded` delivery this flow uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshSucceeded {
    event_id: String,
    data_source_name: String,
    friendly_name: String,
    job_id: String,
    #[serde(default)]
    last_refresh: Option<String>,
}

fn email(event: &RefreshSucceeded) -> Value {
    let (name, friendly) = (&event.data_source_name, &event.friendly_name);
    let when = event
        .last_refresh
        .as_deref()
        .map_or(String::new(), |t| format!(" at {t}"));
    json!({
        "to": TO,
        "subject": format!("{friendly} ({name}) refreshed"),
        "body": format!(
            "The data source {friendly} ({name}) refreshed successfully{when} (refresh job {}).",
            event.job_id
        ),
        "dataSourceName": name,
        "eventId": event.event_id,
    })
}

/// E-mails `{"to", "subject", "body", "dataSourceName", "eventId"}` to the `Email` sink, once per
/// event.
#[derive(Debug)]
pub struct EmailOnRefreshSuccess {
    memory: Memory,
}

impl EmailOnRefreshSuccess {
    pub fn new() -> EmailOnRefreshSuccess {
        EmailOnRefreshSuccess {
            memory: Memory::event_ids(),
        }
    }
}

impl Default for EmailOnRefreshSuccess {
    fn default() -> Self {
        EmailOnRefreshSuccess::new()
    }
}

impl Flow for EmailOnRefreshSuccess {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let Some(event) = parse_event::<RefreshSucceeded>(event, TRIGGER) else {
                return 400;
            };
            if !self.memory.first_time(&event.event_id) {
                return 202; // Already e-mailed: acknowledge the redelivery, do nothing.
            }
            if is_success(ctx.io.sink(SinkKind::Email, email(&event)).await) {
                202
            } else {
                // The mail server is down: let the connector redeliver, and e-mail then.
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

    fn succeeded(event_id: &str, name: &str, friendly: &str) -> Value {
        json!({
            "eventId": event_id,
            "eventType": "datasource-refresh-succeeded",
            "subscriptionId": "s1",
            "instanceId": "i1",
            "occurredAt": "2026-01-01T00:00:07Z",
            "dataSourceId": "d1",
            "dataSourceName": name,
            "friendlyName": friendly,
            "jobId": "j1",
            "taskStatus": "successful",
            "refreshState": "updated",
            "lastRefresh": "2026-01-01T00:00:07Z",
            "errors": [],
        })
    }

    /// Delivers `events` in order; checks the answers and the e-mails' subjects.
    async fn check(events: Vec<Value>, statuses: &[u16], subjects: &[&str]) {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let flow = EmailOnRefreshSuccess::new();
        let mut answered = Vec::new();
        for event in events {
            answered.push(flow.on_event(&ctx, event).await);
        }
        assert_eq!(answered, statuses);
        let sent = io.sink_calls(SinkKind::Email);
        let sent_subjects: Vec<&str> = sent.iter().filter_map(|m| m["subject"].as_str()).collect();
        assert_eq!(sent_subjects, subjects);
        assert!(io.api_calls().is_empty(), "it calls no API");
    }

    #[tokio::test]
    async fn emails_the_data_source_and_when_it_refreshed() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let status = EmailOnRefreshSuccess::new()
            .on_event(&ctx, succeeded("e1", "PoS", "Point of Sale"))
            .await;
        assert_eq!(status, 202);
        assert_eq!(
            io.sink_calls(SinkKind::Email),
            vec![json!({
                "to": "data-owners@contoso.com",
                "subject": "Point of Sale (PoS) refreshed",
                "body": "The data source Point of Sale (PoS) refreshed successfully at 2026-01-01T00:00:07Z (refresh job j1).",
                "dataSourceName": "PoS",
                "eventId": "e1",
            })]
        );
    }

    #[tokio::test]
    async fn emails_once_per_event_id() {
        check(
            vec![
                succeeded("e1", "PoS", "Point of Sale"),
                succeeded("e1", "PoS", "Point of Sale"),
                succeeded("e2", "PoS", "Point of Sale"),
                succeeded("e3", "Loyalty", "Loyalty Program"),
            ],
            &[202; 4],
            &[
                "Point of Sale (PoS) refreshed",
                "Point of Sale (PoS) refreshed",
                "Loyalty Program (Loyalty) refreshed",
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn answers_400_to_a_failure_event_or_a_payload_without_its_fields() {
        let mut failed = succeeded("e1", "PoS", "Point of Sale");
        failed["eventType"] = json!("datasource-refresh-failed");
        let mut partial = succeeded("e2", "PoS", "Point of Sale");
        partial.as_object_mut().map(|o| o.remove("jobId"));
        check(vec![failed, partial], &[400, 400], &[]).await;
    }

    #[tokio::test]
    async fn answers_502_when_the_mail_server_fails_and_emails_on_the_redelivery() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let flow = EmailOnRefreshSuccess::new();
        io.set_sink_status(0);
        let event = succeeded("e1", "PoS", "Point of Sale");
        assert_eq!(flow.on_event(&ctx, event.clone()).await, 502);
        io.set_sink_status(250);
        assert_eq!(flow.on_event(&ctx, event).await, 202);
        assert_eq!(io.sink_calls(SinkKind::Email).len(), 2);
    }

    #[tokio::test]
    async fn subscribes_with_the_requested_data_source_filter() {
        let io = FakeIo::new([]);
        let ctx = io.context(vec![subscription(
            TRIGGER,
            json!({"dataSourceName": "eCommerce"}),
        )]);
        EmailOnRefreshSuccess::new().start(&ctx).await;
        assert_eq!(
            io.calls(),
            vec![Call::Api(
                "POST triggers/datasource-refresh-succeeded/subscriptions".to_owned(),
                Some(json!({"dataSourceName": "eCommerce", "NotificationUrl": HOOK})),
            )]
        );
    }
}
