//! The HTTP shell: hyper on tokio, translating HTTP to [`api::handle`] and back.
//!
//! It holds no business logic. What it does own is the protection of the simulator process
//! itself — a cap on simultaneous connections, on request head size and on body size — which is
//! separate from the simulated connector's call limit and is named "server limit" in every error.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::api::{self, ApiError, ApiRequest, ApiResponse};
use crate::body::Body;
use crate::sim::Simulator;

/// The server's own protection (not the simulated connector limit).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub connections_max: usize,
    pub body_bytes_max: usize,
    pub header_bytes_max: usize,
}

impl ServerLimits {
    pub fn from_spec(sim: &Simulator) -> ServerLimits {
        let l = &sim.spec.limits;
        ServerLimits {
            connections_max: l.server_connections_max.max(1),
            body_bytes_max: l.server_body_bytes_max,
            header_bytes_max: l.server_header_bytes_max,
        }
    }
}

/// A running server: its address, and how to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Stops accepting, lets in-flight requests finish (up to `grace`), and waits.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(grace + Duration::from_secs(1), self.task).await;
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }
}

/// Binds `addr` and serves `sim` until the handle is shut down.
pub async fn start(sim: Arc<Simulator>, addr: SocketAddr) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    Ok(start_on(sim, listener))
}

/// Serves `sim` on an already bound listener.
pub fn start_on(sim: Arc<Simulator>, listener: TcpListener) -> ServerHandle {
    let limits = ServerLimits::from_spec(&sim);
    let local_addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (shutdown, mut stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        let permits = Arc::new(Semaphore::new(limits.connections_max));
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => break,
            };
            let Ok((stream, peer)) = accepted else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tokio::spawn(refuse_connection(stream, limits.connections_max));
                continue;
            };
            let sim = sim.clone();
            let service = service_fn(move |req| {
                let sim = sim.clone();
                async move {
                    // Observed by the harness: a client with a request in flight is working.
                    let _in_flight = sim.request_started();
                    serve_request(&sim, req, peer, limits).await
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .max_buf_size(limits.header_bytes_max.max(8192))
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
        drop(listener);
        let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    });
    ServerHandle {
        local_addr,
        shutdown,
        task,
    }
}

/// Over the connection cap: a one-off `503` and close.
async fn refuse_connection(mut stream: TcpStream, max: usize) {
    let body = ApiError::new(
        503,
        "ServerLimit",
        format!(
            "insightsim server limit: more than {max} simultaneous connections (limits.server_connections_max); this protects the simulator process and is not the connector's call limit"
        ),
    )
    .body();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

async fn serve_request(
    sim: &Simulator,
    req: Request<Incoming>,
    peer: SocketAddr,
    limits: ServerLimits,
) -> Result<Response<Pieces>, DroppedConnection> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, limits.body_bytes_max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(to_http(
                ApiError::new(
                    413,
                    "ServerLimit",
                    format!(
                        "insightsim server limit: the request body is larger than {} bytes (limits.server_body_bytes_max); this protects the simulator process and is not part of the simulated API",
                        limits.body_bytes_max
                    ),
                )
                .into(),
            ));
        }
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("host").map_or_else(|| peer.to_string(), str::to_owned);
    // Behind a TLS-terminating tunnel (the custom connector's set-up), absolute URLs such as a
    // subscription's Location must use the scheme the client used.
    let scheme = match header("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let base_url = format!("{scheme}://{host}");
    let api_req = ApiRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        authorization: header("authorization"),
        subscription_key: header("ocp-apim-subscription-key"),
        admin_token: header("x-insightsim-admin-token"),
        body: &body,
        base_url: &base_url,
        peer_loopback: peer.ip().is_loopback(),
    };
    let response = api::handle(sim, &api_req);
    if let Some(delay) = response.delay {
        // Injected latency is simulated time: scale it like every other duration.
        let wait = sim
            .clock
            .wall_until(sim.now() + delay)
            .unwrap_or(Duration::from_millis(delay.as_millis().max(0) as u64));
        tokio::time::sleep(wait).await;
    }
    if response.drop_connection {
        return Err(DroppedConnection);
    }
    Ok(to_http(response))
}

/// Returned to hyper to close a connection without an answer (an injected fault).
#[derive(Debug)]
pub struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedConnection {}

/// A response body sent piece by piece (hyper writes the pieces with vectored writes).
pub struct Pieces {
    pieces: VecDeque<Bytes>,
    remaining: u64,
}

impl From<Body> for Pieces {
    fn from(body: Body) -> Pieces {
        let remaining = body.len() as u64;
        Pieces {
            pieces: body
                .into_pieces()
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect(),
            remaining,
        }
    }
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.pieces.pop_front();
        if let Some(piece) = &next {
            self.remaining -= piece.len() as u64;
        }
        Poll::Ready(next.map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn to_http(r: ApiResponse) -> Response<Pieces> {
    let mut response = Response::new(Pieces::from(r.body));
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
    response
}
