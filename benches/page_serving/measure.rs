//! Interleaved runs of one load against several servers, and what they show.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process::{Cpu, Server, children_cpu};
use crate::wrk::{Load, Summary};

/// A server under measurement, by the name the report gives it.
pub struct Side<'a> {
    pub name: &'static str,
    pub server: &'a Server,
}

/// What a side must answer for its runs to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Every response 2xx, no socket error.
    Success,
    /// Every response a 429 (but for the first call of each token, which the limit admits).
    Throttled { tokens: u64 },
}

/// One timed run of the load against one server.
#[derive(Debug, Clone)]
pub struct Run {
    pub summary: Summary,
    /// CPU time the server used during the run (all its threads).
    pub server_cpu: Cpu,
    /// CPU time wrk used during the run.
    pub wrk_cpu: Duration,
}

impl Run {
    pub fn requests_per_s(&self) -> f64 {
        self.summary.requests_per_s()
    }

    pub fn server_cpu_us_per_request(&self) -> f64 {
        self.per_request_us(self.server_cpu.total())
    }

    pub fn server_user_us_per_request(&self) -> f64 {
        self.per_request_us(self.server_cpu.user)
    }

    pub fn server_system_us_per_request(&self) -> f64 {
        self.per_request_us(self.server_cpu.system)
    }

    fn per_request_us(&self, time: Duration) -> f64 {
        time.as_secs_f64() * 1e6 / self.summary.requests.max(1) as f64
    }

    pub fn wrk_cpu_us_per_request(&self) -> f64 {
        self.per_request_us(self.wrk_cpu)
    }
}

/// Runs `load` once against `server`, with the CPU time both processes used.
pub fn run_once(server: &Server, load: &Load) -> anyhow::Result<Run> {
    let (server_before, wrk_before) = (server.cpu()?, children_cpu()?);
    let summary = load.run(server.addr)?;
    let (server_after, wrk_after) = (server.cpu()?, children_cpu()?);
    Ok(Run {
        summary,
        server_cpu: server_after.since(server_before),
        wrk_cpu: wrk_after.saturating_sub(wrk_before),
    })
}

/// The runs of one side.
pub struct SideRuns {
    pub name: &'static str,
    pub runs: Vec<Run>,
}

impl SideRuns {
    pub fn median_requests_per_s(&self) -> f64 {
        median(self.runs.iter().map(Run::requests_per_s))
    }

    pub fn median_server_cpu_us(&self) -> f64 {
        median(self.runs.iter().map(Run::server_cpu_us_per_request))
    }

    pub fn median_server_user_us(&self) -> f64 {
        median(self.runs.iter().map(Run::server_user_us_per_request))
    }

    pub fn median_server_system_us(&self) -> f64 {
        median(self.runs.iter().map(Run::server_system_us_per_request))
    }

    pub fn median_wrk_cpu_us(&self) -> f64 {
        median(self.runs.iter().map(Run::wrk_cpu_us_per_request))
    }

    pub fn median_p99_ms(&self) -> f64 {
        median(
            self.runs
                .iter()
                .map(|r| r.summary.latency_p99_us as f64 / 1e3),
        )
    }

    pub fn median_p50_ms(&self) -> f64 {
        median(
            self.runs
                .iter()
                .map(|r| r.summary.latency_p50_us as f64 / 1e3),
        )
    }

    fn check(&self, expect: Expect) -> anyhow::Result<()> {
        for (i, run) in self.runs.iter().enumerate() {
            let s = &run.summary;
            if s.socket_errors() > 0 {
                bail!(
                    "{} run {}: {} socket errors (connect {}, read {}, write {}, timeout {})",
                    self.name,
                    i + 1,
                    s.socket_errors(),
                    s.errors_connect,
                    s.errors_read,
                    s.errors_write,
                    s.errors_timeout
                );
            }
            let ok = match expect {
                Expect::Success => s.errors_status == 0,
                Expect::Throttled { tokens } => s.errors_status + tokens >= s.requests,
            };
            if !ok {
                bail!(
                    "{} run {}: {} of {} responses had a status outside 2xx/3xx, expected {}",
                    self.name,
                    i + 1,
                    s.errors_status,
                    s.requests,
                    match expect {
                        Expect::Success => "none".to_owned(),
                        Expect::Throttled { tokens } =>
                            format!("all but at most {tokens} (the first call of each token)"),
                    }
                );
            }
        }
        Ok(())
    }
}

/// Warms every side up with one short run, then runs the load against the sides in turn, `rounds`
/// times (A, B, A, B, …), so that slow drift of the machine touches every side alike.
pub fn interleaved(
    sides: &[Side<'_>],
    load: &Load,
    warmup: Duration,
    rounds: usize,
    expect: &[Expect],
) -> anyhow::Result<Vec<SideRuns>> {
    let warm = Load {
        duration: warmup,
        ..load.clone()
    };
    for side in sides {
        warm.run(side.server.addr)
            .with_context(|| format!("warming up {}", side.name))?;
    }
    let mut results: Vec<SideRuns> = sides
        .iter()
        .map(|s| SideRuns {
            name: s.name,
            runs: Vec::new(),
        })
        .collect();
    for round in 1..=rounds {
        for (side, result) in sides.iter().zip(&mut results) {
            let run = run_once(side.server, load)
                .with_context(|| format!("round {round} of {}", side.name))?;
            eprintln!(
                "    round {round} {:<18} {:>9.0} req/s  p99 {:>7.2} ms  server CPU {:>6.1} µs/req ({:.1} user + {:.1} system)  wrk CPU {:>5.1} µs/req",
                side.name,
                run.requests_per_s(),
                run.summary.latency_p99_us as f64 / 1e3,
                run.server_cpu_us_per_request(),
                run.server_user_us_per_request(),
                run.server_system_us_per_request(),
                run.wrk_cpu_us_per_request(),
            );
            result.runs.push(run);
        }
    }
    for (result, &e) in results.iter().zip(expect) {
        result.check(e)?;
    }
    Ok(results)
}

/// `a / b` of median rates, with the spread of the per-round ratios.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Ratio {
    pub fn of(a: &SideRuns, b: &SideRuns) -> Ratio {
        let per_round: Vec<f64> = a
            .runs
            .iter()
            .zip(&b.runs)
            .map(|(x, y)| x.requests_per_s() / y.requests_per_s())
            .collect();
        let (min, max) = min_max(&per_round);
        Ratio {
            median: a.median_requests_per_s() / b.median_requests_per_s(),
            min,
            max,
        }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2}× (per round {:.2}–{:.2})",
            self.median, self.min, self.max
        )
    }
}

/// The per-side table of a comparison.
pub fn table(results: &[SideRuns]) -> String {
    let mut out = String::new();
    let runs = results.first().map_or(0, |r| r.runs.len());
    let _ = write!(out, "    {:<18}", "side");
    for i in 1..=runs {
        let _ = write!(out, " {:>9}", format!("run {i}"));
    }
    let _ = writeln!(
        out,
        " {:>9} {:>8} {:>8} {:>22} {:>11} {:>9}",
        "median", "p50 ms", "p99 ms", "server µs/req (u+s)", "wrk µs/req", "B/resp"
    );
    for r in results {
        let _ = write!(out, "    {:<18}", r.name);
        for run in &r.runs {
            let _ = write!(out, " {:>9.0}", run.requests_per_s());
        }
        let _ = writeln!(
            out,
            " {:>9.0} {:>8.2} {:>8.2} {:>22} {:>11.1} {:>9.0}",
            r.median_requests_per_s(),
            r.median_p50_ms(),
            r.median_p99_ms(),
            format!(
                "{:.1} ({:.1}+{:.1})",
                r.median_server_cpu_us(),
                r.median_server_user_us(),
                r.median_server_system_us()
            ),
            r.median_wrk_cpu_us(),
            median(r.runs.iter().map(|run| run.summary.bytes_per_response()))
        );
    }
    out
}

pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

pub fn min_max(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}
