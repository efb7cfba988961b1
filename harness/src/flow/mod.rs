//! The flow under test, as the harness sees it.
//!
//! A flow receives the connector's webhook deliveries and reacts: it calls the Customer Insights
//! API and the downstream connectors ("sinks": a Teams message, an e-mail, any HTTP call). The
//! harness plugs in any flow three ways (SPEC 4.1): a URL, a command, or an in-process
//! implementation of [`Flow`]. In-process flows do their I/O through a [`FlowIo`], which the
//! harness backs with the simulator itself on virtual time; the same flow code runs as a process
//! (`insightsim flow NAME`) with a [`FlowIo`] backed by real HTTP and the wall clock.

pub mod definition;
pub mod process;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use simulator::{SimDuration, SimTime};

use crate::scenario::{ExpectedSubscription, SinkKind};

/// A boxed future, for object-safe async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The answer to one API call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiReply {
    pub status: u16,
    /// `Retry-After` in seconds, on a `429`.
    pub retry_after_s: Option<u64>,
    /// `Location`, on a `201`.
    pub location: Option<String>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

/// What a flow can do to the outside world.
pub trait FlowIo: Send + Sync {
    /// Calls the Customer Insights API. `path` is below the instance
    /// (`data/Customer?$top=100`, `triggers/segment-threshold-crossed/subscriptions`); a path
    /// starting with `/` is taken as is. A connection failure is a status 0.
    fn api<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply>;
    /// Calls a downstream connector; returns the HTTP status (0 on a connection failure).
    fn sink<'a>(&'a self, sink: SinkKind, body: Value) -> BoxFuture<'a, u16>;
    /// Waits (simulated time in the harness, wall time in a process).
    fn sleep<'a>(&'a self, duration: SimDuration) -> BoxFuture<'a, ()>;
    /// The URL the flow's webhook endpoint is reachable at (the `NotificationUrl` it subscribes
    /// with).
    fn notification_url(&self) -> String;

    /// Calls the API as the named connection of a flow definition (each connection reference is
    /// its own bearer token, graded as its own connection). The default calls as the flow's one
    /// connection.
    fn api_as<'a>(
        &'a self,
        connection: &'a str,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply> {
        let _ = connection;
        self.api(method, path, body)
    }

    /// The flow's clock (`utcNow()` of a flow definition): simulated time in the harness. The
    /// default is the wall clock, right for a flow running as a process.
    fn now(&self) -> SimTime {
        simulator::Clock::wall(1.0).now()
    }
}

/// A flow's handle on the world for one scenario.
#[derive(Clone)]
pub struct FlowContext {
    pub io: Arc<dyn FlowIo>,
    /// The subscriptions the scenario asks for (a correct flow subscribes exactly so).
    pub requested: Vec<ExpectedSubscription>,
}

impl std::fmt::Debug for FlowContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowContext")
            .field("requested", &self.requested)
            .finish_non_exhaustive()
    }
}

/// An in-process flow. One instance serves one scenario (state such as already-seen event ids
/// lives in it), so reference flows are registered as factories ([`FlowFactory`]).
pub trait Flow: Send + Sync {
    /// The trigger ids this flow handles (a case needing another trigger is skipped).
    fn triggers(&self) -> Vec<&'static str>;

    /// Turns the flow on: register its subscriptions through `ctx.io.api(...)` (as Power
    /// Automate does when a flow is saved), and start anything it runs on its own (a polling
    /// loop). The default subscribes to every requested subscription of its triggers.
    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mine = self.triggers();
            for sub in ctx
                .requested
                .iter()
                .filter(|s| mine.contains(&s.trigger.as_str()))
            {
                subscribe(ctx, &sub.trigger, &sub.inputs).await;
            }
        })
    }

    /// Handles one delivery; returns the status the flow's endpoint answers (`202` normally).
    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16>;

    /// Turns the flow off when the case ends, as a flow maker turning a cloud flow off does (Power
    /// Automate then deletes its subscriptions). The harness calls it on simulated time once the
    /// case's timeline is over and before it gathers what happened; the default does nothing.
    fn stop<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        let _ = ctx;
        Box::pin(async {})
    }

    /// The runs the flow recorded since the last call, as Power Automate's run history shows
    /// them (a flow definition keeps one); the default has none.
    fn take_runs(&self) -> Vec<crate::history::FlowRun> {
        Vec::new()
    }
}

/// Registers one subscription with the flow's `NotificationUrl`; returns the API's answer.
pub async fn subscribe(
    ctx: &FlowContext,
    trigger: &str,
    inputs: &serde_json::Map<String, Value>,
) -> ApiReply {
    let mut body = inputs.clone();
    body.insert(
        "NotificationUrl".to_owned(),
        Value::String(ctx.io.notification_url()),
    );
    ctx.io
        .api(
            "POST",
            &format!("triggers/{trigger}/subscriptions"),
            Some(Value::Object(body)),
        )
        .await
}

/// A named flow the harness can build (reference flows and their broken variants).
#[derive(Clone, Copy)]
pub struct FlowFactory {
    pub name: &'static str,
    pub description: &'static str,
    /// For a deliberately broken variant: the real-world mistake it makes.
    pub broken: Option<&'static str>,
    pub make: fn() -> Arc<dyn Flow>,
}

impl std::fmt::Debug for FlowFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowFactory")
            .field("name", &self.name)
            .field("broken", &self.broken)
            .finish()
    }
}
