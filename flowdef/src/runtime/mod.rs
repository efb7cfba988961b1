//! Running a loaded flow on a [`Host`]: turning it on (subscribing with the trigger's inputs),
//! handling deliveries (trigger conditions, `splitOn`, run concurrency), running the actions,
//! and keeping the run history.

mod data;
mod history;
mod io;
mod run;
mod sched;
mod scope;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{Map, Value, json};

pub use history::{ActionRecord, RunOutcome, RunRecord};
pub(crate) use io::api_path_of;

use crate::expr::FixedScope;
use crate::expr::value::as_bool;
use crate::host::{Host, Reply};
use crate::load::LoadedFlow;
use crate::model::{Status, Trigger};
use crate::operations::OperationMap;
use run::{Ctx, RunShared, exec_level};
use sched::Lane;

/// A JSON object from pairs, moving the values (`json!` would serialize each `Value` again).
pub(crate) fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// What every run of a flow shares.
pub(crate) struct EngineShared {
    pub(crate) flow: Arc<LoadedFlow>,
    /// A stable id for `workflow()`: the flow's name as an identifier.
    pub(crate) flow_id: String,
    pub(crate) map: Arc<OperationMap>,
    pub(crate) host: Arc<dyn Host>,
    /// Declared defaults, overlaid with values given outside the definition and the
    /// subscription's inputs bound to parameters.
    pub(crate) parameters: Map<String, Value>,
}

/// Why a flow cannot be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the flow {name} cannot run: {reasons}")]
pub struct NotRunnable {
    pub name: String,
    pub reasons: String,
}

#[derive(Debug, Default)]
struct Gate {
    running: u32,
    queue: VecDeque<Value>,
}

/// A flow turned on against a host.
pub struct Engine {
    shared: Arc<EngineShared>,
    /// Input sets to subscribe with (one subscription each).
    requested: Vec<Map<String, Value>>,
    locations: Mutex<Vec<String>>,
    history: Mutex<Vec<RunRecord>>,
    runs: AtomicU64,
    gate: Mutex<Gate>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("flow", &self.shared.flow.name)
            .finish_non_exhaustive()
    }
}

fn ident(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Engine {
    /// Prepares `flow` on `host`. `requested` are the subscriptions to make when it is turned
    /// on, as input sets (`{"segmentName": ..., "threshold": ...}`): an input the trigger binds
    /// to a parameter (`@parameters('Segment')`) sets that parameter, as a deployment does;
    /// other inputs are the definition's own. With no set, it subscribes once, as defined.
    pub fn new(
        flow: Arc<LoadedFlow>,
        map: Arc<OperationMap>,
        host: Arc<dyn Host>,
        requested: Vec<Map<String, Value>>,
    ) -> Result<Engine, NotRunnable> {
        if !flow.is_runnable() {
            let reasons = if flow.problems.is_empty() {
                "it has no trigger insightsim can run".to_owned()
            } else {
                flow.problems
                    .iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(NotRunnable {
                name: flow.name.clone(),
                reasons,
            });
        }
        let mut parameters = Map::new();
        for (k, v) in &flow.definition.parameters {
            parameters.insert(k.clone(), v.clone());
        }
        for (k, v) in &flow.parameter_values {
            parameters.insert(k.clone(), v.clone());
        }
        if let (Some(trigger), Some(first)) = (&flow.definition.trigger, requested.first()) {
            bind(&mut parameters, trigger, first);
        }
        Ok(Engine {
            shared: Arc::new(EngineShared {
                flow_id: ident(&flow.name),
                flow,
                map,
                host,
                parameters,
            }),
            requested,
            locations: Mutex::new(Vec::new()),
            history: Mutex::new(Vec::new()),
            runs: AtomicU64::new(0),
            gate: Mutex::new(Gate::default()),
        })
    }

    fn trigger(&self) -> &Trigger {
        // `new` refuses a flow without a runnable trigger.
        match &self.shared.flow.definition.trigger {
            Some(t) => t,
            None => unreachable!("Engine::new checks the trigger"),
        }
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.shared.flow.name
    }

    /// The simulator trigger id the flow subscribes to.
    pub fn trigger_id(&self) -> &str {
        &self.trigger().trigger_id
    }

    /// Turns the flow on: one subscription per requested input set, with `NotificationUrl`.
    /// Returns the API's answers.
    pub async fn turn_on(&self) -> Vec<Reply> {
        let trigger = self.trigger();
        let sets = if self.requested.is_empty() {
            vec![Map::new()]
        } else {
            self.requested.clone()
        };
        let mut replies = Vec::new();
        for set in sets {
            let mut params = self.shared.parameters.clone();
            bind(&mut params, trigger, &set);
            let scope = FixedScope {
                parameters: params.into_iter().collect(),
                now_ms: self.shared.host.now_ms(),
                ..FixedScope::default()
            };
            let mut body = Map::new();
            let mut failed = None;
            for (k, t) in &trigger.inputs {
                match t.eval(&scope) {
                    Ok(Value::Null) => {}
                    Ok(v) => {
                        body.insert(k.clone(), v);
                    }
                    Err(e) => failed = Some(e.to_string()),
                }
            }
            if let Some(message) = failed {
                replies.push(Reply {
                    status: 0,
                    retry_after_s: None,
                    location: None,
                    body: json!({"error": {"message": message}}),
                });
                continue;
            }
            body.insert(
                "NotificationUrl".to_owned(),
                Value::String(self.shared.host.notification_url()),
            );
            let path = format!("triggers/{}/subscriptions", trigger.trigger_id);
            let reply = self
                .shared
                .host
                .api(
                    &trigger.connection,
                    "POST",
                    &path,
                    Some(Value::Object(body)),
                )
                .await;
            if let Some(loc) = &reply.location {
                self.locations.lock().push(loc.clone());
            }
            replies.push(reply);
        }
        replies
    }

    /// Turns the flow off: deletes its subscriptions.
    pub async fn turn_off(&self) -> Vec<Reply> {
        let locations = std::mem::take(&mut *self.locations.lock());
        let mut replies = Vec::new();
        for loc in locations {
            replies.push(
                self.shared
                    .host
                    .api(&self.trigger().connection, "DELETE", &loc, None)
                    .await,
            );
        }
        replies
    }

    /// Handles one delivery: starts a run per trigger output (one, or one per `splitOn` item)
    /// whose conditions hold; returns the status the flow's endpoint answers (`202`, or the
    /// status of a `Response` action).
    pub async fn deliver(&self, event: Value) -> u16 {
        let trigger = self.trigger();
        let items = match &trigger.split_on {
            None => vec![event],
            Some(t) => {
                let scope = self.trigger_scope(&event);
                match t.eval(&scope) {
                    Ok(Value::Array(items)) => items,
                    Ok(other) => {
                        self.record_not_run(
                            &event,
                            RunOutcome::TriggerFailed(format!(
                                "splitOn must give an array, but gives {}",
                                crate::expr::value::type_name(&other)
                            )),
                        );
                        return 202;
                    }
                    Err(e) => {
                        self.record_not_run(
                            &event,
                            RunOutcome::TriggerFailed(format!("splitOn failed: {e}")),
                        );
                        return 202;
                    }
                }
            }
        };
        let mut answer = 202;
        for body in items {
            match self.conditions_hold(&body) {
                Ok(true) => {}
                Ok(false) => {
                    self.record_not_run(&body, RunOutcome::ConditionFalse);
                    continue;
                }
                Err(e) => {
                    self.record_not_run(
                        &body,
                        RunOutcome::TriggerFailed(format!("a trigger condition failed: {e}")),
                    );
                    continue;
                }
            }
            if let Some(limit) = trigger.concurrency {
                let mut gate = self.gate.lock();
                if gate.running >= limit {
                    // The platform queues the run; the run ahead of it starts it when done.
                    gate.queue.push_back(body);
                    continue;
                }
                gate.running += 1;
            }
            if let Some(code) = self.run(body).await {
                answer = code;
            }
            if trigger.concurrency.is_some() {
                loop {
                    let next = {
                        let mut gate = self.gate.lock();
                        let next = gate.queue.pop_front();
                        if next.is_none() {
                            gate.running = gate.running.saturating_sub(1);
                        }
                        next
                    };
                    match next {
                        Some(b) => {
                            self.run(b).await;
                        }
                        None => break,
                    }
                }
            }
        }
        answer
    }

    fn trigger_scope(&self, body: &Value) -> FixedScope {
        FixedScope {
            trigger: object([
                ("name", Value::String(self.trigger().name.clone())),
                (
                    "outputs",
                    object([("headers", json!({})), ("body", body.clone())]),
                ),
                ("status", Value::String("Succeeded".to_owned())),
            ]),
            parameters: self.shared.parameters.clone().into_iter().collect(),
            now_ms: self.shared.host.now_ms(),
            ..FixedScope::default()
        }
    }

    fn conditions_hold(&self, body: &Value) -> Result<bool, String> {
        let scope = self.trigger_scope(body);
        for c in &self.trigger().conditions {
            let v = c.eval(&scope).map_err(|e| e.to_string())?;
            match as_bool(&v) {
                Some(true) => {}
                Some(false) => return Ok(false),
                None => {
                    return Err(format!(
                        "the condition gives {}, not a boolean",
                        crate::expr::value::type_name(&v)
                    ));
                }
            }
        }
        Ok(true)
    }

    fn next_id(&self) -> String {
        format!("run{}", self.runs.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record_not_run(&self, body: &Value, outcome: RunOutcome) {
        let now = self.shared.host.now_ms();
        let id = self.next_id();
        self.history.lock().push(RunRecord {
            id,
            trigger: self.trigger().name.clone(),
            event_id: body
                .get("eventId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            trigger_body: body.clone(),
            outcome,
            start_ms: now,
            end_ms: now,
            actions: Vec::new(),
            error: None,
        });
    }

    /// One run; returns the status of its `Response` action, if it had one.
    async fn run(&self, body: Value) -> Option<u16> {
        let id = self.next_id();
        let event_id = body
            .get("eventId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let seed = fnv(&[
            &self.shared.flow.name,
            &id,
            event_id.as_deref().unwrap_or(""),
        ]);
        let run = RunShared::new(
            self.shared.clone(),
            id.clone(),
            self.trigger().name.clone(),
            body.clone(),
            seed,
        );
        let start = self.shared.host.now_ms();
        let ctx = Ctx {
            frames: Vec::new(),
            lane: Lane::Top,
        };
        let level = exec_level(&run, &self.shared.flow.definition.actions, &ctx).await;
        let mut records = run.take_records();
        // The first action to fail (in the order they ended) is the one that failed the run.
        let (status, error) = match run.terminated() {
            Some((s, e)) => (s, e),
            None => {
                let error = (level == Status::Failed)
                    .then(|| {
                        records
                            .iter()
                            .find(|r| matches!(r.status, Status::Failed | Status::TimedOut))
                            .and_then(|r| r.error.clone())
                    })
                    .flatten();
                (level, error)
            }
        };
        records.sort_by_key(|r| r.started);
        let response = run.response();
        self.history.lock().push(RunRecord {
            id,
            trigger: self.trigger().name.clone(),
            event_id,
            trigger_body: body,
            outcome: RunOutcome::Ran(status),
            start_ms: start,
            end_ms: self.shared.host.now_ms(),
            actions: records,
            error,
        });
        response
    }

    /// Every run so far, in the order they ended (skipped deliveries included).
    pub fn history(&self) -> Vec<RunRecord> {
        self.history.lock().clone()
    }

    /// Takes the runs recorded since the last take (cheaper than `history` for a caller that
    /// keeps them itself).
    pub fn take_history(&self) -> Vec<RunRecord> {
        std::mem::take(&mut *self.history.lock())
    }
}

/// Sets the parameters that trigger inputs are bound to from a requested input set.
fn bind(parameters: &mut Map<String, Value>, trigger: &Trigger, set: &Map<String, Value>) {
    for (input, param) in trigger.parameter_bindings() {
        if let Some((_, v)) = set.iter().find(|(k, _)| k.eq_ignore_ascii_case(&input)) {
            parameters.insert(param, v.clone());
        }
    }
}
