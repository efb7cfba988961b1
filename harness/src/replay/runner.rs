//! [`Runner`]: runs cases against one flow. Each case gets a fresh simulator on virtual time,
//! the flow under test, the sinks, and the scenario's timeline (`timeline.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use simulator::delivery::Sender;
use simulator::engine::Trigger;
use simulator::{SimDuration, Simulator};

use super::HARNESS_TOKEN;
use super::applicability::{Applicability, applicability};
use super::case_run::CaseRun;
use super::discovery::discover_triggers;
use super::flow_under_test::{FlowUnderTest, Launch};
use super::inproc::HttpPoster;
use super::sinks::Sinks;
use super::subscriptions::missing_subscriptions;
use super::tenant::build_simulator_salted;
use super::time::TimeCtl;
use super::timeline::Timeline;
use crate::error_chain::error_chain;
use crate::manifest::Manifest;
use crate::outcome::Failure;
use crate::scenario::{Scenario, SinkKind};

/// How long a case's simulator server gets to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

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
    /// What the flow is for: which cases are for it, where its effects go, what they carry.
    pub manifest: Option<Manifest>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            subscribe_timeout: Duration::from_secs(10),
            settle: Duration::from_millis(60),
            delivery_timeout: Duration::from_secs(10),
            sinks_addr: None,
            manifest: None,
        }
    }
}

/// Why a runner could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot serve the sinks on {addr}")]
    Sinks {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
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

impl Runner {
    /// Starts the sinks; for a command flow, discovers the triggers it subscribes to.
    pub async fn new(flow: FlowUnderTest, options: RunOptions) -> Result<Runner, RunnerError> {
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
                .map_err(|source| RunnerError::Sinks { addr, source })?,
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
        if let FlowUnderTest::Command { command, .. } = &runner.flow {
            let timeout = runner.options.subscribe_timeout;
            match discover_triggers(command, &runner.sinks, timeout).await {
                Ok(found) if !found.is_empty() => runner.triggers = found,
                Ok(_) => {
                    runner.broken = Some(format!(
                        "the flow did not subscribe to any trigger within {} of starting",
                        SimDuration::from_millis(
                            i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
                        )
                    ));
                }
                Err(e) => runner.broken = Some(error_chain(&e)),
            }
            if runner.broken.is_some() {
                // Run every case, so that each fails with the reason instead of being skipped.
                runner.triggers = Trigger::ALL.iter().map(|t| t.id().to_owned()).collect();
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

    /// What the flow declares it is for, when it has a manifest.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.options.manifest.as_ref()
    }

    /// The triggers the flow is held to: those its manifest declares, or (without one) those
    /// it handles.
    pub fn declared_triggers(&self) -> Vec<String> {
        match self.manifest() {
            Some(m) => m.triggers().into_iter().map(str::to_owned).collect(),
            None => self.triggers.clone(),
        }
    }

    /// Why the flow cannot take this case, if it cannot (see [`Runner::applicability`]).
    pub fn skip_reason(&self, scenario: &Scenario) -> Option<String> {
        match self.applicability(scenario) {
            Applicability::Runs => None,
            Applicability::NotDeclared(reason) | Applicability::Skipped(reason) => Some(reason),
        }
    }

    /// Whether the case is for the flow (see [`applicability`]).
    pub fn applicability(&self, scenario: &Scenario) -> Applicability {
        applicability(self.manifest(), &self.triggers, scenario)
    }

    /// Runs one case and collects what happened.
    pub async fn run(&self, scenario: &Scenario) -> CaseRun {
        let mut run = CaseRun::default();
        if let Some(reason) = &self.broken {
            run.errors.push(Failure::new(
                "flow",
                "the flow to start and subscribe",
                reason.as_str(),
            ));
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
                run.errors
                    .push(Failure::new("tenant", "a valid tenant", error_chain(&e)));
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
            FlowUnderTest::Command { .. } => {
                simulator::server::start(sim.clone(), ([127, 0, 0, 1], 0).into())
                    .await
                    .ok()
            }
            FlowUnderTest::Url { sim_addr, .. } => {
                match simulator::server::start(sim.clone(), *sim_addr).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        run.errors.push(Failure::new(
                            "simulator",
                            format!("to listen on {sim_addr}"),
                            e.to_string(),
                        ));
                        return run;
                    }
                }
            }
        };
        if !matches!(self.flow, FlowUnderTest::InProcess(_)) {
            throttle_starts_real_time(&sim);
        }
        let launch = Launch {
            sinks: &self.sinks,
            http: &self.http,
            subscribe_timeout: self.options.subscribe_timeout,
        };
        let api_url = server
            .as_ref()
            .map(simulator::server::ServerHandle::base_url);
        let mut running = match self
            .flow
            .start(&launch, &sim, &time, scenario, api_url)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                run.errors
                    .push(Failure::new("flow", "the flow to start and subscribe", e));
                if let Some(s) = server {
                    s.shutdown(SHUTDOWN_GRACE).await;
                }
                run.collect(&sim, &self.sinks);
                return run;
            }
        };
        let timeline = Timeline {
            sim: &sim,
            time: &time,
            sinks: &self.sinks,
            sender: &self.sender,
            settle: self.options.settle,
            delivery_timeout: self.options.delivery_timeout,
        };
        timeline.settle(&mut running).await;
        if let Some(missing) = missing_subscriptions(&sim, scenario) {
            run.errors.push(missing);
        }
        timeline.run(scenario, &mut running, &mut run).await;
        // The case is over: turn the flow off (an in-process flow unsubscribes, on simulated
        // time) and take its run history; then stop it and gather everything.
        run.turn_off_seq = Some(sim.journal.last_seq());
        run.flow_runs = running.turn_off(&time).await;
        time.clear();
        run.flow_stderr = running.stderr();
        if let Some(status) = running.exited() {
            run.errors.push(Failure::new(
                "flow",
                "the flow process to keep running",
                format!("it exited ({status})"),
            ));
        }
        running.stop().await;
        if let Some(s) = server {
            s.shutdown(SHUTDOWN_GRACE).await;
        }
        run.end = clock.now();
        run.collect(&sim, &self.sinks);
        run.collect_keys(&sim, scenario);
        run
    }
}

/// A flow the harness cannot see into waits out a `Retry-After` on the wall clock, starting
/// when it gets the 429: let simulated time follow the wall clock from that instant.
fn throttle_starts_real_time(sim: &Simulator) {
    let clock = sim.clock.clone();
    sim.set_throttle_hook(Some(Box::new(move |connection: &str| {
        if connection != HARNESS_TOKEN && !clock.is_running() {
            clock.run(1.0);
        }
    })));
}
