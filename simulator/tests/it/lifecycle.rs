//! The lifecycle over real sockets: subscriptions, deliveries to a real receiver, retries.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use simulator::driver::Driver;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator, server};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::*;

/// A webhook receiver on port 0 that answers each POST with the next status of `statuses`
/// (then 200) and forwards (attempt header, body) to the returned channel.
async fn receiver(
    statuses: Vec<u16>,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<(String, serde_json::Value)>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let statuses = Arc::new(statuses);
    let seen = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (tx, statuses, seen) = (tx.clone(), statuses.clone(), seen.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (tx, statuses, seen) = (tx.clone(), statuses.clone(), seen.clone());
                    async move {
                        let attempt = req
                            .headers()
                            .get("x-insightsim-delivery-attempt")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = seen.fetch_add(1, Ordering::SeqCst);
                        let status = statuses.get(n).copied().unwrap_or(200);
                        let _ = tx.send((attempt, serde_json::from_slice(&body).unwrap()));
                        let mut r = Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, rx)
}

/// A simulator on a fast-running clock (1000× the wall clock) with its HTTP server and driver.
async fn running(
    edit: impl FnOnce(&mut TenantSpec),
) -> (Arc<Simulator>, server::ServerHandle, Driver) {
    let mut spec = TenantSpec::demo();
    spec.customers = 300;
    spec.refresh.schedule_enabled = false;
    spec.limits.rate_limit = "off".into();
    edit(&mut spec);
    let sim = Arc::new(Simulator::new(SimConfig::new(
        spec,
        Clock::running_from(SimTime::DEFAULT_EPOCH, 1000.0),
    )));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let driver = Driver::spawn(sim.clone());
    (sim, handle, driver)
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, hyper::HeaderMap, serde_json::Value) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("authorization", "Bearer flow")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let r = sender.send_request(req).await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

async fn next(
    rx: &mut mpsc::UnboundedReceiver<(String, serde_json::Value)>,
) -> (String, serde_json::Value) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery within 10 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_then_unsubscribe_then_404() {
    let (sim, handle, driver) = running(|_| {}).await;
    let base = format!(
        "/v1/instances/{}/triggers/full-refresh-completed/subscriptions",
        sim.instance_id
    );
    let (status, headers, body) = call(
        handle.local_addr,
        "POST",
        &base,
        r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#,
    )
    .await;
    assert_eq!(status, 201);
    let location = headers["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("http://{}{base}/", handle.local_addr)),
        "{location}"
    );
    assert_eq!(body["trigger"], "full-refresh-completed");
    let path = location
        .strip_prefix(&format!("http://{}", handle.local_addr))
        .unwrap();
    assert_eq!(call(handle.local_addr, "DELETE", path, "").await.0, 204);
    assert_eq!(call(handle.local_addr, "DELETE", path, "").await.0, 404);
    driver.shutdown().await;
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_subscriptions_are_400_naming_the_field() {
    let (sim, handle, driver) = running(|_| {}).await;
    let url = |t: &str| {
        format!(
            "/v1/instances/{}/triggers/{t}/subscriptions",
            sim.instance_id
        )
    };
    for (trigger, body, field) in [
        (
            "measure-threshold-crossed",
            r#"{"NotificationUrl":"http://127.0.0.1:9/h","measureName":"RevenueByCountry","threshold":5}"#,
            "measureName",
        ),
        (
            "segment-threshold-crossed",
            r#"{"NotificationUrl":"http://127.0.0.1:9/h","segmentName":"Nope","threshold":5}"#,
            "segmentName",
        ),
        (
            "segment-threshold-crossed",
            r#"{"NotificationUrl":"http://127.0.0.1:9/h","segmentName":"ChurnRisk"}"#,
            "threshold",
        ),
        (
            "full-refresh-completed",
            r#"{"NotificationUrl":"not a url"}"#,
            "NotificationUrl",
        ),
    ] {
        let (status, _, body) = call(handle.local_addr, "POST", &url(trigger), body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_target(&body), field, "{body}");
    }
    let (status, _, _) = call(
        handle.local_addr,
        "POST",
        &url("no-such-trigger"),
        r#"{"NotificationUrl":"http://127.0.0.1:9/h"}"#,
    )
    .await;
    assert_eq!(status, 404);
    driver.shutdown().await;
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossing_is_delivered_to_a_real_receiver_and_the_api_agrees() {
    let (hook, mut rx) = receiver(vec![]).await;
    let (sim, handle, driver) = running(|_| {}).await;
    let sub = format!(
        r#"{{"NotificationUrl":"http://{hook}/hook","segmentName":"HighValueCustomers","threshold":40}}"#
    );
    let path = format!(
        "/v1/instances/{}/triggers/segment-threshold-crossed/subscriptions",
        sim.instance_id
    );
    assert_eq!(call(handle.local_addr, "POST", &path, &sub).await.0, 201);
    let r = request(
        &sim,
        "POST",
        "/_sim/segments/HighValueCustomers/evaluate",
        r#"{"entityCount":30}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes()));
    request(
        &sim,
        "POST",
        "/_sim/segments/HighValueCustomers/evaluate",
        r#"{"entityCount":55}"#,
    );
    let (attempt, payload) = next(&mut rx).await;
    assert_eq!(attempt, "1");
    assert_eq!(payload["eventType"], "segment-threshold-crossed");
    assert_eq!(
        (
            payload["previousCount"].as_u64(),
            payload["entityCount"].as_u64()
        ),
        (Some(30), Some(55))
    );
    let members = call(
        handle.local_addr,
        "GET",
        &format!(
            "/v1/instances/{}/data/HighValueCustomers?$count=true&$top=0",
            sim.instance_id
        ),
        "",
    )
    .await
    .2;
    assert_eq!(members["@odata.count"], 55);
    driver.shutdown().await;
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_and_then_delivered() {
    let (hook, mut rx) = receiver(vec![500]).await;
    let (sim, handle, driver) = running(|_| {}).await;
    let sub = format!(r#"{{"NotificationUrl":"http://{hook}/hook"}}"#);
    let path = format!(
        "/v1/instances/{}/triggers/datasource-refresh-failed/subscriptions",
        sim.instance_id
    );
    assert_eq!(call(handle.local_addr, "POST", &path, &sub).await.0, 201);
    request(
        &sim,
        "POST",
        "/_sim/datasources/PoS/refresh",
        r#"{"outcome":"fail"}"#,
    );
    let (first, p1) = next(&mut rx).await;
    let (second, p2) = next(&mut rx).await;
    assert_eq!((first.as_str(), second.as_str()), ("1", "2"));
    assert_eq!(
        p1["eventId"], p2["eventId"],
        "a retry carries the same event id"
    );
    assert_eq!(p1["dataSourceName"], "PoS");
    // Shutting the driver down waits for the second attempt's result to be reported.
    driver.shutdown().await;
    let deliveries = json(&request(&sim, "GET", "/_sim/deliveries", ""));
    let d = &deliveries["value"][0];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 2);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_refuses_non_loopback_peers_and_wrong_tokens() {
    let mut spec = TenantSpec::demo();
    spec.customers = 10;
    let mut config = SimConfig::new(spec, Clock::frozen_at(SimTime::DEFAULT_EPOCH));
    config.admin_token = Some("secret".into());
    let sim = Simulator::new(config);
    let ask = |token: Option<&str>, loopback: bool| {
        simulator::api::handle(
            &sim,
            &simulator::api::ApiRequest {
                method: "GET",
                path: "/_sim/health",
                query: None,
                authorization: None,
                subscription_key: None,
                admin_token: token,
                body: b"",
                base_url: BASE,
                peer_loopback: loopback,
            },
        )
        .status
    };
    assert_eq!(ask(Some("secret"), true), 200);
    assert_eq!(ask(None, true), 401);
    assert_eq!(ask(Some("wrong"), true), 401);
    assert_eq!(ask(Some("secret"), false), 403);
}
