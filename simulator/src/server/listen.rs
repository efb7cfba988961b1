//! Accepting connections: the caps on connections (in all, and per peer address), one hyper
//! connection behind a gate per socket, and a shutdown that does not wait for slow clients.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::exchange::{Connection, Shared};
use super::gate::{ConnState, Gate, GateLimits};
use super::limits::ServerLimits;
use crate::api::ApiError;
use crate::delivery::is_local_ip;
use crate::sim::Simulator;

/// hyper's own `max_buf_size` (its `DEFAULT_MAX_BUFFER_SIZE`, which it does not export).
const HYPER_BUF_BYTES_DEFAULT: usize = 8192 + 4096 * 100;

/// How long writing a refusal to a connection over a cap may take.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A running server: its address, and how to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    /// The grace of a shutdown, once asked for.
    shutdown: watch::Sender<Option<Duration>>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Stops accepting, lets requests in progress finish for up to `grace`, then closes every
    /// connection that is left (an idle keep-alive, a slow client) and waits for that.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.shutdown.send(Some(grace));
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

/// Open connections per peer address (IPv4-mapped IPv6 counted as IPv4).
#[derive(Debug, Default)]
struct Peers(Mutex<HashMap<IpAddr, usize>>);

/// One open connection of a peer, counted until dropped.
struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    fn open(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let ip = ip.to_canonical();
        let mut open = self.0.lock();
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.0.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `sim` on an already bound listener.
pub fn start_on(sim: Arc<Simulator>, listener: TcpListener) -> ServerHandle {
    let limits = ServerLimits::from_spec(&sim);
    let local_addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    sim.add_listener(local_addr, is_local_ip);
    let (shutdown, mut stop) = watch::channel(None);
    let shared = Arc::new(Shared {
        sim: sim.clone(),
        limits,
        queries: Arc::new(Semaphore::new(limits.queries_max)),
    });
    let task = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        let permits = Arc::new(Semaphore::new(limits.connections_max));
        let peers = Arc::new(Peers::default());
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => break,
                // Forget finished connections as they end.
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let Ok((stream, peer)) = accepted else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tokio::spawn(refuse(stream, limits.too_many_connections()));
                continue;
            };
            let Some(slot) = peers.open(peer.ip(), limits.connections_per_peer_max) else {
                tokio::spawn(refuse(stream, limits.too_many_from_peer()));
                continue;
            };
            let state = Arc::new(ConnState::default());
            let connection = Arc::new(Connection {
                shared: shared.clone(),
                peer,
                local: stream.local_addr().unwrap_or(local_addr),
                state: state.clone(),
            });
            let service = service_fn(move |req| {
                let connection = connection.clone();
                async move { connection.serve(req).await }
            });
            let gate = Gate::new(stream, state, GateLimits::from(&limits));
            // The gate checks every head against the limit first, so hyper's buffer only has
            // to hold one that passed. The same size bounds hyper's write queue: at hyper's
            // default a page goes out in one `writev`; smaller, a 55 KB page took two.
            // A client may close its sending side once its request is sent (and wait for the
            // answer): hyper must not take that for a client gone away.
            let conn = hyper::server::conn::http1::Builder::new()
                .half_close(true)
                .max_buf_size((limits.header_bytes_max + 1024).max(HYPER_BUF_BYTES_DEFAULT))
                .serve_connection(TokioIo::new(gate), service);
            let conn = graceful.watch(conn);
            connections.spawn(async move {
                let _ = conn.await;
                drop((permit, slot));
            });
        }
        drop(listener);
        let grace = stop.borrow().unwrap_or(Duration::ZERO);
        let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
        // Whatever is left (a client that never finishes its request) is closed.
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        sim.remove_listener(local_addr);
    });
    ServerHandle {
        local_addr,
        shutdown,
        task,
    }
}

/// Over a connection cap: a one-off answer and close.
async fn refuse(mut stream: TcpStream, error: ApiError) {
    let body = error.body();
    let retry_after = error
        .retry_after_s
        .map(|s| format!("retry-after: {s}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {} Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry_after}connection: close\r\n\r\n",
        error.status,
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    })
    .await;
}
