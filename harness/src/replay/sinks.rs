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
    sink: SinkKind,
    recording: Arc<Mutex<Recording>>,
}

impl Respond for Recorder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut rec = self.recording.lock();
        let at = rec.clock.as_ref().map_or(SimTime(0), Clock::now);
        let body = String::from_utf8_lossy(&request.body).into_owned();
        rec.calls.push(SinkCall {
            sink: self.sink,
            at,
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            json: serde_json::from_str(&body).ok(),
            body,
        });
        ResponseTemplate::new(202)
    }
}

/// The three mocked sinks of a run (reused from case to case).
pub struct Sinks {
    teams: MockServer,
    email: MockServer,
    http: MockServer,
    recording: Arc<Mutex<Recording>>,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("teams", &self.teams.uri())
            .field("email", &self.email.uri())
            .field("http", &self.http.uri())
            .finish()
    }
}

impl Sinks {
    pub async fn start() -> Sinks {
        let recording = Arc::new(Mutex::new(Recording::default()));
        let server = |sink| {
            let recording = recording.clone();
            async move {
                let server = MockServer::start().await;
                Mock::given(any())
                    .respond_with(Recorder { sink, recording })
                    .mount(&server)
                    .await;
                server
            }
        };
        Sinks {
            teams: server(SinkKind::Teams).await,
            email: server(SinkKind::Email).await,
            http: server(SinkKind::Http).await,
            recording,
        }
    }

    /// The URL a flow posts to for a sink (`INSIGHTSIM_SINK_*_URL`).
    pub fn url(&self, sink: SinkKind) -> String {
        match sink {
            SinkKind::Teams | SinkKind::Any => format!("{}/teams/message", self.teams.uri()),
            SinkKind::Email => format!("{}/email/send", self.email.uri()),
            SinkKind::Http => format!("{}/http", self.http.uri()),
        }
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
