//! The downstream connectors a flow calls — a Teams channel message, an e-mail, any HTTP call —
//! mocked with `wiremock` and recorded with the simulated time of each call.

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;
use simulator::{Clock, SimTime};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::scenario::SinkKind;

/// One call a flow made to a sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkCall {
    pub sink: SinkKind,
    pub at: SimTime,
    pub method: String,
    pub path: String,
    pub body: String,
    /// The body as JSON, when it is JSON.
    pub json: Option<Value>,
}

#[derive(Debug, Default)]
struct Recording {
    calls: Vec<SinkCall>,
    clock: Option<Clock>,
}

struct Recorder {
    recording: Arc<Mutex<Recording>>,
}

/// Which sink a path belongs to: `/teams...`, `/email...`, anything else is the HTTP sink.
fn sink_of(path: &str) -> SinkKind {
    if path.starts_with("/teams") {
        SinkKind::Teams
    } else if path.starts_with("/email") {
        SinkKind::Email
    } else {
        SinkKind::Http
    }
}

impl Respond for Recorder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut rec = self.recording.lock();
        let at = rec.clock.as_ref().map_or(SimTime(0), Clock::now);
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let path = request.url.path().to_owned();
        rec.calls.push(SinkCall {
            sink: sink_of(&path),
            at,
            method: request.method.to_string(),
            path,
            json: serde_json::from_str(&body).ok(),
            body,
        });
        ResponseTemplate::new(202)
    }
}

/// The mocked sinks of a run (reused from case to case): one `wiremock` server, a path prefix
/// per sink.
pub struct Sinks {
    server: MockServer,
    recording: Arc<Mutex<Recording>>,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("uri", &self.server.uri())
            .finish()
    }
}

impl Sinks {
    /// Starts the sinks on a free loopback port.
    pub async fn start() -> Sinks {
        Sinks::start_with(MockServer::start().await).await
    }

    /// Starts the sinks on a given address (for flows started outside the harness, which must
    /// know where to post).
    pub async fn start_on(addr: std::net::SocketAddr) -> std::io::Result<Sinks> {
        let listener = std::net::TcpListener::bind(addr)?;
        Ok(Sinks::start_with(MockServer::builder().listener(listener).start().await).await)
    }

    async fn start_with(server: MockServer) -> Sinks {
        let recording = Arc::new(Mutex::new(Recording::default()));
        Mock::given(any())
            .respond_with(Recorder {
                recording: recording.clone(),
            })
            .mount(&server)
            .await;
        Sinks { server, recording }
    }

    /// The URL a flow posts to for a sink (`INSIGHTSIM_SINK_*_URL`).
    pub fn url(&self, sink: SinkKind) -> String {
        let path = match sink {
            SinkKind::Teams | SinkKind::Any => "/teams/message",
            SinkKind::Email => "/email/send",
            SinkKind::Http => "/http",
        };
        format!("{}{path}", self.server.uri())
    }

    /// Forgets the calls of the previous case; new calls are stamped with `clock`.
    pub fn reset(&self, clock: Clock) {
        let mut rec = self.recording.lock();
        rec.calls.clear();
        rec.clock = Some(clock);
    }

    pub fn calls(&self) -> Vec<SinkCall> {
        self.recording.lock().calls.clone()
    }

    pub fn call_count(&self) -> usize {
        self.recording.lock().calls.len()
    }
}
