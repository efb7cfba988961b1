//! `insightsim serve` delivers to an `https://` NotificationUrl (a cloud flow's callback): with
//! `--delivery-ca` naming the endpoint's private CA the event arrives; without it, the delivery's
//! attempt says the certificate is not trusted and how to trust it. The real binary, a real TLS
//! endpoint on 127.0.0.1 (port 0) with a certificate made for the test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

mod support;
use support::{PATIENCE, Serve};

/// A private CA (PEM) and a TLS server configuration with a certificate it signed for localhost.
fn pki() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "insightsim test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (ca.pem(), Arc::new(config))
}

/// An https endpoint on 127.0.0.1 answering `202` to every request; sends the head and body of
/// each request it read.
fn endpoint(config: Arc<rustls::ServerConfig>) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, saw) = mpsc::channel();
    thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            let seen = seen.clone();
            thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                // One request per connection; a handshake the client refuses ends here.
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let request = loop {
                    let Ok(n) = tls.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break text;
                        }
                    }
                };
                let _ = tls.write_all(
                    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                let _ = tls.flush();
                let _ = seen.send(request);
            });
        }
    });
    (addr, saw)
}

fn serve(args: &[&str]) -> Serve {
    let serve = Serve::start(args);
    let mut lines = serve.before_address.clone();
    // The rest of the banner, which ends with the state line.
    loop {
        let line = serve
            .stdout
            .recv_timeout(PATIENCE)
            .expect("serve prints its banner");
        let last = line.trim_start().starts_with("state ");
        lines.push(line);
        if last {
            break;
        }
    }
    if args.contains(&"--delivery-ca") {
        assert!(
            lines.iter().any(|l| l.contains("delivery CA")
                && l.contains("1 certificates trusted for https deliveries")),
            "{lines:#?}"
        );
    }
    serve
}

/// One HTTP/1.1 exchange with `serve`: (status, JSON body or null).
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    support::http(addr, "tls", method, path, body).expect("serve answers")
}

/// Subscribes `url` to the segment threshold trigger and makes the segment cross it.
fn fire(serve: &Serve, url: &str) {
    let (_, health) = http(serve.addr, "GET", "/_sim/health", None);
    let instance = health["instanceId"].as_str().unwrap();
    let sub = json!({
        "NotificationUrl": url,
        "segmentName": "HighValueCustomers",
        "threshold": 10,
    });
    let path = format!("/v1/instances/{instance}/triggers/segment-threshold-crossed/subscriptions");
    let (status, answer) = http(serve.addr, "POST", &path, Some(&sub));
    assert_eq!(status, 201, "{answer}");
    for count in [5, 50] {
        let body = json!({ "entityCount": count });
        let evaluate = "/_sim/segments/HighValueCustomers/evaluate";
        assert_eq!(http(serve.addr, "POST", evaluate, Some(&body)).0, 200);
    }
}

#[test]
fn serve_delivers_over_https_to_an_endpoint_signed_by_the_delivery_ca() {
    let (ca_pem, config) = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let (hook, saw) = endpoint(config);
    let serve = serve(&["--delivery-ca", ca_file.to_str().unwrap()]);
    let url = format!(
        "https://localhost:{}/workflows/abc/triggers/manual",
        hook.port()
    );
    fire(&serve, &url);
    let request = saw
        .recv_timeout(PATIENCE)
        .expect("the delivery reached the https endpoint");
    assert!(
        request.starts_with("POST /workflows/abc/triggers/manual HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains(&format!("host: localhost:{}", hook.port())),
        "{request}"
    );
    assert!(request.contains("segment-threshold-crossed"), "{request}");
}

#[test]
fn without_the_delivery_ca_the_attempt_says_the_certificate_is_not_trusted() {
    let (_, config) = pki();
    let (hook, saw) = endpoint(config);
    let serve = serve(&[]);
    let url = format!("https://localhost:{}/hook", hook.port());
    fire(&serve, &url);
    let deadline = Instant::now() + PATIENCE;
    let text = loop {
        let (_, deliveries) = http(serve.addr, "GET", "/_sim/deliveries", None);
        let text = deliveries.to_string();
        if text.contains("UnknownIssuer") || Instant::now() > deadline {
            break text;
        }
        // No event announces a failed attempt: poll for it.
        thread::sleep(Duration::from_millis(20));
    };
    assert!(
        text.contains("not signed by a CA the simulator trusts")
            && text.contains("serve --delivery-ca FILE"),
        "{text}"
    );
    assert!(
        saw.try_recv().is_err(),
        "no request crosses a refused handshake"
    );
}

#[test]
fn a_delivery_ca_file_that_cannot_be_used_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    for (file, says) in [
        (
            dir.path().join("missing.pem"),
            "cannot read the delivery CA file",
        ),
        (not_pem, "holds no certificate"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_insightsim"))
            .args(["serve", "--addr", "127.0.0.1:0", "--delivery-ca"])
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}
