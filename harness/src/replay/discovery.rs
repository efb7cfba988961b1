//! Which triggers a command flow handles: start it once against a small simulator, asking for
//! one default subscription per trigger, and see what it subscribes to.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use simulator::engine::Trigger;

use super::command::{CommandError, FlowProcess};
use super::sinks::Sinks;
use super::steps::harness_call;
use super::subscriptions::refused_subscriptions;
use super::tenant::{CaseTenantError, build_simulator};
use crate::flow::process::default_subscriptions;
use crate::scenario::{Expect, Scenario};

/// How long the subscriptions must stay unchanged to count as complete.
const STILL_FOR: Duration = Duration::from_millis(500);
/// How often the simulator is looked at while the flow subscribes.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// How long a flow whose subscription was refused gets to write about it to its stderr.
const STDERR_SETTLE: Duration = Duration::from_millis(200);
/// How long the discovery simulator's server gets to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Why the triggers of a command flow could not be discovered.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    Tenant(#[from] CaseTenantError),
    #[error("cannot serve the simulator for trigger discovery")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("the flow command exited ({status}) before subscribing; its stderr:\n{stderr}")]
    Exited { status: ExitStatus, stderr: String },
    #[error("{refused}; fix the subscription the flow sends{}", stderr_tail(.stderr))]
    Refused { refused: String, stderr: String },
}

/// `; its stderr ends:` and the last lines of a flow's stderr, or nothing when it is empty.
pub(super) fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(STDERR_LINES)..];
    format!("; its stderr ends:\n{}", tail.join("\n"))
}

/// How many lines of the flow's stderr a refusal shows.
const STDERR_LINES: usize = 10;

/// For a flow behind `url`: subscribes `url` to each of `triggers` on a small simulator, as every
/// case will, so that an address the API will not deliver to is one error before any case.
pub(super) fn check_url_subscriptions(url: &str, triggers: &[String]) -> Result<(), String> {
    let sim = build_simulator(&discovery_scenario(), None).map_err(|e| e.to_string())?;
    let ids: Vec<&str> = triggers.iter().map(String::as_str).collect();
    for sub in default_subscriptions(&ids) {
        let mut body = sub.inputs.clone();
        body.insert(
            "NotificationUrl".into(),
            serde_json::Value::String(url.to_owned()),
        );
        let r = harness_call(
            &sim,
            "POST",
            &format!("triggers/{}/subscriptions", sub.trigger),
            Some(serde_json::Value::Object(body)),
        );
        if r.status != 201 {
            return Err(format!(
                "the API refuses to subscribe --flow-url {url} to {} ({}): {}",
                sub.trigger,
                r.status,
                String::from_utf8_lossy(&r.bytes())
            ));
        }
    }
    Ok(())
}

/// Starts `command`, waits until its subscriptions stop changing (or `timeout` passes), stops
/// it, and returns the triggers it subscribed to, sorted.
pub(super) async fn discover_triggers(
    command: &str,
    sinks: &Sinks,
    timeout: Duration,
) -> Result<Vec<String>, DiscoveryError> {
    let ids: Vec<&str> = Trigger::ALL.iter().map(|t| t.id()).collect();
    let defaults = default_subscriptions(&ids);
    let sim = Arc::new(build_simulator(&discovery_scenario(), None)?);
    let server = simulator::server::start(sim.clone(), ([127, 0, 0, 1], 0).into())
        .await
        .map_err(DiscoveryError::Serve)?;
    let mut process = FlowProcess::start(command, &sim, &server.base_url(), sinks, &defaults)?;
    // Wait until the subscriptions stop changing (or the time is up).
    let started = Instant::now();
    let mut last = (0usize, Instant::now());
    while started.elapsed() < timeout {
        let n = sim.subscriptions().len();
        if n != last.0 {
            last = (n, Instant::now());
        } else if n > 0 && last.1.elapsed() > STILL_FOR {
            break;
        }
        if let Some(refused) = refused_subscriptions(&sim) {
            // Shown at once, with the API's answer and the flow's stderr: waiting longer would
            // not change the answer.
            tokio::time::sleep(STDERR_SETTLE).await;
            let stderr = process.stderr();
            process.stop().await;
            server.shutdown(SHUTDOWN_GRACE).await;
            return Err(DiscoveryError::Refused { refused, stderr });
        }
        if let Some(status) = process.exited() {
            let stderr = process.stderr();
            server.shutdown(SHUTDOWN_GRACE).await;
            return Err(DiscoveryError::Exited { status, stderr });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    process.stop().await;
    server.shutdown(SHUTDOWN_GRACE).await;
    let mut triggers: Vec<String> = sim
        .subscriptions()
        .iter()
        .map(|s| s.trigger.id().to_owned())
        .collect();
    triggers.sort();
    triggers.dedup();
    Ok(triggers)
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
        expect: Expect::default(),
    }
}
