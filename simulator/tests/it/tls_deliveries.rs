//! Deliveries over https (issue 15): a cloud flow's callback is an `https://` URL. Real TLS
//! endpoints on 127.0.0.1, port 0, with certificates made per test (`rcgen`): an https delivery
//! reaches its endpoint and the endpoint's status comes back; an untrusted or misnamed
//! certificate is a connection error that names the problem; an https URL that reaches the
//! simulator itself is refused like an http one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use simulator::addresses::{OwnAddresses, self_target};
use simulator::delivery::{DeliveryTrust, Sender, TrustError};
use simulator::driver::Driver;
use simulator::engine::{AttemptResult, DeliveryAttempt, DeliveryStatus};
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimDuration, SimTime, Simulator, server};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::support::request as call;

/// The longest a test waits for something that happens at once (a safety net).
const PATIENCE: Duration = Duration::from_secs(30);

/// A private CA and a server certificate it signed for `names`.
struct Pki {
    ca_pem: String,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn pki(names: &[&str]) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "insightsim test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
    }
}

/// What a TLS endpoint saw of one request.
#[derive(Debug)]
struct Seen {
    /// The TLS server name the client sent (SNI).
    sni: Option<String>,
    path: String,
    host: String,
    event_header: String,
    body: String,
}

/// An https endpoint on 127.0.0.1 that answers every request with `status` and reports what it
/// saw.
async fn tls_endpoint(pki: &Pki, status: u16) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, saw) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate aborts the handshake.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    let sni = sni.clone();
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let host = header("host");
                        let event_header = header("x-insightsim-event-id");
                        let path = request.uri().path().to_owned();
                        let body = request.into_body().collect().await?.to_bytes();
                        let _ = seen.send(Seen {
                            sni,
                            path,
                            host,
                            event_header,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let mut answer = hyper::Response::new(Full::new(Bytes::new()));
                        *answer.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, hyper::Error>(answer)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, saw)
}

fn attempt(url: &str) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt_id: 1,
        delivery_id: "d1".into(),
        event_id: "e1".into(),
        subscription_id: "s1".into(),
        url: url.into(),
        body: r#"{"hello":"flow"}"#.into(),
        attempt: 1,
        headers: vec![("X-Insightsim-Event-Id".into(), "e1".into())],
        timeout: SimDuration::from_secs(30),
        fault: None,
    }
}

/// Where a simulator listening on `listener` is.
fn own(listener: SocketAddr) -> OwnAddresses {
    OwnAddresses {
        listeners: vec![listener],
        public: None,
        is_local: simulator::delivery::is_local_ip,
    }
}

/// A sender trusting the public CAs and `pki`'s CA, refusing deliveries to a simulator on
/// `listener`.
fn sender(pki: &Pki, listener: SocketAddr) -> Sender {
    let trust = DeliveryTrust::public()
        .with_pem(pki.ca_pem.as_bytes(), "the test CA")
        .unwrap();
    assert_eq!(trust.added(), 1);
    Sender::trusting(&trust).refusing_self(move || own(listener))
}

async fn send(sender: &Sender, url: &str) -> AttemptResult {
    sender.send(&attempt(url), PATIENCE).await
}

#[tokio::test]
async fn an_https_delivery_reaches_its_endpoint_and_the_status_comes_back() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let (addr, mut saw) = tls_endpoint(&pki, 202).await;
    // The simulator listens elsewhere (another port of the same address is another server).
    let sender = sender(&pki, "127.0.0.1:9".parse().unwrap());
    for (host, sni) in [("localhost", Some("localhost")), ("127.0.0.1", None)] {
        let url = format!(
            "https://{host}:{}/workflows/abc/triggers/manual",
            addr.port()
        );
        assert_eq!(
            send(&sender, &url).await,
            AttemptResult::Status(202),
            "{url}"
        );
        let seen = saw.recv().await.unwrap();
        // The URL is sent as written: the Host header and the TLS server name are its host
        // (an IP address is never sent as a server name).
        assert_eq!(seen.sni.as_deref(), sni, "{seen:?}");
        assert_eq!(seen.host, format!("{host}:{}", addr.port()));
        assert_eq!(seen.path, "/workflows/abc/triggers/manual");
        assert_eq!(seen.event_header, "e1");
        assert_eq!(seen.body, r#"{"hello":"flow"}"#);
    }

    // The endpoint's status, whatever it is, is the attempt's result.
    let (failing, _saw) = tls_endpoint(&pki, 503).await;
    let url = format!("https://localhost:{}/hook", failing.port());
    assert_eq!(send(&sender, &url).await, AttemptResult::Status(503));
    // A sender that does not refuse self-deliveries sends over https too.
    let plain = Sender::trusting(
        &DeliveryTrust::public()
            .with_pem(pki.ca_pem.as_bytes(), "the test CA")
            .unwrap(),
    );
    assert_eq!(send(&plain, &url).await, AttemptResult::Status(503));
}

#[tokio::test]
async fn an_untrusted_or_misnamed_certificate_is_a_connection_error_naming_the_problem() {
    let pki = pki(&["localhost"]);
    let (addr, mut saw) = tls_endpoint(&pki, 202).await;
    let url = format!("https://localhost:{}/hook", addr.port());

    // The public CAs alone do not trust a private CA's certificate.
    let untrusting = Sender::new().refusing_self(|| own("127.0.0.1:9".parse().unwrap()));
    let AttemptResult::ConnectionError(why) = send(&untrusting, &url).await else {
        panic!("an untrusted certificate must be a connection error");
    };
    assert!(
        why.contains("TLS handshake with")
            && why.contains(&url)
            && why.contains("invalid peer certificate")
            && why.contains("UnknownIssuer")
            && why.contains("not signed by a CA the simulator trusts")
            && why.contains("serve --delivery-ca FILE"),
        "{why}"
    );

    // Trusted, but for another name than the URL's host.
    let sender = sender(&pki, "127.0.0.1:9".parse().unwrap());
    let by_ip = format!("https://127.0.0.1:{}/hook", addr.port());
    let AttemptResult::ConnectionError(why) = send(&sender, &by_ip).await else {
        panic!("a certificate for another name must be a connection error");
    };
    assert!(
        why.contains("certificate not valid for name \"127.0.0.1\"")
            && why.contains("name the URL's host")
            && why.contains("--delivery-ca certificates"),
        "{why}"
    );

    // Neither request reached the endpoint; the trusted name does.
    assert!(
        saw.try_recv().is_err(),
        "no request crosses a failed handshake"
    );
    assert_eq!(send(&sender, &url).await, AttemptResult::Status(202));
    assert!(saw.recv().await.is_some());
}

#[tokio::test]
async fn an_https_url_reaching_the_simulator_itself_is_refused_like_http() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    // The "simulator" here is a TLS endpoint: a delivery that got through would reach it.
    let (sim_addr, mut saw) = tls_endpoint(&pki, 200).await;
    let sender = sender(&pki, sim_addr);
    let port = sim_addr.port();
    for url in [
        format!("https://127.0.0.1:{port}/_sim/reset"),
        format!("https://localhost:{port}/_sim/reset"),
        format!("https://[::ffff:127.0.0.1]:{port}/_sim/reset"),
        // Not an address Rust reads, so it is resolved (to 127.0.0.1): the resolver's answer
        // is what is checked (by the connector under TLS, the same for both schemes).
        format!("http://127.1:{port}/_sim/reset"),
    ] {
        assert_eq!(
            send(&sender, &url).await,
            AttemptResult::Refused(self_target(&url)),
            "{url}"
        );
    }
    // Over https, such a host is not a name a certificate can be checked against.
    let url = format!("https://127.1:{port}/_sim/reset");
    let AttemptResult::ConnectionError(why) = send(&sender, &url).await else {
        panic!("{url} cannot be sent over https");
    };
    assert!(
        why.contains("neither a DNS name nor an IP address"),
        "{why}"
    );
    assert!(saw.try_recv().is_err(), "nothing reached the simulator");
}

/// `serve`'s path: the driver delivers an event to an https subscription and reports the
/// endpoint's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_delivers_an_event_to_an_https_subscription() {
    let pki = pki(&["localhost"]);
    let (addr, mut saw) = tls_endpoint(&pki, 202).await;
    let mut spec = TenantSpec::demo();
    spec.customers = 20;
    spec.limits.rate_limit = "off".into();
    spec.refresh.schedule_enabled = false;
    let sim = Arc::new(Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(SimTime::DEFAULT_EPOCH),
    )));
    let handle = server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let trust = DeliveryTrust::public()
        .with_pem(pki.ca_pem.as_bytes(), "the test CA")
        .unwrap();
    let driver = Driver::spawn_trusting(sim.clone(), &trust);
    let path = format!(
        "/v1/instances/{}/triggers/datasource-refresh-succeeded/subscriptions",
        sim.instance_id
    );
    let url = format!("https://localhost:{}/flow/hook", addr.port());
    let body = json!({ "NotificationUrl": url }).to_string();
    assert_eq!(call(&sim, "POST", &path, &body).status, 201);
    let r = call(&sim, "POST", "/_sim/datasources/PoS/refresh", "{}");
    assert_eq!(r.status, 202);
    let r = call(&sim, "POST", "/_sim/clock/advance", r#"{"by":"2m"}"#);
    assert_eq!(r.status, 200);

    let seen = tokio::time::timeout(PATIENCE, saw.recv())
        .await
        .expect("the delivery reached the https endpoint")
        .unwrap();
    assert_eq!(seen.path, "/flow/hook");
    let event: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(event["instanceId"], sim.instance_id.as_str(), "{event}");
    // The endpoint's answer is reported back: the delivery is delivered. No event announces
    // the report, so poll for it.
    let delivered = tokio::time::timeout(PATIENCE, async {
        while !sim
            .deliveries()
            .first()
            .is_some_and(|d| d.status == DeliveryStatus::Delivered)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(delivered.is_ok(), "{:?}", sim.deliveries());
    driver.shutdown().await;
    handle.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn a_private_ca_file_that_is_missing_empty_or_not_a_certificate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let e = DeliveryTrust::public().with_pem_file(&missing).unwrap_err();
    assert!(matches!(e, TrustError::Read { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("cannot read the delivery CA file")
            && e.to_string().contains("missing.pem"),
        "{e}"
    );

    let key_only = dir.path().join("key.pem");
    std::fs::write(&key_only, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let e = DeliveryTrust::public()
        .with_pem_file(&key_only)
        .unwrap_err();
    assert!(matches!(e, TrustError::Empty { .. }), "{e:?}");
    assert!(e.to_string().contains("holds no certificate"), "{e}");

    let garbage =
        b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let e = DeliveryTrust::public()
        .with_pem(garbage, "garbage.pem")
        .unwrap_err();
    assert!(
        matches!(e, TrustError::Certificate { index: 1, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("certificate 1 of garbage.pem"),
        "{e}"
    );

    let good = dir.path().join("ca.pem");
    std::fs::write(&good, pki(&["localhost"]).ca_pem).unwrap();
    let trust = DeliveryTrust::public().with_pem_file(&good).unwrap();
    assert_eq!(trust.added(), 1);
}
