//! Running one case: a fresh simulator on virtual time, the flow under test, the sinks, and the
//! scenario's timeline.
//!
//! The loop: apply the steps that are due, run the lifecycle up to now, hand every delivery to
//! the flow, wait until the flow is quiet, then jump the clock to the next thing that is due (a
//! step, a lifecycle event, a flow's sleep). Nothing waits on the wall clock except a flow that
//! runs as a process or behind a URL: the harness cannot see inside it, so "quiet" means nothing
//! happened for a short settle time, and while such a flow waits out a `Retry-After` the clock
//! runs at real speed, so that a flow that waits correctly is not taken for one that retries
//! early.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};
use simulator::delivery::Sender;
use simulator::engine::{AttemptResult, DeliveryAttempt, DeliveryView, EventView, Subscription};
use simulator::journal::JournalEntry;
use simulator::rate_limit::ConnectionReport;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimDuration, SimTime, Simulator};
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

use super::inproc::{HttpPoster, IN_PROCESS_HOOK, InProcessIo};
use super::sinks::{SinkCall, Sinks};
use super::steps::{apply_step, describe_step, harness_call};
use super::time::TimeCtl;
use crate::flow::{Flow, FlowContext, FlowFactory};
use crate::outcome::Failure;
use crate::scenario::{ExpectedSubscription, Scenario, SinkKind};

/// The bearer token of the flow's connection (in-process and command flows).
pub const FLOW_TOKEN: &str = "flow";
/// The bearer token of the harness's own calls (steps that create or update items).
pub const HARNESS_TOKEN: &str = "insightsim-harness";

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
    pub fn name(&self) -> String {
        match self {
            FlowUnderTest::InProcess(f) => f.name.to_owned(),
            FlowUnderTest::Command { name, .. } => name.clone(),
            FlowUnderTest::Url { name, .. } => name.clone(),
        }
    }
}

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Replaces every case's seed.
    pub seed: Option<u64>,
    /// How long a command flow may take to hold its subscriptions.
    pub subscribe_timeout: Duration,
    /// How long a process or URL flow must be silent to count as quiet.
    pub settle: Duration,
    /// Longest a single delivery to a process or URL flow may take (wall time).
    pub delivery_timeout: Duration,
    /// Where the sinks listen (a free port when absent); a flow started outside the harness
    /// needs a fixed address.
    pub sinks_addr: Option<SocketAddr>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            subscribe_timeout: Duration::from_secs(10),
            settle: Duration::from_millis(60),
            delivery_timeout: Duration::from_secs(10),
            sinks_addr: None,
        }
    }
}

/// Everything observed while a case ran.
#[derive(Debug, Default, Clone)]
pub struct CaseRun {
    pub instance_id: String,
    pub start: SimTime,
    pub end: SimTime,
    pub steps: Vec<(SimTime, String)>,
    /// The last journal entry before the first step (calls up to it turned the flow on).
    pub first_step_seq: Option<u64>,
    pub journal: Vec<JournalEntry>,
    pub events: Vec<EventView>,
    pub deliveries: Vec<DeliveryView>,
    pub subscriptions: Vec<Subscription>,
    pub sink_calls: Vec<SinkCall>,
    /// Call-limit grading of the flow's connections.
    pub grades: Vec<ConnectionReport>,
    /// Generated rows per entity (for paging checks).
    pub entity_rows: BTreeMap<String, u64>,
    /// The window of the call limit, when it is on.
    pub window: Option<SimDuration>,
    /// The largest page the API serves.
    pub page_size_max: u64,
    pub flow_stderr: Option<String>,
    /// Problems that stop a case from being graded normally (a step failed, the flow crashed,
    /// it never subscribed).
    pub errors: Vec<Failure>,
}

impl CaseRun {
    /// Whether a journal entry is a call of the flow (not of the harness).
    pub fn is_flow_call(entry: &JournalEntry) -> bool {
        entry.connection.as_deref() != Some(HARNESS_TOKEN)
    }
}

/// Runs cases against one flow.
pub struct Runner {
    pub flow: FlowUnderTest,
    pub options: RunOptions,
    sinks: Sinks,
    sender: Sender,
    http: HttpPoster,
    /// The triggers the flow handles (declared, or discovered for a command).
    triggers: Vec<String>,
    /// Why the flow cannot run at all (a command that crashed or never subscribed when it was
    /// started to discover its triggers): every case fails with it.
    broken: Option<String>,
    /// Tells this run's event ids from another run's (URL flows only; see `run`).
    run_nonce: u128,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("flow", &self.flow.name())
            .field("triggers", &self.triggers)
            .finish()
    }
}

/// A flow instance running for one case.
enum Running {
    InProcess {
        flow: Arc<dyn Flow>,
        ctx: FlowContext,
        start: JoinHandle<()>,
    },
    Process {
        child: tokio::process::Child,
        stderr: Arc<Mutex<String>>,
    },
    Url,
}

impl Runner {
    /// Starts the sinks; for a command flow, discovers the triggers it subscribes to.
    pub async fn new(flow: FlowUnderTest, options: RunOptions) -> anyhow::Result<Runner> {
        let triggers = match &flow {
            FlowUnderTest::InProcess(f) => (f.make)()
                .triggers()
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            FlowUnderTest::Url { triggers, .. } => triggers.clone(),
            FlowUnderTest::Command { .. } => Vec::new(),
        };
        let sinks = match options.sinks_addr {
            Some(addr) => Sinks::start_on(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot serve the sinks on {addr}: {e}"))?,
            None => Sinks::start().await,
        };
        let mut runner = Runner {
            flow,
            options,
            sinks,
            sender: Sender::new(),
            http: HttpPoster::default(),
            triggers,
            broken: None,
            run_nonce: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        };
        if let FlowUnderTest::Command { .. } = runner.flow {
            match runner.discover_triggers().await {
                Ok(found) if !found.is_empty() => runner.triggers = found,
                Ok(_) => {
                    runner.broken = Some(format!(
                        "the flow did not subscribe to any trigger within {} of starting",
                        simulator::SimDuration::from_millis(
                            runner.options.subscribe_timeout.as_millis() as i64
                        )
                    ));
                }
                Err(e) => runner.broken = Some(format!("{e:#}")),
            }
            if runner.broken.is_some() {
                // Run every case, so that each fails with the reason instead of being skipped.
                runner.triggers = simulator::engine::Trigger::ALL
                    .iter()
                    .map(|t| t.id().to_owned())
                    .collect();
            }
        }
        Ok(runner)
    }

    pub fn flow_name(&self) -> String {
        self.flow.name()
    }

    pub fn triggers(&self) -> &[String] {
        &self.triggers
    }

    /// The sink URLs, for flows started outside the harness.
    pub fn sink_url(&self, sink: SinkKind) -> String {
        self.sinks.url(sink)
    }

    /// Why the flow cannot run at all, if it cannot.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Why the flow cannot take this case, if it cannot (it does not handle a trigger).
    pub fn skip_reason(&self, scenario: &Scenario) -> Option<String> {
        let missing: Vec<&str> = scenario
            .triggers()
            .into_iter()
            .filter(|t| !self.triggers.iter().any(|m| m == t))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "the flow does not subscribe to {} (it handles: {})",
                missing.join(", "),
                if self.triggers.is_empty() {
                    "nothing".to_owned()
                } else {
                    self.triggers.join(", ")
                }
            )
        })
    }

    /// Starts the command once with one default subscription per trigger and sees what it
    /// subscribes to.
    async fn discover_triggers(&self) -> anyhow::Result<Vec<String>> {
        let defaults: Vec<ExpectedSubscription> = simulator::engine::Trigger::ALL
            .iter()
            .map(|t| ExpectedSubscription {
                trigger: t.id().to_owned(),
                inputs: default_inputs(t.id()),
            })
            .collect();
        let sim =
            Arc::new(build_simulator(&discovery_scenario(), None).map_err(anyhow::Error::msg)?);
        let server = simulator::server::start(sim.clone(), "127.0.0.1:0".parse()?).await?;
        let mut running = self
            .start_process(&sim, &server.base_url(), &defaults)
            .await?;
        // Wait until the subscriptions stop changing (or the time is up).
        let started = Instant::now();
        let mut last = (0usize, Instant::now());
        while started.elapsed() < self.options.subscribe_timeout {
            let n = sim.subscriptions().len();
            if n != last.0 {
                last = (n, Instant::now());
            } else if n > 0 && last.1.elapsed() > Duration::from_millis(500) {
                break;
            }
            if let Running::Process { child, .. } = &mut running
                && let Ok(Some(status)) = child.try_wait()
            {
                let stderr = process_stderr(&running);
                anyhow::bail!(
                    "the flow command exited ({status}) before subscribing; its stderr:\n{stderr}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop(&mut running).await;
        server.shutdown(Duration::from_secs(1)).await;
        let mut triggers: Vec<String> = sim
            .subscriptions()
            .iter()
            .map(|s| s.trigger.id().to_owned())
            .collect();
        triggers.sort();
        triggers.dedup();
        Ok(triggers)
    }

    async fn start_process(
        &self,
        sim: &Simulator,
        api_url: &str,
        requested: &[ExpectedSubscription],
    ) -> anyhow::Result<Running> {
        let FlowUnderTest::Command { command, .. } = &self.flow else {
            anyhow::bail!("not a command flow");
        };
        let addr = free_port()?;
        let parts = shell_words(command);
        let Some((program, args)) = parts.split_first() else {
            anyhow::bail!("--flow-cmd is empty");
        };
        let requested_json = serde_json::to_string(
            &requested
                .iter()
                .map(|s| json!({"trigger": s.trigger, "inputs": s.inputs}))
                .collect::<Vec<_>>(),
        )?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .env("INSIGHTSIM_API_URL", api_url)
            .env("INSIGHTSIM_INSTANCE_ID", &sim.instance_id)
            .env("INSIGHTSIM_TOKEN", FLOW_TOKEN)
            .env("INSIGHTSIM_FLOW_ADDR", addr.to_string())
            .env("INSIGHTSIM_SINK_TEAMS_URL", self.sinks.url(SinkKind::Teams))
            .env("INSIGHTSIM_SINK_EMAIL_URL", self.sinks.url(SinkKind::Email))
            .env("INSIGHTSIM_SINK_HTTP_URL", self.sinks.url(SinkKind::Http))
            .env("INSIGHTSIM_SUBSCRIPTIONS", requested_json)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start the flow command `{command}`: {e}"))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut s = sink.lock();
                    // Keep the last 64 KiB: enough for a report, bounded for a chatty flow.
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if s.len() > 64 * 1024 {
                        let cut = s.len() - 64 * 1024;
                        let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                        s.drain(..cut);
                    }
                }
            });
        }
        Ok(Running::Process { child, stderr })
    }

    /// Runs one case and collects what happened.
    pub async fn run(&self, scenario: &Scenario) -> CaseRun {
        let mut run = CaseRun::default();
        if let Some(reason) = &self.broken {
            run.errors
                .push(failure("flow", "the flow to start and subscribe", reason));
            return run;
        }
        // A flow behind a URL lives through every case and every run: salt the event ids with
        // the case and the run, so that its idempotency memory never mistakes one case's event
        // for another's.
        let salt = matches!(self.flow, FlowUnderTest::Url { .. })
            .then(|| format!("{}/{}", scenario.id, self.run_nonce));
        let sim = match build_simulator_salted(scenario, self.options.seed, salt) {
            Ok(sim) => Arc::new(sim),
            Err(e) => {
                run.errors.push(failure("tenant", "a valid tenant", &e));
                return run;
            }
        };
        let clock = sim.clock.clone();
        let time = TimeCtl::new(clock.clone());
        self.sinks.reset(clock.clone());
        run.instance_id = sim.instance_id.clone();
        run.start = clock.now();
        let server = match &self.flow {
            FlowUnderTest::InProcess(_) => None,
            FlowUnderTest::Command { .. } => simulator::server::start(
                sim.clone(),
                "127.0.0.1:0"
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
            )
            .await
            .ok(),
            FlowUnderTest::Url { sim_addr, .. } => {
                match simulator::server::start(sim.clone(), *sim_addr).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        run.errors.push(failure(
                            "simulator",
                            &format!("to listen on {sim_addr}"),
                            &e.to_string(),
                        ));
                        return run;
                    }
                }
            }
        };
        if !matches!(self.flow, FlowUnderTest::InProcess(_)) {
            // A flow we cannot see into waits out a Retry-After on the wall clock, starting
            // when it gets the 429: let simulated time follow the wall clock from that instant.
            let clock = clock.clone();
            sim.set_throttle_hook(Some(Box::new(move |connection: &str| {
                if connection != HARNESS_TOKEN && !clock.is_running() {
                    clock.run(1.0);
                }
            })));
        }
        let mut running = match self
            .start_flow(&sim, &time, scenario, server.as_ref().map(|s| s.base_url()))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                run.errors
                    .push(failure("flow", "the flow to start and subscribe", &e));
                if let Some(s) = server {
                    s.shutdown(Duration::from_secs(1)).await;
                }
                collect(&mut run, &sim, &self.sinks);
                return run;
            }
        };
        self.settle(&sim, &time, &mut running).await;
        if let Some(missing) = missing_subscriptions(&sim, scenario) {
            run.errors.push(missing);
        }
        self.timeline(&sim, &time, scenario, &mut running, &mut run)
            .await;
        // The case is over: stop the flow, then gather everything.
        time.clear();
        if let Running::InProcess { start, .. } = &running {
            start.abort();
        }
        run.flow_stderr = match &running {
            Running::Process { .. } => Some(process_stderr(&running)),
            _ => None,
        };
        if let Running::Process { child, .. } = &mut running
            && let Ok(Some(status)) = child.try_wait()
        {
            run.errors.push(failure(
                "flow",
                "the flow process to keep running",
                &format!("it exited ({status})"),
            ));
        }
        stop(&mut running).await;
        if let Some(s) = server {
            s.shutdown(Duration::from_secs(1)).await;
        }
        run.end = clock.now();
        collect(&mut run, &sim, &self.sinks);
        run
    }

    async fn start_flow(
        &self,
        sim: &Arc<Simulator>,
        time: &TimeCtl,
        scenario: &Scenario,
        api_url: Option<String>,
    ) -> Result<Running, String> {
        match &self.flow {
            FlowUnderTest::InProcess(factory) => {
                let flow = (factory.make)();
                let io = InProcessIo {
                    sim: sim.clone(),
                    token: FLOW_TOKEN.to_owned(),
                    time: time.clone(),
                    sink_urls: [
                        (SinkKind::Teams, self.sinks.url(SinkKind::Teams)),
                        (SinkKind::Email, self.sinks.url(SinkKind::Email)),
                        (SinkKind::Http, self.sinks.url(SinkKind::Http)),
                    ],
                    http: self.http.clone(),
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
            FlowUnderTest::Command { .. } => {
                let api_url = api_url.ok_or("the simulator did not start")?;
                let mut running = self
                    .start_process(sim, &api_url, &scenario.subscriptions)
                    .await
                    .map_err(|e| e.to_string())?;
                // Wait (wall time) until it holds the subscriptions the case expects.
                let started = Instant::now();
                loop {
                    if missing_subscriptions(sim, scenario).is_none() {
                        return Ok(running);
                    }
                    if let Running::Process { child, .. } = &mut running
                        && let Ok(Some(status)) = child.try_wait()
                    {
                        return Err(format!(
                            "the flow exited ({status}) before subscribing; stderr:\n{}",
                            process_stderr(&running)
                        ));
                    }
                    if started.elapsed() > self.options.subscribe_timeout {
                        // Keep it running: the missing subscription is reported as a failure.
                        return Ok(running);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
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

    /// The timeline: steps, lifecycle and flow, until the end of the case.
    async fn timeline(
        &self,
        sim: &Arc<Simulator>,
        time: &TimeCtl,
        scenario: &Scenario,
        running: &mut Running,
        run: &mut CaseRun,
    ) {
        let t0 = run.start;
        let last = scenario
            .steps
            .iter()
            .map(|s| s.at)
            .max()
            .unwrap_or(SimDuration::ZERO);
        let end = t0 + last + scenario.run_for.unwrap_or(SimDuration::from_hours(1));
        let mut next_step = 0;
        loop {
            let now = sim.clock.now();
            while next_step < scenario.steps.len() && t0 + scenario.steps[next_step].at <= now {
                let step = &scenario.steps[next_step];
                if run.first_step_seq.is_none() {
                    run.first_step_seq = Some(sim.journal.last_seq());
                }
                run.steps.push((now, describe_step(step)));
                if let Err(e) = apply_step(sim, step) {
                    run.errors.push(failure(
                        &format!("steps[{next_step}]"),
                        "the step to apply",
                        &e,
                    ));
                }
                next_step += 1;
            }
            self.settle(sim, time, running).await;
            let candidates = [
                scenario.steps.get(next_step).map(|s| t0 + s.at),
                sim.next_due(),
                time.next_wake(),
                self.retry_deadline(sim, running),
            ];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            if next > end {
                break;
            }
            if next > sim.clock.now() {
                if let Some(deadline) = self.retry_deadline(sim, running).filter(|d| *d == next) {
                    // A process or URL flow waits out a Retry-After on the wall clock: let
                    // simulated time follow it, so its next call lands when it really happens.
                    self.run_in_real_time(sim, deadline).await;
                } else {
                    sim.clock.advance_to(next);
                }
            }
            time.wake_due(sim.clock.now());
        }
    }

    /// For a flow the harness cannot see inside: the latest `Retry-After` deadline still ahead.
    fn retry_deadline(&self, sim: &Simulator, running: &Running) -> Option<SimTime> {
        if matches!(running, Running::InProcess { .. }) {
            return None;
        }
        let now = sim.clock.now();
        sim.limiter
            .report(now)
            .into_iter()
            .filter(|r| r.connection != HARNESS_TOKEN)
            .filter_map(|r| r.retry_not_before)
            .filter(|t| *t > now)
            .max()
    }

    async fn run_in_real_time(&self, sim: &Simulator, deadline: SimTime) {
        // Usually already running: the throttle hook started it at the 429.
        if !sim.clock.is_running() {
            sim.clock.run(1.0);
        }
        while sim.clock.now() < deadline {
            let wait = sim.clock.wall_until(deadline).unwrap_or_default();
            tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
        }
        // Give the flow its settle time to make the call it waited for.
        tokio::time::sleep(self.options.settle).await;
        sim.clock.freeze();
    }

    /// Runs the lifecycle up to now and hands deliveries to the flow until everything is quiet.
    async fn settle(&self, sim: &Arc<Simulator>, time: &TimeCtl, running: &mut Running) {
        loop {
            sim.tick();
            let deliveries = sim.take_deliveries();
            let none = deliveries.is_empty();
            for attempt in deliveries {
                self.dispatch(sim, time, running, attempt);
            }
            time.until_idle().await;
            if matches!(running, Running::Process { .. } | Running::Url) {
                self.quiet_on_the_wall_clock(sim).await;
            }
            if none && time.active() == 0 && sim.pending_deliveries() == 0 {
                return;
            }
        }
    }

    /// Waits until the API journal and the sinks have been still for the settle time, or until
    /// new deliveries wait (the caller dispatches them and comes back).
    async fn quiet_on_the_wall_clock(&self, sim: &Simulator) {
        let mut seen = (sim.journal.len(), self.sinks.call_count());
        loop {
            tokio::time::sleep(self.options.settle).await;
            if sim.pending_deliveries() > 0 {
                return;
            }
            let now = (sim.journal.len(), self.sinks.call_count());
            if now == seen {
                return;
            }
            seen = now;
        }
    }

    fn dispatch(
        &self,
        sim: &Arc<Simulator>,
        time: &TimeCtl,
        running: &Running,
        attempt: DeliveryAttempt,
    ) {
        let guard = time.enter();
        let sim = sim.clone();
        if attempt.url == IN_PROCESS_HOOK {
            let Running::InProcess { flow, ctx, .. } = running else {
                sim.delivery_result(
                    attempt.attempt_id,
                    AttemptResult::ConnectionError("no in-process flow".into()),
                );
                return;
            };
            let (flow, ctx) = (flow.clone(), ctx.clone());
            tokio::spawn(async move {
                let _guard = guard;
                let event: Value = serde_json::from_str(&attempt.body).unwrap_or(Value::Null);
                // The handler runs in its own task so that a panic is caught and answered 500.
                let handler = tokio::spawn(async move { flow.on_event(&ctx, event).await });
                let result = match handler.await {
                    Ok(status) => AttemptResult::Status(status),
                    Err(e) => AttemptResult::ConnectionError(format!("the flow panicked: {e}")),
                };
                sim.delivery_result(attempt.attempt_id, result);
            });
        } else {
            let sender = self.sender.clone();
            let timeout = self.options.delivery_timeout;
            tokio::spawn(async move {
                let _guard = guard;
                let result = sender.send(&attempt, timeout).await;
                sim.delivery_result(attempt.attempt_id, result);
            });
        }
    }
}

/// The scenario of the discovery run: the demo tenant, small, with nothing happening.
fn discovery_scenario() -> Scenario {
    let mut tenant = toml::Table::new();
    tenant.insert("customers".into(), toml::Value::Integer(100));
    Scenario {
        format: 1,
        id: "discovery".into(),
        description: String::new(),
        requirement: "The flow MUST subscribe.".into(),
        seed: None,
        start: None,
        tenant,
        subscriptions: Vec::new(),
        steps: Vec::new(),
        run_for: None,
        expect: crate::scenario::Expect::default(),
    }
}

/// A default subscription per trigger, for discovering what a command flow handles.
fn default_inputs(trigger: &str) -> serde_json::Map<String, Value> {
    let value = match trigger {
        "segment-threshold-crossed" => {
            json!({"segmentName": "HighValueCustomers", "threshold": 1000})
        }
        "measure-threshold-crossed" => {
            json!({"measureName": "TotalRevenue", "threshold": 1_000_000})
        }
        _ => json!({}),
    };
    value.as_object().cloned().unwrap_or_default()
}

fn failure(check: &str, expected: &str, actual: &str) -> Failure {
    Failure {
        check: check.to_owned(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    }
}

/// Builds the case's simulator: the demo tenant, the scenario's overrides (the schedule off and
/// no random task failures, unless they say otherwise), a frozen clock.
pub fn build_simulator(scenario: &Scenario, seed: Option<u64>) -> Result<Simulator, String> {
    build_simulator_salted(scenario, seed, None)
}

fn build_simulator_salted(
    scenario: &Scenario,
    seed: Option<u64>,
    id_salt: Option<String>,
) -> Result<Simulator, String> {
    let mut tenant = scenario.tenant.clone();
    let refresh = tenant
        .entry("refresh")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = refresh {
        t.entry("schedule_enabled")
            .or_insert(toml::Value::Boolean(false));
        // A case fails only what it says to fail: no random task failures unless it sets them.
        let mut none = toml::Table::new();
        for k in ["transient", "permanent", "timeout"] {
            none.insert(k.into(), toml::Value::Float(0.0));
        }
        t.entry("failures").or_insert(toml::Value::Table(none));
    }
    let text = toml::to_string(&tenant).map_err(|e| e.to_string())?;
    let mut spec = TenantSpec::from_toml_over_demo(&text, &format!("{} (tenant)", scenario.id))
        .map_err(|e| e.to_string())?;
    spec.seed = seed.unwrap_or_else(|| scenario.seed());
    let clock = Clock::frozen_at(scenario.start.unwrap_or(SimTime::DEFAULT_EPOCH));
    let mut config = SimConfig::new(spec, clock);
    config.journal_capacity = 1_000_000;
    config.id_salt = id_salt;
    Ok(Simulator::new(config))
}

/// The expected subscriptions the flow does not hold, as a failure.
fn missing_subscriptions(sim: &Simulator, scenario: &Scenario) -> Option<Failure> {
    let held: Vec<Subscription> = sim
        .subscriptions()
        .into_iter()
        .filter(|s| s.deleted_at.is_none())
        .collect();
    let missing: Vec<String> = scenario
        .subscriptions
        .iter()
        .filter(|want| {
            !held
                .iter()
                .any(|h| h.trigger.id() == want.trigger && inputs_match(&want.inputs, &h.inputs))
        })
        .map(|want| format!("{} {}", want.trigger, Value::Object(want.inputs.clone())))
        .collect();
    (!missing.is_empty()).then(|| {
        let actual = if held.is_empty() {
            "no subscription".to_owned()
        } else {
            held.iter()
                .map(|h| format!("{} {}", h.trigger.id(), Value::Object(h.inputs.clone())))
                .collect::<Vec<_>>()
                .join("; ")
        };
        failure(
            "subscriptions",
            &format!("the flow holds {}", missing.join("; ")),
            &format!("it holds {actual}"),
        )
    })
}

/// Whether held inputs satisfy the wanted ones (names case-insensitively, numbers by value).
fn inputs_match(
    want: &serde_json::Map<String, Value>,
    held: &serde_json::Map<String, Value>,
) -> bool {
    want.iter().all(|(k, v)| {
        held.iter().any(|(hk, hv)| {
            hk.eq_ignore_ascii_case(k)
                && match (v, hv) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (a, b) => a == b,
                }
        })
    })
}

fn collect(run: &mut CaseRun, sim: &Simulator, sinks: &Sinks) {
    run.journal = sim.journal.since(0);
    run.events = sim.events();
    run.deliveries = sim.deliveries();
    run.subscriptions = sim.subscriptions();
    run.entity_rows = sim.entity_rows();
    run.grades = sim
        .limiter
        .report(sim.clock.now())
        .into_iter()
        .filter(|r| r.connection != HARNESS_TOKEN)
        .collect();
    run.window = sim.limiter.setting().limit().map(|l| l.window);
    run.page_size_max = sim.spec.limits.page_size_max as u64;
    run.sink_calls = sinks.calls();
}

fn process_stderr(running: &Running) -> String {
    match running {
        Running::Process { stderr, .. } => stderr.lock().clone(),
        _ => String::new(),
    }
}

async fn stop(running: &mut Running) {
    if let Running::Process { child, .. } = running {
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    }
}

/// A free loopback port (bound and released; the flow binds it right after).
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Splits a command line into words (double and single quotes group, backslash escapes).
pub fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut has_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                has_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            (None, c) if c.is_whitespace() => {
                if has_word {
                    words.push(std::mem::take(&mut current));
                    has_word = false;
                }
            }
            (_, c) => {
                current.push(c);
                has_word = true;
            }
        }
    }
    if has_word {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_command_lines_like_a_shell() {
        assert_eq!(
            shell_words("insightsim flow export"),
            ["insightsim", "flow", "export"]
        );
        assert_eq!(
            shell_words(r#"node "my flow.js" --x='a b'"#),
            ["node", "my flow.js", "--x=a b"]
        );
        assert_eq!(shell_words("  a\\ b  c "), ["a b", "c"]);
    }

    #[test]
    fn inputs_match_numbers_by_value_and_names_ignoring_case() {
        let want = json!({"segmentName": "HighValueCustomers", "threshold": 1000})
            .as_object()
            .cloned()
            .unwrap();
        let held = json!({"segmentName": "highvaluecustomers", "threshold": 1000.0})
            .as_object()
            .cloned()
            .unwrap();
        assert!(inputs_match(&want, &held));
        let off = json!({"segmentName": "HighValueCustomers", "threshold": 1001})
            .as_object()
            .cloned()
            .unwrap();
        assert!(!inputs_match(&want, &off));
    }
}
