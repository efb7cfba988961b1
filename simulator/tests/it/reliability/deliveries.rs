//! No webhook reaches the simulator itself, a delivery loop is cut, and stopping does not wait
//! for a slow endpoint: reproductions 1, 2 and 9.

use serde_json::json;
use simulator::SimDuration;
use simulator::delivery::Sender;
use simulator::driver::{DRAIN_DEFAULT, Driver};
use simulator::engine::DeliveryStatus;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::*;
use crate::support::{json, request as call};

fn subscriptions_path(sim: &Simulator) -> String {
    format!(
        "/v1/instances/{}/triggers/datasource-refresh-succeeded/subscriptions",
        sim.instance_id
    )
}

/// A successful ingestion of PoS, finished: one `datasource-refresh-succeeded` event.
fn refresh_pos(sim: &Simulator) {
    let r = call(sim, "POST", "/_sim/datasources/PoS/refresh", "{}");
    assert_eq!(r.status, 202, "{:?}", r.bytes());
    let advanced = call(sim, "POST", "/_sim/clock/advance", r#"{"by":"2m"}"#);
    assert_eq!(advanced.status, 200);
}

/// Polls `done` until it holds (within [`PATIENCE`]): for outcomes that no event announces,
/// such as a delivery the sender refused.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "gave up waiting until {what}");
}

/// Reproduction 1: a subscription to `http://127.0.0.1:P/_sim/reset` made the simulator reset
/// itself a second later.
#[tokio::test]
async fn a_subscription_to_the_simulator_itself_is_refused_naming_the_rule() {
    let (sim, handle) = serve(tenant(20, |_| {})).await;
    let port = handle.local_addr.port();
    let path = subscriptions_path(&sim);
    for host in [
        "127.0.0.1",
        "localhost",
        "LOCALHOST.",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
    ] {
        let body = format!(r#"{{"NotificationUrl":"http://{host}:{port}/_sim/reset"}}"#);
        let answer = request(handle.local_addr, "POST", &path, "t", &body).await;
        assert_eq!(answer.status, 400, "{host}: {answer:?}");
        // The subscription routes answer errors as the API model's `ApiErrorResult`.
        let error = answer.json();
        assert_eq!(error["params"]["target"], "NotificationUrl");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("delivery.allow_self") && message.contains("tenant file"),
            "{message}"
        );
    }
    let elsewhere = format!(
        r#"{{"NotificationUrl":"http://127.0.0.1:{}/hook"}}"#,
        port ^ 1
    );
    assert_eq!(
        request(handle.local_addr, "POST", &path, "t", &elsewhere)
            .await
            .status,
        201,
        "another port is another server"
    );
    handle.shutdown(Duration::from_secs(1)).await;

    let (sim, handle) = serve(tenant(20, |s| s.delivery.allow_self = true)).await;
    let port = handle.local_addr.port();
    let body = format!(r#"{{"NotificationUrl":"http://127.0.0.1:{port}/_sim/health"}}"#);
    let answer = request(
        handle.local_addr,
        "POST",
        &subscriptions_path(&sim),
        "t",
        &body,
    )
    .await;
    assert_eq!(answer.status, 201, "the tenant file allows it explicitly");
    handle.shutdown(Duration::from_secs(1)).await;
}

/// The check happens again at send time: a subscription the core accepted (its URL was not
/// known to be the simulator's then) is not delivered to the simulator.
#[tokio::test]
async fn a_delivery_to_the_simulator_itself_is_not_sent() {
    let (sim, handle) = serve(tenant(20, |_| {})).await;
    let url = format!("http://localhost:{}/_sim/reset", handle.local_addr.port());
    sim.with_engine(|engine, now| {
        let body = json!({ "NotificationUrl": url });
        let sub = engine.subscribe(now, "datasource-refresh-succeeded", &body);
        assert!(sub.is_ok(), "{sub:?}");
        ((), Vec::new())
    });
    refresh_pos(&sim);
    let own = sim.clone();
    let sender = Sender::new().refusing_self(move || own.own_addresses());
    let attempts = sim.take_deliveries();
    assert_eq!(attempts.len(), 1);
    for attempt in attempts {
        let result = sender.send(&attempt, Duration::from_secs(5)).await;
        sim.delivery_result(attempt.attempt_id, result);
    }
    let delivery = &sim.deliveries()[0];
    assert_eq!(delivery.status, DeliveryStatus::Dead, "{delivery:?}");
    let reason = delivery.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("delivery.allow_self"), "{reason}");
    assert_eq!(
        sim.subscriptions().len(),
        1,
        "the simulator did not reset itself"
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Reproduction 2: a `NotificationUrl` at `/_sim/deliveries/<id>/redeliver` and two events gave
/// ≈ 9,000 deliveries a second without end. With self-delivery allowed, the volume limit cuts
/// the loop and `/_sim/events` reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_loop_is_cut_by_the_volume_limit() {
    const MAX: u64 = 25;
    let edit = |s: &mut TenantSpec| {
        s.delivery.allow_self = true;
        s.limits.deliveries_per_subscription_max = MAX;
        // One window for the whole test (its clock moves a few minutes).
        s.limits.deliveries_window = SimDuration::from_hours(1);
    };
    // Ids are predictable from the seed: a twin run gives the id of the first delivery.
    let twin = tenant(20, edit);
    let body = r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#;
    assert_eq!(
        call(&twin, "POST", &subscriptions_path(&twin), body).status,
        201
    );
    refresh_pos(&twin);
    let first = twin.deliveries()[0].delivery_id.clone();

    let (sim, handle) = serve(tenant(20, edit)).await;
    let driver = Driver::spawn(sim.clone());
    let hook = format!(
        r#"{{"NotificationUrl":"http://{}/_sim/deliveries/{first}/redeliver"}}"#,
        handle.local_addr
    );
    assert_eq!(
        call(&sim, "POST", &subscriptions_path(&sim), &hook).status,
        201
    );
    refresh_pos(&sim);
    wait_until("the first delivery is answered", || {
        sim.deliveries()
            .first()
            .is_some_and(|d| d.status == DeliveryStatus::Dead)
    })
    .await;
    assert_eq!(sim.deliveries()[0].delivery_id, first);
    // The second event's delivery re-sends the first, whose re-send re-sends it, and so on.
    refresh_pos(&sim);
    wait_until("the loop is cut", || {
        sim.events().iter().any(|e| e.delivery_cut.is_some())
    })
    .await;
    assert_eq!(
        sim.deliveries().len() as u64,
        MAX,
        "no delivery after the cut"
    );
    let events = json(&call(&sim, "GET", "/_sim/events", ""));
    assert_eq!(events["deliveryCut"]["events"], 1);
    assert_eq!(
        events["deliveryCut"]["limit"],
        "limits.deliveries_per_subscription_max"
    );
    let cut = events["value"][0]["deliveryCut"].as_str().unwrap();
    assert!(
        cut.starts_with("insightsim server limit")
            && cut.contains("deliveries_per_subscription_max"),
        "{cut}"
    );
    driver.shutdown().await;
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Reproduction 9: Ctrl-C waited ≈ 30 s while a delivery was in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_does_not_wait_for_a_delivery_in_flight_beyond_the_grace() {
    // An endpoint that reads the request and never answers.
    let sink = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let (arrived, arrival) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = sink.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await;
        let _ = arrived.send(());
        // Hold the connection open, silent.
        let _ = stream.read(&mut buf).await;
    });
    let sim = Arc::new(tenant(20, |s| {
        s.delivery.attempt_timeout = SimDuration::from_secs(600);
    }));
    let driver = Driver::spawn(sim.clone());
    let body = format!(r#"{{"NotificationUrl":"http://{sink_addr}/hook"}}"#);
    assert_eq!(
        call(&sim, "POST", &subscriptions_path(&sim), &body).status,
        201
    );
    refresh_pos(&sim);
    tokio::time::timeout(PATIENCE, arrival)
        .await
        .expect("the delivery reached the endpoint")
        .unwrap();
    let stopped = tokio::time::timeout(DRAIN_DEFAULT * 3, driver.shutdown()).await;
    assert!(
        stopped.is_ok(),
        "shutdown waited for the 600 s attempt instead of its grace"
    );
}
