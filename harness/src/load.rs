//! Load mode: many connections (bearer tokens) driving a simulator over loopback.
//!
//! Each connection is one keep-alive HTTP/1.1 connection with its own bearer token (so the
//! simulator counts it as its own connector connection) sending requests one after the other.
//! The run is bounded by a duration and/or a request count. Targets must be loopback addresses:
//! this tool is for load-testing a local simulator, never someone else's server.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;
use tokio::net::TcpStream;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Loopback address of the server.
    pub addr: SocketAddr,
    /// Simultaneous connections.
    pub connections: usize,
    /// Bearer token prefix; connection `i` uses `{prefix}-{i}` (or the prefix alone when shared).
    pub token_prefix: String,
    /// Use one token for every connection (they then share one call-limit connection).
    pub shared_token: bool,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many requests in total.
    pub requests: Option<u64>,
    /// Path and query of each request; `{skip}` is replaced by a random page offset.
    pub path_template: String,
    /// Upper bound (exclusive) of `{skip}`, rounded down to whole pages of `page_size`.
    pub skip_max: u64,
    pub page_size: u64,
    /// Whether a connection that gets `429` waits out `Retry-After` before its next request.
    pub honour_retry_after: bool,
    pub seed: u64,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    pub connections: usize,
    pub requests: u64,
    pub errors: u64,
    pub elapsed_s: f64,
    pub requests_per_s: f64,
    pub bytes_per_s: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    pub statuses: BTreeMap<u16, u64>,
    pub throttled: u64,
    /// Every answer each connection got, for the HTML report's plots (`calls_max` and the
    /// window are the caller's to fill in from the grading). Not in the JSON output.
    #[serde(skip)]
    pub calls: crate::report::CallLog,
}

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("load mode targets loopback addresses only, and {0} is not one")]
    NotLoopback(IpAddr),
    #[error("give a duration or a request count, so that the run is bounded")]
    Unbounded,
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Counters shared with a progress display.
#[derive(Debug, Default)]
pub struct LoadProgress {
    pub requests: AtomicU64,
}

struct ConnResult {
    latencies: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    bytes: u64,
    errors: u64,
    /// `(ms since the run started, status, Retry-After)` of every answer, in order.
    calls: Vec<(i64, u16, Option<u64>)>,
    token: String,
}

/// Runs the load and returns its report.
pub async fn run(config: LoadConfig, progress: Arc<LoadProgress>) -> Result<LoadReport, LoadError> {
    if !config.addr.ip().is_loopback() {
        return Err(LoadError::NotLoopback(config.addr.ip()));
    }
    if config.duration.is_none() && config.requests.is_none() {
        return Err(LoadError::Unbounded);
    }
    // Fail fast with a clear error when nothing listens.
    drop(
        TcpStream::connect(config.addr)
            .await
            .map_err(|source| LoadError::Connect {
                addr: config.addr,
                source,
            })?,
    );
    let config = Arc::new(config);
    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..config.connections.max(1))
        .map(|i| {
            let (config, stop, issued, progress) = (
                config.clone(),
                stop.clone(),
                issued.clone(),
                progress.clone(),
            );
            tokio::spawn(
                async move { connection(i, &config, &stop, &issued, &progress, started).await },
            )
        })
        .collect();
    if let Some(d) = config.duration {
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            stopper.store(true, Ordering::Relaxed);
        });
    }
    let mut latencies = new_histogram();
    let mut statuses = BTreeMap::new();
    let (mut bytes, mut errors) = (0u64, 0u64);
    let mut calls = Vec::new();
    for task in tasks {
        if let Ok(r) = task.await {
            calls.extend(r.calls.iter().map(|&(at_ms, status, retry_after_s)| {
                crate::report::CallRecord {
                    at_ms,
                    connection: r.token.clone(),
                    status,
                    retry_after_s,
                }
            }));
            let _ = latencies.add(&r.latencies);
            for (s, n) in r.statuses {
                *statuses.entry(s).or_insert(0) += n;
            }
            bytes += r.bytes;
            errors += r.errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let requests: u64 = statuses.values().sum::<u64>() + errors;
    let ms = |v: u64| v as f64 / 1000.0;
    Ok(LoadReport {
        connections: config.connections,
        requests,
        errors,
        elapsed_s: elapsed,
        requests_per_s: requests as f64 / elapsed,
        bytes_per_s: bytes as f64 / elapsed,
        latency_ms_p50: ms(latencies.value_at_quantile(0.5)),
        latency_ms_p99: ms(latencies.value_at_quantile(0.99)),
        latency_ms_max: ms(latencies.max()),
        throttled: statuses.get(&429).copied().unwrap_or(0),
        statuses,
        calls: {
            calls.sort_by_key(|c| c.at_ms);
            crate::report::CallLog {
                calls_max: None,
                window_ms: crate::report::timeline::DEFAULT_WINDOW_MS,
                calls,
            }
        },
    })
}

#[expect(clippy::expect_used, reason = "the bounds are valid constants")]
fn new_histogram() -> Histogram<u64> {
    // Microseconds from 1 µs to 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

async fn connection(
    index: usize,
    config: &LoadConfig,
    stop: &AtomicBool,
    issued: &AtomicU64,
    progress: &LoadProgress,
    started: Instant,
) -> ConnResult {
    let token = if config.shared_token {
        config.token_prefix.clone()
    } else {
        format!("{}-{index}", config.token_prefix)
    };
    let mut result = ConnResult {
        latencies: new_histogram(),
        statuses: BTreeMap::new(),
        bytes: 0,
        errors: 0,
        calls: Vec::new(),
        token: token.clone(),
    };
    let authorization = format!("Bearer {token}");
    let host = config.addr.to_string();
    let mut rng = Pcg64Mcg::seed_from_u64(config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9));
    let pages = (config.skip_max / config.page_size.max(1)).max(1);
    let mut sender = None;
    while !stop.load(Ordering::Relaxed) {
        if let Some(limit) = config.requests
            && issued.fetch_add(1, Ordering::Relaxed) >= limit
        {
            break;
        }
        if sender.is_none() {
            sender = open(config.addr).await;
            if sender.is_none() {
                result.errors += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let skip = rng.random_range(0..pages) * config.page_size;
        let path = config.path_template.replace("{skip}", &skip.to_string());
        let Ok(request) = Request::get(path)
            .header("host", &host)
            .header("authorization", &authorization)
            .body(Empty::<Bytes>::new())
        else {
            result.errors += 1;
            break;
        };
        let start = Instant::now();
        let Ok(response) = s.send_request(request).await else {
            result.errors += 1;
            sender = None;
            continue;
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match response.into_body().collect().await {
            Ok(body) => result.bytes += body.to_bytes().len() as u64,
            Err(_) => {
                result.errors += 1;
                sender = None;
                continue;
            }
        }
        let _ = result
            .latencies
            .record(start.elapsed().as_micros().max(1) as u64);
        *result.statuses.entry(status).or_insert(0) += 1;
        result.calls.push((
            start.duration_since(started).as_millis() as i64,
            status,
            retry_after,
        ));
        progress.requests.fetch_add(1, Ordering::Relaxed);
        if status == 429
            && config.honour_retry_after
            && let Some(secs) = retry_after
        {
            wait_or_stop(Duration::from_secs(secs), stop).await;
        }
    }
    result
}

async fn wait_or_stop(wait: Duration, stop: &AtomicBool) {
    let until = Instant::now() + wait;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50).min(until - Instant::now())).await;
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn open(addr: SocketAddr) -> Option<Sender> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(sender)
}

impl LoadReport {
    /// A short human summary.
    pub fn render(&self) -> String {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        format!(
            "{} requests in {:.2} s over {} connections: {:.0} req/s, {:.1} MB/s\nlatency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\nstatuses {}{}",
            self.requests,
            self.elapsed_s,
            self.connections,
            self.requests_per_s,
            self.bytes_per_s / 1e6,
            self.latency_ms_p50,
            self.latency_ms_p99,
            self.latency_ms_max,
            statuses.join(", "),
            if self.errors > 0 {
                format!(", connection errors: {}", self.errors)
            } else {
                String::new()
            }
        )
    }
}
