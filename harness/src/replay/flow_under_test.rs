//! The flow under test ([`FlowUnderTest`]: in-process, a command, or a URL), and starting it
//! for one case ([`Running`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use simulator::Simulator;
use tokio::task::JoinHandle;

use super::FLOW_TOKEN;
use super::command::FlowProcess;
use super::discovery::stderr_tail;
use super::inproc::{HttpPoster, InProcessIo};
use super::sinks::Sinks;
use super::steps::harness_call;
use super::subscriptions::{missing_subscriptions, refused_subscriptions};
use super::time::TimeCtl;
use crate::error_chain::error_chain;
use crate::flow::{Flow, FlowContext, FlowFactory};
use crate::history::FlowRun;
use crate::scenario::{Scenario, SinkKind};

/// How often a command flow's subscriptions are looked at while it starts.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// How the flow under test is reached.
#[derive(Debug, Clone)]
pub enum FlowUnderTest {
    InProcess(FlowFactory),
    /// A command started per case with the `INSIGHTSIM_*` environment.
    Command {
        command: String,
        name: String,
    },
    /// A running endpoint: the harness subscribes it, and serves the simulator at `sim_addr`.
    Url {
        url: String,
        name: String,
        triggers: Vec<String>,
        sim_addr: SocketAddr,
    },
}

impl FlowUnderTest {
    /// The host deliveries go to that the case's tenant must allow: a URL flow's, when it is
    /// not loopback (a cloud flow's callback; loopback is always allowed).
    pub(super) fn delivery_host(&self) -> Option<String> {
        let FlowUnderTest::Url { url, .. } = self else {
            return None;
        };
        let uri: hyper::Uri = url.parse().ok()?;
        uri.host().map(str::to_owned)
    }

    pub fn name(&self) -> String {
        match self {
            FlowUnderTest::InProcess(f) => f.name.to_owned(),
            FlowUnderTest::Command { name, .. } | FlowUnderTest::Url { name, .. } => name.clone(),
        }
    }
}

/// A flow instance running for one case.
pub(super) enum Running {
    InProcess {
        flow: Arc<dyn Flow>,
        ctx: FlowContext,
        start: JoinHandle<()>,
    },
    Process(FlowProcess),
    Url,
}

impl Running {
    /// The flow process's standard error, when it runs as a process.
    pub(super) fn stderr(&self) -> Option<String> {
        match self {
            Running::Process(process) => Some(process.stderr()),
            _ => None,
        }
    }

    /// How the flow process exited, if it runs as a process and has exited.
    pub(super) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        match self {
            Running::Process(process) => process.exited(),
            _ => None,
        }
    }

    /// Turns an in-process flow off ([`Flow::stop`]) at the case's last instant and returns its
    /// run history ([`Flow::take_runs`]); other flows keep none. Turning off gets until the
    /// flow is idle: a call that would wait (an injected latency) is cut short, since the
    /// clock no longer moves.
    pub(super) async fn turn_off(&self, time: &TimeCtl) -> Vec<FlowRun> {
        let Running::InProcess { flow, ctx, .. } = self else {
            return Vec::new();
        };
        let guard = time.enter();
        let (f, c) = (flow.clone(), ctx.clone());
        let stop = tokio::spawn(async move {
            let _guard = guard;
            f.stop(&c).await;
        });
        time.until_idle().await;
        stop.abort();
        flow.take_runs()
    }

    /// Stops the flow: aborts an in-process flow's `start`, kills a process.
    pub(super) async fn stop(&mut self) {
        match self {
            Running::InProcess { start, .. } => start.abort(),
            Running::Process(process) => process.stop().await,
            Running::Url => {}
        }
    }
}

/// What a flow is started with, besides the case: the sinks, the client in-process flows post
/// to them with, and how long a command flow may take to subscribe.
pub(super) struct Launch<'a> {
    pub sinks: &'a Sinks,
    pub http: &'a HttpPoster,
    pub subscribe_timeout: Duration,
}

impl FlowUnderTest {
    /// Starts the flow for `scenario` against `sim` (served at `api_url` for a command flow) and
    /// waits until a command flow holds the subscriptions the case expects (or the time is up:
    /// the missing subscription is then reported as a failure of the case).
    pub(super) async fn start(
        &self,
        launch: &Launch<'_>,
        sim: &Arc<Simulator>,
        time: &TimeCtl,
        scenario: &Scenario,
        api_url: Option<String>,
    ) -> Result<Running, String> {
        match self {
            FlowUnderTest::InProcess(factory) => {
                let flow = (factory.make)();
                let io = InProcessIo {
                    sim: sim.clone(),
                    token: FLOW_TOKEN.to_owned(),
                    time: time.clone(),
                    sink_urls: [
                        (SinkKind::Teams, launch.sinks.url(SinkKind::Teams)),
                        (SinkKind::Email, launch.sinks.url(SinkKind::Email)),
                        (SinkKind::Http, launch.sinks.url(SinkKind::Http)),
                    ],
                    http: launch.http.clone(),
                };
                let ctx = FlowContext {
                    io: Arc::new(io),
                    requested: scenario.subscriptions.clone(),
                };
                let guard = time.enter();
                let (f, c) = (flow.clone(), ctx.clone());
                let start = tokio::spawn(async move {
                    let _guard = guard;
                    f.start(&c).await;
                });
                Ok(Running::InProcess { flow, ctx, start })
            }
            FlowUnderTest::Command { command, .. } => {
                let api_url = api_url.ok_or("the simulator did not start")?;
                let mut process = FlowProcess::start(
                    command,
                    sim,
                    &api_url,
                    launch.sinks,
                    &scenario.subscriptions,
                )
                .map_err(|e| error_chain(&e))?;
                // Wait (wall time) until it holds the subscriptions the case expects.
                let started = Instant::now();
                loop {
                    if missing_subscriptions(sim, scenario).is_none() {
                        return Ok(Running::Process(process));
                    }
                    if let Some(refused) = refused_subscriptions(sim) {
                        return Err(format!("{refused}{}", stderr_tail(&process.stderr())));
                    }
                    if let Some(status) = process.exited() {
                        return Err(format!(
                            "the flow exited ({status}) before subscribing; stderr:\n{}",
                            process.stderr()
                        ));
                    }
                    if started.elapsed() > launch.subscribe_timeout {
                        // Keep it running: the missing subscription is reported as a failure.
                        return Ok(Running::Process(process));
                    }
                    tokio::time::sleep(POLL_EVERY).await;
                }
            }
            FlowUnderTest::Url { url, .. } => {
                for sub in &scenario.subscriptions {
                    let mut body = sub.inputs.clone();
                    body.insert("NotificationUrl".into(), Value::String(url.clone()));
                    let r = harness_call(
                        sim,
                        "POST",
                        &format!("triggers/{}/subscriptions", sub.trigger),
                        Some(Value::Object(body)),
                    );
                    if r.status != 201 {
                        return Err(format!(
                            "the simulator refused the subscription to {} ({}): {}",
                            sub.trigger,
                            r.status,
                            String::from_utf8_lossy(&r.bytes())
                        ));
                    }
                }
                Ok(Running::Url)
            }
        }
    }
}
