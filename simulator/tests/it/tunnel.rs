//! Absolute URLs (a subscription's `Location`, `@odata.context`) come from `--public-url` or the
//! address the client reached, never from an unchecked `Host` header: behind a TLS-terminating
//! tunnel (how a Power Platform custom connector reaches the simulator) they follow the public URL.

use std::sync::Arc;

use simulator::addresses::PublicUrl;
use simulator::server;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};
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

fn subscription_path(sim: &Simulator) -> String {
    format!(
        "/v1/instances/{}/triggers/full-refresh-completed/subscriptions",
        sim.instance_id
    )
}

const BODY: &str = r#"{"NotificationUrl":"http://127.0.0.1:9/hook"}"#;

#[tokio::test]
async fn a_subscription_location_uses_the_public_url_whatever_the_host() {
    let mut spec = TenantSpec::demo();
    spec.customers = 50;
    let mut config = SimConfig::new(spec, Clock::frozen_at(SimTime::DEFAULT_EPOCH));
    config.public_url = Some(PublicUrl::parse("https://abc123.tunnel.example").unwrap());
    let sim = Arc::new(Simulator::new(config));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let path = subscription_path(&sim);
    for host in ["127.0.0.1", "evil.example", "abc123.tunnel.example"] {
        let answer = raw(
            handle.local_addr,
            &format!("POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer t"),
            BODY,
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains(&format!("location: https://abc123.tunnel.example{path}/")),
            "{host}: {answer}"
        );
    }
    handle.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Issue 10, reproduction 10: any `Host` was echoed into `Location` and `@odata.context`.
#[tokio::test]
async fn an_unchecked_host_header_is_never_echoed_into_absolute_urls() {
    let sim = Arc::new(sim(50));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_addr;
    let path = subscription_path(&sim);
    let forged = raw(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nhost: evil.example\r\nx-forwarded-proto: https\r\nauthorization: Bearer t"
        ),
        BODY,
    )
    .await;
    assert!(forged.starts_with("HTTP/1.1 201"), "{forged}");
    assert!(!forged.contains("evil.example"), "{forged}");
    assert!(
        forged
            .to_ascii_lowercase()
            .contains(&format!("location: http://{addr}{path}/")),
        "{forged}"
    );
    let page = raw(
        addr,
        &format!(
            "GET /v1/instances/{}/data/Customer?$top=1 HTTP/1.1\r\nhost: evil.example\r\nauthorization: Bearer t",
            sim.instance_id
        ),
        "",
    )
    .await;
    assert!(!page.contains("evil.example"), "{page}");
    assert!(
        page.contains(&format!("\"@odata.context\":\"http://{addr}/v1/")),
        "{page}"
    );
    // A Host that names the simulator itself is kept as the client wrote it.
    let port = addr.port();
    let local = raw(
        addr,
        &format!("POST {path} HTTP/1.1\r\nhost: localhost:{port}\r\nauthorization: Bearer t"),
        BODY,
    )
    .await;
    assert!(
        local
            .to_ascii_lowercase()
            .contains(&format!("location: http://localhost:{port}{path}/")),
        "{local}"
    );
    handle.shutdown(std::time::Duration::from_secs(1)).await;
}
