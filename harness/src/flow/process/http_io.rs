//! [`HttpIo`]: a [`FlowIo`] over real HTTP and the wall clock, for a flow run as a process.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use serde_json::Value;
use simulator::SimDuration;

use super::env::ProcessEnv;
use crate::error_chain::error_chain;
use crate::flow::{ApiReply, BoxFuture, FlowIo};
use crate::scenario::SinkKind;

/// How long one API or sink call may take before it counts as a connection failure (status 0).
const CALL_TIMEOUT: Duration = Duration::from_secs(100);
/// The largest API answer read.
const REPLY_BYTES_MAX: usize = 64 << 20;

/// A [`FlowIo`] over real HTTP and the wall clock: API calls carry the flow's bearer token, sink
/// calls do not, sleeps are wall-clock sleeps, and every call is logged to stderr. It remembers
/// the `Location` of every subscription the flow registers, so that they can be deleted when the
/// flow is turned off.
pub struct HttpIo {
    /// The flow's name, prefixed to every log line.
    name: &'static str,
    client: Client<HttpConnector, Full<Bytes>>,
    api_url: String,
    instance_id: String,
    token: String,
    sink_teams_url: String,
    sink_email_url: String,
    sink_http_url: String,
    notification_url: String,
    /// The `Location` of every subscription the flow registered, to delete at shutdown.
    subscriptions: Mutex<Vec<String>>,
}

/// What came back from one HTTP call.
struct Answer {
    status: u16,
    retry_after_s: Option<u64>,
    location: Option<String>,
    body: Bytes,
}

impl std::fmt::Debug for HttpIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIo")
            .field("name", &self.name)
            .field("api_url", &self.api_url)
            .field("notification_url", &self.notification_url)
            .finish_non_exhaustive()
    }
}

impl HttpIo {
    /// An I/O for flow `name` (the prefix of its log lines) under the contract `env`, whose
    /// deliveries arrive at `notification_url`.
    pub fn new(name: &'static str, env: &ProcessEnv, notification_url: String) -> HttpIo {
        HttpIo {
            name,
            client: Client::builder(TokioExecutor::new()).build_http(),
            api_url: env.api_url.clone(),
            instance_id: env.instance_id.clone(),
            token: env.token.clone(),
            sink_teams_url: env.sink_teams_url.clone(),
            sink_email_url: env.sink_email_url.clone(),
            sink_http_url: env.sink_http_url.clone(),
            notification_url,
            subscriptions: Mutex::new(Vec::new()),
        }
    }

    /// The `Location` of every subscription the flow registered and has not handed back yet.
    pub fn registered_subscriptions(&self) -> Vec<String> {
        self.subscriptions.lock().clone()
    }

    /// Takes the subscriptions the flow registered (to delete them when it is turned off).
    pub(super) fn take_subscriptions(&self) -> Vec<String> {
        std::mem::take(&mut *self.subscriptions.lock())
    }

    /// Logs one line to stderr, prefixed with the flow's name.
    pub(super) fn log(&self, line: std::fmt::Arguments<'_>) {
        eprintln!("insightsim flow {}: {line}", self.name);
    }

    /// The URL of an API path: below the instance, below the base when it starts with `/`, or
    /// as is when absolute (a subscription's `Location`).
    fn api_url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{path}", self.api_url)
        } else {
            format!("{}/v1/instances/{}/{path}", self.api_url, self.instance_id)
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        bearer: bool,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = Request::builder().method(method).uri(url);
        if bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {}", self.token));
        }
        let bytes = match body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(body).map_err(|e| e.to_string())?)
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(bytes)).map_err(|e| e.to_string())?;
        let call = async {
            // The legacy client's error hides its cause (connection refused, ...) in its sources.
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| error_chain(&e))?;
            let (parts, body) = response.into_parts();
            let header = |name| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
            };
            let retry_after_s = header(RETRY_AFTER).and_then(|v| v.trim().parse().ok());
            let location = header(LOCATION).map(str::to_owned);
            let body = Limited::new(body, REPLY_BYTES_MAX)
                .collect()
                .await
                .map_err(|e| format!("failed to read the answer: {e}"))?
                .to_bytes();
            Ok(Answer {
                status: parts.status.as_u16(),
                retry_after_s,
                location,
                body,
            })
        };
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", CALL_TIMEOUT.as_secs())))
    }
}

impl FlowIo for HttpIo {
    fn api<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, ApiReply> {
        Box::pin(async move {
            let started = Instant::now();
            let url = self.api_url(path);
            let reply = match self.send(method, &url, true, body.as_ref()).await {
                Ok(answer) => ApiReply {
                    status: answer.status,
                    retry_after_s: answer.retry_after_s,
                    location: answer.location,
                    body: serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
                },
                Err(e) => {
                    self.log(format_args!(
                        "api {method} {path} -> connection failed: {e}"
                    ));
                    return ApiReply {
                        status: 0,
                        retry_after_s: None,
                        location: None,
                        body: Value::Null,
                    };
                }
            };
            let retry_after = reply
                .retry_after_s
                .map(|s| format!(" Retry-After {s} s"))
                .unwrap_or_default();
            self.log(format_args!(
                "api {method} {path} -> {}{retry_after} ({} ms)",
                reply.status,
                started.elapsed().as_millis()
            ));
            if method == "POST"
                && reply.status == 201
                && path.ends_with("/subscriptions")
                && let Some(location) = &reply.location
            {
                self.subscriptions.lock().push(location.clone());
            }
            reply
        })
    }

    fn sink<'a>(&'a self, sink: SinkKind, body: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let (name, url) = match sink {
                SinkKind::Teams => ("teams", &self.sink_teams_url),
                SinkKind::Email => ("email", &self.sink_email_url),
                SinkKind::Http => ("http", &self.sink_http_url),
                SinkKind::Any => {
                    self.log(format_args!("sink any -> not a sink a flow can call"));
                    return 0;
                }
            };
            match self.send("POST", url, false, Some(&body)).await {
                Ok(answer) => {
                    self.log(format_args!("sink {name} POST {url} -> {}", answer.status));
                    answer.status
                }
                Err(e) => {
                    self.log(format_args!(
                        "sink {name} POST {url} -> connection failed: {e}"
                    ));
                    0
                }
            }
        })
    }

    fn sleep<'a>(&'a self, duration: SimDuration) -> BoxFuture<'a, ()> {
        let ms = u64::try_from(duration.as_millis()).unwrap_or(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }

    fn notification_url(&self) -> String {
        self.notification_url.clone()
    }
}
