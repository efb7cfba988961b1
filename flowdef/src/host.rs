//! What a running flow needs from the world, as a trait: the harness backs it with the simulator
//! on virtual time; tests back it with a script.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::operations::Sink;

/// A boxed future, for object-safe async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The answer to an API or sink call.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status; 0 when the call could not be made (connection failure).
    pub status: u16,
    /// `Retry-After` in seconds.
    pub retry_after_s: Option<u64>,
    /// `Location`.
    pub location: Option<String>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            retry_after_s: None,
            location: None,
            body: Value::Null,
        }
    }
}

/// The world of a running flow.
pub trait Host: Send + Sync {
    /// Calls the Customer Insights API as the connection named `connection` (each connection is
    /// its own bearer token). `path` is below the instance (`data/Customer?$top=100`); a path
    /// starting with `/` or an absolute URL is taken as is.
    fn api<'a>(
        &'a self,
        connection: &'a str,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, Reply>;

    /// Calls a downstream connector with a JSON body; returns its status (0 on a connection
    /// failure).
    fn sink<'a>(&'a self, sink: Sink, body: Value) -> BoxFuture<'a, u16>;

    /// Waits `ms` milliseconds on the host's clock.
    fn sleep<'a>(&'a self, ms: i64) -> BoxFuture<'a, ()>;

    /// The host's clock: milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// The URL deliveries reach the flow at (the subscriptions' `NotificationUrl`).
    fn notification_url(&self) -> String;
}
