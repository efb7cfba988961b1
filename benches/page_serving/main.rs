//! Page serving: `insightsim serve` against a bare hyper server, each in a process of its own,
//! driven by `wrk` in a third.
//!
//! Run: `cargo bench --bench page_serving` (all variants, about 8 minutes), or
//! `cargo bench --bench page_serving -- --variants fixed-10k,random-10k --seconds 6 --runs 3`;
//! `-- --list` lists the variants. wrk is installed with `apt-get install -y wrk` when missing.
//!
//! For each variant the benchmark starts the release `insightsim serve` (the same build profile as
//! `cargo build --release`) on a free loopback port, asks it once for every request target the
//! load will send and records the answers, then starts a bare hyper 1.x server (this binary again,
//! with `--bare-server`) that answers each target with the recorded status, headers and body.
//! wrk then runs against the servers in turn (A, B, A, B, …; median of `--runs` runs per side),
//! with the same threads, connections, duration, targets and tokens. The ratio of the medians is
//! printed with the spread of the per-round ratios, and for each run the CPU time the server
//! process and wrk used per request (from `/proc`): the three processes share the machine's cores,
//! so a server's rate depends on wrk's cost too, and the CPU time per request is the cost of the
//! server alone. See docs/performance.md for the figures and what they mean.

mod bare;
mod corpus;
mod measure;
mod process;
mod variants;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "page_serving")]
struct Options {
    /// Variants to run, comma-separated (all by default; see --list).
    #[arg(long, value_delimiter = ',')]
    variants: Vec<String>,
    /// List the variants and exit.
    #[arg(long)]
    list: bool,
    /// Seconds per run.
    #[arg(long, default_value_t = 6)]
    seconds: u64,
    /// Runs per side (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of the warm-up run each side gets first (not counted).
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
    /// wrk's keep-alive connections.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// wrk's threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Bearer tokens (simulated connector connections) per wrk thread.
    #[arg(long, default_value_t = 25)]
    tokens_per_thread: usize,
    /// Seed of wrk's random choice of targets.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Write the tenant file, targets, corpora and wrk script into this directory and keep them
    /// (for scripts/bench/profile.sh); by default they go to a temporary directory.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// The insightsim binary to measure (default: the one cargo built for this benchmark).
    #[arg(long)]
    insightsim: Option<PathBuf>,
    /// Another insightsim build to run as one more side (same settings), e.g. the main branch's,
    /// to measure a change against it in the same interleaved runs.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Serve the corpus in this file as the bare server (used by the benchmark itself).
    #[arg(long, hide = true)]
    bare_server: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> ExitCode {
    match run(Options::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: Options) -> anyhow::Result<()> {
    if let Some(corpus) = &o.bare_server {
        return bare::serve(corpus);
    }
    if o.list {
        for (name, about) in variants::ALL {
            println!("{name:<14} {about}");
        }
        return Ok(());
    }
    let selected: Vec<String> = if o.variants.is_empty() {
        variants::ALL.iter().map(|(n, _)| (*n).to_owned()).collect()
    } else {
        o.variants.clone()
    };
    for name in &selected {
        anyhow::ensure!(
            variants::ALL.iter().any(|(n, _)| n == name),
            "unknown variant {name}; see --list"
        );
    }
    anyhow::ensure!(o.runs >= 1, "--runs must be at least 1");
    let wrk = process::ensure_wrk()?;
    let temporary;
    let dir = match &o.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
            temporary.path().to_owned()
        }
    };
    let script = wrk::write_script(&dir)?;
    let mut bench = variants::Bench {
        exe: o
            .insightsim
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_insightsim"))),
        compare: o.compare.clone(),
        wrk,
        dir,
        script,
        threads: o.threads,
        connections: o.connections,
        duration: Duration::from_secs(o.seconds),
        warmup: Duration::from_secs(o.warmup_seconds),
        runs: o.runs,
        seed: o.seed,
        tokens_per_thread: o.tokens_per_thread,
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?,
        summary: Vec::new(),
        notes: Vec::new(),
    };
    eprintln!(
        "page serving: wrk {} threads, {} connections, {} tokens, {} s per run, {} runs per side, {} s warm-up; {} cores; load average {}",
        o.threads,
        o.connections,
        o.threads * o.tokens_per_thread,
        o.seconds,
        o.runs,
        o.warmup_seconds,
        std::thread::available_parallelism().map_or(0, usize::from),
        process::loadavg()
    );
    eprintln!("insightsim: {}", bench.exe.display());
    for name in &selected {
        bench.run(name)?;
    }
    println!();
    if !bench.summary.is_empty() {
        println!(
            "| Variant | What (A = bare hyper, B = insightsim unless said) | A req/s | B req/s | B / A (per-round spread) | server CPU µs/req, user+system (A / B) | wrk CPU µs/req (A / B) |"
        );
        println!("|---|---|---|---|---|---|---|");
        for row in &bench.summary {
            println!("{row}");
        }
    }
    for note in &bench.notes {
        println!("- {note}");
    }
    println!("(load average at the end: {})", process::loadavg());
    Ok(())
}
