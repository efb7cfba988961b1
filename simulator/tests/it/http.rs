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
    assert_eq!(headers["www-authenticate"], "Bearer");

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
