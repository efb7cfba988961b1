//! Sending webhook deliveries over HTTP and HTTPS (the async shell of the engine's delivery
//! state machine), and [`perform`], which every shell uses to honour a fault the engine injected
//! into an attempt.
//!
//! `https://` NotificationUrls (a cloud flow's callback on `logic.azure.com`) are delivered over
//! TLS with rustls (the `ring` provider, HTTP/1.1). The certificates trusted are Mozilla's root
//! store compiled into the binary ([`webpki-roots`](https://docs.rs/webpki-roots)), rather than
//! the operating system's: the simulator then trusts the same certificates on every machine,
//! including a minimal container or CI image without a CA bundle, so a delivery that works on
//! one machine works on the next. A tunnel or proxy with a certificate of its own is trusted by
//! adding its CA ([`DeliveryTrust::with_pem_file`], `serve --delivery-ca FILE`).
//!
//! A sender built with [`Sender::refusing_self`] never sends a delivery to the simulator itself:
//! its connector resolves the target's host, refuses when any address it resolves to is one of
//! the simulator's (a final [`AttemptResult::Refused`]), and connects to exactly the addresses
//! it checked, so that a DNS answer that changes in between cannot slip through. The URL itself
//! is left as it is, so the `Host` header, the TLS server name (SNI) and the name the
//! certificate is checked against are the URL's host.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::addresses::OwnAddresses;
use crate::engine::{AttemptResult, DeliveryAttempt};

/// Whether `ip` is one of this machine's addresses: binding a socket to it succeeds only then.
pub fn is_local_ip(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// Where the simulator listens, asked afresh for every connection.
type OwnSource = Arc<dyn Fn() -> OwnAddresses + Send + Sync>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long resolving a delivery target's host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long connecting to a delivery target (TCP) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response body read from a flow's endpoint (the rest is discarded).
const RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// The certificates an `https://` delivery trusts: Mozilla's root store, plus any private CA
/// added (a tunnel or proxy that presents a certificate of its own).
#[derive(Clone)]
pub struct DeliveryTrust {
    roots: RootCertStore,
    /// How many certificates were added to the public roots.
    added: usize,
}

impl std::fmt::Debug for DeliveryTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryTrust")
            .field("roots", &self.roots.len())
            .field("added", &self.added)
            .finish()
    }
}

impl Default for DeliveryTrust {
    fn default() -> Self {
        DeliveryTrust::public()
    }
}

/// Why a private CA cannot be trusted. (Each message includes its cause: no `source`.)
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read the delivery CA file {path}: {error}; give a PEM file of CA certificates")]
    Read { path: String, error: io::Error },
    #[error(
        "{origin} is not PEM ({error}); give the CA certificate as PEM (-----BEGIN CERTIFICATE-----)"
    )]
    Pem {
        origin: String,
        error: rustls::pki_types::pem::Error,
    },
    #[error(
        "{origin} holds no certificate; give the CA certificate as PEM (-----BEGIN CERTIFICATE-----)"
    )]
    Empty { origin: String },
    #[error(
        "certificate {index} of {origin} cannot be trusted ({error}); give the CA's own certificate"
    )]
    Certificate {
        origin: String,
        index: usize,
        error: rustls::Error,
    },
}

impl DeliveryTrust {
    /// Mozilla's root certificates (the public CAs, which sign cloud flows' callbacks).
    pub fn public() -> DeliveryTrust {
        DeliveryTrust {
            roots: RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            added: 0,
        }
    }

    /// These roots, and every certificate in the PEM file at `path`.
    pub fn with_pem_file(self, path: &Path) -> Result<DeliveryTrust, TrustError> {
        let pem = std::fs::read(path).map_err(|error| TrustError::Read {
            path: path.display().to_string(),
            error,
        })?;
        self.with_pem(&pem, &path.display().to_string())
    }

    /// These roots, and every certificate in `pem` (`origin` names it in errors).
    pub fn with_pem(mut self, pem: &[u8], origin: &str) -> Result<DeliveryTrust, TrustError> {
        let mut found = 0;
        for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let cert = cert.map_err(|error| TrustError::Pem {
                origin: origin.to_owned(),
                error,
            })?;
            self.roots
                .add(cert)
                .map_err(|error| TrustError::Certificate {
                    origin: origin.to_owned(),
                    index: index + 1,
                    error,
                })?;
            found += 1;
        }
        if found == 0 {
            return Err(TrustError::Empty {
                origin: origin.to_owned(),
            });
        }
        self.added += found;
        Ok(self)
    }

    /// How many certificates were added to the public roots.
    pub fn added(&self) -> usize {
        self.added
    }

    fn client_config(&self) -> Result<rustls::ClientConfig, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Why the connector did not connect (found in the client's error chain by [`Sender::post`]).
#[derive(Debug, thiserror::Error)]
enum Unreachable {
    #[error("the target is one of the simulator's own addresses")]
    OwnAddress,
    #[error("resolving {0} timed out")]
    ResolveTimeout(String),
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("{0} resolves to no address")]
    NoAddress(String),
}

/// The TCP connector under TLS: hyper-util's `HttpConnector`, which, when refusing
/// self-deliveries, is handed the addresses this connector resolved and checked instead of
/// resolving the host again.
#[derive(Clone)]
struct Connector {
    own: Option<OwnSource>,
}

/// A resolver that answers every name with the addresses already checked for it.
#[derive(Clone)]
struct Checked(Vec<SocketAddr>);

impl Service<Name> for Checked {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(self.0.clone().into_iter()))
    }
}

fn tcp<R>(mut connector: HttpConnector<R>) -> HttpConnector<R> {
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    // The TLS layer above hands https URLs down to this connector too.
    connector.enforce_http(false);
    connector
}

/// Connects with `connector`, honouring its readiness.
async fn connect<R>(
    mut connector: HttpConnector<R>,
    uri: hyper::Uri,
) -> Result<TokioIo<TcpStream>, BoxError>
where
    HttpConnector<R>: Service<hyper::Uri, Response = TokioIo<TcpStream>>,
    <HttpConnector<R> as Service<hyper::Uri>>::Error: Into<BoxError>,
{
    std::future::poll_fn(|cx| connector.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    connector.call(uri).await.map_err(Into::into)
}

/// The addresses `uri` reaches, refused when any is the simulator's own.
async fn checked_addresses(
    uri: &hyper::Uri,
    own: &OwnAddresses,
) -> Result<Vec<SocketAddr>, Unreachable> {
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    if own.named_by(host, port) {
        return Err(Unreachable::OwnAddress);
    }
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port)))
            .await
            .map_err(|_| Unreachable::ResolveTimeout(bare.to_owned()))?
            .map_err(|source| Unreachable::Resolve {
                host: bare.to_owned(),
                source,
            })?
            .collect(),
    };
    if addrs.iter().any(|a| own.is(*a)) {
        return Err(Unreachable::OwnAddress);
    }
    if addrs.is_empty() {
        return Err(Unreachable::NoAddress(bare.to_owned()));
    }
    Ok(addrs)
}

impl Service<hyper::Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let own = self.own.clone();
        Box::pin(async move {
            match own {
                None => connect(tcp(HttpConnector::new()), uri).await,
                Some(own) => {
                    let addrs = checked_addresses(&uri, &own()).await?;
                    let resolver = Checked(addrs);
                    connect(tcp(HttpConnector::new_with_resolver(resolver)), uri).await
                }
            }
        })
    }
}

type HttpsClient = Client<HttpsConnector<Connector>, Full<Bytes>>;

fn client(
    tls: &Result<Arc<rustls::ClientConfig>, Arc<str>>,
    own: Option<OwnSource>,
) -> Result<HttpsClient, Arc<str>> {
    let config = tls.clone()?;
    let connector = HttpsConnector::from((Connector { own }, config));
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// A pooled HTTP and HTTPS client for deliveries.
#[derive(Clone)]
pub struct Sender {
    /// The TLS configuration, or why it could not be set up (then every attempt fails with it).
    tls: Result<Arc<rustls::ClientConfig>, Arc<str>>,
    /// The client built on it (or the same error).
    client: Result<HttpsClient, Arc<str>>,
    own: Option<OwnSource>,
    /// Whether private CAs were added to the public roots (certificate errors say so).
    private_ca: bool,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("refusing_self", &self.own.is_some())
            .field("private_ca", &self.private_ca)
            .finish_non_exhaustive()
    }
}

impl Default for Sender {
    fn default() -> Self {
        Sender::new()
    }
}

impl Sender {
    /// A sender trusting the public CAs ([`DeliveryTrust::public`]).
    pub fn new() -> Sender {
        Sender::trusting(&DeliveryTrust::public())
    }

    /// A sender whose `https://` deliveries trust `trust`.
    pub fn trusting(trust: &DeliveryTrust) -> Sender {
        let tls = trust
            .client_config()
            .map(Arc::new)
            .map_err(|e| Arc::from(format!("cannot set up TLS for deliveries: {e}")));
        Sender {
            client: client(&tls, None),
            tls,
            own: None,
            private_ca: trust.added > 0,
        }
    }

    /// The same sender, refusing every delivery that would reach the simulator itself (`own`
    /// says where it listens).
    pub fn refusing_self(
        mut self,
        own: impl Fn() -> OwnAddresses + Send + Sync + 'static,
    ) -> Sender {
        let own: OwnSource = Arc::new(own);
        // A new pool: no connection made without the check is reused.
        self.client = client(&self.tls, Some(own.clone()));
        self.own = Some(own);
        self
    }

    /// POSTs one attempt (honouring an injected fault, see [`perform`]); gives up after
    /// `timeout` (wall time).
    pub async fn send(&self, attempt: &DeliveryAttempt, timeout: Duration) -> AttemptResult {
        perform(attempt, self.post(attempt, timeout)).await
    }

    async fn post(&self, attempt: &DeliveryAttempt, timeout: Duration) -> AttemptResult {
        let client = match &self.client {
            Ok(client) => client,
            Err(why) => return AttemptResult::ConnectionError(why.to_string()),
        };
        let uri: hyper::Uri = match attempt.url.parse() {
            Ok(uri) => uri,
            Err(e) => return AttemptResult::ConnectionError(format!("invalid URL: {e}")),
        };
        let mut request = hyper::Request::post(uri);
        for (name, value) in &attempt.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = match request.body(Full::new(Bytes::from(attempt.body.clone()))) {
            Ok(r) => r,
            Err(e) => return AttemptResult::ConnectionError(format!("invalid request: {e}")),
        };
        let exchange = async {
            let response = client.request(request).await?;
            let status = response.status().as_u16();
            // Read (and discard) the answer so that the connection can be reused.
            let _ = http_body_util::Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
                .collect()
                .await;
            Ok::<u16, hyper_util::client::legacy::Error>(status)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => AttemptResult::Timeout,
            Ok(Ok(status)) => AttemptResult::Status(status),
            Ok(Err(e)) => self.failure(&attempt.url, &e),
        }
    }

    /// What a request that got no answer means.
    fn failure(&self, url: &str, e: &hyper_util::client::legacy::Error) -> AttemptResult {
        if let Some(unreachable) = find::<Unreachable>(e) {
            return match unreachable {
                Unreachable::OwnAddress => {
                    AttemptResult::Refused(crate::addresses::self_target(url))
                }
                other => AttemptResult::ConnectionError(other.to_string()),
            };
        }
        if find::<rustls::pki_types::InvalidDnsNameError>(e).is_some() {
            return AttemptResult::ConnectionError(format!(
                "{url} cannot be delivered over https: its host is neither a DNS name nor an IP \
                 address, so no certificate can be checked against it; write the flow's host name"
            ));
        }
        if let Some(tls) = find::<rustls::Error>(e) {
            let trusted = if self.private_ca {
                "the public CAs and the --delivery-ca certificates"
            } else {
                "the public CAs; trust a tunnel's or proxy's own CA with serve --delivery-ca FILE"
            };
            let hint = match tls {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                    format!(
                        "its certificate is not signed by a CA the simulator trusts ({trusted})"
                    )
                }
                _ => format!(
                    "the endpoint's certificate must be valid, name the URL's host and be signed \
                     by a CA the simulator trusts ({trusted})"
                ),
            };
            return AttemptResult::ConnectionError(format!(
                "TLS handshake with {url} failed: {tls}; {hint}"
            ));
        }
        AttemptResult::ConnectionError(error_chain(e))
    }
}

/// The first error of type `T` in `e`'s chain, looking inside `io::Error`s (which hide the
/// error they wrap from `source`).
fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Performs one attempt with `send` (which reaches the endpoint and returns its answer),
/// honouring the fault the engine injected into it, if any: a refused connection never calls
/// `send`; a lost answer or a timeout after sending lets the endpoint handle the request, then
/// reports the failure the platform saw instead of the endpoint's answer. The `serve` driver,
/// the harness's HTTP deliveries and its in-process flows all go through here, so a fault means
/// the same to each.
pub async fn perform(
    attempt: &DeliveryAttempt,
    send: impl Future<Output = AttemptResult>,
) -> AttemptResult {
    match attempt.fault {
        None => send.await,
        Some(fault) => {
            if fault.reaches_endpoint() {
                // The endpoint's answer is what gets lost.
                let _answered = send.await;
            }
            fault.observed()
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::engine::AttemptFault;
    use crate::time::SimDuration;

    fn attempt(fault: Option<AttemptFault>) -> DeliveryAttempt {
        DeliveryAttempt {
            attempt_id: 1,
            delivery_id: "d1".into(),
            event_id: "e1".into(),
            subscription_id: "s1".into(),
            url: "http://127.0.0.1:9/hook".into(),
            body: "{}".into(),
            attempt: 1,
            headers: Vec::new(),
            timeout: SimDuration::from_secs(30),
            fault,
        }
    }

    /// Performs an attempt whose endpoint answers 202; returns what the platform saw and
    /// whether the endpoint got the request.
    async fn check(fault: Option<AttemptFault>) -> (AttemptResult, bool) {
        let reached = AtomicBool::new(false);
        let result = perform(&attempt(fault), async {
            reached.store(true, Ordering::SeqCst);
            AttemptResult::Status(202)
        })
        .await;
        (result, reached.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn an_injected_fault_replaces_the_answer_and_only_a_refusal_keeps_the_request_back() {
        assert_eq!(check(None).await, (AttemptResult::Status(202), true));
        assert_eq!(
            check(Some(AttemptFault::AnswerLost { status: 502 })).await,
            (AttemptResult::Status(502), true)
        );
        assert_eq!(
            check(Some(AttemptFault::TimeoutAfterSend)).await,
            (AttemptResult::Timeout, true)
        );
        assert_eq!(
            check(Some(AttemptFault::Refuse)).await,
            (
                AttemptResult::ConnectionError("connection refused".into()),
                false
            )
        );
    }
}
