//! A Power Automate or Logic Apps flow definition as an in-process [`Flow`]: the `flowdef`
//! runtime on the harness's [`FlowIo`] — the API in-process (each connection reference its own
//! bearer token), the sinks, and sleeps on virtual time.
//!
//! Turning the flow on subscribes with the trigger's inputs. A case's requested subscription
//! sets the workflow parameters the trigger's inputs are bound to (`"segmentName":
//! "@parameters('SegmentName')"`), as a deployment sets a flow's parameters; inputs written as
//! literals stay as the definition has them. When the case ends the flow is turned off: it
//! deletes its subscriptions, as Power Automate does. Its runs go to the case's transcript and
//! report as Power Automate's run history shows them ([`crate::history`]).
//!
//! A definition states what it is for — its trigger and inputs, where its effects go, what they
//! carry, the entity it exports — so its manifest is read from it ([`manifest_of`]) and the
//! behavioural checks apply to it as to any flow.
//!
//! [`FlowFactory::make`] is a plain `fn`, so that the reference flows are plain constants; a
//! definition loaded at run time is therefore registered in one of [`SLOTS`] slots of a table
//! ([`register`]), held while its [`Registered`] lives and freed when the last clone of it is
//! dropped. Registering more at once is refused with [`RegisterError::Full`].

use std::sync::{Arc, OnceLock};

use flowdef::{Engine, Host, LoadedFlow, OperationMap, Reply, RunOutcome, RunRecord, Sink};
use parking_lot::Mutex;
use serde_json::{Map, Value};
use simulator::SimDuration;
use simulator::engine::Trigger;

use super::{BoxFuture, Flow, FlowContext, FlowFactory, FlowIo};
use crate::history::{FlowAction, FlowRun};
use crate::manifest::{Destination, Handles, Manifest, echo_fields, inputs_of};
use crate::outcome::CaseResult;
use crate::scenario::SinkKind;

mod shipped;

pub use shipped::{SHIPPED, Shipped, shipped_snapshot_names};

/// [`FlowIo`] as the runtime's [`Host`].
struct IoHost {
    io: Arc<dyn FlowIo>,
}

impl Host for IoHost {
    fn api<'a>(
        &'a self,
        connection: &'a str,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> flowdef::BoxFuture<'a, Reply> {
        Box::pin(async move {
            let r = self.io.api_as(connection, method, path, body).await;
            Reply {
                status: r.status,
                retry_after_s: r.retry_after_s,
                location: r.location,
                body: r.body,
            }
        })
    }

    fn sink<'a>(&'a self, sink: Sink, body: Value) -> flowdef::BoxFuture<'a, u16> {
        self.io.sink(sink_kind(sink), body)
    }

    fn sleep<'a>(&'a self, ms: i64) -> flowdef::BoxFuture<'a, ()> {
        self.io.sleep(SimDuration::from_millis(ms.max(0)))
    }

    fn now_ms(&self) -> i64 {
        self.io.now().0
    }

    fn notification_url(&self) -> String {
        self.io.notification_url()
    }
}

fn sink_kind(sink: Sink) -> SinkKind {
    match sink {
        Sink::Teams => SinkKind::Teams,
        Sink::Email => SinkKind::Email,
        Sink::Http => SinkKind::Http,
    }
}

/// One flow definition running in-process, for one case.
pub struct DefinitionFlow {
    flow: Arc<LoadedFlow>,
    map: Arc<OperationMap>,
    trigger: &'static str,
    engine: OnceLock<Engine>,
}

impl DefinitionFlow {
    pub fn new(flow: Arc<LoadedFlow>, map: Arc<OperationMap>) -> DefinitionFlow {
        let id = flow
            .definition
            .trigger
            .as_ref()
            .map(|t| t.trigger_id.as_str())
            .unwrap_or_default();
        let trigger = Trigger::ALL
            .iter()
            .map(|t| t.id())
            .find(|t| *t == id)
            .unwrap_or("");
        DefinitionFlow {
            flow,
            map,
            trigger,
            engine: OnceLock::new(),
        }
    }

    fn engine(&self, ctx: &FlowContext) -> Result<&Engine, String> {
        if let Some(e) = self.engine.get() {
            return Ok(e);
        }
        let requested: Vec<Map<String, Value>> = ctx
            .requested
            .iter()
            .filter(|s| s.trigger == self.trigger)
            .map(|s| s.inputs.clone())
            .collect();
        let host = Arc::new(IoHost { io: ctx.io.clone() });
        let engine = Engine::new(self.flow.clone(), self.map.clone(), host, requested)
            .map_err(|e| e.to_string())?;
        Ok(self.engine.get_or_init(|| engine))
    }
}

impl Flow for DefinitionFlow {
    fn triggers(&self) -> Vec<&'static str> {
        if self.trigger.is_empty() {
            Vec::new()
        } else {
            vec![self.trigger]
        }
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Ok(engine) = self.engine(ctx) {
                engine.turn_on().await;
            }
        })
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            match self.engine(ctx) {
                Ok(engine) => engine.deliver(event).await,
                Err(_) => 500,
            }
        })
    }

    /// Turning the flow off deletes its subscriptions (`DELETE` of each `Location`).
    fn stop<'a>(&'a self, _ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(engine) = self.engine.get() {
                engine.turn_off().await;
            }
        })
    }

    fn take_runs(&self) -> Vec<FlowRun> {
        self.engine
            .get()
            .map(|e| e.take_history().iter().map(flow_run).collect())
            .unwrap_or_default()
    }
}

/// A run of the runtime as the harness's run history keeps it.
pub fn flow_run(r: &RunRecord) -> FlowRun {
    let (status, reason) = match &r.outcome {
        RunOutcome::Ran(s) => (s.as_str().to_owned(), None),
        RunOutcome::ConditionFalse => (
            "NotRun".to_owned(),
            Some("trigger condition false".to_owned()),
        ),
        RunOutcome::TriggerFailed(why) => ("NotRun".to_owned(), Some(why.clone())),
    };
    FlowRun {
        id: r.id.clone(),
        trigger: r.trigger.clone(),
        event: r.event_id.clone(),
        status,
        reason,
        start_ms: r.start_ms,
        end_ms: r.end_ms,
        actions: r
            .actions
            .iter()
            .map(|a| FlowAction {
                name: a.name.clone(),
                kind: a.kind.to_owned(),
                iteration: a.iteration.clone(),
                status: a.status.as_str().to_owned(),
                code: a.code,
                attempts: a.attempts,
                start_ms: a.start_ms,
                end_ms: a.end_ms,
                inputs: a.inputs.clone(),
                outputs: a.outputs.clone(),
                error: a.error.as_ref().map(message),
                note: a.note.clone(),
            })
            .collect(),
        error: r.error.as_ref().map(message),
        findings: r.findings(),
    }
}

/// An error's `message`, or the error as JSON.
fn message(e: &Value) -> String {
    match e.get("message") {
        Some(Value::String(m)) => m.clone(),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

/// The manifest a definition states: its trigger and the inputs it sets; where its effects go
/// (its Teams, Outlook and `Http` actions — an `Http` action to the Customer Insights API is a
/// call, not an effect); the trigger's names and numbers its effects carry as they are; the
/// entity it pages through, when it exports one. An error says why none can be read (no
/// effect, or effects at several destinations) and what to do.
pub fn manifest_of(flow: &LoadedFlow, map: &OperationMap) -> Result<Manifest, String> {
    let intent = flowdef::intent(flow, map)
        .ok_or_else(|| format!("the flow {} has no trigger insightsim runs", flow.name))?;
    let trigger = Trigger::parse(&intent.trigger).ok_or_else(|| {
        format!(
            "the flow {} subscribes to {}, which is not one of the six triggers",
            flow.name, intent.trigger
        )
    })?;
    let effect = match intent.sinks().as_slice() {
        [one] => match one {
            Sink::Teams => Destination::Teams,
            Sink::Email => Destination::Email,
            Sink::Http => Destination::Http,
        },
        [] => {
            return Err(format!(
                "the flow {} posts to no Teams channel, sends no e-mail and calls no HTTP endpoint, so where its effect goes cannot be read from it; give its manifest with --manifest FILE",
                flow.name
            ));
        }
        several => {
            let names: Vec<String> = intent
                .effects
                .iter()
                .map(|e| format!("{} ({:?})", e.action, e.sink).to_lowercase())
                .collect();
            return Err(format!(
                "the flow {} has effects at {} destinations ({}), so which one is its effect cannot be read from it; give its manifest with --manifest FILE",
                flow.name,
                several.len(),
                names.join(", ")
            ));
        }
    };
    let inputs: Vec<String> = inputs_of(trigger)
        .iter()
        .filter(|i| intent.inputs.iter().any(|d| d.eq_ignore_ascii_case(i)))
        .map(|i| (*i).to_owned())
        .collect();
    let fields = echo_fields(trigger);
    let echo: Vec<String> = intent
        .echo
        .iter()
        .filter(|f| fields.contains(&f.as_str()))
        .cloned()
        .collect();
    let manifest = Manifest {
        description: format!("read from the definition {}", flow.source),
        handles: vec![Handles {
            trigger: intent.trigger.clone(),
            inputs: Some(inputs),
            effect,
            echo,
            exports: intent.exports,
        }],
    };
    manifest.validate().map_err(|e| e.to_string())?;
    Ok(manifest)
}

/// A definition registered as a [`FlowFactory`], with the manifest read from it. Its slot is
/// held while it (or a clone) lives: use the factory only meanwhile.
#[derive(Debug, Clone)]
pub struct Registered {
    pub factory: FlowFactory,
    /// The manifest read from the definition ([`manifest_of`]), or why none could be.
    pub manifest: Result<Manifest, String>,
    /// Held for its `Drop`, which frees the slot.
    _slot: Arc<SlotGuard>,
}

/// How many definitions can be registered at once.
pub const SLOTS: usize = 32;

struct Slot {
    flow: Arc<LoadedFlow>,
    map: Arc<OperationMap>,
}

static REGISTRY: Mutex<[Option<Slot>; SLOTS]> = Mutex::new([const { None }; SLOTS]);

/// Frees its slot when dropped.
#[derive(Debug)]
struct SlotGuard(usize);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(slot) = REGISTRY.lock().get_mut(self.0) {
            *slot = None;
        }
    }
}

/// A flow whose definition is no longer registered: it handles nothing.
struct Released;

impl Flow for Released {
    fn triggers(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn on_event<'a>(&'a self, _ctx: &'a FlowContext, _event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async { 500 })
    }
}

fn make_slot(i: usize) -> Arc<dyn Flow> {
    let registry = REGISTRY.lock();
    match registry.get(i).and_then(Option::as_ref) {
        Some(s) => Arc::new(DefinitionFlow::new(s.flow.clone(), s.map.clone())),
        None => Arc::new(Released),
    }
}

macro_rules! makers {
    ($($i:literal)*) => {
        [$({
            fn make() -> Arc<dyn Flow> {
                make_slot($i)
            }
            make as fn() -> Arc<dyn Flow>
        }),*]
    };
}

const MAKERS: [fn() -> Arc<dyn Flow>; SLOTS] = makers!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
);

/// The one `&'static str` for each text: a [`FlowFactory`]'s names are static, and registering
/// the same definition again must not leak them again.
fn intern(text: &str) -> &'static str {
    static TEXTS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut texts = TEXTS.lock();
    if let Some(t) = texts.iter().find(|t| **t == text) {
        return t;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    texts.push(leaked);
    leaked
}

/// Why a definition cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("{0}")]
    NotRunnable(String),
    #[error(
        "more than {SLOTS} flow definitions registered at once; run them in several runs (each run frees its definitions when it ends)"
    )]
    Full,
}

/// Registers a loaded definition as a flow the harness can run in-process, named as the
/// definition names it. `broken` marks a deliberately broken definition (its real-world
/// mistake), as for the reference flows.
pub fn register(
    flow: LoadedFlow,
    map: Arc<OperationMap>,
    broken: Option<&str>,
) -> Result<Registered, RegisterError> {
    let name = flow.name.clone();
    register_as(flow, &name, map, broken)
}

/// [`register`], named `name` in reports and snapshot files.
pub fn register_as(
    flow: LoadedFlow,
    name: &str,
    map: Arc<OperationMap>,
    broken: Option<&str>,
) -> Result<Registered, RegisterError> {
    if !flow.is_runnable() {
        let reasons: Vec<String> = flow
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        return Err(RegisterError::NotRunnable(format!(
            "the flow {} ({}) cannot run: {}; `insightsim definition check` lists every problem",
            flow.name,
            flow.source,
            if reasons.is_empty() {
                "it has no trigger insightsim runs".to_owned()
            } else {
                reasons.join("; ")
            }
        )));
    }
    let manifest = manifest_of(&flow, &map);
    let description = intern(&format!(
        "flow definition {} ({})",
        flow.source, flow.format
    ));
    let slot = Slot {
        flow: Arc::new(flow),
        map,
    };
    let i = {
        let mut registry = REGISTRY.lock();
        let i = registry
            .iter()
            .position(Option::is_none)
            .ok_or(RegisterError::Full)?;
        registry[i] = Some(slot);
        i
    };
    Ok(Registered {
        factory: FlowFactory {
            name: intern(name),
            description,
            broken: broken.map(intern),
            make: MAKERS[i],
        },
        manifest,
        _slot: Arc::new(SlotGuard(i)),
    })
}

/// A case's failure explained for a flow maker: what the case required and what the flow did,
/// naming the actions (a loop that stopped at its limit, a call that gave up, ...), from the run
/// history in the case's result.
pub fn explain(result: &CaseResult) -> String {
    let mut out = format!("{} — {}\n", result.id, result.requirement);
    for f in &result.failures {
        out += &format!(
            "  required: {}\n  happened: {}  [{}]\n",
            f.expected, f.actual, f.check
        );
    }
    let findings: Vec<String> = result
        .runs
        .iter()
        .flat_map(|r| {
            let event = r.event.as_deref().unwrap_or("-");
            r.findings
                .iter()
                .map(move |f| format!("{} (event {event}): {f}", r.id))
        })
        .collect();
    if findings.is_empty() {
        out += "  the flow's runs: ";
        out += &result
            .runs
            .iter()
            .map(|r| format!("{} {}", r.id, r.status))
            .collect::<Vec<_>>()
            .join(", ");
        out.push('\n');
    } else {
        out += "  what the flow did:\n";
        for f in findings.iter().take(12) {
            out += &format!("    {f}\n");
        }
        if findings.len() > 12 {
            out += &format!("    … and {} more\n", findings.len() - 12);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teams() -> LoadedFlow {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../flows/definitions/teams-on-refresh-failure.json");
        flowdef::load(&path).unwrap().remove(0)
    }

    /// Registration holds a slot while the [`Registered`] lives: more than [`SLOTS`] at once is
    /// a clear error, and dropping one frees its slot. (No other unit test registers.)
    #[test]
    fn registering_more_definitions_than_slots_at_once_is_refused_and_dropping_frees_a_slot() {
        let map = Arc::new(OperationMap::built_in());
        let flow = teams();
        let mut held = Vec::new();
        for _ in 0..SLOTS {
            held.push(register(flow.clone(), map.clone(), None).unwrap());
        }
        let err = register(flow.clone(), map.clone(), None).unwrap_err();
        assert_eq!(err, RegisterError::Full);
        assert!(
            err.to_string()
                .starts_with("more than 32 flow definitions registered at once"),
            "{err}"
        );
        let last = held.pop().unwrap();
        let (name, make) = (last.factory.name, last.factory.make);
        drop(last);
        assert!((make)().triggers().is_empty(), "a freed slot makes nothing");
        let again = register(flow, map, None).unwrap();
        assert!(
            std::ptr::eq(again.factory.name, name),
            "the name is not leaked again"
        );
        assert_eq!(
            (again.factory.make)().triggers(),
            ["datasource-refresh-failed"]
        );
    }
}
