//! The load generator: `wrk` in a process of its own, driven by `load.lua`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The Lua script, written next to the targets at start.
pub const SCRIPT: &str = include_str!("load.lua");

/// One load: who sends what, how hard, for how long.
#[derive(Debug, Clone)]
pub struct Load {
    pub wrk: PathBuf,
    pub script: PathBuf,
    /// One request target per line, drawn at random per request.
    pub targets: PathBuf,
    pub threads: usize,
    pub connections: usize,
    pub duration: Duration,
    /// Bearer tokens per wrk thread, used in turn.
    pub tokens_per_thread: usize,
    pub token_prefix: String,
    pub seed: u64,
}

/// What `load.lua`'s `done()` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub duration_us: u64,
    pub bytes: u64,
    pub errors_connect: u64,
    pub errors_read: u64,
    pub errors_write: u64,
    /// Responses with a status outside 2xx and 3xx.
    pub errors_status: u64,
    pub errors_timeout: u64,
    pub latency_p50_us: u64,
    pub latency_p99_us: u64,
    pub latency_p999_us: u64,
}

impl Summary {
    pub fn requests_per_s(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }

    /// Mean bytes per response, head and body, as wrk read them.
    pub fn bytes_per_response(&self) -> f64 {
        self.bytes as f64 / self.requests.max(1) as f64
    }

    pub fn socket_errors(&self) -> u64 {
        self.errors_connect + self.errors_read + self.errors_write + self.errors_timeout
    }
}

/// A running wrk.
pub struct Running {
    child: Child,
}

impl Load {
    pub fn start(&self, addr: SocketAddr) -> anyhow::Result<Running> {
        let child = Command::new(&self.wrk)
            .arg(format!("--threads={}", self.threads))
            .arg(format!("--connections={}", self.connections))
            .arg(format!("--duration={}s", self.duration.as_secs().max(1)))
            .arg("--timeout=30s")
            .arg("--script")
            .arg(&self.script)
            .arg(format!("http://{addr}"))
            .arg("--")
            .arg(&self.targets)
            .arg(self.tokens_per_thread.to_string())
            .arg(self.seed.to_string())
            .arg(&self.token_prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start wrk")?;
        Ok(Running { child })
    }

    pub fn run(&self, addr: SocketAddr) -> anyhow::Result<Summary> {
        self.start(addr)?.finish()
    }
}

impl Running {
    pub fn finish(self) -> anyhow::Result<Summary> {
        let output = self
            .child
            .wait_with_output()
            .context("wrk did not finish")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(json) = stdout.lines().find_map(|l| l.strip_prefix("WRK-JSON ")) else {
            bail!(
                "wrk ({}) printed no summary:\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        };
        serde_json::from_str(json).with_context(|| format!("cannot read wrk's summary {json}"))
    }
}

/// Writes the Lua script into `dir` and returns its path.
pub fn write_script(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("load.lua");
    std::fs::write(&path, SCRIPT).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
