//! A flow as a standalone process (`insightsim flow NAME`), as the harness runs any
//! `--flow-cmd` (SPEC 4.1).
//!
//! The process reads the harness's environment contract ([`ProcessEnv`]), listens for the
//! connector's deliveries on `INSIGHTSIM_FLOW_ADDR`, and gives the flow a [`FlowIo`] backed by
//! real HTTP and the wall clock. It turns the flow on once it is listening (the flow registers
//! its subscriptions, pointing at `http://<FLOW_ADDR>/hook`), and on SIGTERM or Ctrl-C turns it
//! off: it stops the flow, deletes the subscriptions it registered (as Power Automate does when a
//! flow is turned off) and returns. It logs one line to stderr per delivery and per API or sink
//! call; the harness puts stderr into its reports.
//!
//! A delivery is handled on its own task, not on the connection: when the connector gives up
//! waiting (its attempt timeout, 30 s by default, is shorter than a `Retry-After`) and closes the
//! connection, the flow's work goes on, and the redelivery finds the event already handled.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use parking_lot::Mutex;
use serde_json::{Value, json};
use simulator::SimDuration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::{ApiReply, BoxFuture, Flow, FlowContext, FlowFactory, FlowIo};
use crate::scenario::{ExpectedSubscription, SinkKind};

/// The variables of the contract.
pub const API_URL: &str = "INSIGHTSIM_API_URL";
pub const INSTANCE_ID: &str = "INSIGHTSIM_INSTANCE_ID";
pub const TOKEN: &str = "INSIGHTSIM_TOKEN";
pub const FLOW_ADDR: &str = "INSIGHTSIM_FLOW_ADDR";
pub const SINK_TEAMS_URL: &str = "INSIGHTSIM_SINK_TEAMS_URL";
pub const SINK_EMAIL_URL: &str = "INSIGHTSIM_SINK_EMAIL_URL";
pub const SINK_HTTP_URL: &str = "INSIGHTSIM_SINK_HTTP_URL";
pub const SUBSCRIPTIONS: &str = "INSIGHTSIM_SUBSCRIPTIONS";

/// The path deliveries are expected on (any path is accepted).
pub const HOOK_PATH: &str = "/hook";

/// How long one API or sink call may take before it counts as a connection failure (status 0).
const CALL_TIMEOUT: Duration = Duration::from_secs(100);
/// The largest delivery body accepted.
const DELIVERY_BYTES_MAX: usize = 1 << 20;
/// The largest API answer read.
const REPLY_BYTES_MAX: usize = 64 << 20;
/// How long open connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the harness tells a flow process (SPEC 4.1), read from `INSIGHTSIM_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessEnv {
    /// The simulator's base URL, without `/v1` (`http://127.0.0.1:8080`).
    pub api_url: String,
    pub instance_id: String,
    /// The bearer token of the flow's connection.
    pub token: String,
    /// `host:port` to listen on for deliveries (port 0: any free port).
    pub flow_addr: String,
    pub sink_teams_url: String,
    pub sink_email_url: String,
    pub sink_http_url: String,
    /// The subscriptions the scenario asks for; `None`: [`default_subscriptions`].
    pub subscriptions: Option<Vec<ExpectedSubscription>>,
}

/// A variable of the contract that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("{var} is not set; set it to {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

impl ProcessEnv {
    /// Reads the contract from the process environment.
    pub fn from_env() -> Result<ProcessEnv, EnvError> {
        ProcessEnv::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads the contract through `lookup` (a variable's value, `None` when unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ProcessEnv, EnvError> {
        let required = |var: &'static str, hint: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(EnvError::Missing { var, hint })
        };
        let api_url = http_url(
            API_URL,
            required(
                API_URL,
                "the simulator's base URL, e.g. http://127.0.0.1:8080 (the API is under /v1)",
            )?,
        )?;
        let api_url = api_url.strip_suffix("/v1").unwrap_or(&api_url).to_owned();
        let subscriptions = match lookup(SUBSCRIPTIONS).filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| EnvError::Invalid {
                var: SUBSCRIPTIONS,
                value: text.clone(),
                reason: format!(
                    "{e}; give a JSON array like [{{\"trigger\": \"segment-threshold-crossed\", \"inputs\": {{\"segmentName\": \"HighValueCustomers\", \"threshold\": 1000}}}}]"
                ),
            })?),
        };
        Ok(ProcessEnv {
            api_url,
            instance_id: required(
                INSTANCE_ID,
                "the instance id (GET /v1/instances lists them)",
            )?,
            token: required(TOKEN, "the bearer token of the flow's connection")?,
            flow_addr: host_port(
                FLOW_ADDR,
                required(
                    FLOW_ADDR,
                    "the host:port to listen on for deliveries, e.g. 127.0.0.1:7070",
                )?,
            )?,
            sink_teams_url: http_url(
                SINK_TEAMS_URL,
                required(SINK_TEAMS_URL, "the URL to POST Teams messages to")?,
            )?,
            sink_email_url: http_url(
                SINK_EMAIL_URL,
                required(SINK_EMAIL_URL, "the URL to POST e-mails to")?,
            )?,
            sink_http_url: http_url(
                SINK_HTTP_URL,
                required(SINK_HTTP_URL, "the URL of the generic HTTP sink")?,
            )?,
            subscriptions,
        })
    }

    /// The contract as variables, for starting a flow process (`--flow-cmd`).
    pub fn to_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            (API_URL, self.api_url.clone()),
            (INSTANCE_ID, self.instance_id.clone()),
            (TOKEN, self.token.clone()),
            (FLOW_ADDR, self.flow_addr.clone()),
            (SINK_TEAMS_URL, self.sink_teams_url.clone()),
            (SINK_EMAIL_URL, self.sink_email_url.clone()),
            (SINK_HTTP_URL, self.sink_http_url.clone()),
        ];
        if let Some(subscriptions) = &self.subscriptions {
            let text = serde_json::to_string(subscriptions).unwrap_or_default();
            vars.push((SUBSCRIPTIONS, text));
        }
        vars
    }
}

/// An `http://` URL (the client speaks plain HTTP to the local simulator and sinks), without a
/// trailing `/`.
fn http_url(var: &'static str, value: String) -> Result<String, EnvError> {
    let invalid = |reason: &str| EnvError::Invalid {
        var,
        value: value.clone(),
        reason: reason.to_owned(),
    };
    let uri: hyper::Uri = value
        .parse()
        .map_err(|_| invalid("not a URL; write e.g. http://127.0.0.1:8080"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(invalid(
            "give an absolute http:// URL (https is not supported for the local simulator and sinks)",
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn host_port(var: &'static str, value: String) -> Result<String, EnvError> {
    let valid = value.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok()
    });
    if valid {
        Ok(value)
    } else {
        Err(EnvError::Invalid {
            var,
            value,
            reason: "give host:port, e.g. 127.0.0.1:7070 (no scheme, no path)".to_owned(),
        })
    }
}

/// One subscription per trigger the flow handles, for a process started without
/// `INSIGHTSIM_SUBSCRIPTIONS`: segment `HighValueCustomers` above 1000, measure `TotalRevenue`
/// above 1,000,000, every data source, and the triggers without inputs.
pub fn default_subscriptions(triggers: &[&str]) -> Vec<ExpectedSubscription> {
    triggers
        .iter()
        .map(|&trigger| {
            let inputs = match trigger {
                "segment-threshold-crossed" => {
                    json!({"segmentName": "HighValueCustomers", "threshold": 1000})
                }
                "measure-threshold-crossed" => {
                    json!({"measureName": "TotalRevenue", "threshold": 1_000_000})
                }
                _ => json!({}),
            };
            ExpectedSubscription {
                trigger: trigger.to_owned(),
                inputs: match inputs {
                    Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                },
            }
        })
        .collect()
}

/// Runs the flow as a process until SIGTERM or Ctrl-C; see the module docs.
pub async fn run_process(factory: &FlowFactory, env: ProcessEnv) -> anyhow::Result<()> {
    run_process_until(factory, env, shutdown_signal()).await
}

/// [`run_process`], stopping when `shutdown` completes instead of on a signal.
pub async fn run_process_until(
    factory: &FlowFactory,
    env: ProcessEnv,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&env.flow_addr)
        .await
        .with_context(|| format!("failed to listen on {FLOW_ADDR}={}", env.flow_addr))?;
    let port = listener
        .local_addr()
        .with_context(|| format!("failed to read the address bound for {FLOW_ADDR}"))?
        .port();
    let host = env
        .flow_addr
        .rsplit_once(':')
        .map_or(env.flow_addr.as_str(), |(host, _)| host);
    let notification_url = format!("http://{host}:{port}{HOOK_PATH}");

    let flow = (factory.make)();
    let requested = env
        .subscriptions
        .clone()
        .unwrap_or_else(|| default_subscriptions(&flow.triggers()));
    let io = Arc::new(HttpIo::new(factory.name, &env, notification_url));
    let ctx = FlowContext {
        io: io.clone(),
        requested,
    };
    io.log(format_args!(
        "listening for deliveries at {}",
        io.notification_url
    ));

    let shared = Arc::new(Shared {
        flow,
        ctx,
        io: io.clone(),
        runs: Mutex::new(JoinSet::new()),
    });
    serve(listener, &shared, shutdown).await;

    let mut stopped = std::mem::take(&mut *shared.runs.lock());
    stopped.shutdown().await;

    let locations = std::mem::take(&mut *io.subscriptions.lock());
    io.log(format_args!(
        "turning off: deleting {} subscription(s)",
        locations.len()
    ));
    for location in locations {
        io.api("DELETE", &location, None).await;
    }
    Ok(())
}

/// Waits for SIGTERM (what the harness sends) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                () = ctrl_c => {}
                _ = term.recv() => {}
            },
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// What every delivery needs.
struct Shared {
    flow: Arc<dyn Flow>,
    ctx: FlowContext,
    io: Arc<HttpIo>,
    /// Deliveries being handled, each on its own task (aborted at shutdown).
    runs: Mutex<JoinSet<()>>,
}

/// Accepts deliveries and runs the flow's `start` until `shutdown`; returns with `start`'s
/// future dropped (a polling loop stops there) and connections closed.
async fn serve(listener: TcpListener, shared: &Arc<Shared>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut start = shared.flow.start(&shared.ctx);
    let mut started = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = &mut start, if !started => {
                started = true;
                shared.io.log(format_args!("started"));
            }
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        shared.io.log(format_args!("failed to accept a connection: {e}"));
                        continue;
                    }
                };
                let shared = shared.clone();
                let service = service_fn(move |req| deliver(shared.clone(), req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                connections.spawn(async move {
                    let _ = conn.await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(start);
    drop(listener);
    // Runs in progress are stopped first so that their connections answer and close.
    {
        let mut runs = shared.runs.lock();
        while runs.try_join_next().is_some() {}
        if !runs.is_empty() {
            let n = runs.len();
            shared
                .io
                .log(format_args!("stopping {n} delivery run(s) in progress"));
        }
        runs.abort_all();
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    connections.shutdown().await;
}

/// Answers one delivery: the flow's status, `400` for a body that is not JSON, `405` for
/// anything but `POST`.
async fn deliver(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::POST {
        shared.io.log(format_args!(
            "delivery refused: {} {} (deliveries are POSTed) -> 405",
            req.method(),
            req.uri().path()
        ));
        let mut response = answer(405);
        response
            .headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(response);
    }
    let attempt = req
        .headers()
        .get("x-insightsim-delivery-attempt")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_owned();
    let body = match Limited::new(req.into_body(), DELIVERY_BYTES_MAX)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            shared.io.log(format_args!(
                "delivery refused: failed to read the body ({e}) -> 400"
            ));
            return Ok(answer(400));
        }
    };
    let event: Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => {
            shared.io.log(format_args!(
                "delivery refused: the body is not JSON ({e}) -> 400"
            ));
            return Ok(answer(400));
        }
    };

    let (tx, rx) = oneshot::channel();
    {
        let mut runs = shared.runs.lock();
        while runs.try_join_next().is_some() {}
        let shared = shared.clone();
        runs.spawn(async move {
            let started = Instant::now();
            let event_id = event["eventId"].as_str().unwrap_or("?").to_owned();
            let trigger = event["eventType"].as_str().unwrap_or("?").to_owned();
            let status = shared.flow.on_event(&shared.ctx, event).await;
            shared.io.log(format_args!(
                "delivery {trigger} event={event_id} attempt={attempt} -> {status} ({} ms)",
                started.elapsed().as_millis()
            ));
            let _ = tx.send(status);
        });
    }
    // Like a Power Automate webhook trigger, answer `202 Accepted` and let a long run (an
    // export waiting out a Retry-After) go on in the background; a run that ends quickly
    // answers its own status (a 400 for a payload it cannot use). The run is stopped only at
    // shutdown: then the flow is going away.
    match tokio::time::timeout(QUICK_ANSWER, rx).await {
        Ok(status) => Ok(answer(status.unwrap_or(503))),
        Err(_) => Ok(answer(202)),
    }
}

/// How long a delivery waits for the run before it is answered `202` (the run goes on).
const QUICK_ANSWER: Duration = Duration::from_secs(2);

fn answer(status: u16) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// A [`FlowIo`] over real HTTP and the wall clock.
struct HttpIo {
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

impl HttpIo {
    fn new(name: &'static str, env: &ProcessEnv, notification_url: String) -> HttpIo {
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

    fn log(&self, line: std::fmt::Arguments<'_>) {
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

/// An error and its causes: "client error (Connect): tcp connect error: Connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
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

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::flows::find_flow;

    fn vars(overrides: &[(&str, Option<&str>)]) -> impl Fn(&str) -> Option<String> {
        let mut all: Vec<(String, Option<String>)> = [
            (API_URL, "http://127.0.0.1:8080/"),
            (INSTANCE_ID, "i1"),
            (TOKEN, "t0k"),
            (FLOW_ADDR, "127.0.0.1:7070"),
            (SINK_TEAMS_URL, "http://127.0.0.1:9001/teams/message"),
            (SINK_EMAIL_URL, "http://127.0.0.1:9002/email/send"),
            (SINK_HTTP_URL, "http://127.0.0.1:9003/http"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
        .collect();
        for (k, v) in overrides {
            all.retain(|(name, _)| name != k);
            all.push(((*k).to_owned(), v.map(str::to_owned)));
        }
        move |var| {
            all.iter()
                .find(|(k, _)| k == var)
                .and_then(|(_, v)| v.clone())
        }
    }

    /// Reads the environment with `overrides`; checks the error message, or success.
    fn check(overrides: &[(&str, Option<&str>)], error: Option<&str>) -> Option<ProcessEnv> {
        match (ProcessEnv::from_lookup(vars(overrides)), error) {
            (Ok(env), None) => Some(env),
            (Err(e), Some(expected)) => {
                assert!(e.to_string().starts_with(expected), "{e}");
                None
            }
            (got, expected) => panic!("expected {expected:?}, got {got:?}"),
        }
    }

    #[test]
    fn reads_the_environment_contract() {
        let env = check(&[], None);
        assert_eq!(
            env,
            Some(ProcessEnv {
                api_url: "http://127.0.0.1:8080".to_owned(),
                instance_id: "i1".to_owned(),
                token: "t0k".to_owned(),
                flow_addr: "127.0.0.1:7070".to_owned(),
                sink_teams_url: "http://127.0.0.1:9001/teams/message".to_owned(),
                sink_email_url: "http://127.0.0.1:9002/email/send".to_owned(),
                sink_http_url: "http://127.0.0.1:9003/http".to_owned(),
                subscriptions: None,
            })
        );
        let with_v1 = check(&[(API_URL, Some("http://localhost:8080/v1"))], None);
        assert_eq!(
            with_v1.map(|e| e.api_url).as_deref(),
            Some("http://localhost:8080")
        );
    }

    #[test]
    fn names_a_missing_variable() {
        check(
            &[(TOKEN, None)],
            Some("INSIGHTSIM_TOKEN is not set; set it to"),
        );
        check(
            &[(SINK_EMAIL_URL, Some(" "))],
            Some("INSIGHTSIM_SINK_EMAIL_URL is not set"),
        );
    }

    #[test]
    fn names_an_invalid_variable() {
        check(
            &[(API_URL, Some("https://example.com"))],
            Some(
                "INSIGHTSIM_API_URL=\"https://example.com\" is invalid: give an absolute http:// URL",
            ),
        );
        check(
            &[(FLOW_ADDR, Some("http://127.0.0.1:7070"))],
            Some("INSIGHTSIM_FLOW_ADDR=\"http://127.0.0.1:7070\" is invalid: give host:port"),
        );
        check(
            &[(
                SUBSCRIPTIONS,
                Some("[{\"trigger\": \"segment-threshold-crossed\", \"input\": {}}]"),
            )],
            Some("INSIGHTSIM_SUBSCRIPTIONS=\"[{\\\"trigger\\\""),
        );
    }

    #[test]
    fn reads_subscriptions_and_writes_the_same_variables_back() {
        let text = r#"[{"trigger": "segment-threshold-crossed", "inputs": {"segmentName": "ChurnRisk", "threshold": 50}}]"#;
        let env = check(&[(SUBSCRIPTIONS, Some(text))], None);
        let env = env.unwrap_or_else(|| unreachable!());
        assert_eq!(
            env.subscriptions
                .as_deref()
                .map(|s| s[0].inputs["segmentName"].clone()),
            Some(json!("ChurnRisk"))
        );
        let written = env.to_vars();
        let again = ProcessEnv::from_lookup(|var| {
            written
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(again, Ok(env));
    }

    #[test]
    fn defaults_to_one_subscription_per_trigger() {
        let subs = default_subscriptions(&[
            "segment-threshold-crossed",
            "measure-threshold-crossed",
            "datasource-refresh-failed",
        ]);
        let as_json: Vec<Value> = subs
            .iter()
            .map(|s| json!({"trigger": s.trigger, "inputs": s.inputs}))
            .collect();
        assert_eq!(
            as_json,
            [
                json!({"trigger": "segment-threshold-crossed", "inputs": {"segmentName": "HighValueCustomers", "threshold": 1000}}),
                json!({"trigger": "measure-threshold-crossed", "inputs": {"measureName": "TotalRevenue", "threshold": 1_000_000}}),
                json!({"trigger": "datasource-refresh-failed", "inputs": {}}),
            ]
        );
    }

    /// A request the fake API and sinks server received.
    #[derive(Debug)]
    struct Seen {
        method: String,
        uri: String,
        authorization: Option<String>,
        body: Value,
    }

    /// One server standing in for the simulator's API (`/v1/...`) and the sinks (`/sinks/...`).
    struct FakeServer {
        url: String,
        seen: mpsc::UnboundedReceiver<Seen>,
        task: JoinHandle<()>,
    }

    impl Drop for FakeServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Subscriptions get `201` and a `Location`, `DELETE` `204`, data calls a `429`, sinks `202`.
    fn fake_answer(seen: &Seen, base: &str) -> Response<Full<Bytes>> {
        let mut response = answer(404);
        match (seen.method.as_str(), seen.uri.as_str()) {
            ("POST", uri) if uri.ends_with("/subscriptions") => {
                *response.status_mut() = StatusCode::CREATED;
                let location = format!("{base}{uri}/sub-1");
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(LOCATION, value);
                }
            }
            ("DELETE", _) => *response.status_mut() = StatusCode::NO_CONTENT,
            ("GET", uri) if uri.contains("/data/") => {
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("7"));
                *response.body_mut() = Full::new(Bytes::from_static(
                    br#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 7 seconds."}"#,
                ));
            }
            ("POST", uri) if uri.starts_with("/sinks/") => {
                *response.status_mut() = StatusCode::ACCEPTED;
            }
            _ => {}
        }
        response
    }

    async fn fake_server() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, seen) = mpsc::unbounded_channel();
        let base = url.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (tx, base) = (tx.clone(), base.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (tx, base) = (tx.clone(), base.clone());
                    async move {
                        let method = req.method().to_string();
                        let uri = req.uri().to_string();
                        let authorization = req
                            .headers()
                            .get(AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let bytes = req.into_body().collect().await.unwrap().to_bytes();
                        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        let seen = Seen {
                            method,
                            uri,
                            authorization,
                            body,
                        };
                        let response = fake_answer(&seen, &base);
                        let _ = tx.send(seen);
                        Ok::<_, Infallible>(response)
                    }
                });
                connections.spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        FakeServer { url, seen, task }
    }

    fn env_for(server: &FakeServer) -> ProcessEnv {
        ProcessEnv {
            api_url: server.url.clone(),
            instance_id: "i1".to_owned(),
            token: "t0k".to_owned(),
            flow_addr: "127.0.0.1:0".to_owned(),
            sink_teams_url: format!("{}/sinks/teams", server.url),
            sink_email_url: format!("{}/sinks/email", server.url),
            sink_http_url: format!("{}/sinks/http", server.url),
            subscriptions: None,
        }
    }

    async fn post(url: &str, body: &str) -> u16 {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = Request::post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        client.request(request).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn subscribes_handles_a_delivery_and_unsubscribes_on_shutdown() {
        let mut server = fake_server().await;
        let factory = find_flow("teams-on-refresh-failure").unwrap();
        let env = env_for(&server);
        let (stop, stopped) = oneshot::channel::<()>();
        let process = tokio::spawn(async move {
            run_process_until(&factory, env, async {
                let _ = stopped.await;
            })
            .await
        });

        let subscribed = server.seen.recv().await.unwrap();
        let subscriptions = "/v1/instances/i1/triggers/datasource-refresh-failed/subscriptions";
        assert_eq!(
            (subscribed.method.as_str(), subscribed.uri.as_str()),
            ("POST", subscriptions)
        );
        assert_eq!(subscribed.authorization.as_deref(), Some("Bearer t0k"));
        let hook = subscribed.body["NotificationUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            hook.starts_with("http://127.0.0.1:") && hook.ends_with("/hook"),
            "{hook}"
        );
        assert!(
            !hook.starts_with("http://127.0.0.1:0/"),
            "the bound port, not 0: {hook}"
        );
        assert_eq!(
            subscribed.body.as_object().map(|o| o.len()),
            Some(1),
            "no other inputs"
        );

        let event = json!({
            "eventId": "e1",
            "eventType": "datasource-refresh-failed",
            "dataSourceName": "PoS",
            "friendlyName": "Point of Sale",
            "errors": [{"errorCode": "TaskFailed", "message": "boom"}],
        });
        assert_eq!(post(&hook, &event.to_string()).await, 202);
        let message = server.seen.recv().await.unwrap();
        assert_eq!(
            (message.method.as_str(), message.uri.as_str()),
            ("POST", "/sinks/teams")
        );
        assert_eq!(message.authorization, None, "the token is for the API only");
        assert_eq!(
            message.body["text"],
            "Point of Sale (PoS) failed to refresh: boom"
        );

        assert_eq!(post(&hook, "{not json").await, 400);
        assert_eq!(post(&hook, &event.to_string()).await, 202, "a redelivery");

        stop.send(()).unwrap();
        process.await.unwrap().unwrap();
        let deleted = server.seen.recv().await.unwrap();
        assert_eq!(
            (deleted.method.as_str(), deleted.uri.as_str()),
            ("DELETE", format!("{subscriptions}/sub-1").as_str())
        );
        assert!(server.seen.try_recv().is_err(), "one Teams message in all");
    }

    #[tokio::test]
    async fn the_http_io_resolves_paths_and_reads_retry_after_and_location() {
        let mut server = fake_server().await;
        let io = HttpIo::new(
            "test",
            &env_for(&server),
            "http://127.0.0.1:1/hook".to_owned(),
        );

        let throttled = io.api("GET", "data/Customer?$top=1", None).await;
        assert_eq!((throttled.status, throttled.retry_after_s), (429, Some(7)));
        assert_eq!(throttled.body["statusCode"], 429);
        assert_eq!(
            server.seen.recv().await.unwrap().uri,
            "/v1/instances/i1/data/Customer?$top=1"
        );

        let created = io
            .api(
                "POST",
                "triggers/full-refresh-completed/subscriptions",
                Some(json!({})),
            )
            .await;
        let location = format!(
            "{}/v1/instances/i1/triggers/full-refresh-completed/subscriptions/sub-1",
            server.url
        );
        assert_eq!(
            (created.status, created.location.as_deref()),
            (201, Some(location.as_str()))
        );
        assert_eq!(*io.subscriptions.lock(), std::slice::from_ref(&location));
        let _ = server.seen.recv().await;

        assert_eq!(io.api("DELETE", &location, None).await.status, 204);
        assert_eq!(io.api("GET", "/v1/instances", None).await.status, 404);
        let uris: Vec<String> = [server.seen.recv().await, server.seen.recv().await]
            .into_iter()
            .flatten()
            .map(|s| s.uri)
            .collect();
        assert_eq!(
            uris,
            [
                "/v1/instances/i1/triggers/full-refresh-completed/subscriptions/sub-1",
                "/v1/instances"
            ]
        );

        drop(server);
        assert_eq!(
            io.api("GET", "manage/segments", None).await.status,
            0,
            "connection refused"
        );
    }

    /// A reference flow that also announces when its `start` has returned (its subscriptions
    /// exist), so a test can go on without polling.
    struct Announcing {
        inner: Arc<dyn Flow>,
        started: &'static tokio::sync::Notify,
    }

    impl Flow for Announcing {
        fn triggers(&self) -> Vec<&'static str> {
            self.inner.triggers()
        }

        fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
            Box::pin(async move {
                self.inner.start(ctx).await;
                self.started.notify_one();
            })
        }

        fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
            self.inner.on_event(ctx, event)
        }
    }

    /// The simulator with its HTTP server and delivery driver, on a clock 1000× the wall clock.
    async fn simulator(
        customers: usize,
    ) -> (
        Arc<simulator::Simulator>,
        simulator::server::ServerHandle,
        simulator::driver::Driver,
    ) {
        let mut spec = simulator::tenant::TenantSpec::demo();
        spec.customers = customers;
        spec.refresh.schedule_enabled = false;
        spec.refresh.failures = simulator::tenant::spec::FailureRates {
            transient: 0.0,
            permanent: 0.0,
            timeout: 0.0,
        };
        let clock = simulator::Clock::running_from(simulator::SimTime::DEFAULT_EPOCH, 1000.0);
        let sim = Arc::new(simulator::Simulator::new(simulator::SimConfig::new(
            spec, clock,
        )));
        let handle = simulator::server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let driver = simulator::driver::Driver::spawn(sim.clone());
        (sim, handle, driver)
    }

    /// The next request the fake sinks saw (a bound, so a broken flow fails instead of hanging).
    async fn next(server: &mut FakeServer) -> Seen {
        tokio::time::timeout(Duration::from_secs(30), server.seen.recv())
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exports_every_customer_from_the_real_simulator_after_a_full_refresh() {
        static STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();
        let (sim, api, driver) = simulator(250).await;
        let mut sinks = fake_server().await;
        let env = ProcessEnv {
            api_url: api.base_url(),
            instance_id: sim.instance_id.clone(),
            ..env_for(&sinks)
        };
        let factory = FlowFactory {
            name: "export-on-full-refresh",
            description: "",
            broken: None,
            make: || {
                Arc::new(Announcing {
                    inner: Arc::new(crate::flows::ExportOnFullRefresh::new()),
                    started: &STARTED,
                })
            },
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let process = tokio::spawn(async move {
            run_process_until(&factory, env, async {
                let _ = stopped.await;
            })
            .await
        });
        STARTED.notified().await;

        let refresh = format!("{}/_sim/refresh", api.base_url());
        assert_eq!(post(&refresh, r#"{"kind": "scheduled"}"#).await, 202);
        let mut pages = Vec::new();
        let mut ids = std::collections::BTreeSet::new();
        for _ in 0..3 {
            let page = next(&mut sinks).await;
            assert_eq!(page.uri, "/sinks/http");
            let b = &page.body;
            pages.push((b["page"].clone(), b["skip"].clone(), b["rows"].clone()));
            for id in b["customerIds"].as_array().unwrap() {
                assert!(ids.insert(id.as_str().unwrap().to_owned()), "{id} twice");
            }
        }
        assert_eq!(
            pages,
            [(1, 0, 100), (2, 100, 100), (3, 200, 50)].map(|(p, s, r)| (
                json!(p),
                json!(s),
                json!(r)
            ))
        );
        assert_eq!(ids.len(), 250);

        stop.send(()).unwrap();
        process.await.unwrap().unwrap();
        let subscriptions = sim.subscriptions();
        assert_eq!(subscriptions.len(), 1);
        assert!(subscriptions[0].deleted_at.is_some(), "deleted at shutdown");
        driver.shutdown().await;
        api.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn emails_the_first_members_fetched_from_the_real_simulator_on_a_crossing() {
        static STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();
        let (sim, api, driver) = simulator(300).await;
        let count = sim
            .segments()
            .iter()
            .find(|s| s.name == "HighValueCustomers")
            .map(|s| s.evaluation_status.entity_count)
            .unwrap();
        let mut sinks = fake_server().await;
        let inputs = json!({"segmentName": "HighValueCustomers", "threshold": count});
        let env = ProcessEnv {
            api_url: api.base_url(),
            instance_id: sim.instance_id.clone(),
            subscriptions: Some(vec![ExpectedSubscription {
                trigger: "segment-threshold-crossed".to_owned(),
                inputs: inputs.as_object().cloned().unwrap(),
            }]),
            ..env_for(&sinks)
        };
        let factory = FlowFactory {
            name: "email-on-segment-threshold",
            description: "",
            broken: None,
            make: || {
                Arc::new(Announcing {
                    inner: Arc::new(crate::flows::EmailOnSegmentThreshold::default()),
                    started: &STARTED,
                })
            },
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let process = tokio::spawn(async move {
            run_process_until(&factory, env, async {
                let _ = stopped.await;
            })
            .await
        });
        STARTED.notified().await;

        let evaluate = format!(
            "{}/_sim/segments/HighValueCustomers/evaluate",
            api.base_url()
        );
        let crossed = json!({"entityCount": count + 3}).to_string();
        assert_eq!(post(&evaluate, &crossed).await, 200);
        let email = next(&mut sinks).await;
        assert_eq!(email.uri, "/sinks/email");
        assert_eq!(
            email.body["subject"],
            format!(
                "Segment HighValueCustomers crossed {count}: {} members",
                count + 3
            )
        );
        let members = email.body["firstMembers"].as_array().unwrap();
        assert_eq!(members.len(), 10);
        assert!(
            members
                .iter()
                .all(|m| m["FullName"].is_string() && m["EMail"].is_string())
        );

        stop.send(()).unwrap();
        process.await.unwrap().unwrap();
        driver.shutdown().await;
        api.shutdown(Duration::from_secs(1)).await;
    }
}
