//! `insightsim serve`: a simulated instance on localhost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use simulator::addresses::PublicUrl;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, Simulator};

use crate::commands::tenant_args::TenantArgs;
use crate::exit;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; anything else is reachable from the network).
    #[arg(long, env = "INSIGHTSIM_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    tenant: TenantArgs,
    /// Run simulated time this many times faster than the wall clock.
    #[arg(long, env = "INSIGHTSIM_SPEED", default_value_t = 1.0)]
    speed: f64,
    /// Require this token for the control API (/_sim); only a caller that presents it sees bearer
    /// tokens there (others see fingerprints).
    #[arg(long, env = "INSIGHTSIM_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// The scheme and host clients use to reach the simulator through a tunnel or proxy (e.g.
    /// https://abc123.ngrok.app): absolute URLs in answers use it instead of the listen address.
    #[arg(long, env = "INSIGHTSIM_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<PublicUrl>,
}

fn parse_public_url(text: &str) -> Result<PublicUrl, String> {
    PublicUrl::parse(text)
}

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed {} must be a positive number", args.speed);
    }
    let spec = args.tenant.spec()?;
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
    config.public_url = args.public_url.clone();
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
    if let Some(public) = &sim.public_url {
        println!(
            "  public URL   {}  (absolute URLs in answers use it)",
            public.base
        );
    }
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
