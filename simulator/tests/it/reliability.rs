//! Issue 10: the simulator protects itself. Each reproduction of the issue is a test here: no
//! webhook reaches the simulator itself, no client can freeze it (slow heads, idle sockets,
//! slow queries), every memory has a byte budget, and every refusal, the HTTP layer's included,
//! says "insightsim server limit" and names its key.

mod budgets;
mod control;
mod deliveries;
mod http_layer;
mod queries;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator, server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest a test waits for an answer before it fails (a safety net: every answer here
/// comes from a server limit far shorter than this, or at once).
const PATIENCE: Duration = Duration::from_secs(30);

/// A demo tenant of `customers`, seed 42, call limit off, frozen at the default epoch, with
/// `edit` applied.
fn tenant(customers: usize, edit: impl FnOnce(&mut TenantSpec)) -> Simulator {
    let mut spec = TenantSpec::demo();
    spec.customers = customers;
    spec.limits.rate_limit = "off".into();
    spec.refresh.schedule_enabled = false;
    edit(&mut spec);
    Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(SimTime::DEFAULT_EPOCH),
    ))
}

/// `sim` served on 127.0.0.1, port 0.
async fn serve(sim: Simulator) -> (Arc<Simulator>, server::ServerHandle) {
    let sim = Arc::new(sim);
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (sim, handle)
}

/// An answer read off the wire.
#[derive(Debug)]
struct Wire {
    status: u16,
    head: String,
    body: String,
}

impl Wire {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.head, self.body))
    }

    /// Asserts a server-limit refusal: its status, code `ServerLimit` and a message naming
    /// `limits.{key}` and how to raise it.
    fn assert_limit(&self, status: u16, key: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        let body = self.json();
        assert_eq!(body["error"]["code"], "ServerLimit", "{}", self.body);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("insightsim server limit")
                && message.contains(&format!("limits.{key}"))
                && message.contains("tenant file"),
            "{message}"
        );
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads answers off `stream` until it closes (within [`PATIENCE`]).
async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut bytes))
        .await
        .expect("the server neither answered nor closed the connection")
        .unwrap_or_default();
    bytes
}

/// Parses the first answer of `bytes`.
fn first_answer(bytes: &[u8]) -> Wire {
    parse_answers(bytes)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(bytes)))
}

/// Every answer in `bytes` (each with a `content-length`).
fn parse_answers(mut bytes: &[u8]) -> Vec<Wire> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let rest = &bytes[end + 4..];
        let body = String::from_utf8_lossy(&rest[..length.min(rest.len())]).into_owned();
        out.push(Wire { status, head, body });
        bytes = &rest[length.min(rest.len())..];
    }
    out
}

/// Sends `bytes` on a new connection and reads every answer until the server closes it.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_to_end(&mut stream).await
}

/// One request (closing the connection after it), its answer.
async fn request(addr: SocketAddr, method: &str, target: &str, auth: &str, body: &str) -> Wire {
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("authorization: Bearer {auth}\r\n")
    };
    let text = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    first_answer(&exchange(addr, text.as_bytes()).await)
}
