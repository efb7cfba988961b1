//! The I/O of an in-process flow: the API in-process (no sockets, same auth, call limit and
//! journal as over HTTP), sinks over loopback HTTP, and sleeps on virtual time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use simulator::api::{self, ApiRequest};
use simulator::{SimDuration, Simulator};

use super::time::TimeCtl;
use crate::flow::{ApiReply, BoxFuture, FlowIo};
use crate::scenario::SinkKind;

/// Deliveries to this URL go to the in-process flow instead of over HTTP. It is a loopback
/// address (so the simulator accepts it as a `NotificationUrl`) on the discard port.
pub const IN_PROCESS_HOOK: &str = "http://127.0.0.1:9/in-process-flow";

/// The base URL the in-process API reports in links.
const IN_PROCESS_BASE: &str = "http://127.0.0.1";

/// A small HTTP client for JSON POSTs (sinks).
#[derive(Debug, Clone)]
pub struct HttpPoster {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpPoster {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        HttpPoster {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

impl HttpPoster {
    /// POSTs `body` as JSON; returns the status (0 when the call failed or took over 10 s).
    pub async fn post_json(&self, url: &str, body: &Value) -> u16 {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let Ok(request) = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
        else {
            return 0;
        };
        let call = async {
            let response = self.client.request(request).await.ok()?;
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            Some(status)
        };
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
    }
}

/// The in-process [`FlowIo`].
pub struct InProcessIo {
    pub sim: Arc<Simulator>,
    pub token: String,
    pub time: TimeCtl,
    pub sink_urls: [(SinkKind, String); 3],
    pub http: HttpPoster,
}

impl InProcessIo {
    /// Calls the API with the bearer token `token`.
    fn call<'a>(
        &'a self,
        token: String,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply> {
        Box::pin(async move {
            // An absolute URL (a `Location`) is taken by its path: in-process there is one server.
            let path = match path
                .strip_prefix("http://")
                .or_else(|| path.strip_prefix("https://"))
            {
                Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
                None => path,
            };
            let full = if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/v1/instances/{}/{path}", self.sim.instance_id)
            };
            let (path, query) = match full.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (full.as_str(), None),
            };
            let body = body
                .map(|b| serde_json::to_vec(&b).unwrap_or_default())
                .unwrap_or_default();
            let authorization = format!("Bearer {token}");
            let response = api::handle(
                &self.sim,
                &ApiRequest {
                    method,
                    path,
                    query,
                    authorization: Some(&authorization),
                    subscription_key: None,
                    admin_token: None,
                    body: &body,
                    base_url: IN_PROCESS_BASE,
                    peer_loopback: true,
                },
            );
            if let Some(delay) = response.delay {
                self.time.sleep(delay).await;
            }
            if response.drop_connection {
                return ApiReply {
                    status: 0,
                    retry_after_s: None,
                    location: None,
                    body: Value::Null,
                };
            }
            ApiReply {
                status: response.status,
                retry_after_s: response.header("Retry-After").and_then(|v| v.parse().ok()),
                location: response.header("Location").map(str::to_owned),
                body: serde_json::from_slice(&response.bytes()).unwrap_or(Value::Null),
            }
        })
    }
}

impl FlowIo for InProcessIo {
    fn api<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply> {
        self.call(self.token.clone(), method, path, body)
    }

    /// A named connection is the token `flow:<connection>`.
    fn api_as<'a>(
        &'a self,
        connection: &'a str,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply> {
        let token = if connection.is_empty() {
            self.token.clone()
        } else {
            format!("{}:{connection}", self.token)
        };
        self.call(token, method, path, body)
    }

    fn now(&self) -> simulator::SimTime {
        self.time.clock.now()
    }

    fn sink<'a>(&'a self, sink: SinkKind, body: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let url = self
                .sink_urls
                .iter()
                .find(|(k, _)| *k == sink)
                .map_or(self.sink_urls[2].1.as_str(), |(_, u)| u.as_str());
            self.http.post_json(url, &body).await
        })
    }

    fn sleep<'a>(&'a self, duration: SimDuration) -> BoxFuture<'a, ()> {
        Box::pin(self.time.sleep(duration))
    }

    fn notification_url(&self) -> String {
        IN_PROCESS_HOOK.to_owned()
    }
}
