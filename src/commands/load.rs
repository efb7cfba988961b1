//! `insightsim load`: drive many connections at a simulator and read how each was graded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use harness::load::{LoadConfig, LoadProgress, LoadReport};
use indicatif::{ProgressBar, ProgressStyle};
use simulator::rate_limit::{ConnectionReport, render_table};
use simulator::{Clock, SimConfig, SimDuration, Simulator};

use crate::commands::tenant_args::TenantArgs;
use crate::exit;

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// A running simulator to load (loopback only), e.g. http://127.0.0.1:8080. Without it, an
    /// in-process simulator is started with the tenant flags below.
    #[arg(long, env = "INSIGHTSIM_URL")]
    url: Option<String>,
    /// Simultaneous connections; each has its own bearer token (and so its own call limit).
    #[arg(long, env = "INSIGHTSIM_CONNECTIONS", default_value_t = 50)]
    connections: usize,
    /// How long to run (e.g. 10s, 2m).
    #[arg(long, env = "INSIGHTSIM_DURATION")]
    duration: Option<String>,
    /// Stop after this many requests in total.
    #[arg(long, env = "INSIGHTSIM_REQUESTS")]
    requests: Option<u64>,
    /// Request path; {instance} is the instance id, {skip} a random page offset.
    #[arg(
        long,
        env = "INSIGHTSIM_PATH",
        default_value = "/v1/instances/{instance}/data/Customer?$top=100&$skip={skip}"
    )]
    path: String,
    /// Prefix of the bearer tokens (`load-0`, `load-1`, ...).
    #[arg(long, env = "INSIGHTSIM_TOKEN_PREFIX", default_value = "load")]
    token_prefix: String,
    /// All connections share one token, so they share one call limit.
    #[arg(long, env = "INSIGHTSIM_SHARED_TOKEN")]
    shared_token: bool,
    /// Wait out Retry-After after a 429 (a well-behaved client); by default the load ignores it.
    #[arg(long, env = "INSIGHTSIM_HONOUR_RETRY_AFTER")]
    honour_retry_after: bool,
    /// Print the report as JSON (no progress bar).
    #[arg(long, env = "INSIGHTSIM_LOAD_JSON")]
    json: bool,
    /// Write a self-contained HTML report here: the grading and a call-limit timeline of every
    /// connection.
    #[arg(long, env = "INSIGHTSIM_LOAD_HTML")]
    html: Option<PathBuf>,
    // Without --url: the in-process simulator's tenant; --seed also seeds the load's page
    // offsets.
    #[command(flatten)]
    tenant: TenantArgs,
}

pub fn run(args: LoadArgs) -> anyhow::Result<u8> {
    let duration = match &args.duration {
        Some(d) => Some(Duration::from_millis(
            SimDuration::parse(d)
                .context("--duration")?
                .as_millis()
                .max(1) as u64,
        )),
        None => None,
    };
    if duration.is_none() && args.requests.is_none() {
        bail!("give --duration (e.g. 10s) or --requests N, so that the load is bounded");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(load(args, duration))
}

async fn load(args: LoadArgs, duration: Option<Duration>) -> anyhow::Result<u8> {
    // The target: a running simulator, or one started here.
    let (addr, in_process) = match &args.url {
        Some(url) => (loopback_addr(url)?, None),
        None => {
            let spec = args.tenant.spec()?;
            let mut config = SimConfig::new(spec, Clock::wall(1.0));
            config.journal_capacity = 10_000;
            let sim = Arc::new(Simulator::new(config));
            let handle = simulator::server::start(sim.clone(), "127.0.0.1:0".parse()?)
                .await
                .context("cannot start the in-process simulator")?;
            (handle.local_addr, Some((sim, handle)))
        }
    };
    let instance = instance_id(addr).await?;
    let customers = customers(addr, &instance).await.unwrap_or(10_000);
    // A running simulator remembers every connection that ever called it: this run's tokens
    // get a tag of their own, and only they are graded.
    let token_prefix = match &in_process {
        Some(_) => args.token_prefix.clone(),
        None => format!("{}-{}", args.token_prefix, run_tag()),
    };
    let config = LoadConfig {
        addr,
        connections: args.connections,
        token_prefix: token_prefix.clone(),
        shared_token: args.shared_token,
        duration,
        requests: args.requests,
        path_template: args.path.replace("{instance}", &instance),
        skip_max: customers,
        page_size: 100,
        honour_retry_after: args.honour_retry_after,
        seed: args.tenant.seed.unwrap_or(42),
    };
    let progress = Arc::new(LoadProgress::default());
    let bar = (!args.json).then(|| progress_bar(duration, args.requests));
    let ticker = bar.clone().map(|bar| {
        let progress = progress.clone();
        let started = Instant::now();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let n = progress.requests.load(Ordering::Relaxed);
                match bar.length() {
                    Some(_) if duration.is_some() => {
                        bar.set_position(started.elapsed().as_millis() as u64)
                    }
                    _ => bar.set_position(n),
                }
                bar.set_message(format!("{n} requests"));
            }
        })
    });
    let report = harness::load::run(config, progress.clone()).await?;
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut grades = match &in_process {
        Some((sim, _)) => sim.limiter.report(sim.now()),
        None => remote_grades(addr).await.unwrap_or_default(),
    };
    // A server without an admin token shows fingerprints instead of tokens: name the load's
    // own connections again by their tokens.
    for g in &mut grades {
        if let Some(token) = own_token_of(
            &g.connection,
            &token_prefix,
            args.connections,
            args.shared_token,
        ) {
            g.connection = token;
        }
    }
    grades.retain(|g| is_own_token(&g.connection, &token_prefix, args.shared_token));
    print_report(&args, &report, &grades);
    if let Some(path) = &args.html {
        let mut log = report.calls.clone();
        log.calls_max = grades.iter().find_map(|g| g.ideal_per_window);
        if let Some(g) = grades.first() {
            log.window_ms = g.window.as_millis().max(1);
        }
        std::fs::write(path, harness::report::load_html(&report, &grades, &log))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some((_, handle)) = in_process {
        handle.shutdown(Duration::from_secs(1)).await;
    }
    Ok(exit::SUCCESS)
}

fn progress_bar(duration: Option<Duration>, requests: Option<u64>) -> ProgressBar {
    let (len, template) = match (duration, requests) {
        (Some(d), _) => (
            d.as_millis() as u64,
            "{spinner} [{elapsed_precise}] {wide_bar} {msg}",
        ),
        (None, Some(n)) => (
            n,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} requests",
        ),
        (None, None) => (0, "{spinner} {msg}"),
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

fn print_report(args: &LoadArgs, report: &LoadReport, grades: &[ConnectionReport]) {
    if args.json {
        let value = serde_json::json!({ "load": report, "grading": grades });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return;
    }
    println!("{}", report.render());
    if report.statuses.contains_key(&431) {
        println!(
            "431: the request head was over the insightsim server limit (limits.server_header_bytes_max); it protects the simulator process and is not the connector's call limit"
        );
    }
    if grades.is_empty() {
        println!("(no grading: the target's control API was not reachable)");
    } else {
        println!();
        print!("{}", render_table(grades));
    }
}

/// Four hex digits that tell this run's tokens from an earlier run's against the same
/// simulator.
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    format!("{:04x}", (nanos ^ std::process::id()) & 0xffff)
}

/// Whether `token` is one of the load's connections (`{prefix}-{i}`, or the prefix itself when
/// shared).
fn is_own_token(token: &str, prefix: &str, shared: bool) -> bool {
    if shared {
        return token == prefix;
    }
    token
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()))
}

/// The load's own token whose fingerprint is `connection`, when it is one (see
/// `simulator::journal::fingerprint`).
fn own_token_of(
    connection: &str,
    prefix: &str,
    connections: usize,
    shared: bool,
) -> Option<String> {
    let tokens: Vec<String> = if shared {
        vec![prefix.to_owned()]
    } else {
        (0..connections).map(|i| format!("{prefix}-{i}")).collect()
    };
    tokens
        .into_iter()
        .find(|t| simulator::journal::fingerprint(t) == connection)
}

/// The token of the calls that find the instance (kept out of the grading table).
const SETUP_TOKEN: &str = "load-setup";

/// The socket address of a loopback URL (`http://127.0.0.1:8080`).
fn loopback_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("--url {url}: only http:// URLs are supported"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = authority.parse().with_context(|| {
        format!("--url {url}: give a loopback address with a port, e.g. http://127.0.0.1:8080")
    })?;
    if !addr.ip().is_loopback() {
        bail!("--url {url}: load mode targets loopback addresses only");
    }
    Ok(addr)
}

async fn get_json(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}; is the simulator running?"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut req = hyper::Request::get(path).header("host", addr.to_string());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let response = sender
        .send_request(req.body(http_body_util::Empty::<bytes::Bytes>::new())?)
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "GET {path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(serde_json::from_slice(&body)?)
}

async fn instance_id(addr: SocketAddr) -> anyhow::Result<String> {
    // The discovery call uses its own token, so that it does not eat a load connection's quota.
    let list = get_json(addr, "/v1/instances", Some(SETUP_TOKEN)).await?;
    list[0]["instanceId"]
        .as_str()
        .map(str::to_owned)
        .context("GET /v1/instances returned no instance")
}

async fn customers(addr: SocketAddr, instance: &str) -> anyhow::Result<u64> {
    let size = get_json(
        addr,
        &format!("/v1/instances/{instance}/manage/entities/Customer/entitysize"),
        Some(SETUP_TOKEN),
    )
    .await?;
    size["rowCount"].as_u64().context("no rowCount")
}

async fn remote_grades(addr: SocketAddr) -> anyhow::Result<Vec<ConnectionReport>> {
    let v = get_json(addr, "/_sim/ratelimit", None).await?;
    Ok(serde_json::from_value(v["connections"].clone())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_own_tokens_are_graded() {
        assert!(is_own_token("load-3f2a-0", "load-3f2a", false));
        assert!(is_own_token("load-3f2a-12", "load-3f2a", false));
        assert!(!is_own_token("load-0", "load-3f2a", false));
        assert!(!is_own_token("load-3f2a-setup", "load-3f2a", false));
        assert!(!is_own_token(SETUP_TOKEN, "load", false));
        assert!(is_own_token("load", "load", true));
        assert!(!is_own_token("load-0", "load", true));
        assert_eq!(run_tag().len(), 4);
    }
}
