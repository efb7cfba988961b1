//! A heavy query runs off the I/O threads, holds no lock, waits its turn within a budget, and
//! stops when the budget runs out: reproduction 3.

use std::sync::Mutex;
use std::sync::mpsc as std_mpsc;

use simulator::SimDuration;
use tokio::sync::mpsc;

use super::*;
use crate::support::{enc, error_of, request as call};

/// Customers enough that a sort of every one is heavy work (more than the rows a light query
/// may examine).
const CUSTOMERS: usize = 30_000;

/// Holds every heavy query at its start until the test lets it go; says when one is held.
fn hold_heavy_queries(sim: &Simulator) -> (mpsc::UnboundedReceiver<()>, std_mpsc::Sender<()>) {
    let (held_tx, held) = mpsc::unbounded_channel();
    let (release, release_rx) = std_mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    sim.set_query_hook(Some(Box::new(move || {
        let _ = held_tx.send(());
        let _ = release_rx.lock().unwrap().recv();
    })));
    (held, release)
}

/// Reproduction 3: `$orderby=Telephone` over 10M customers took 17 s and `/_sim/health`
/// stalled for all of it. Here a heavy query is held mid-way (by a hook, not by timing), and
/// every other kind of request, reads and writes, completes while it is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_query_holds_up_no_other_request() {
    let (sim, handle) = serve(tenant(CUSTOMERS, |s| {
        s.limits.server_query_time_max = SimDuration::from_secs(600);
    }))
    .await;
    let addr = handle.local_addr;
    let (mut held, release) = hold_heavy_queries(&sim);
    let data = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    let heavy = tokio::spawn({
        let target = format!("{data}?$orderby=Telephone%20desc&$top=3");
        async move { request(addr, "GET", &target, "sorter", "").await }
    });
    tokio::time::timeout(PATIENCE, held.recv())
        .await
        .expect("the heavy query started");

    // While it is held: liveness, a page, an indexed lookup, a write, a clock move.
    assert_eq!(
        request(addr, "GET", "/_sim/health", "", "").await.status,
        200
    );
    let page = request(addr, "GET", &format!("{data}?$top=2"), "reader", "").await;
    assert_eq!(page.status, 200, "{page:?}");
    let id = page.json()["value"][0]["CustomerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let lookup = format!("{data}?$filter={}", enc(&format!("CustomerId eq '{id}'")));
    assert_eq!(
        request(addr, "GET", &lookup, "reader", "").await.status,
        200
    );
    let subscribe = format!(
        "/v1/instances/{}/triggers/full-refresh-completed/subscriptions",
        sim.instance_id
    );
    let body = r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#;
    assert_eq!(
        request(addr, "POST", &subscribe, "writer", body)
            .await
            .status,
        201
    );
    let advance = request(addr, "POST", "/_sim/clock/advance", "", r#"{"by":"1h"}"#).await;
    assert_eq!(advance.status, 200);

    release.send(()).unwrap();
    let heavy = heavy.await.unwrap();
    assert_eq!(heavy.status, 200, "{heavy:?}");
    let rows = heavy.json()["value"].as_array().unwrap().len();
    assert_eq!(rows, 3);
    sim.set_query_hook(None);
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Heavy queries run `limits.server_queries_max` at once; the others wait their turn within
/// their budget, then give up with `503` and `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_queries_wait_their_turn_within_their_budget() {
    let (sim, handle) = serve(tenant(CUSTOMERS, |s| {
        s.limits.server_queries_max = 1;
        s.limits.server_query_time_max = SimDuration::from_millis(500);
    }))
    .await;
    let addr = handle.local_addr;
    let (mut held, release) = hold_heavy_queries(&sim);
    let data = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    let first = tokio::spawn({
        let target = format!("{data}?$orderby=Telephone");
        async move { request(addr, "GET", &target, "sorter", "").await }
    });
    tokio::time::timeout(PATIENCE, held.recv())
        .await
        .expect("the first heavy query started");
    let second = request(addr, "GET", &format!("{data}?$orderby=City"), "sorter2", "").await;
    second.assert_limit(503, "server_queries_max");
    assert!(second.header("retry-after").is_some());
    // The first one was held longer than its budget: it stops at its first look at the clock.
    release.send(()).unwrap();
    first
        .await
        .unwrap()
        .assert_limit(503, "server_query_time_max");
    sim.set_query_hook(None);
    handle.shutdown(Duration::from_secs(1)).await;
}

/// A query that runs past `limits.server_query_time_max` is stopped and answered `503` with
/// `Retry-After`, naming the limit; the journal records it.
#[test]
fn a_query_past_its_budget_is_stopped_with_503() {
    let sim = tenant(CUSTOMERS, |s| {
        s.limits.server_query_time_max = SimDuration::from_millis(1);
    });
    // The query starts after its budget is spent (as a slow one would be, mid-scan).
    sim.set_query_hook(Some(Box::new(|| {
        std::thread::sleep(Duration::from_millis(20));
    })));
    let path = format!(
        "/v1/instances/{}/data/Customer?$orderby=FullName",
        sim.instance_id
    );
    let r = call(&sim, "GET", &path, "");
    assert_eq!(r.status, 503);
    let (code, message) = error_of(&r);
    assert_eq!(code, "ServerLimit");
    assert!(
        message.contains("limits.server_query_time_max") && message.contains("tenant file"),
        "{message}"
    );
    assert!(r.header("Retry-After").is_some());
    assert_eq!(sim.journal.since(0).last().map(|e| e.status), Some(503));
    // A light query is answered on the spot, whatever the budget.
    sim.set_query_hook(None);
    let light = format!("/v1/instances/{}/data/Customer?$top=5", sim.instance_id);
    assert_eq!(call(&sim, "GET", &light, "").status, 200);
}
