//! A scripted [`FlowIo`] for the flows' unit tests: it records every call and answers API calls
//! from a script.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use simulator::SimDuration;
use tokio::sync::Notify;

use crate::flow::{ApiReply, BoxFuture, FlowContext, FlowIo};
use crate::scenario::{ExpectedSubscription, SinkKind};

/// One thing a flow did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    /// `"GET data/Customer?$top=100&$skip=0"`, with the body.
    Api(String, Option<Value>),
    Sink(SinkKind, Value),
    Sleep(SimDuration),
}

pub(crate) struct FakeIo {
    /// Answers to API calls, in order; when it runs out, `201` for a `POST` and `200 {}` else.
    replies: Mutex<VecDeque<ApiReply>>,
    /// The sinks' answer.
    sink_status: Mutex<u16>,
    calls: Mutex<Vec<Call>>,
    /// After this many sleeps, the next sleep never ends (and `parked` is notified), so a test
    /// can stop a flow that loops forever.
    sleeps_left: Mutex<Option<usize>>,
    parked: Notify,
}

pub(crate) const HOOK: &str = "http://127.0.0.1:9/hook";

impl FakeIo {
    pub(crate) fn new(replies: impl IntoIterator<Item = ApiReply>) -> Arc<FakeIo> {
        Arc::new(FakeIo {
            replies: Mutex::new(replies.into_iter().collect()),
            sink_status: Mutex::new(202),
            calls: Mutex::new(Vec::new()),
            sleeps_left: Mutex::new(None),
            parked: Notify::new(),
        })
    }

    pub(crate) fn set_sink_status(&self, status: u16) {
        *self.sink_status.lock() = status;
    }

    pub(crate) fn park_after_sleeps(&self, sleeps: usize) {
        *self.sleeps_left.lock() = Some(sleeps);
    }

    /// Waits until a sleep parks (see `park_after_sleeps`).
    pub(crate) async fn parked(&self) {
        self.parked.notified().await;
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    /// The API calls as `"METHOD path"`.
    pub(crate) fn api_calls(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Api(line, _) => Some(line),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn sink_calls(&self, kind: SinkKind) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Sink(k, body) if k == kind => Some(body),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn sleeps(&self) -> Vec<SimDuration> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Sleep(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    /// A context on this IO with the given requested subscriptions.
    pub(crate) fn context(self: &Arc<Self>, requested: Vec<ExpectedSubscription>) -> FlowContext {
        FlowContext {
            io: self.clone(),
            requested,
        }
    }
}

impl FlowIo for FakeIo {
    fn api<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply> {
        Box::pin(async move {
            self.calls
                .lock()
                .push(Call::Api(format!("{method} {path}"), body));
            let scripted = self.replies.lock().pop_front();
            scripted.unwrap_or_else(|| reply(if method == "POST" { 201 } else { 200 }, json!({})))
        })
    }

    fn sink<'a>(&'a self, sink: SinkKind, body: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            self.calls.lock().push(Call::Sink(sink, body));
            *self.sink_status.lock()
        })
    }

    fn sleep<'a>(&'a self, duration: SimDuration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.calls.lock().push(Call::Sleep(duration));
            let park = {
                let mut left = self.sleeps_left.lock();
                match left.as_mut() {
                    Some(0) => true,
                    Some(n) => {
                        *n -= 1;
                        false
                    }
                    None => false,
                }
            };
            if park {
                self.parked.notify_one();
                std::future::pending::<()>().await;
            }
        })
    }

    fn notification_url(&self) -> String {
        HOOK.to_owned()
    }
}

pub(crate) fn reply(status: u16, body: Value) -> ApiReply {
    ApiReply {
        status,
        retry_after_s: None,
        location: None,
        body,
    }
}

pub(crate) fn throttled(retry_after_s: u64) -> ApiReply {
    ApiReply {
        retry_after_s: Some(retry_after_s),
        ..reply(
            429,
            json!({"statusCode": 429, "message": format!("Rate limit is exceeded. Try again in {retry_after_s} seconds.")}),
        )
    }
}

/// A `data/Customer` page of `rows` customers starting at row `first`.
pub(crate) fn customer_page(first: usize, rows: usize) -> ApiReply {
    let value: Vec<Value> = (first..first + rows)
        .map(|i| json!({"CustomerId": customer_id(i), "FullName": format!("Customer {i}")}))
        .collect();
    reply(
        200,
        json!({"@odata.context": "$metadata#Customer", "value": value}),
    )
}

pub(crate) fn customer_id(row: usize) -> String {
    format!("{row:032x}")
}

pub(crate) fn subscription(trigger: &str, inputs: Value) -> ExpectedSubscription {
    ExpectedSubscription {
        trigger: trigger.to_owned(),
        inputs: match inputs {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
    }
}
