//! The request-head target: bytes sent to a real server on loopback. The server must answer
//! with a well-formed status line (never a `5xx`, and never an error without a body, which is
//! what hyper's own refusals looked like) or close the connection, never hang, and go on
//! serving others.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimDuration, SimTime, Simulator, server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

use super::Finding;

/// How long one probe may take before it counts as a hang (the server's own timeouts are far
/// shorter).
const PROBE_MAX: Duration = Duration::from_secs(10);

struct Served {
    runtime: Runtime,
    addr: SocketAddr,
    _handle: server::ServerHandle,
}

fn served() -> Result<&'static Served, Finding> {
    static SERVED: OnceLock<Result<Served, Finding>> = OnceLock::new();
    SERVED
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            let mut spec = TenantSpec::demo();
            spec.customers = 200;
            spec.limits.rate_limit = "off".into();
            spec.refresh.schedule_enabled = false;
            let short = SimDuration::from_millis(300);
            spec.limits.server_header_read_timeout = short;
            spec.limits.server_idle_timeout = short;
            spec.limits.server_body_read_timeout = short;
            let sim = Arc::new(Simulator::new(SimConfig::new(
                spec,
                Clock::frozen_at(SimTime::DEFAULT_EPOCH),
            )));
            let handle = runtime
                .block_on(server::start(sim, ([127, 0, 0, 1], 0).into()))
                .map_err(|e| format!("cannot listen: {e}"))?;
            Ok(Served {
                runtime,
                addr: handle.local_addr,
                _handle: handle,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Sends `bytes` (then closes the sending side) and judges the answer.
pub fn head(bytes: &[u8]) -> Result<(), Finding> {
    let served = served()?;
    served.runtime.block_on(async {
        let answer = tokio::time::timeout(PROBE_MAX, exchange(served.addr, bytes))
            .await
            .map_err(|_| "the server neither answered nor closed the connection".to_owned())?
            .map_err(|e| format!("the connection failed: {e}"))?;
        judge(&answer)?;
        // The server still serves a well-formed request.
        let health = tokio::time::timeout(
            PROBE_MAX,
            exchange(
                served.addr,
                b"GET /_sim/health HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
            ),
        )
        .await
        .map_err(|_| "the server stopped answering".to_owned())?
        .map_err(|e| format!("the server stopped answering: {e}"))?;
        if !health.starts_with(b"HTTP/1.1 200") {
            return Err(format!(
                "after this input the server answers health with {:?}",
                String::from_utf8_lossy(&health)
            ));
        }
        Ok(())
    })
}

async fn exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    // The server may answer and close before it has read everything: a failed write is fine.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer).await {
        Ok(_) => Ok(answer),
        // A reset after an answer (the server closed with unread bytes) keeps the answer.
        Err(_) if !answer.is_empty() => Ok(answer),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(answer),
        Err(e) => Err(e),
    }
}

/// Every answer on the connection: a status line, a status under 500, and a body when it is an
/// error.
fn judge(mut answer: &[u8]) -> Result<(), Finding> {
    while !answer.is_empty() {
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Err(format!(
                "an answer without a complete head: {:?}",
                String::from_utf8_lossy(answer)
            ));
        };
        let head = String::from_utf8_lossy(&answer[..end]).into_owned();
        let status: u16 = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not a status line: {head:?}"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if status >= 500 {
            return Err(format!("a {status}: {head}"));
        }
        if status >= 400 && length == 0 {
            return Err(format!("a {status} without a body: {head}"));
        }
        let rest = &answer[end + 4..];
        answer = &rest[length.min(rest.len())..];
    }
    Ok(())
}
