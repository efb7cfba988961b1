//! `email-on-segment-threshold`: e-mail the data owners when a segment crosses a threshold, with
//! the member count and the first members fetched through the API; and its broken twins
//! `email-off-by-one-threshold` and `email-polls-segment-counts`.

use serde::Deserialize;
use serde_json::{Value, json};
use simulator::SimDuration;

use super::api::{self, Retry, encode, odata_string};
use super::event::{Memory, is_success, parse_event};
use crate::flow::{BoxFuture, Flow, FlowContext, subscribe};
use crate::scenario::SinkKind;

const TRIGGER: &str = "segment-threshold-crossed";
const TO: &str = "data-owners@contoso.com";
/// How many members the e-mail lists.
const FIRST_MEMBERS: usize = 10;

/// The fields of a `segment-threshold-crossed` delivery this flow uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentCrossed {
    event_id: String,
    segment_name: String,
    #[serde(default)]
    friendly_name: Option<String>,
    threshold: serde_json::Number,
    previous_count: Option<u64>,
    entity_count: u64,
}

/// What the e-mail is about: a crossing delivered by the trigger, or a count seen by polling.
struct Crossing<'a> {
    event_id: Option<&'a str>,
    segment_name: &'a str,
    friendly_name: Option<&'a str>,
    threshold: Value,
    previous_count: Option<u64>,
    entity_count: u64,
}

/// The query for the first members of a segment:
/// `data/Customer?$filter=IsMemberOfSegment(%27Name%27)&$top=10&$select=CustomerId,FullName,EMail&$count=true`.
pub(crate) fn first_members_query(segment_name: &str) -> String {
    let filter = format!("IsMemberOfSegment({})", odata_string(segment_name));
    format!(
        "data/Customer?$filter={}&$top={FIRST_MEMBERS}&$select=CustomerId,FullName,EMail&$count=true",
        encode(&filter)
    )
}

/// Fetches the first members (waiting out up to five `429`s) and e-mails the data owners;
/// returns the e-mail sink's status. When the members cannot be fetched the e-mail still goes
/// out with the count, and says so.
async fn email_crossing(ctx: &FlowContext, crossing: &Crossing<'_>) -> u16 {
    let query = first_members_query(crossing.segment_name);
    let reply = api::call(&*ctx.io, "GET", &query, Retry::honouring_retry_after(5)).await;
    let members = match reply.body.get("value").and_then(Value::as_array) {
        Some(rows) if reply.status == 200 => rows.clone(),
        _ => Vec::new(),
    };

    let name = crossing.segment_name;
    let (count, threshold) = (crossing.entity_count, &crossing.threshold);
    let mut body = match crossing.friendly_name {
        Some(friendly) => format!("{friendly} ({name}) now has {count} members"),
        None => format!("{name} now has {count} members"),
    };
    body += &format!(", above the threshold of {threshold}");
    if let Some(previous) = crossing.previous_count {
        body += &format!(" (previously {previous})");
    }
    if reply.status != 200 {
        let status = reply.status;
        body += &format!(".\n\nThe first members could not be fetched: the API answered {status}.");
    } else if members.is_empty() {
        body += ".\n\nFirst members: none.";
    } else {
        body += ".\n\nFirst members:";
        for member in &members {
            let full_name = member["FullName"].as_str().unwrap_or("(no name)");
            let email = member["EMail"].as_str().unwrap_or("no e-mail");
            body += &format!("\n- {full_name} <{email}>");
        }
    }

    let mut email = json!({
        "to": TO,
        "subject": format!("Segment {name} crossed {threshold}: {count} members"),
        "body": body,
        "segmentName": name,
        "entityCount": count,
        "firstMembers": members,
    });
    if let Some(event_id) = crossing.event_id {
        email["eventId"] = json!(event_id);
    }
    ctx.io.sink(SinkKind::Email, email).await
}

/// E-mails `{"to", "subject", "body", "segmentName", "entityCount", "firstMembers", "eventId"}`
/// to the `Email` sink, once per event.
#[derive(Debug)]
pub struct EmailOnSegmentThreshold {
    memory: Memory,
}

impl EmailOnSegmentThreshold {
    /// The mistake of a broken variant: no memory of handled events, so a redelivery e-mails
    /// again.
    pub(crate) fn not_idempotent() -> EmailOnSegmentThreshold {
        EmailOnSegmentThreshold {
            memory: Memory::nothing(),
        }
    }
}

impl Default for EmailOnSegmentThreshold {
    fn default() -> Self {
        EmailOnSegmentThreshold {
            memory: Memory::event_ids(),
        }
    }
}

impl Flow for EmailOnSegmentThreshold {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let Some(event) = parse_event::<SegmentCrossed>(event, TRIGGER) else {
                return 400;
            };
            if !self.memory.first_time(&event.event_id) {
                return 202; // Already e-mailed: acknowledge the redelivery, do nothing.
            }
            let crossing = Crossing {
                event_id: Some(&event.event_id),
                segment_name: &event.segment_name,
                friendly_name: event.friendly_name.as_deref(),
                threshold: Value::Number(event.threshold.clone()),
                previous_count: event.previous_count,
                entity_count: event.entity_count,
            };
            if is_success(email_crossing(ctx, &crossing).await) {
                202
            } else {
                // The mail server is down: let the connector redeliver, and handle it then.
                self.memory.forget(&event.event_id);
                502
            }
        })
    }
}

/// The mistake: subscribes with `threshold + 1`, so a count that ends exactly one above the
/// threshold (a crossing) is missed.
#[derive(Debug, Default)]
pub struct EmailOffByOneThreshold(EmailOnSegmentThreshold);

impl Flow for EmailOffByOneThreshold {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for sub in ctx.requested.iter().filter(|s| s.trigger == TRIGGER) {
                let mut inputs = sub.inputs.clone();
                if let Some(threshold) = inputs.get_mut("threshold") {
                    *threshold = plus_one(threshold);
                }
                subscribe(ctx, TRIGGER, &inputs).await;
            }
        })
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        self.0.on_event(ctx, event)
    }
}

fn plus_one(threshold: &Value) -> Value {
    if let Some(n) = threshold.as_u64() {
        json!(n.saturating_add(1))
    } else if let Some(x) = threshold.as_f64() {
        json!(x + 1.0)
    } else {
        threshold.clone()
    }
}

/// The mistake: no trigger at all. It polls each requested segment's count every 15 minutes
/// (`GET manage/segments/{name}`, a recurrence) and e-mails whenever the count is above the
/// threshold, so it acts on every poll above the threshold instead of once per upward crossing
/// (and up to 15 minutes late). The loop lives in `start`'s future: dropping it stops the polling.
#[derive(Debug, Default)]
pub struct EmailPollsSegmentCounts;

/// How often the poller looks.
pub(crate) const POLL_EVERY: SimDuration = SimDuration::from_mins(15);

impl Flow for EmailPollsSegmentCounts {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let watched: Vec<(&str, &Value)> = ctx
                .requested
                .iter()
                .filter(|s| s.trigger == TRIGGER)
                .filter_map(|s| {
                    Some((
                        s.inputs.get("segmentName")?.as_str()?,
                        s.inputs.get("threshold")?,
                    ))
                })
                .collect();
            if watched.is_empty() {
                return;
            }
            loop {
                ctx.io.sleep(POLL_EVERY).await;
                for &(name, threshold) in &watched {
                    let path = format!("manage/segments/{}", encode(name));
                    let reply = ctx.io.api("GET", &path, None).await;
                    let count = reply.body["evaluationStatus"]["entityCount"].as_u64();
                    let (Some(count), Some(limit)) = (count, threshold.as_f64()) else {
                        continue; // Throttled or failed: look again next time.
                    };
                    if reply.status == 200 && count as f64 > limit {
                        let crossing = Crossing {
                            event_id: None,
                            segment_name: name,
                            friendly_name: reply.body["friendlyName"].as_str(),
                            threshold: threshold.clone(),
                            previous_count: None,
                            entity_count: count,
                        };
                        email_crossing(ctx, &crossing).await;
                    }
                }
            }
        })
    }

    fn on_event<'a>(&'a self, _ctx: &'a FlowContext, _event: Value) -> BoxFuture<'a, u16> {
        // It subscribes to nothing, so nothing should arrive; acknowledge whatever does.
        Box::pin(async { 202 })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{Call, FakeIo, HOOK, reply, subscription, throttled};

    const MEMBERS_QUERY: &str = "GET data/Customer?$filter=IsMemberOfSegment(%27HighValueCustomers%27)&$top=10&$select=CustomerId,FullName,EMail&$count=true";

    fn crossed(event_id: &str, entity_count: u64) -> Value {
        json!({
            "eventId": event_id,
            "eventType": "segment-threshold-crossed",
            "subscriptionId": "s1",
            "instanceId": "i1",
            "occurredAt": "2026-01-02T00:00:00Z",
            "segmentName": "HighValueCustomers",
            "friendlyName": "High value customers",
            "threshold": 1000,
            "previousCount": 900,
            "entityCount": entity_count,
            "evaluationDate": "2026-01-02T00:00:00Z",
            "jobId": "j1",
        })
    }

    fn members() -> Value {
        json!({
            "@odata.context": "$metadata#Customer",
            "@odata.count": 1100,
            "value": [
                {"CustomerId": "a1", "FullName": "Ada Lovelace", "EMail": "ada.lovelace@example.com"},
                {"CustomerId": "b2", "FullName": "Alan Turing", "EMail": "alan.turing@example.com"},
            ],
        })
    }

    fn segment_view(entity_count: u64) -> Value {
        json!({
            "name": "HighValueCustomers",
            "friendlyName": "High value customers",
            "evaluationStatus": {"jobStatus": "CompletedSuccess", "entityCount": entity_count},
        })
    }

    #[test]
    fn encodes_spaces_and_quotes_of_the_segment_name_in_the_members_query() {
        assert_eq!(
            first_members_query("Bob's Best Buyers"),
            "data/Customer?$filter=IsMemberOfSegment(%27Bob%27%27s%20Best%20Buyers%27)&$top=10&$select=CustomerId,FullName,EMail&$count=true"
        );
    }

    #[tokio::test]
    async fn fetches_the_first_members_and_emails_the_count_and_their_names() {
        let io = FakeIo::new([reply(200, members())]);
        let ctx = io.context(Vec::new());
        let status = EmailOnSegmentThreshold::default()
            .on_event(&ctx, crossed("e1", 1100))
            .await;
        assert_eq!(status, 202);
        assert_eq!(io.api_calls(), vec![MEMBERS_QUERY]);
        assert_eq!(
            io.sink_calls(SinkKind::Email),
            vec![json!({
                "to": "data-owners@contoso.com",
                "subject": "Segment HighValueCustomers crossed 1000: 1100 members",
                "body": "High value customers (HighValueCustomers) now has 1100 members, above the threshold of 1000 (previously 900).\n\nFirst members:\n- Ada Lovelace <ada.lovelace@example.com>\n- Alan Turing <alan.turing@example.com>",
                "segmentName": "HighValueCustomers",
                "entityCount": 1100,
                "firstMembers": members()["value"],
                "eventId": "e1",
            })]
        );
    }

    #[tokio::test]
    async fn waits_retry_after_and_fetches_again_when_throttled() {
        let io = FakeIo::new([throttled(3), throttled(7), reply(200, members())]);
        let ctx = io.context(Vec::new());
        EmailOnSegmentThreshold::default()
            .on_event(&ctx, crossed("e1", 1100))
            .await;
        assert_eq!(io.api_calls(), vec![MEMBERS_QUERY; 3]);
        assert_eq!(
            io.sleeps(),
            vec![SimDuration::from_secs(3), SimDuration::from_secs(7)]
        );
        assert_eq!(
            io.sink_calls(SinkKind::Email)[0]["firstMembers"],
            members()["value"]
        );
    }

    #[tokio::test]
    async fn gives_up_after_five_retries_and_still_emails_the_count() {
        let io = FakeIo::new(std::iter::repeat_with(|| throttled(2)).take(6));
        let ctx = io.context(Vec::new());
        let status = EmailOnSegmentThreshold::default()
            .on_event(&ctx, crossed("e1", 1100))
            .await;
        assert_eq!(status, 202);
        assert_eq!(io.api_calls().len(), 6, "the first call and five retries");
        assert_eq!(io.sleeps(), vec![SimDuration::from_secs(2); 5]);
        let email = &io.sink_calls(SinkKind::Email)[0];
        assert_eq!(email["entityCount"], 1100);
        assert_eq!(email["firstMembers"], json!([]));
        assert!(
            email["body"]
                .as_str()
                .is_some_and(|b| b.ends_with("could not be fetched: the API answered 429."))
        );
    }

    #[tokio::test]
    async fn emails_once_per_event_id() {
        let io = FakeIo::new([reply(200, members()), reply(200, members())]);
        let ctx = io.context(Vec::new());
        let flow = EmailOnSegmentThreshold::default();
        for event in [
            crossed("e1", 1100),
            crossed("e1", 1100),
            crossed("e2", 1300),
        ] {
            assert_eq!(flow.on_event(&ctx, event).await, 202);
        }
        let ids: Vec<Value> = io
            .sink_calls(SinkKind::Email)
            .iter()
            .map(|e| e["eventId"].clone())
            .collect();
        assert_eq!(ids, vec![json!("e1"), json!("e2")]);
        assert_eq!(io.api_calls().len(), 2, "no fetch for the redelivery");
    }

    #[tokio::test]
    async fn answers_400_to_a_payload_of_another_trigger() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let mut event = crossed("e1", 1100);
        event["eventType"] = json!("measure-threshold-crossed");
        let status = EmailOnSegmentThreshold::default()
            .on_event(&ctx, event)
            .await;
        assert_eq!(status, 400);
        assert!(io.calls().is_empty());
    }

    #[tokio::test]
    async fn the_off_by_one_variant_subscribes_with_threshold_plus_one() {
        let io = FakeIo::new([]);
        let ctx = io.context(vec![subscription(
            TRIGGER,
            json!({"segmentName": "HighValueCustomers", "threshold": 1000}),
        )]);
        EmailOffByOneThreshold::default().start(&ctx).await;
        assert_eq!(
            io.calls(),
            vec![Call::Api(
                "POST triggers/segment-threshold-crossed/subscriptions".to_owned(),
                Some(
                    json!({"segmentName": "HighValueCustomers", "threshold": 1001, "NotificationUrl": HOOK})
                ),
            )]
        );
    }

    #[tokio::test]
    async fn the_correct_flow_subscribes_with_the_requested_threshold() {
        let io = FakeIo::new([]);
        let inputs = json!({"segmentName": "HighValueCustomers", "threshold": 1000});
        let ctx = io.context(vec![subscription(TRIGGER, inputs)]);
        EmailOnSegmentThreshold::default().start(&ctx).await;
        assert_eq!(
            io.calls(),
            vec![Call::Api(
                "POST triggers/segment-threshold-crossed/subscriptions".to_owned(),
                Some(
                    json!({"segmentName": "HighValueCustomers", "threshold": 1000, "NotificationUrl": HOOK})
                ),
            )]
        );
    }

    #[tokio::test]
    async fn the_poller_subscribes_to_nothing_and_emails_on_each_poll_above_the_threshold() {
        let io = FakeIo::new([
            reply(200, segment_view(900)),
            reply(200, segment_view(1100)),
            reply(200, members()),
            reply(200, segment_view(1100)),
            reply(200, members()),
        ]);
        io.park_after_sleeps(3);
        let ctx = io.context(vec![subscription(
            TRIGGER,
            json!({"segmentName": "HighValueCustomers", "threshold": 1000}),
        )]);
        let flow = EmailPollsSegmentCounts;
        tokio::select! {
            () = flow.start(&ctx) => panic!("the polling loop ended on its own"),
            () = io.parked() => {}
        }
        let poll = "GET manage/segments/HighValueCustomers";
        assert_eq!(
            io.api_calls(),
            [poll, poll, MEMBERS_QUERY, poll, MEMBERS_QUERY]
        );
        assert_eq!(io.sleeps(), vec![POLL_EVERY; 4], "three polls, then parked");
        let emails = io.sink_calls(SinkKind::Email);
        assert_eq!(emails.len(), 2, "one e-mail per poll above the threshold");
        assert_eq!(
            emails[0]["subject"],
            "Segment HighValueCustomers crossed 1000: 1100 members"
        );
        assert_eq!(emails[0].get("eventId"), None);
    }

    #[tokio::test]
    async fn the_poller_without_a_segment_subscription_does_nothing() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        EmailPollsSegmentCounts.start(&ctx).await;
        assert!(io.calls().is_empty());
    }
}
