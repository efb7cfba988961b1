//! A flow run as a process (`harness::flow::process`) over real sockets: against a wiremock
//! server standing in for the API and the sinks, and against the real simulator.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use harness::flow::process::{HttpIo, ProcessEnv, ProcessError, run_process_until};
use harness::flow::{BoxFuture, Flow, FlowContext, FlowFactory, FlowIo};
use harness::flows::{EmailOnSegmentThreshold, ExportOnFullRefresh, find_flow};
use harness::scenario::ExpectedSubscription;
use http_body_util::Full;
use hyper::Request;
use hyper::header::CONTENT_TYPE;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use wiremock::matchers::{any, method, path_regex};
use wiremock::{Mock, MockBuilder, MockServer, Respond, ResponseTemplate};

/// A request the stand-in server received.
#[derive(Debug)]
struct Seen {
    method: String,
    /// Path and query, as the client sent them.
    uri: String,
    authorization: Option<String>,
    body: Value,
}

impl Seen {
    fn of(request: &wiremock::Request) -> Seen {
        let url = &request.url;
        Seen {
            method: request.method.to_string(),
            uri: match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            },
            authorization: request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
        }
    }
}

/// Reports every request it answers on a channel (so a test awaits the next request instead of
/// polling), then answers as `answer` says.
struct Reporting {
    seen: mpsc::UnboundedSender<Seen>,
    /// The server's own URL (for `Location`s).
    base: String,
    answer: Answer,
}

/// How a route answers a request, given the server's URL.
type Answer = fn(&wiremock::Request, &str) -> ResponseTemplate;

impl Respond for Reporting {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let _ = self.seen.send(Seen::of(request));
        (self.answer)(request, &self.base)
    }
}

/// A subscription gets `201` and a `Location` below the collection it was posted to.
fn created(request: &wiremock::Request, base: &str) -> ResponseTemplate {
    let location = format!("{base}{}/sub-1", request.url.path());
    ResponseTemplate::new(201).insert_header("location", location.as_str())
}

/// One server standing in for the simulator's API (`/v1/...`) and the sinks (`/sinks/...`):
/// subscriptions get `201` and a `Location`, `DELETE` `204`, data calls a `429` with
/// `Retry-After: 7`, sink posts `202`, anything else `404`.
struct StandIn {
    server: MockServer,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl StandIn {
    async fn start() -> StandIn {
        // A server of its own (not from wiremock's pool), so that dropping it closes its port.
        let server = MockServer::builder().start().await;
        let (tx, seen) = mpsc::unbounded_channel();
        let routes: [(MockBuilder, Answer); 4] = [
            (
                Mock::given(method("POST")).and(path_regex("/subscriptions$")),
                created,
            ),
            (Mock::given(method("DELETE")), |_, _| {
                ResponseTemplate::new(204)
            }),
            (
                Mock::given(method("GET")).and(path_regex("/data/")),
                |_, _| {
                    ResponseTemplate::new(429)
                        .insert_header("retry-after", "7")
                        .set_body_raw(
                            r#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 7 seconds."}"#,
                            "application/json",
                        )
                },
            ),
            (
                Mock::given(method("POST")).and(path_regex("^/sinks/")),
                |_, _| ResponseTemplate::new(202),
            ),
        ];
        for (mock, answer) in routes {
            mock.respond_with(Reporting {
                seen: tx.clone(),
                base: server.uri(),
                answer,
            })
            .mount(&server)
            .await;
        }
        // Anything else is reported too, and answered 404 (after every route above).
        Mock::given(any())
            .respond_with(Reporting {
                seen: tx,
                base: server.uri(),
                answer: |_, _| ResponseTemplate::new(404),
            })
            .with_priority(u8::MAX)
            .mount(&server)
            .await;
        StandIn { server, seen }
    }

    fn url(&self) -> String {
        self.server.uri()
    }

    /// The next request it received (bounded, so a broken flow fails instead of hanging).
    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(30), self.seen.recv())
            .await
            .expect("no request within 30 s")
            .expect("the stand-in server stopped")
    }

    /// The contract of a flow process that talks to this server only.
    fn env(&self) -> ProcessEnv {
        let url = self.url();
        ProcessEnv {
            api_url: url.clone(),
            instance_id: "i1".to_owned(),
            token: "t0k".to_owned(),
            flow_addr: "127.0.0.1:0".to_owned(),
            sink_teams_url: format!("{url}/sinks/teams"),
            sink_email_url: format!("{url}/sinks/email"),
            sink_http_url: format!("{url}/sinks/http"),
            subscriptions: None,
        }
    }
}

/// A flow process running on a task, until [`SpawnedFlow::stop`].
struct SpawnedFlow {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ProcessError>>,
}

impl SpawnedFlow {
    /// Turns the flow off and waits until it has deleted its subscriptions and returned.
    async fn stop(self) {
        self.stop.send(()).expect("the flow process ended early");
        self.task
            .await
            .expect("the flow process panicked")
            .expect("the flow process failed");
    }
}

/// Runs `factory` as a flow process under `env` on its own task.
fn spawn_flow(factory: FlowFactory, env: ProcessEnv) -> SpawnedFlow {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run_process_until(&factory, env, async {
            let _ = stopped.await;
        })
        .await
    });
    SpawnedFlow { stop, task }
}

async fn post(url: &str, body: &str) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    client.request(request).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn subscribes_handles_a_delivery_and_unsubscribes_on_shutdown() {
    let mut server = StandIn::start().await;
    let flow = spawn_flow(find_flow("teams-on-refresh-failure").unwrap(), server.env());

    let subscribed = server.next().await;
    let subscriptions = "/v1/instances/i1/triggers/datasource-refresh-failed/subscriptions";
    assert_eq!(
        (subscribed.method.as_str(), subscribed.uri.as_str()),
        ("POST", subscriptions)
    );
    assert_eq!(subscribed.authorization.as_deref(), Some("Bearer t0k"));
    let hook = subscribed.body["NotificationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        hook.starts_with("http://127.0.0.1:") && hook.ends_with("/hook"),
        "{hook}"
    );
    assert!(
        !hook.starts_with("http://127.0.0.1:0/"),
        "the bound port, not 0: {hook}"
    );
    assert_eq!(
        subscribed.body.as_object().map(|o| o.len()),
        Some(1),
        "no other inputs"
    );

    let event = json!({
        "eventId": "e1",
        "eventType": "datasource-refresh-failed",
        "dataSourceName": "PoS",
        "friendlyName": "Point of Sale",
        "errors": [{"errorCode": "TaskFailed", "message": "boom"}],
    });
    assert_eq!(post(&hook, &event.to_string()).await, 202);
    let message = server.next().await;
    assert_eq!(
        (message.method.as_str(), message.uri.as_str()),
        ("POST", "/sinks/teams")
    );
    assert_eq!(message.authorization, None, "the token is for the API only");
    assert_eq!(
        message.body["text"],
        "Point of Sale (PoS) failed to refresh: boom"
    );

    assert_eq!(post(&hook, "{not json").await, 400);
    assert_eq!(post(&hook, &event.to_string()).await, 202, "a redelivery");

    flow.stop().await;
    let deleted = server.next().await;
    assert_eq!(
        (deleted.method.as_str(), deleted.uri.as_str()),
        ("DELETE", format!("{subscriptions}/sub-1").as_str())
    );
    assert!(server.seen.try_recv().is_err(), "one Teams message in all");
}

#[tokio::test]
async fn the_http_io_resolves_paths_and_reads_retry_after_and_location() {
    let mut server = StandIn::start().await;
    let io = HttpIo::new("test", &server.env(), "http://127.0.0.1:1/hook".to_owned());

    let throttled = io.api("GET", "data/Customer?$top=1", None).await;
    assert_eq!((throttled.status, throttled.retry_after_s), (429, Some(7)));
    assert_eq!(throttled.body["statusCode"], 429);
    assert_eq!(
        server.next().await.uri,
        "/v1/instances/i1/data/Customer?$top=1"
    );

    let created = io
        .api(
            "POST",
            "triggers/full-refresh-completed/subscriptions",
            Some(json!({})),
        )
        .await;
    let location = format!(
        "{}/v1/instances/i1/triggers/full-refresh-completed/subscriptions/sub-1",
        server.url()
    );
    assert_eq!(
        (created.status, created.location.as_deref()),
        (201, Some(location.as_str()))
    );
    assert_eq!(
        io.registered_subscriptions(),
        std::slice::from_ref(&location)
    );
    let _ = server.next().await;

    assert_eq!(io.api("DELETE", &location, None).await.status, 204);
    assert_eq!(io.api("GET", "/v1/instances", None).await.status, 404);
    let uris = [server.next().await.uri, server.next().await.uri];
    assert_eq!(
        uris,
        [
            "/v1/instances/i1/triggers/full-refresh-completed/subscriptions/sub-1",
            "/v1/instances"
        ]
    );

    drop(server);
    assert_eq!(
        io.api("GET", "manage/segments", None).await.status,
        0,
        "connection refused"
    );
}

/// A reference flow that also announces when its `start` has returned (its subscriptions
/// exist), so a test can go on without polling.
struct Announcing {
    inner: Arc<dyn Flow>,
    started: &'static tokio::sync::Notify,
}

impl Flow for Announcing {
    fn triggers(&self) -> Vec<&'static str> {
        self.inner.triggers()
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.inner.start(ctx).await;
            self.started.notify_one();
        })
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        self.inner.on_event(ctx, event)
    }
}

/// The simulator with its HTTP server and delivery driver, on a clock 1000× the wall clock.
async fn simulator(
    customers: usize,
) -> (
    Arc<simulator::Simulator>,
    simulator::server::ServerHandle,
    simulator::driver::Driver,
) {
    let mut spec = simulator::tenant::TenantSpec::demo();
    spec.customers = customers;
    spec.refresh.schedule_enabled = false;
    spec.refresh.failures = simulator::tenant::spec::FailureRates {
        transient: 0.0,
        permanent: 0.0,
        timeout: 0.0,
    };
    let clock = simulator::Clock::running_from(simulator::SimTime::DEFAULT_EPOCH, 1000.0);
    let sim = Arc::new(simulator::Simulator::new(simulator::SimConfig::new(
        spec, clock,
    )));
    let handle = simulator::server::start(sim.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let driver = simulator::driver::Driver::spawn(sim.clone());
    (sim, handle, driver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_every_customer_from_the_real_simulator_after_a_full_refresh() {
    static STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();
    let (sim, api, driver) = simulator(250).await;
    let mut sinks = StandIn::start().await;
    let env = ProcessEnv {
        api_url: api.base_url(),
        instance_id: sim.instance_id.clone(),
        ..sinks.env()
    };
    let factory = FlowFactory {
        name: "export-on-full-refresh",
        description: "",
        broken: None,
        make: || {
            Arc::new(Announcing {
                inner: Arc::new(ExportOnFullRefresh::new()),
                started: &STARTED,
            })
        },
    };
    let flow = spawn_flow(factory, env);
    STARTED.notified().await;

    let refresh = format!("{}/_sim/refresh", api.base_url());
    assert_eq!(post(&refresh, r#"{"kind": "scheduled"}"#).await, 202);
    let mut pages = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let page = sinks.next().await;
        assert_eq!(page.uri, "/sinks/http");
        let b = &page.body;
        pages.push((b["page"].clone(), b["skip"].clone(), b["rows"].clone()));
        for id in b["customerIds"].as_array().unwrap() {
            assert!(ids.insert(id.as_str().unwrap().to_owned()), "{id} twice");
        }
    }
    assert_eq!(
        pages,
        [(1, 0, 100), (2, 100, 100), (3, 200, 50)].map(|(p, s, r)| (json!(p), json!(s), json!(r)))
    );
    assert_eq!(ids.len(), 250);

    flow.stop().await;
    let subscriptions = sim.subscriptions();
    assert_eq!(subscriptions.len(), 1);
    assert!(subscriptions[0].deleted_at.is_some(), "deleted at shutdown");
    driver.shutdown().await;
    api.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_the_first_members_fetched_from_the_real_simulator_on_a_crossing() {
    static STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();
    let (sim, api, driver) = simulator(300).await;
    let count = sim
        .segments()
        .iter()
        .find(|s| s.name == "HighValueCustomers")
        .map(|s| s.evaluation_status.entity_count)
        .unwrap();
    let mut sinks = StandIn::start().await;
    let inputs = json!({"segmentName": "HighValueCustomers", "threshold": count});
    let env = ProcessEnv {
        api_url: api.base_url(),
        instance_id: sim.instance_id.clone(),
        subscriptions: Some(vec![ExpectedSubscription {
            trigger: "segment-threshold-crossed".to_owned(),
            inputs: inputs.as_object().cloned().unwrap(),
        }]),
        ..sinks.env()
    };
    let factory = FlowFactory {
        name: "email-on-segment-threshold",
        description: "",
        broken: None,
        make: || {
            Arc::new(Announcing {
                inner: Arc::new(EmailOnSegmentThreshold::default()),
                started: &STARTED,
            })
        },
    };
    let flow = spawn_flow(factory, env);
    STARTED.notified().await;

    let evaluate = format!(
        "{}/_sim/segments/HighValueCustomers/evaluate",
        api.base_url()
    );
    let crossed = json!({"entityCount": count + 3}).to_string();
    assert_eq!(post(&evaluate, &crossed).await, 200);
    let email = sinks.next().await;
    assert_eq!(email.uri, "/sinks/email");
    assert_eq!(
        email.body["subject"],
        format!(
            "Segment HighValueCustomers crossed {count}: {} members",
            count + 3
        )
    );
    let members = email.body["firstMembers"].as_array().unwrap();
    assert_eq!(members.len(), 10);
    assert!(
        members
            .iter()
            .all(|m| m["FullName"].is_string() && m["EMail"].is_string())
    );

    flow.stop().await;
    driver.shutdown().await;
    api.shutdown(Duration::from_secs(1)).await;
}
