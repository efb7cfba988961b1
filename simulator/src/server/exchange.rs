//! One request and its answer: the gate's refusals, the target and body limits, the base of
//! absolute URLs, and heavy work run off the I/O threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use tokio::sync::Semaphore;

use super::gate::{Busy, ConnState, REFUSED_HEADER};
use super::limits::{ServerLimits, malformed_body};
use super::pieces::Pieces;
use crate::addresses::is_loopback;
use crate::api::{self, ApiError, ApiRequest, ApiResponse, Heavy, Staged};
use crate::clock::Deadline;
use crate::sim::Simulator;

/// API Management's subscription key.
static SUBSCRIPTION_KEY: HeaderName = HeaderName::from_static("ocp-apim-subscription-key");
/// The control API's admin token.
static ADMIN_TOKEN: HeaderName = HeaderName::from_static("x-insightsim-admin-token");

/// Returned to hyper to close a connection without an answer (an injected fault).
#[derive(Debug)]
pub struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedConnection {}

/// What every request of a server shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) sim: Arc<Simulator>,
    pub(super) limits: ServerLimits,
    /// Heavy queries running at once (`limits.server_queries_max`).
    pub(super) queries: Arc<Semaphore>,
}

/// One connection: its addresses and the state it shares with its gate.
#[derive(Debug)]
pub(super) struct Connection {
    pub(super) shared: Arc<Shared>,
    pub(super) peer: SocketAddr,
    /// The address the client connected to (absolute URLs fall back to it).
    pub(super) local: SocketAddr,
    pub(super) state: Arc<ConnState>,
}

/// An answer, and whether the connection closes after it.
struct Answer {
    response: ApiResponse,
    close: bool,
}

impl From<ApiResponse> for Answer {
    fn from(response: ApiResponse) -> Answer {
        Answer {
            response,
            close: false,
        }
    }
}

impl Answer {
    /// A refusal after which the rest of the request (its body) is not read: the connection
    /// closes.
    fn closing(error: ApiError) -> Answer {
        Answer {
            response: error.into(),
            close: true,
        }
    }
}

impl Connection {
    pub(super) async fn serve(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Pieces>, DroppedConnection> {
        // Observed by the harness: a client with a request in flight is working.
        let _in_flight = self.shared.sim.request_started();
        let busy = self.state.busy();
        let answer = self.answer(req).await;
        if answer.response.drop_connection {
            return Err(DroppedConnection);
        }
        Ok(to_http(answer, busy))
    }

    async fn answer(&self, req: Request<Incoming>) -> Answer {
        let limits = &self.shared.limits;
        if req.headers().contains_key(&REFUSED_HEADER)
            && let Some(refusal) = self.state.take_refusal()
        {
            return Answer::closing(refusal);
        }
        let (parts, body) = req.into_parts();
        let target_bytes = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
        if target_bytes > limits.url_bytes_max {
            return Answer::closing(limits.url_too_long(target_bytes));
        }
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.body_bytes_max as u64) {
            // Refused before a byte of the body is read.
            return Answer::closing(limits.body_too_large());
        }
        let collected = tokio::time::timeout(
            limits.body_read_timeout,
            Limited::new(body, limits.body_bytes_max).collect(),
        )
        .await;
        let body = match collected {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Answer::closing(limits.body_too_large());
            }
            Ok(Err(e)) => return Answer::closing(malformed_body(&error_chain(e.as_ref()))),
            Err(_) => return Answer::closing(limits.body_too_slow()),
        };
        let header = |name: &HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let base_url = self.base_url(header(&http::header::HOST));
        let api_req = ApiRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            authorization: header(&http::header::AUTHORIZATION),
            subscription_key: header(&SUBSCRIPTION_KEY),
            admin_token: header(&ADMIN_TOKEN),
            body: &body,
            base_url: &base_url,
            peer_loopback: is_loopback(self.peer.ip()),
        };
        let sim = &self.shared.sim;
        let response = match api::stage(sim, &api_req) {
            Staged::Ready(response) => response,
            Staged::Query(work) => self.query(work).await,
            Staged::Blocking(work) => {
                let sim = sim.clone();
                tokio::task::spawn_blocking(move || work.run(&sim, &Deadline::unbounded()))
                    .await
                    .unwrap_or_else(|_| internal_error())
            }
        };
        if let Some(delay) = response.delay {
            // Injected latency is simulated time: scale it like every other duration.
            let wait = sim
                .clock
                .wall_until(sim.now() + delay)
                .unwrap_or(Duration::from_millis(delay.as_millis().max(0) as u64));
            tokio::time::sleep(wait).await;
        }
        response.into()
    }

    /// Runs a heavy query on the blocking pool, at most `limits.server_queries_max` at once,
    /// within `limits.server_query_time_max` from now (waiting for a turn included). If the
    /// client goes away, the query stops at its next look at the deadline.
    async fn query(&self, work: Heavy) -> ApiResponse {
        let deadline = Deadline::after(self.shared.limits.query_time_max);
        let _cancel = CancelOnDrop(deadline.clone());
        let wait = deadline.remaining().unwrap_or(Duration::ZERO);
        let Ok(Ok(permit)) =
            tokio::time::timeout(wait, self.shared.queries.clone().acquire_owned()).await
        else {
            return self.shared.limits.queries_busy().into();
        };
        let sim = self.shared.sim.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work.run(&sim, &deadline)
        })
        .await
        .unwrap_or_else(|_| internal_error())
    }

    /// The scheme and authority of absolute URLs: `--public-url` when set; otherwise the `Host`
    /// the client sent if it names this simulator (so `localhost:8080` stays itself), else the
    /// address the client connected to. An unchecked `Host` is never echoed.
    fn base_url(&self, host: Option<&str>) -> String {
        let sim = &self.shared.sim;
        if let Some(public) = &sim.public_url {
            return public.base.clone();
        }
        if let Some(authority) = host.and_then(|h| h.parse::<http::uri::Authority>().ok()) {
            let port = authority.port_u16().unwrap_or(80);
            if sim.names_self(authority.host(), port) {
                return format!("http://{authority}");
            }
        }
        let local = SocketAddr::new(self.local.ip().to_canonical(), self.local.port());
        format!("http://{local}")
    }
}

/// Cancels a deadline when the request's future is dropped (the client went away).
struct CancelOnDrop(Deadline);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn internal_error() -> ApiResponse {
    ApiError::new(
        500,
        "InternalError",
        "the simulator failed while answering; please report it with the request",
    )
    .into()
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn to_http(answer: Answer, busy: Busy) -> Response<Pieces> {
    let r = answer.response;
    let mut response = Response::new(Pieces::from(r.body).busy_until_sent(busy));
    *response.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    for (name, value) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.append(name, v);
        }
    }
    if answer.close {
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
