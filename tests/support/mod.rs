//! What the binary's integration tests share: a `serve` process on port 0, and one HTTP/1.1
//! exchange with it. (A folder under `tests/`, so cargo does not build it as a test of its own.)

#![allow(dead_code, reason = "each test crate uses its own part")]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long `serve` may take to print its address, and an exchange to be answered.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running `insightsim serve`, killed when dropped (a failing assertion must not leave a
/// server behind: it would hold the test's output open).
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    /// The lines `serve` printed before its address.
    pub before_address: Vec<String>,
    /// The lines it prints after its address (forwarded as they come, so that it never blocks
    /// on its output).
    pub stdout: mpsc::Receiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `serve --addr 127.0.0.1:0 --rate-limit off ARGS` and waits for its address.
    pub fn start<S: AsRef<OsStr>>(args: &[S]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_insightsim"))
            .args(["serve", "--addr", "127.0.0.1:0", "--rate-limit", "off"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the insightsim binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let mut before_address = Vec::new();
        let addr = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("serve prints its address");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .parse()
                    .expect("an address");
            }
            before_address.push(line);
        };
        Serve {
            child,
            addr,
            before_address,
            stdout: rx,
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection with the bearer `token`: (status, JSON body or
/// null); `None` if the connection or the answer failed (a chunked body is put together).
pub fn http(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut payload = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        payload = dechunk(&payload)?;
    }
    Some((
        status,
        serde_json::from_slice(&payload).unwrap_or(Value::Null),
    ))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let start = line_end + 2;
        out.extend_from_slice(data.get(start..start + size)?);
        data = data.get(start + size + 2..)?;
    }
}
