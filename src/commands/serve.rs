//! `insightsim serve`: a simulated instance on localhost.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, Simulator};

use crate::exit;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; anything else is reachable from the network).
    #[arg(long, env = "INSIGHTSIM_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Seed for ids, data and every random choice (overrides the tenant file).
    #[arg(long, env = "INSIGHTSIM_SEED")]
    seed: Option<u64>,
    /// Number of customer profiles, 1 to 10000000 (overrides the tenant file).
    #[arg(long, env = "INSIGHTSIM_CUSTOMERS")]
    customers: Option<usize>,
    /// Tenant file (TOML) read over the demo tenant; see `insightsim tenant`.
    #[arg(long, env = "INSIGHTSIM_TENANT")]
    tenant: Option<PathBuf>,
    /// The connector call limit per connection: CALLS/WINDOW (e.g. 100/60s, 10/2s) or off.
    #[arg(long, env = "INSIGHTSIM_RATE_LIMIT")]
    rate_limit: Option<String>,
    /// Run simulated time this many times faster than the wall clock.
    #[arg(long, env = "INSIGHTSIM_SPEED", default_value_t = 1.0)]
    speed: f64,
    /// Require this token for the control API (/_sim).
    #[arg(long, env = "INSIGHTSIM_ADMIN_TOKEN")]
    admin_token: Option<String>,
}

/// Loads the tenant and applies the command-line overrides.
pub fn tenant_spec(
    tenant: Option<&PathBuf>,
    seed: Option<u64>,
    customers: Option<usize>,
    rate_limit: Option<&str>,
) -> anyhow::Result<TenantSpec> {
    let mut spec = match tenant {
        Some(path) => TenantSpec::from_file(path)?,
        None => TenantSpec::demo(),
    };
    if let Some(seed) = seed {
        spec.seed = seed;
    }
    if let Some(customers) = customers {
        spec.customers = customers;
    }
    if let Some(limit) = rate_limit {
        spec.limits.rate_limit = limit.to_owned();
    }
    spec.validate()?;
    Ok(spec)
}

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed {} must be a positive number", args.speed);
    }
    let spec = tenant_spec(
        args.tenant.as_ref(),
        args.seed,
        args.customers,
        args.rate_limit.as_deref(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, spec))
}

async fn serve(args: ServeArgs, spec: TenantSpec) -> anyhow::Result<u8> {
    let started = Instant::now();
    let mut config = SimConfig::new(spec, Clock::wall(args.speed));
    config.admin_token = args.admin_token.clone();
    let sim = Arc::new(Simulator::new(config));
    let handle = match simulator::server::start(sim.clone(), args.addr).await {
        Ok(handle) => handle,
        Err(err) => {
            eprintln!(
                "error: cannot listen on {}: {err}; choose another address with --addr",
                args.addr
            );
            return Ok(exit::START);
        }
    };
    let driver = simulator::driver::Driver::spawn(sim.clone());
    let base = handle.base_url();
    let id = &sim.instance_id;
    println!(
        "insightsim: \"{}\" (seed {}, {} customers) listening on {base}  [ready in {} ms]",
        sim.spec.name,
        sim.seed(),
        sim.spec.customers,
        started.elapsed().as_millis()
    );
    println!("  instance id  {id}");
    println!(
        "  try          curl -H \"Authorization: Bearer dev\" \"{base}/v1/instances/{id}/data/Customer?\\$top=3\""
    );
    println!("  control API  {base}/_sim/state          (Ctrl-C to stop)");
    if !args.addr.ip().is_loopback() {
        println!(
            "  warning      {} is not a loopback address: the simulator is reachable from the network",
            args.addr
        );
    }
    let schedule = &sim.spec.refresh;
    if schedule.schedule_enabled {
        println!(
            "  lifecycle    a scheduled full refresh in {}, then every {} (simulated time)",
            schedule.schedule_first_after, schedule.schedule_every
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    println!("insightsim: stopping");
    handle.shutdown(Duration::from_secs(5)).await;
    driver.shutdown().await;
    let report = sim.limiter.report(sim.now());
    if report.is_empty() {
        println!("no /v1 calls were made");
    } else {
        println!(
            "call limit {} — grading per connection:",
            sim.limiter.setting()
        );
        print!("{}", simulator::rate_limit::render_table(&report));
    }
    Ok(exit::SUCCESS)
}
