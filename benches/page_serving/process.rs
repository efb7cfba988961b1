//! The servers as child processes, and what `/proc` says about them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long a server may take to print its address (10 million customers take seconds).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// A server process; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The simulator's instance id (`None` for the bare server).
    pub instance_id: Option<String>,
    /// From spawning the process to reading its address on its standard output.
    pub listening_after: Duration,
    pub spawned_at: Instant,
}

/// How to start `insightsim serve`.
pub struct SimArgs<'a> {
    pub exe: &'a Path,
    pub customers: u64,
    /// `off` or `CALLS/WINDOW`.
    pub rate_limit: &'a str,
    pub tenant: &'a Path,
}

impl Server {
    pub fn sim(args: &SimArgs<'_>) -> anyhow::Result<Server> {
        let mut command = Command::new(args.exe);
        command
            .arg("serve")
            .arg("--addr=127.0.0.1:0")
            .arg(format!("--customers={}", args.customers))
            .arg(format!("--rate-limit={}", args.rate_limit))
            .arg("--tenant")
            .arg(args.tenant);
        Server::spawn(command, true)
    }

    /// The bare server: this benchmark binary again, with `--bare-server CORPUS`.
    pub fn bare(corpus: &Path) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("cannot find the benchmark's own executable")?;
        let mut command = Command::new(exe);
        command.arg("--bare-server").arg(corpus);
        Server::spawn(command, false)
    }

    fn spawn(mut command: Command, wants_instance: bool) -> anyhow::Result<Server> {
        let spawned_at = Instant::now();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let stdout = child.stdout.take().context("no standard output")?;
        let lines = drain_lines(stdout);
        let mut addr = None;
        let mut listening_after = Duration::ZERO;
        let mut instance_id = None;
        while addr.is_none() || (wants_instance && instance_id.is_none()) {
            let line = match lines.recv_timeout(START_TIMEOUT) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    bail!("{command:?} printed no address within {START_TIMEOUT:?}");
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait()?;
                    bail!("{command:?} exited ({status}) before printing its address");
                }
            };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let text = rest.split_whitespace().next().unwrap_or_default();
                addr = Some(
                    text.parse()
                        .with_context(|| format!("cannot read an address in {line:?}"))?,
                );
                listening_after = spawned_at.elapsed();
            }
            if let Some(rest) = line.trim().strip_prefix("instance id") {
                instance_id = Some(rest.trim().to_owned());
            }
        }
        Ok(Server {
            child,
            addr: addr.context("no address")?,
            instance_id,
            listening_after,
            spawned_at,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (all threads) the process has used so far.
    pub fn cpu(&self) -> anyhow::Result<Cpu> {
        let fields = stat_fields(&format!("/proc/{}/stat", self.pid()))?;
        Ok(Cpu {
            user: ticks(&fields, 11)?,
            system: ticks(&fields, 12)?,
        })
    }

    /// Resident memory now and at its peak, from `/proc/<pid>/status`.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let kib = |key: &str| -> anyhow::Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {key} in {path}"))
        };
        Ok(Memory {
            rss_bytes: kib("VmRSS:")? * 1024,
            peak_rss_bytes: kib("VmHWM:")? * 1024,
        })
    }
}

impl Server {
    /// Waits until the process uses under a tenth of a core over a quarter of a second (at most
    /// a minute): work a load generator left behind (requests whose client is gone but whose
    /// handler still runs) must not spill into the next run.
    pub fn wait_idle(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let window = Duration::from_millis(250);
        while started.elapsed() < Duration::from_secs(60) {
            let before = self.cpu()?;
            std::thread::sleep(window);
            if self.cpu()?.since(before).total() < window / 10 {
                return Ok(started.elapsed());
            }
        }
        bail!("the server stayed busy for a minute after the load stopped")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time in user space and in the kernel (`utime` and `stime` of `proc(5)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub user: Duration,
    pub system: Duration,
}

impl Cpu {
    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    pub fn total(self) -> Duration {
        self.user + self.system
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

/// Reads a child's standard output on a thread of its own (so that the child never blocks on a
/// full pipe), handing each line over.
fn drain_lines(stdout: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The reader may be gone once the address is known; the lines are then dropped.
            let _ = send.send(line);
        }
    });
    receive
}

/// CPU time this process's waited-for children have used (`cutime + cstime`): the load
/// generator's, measured around a run in which it is the only child that ends.
pub fn children_cpu() -> anyhow::Result<Duration> {
    let fields = stat_fields("/proc/self/stat")?;
    Ok(ticks(&fields, 13)? + ticks(&fields, 14)?)
}

/// The fields of a `/proc/*/stat` file after the command name, from the state on (field 3 of
/// `proc(5)` is index 0 here).
fn stat_fields(path: &str) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let after_name = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected format of {path}"))?;
    Ok(after_name.split_whitespace().map(str::to_owned).collect())
}

fn ticks(fields: &[String], index: usize) -> anyhow::Result<Duration> {
    let n: u64 = fields
        .get(index)
        .and_then(|f| f.parse().ok())
        .context("a /proc stat field is missing")?;
    Ok(Duration::from_secs_f64(n as f64 / clock_ticks_per_s()))
}

/// `sysconf(_SC_CLK_TCK)`, from `getconf` (100 on Linux unless the kernel says otherwise).
fn clock_ticks_per_s() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// `wrk` on the PATH, installed from Debian's packages when missing.
pub fn ensure_wrk() -> anyhow::Result<PathBuf> {
    if let Some(path) = which("wrk") {
        return Ok(path);
    }
    eprintln!("wrk is not installed; installing it with apt-get install -y wrk");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "wrk"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get").arg("update").status();
        install();
    }
    which("wrk").context("wrk is missing and could not be installed; install it (apt-get install -y wrk) and run again")
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
