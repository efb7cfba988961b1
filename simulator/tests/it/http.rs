//! A few real-socket tests on port 0: auth, each kind of endpoint, and error shapes over HTTP.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use simulator::server;
use tokio::net::TcpStream;

use crate::support::*;

async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let response = sender
        .send_request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn serves_the_api_over_a_real_socket() {
    let sim = Arc::new(sim(120));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_addr;
    let id = sim.instance_id.clone();

    let (status, headers, _) = send(addr, "GET", "/v1/instances", None, "").await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer error_description=")
    );

    let (status, _, body) = send(addr, "GET", "/v1/instances", Some("Bearer t"), "").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains(&id));

    let (status, headers, body) = send(
        addr,
        "GET",
        &format!("/v1/instances/{id}/data/Customer?$top=100&$skip=100"),
        Some("Bearer t"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 20);
    assert!(
        page["@odata.context"]
            .as_str()
            .unwrap()
            .starts_with(&format!("http://{addr}/v1/instances/{id}/data/"))
    );

    let (status, _, body) = send(
        addr,
        "GET",
        &format!("/v1/instances/{id}/data/Customer?$filter=Nope%20eq%201"),
        Some("Bearer t"),
        "",
    )
    .await;
    assert_eq!(status, 400);
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "UnknownField");
    assert_eq!(err["error"]["target"], "$filter");

    let (status, _, _) = send(
        addr,
        "POST",
        &format!("/v1/instances/{id}/data/Customer"),
        Some("Bearer t"),
        "{not json",
    )
    .await;
    assert_eq!(status, 400);

    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_by_the_server_limit() {
    let sim = Arc::new(sim_with(10, |s| s.limits.server_body_bytes_max = 1024));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let big = "x".repeat(4096);
    let (status, _, body) = send(
        handle.local_addr,
        "POST",
        &format!("/v1/instances/{}/data/Customer", sim.instance_id),
        Some("Bearer t"),
        &big,
    )
    .await;
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("server limit"));
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_limit_passes_when_requests_arrive_at_once() {
    // 300 connections from one peer at once: above the per-peer cap (256) when the machine is
    // slow to serve them, and the cap is not what this test is about.
    let sim = Arc::new(sim_with(20, |s| {
        s.limits.rate_limit = "100/60s".into();
        s.limits.server_connections_per_peer_max = 1024;
    }));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_addr;
    let path = format!("/v1/instances/{}/data/Customer?$top=1", sim.instance_id);
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move { send(addr, "GET", &path, Some("Bearer hammer"), "").await })
        })
        .collect();
    let (mut ok, mut throttled) = (0, 0);
    for t in tasks {
        let (status, headers, body) = t.await.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                throttled += 1;
                // The clock is frozen, so the wait is the whole window.
                assert_eq!(headers["retry-after"], "60");
                let b: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(b["statusCode"], 429);
                assert_eq!(
                    b["message"],
                    "Rate limit is exceeded. Try again in 60 seconds."
                );
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, throttled), (100, 200));
    let (status, _, _) = send(addr, "GET", &path, Some("Bearer other"), "").await;
    assert_eq!(status, 200, "another connection has its own quota");
    let report = sim.limiter.report(sim.now());
    let hammer = report.iter().find(|r| r.connection == "hammer").unwrap();
    assert_eq!(
        (hammer.calls, hammer.admitted, hammer.throttled),
        (300, 100, 200)
    );
    handle.shutdown(Duration::from_secs(1)).await;
}
