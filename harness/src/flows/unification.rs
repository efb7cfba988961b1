//! `sync-on-unification-success`: when unification (map → match → merge) succeeds, ask a
//! downstream system over HTTP to refresh its copy of the customer profiles, with the job id and
//! the number of unified customers.
//!
//! Only a successful unification is acted on: after a failed, timed-out, skipped or aborted one
//! the unified profiles did not change, so there is nothing to sync (the data source and full
//! refresh flows report the failure itself).

use serde::Deserialize;
use serde_json::{Value, json};

use super::event::{Memory, is_success, parse_event};
use crate::flow::{BoxFuture, Flow, FlowContext};
use crate::scenario::SinkKind;

pub(crate) const TRIGGER: &str = "unification-completed";

/// The fields of a `unification-completed` delivery this flow uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnificationCompleted {
    event_id: String,
    job_id: String,
    task_status: String,
    unified_customer_count: u64,
    end_timestamp: String,
}

/// The downstream request: `{"action", "jobId", "unifiedCustomerCount", "unifiedAt", "eventId"}`.
pub(crate) fn sync_request(
    job_id: &str,
    unified_customer_count: Option<u64>,
    unified_at: &str,
    event_id: &str,
) -> Value {
    json!({
        "action": "refresh-customer-profiles",
        "jobId": job_id,
        "unifiedCustomerCount": unified_customer_count,
        "unifiedAt": unified_at,
        "eventId": event_id,
    })
}

/// Posts the sync request to the `Http` sink once per successful unification event.
#[derive(Debug)]
pub struct SyncOnUnificationSuccess {
    memory: Memory,
    /// The mistake of a broken variant: which `taskStatus` values it syncs on.
    acts_on: fn(&str) -> bool,
}

fn only_successful(task_status: &str) -> bool {
    task_status == "successful"
}

impl SyncOnUnificationSuccess {
    pub fn new() -> SyncOnUnificationSuccess {
        SyncOnUnificationSuccess {
            memory: Memory::event_ids(),
            acts_on: only_successful,
        }
    }

    /// A broken variant that syncs when `acts_on(taskStatus)` holds, instead of on success only.
    pub(crate) fn acting_on(acts_on: fn(&str) -> bool) -> SyncOnUnificationSuccess {
        SyncOnUnificationSuccess {
            acts_on,
            ..SyncOnUnificationSuccess::new()
        }
    }

    /// The mistake of a broken variant: no memory of handled events.
    pub(crate) fn not_idempotent() -> SyncOnUnificationSuccess {
        SyncOnUnificationSuccess {
            memory: Memory::nothing(),
            ..SyncOnUnificationSuccess::new()
        }
    }
}

impl Default for SyncOnUnificationSuccess {
    fn default() -> Self {
        SyncOnUnificationSuccess::new()
    }
}

impl Flow for SyncOnUnificationSuccess {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let Some(event) = parse_event::<UnificationCompleted>(event, TRIGGER) else {
                return 400;
            };
            if !(self.acts_on)(&event.task_status) || !self.memory.first_time(&event.event_id) {
                return 202;
            }
            let request = sync_request(
                &event.job_id,
                Some(event.unified_customer_count),
                &event.end_timestamp,
                &event.event_id,
            );
            if is_success(ctx.io.sink(SinkKind::Http, request).await) {
                202
            } else {
                // The downstream system is down: let the connector redeliver, and sync then.
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

    fn completed(event_id: &str, task_status: &str) -> Value {
        json!({
            "eventId": event_id,
            "eventType": "unification-completed",
            "subscriptionId": "s1",
            "instanceId": "i1",
            "occurredAt": "2026-01-01T00:00:30Z",
            "jobId": "j1",
            "taskStatus": task_status,
            "stages": [
                {"operationType": "map", "taskStatus": "successful", "endTimestamp": "2026-01-01T00:00:20Z"},
                {"operationType": "match", "taskStatus": "successful", "endTimestamp": "2026-01-01T00:00:25Z"},
                {"operationType": "merge", "taskStatus": task_status, "endTimestamp": "2026-01-01T00:00:30Z"},
            ],
            "unifiedCustomerCount": 1357,
            "endTimestamp": "2026-01-01T00:00:30Z",
        })
    }

    /// Delivers `events` in order to `flow`; checks the answers and the `eventId`s synced.
    async fn check(flow: &dyn Flow, events: Vec<Value>, statuses: &[u16], synced: &[&str]) {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let mut answered = Vec::new();
        for event in events {
            answered.push(flow.on_event(&ctx, event).await);
        }
        assert_eq!(answered, statuses);
        let ids: Vec<Value> = io
            .sink_calls(SinkKind::Http)
            .iter()
            .map(|r| r["eventId"].clone())
            .collect();
        assert_eq!(ids, synced.iter().map(|s| json!(s)).collect::<Vec<_>>());
        assert!(io.api_calls().is_empty(), "it calls no API");
    }

    #[tokio::test]
    async fn syncs_a_successful_unification_with_its_job_and_customer_count() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let status = SyncOnUnificationSuccess::new()
            .on_event(&ctx, completed("e1", "successful"))
            .await;
        assert_eq!(status, 202);
        assert_eq!(
            io.sink_calls(SinkKind::Http),
            vec![json!({
                "action": "refresh-customer-profiles",
                "jobId": "j1",
                "unifiedCustomerCount": 1357,
                "unifiedAt": "2026-01-01T00:00:30Z",
                "eventId": "e1",
            })]
        );
    }

    #[tokio::test]
    async fn acknowledges_and_ignores_every_unsuccessful_unification() {
        check(
            &SyncOnUnificationSuccess::new(),
            ["failed", "timedOut", "skipped", "aborted"]
                .iter()
                .enumerate()
                .map(|(i, s)| completed(&format!("e{i}"), s))
                .collect(),
            &[202; 4],
            &[],
        )
        .await;
    }

    #[tokio::test]
    async fn syncs_once_per_event_id() {
        check(
            &SyncOnUnificationSuccess::new(),
            vec![
                completed("e1", "successful"),
                completed("e1", "successful"),
                completed("e2", "successful"),
            ],
            &[202; 3],
            &["e1", "e2"],
        )
        .await;
    }

    #[tokio::test]
    async fn broken_variants_sync_on_what_they_are_told_and_again_on_a_redelivery() {
        check(
            &SyncOnUnificationSuccess::acting_on(|s| s != "failed"),
            vec![completed("e1", "failed"), completed("e2", "skipped")],
            &[202; 2],
            &["e2"],
        )
        .await;
        check(
            &SyncOnUnificationSuccess::not_idempotent(),
            vec![completed("e1", "successful"), completed("e1", "successful")],
            &[202; 2],
            &["e1", "e1"],
        )
        .await;
    }

    #[tokio::test]
    async fn answers_400_to_a_payload_without_a_customer_count() {
        let mut partial = completed("e1", "successful");
        partial
            .as_object_mut()
            .map(|o| o.remove("unifiedCustomerCount"));
        let mut other = completed("e2", "successful");
        other["eventType"] = json!("full-refresh-completed");
        check(
            &SyncOnUnificationSuccess::new(),
            vec![partial, other],
            &[400, 400],
            &[],
        )
        .await;
    }

    #[tokio::test]
    async fn answers_502_when_the_downstream_system_fails_and_syncs_on_the_redelivery() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let flow = SyncOnUnificationSuccess::new();
        io.set_sink_status(500);
        assert_eq!(
            flow.on_event(&ctx, completed("e1", "successful")).await,
            502
        );
        io.set_sink_status(204);
        assert_eq!(
            flow.on_event(&ctx, completed("e1", "successful")).await,
            202
        );
        assert_eq!(io.sink_calls(SinkKind::Http).len(), 2);
    }

    #[tokio::test]
    async fn subscribes_to_unification_completed() {
        let io = FakeIo::new([]);
        let ctx = io.context(vec![subscription(TRIGGER, json!({}))]);
        SyncOnUnificationSuccess::new().start(&ctx).await;
        assert_eq!(
            io.calls(),
            vec![Call::Api(
                "POST triggers/unification-completed/subscriptions".to_owned(),
                Some(json!({"NotificationUrl": HOOK})),
            )]
        );
    }
}
