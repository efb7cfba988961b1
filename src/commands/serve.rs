//! `insightsim serve`: a simulated instance on localhost.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use simulator::addresses::PublicUrl;
use simulator::delivery::DeliveryTrust;
use simulator::driver::DrainReport;
use simulator::persist::PersistError;
use simulator::tenant::TenantSpec;
use simulator::{Clock, IdEpoch, SimConfig, SimDuration, Simulator};

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
    /// `https://abc123.ngrok.app`): absolute URLs in answers use it instead of the listen address.
    #[arg(long, env = "INSIGHTSIM_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<PublicUrl>,
    /// Keep the state (subscriptions, items, jobs, deliveries, the clock, the id epoch) in this
    /// directory, saved before every answer: a restart, even after a crash, resumes it. It
    /// belongs to one tenant, seed and overrides; another is refused.
    #[arg(long, env = "INSIGHTSIM_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// At shutdown, wait this long (wall time) for deliveries in flight, e.g. 5s or 500ms;
    /// 0 abandons them at once.
    #[arg(long, env = "INSIGHTSIM_DRAIN", default_value = "5s", value_parser = parse_drain)]
    drain: Duration,
    /// Fix the id epoch: subscription, job, event and delivery ids are then the same in every
    /// run of the same tenant (and repeat after a restart without --state-dir). By default each
    /// start draws a new one, so ids never repeat.
    #[arg(long, env = "INSIGHTSIM_ID_EPOCH")]
    id_epoch: Option<String>,
    /// Also trust the CA certificates in this PEM file for https:// deliveries (a tunnel or
    /// proxy in front of the flow with a certificate of its own); the public CAs are always
    /// trusted.
    #[arg(long, env = "INSIGHTSIM_DELIVERY_CA", value_name = "FILE")]
    delivery_ca: Option<PathBuf>,
}

fn parse_public_url(text: &str) -> Result<PublicUrl, String> {
    PublicUrl::parse(text)
}

fn parse_drain(text: &str) -> Result<Duration, String> {
    let d = SimDuration::parse(text).map_err(|e| e.to_string())?;
    u64::try_from(d.as_millis())
        .map(Duration::from_millis)
        .map_err(|_| format!("--drain {text} must not be negative"))
}

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed {} must be a positive number", args.speed);
    }
    let spec = args.tenant.spec()?;
    let trust = match &args.delivery_ca {
        None => DeliveryTrust::public(),
        Some(file) => DeliveryTrust::public().with_pem_file(file)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, spec, trust))
}

async fn serve(args: ServeArgs, spec: TenantSpec, trust: DeliveryTrust) -> anyhow::Result<u8> {
    let started = Instant::now();
    let mut config = SimConfig::new(spec, Clock::wall(args.speed));
    config.admin_token = args.admin_token.clone();
    config.public_url = args.public_url.clone();
    config.id_epoch = args
        .id_epoch
        .clone()
        .map_or(IdEpoch::Random, IdEpoch::Fixed);
    let sim = match &args.state_dir {
        None => Simulator::new(config),
        Some(dir) => match Simulator::open(config, dir) {
            Ok(sim) => sim,
            Err(err) => {
                eprintln!("error: {}", simulator::persist::chain(&err));
                // Another tenant's state is a configuration mistake; the rest is the machine's.
                return Ok(match err {
                    PersistError::OtherTenant { .. } => exit::USAGE,
                    _ => exit::START,
                });
            }
        },
    };
    let sim = Arc::new(sim);
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
    let driver = simulator::driver::Driver::spawn_trusting(sim.clone(), &trust);
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
    if let Some(file) = &args.delivery_ca {
        println!(
            "  delivery CA  {} ({} certificates trusted for https deliveries, besides the public CAs)",
            file.display(),
            trust.added()
        );
    }
    match sim.state_file() {
        Some(file) => println!(
            "  state        {} (saved before every answer; {} deliveries pending)",
            file.display(),
            sim.undelivered().total()
        ),
        None => {
            println!("  state        in memory only (keep it across restarts with --state-dir DIR)")
        }
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
    stop_signal().await;
    println!("insightsim: stopping");
    handle.shutdown(Duration::from_secs(5)).await;
    let drained = driver.shutdown_within(args.drain).await;
    println!(
        "{}",
        drain_summary(&drained, args.drain, sim.state_file().is_some())
    );
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

/// Ctrl-C (SIGINT) or, on Unix, SIGTERM (what `kill` and container runtimes send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// What shutting down left undelivered, in one line: kept for the next start with a state dir,
/// dropped (and counted) without one.
fn drain_summary(report: &DrainReport, drain: Duration, kept: bool) -> String {
    let undelivered = report.undelivered;
    let abandoned = if report.abandoned > 0 {
        format!(
            "; {} still in flight after the {} ms drain (raise it with --drain)",
            report.abandoned,
            drain.as_millis()
        )
    } else {
        String::new()
    };
    match (undelivered.total(), kept) {
        (0, _) => "insightsim: every delivery was delivered (or is dead)".to_owned(),
        (n, true) => format!(
            "insightsim: {n} deliveries not delivered yet ({undelivered}) are kept in the state dir and sent after the next start{abandoned}"
        ),
        (n, false) => format!(
            "insightsim: dropped {n} deliveries not delivered yet ({undelivered}){abandoned}; keep them across restarts with --state-dir"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simulator::Undelivered;
    use simulator::driver::DRAIN_DEFAULT;

    #[test]
    fn the_drain_summary_counts_what_is_dropped_or_kept() {
        let report = DrainReport {
            finished: 2,
            abandoned: 1,
            undelivered: Undelivered {
                queued: 3,
                retrying: 2,
                in_flight: 1,
            },
        };
        let drain = DRAIN_DEFAULT;
        assert_eq!(
            drain_summary(&report, drain, false),
            "insightsim: dropped 6 deliveries not delivered yet (1 in flight, 2 waiting to retry, 3 queued); 1 still in flight after the 5000 ms drain (raise it with --drain); keep them across restarts with --state-dir"
        );
        assert!(drain_summary(&report, drain, true).contains("are kept in the state dir"));
        assert_eq!(
            drain_summary(&DrainReport::default(), drain, false),
            "insightsim: every delivery was delivered (or is dead)"
        );
    }

    #[test]
    fn drain_times_are_durations_and_never_negative() {
        // The flag's default is the driver's.
        assert_eq!(parse_drain("5s"), Ok(DRAIN_DEFAULT));
        assert_eq!(parse_drain("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_drain("0"), Ok(Duration::ZERO));
        assert!(parse_drain("soon").is_err());
    }
}
