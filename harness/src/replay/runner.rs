//! [`Runner`]: runs cases against one flow. Each case gets a fresh simulator on virtual time,
//! the flow under test, the sinks, and the scenario's timeline (`timeline.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use simulator::delivery::Sender;
use simulator::engine::Trigger;
use simulator::{SimDuration, Simulator};

use super::HARNESS_TOKEN;
use super::applicability::{Applicability, applicability};
use super::case_run::CaseRun;
use super::clock_gate::ClockGate;
use super::discovery::{check_url_subscriptions, discover_triggers};
use super::flow_under_test::{FlowUnderTest, Launch};
use super::inproc::HttpPoster;
use super::pace::{Pace, Waits};
use super::realtime::{Realtime, WaitObserver};
use super::sinks::Sinks;
use super::subscriptions::missing_subscriptions;
use super::tenant::build_simulator_in_epoch;
use super::time::TimeCtl;
use super::timeline::{Answers, Timeline};
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
    /// How long the harness waits for a process or URL flow (`--settle`, `--overrun-max`).
    pub waits: Waits,
    /// Longest a single delivery to a process or URL flow may take (wall time).
    pub delivery_timeout: Duration,
    /// Where the sinks listen (a free port when absent); a flow started outside the harness
    /// needs a fixed address.
    pub sinks_addr: Option<SocketAddr>,
    /// What the flow is for: which cases are for it, where its effects go, what they carry.
    pub manifest: Option<Manifest>,
    /// Told every second while a process or URL flow waits out a `Retry-After` in real time.
    pub on_wait: Option<WaitObserver>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            subscribe_timeout: Duration::from_secs(10),
            waits: Waits::default(),
            delivery_timeout: Duration::from_secs(10),
            sinks_addr: None,
            manifest: None,
            on_wait: None,
        }
    }
}

/// Why a runner could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(
        "cannot serve the sinks on {addr} ({source}); free the address or give another with --sinks-addr HOST:PORT (and point the flow's sink URLs at it)"
    )]
    Sinks {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "cannot serve the API on {addr} ({source}); free the address or give another with --sim-addr HOST:PORT (and point the flow's API URL at it)"
    )]
    Api {
        addr: SocketAddr,
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
    /// Why the flow cannot run at all (a command that crashed, never subscribed or had a
    /// subscription refused when it was started to discover its triggers; a URL the API will
    /// not deliver to): every case fails with it.
    broken: Option<String>,
    /// Tells this run's ids from another run's (flows outside the harness; see `run`).
    run_nonce: u128,
    /// Cases run so far (every case and generated timeline gets its own ids).
    ordinal: AtomicU64,
    /// What the harness has learnt of the flow's pace (flows outside the harness).
    pace: Mutex<Pace>,
    /// For a URL flow: the API's address, bound for the whole run (each case serves on it).
    api_listener: Option<std::net::TcpListener>,
    /// The ids of the cases run so far (flows outside the harness), to tell a sink call still
    /// made for an earlier case (at most [`EARLIER_IDS_MAX`] kept).
    earlier_ids: Mutex<Vec<String>>,
}

/// How many ids of earlier cases are kept to recognise stale sink calls.
const EARLIER_IDS_MAX: usize = 4096;

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
        // A URL flow is configured with the API's address: bind it once, before any case, so
        // that a taken address is one clear error and no other process takes it between cases.
        let api_listener = match &flow {
            FlowUnderTest::Url { sim_addr, .. } => Some(
                std::net::TcpListener::bind(sim_addr)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .map_err(|source| RunnerError::Api {
                        addr: *sim_addr,
                        source,
                    })?,
            ),
            _ => None,
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
            ordinal: AtomicU64::new(0),
            pace: Mutex::new(Pace::default()),
            api_listener,
            earlier_ids: Mutex::new(Vec::new()),
        };
        if let FlowUnderTest::Url { url, triggers, .. } = &runner.flow
            && let Err(refused) = check_url_subscriptions(url, triggers)
        {
            runner.broken = Some(refused);
        }
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

    /// What the harness has learnt of the flow's pace so far (flows outside the harness).
    pub fn pace(&self) -> Pace {
        *self.pace.lock()
    }

    /// The settle window the next case starts with.
    pub fn settle_window(&self) -> Duration {
        self.pace.lock().settle_window(&self.options.waits)
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
            // The whole reason (with the flow's stderr) is the run's to print once; each case
            // says what it is in a line.
            let first = reason.lines().next().unwrap_or_default();
            run.errors.push(Failure::new(
                "flow",
                "the flow to start and subscribe",
                format!("{first} (the flow cannot be tested; see the error before the first case)"),
            ));
            return run;
        }
        let external = !matches!(self.flow, FlowUnderTest::InProcess(_));
        // A flow outside the harness may remember event ids from case to case (and, behind a
        // URL, from run to run): salt every id with the run and the case's ordinal, so that no
        // two cases or generated timelines share one. In-process flows start afresh each case
        // and keep the seed's ids, so their transcripts are the same in every run.
        let ordinal = self.ordinal.fetch_add(1, Ordering::Relaxed);
        let salt = external.then(|| format!("{}/{ordinal}/{}", self.run_nonce, scenario.id));
        let host = self.flow.delivery_host();
        let sim = match build_simulator_in_epoch(scenario, self.options.seed, salt, host) {
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
                let listener = self
                    .api_listener
                    .as_ref()
                    .map(std::net::TcpListener::try_clone)
                    .and_then(Result::ok)
                    .map(tokio::net::TcpListener::from_std);
                match listener {
                    Some(Ok(l)) => Some(simulator::server::start_on(sim.clone(), l)),
                    _ => {
                        run.errors.push(Failure::new(
                            "simulator",
                            format!("to serve the API on {sim_addr}"),
                            "the address bound at the start of the run could not be shared",
                        ));
                        return run;
                    }
                }
            }
        };
        let gate = Arc::new(ClockGate::new(clock.clone()));
        if external {
            throttle_starts_real_time(&sim, gate.clone());
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
                gate.freeze();
                run.collect(&sim, &self.sinks);
                return run;
            }
        };
        let answers = Answers::default();
        let timeline = Timeline {
            sim: &sim,
            time: &time,
            sinks: &self.sinks,
            sender: &self.sender,
            delivery_timeout: self.options.delivery_timeout,
            answers: external.then_some(&answers),
            gate: external.then_some(&gate),
        };
        if external {
            let mut realtime = Realtime::new(
                &timeline,
                &gate,
                &answers,
                self.options.waits,
                &self.pace,
                self.options.on_wait.as_ref(),
                &scenario.id,
            );
            // Turning on (subscribing) happens before the case's time starts: the case starts
            // when the flow is quiet, and its first lines are stamped with that instant.
            realtime.turn_on(&running, &mut run).await;
            run.late = None;
            run.start = clock.now();
            if let Some(missing) = missing_subscriptions(&sim, scenario) {
                run.errors.push(missing);
            }
            realtime.run(scenario, &running, &mut run).await;
        } else {
            timeline.settle(&mut running).await;
            if let Some(missing) = missing_subscriptions(&sim, scenario) {
                run.errors.push(missing);
            }
            timeline.run(scenario, &mut running, &mut run).await;
        }
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
        gate.freeze();
        run.end = clock.now();
        run.collect(&sim, &self.sinks);
        run.collect_keys(&sim, scenario);
        if external {
            let mut earlier = self.earlier_ids.lock();
            run.set_aside_stale_sink_calls(&earlier);
            earlier.extend(run.own_ids());
            let over = earlier.len().saturating_sub(EARLIER_IDS_MAX);
            earlier.drain(..over);
        }
        run
    }
}

/// A flow the harness cannot see into waits out a `Retry-After` on the wall clock, starting
/// when it gets the 429: let simulated time follow the wall clock from that very instant (the
/// hook runs before the answer is written), through the gate the timeline freezes through.
fn throttle_starts_real_time(sim: &Simulator, gate: Arc<ClockGate>) {
    sim.set_throttle_hook(Some(Box::new(move |connection: &str| {
        if connection != HARNESS_TOKEN {
            gate.throttled();
        }
    })));
}
