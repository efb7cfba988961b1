//! The flow's webhook endpoint: accepts the connector's deliveries and hands each to the flow
//! on its own task, while the flow's `start` runs, until shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::http_io::HttpIo;
use crate::flow::{Flow, FlowContext};

/// The path deliveries are expected on (any path is accepted).
pub const HOOK_PATH: &str = "/hook";

/// The largest delivery body accepted.
const DELIVERY_BYTES_MAX: usize = 1 << 20;
/// How long open connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What every delivery needs.
pub(super) struct Shared {
    pub(super) flow: Arc<dyn Flow>,
    pub(super) ctx: FlowContext,
    pub(super) io: Arc<HttpIo>,
    /// Deliveries being handled, each on its own task (aborted at shutdown).
    pub(super) runs: Mutex<JoinSet<()>>,
}

/// Accepts deliveries and runs the flow's `start` until `shutdown`; returns with `start`'s
/// future dropped (a polling loop stops there) and connections closed.
pub(super) async fn serve(
    listener: TcpListener,
    shared: &Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
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
