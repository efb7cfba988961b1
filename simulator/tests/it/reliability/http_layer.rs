//! The HTTP layer's own refusals have bodies, and no socket can hold the server: reproductions
//! 4 and 8.

use simulator::SimDuration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::*;

/// Reproduction 8: a 17 KB header got hyper's bare `431` with an empty body.
#[tokio::test]
async fn a_head_over_the_limit_gets_431_with_a_body_naming_the_limit() {
    let (sim, handle) = serve(tenant(20, |_| {})).await;
    let big = "x".repeat(17 * 1024);
    let text = format!(
        "GET /v1/instances HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\n\r\n\
         GET /v1/instances HTTP/1.1\r\nhost: a\r\nx-big: {big}\r\n\r\n"
    );
    let answers = parse_answers(&exchange(handle.local_addr, text.as_bytes()).await);
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0].status, 200, "the request before it is served");
    answers[1].assert_limit(431, "server_header_bytes_max");
    assert_eq!(answers[1].header("connection"), Some("close"));
    assert_eq!(
        sim.journal.len(),
        1,
        "the refused head never reached the API"
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

/// The gate bounds heads, so hyper's buffer is at least its default (for one write per
/// response) and grows with a larger limit: a head under it reaches the API.
#[tokio::test]
async fn a_head_under_a_limit_larger_than_hypers_buffer_is_served() {
    let (sim, handle) = serve(tenant(20, |s| {
        s.limits.server_header_bytes_max = 600 * 1024
    }))
    .await;
    let big = "x".repeat(500 * 1024);
    let text = format!(
        "GET /v1/instances HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\nx-big: {big}\r\nconnection: close\r\n\r\n"
    );
    let answers = parse_answers(&exchange(handle.local_addr, text.as_bytes()).await);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].status, 200, "{answers:?}");
    assert_eq!(sim.journal.len(), 1);
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Reproduction 8: a malformed chunk size was reported as `413` "body too large".
#[tokio::test]
async fn a_malformed_chunk_size_is_a_400_not_a_413() {
    let (sim, handle) = serve(tenant(20, |_| {})).await;
    let text = format!(
        "POST /v1/instances/{}/data/Customer HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\n\
         transfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
        sim.instance_id
    );
    let answer = first_answer(&exchange(handle.local_addr, text.as_bytes()).await);
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.json()["error"]["code"], "MalformedBody");
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_well_formed_chunked_body_is_read_and_the_next_request_served() {
    let (sim, handle) = serve(tenant(20, |_| {})).await;
    let path = format!(
        "/v1/instances/{}/triggers/full-refresh-completed/subscriptions",
        sim.instance_id
    );
    let text = format!(
        "POST {path} HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\ntransfer-encoding: chunked\r\n\r\n\
         10\r\n{{\"NotificationUr\r\n1d;x=y\r\nl\":\"http://127.0.0.1:9/hook\"}}\r\n0\r\nx-t: 1\r\n\r\n\
         GET /v1/instances HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\nconnection: close\r\n\r\n"
    );
    let answers = parse_answers(&exchange(handle.local_addr, text.as_bytes()).await);
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [201, 200], "{answers:?}");
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_malformed_head_gets_a_400_with_a_body() {
    let (_sim, handle) = serve(tenant(20, |_| {})).await;
    for head in [
        "GET /v1/instances HTTP/1.1\r\nbad header line\r\n\r\n",
        "GET /v1/instances HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        "GET /v1/instances HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n",
    ] {
        let answer = first_answer(&exchange(handle.local_addr, head.as_bytes()).await);
        assert_eq!(answer.status, 400, "{head:?}: {answer:?}");
        assert_eq!(answer.json()["error"]["code"], "MalformedRequest");
    }
    let many: String = (0..101).map(|i| format!("h{i}: v\r\n")).collect();
    let answer = first_answer(
        &exchange(
            handle.local_addr,
            format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(),
        )
        .await,
    );
    assert_eq!(answer.status, 431, "{answer:?}");
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Reproduction 4: `Content-Length: 99999999999` with no body hung instead of a `413`.
#[tokio::test]
async fn an_oversized_content_length_is_refused_before_the_body_is_read() {
    let (sim, handle) = serve(tenant(20, |_| {})).await;
    let head = format!(
        "POST /v1/instances/{}/data/Customer HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\n\
         content-length: 99999999999\r\n\r\n",
        sim.instance_id
    );
    let mut stream = TcpStream::connect(handle.local_addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // No body is sent: the answer must come anyway.
    first_answer(&read_to_end(&mut stream).await).assert_limit(413, "server_body_bytes_max");
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_target_over_the_limit_gets_414() {
    let (_sim, handle) = serve(tenant(20, |s| s.limits.server_url_bytes_max = 1024)).await;
    let target = format!("/v1/instances?x={}", "a".repeat(2000));
    request(handle.local_addr, "GET", &target, "t", "")
        .await
        .assert_limit(414, "server_url_bytes_max");
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Reproduction 4: slowloris (a head at one byte at a time) held its socket forever.
#[tokio::test]
async fn a_head_that_does_not_arrive_in_time_is_cut_with_408() {
    let (_sim, handle) = serve(tenant(20, |s| {
        s.limits.server_header_read_timeout = SimDuration::from_millis(300);
    }))
    .await;
    let mut stream = TcpStream::connect(handle.local_addr).await.unwrap();
    stream
        .write_all(b"GET /v1/instances HTTP/1.1\r\nhost: a\r\n")
        .await
        .unwrap();
    // The rest of the head never comes.
    first_answer(&read_to_end(&mut stream).await).assert_limit(408, "server_header_read_timeout");
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_cut_with_408() {
    let (sim, handle) = serve(tenant(20, |s| {
        s.limits.server_body_read_timeout = SimDuration::from_millis(300);
    }))
    .await;
    let mut stream = TcpStream::connect(handle.local_addr).await.unwrap();
    let head = format!(
        "POST /v1/instances/{}/data/Customer HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\n\
         content-length: 100\r\n\r\n{{\"Cust",
        sim.instance_id
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    first_answer(&read_to_end(&mut stream).await).assert_limit(408, "server_body_read_timeout");
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Reproduction 4: 1,024 idle sockets kept every other client out with `503` forever.
#[tokio::test]
async fn an_idle_connection_is_closed_and_its_slot_freed() {
    let (_sim, handle) = serve(tenant(20, |s| {
        s.limits.server_idle_timeout = SimDuration::from_millis(300);
        s.limits.server_connections_max = 2;
    }))
    .await;
    let addr = handle.local_addr;
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    for stream in &mut idle {
        // The server closes each idle connection without a word.
        assert!(read_to_end(stream).await.is_empty());
    }
    // Their slots are free again.
    assert_eq!(
        request(addr, "GET", "/v1/instances", "t", "").await.status,
        200
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Reproduction 4: one client can open every connection the server allows.
#[tokio::test]
async fn one_peer_cannot_take_every_connection() {
    let (_sim, handle) = serve(tenant(20, |s| s.limits.server_connections_per_peer_max = 3)).await;
    let addr = handle.local_addr;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // A request on each proves the connection is open and counted before the next.
        s.write_all(b"GET /_sim/health HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let mut byte = [0u8; 1];
        tokio::time::timeout(PATIENCE, tokio::io::AsyncReadExt::read(&mut s, &mut byte))
            .await
            .unwrap()
            .unwrap();
        held.push(s);
    }
    let refused =
        first_answer(&exchange(addr, b"GET /_sim/health HTTP/1.1\r\nhost: a\r\n\r\n").await);
    refused.assert_limit(503, "server_connections_per_peer_max");
    assert_eq!(refused.header("retry-after"), Some("1"));
    drop(held);
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Found by the request-head probe: a client that closes its sending side once its request is
/// sent (as `nc -N` does) got no answer, since hyper took the end of the stream for a client
/// gone away.
#[tokio::test]
async fn a_client_that_closes_its_sending_side_still_gets_its_answer() {
    let (_sim, handle) = serve(tenant(20, |_| {})).await;
    let mut stream = TcpStream::connect(handle.local_addr).await.unwrap();
    stream
        .write_all(b"GET /v1/instances HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\n\r\n")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    assert_eq!(first_answer(&read_to_end(&mut stream).await).status, 200);
    handle.shutdown(Duration::from_secs(1)).await;
}
