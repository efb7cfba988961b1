//! Page serving, side by side with a bare hyper server.
//!
//! Run: `cargo bench --bench page_serving` (options: `-- --customers N --seconds S --connections C`).
//!
//! Both servers run in this process on one multi-threaded tokio runtime; the load generator
//! (`harness::load`, 50 keep-alive connections by default) runs on another. The bare server
//! answers every request with a pre-serialized body of the same size as a simulator page, so the
//! ratio shows what the simulator's work per request (auth, call limiter, journal, OData parsing,
//! reading and writing 100 rows) costs next to hyper's own.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use harness::load::{LoadConfig, LoadProgress, LoadReport};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, Simulator};
use tokio::net::TcpListener;

struct Options {
    customers: usize,
    seconds: u64,
    connections: usize,
    rounds: usize,
    /// `sim` or `bare`: run only one side (for profiling).
    only: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        customers: 10_000,
        seconds: 8,
        connections: 50,
        rounds: 2,
        only: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    if let Some(v) = value("--customers") {
        o.customers = v;
    }
    if let Some(v) = value("--seconds") {
        o.seconds = v as u64;
    }
    if let Some(v) = value("--connections") {
        o.connections = v;
    }
    if let Some(v) = value("--rounds") {
        o.rounds = v;
    }
    o.only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    o
}

async fn bare_server(body: Bytes) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    async move {
                        let mut r = Response::new(Full::new(body));
                        r.headers_mut().insert(
                            "content-type",
                            "application/json; odata.metadata=minimal; charset=utf-8"
                                .parse()
                                .unwrap(),
                        );
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn drive(load_rt: &tokio::runtime::Runtime, config: LoadConfig) -> LoadReport {
    load_rt
        .block_on(harness::load::run(
            config,
            Arc::new(LoadProgress::default()),
        ))
        .unwrap()
}

fn main() {
    let o = options();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut spec = TenantSpec::demo();
    spec.customers = o.customers;
    spec.limits.rate_limit = "off".into();
    let mut config = SimConfig::new(spec, Clock::wall(1.0));
    config.journal_capacity = 10_000;
    let sim = Arc::new(Simulator::new(config));
    let id = sim.instance_id.clone();
    let sim_handle = server_rt
        .block_on(simulator::server::start(
            sim.clone(),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();

    // One page of the simulator, to give the bare server a body of the same size.
    let sample = load_rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(sim_handle.local_addr)
            .await
            .unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get(format!(
            "/v1/instances/{id}/data/Customer?$top=100&$skip=500"
        ))
        .header("host", "127.0.0.1")
        .header("authorization", "Bearer sample")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
        let r = sender.send_request(req).await.unwrap();
        http_body_util::BodyExt::collect(r.into_body())
            .await
            .unwrap()
            .to_bytes()
    });
    let bare_addr = server_rt.block_on(bare_server(sample.clone()));

    let path = format!("/v1/instances/{id}/data/Customer?$top=100&$skip={{skip}}");
    let load = |addr: SocketAddr| LoadConfig {
        addr,
        connections: o.connections,
        token_prefix: "bench".into(),
        shared_token: false,
        duration: Some(Duration::from_secs(o.seconds)),
        requests: None,
        path_template: path.clone(),
        skip_max: o.customers as u64,
        page_size: 100,
        honour_retry_after: false,
        seed: 42,
    };
    println!(
        "page serving: {} customers, body {} bytes, {} connections, {} s per run, {} rounds",
        o.customers,
        sample.len(),
        o.connections,
        o.seconds,
        o.rounds
    );
    // Warm up both servers.
    let mut warm = load(sim_handle.local_addr);
    warm.duration = Some(Duration::from_secs(1));
    drive(&load_rt, warm.clone());
    warm.addr = bare_addr;
    drive(&load_rt, warm);

    if let Some(side) = &o.only {
        let addr = if side == "bare" {
            bare_addr
        } else {
            sim_handle.local_addr
        };
        let r = drive(&load_rt, load(addr));
        println!("{side} only: {:.0} req/s", r.requests_per_s);
        return;
    }
    if let Some(side) = &o.only {
        let addr = if side == "bare" {
            bare_addr
        } else {
            sim_handle.local_addr
        };
        let r = drive(&load_rt, load(addr));
        println!("{side} only: {:.0} req/s", r.requests_per_s);
        return;
    }
    let (mut sim_best, mut bare_best) = (0f64, 0f64);
    for round in 1..=o.rounds {
        let bare = drive(&load_rt, load(bare_addr));
        let simr = drive(&load_rt, load(sim_handle.local_addr));
        assert_eq!(
            simr.statuses.keys().copied().collect::<Vec<_>>(),
            vec![200],
            "the simulator must answer 200"
        );
        println!(
            "round {round}: bare hyper {:>8.0} req/s (p99 {:.2} ms) | insightsim {:>8.0} req/s (p50 {:.2} ms, p99 {:.2} ms) | ratio {:.1} %",
            bare.requests_per_s,
            bare.latency_ms_p99,
            simr.requests_per_s,
            simr.latency_ms_p50,
            simr.latency_ms_p99,
            100.0 * simr.requests_per_s / bare.requests_per_s
        );
        sim_best = sim_best.max(simr.requests_per_s);
        bare_best = bare_best.max(bare.requests_per_s);
    }
    println!(
        "best: bare hyper {bare_best:.0} req/s, insightsim {sim_best:.0} req/s, ratio {:.1} %",
        100.0 * sim_best / bare_best
    );
    server_rt.block_on(sim_handle.shutdown(Duration::from_secs(1)));
}
