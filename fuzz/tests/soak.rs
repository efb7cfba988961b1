//! The soak: a server on loopback takes rounds of requests that used to grow its memory (long
//! URLs without a token, URLs and bodies over the limits, big status reports, creates, heavy
//! queries) and its memory must stay flat once the budgets are full. It runs alone in its
//! process (its own test target), so that the process's resident memory is its own.

use std::net::SocketAddr;
use std::sync::Arc;

use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator, server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Rounds before the first measurement (the budgets fill up), and measured rounds after it.
const WARM_UP_ROUNDS: usize = 3;
const MEASURED_ROUNDS: usize = 8;
/// How much resident memory may grow over the measured rounds, in bytes. One round sends
/// about 16 MB of requests; without the budgets the process grew by roughly that each round.
const GROWTH_MAX: u64 = 24 << 20;

const JOURNAL_BYTES_MAX: usize = 1 << 20;
const ITEMS_BYTES_MAX: usize = 2 << 20;

/// Resident memory of this process, from `/proc/self/statm` (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

async fn send(addr: SocketAddr, method: &str, target: &str, auth: bool, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let auth = if auth {
        "authorization: Bearer soak\r\n"
    } else {
        ""
    };
    let head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(answer.get(9..12).unwrap_or_default())
        .parse()
        .unwrap_or(0)
}

/// One round: every kind of request that used to cost memory.
async fn round(addr: SocketAddr, instance: &str, n: usize) {
    let long = "x".repeat(7 * 1024);
    let too_long = "y".repeat(10 * 1024);
    for i in 0..300 {
        let status = send(
            addr,
            "GET",
            &format!("/v1/instances?r={n}-{i}&q={long}"),
            false,
            b"",
        )
        .await;
        assert_eq!(status, 401);
    }
    for _ in 0..20 {
        let status = send(
            addr,
            "GET",
            &format!("/v1/instances?q={too_long}"),
            true,
            b"",
        )
        .await;
        assert_eq!(status, 414);
    }
    let report = format!(
        r#"{{"reportType":"soak","data":"{}"}}"#,
        "z".repeat(200 * 1024)
    );
    for _ in 0..20 {
        let path = format!("/v1/instances/{instance}/statusreport");
        assert_eq!(
            send(addr, "POST", &path, true, report.as_bytes()).await,
            202
        );
    }
    let data = format!("/v1/instances/{instance}/data/Customer");
    for i in 0..60 {
        let item = format!(
            r#"{{"CustomerId":"soak-{n}-{i}","FullName":"{}","City":"{}"}}"#,
            "n".repeat(4000),
            "c".repeat(4000)
        );
        let status = send(addr, "POST", &data, true, item.as_bytes()).await;
        assert!(status == 201 || status == 507, "create: {status}");
    }
    let huge = vec![b'{'; 300 * 1024];
    for _ in 0..5 {
        assert_eq!(send(addr, "POST", &data, true, &huge).await, 413);
    }
    for _ in 0..5 {
        let status = send(
            addr,
            "GET",
            &format!("{data}?$orderby=Telephone&$top=5"),
            true,
            b"",
        )
        .await;
        assert_eq!(status, 200);
    }
}

#[test]
fn memory_stays_flat_under_a_flood_of_costly_requests() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut spec = TenantSpec::demo();
    spec.customers = 2000;
    spec.limits.rate_limit = "off".into();
    spec.refresh.schedule_enabled = false;
    spec.limits.server_body_bytes_max = 256 * 1024;
    spec.limits.journal_bytes_max = JOURNAL_BYTES_MAX;
    spec.limits.items_bytes_max = ITEMS_BYTES_MAX;
    let sim = Arc::new(Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(SimTime::DEFAULT_EPOCH),
    )));
    let instance = sim.instance_id.clone();
    runtime.block_on(async {
        let handle = server::start(sim.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .expect("listen");
        let addr = handle.local_addr;
        for n in 0..WARM_UP_ROUNDS {
            round(addr, &instance, n).await;
        }
        let before = resident_bytes();
        for n in WARM_UP_ROUNDS..WARM_UP_ROUNDS + MEASURED_ROUNDS {
            round(addr, &instance, n).await;
        }
        let after = resident_bytes();
        // The simulator's own accounting keeps within the budgets...
        assert!(sim.journal.bytes() <= JOURNAL_BYTES_MAX, "{}", sim.journal.bytes());
        assert!(sim.journal.dropped() > 0);
        let state = sim.status_reports();
        let kept: usize = state.iter().map(|r| r.body.to_string().len()).sum();
        assert!(kept <= JOURNAL_BYTES_MAX, "status reports keep {kept} bytes");
        // ...and so does the process.
        if let (Some(before), Some(after)) = (before, after) {
            let growth = after.saturating_sub(before);
            eprintln!("resident memory over {MEASURED_ROUNDS} rounds: {before} -> {after} bytes");
            assert!(
                growth <= GROWTH_MAX,
                "resident memory grew by {growth} bytes over {MEASURED_ROUNDS} rounds ({before} -> {after})"
            );
        }
        handle.shutdown(std::time::Duration::from_secs(1)).await;
    });
}
