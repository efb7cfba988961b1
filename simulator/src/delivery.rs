//! Sending webhook deliveries over HTTP (the async shell of the engine's delivery state machine),
//! and [`perform`], which every shell uses to honour a fault the engine injected into an attempt.
//!
//! A sender built with [`Sender::refusing_self`] never sends a delivery to the simulator itself:
//! it resolves the target's host, refuses when any address it resolves to is one of the
//! simulator's (a final [`AttemptResult::Refused`]), and connects to the address it checked, so
//! that a DNS answer that changes in between cannot slip through.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::addresses::OwnAddresses;
use crate::engine::{AttemptResult, DeliveryAttempt};

/// Whether `ip` is one of this machine's addresses: binding a socket to it succeeds only then.
pub fn is_local_ip(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// Where the simulator listens, asked afresh for every delivery.
type OwnSource = Arc<dyn Fn() -> OwnAddresses + Send + Sync>;

/// How long resolving a delivery target's host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response body read from a flow's endpoint (the rest is discarded).
const RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// A pooled HTTP client for deliveries.
#[derive(Clone)]
pub struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    own: Option<OwnSource>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("refusing_self", &self.own.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Sender {
    fn default() -> Self {
        Sender::new()
    }
}

impl Sender {
    pub fn new() -> Sender {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Sender {
            client: Client::builder(TokioExecutor::new()).build(connector),
            own: None,
        }
    }

    /// The same sender, refusing every delivery that would reach the simulator itself (`own`
    /// says where it listens).
    pub fn refusing_self(
        mut self,
        own: impl Fn() -> OwnAddresses + Send + Sync + 'static,
    ) -> Sender {
        self.own = Some(Arc::new(own));
        self
    }

    /// The URL to connect to: the attempt's, or, when refusing self-deliveries, the same URL
    /// with its host replaced by an address checked not to be the simulator's (and the original
    /// authority for the `Host` header).
    async fn target(&self, url: &str) -> Result<(String, Option<String>), AttemptResult> {
        let Some(own) = &self.own else {
            return Ok((url.to_owned(), None));
        };
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| AttemptResult::ConnectionError(format!("invalid URL: {e}")))?;
        let host = uri.host().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(80);
        let own = own();
        let refused = || AttemptResult::Refused(crate::addresses::self_target(url));
        if own.named_by(host, port) {
            return Err(refused());
        }
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port)))
                .await
                .map_err(|_| AttemptResult::ConnectionError(format!("resolving {bare} timed out")))?
                .map_err(|e| AttemptResult::ConnectionError(format!("cannot resolve {bare}: {e}")))?
                .collect(),
        };
        if addrs.iter().any(|a| own.is(*a)) {
            return Err(refused());
        }
        let Some(addr) = addrs.first() else {
            return Err(AttemptResult::ConnectionError(format!(
                "{bare} resolves to no address"
            )));
        };
        let authority = uri.authority().map(|a| a.as_str().to_owned());
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Ok((format!("http://{addr}{path}"), authority))
    }

    /// POSTs one attempt (honouring an injected fault, see [`perform`]); gives up after
    /// `timeout` (wall time).
    pub async fn send(&self, attempt: &DeliveryAttempt, timeout: Duration) -> AttemptResult {
        perform(attempt, self.post(attempt, timeout)).await
    }

    async fn post(&self, attempt: &DeliveryAttempt, timeout: Duration) -> AttemptResult {
        if attempt.url.starts_with("https://") {
            return AttemptResult::ConnectionError(
                "insightsim delivers over plain http only; use an http:// NotificationUrl"
                    .to_owned(),
            );
        }
        let (url, host) = match self.target(&attempt.url).await {
            Ok(target) => target,
            Err(refused) => return refused,
        };
        let mut request = hyper::Request::post(&url);
        if let Some(host) = host {
            request = request.header(hyper::header::HOST, host);
        }
        for (name, value) in &attempt.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = match request.body(Full::new(Bytes::from(attempt.body.clone()))) {
            Ok(r) => r,
            Err(e) => return AttemptResult::ConnectionError(format!("invalid request: {e}")),
        };
        let exchange = async {
            let response = self.client.request(request).await?;
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
            Ok(Err(e)) => AttemptResult::ConnectionError(error_chain(&e)),
        }
    }
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
