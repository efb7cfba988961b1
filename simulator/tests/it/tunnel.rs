//! Behind a TLS-terminating tunnel (how a Power Platform custom connector reaches the simulator),
//! absolute URLs follow the scheme and host the client used.

use std::sync::Arc;

use simulator::server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// One request over a fresh connection; the whole answer as text.
async fn raw(addr: std::net::SocketAddr, head: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn a_subscription_location_uses_the_forwarded_scheme_and_host() {
    let sim = Arc::new(sim(50));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let path = format!(
        "/v1/instances/{}/triggers/full-refresh-completed/subscriptions",
        sim.instance_id
    );
    let body = r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#;
    let tunnelled = raw(
        handle.local_addr,
        &format!("POST {path} HTTP/1.1\r\nhost: abc123.tunnel.example\r\nx-forwarded-proto: https\r\nauthorization: Bearer t"),
        body,
    )
    .await;
    assert!(tunnelled.starts_with("HTTP/1.1 201"), "{tunnelled}");
    assert!(
        tunnelled
            .to_ascii_lowercase()
            .contains(&format!("location: https://abc123.tunnel.example{path}/")),
        "{tunnelled}"
    );
    let direct = raw(
        handle.local_addr,
        &format!("POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer t"),
        body,
    )
    .await;
    assert!(
        direct
            .to_ascii_lowercase()
            .contains(&format!("location: http://127.0.0.1{path}/")),
        "{direct}"
    );
    handle.shutdown(std::time::Duration::from_secs(1)).await;
}
