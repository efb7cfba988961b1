//! The ways a broken variant departs from its reference flow, as adapters around the reference
//! flow's own code: which deliveries it acts on ([`Gated`]), what it reads from a delivery
//! ([`Rewritten`]), how it uses its connectors ([`Misused`]) and what it subscribes to
//! ([`Resubscribed`]). The reference flow does everything else, so a variant differs from it by
//! its one mistake, and the harness sees only behaviour, as it would from a flow written
//! anywhere else.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};
use simulator::{SimDuration, SimTime};

use crate::flow::{ApiReply, BoxFuture, Flow, FlowContext, FlowIo, subscribe};
use crate::scenario::SinkKind;

/// Which deliveries a [`Gated`] flow acts on: a mistaken memory of what it handled, or a
/// mistaken assumption about delivery order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gate {
    /// Acts once per value of these payload fields instead of once per `eventId`.
    OncePer(&'static [&'static str]),
    /// Remembers only the last `eventId` it handled.
    LastEventOnly,
    /// Drops an event whose time (this RFC 3339 field) is older than the newest it has seen.
    NewestOnly(&'static str),
    /// Does not act again for the same `key` within `period` of the last time it acted, by the
    /// events' `time` field.
    CoolDown {
        key: &'static str,
        time: &'static str,
        period: SimDuration,
    },
}

#[derive(Debug, Default)]
struct GateMemory {
    keys: HashSet<String>,
    last: Option<String>,
    newest: Option<SimTime>,
    acted: HashMap<String, SimTime>,
}

/// A reference flow behind a [`Gate`]: a delivery the gate refuses is acknowledged (`202`) and
/// not acted on.
pub(crate) struct Gated {
    gate: Gate,
    memory: Mutex<GateMemory>,
    inner: Arc<dyn Flow>,
}

impl Gated {
    pub(crate) fn new(gate: Gate, inner: impl Flow + 'static) -> Gated {
        Gated {
            gate,
            memory: Mutex::new(GateMemory::default()),
            inner: Arc::new(inner),
        }
    }

    /// Whether the gate lets `event` through (and remembers what it must).
    fn admits(&self, event: &Value) -> bool {
        let mut memory = self.memory.lock();
        match self.gate {
            Gate::OncePer(fields) => {
                let key: Vec<String> = fields.iter().map(|f| field(event, f)).collect();
                memory.keys.insert(key.join("|"))
            }
            Gate::LastEventOnly => {
                let id = field(event, "eventId");
                if memory.last.as_ref() == Some(&id) {
                    return false;
                }
                memory.last = Some(id);
                true
            }
            Gate::NewestOnly(time) => {
                let Some(at) = time_of(event, time) else {
                    return true;
                };
                if memory.newest.is_some_and(|newest| at < newest) {
                    return false;
                }
                memory.newest = Some(at);
                true
            }
            Gate::CoolDown { key, time, period } => {
                let (key, Some(at)) = (field(event, key), time_of(event, time)) else {
                    return true;
                };
                if memory
                    .acted
                    .get(&key)
                    .is_some_and(|&last| at - last < period)
                {
                    return false;
                }
                memory.acted.insert(key, at);
                true
            }
        }
    }
}

/// A payload field as text (`""` when missing).
fn field(event: &Value, name: &str) -> String {
    match event.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn time_of(event: &Value, name: &str) -> Option<SimTime> {
    SimTime::parse_rfc3339(event.get(name)?.as_str()?)
}

impl Flow for Gated {
    fn triggers(&self) -> Vec<&'static str> {
        self.inner.triggers()
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        self.inner.start(ctx)
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            if !self.admits(&event) {
                return 202;
            }
            self.inner.on_event(ctx, event).await
        })
    }
}

/// How a [`Rewritten`] flow misreads a delivery.
#[derive(Clone, Copy)]
pub(crate) enum Rewrite {
    /// Takes a value from the wrong field, or drops a condition: an edit of the payload.
    Edit(fn(&mut Value)),
    /// Looks something up through the API and uses it instead of the payload's value.
    LookUp(for<'a> fn(&'a FlowContext, Value) -> BoxFuture<'a, Value>),
}

/// A reference flow that acts on a misread delivery.
pub(crate) struct Rewritten {
    rewrite: Rewrite,
    inner: Arc<dyn Flow>,
}

impl Rewritten {
    pub(crate) fn new(rewrite: Rewrite, inner: impl Flow + 'static) -> Rewritten {
        Rewritten {
            rewrite,
            inner: Arc::new(inner),
        }
    }
}

impl Flow for Rewritten {
    fn triggers(&self) -> Vec<&'static str> {
        self.inner.triggers()
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        self.inner.start(ctx)
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, mut event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let event = match self.rewrite {
                Rewrite::Edit(edit) => {
                    edit(&mut event);
                    event
                }
                Rewrite::LookUp(look_up) => look_up(ctx, event).await,
            };
            self.inner.on_event(ctx, event).await
        })
    }
}

/// A mistake in how a flow uses its connectors, applied between the reference flow and its I/O.
pub(crate) trait IoMistake: Send + Sync + 'static {
    /// The API's answer as the mistaken flow reads it.
    fn reply(&self, reply: ApiReply) -> ApiReply {
        reply
    }

    /// A sink call as the mistaken flow makes it; `None` keeps it back (the flow believes it was
    /// sent).
    fn sink(&self, sink: SinkKind, body: Value) -> Option<(SinkKind, Value)> {
        Some((sink, body))
    }

    /// Sink calls made once the reference flow has handled an event.
    fn after_event(&self) -> Vec<(SinkKind, Value)> {
        Vec::new()
    }
}

/// A reference flow whose I/O goes through an [`IoMistake`].
pub(crate) struct Misused<M> {
    mistake: Arc<M>,
    inner: Arc<dyn Flow>,
}

impl<M: IoMistake> Misused<M> {
    pub(crate) fn new(mistake: M, inner: impl Flow + 'static) -> Misused<M> {
        Misused {
            mistake: Arc::new(mistake),
            inner: Arc::new(inner),
        }
    }

    fn context(&self, ctx: &FlowContext) -> FlowContext {
        FlowContext {
            io: Arc::new(MisusedIo {
                io: ctx.io.clone(),
                mistake: self.mistake.clone(),
            }),
            requested: ctx.requested.clone(),
        }
    }
}

struct MisusedIo<M> {
    io: Arc<dyn FlowIo>,
    mistake: Arc<M>,
}

impl<M: IoMistake> FlowIo for MisusedIo<M> {
    fn api<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply> {
        Box::pin(async move { self.mistake.reply(self.io.api(method, path, body).await) })
    }

    fn sink<'a>(&'a self, sink: SinkKind, body: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            match self.mistake.sink(sink, body) {
                Some((sink, body)) => self.io.sink(sink, body).await,
                None => 202,
            }
        })
    }

    fn sleep<'a>(&'a self, duration: SimDuration) -> BoxFuture<'a, ()> {
        self.io.sleep(duration)
    }

    fn notification_url(&self) -> String {
        self.io.notification_url()
    }
}

impl<M: IoMistake> Flow for Misused<M> {
    fn triggers(&self) -> Vec<&'static str> {
        self.inner.triggers()
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.inner.start(&self.context(ctx)).await })
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let status = self.inner.on_event(&self.context(ctx), event).await;
            for (sink, body) in self.mistake.after_event() {
                ctx.io.sink(sink, body).await;
            }
            status
        })
    }
}

/// A reference flow that subscribes to `trigger` (declaring it as what it handles, as discovery
/// would find it), with each requested subscription's inputs edited by `inputs`. The requested
/// subscriptions it takes are those of `trigger` and of the reference flow's own triggers: a
/// flow wired to the wrong trigger in the designer keeps the configuration it was given (the
/// data source to watch, ...) and subscribes to the wrong trigger with it.
pub(crate) struct Resubscribed {
    trigger: &'static str,
    inputs: fn(&mut Map<String, Value>),
    inner: Arc<dyn Flow>,
}

impl Resubscribed {
    pub(crate) fn new(
        trigger: &'static str,
        inputs: fn(&mut Map<String, Value>),
        inner: impl Flow + 'static,
    ) -> Resubscribed {
        Resubscribed {
            trigger,
            inputs,
            inner: Arc::new(inner),
        }
    }
}

impl Flow for Resubscribed {
    fn triggers(&self) -> Vec<&'static str> {
        vec![self.trigger]
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let meant = self.inner.triggers();
            for sub in ctx
                .requested
                .iter()
                .filter(|s| s.trigger == self.trigger || meant.contains(&s.trigger.as_str()))
            {
                let mut inputs = sub.inputs.clone();
                (self.inputs)(&mut inputs);
                subscribe(ctx, self.trigger, &inputs).await;
            }
        })
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        self.inner.on_event(ctx, event)
    }
}

/// The inputs as requested.
pub(crate) fn as_requested(_: &mut Map<String, Value>) {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::TeamsOnRefreshFailure;
    use crate::flows::testing::{Call, FakeIo, HOOK, reply, subscription, throttled};

    fn failed(event_id: &str, name: &str, at: &str, job: &str) -> Value {
        json!({
            "eventId": event_id,
            "eventType": "datasource-refresh-failed",
            "occurredAt": at,
            "dataSourceName": name,
            "friendlyName": name,
            "jobId": job,
            "errors": [],
        })
    }

    /// Delivers `events` to `flow`; the `dataSourceName`s of the Teams messages it posted.
    async fn posted_for(flow: &dyn Flow, events: Vec<Value>) -> Vec<String> {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        for event in events {
            assert_eq!(flow.on_event(&ctx, event).await, 202);
        }
        io.sink_calls(SinkKind::Teams)
            .iter()
            .map(|m| field(m, "dataSourceName"))
            .collect()
    }

    #[tokio::test]
    async fn a_gate_once_per_field_swallows_a_second_event_with_the_same_value() {
        let flow = Gated::new(
            Gate::OncePer(&["dataSourceName"]),
            TeamsOnRefreshFailure::new(),
        );
        let posted = posted_for(
            &flow,
            vec![
                failed("e1", "PoS", "2026-01-01T00:00:00Z", "j1"),
                failed("e2", "Loyalty", "2026-01-01T01:00:00Z", "j2"),
                failed("e3", "PoS", "2026-01-02T00:00:00Z", "j3"),
            ],
        )
        .await;
        assert_eq!(posted, ["PoS", "Loyalty"]);
    }

    #[tokio::test]
    async fn a_gate_remembering_the_last_event_lets_an_older_redelivery_through() {
        let flow = Gated::new(Gate::LastEventOnly, TeamsOnRefreshFailure::not_idempotent());
        let (e1, e2) = (
            failed("e1", "PoS", "2026-01-01T00:00:00Z", "j1"),
            failed("e2", "Loyalty", "2026-01-01T01:00:00Z", "j2"),
        );
        let posted = posted_for(&flow, vec![e1.clone(), e1.clone(), e2, e1]).await;
        assert_eq!(posted, ["PoS", "Loyalty", "PoS"]);
    }

    #[tokio::test]
    async fn a_newest_only_gate_drops_an_event_older_than_one_seen() {
        let flow = Gated::new(Gate::NewestOnly("occurredAt"), TeamsOnRefreshFailure::new());
        let posted = posted_for(
            &flow,
            vec![
                failed("e2", "Loyalty", "2026-01-01T01:00:00Z", "j2"),
                failed("e1", "PoS", "2026-01-01T00:00:00.500Z", "j1"),
                failed("e3", "eCommerce", "2026-01-01T01:00:00Z", "j3"),
            ],
        )
        .await;
        assert_eq!(
            posted,
            ["Loyalty", "eCommerce"],
            "same instant is not older"
        );
    }

    #[tokio::test]
    async fn a_cool_down_gate_swallows_a_second_event_within_the_period_only() {
        let flow = Gated::new(
            Gate::CoolDown {
                key: "dataSourceName",
                time: "occurredAt",
                period: SimDuration::from_mins(60 * 24),
            },
            TeamsOnRefreshFailure::new(),
        );
        let posted = posted_for(
            &flow,
            vec![
                failed("e1", "PoS", "2026-01-01T00:00:00Z", "j1"),
                failed("e2", "PoS", "2026-01-01T23:59:59Z", "j2"),
                failed("e3", "Loyalty", "2026-01-01T23:59:59Z", "j3"),
                failed("e4", "PoS", "2026-01-02T00:00:00Z", "j4"),
            ],
        )
        .await;
        assert_eq!(posted, ["PoS", "Loyalty", "PoS"]);
    }

    #[tokio::test]
    async fn a_rewrite_changes_what_the_reference_flow_reads() {
        let flow = Rewritten::new(
            Rewrite::Edit(|e| e["dataSourceName"] = json!("Elsewhere")),
            TeamsOnRefreshFailure::new(),
        );
        let posted = posted_for(
            &flow,
            vec![failed("e1", "PoS", "2026-01-01T00:00:00Z", "j1")],
        )
        .await;
        assert_eq!(posted, ["Elsewhere"]);
    }

    struct ToEmail;
    impl IoMistake for ToEmail {
        fn reply(&self, mut reply: ApiReply) -> ApiReply {
            reply.retry_after_s = reply.retry_after_s.map(|s| s + 1);
            reply
        }
        fn sink(&self, _: SinkKind, body: Value) -> Option<(SinkKind, Value)> {
            Some((SinkKind::Email, body))
        }
        fn after_event(&self) -> Vec<(SinkKind, Value)> {
            vec![(SinkKind::Http, json!("done"))]
        }
    }

    #[tokio::test]
    async fn a_misused_io_changes_replies_and_sink_calls_and_adds_calls_after_the_event() {
        let io = FakeIo::new([throttled(3)]);
        let ctx = io.context(Vec::new());
        let flow = Misused::new(ToEmail, TeamsOnRefreshFailure::new());
        let event = failed("e1", "PoS", "2026-01-01T00:00:00Z", "j1");
        assert_eq!(flow.on_event(&ctx, event).await, 202);
        assert_eq!(io.sink_calls(SinkKind::Teams), Vec::<Value>::new());
        assert_eq!(io.sink_calls(SinkKind::Email).len(), 1);
        assert_eq!(io.sink_calls(SinkKind::Http), vec![json!("done")]);
        let misused = MisusedIo {
            io: io.clone(),
            mistake: Arc::new(ToEmail),
        };
        assert_eq!(misused.api("GET", "x", None).await.retry_after_s, Some(4));
        assert_eq!(misused.notification_url(), HOOK);
    }

    #[tokio::test]
    async fn resubscribing_declares_and_subscribes_the_new_trigger_with_edited_inputs() {
        let io = FakeIo::new([reply(201, json!({})), reply(201, json!({}))]);
        let ctx = io.context(vec![
            subscription(
                "datasource-refresh-succeeded",
                json!({"dataSourceName": "PoS"}),
            ),
            subscription(
                "datasource-refresh-failed",
                json!({"dataSourceName": "Loyalty"}),
            ),
            subscription("unification-completed", json!({})),
        ]);
        let flow = Resubscribed::new(
            "datasource-refresh-succeeded",
            |inputs| {
                inputs.remove("dataSourceName");
            },
            TeamsOnRefreshFailure::new(),
        );
        assert_eq!(flow.triggers(), ["datasource-refresh-succeeded"]);
        flow.start(&ctx).await;
        // The requested refresh failed subscription (the reference flow's own trigger) is taken
        // to the wrong trigger too; the unification one is nobody's business here.
        let call = || {
            Call::Api(
                "POST triggers/datasource-refresh-succeeded/subscriptions".to_owned(),
                Some(json!({"NotificationUrl": HOOK})),
            )
        };
        assert_eq!(io.calls(), vec![call(), call()]);
    }
}
