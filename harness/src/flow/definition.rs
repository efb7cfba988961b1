//! A Power Automate or Logic Apps flow definition as an in-process [`Flow`]: the `flowdef`
//! runtime on the harness's [`FlowIo`] — the API in-process (each connection reference its own
//! bearer token), the sinks, and sleeps on virtual time.
//!
//! Turning the flow on subscribes with the trigger's inputs. A case's requested subscription
//! sets the workflow parameters the trigger's inputs are bound to (`"segmentName":
//! "@parameters('SegmentName')"`), as a deployment sets a flow's parameters; inputs written as
//! literals stay as the definition has them.
//!
//! [`FlowFactory::make`] is a plain `fn`, so a definition loaded at run time is registered in a
//! slot of a fixed table ([`register`]); registering the same file again reuses its slot.

use std::sync::{Arc, OnceLock};

use flowdef::{Engine, Host, LoadedFlow, OperationMap, Reply, RunRecord, Sink};
use parking_lot::Mutex;
use serde_json::{Map, Value};
use simulator::SimDuration;

use super::{BoxFuture, Flow, FlowContext, FlowFactory, FlowIo};
use crate::outcome::CaseResult;
use crate::scenario::SinkKind;

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
        let kind = match sink {
            Sink::Teams => SinkKind::Teams,
            Sink::Email => SinkKind::Email,
            Sink::Http => SinkKind::Http,
        };
        self.io.sink(kind, body)
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

/// The run histories of the flows a registered definition made, newest last.
#[derive(Debug, Clone, Default)]
pub struct RunLog(Arc<Mutex<Vec<RunRecord>>>);

impl RunLog {
    /// Takes every run recorded so far (a case's runs, when taken after each case).
    pub fn take(&self) -> Vec<RunRecord> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// One flow definition running in-process, for one case.
pub struct DefinitionFlow {
    flow: Arc<LoadedFlow>,
    map: Arc<OperationMap>,
    trigger: &'static str,
    engine: OnceLock<Engine>,
    log: RunLog,
}

impl DefinitionFlow {
    pub fn new(flow: Arc<LoadedFlow>, map: Arc<OperationMap>, log: RunLog) -> DefinitionFlow {
        let id = flow
            .definition
            .trigger
            .as_ref()
            .map(|t| t.trigger_id.as_str())
            .unwrap_or_default();
        let trigger = simulator::engine::Trigger::ALL
            .iter()
            .map(|t| t.id())
            .find(|t| *t == id)
            .unwrap_or("");
        DefinitionFlow {
            flow,
            map,
            trigger,
            engine: OnceLock::new(),
            log,
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

    fn publish(&self, engine: &Engine) {
        self.log.0.lock().extend(engine.take_history());
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
            let Ok(engine) = self.engine(ctx) else {
                return 500;
            };
            let status = engine.deliver(event).await;
            self.publish(engine);
            status
        })
    }
}

/// A definition registered as a [`FlowFactory`], and where its runs are logged.
#[derive(Debug, Clone)]
pub struct Registered {
    pub factory: FlowFactory,
    pub runs: RunLog,
}

struct Slot {
    key: String,
    flow: Arc<LoadedFlow>,
    map: Arc<OperationMap>,
    log: RunLog,
}

/// How many definitions one process can register.
pub const SLOTS: usize = 32;

static REGISTRY: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

fn make_slot(i: usize) -> Arc<dyn Flow> {
    let registry = REGISTRY.lock();
    match registry.get(i) {
        Some(s) => Arc::new(DefinitionFlow::new(
            s.flow.clone(),
            s.map.clone(),
            s.log.clone(),
        )),
        // Unreachable through `register`, which hands out only filled slots.
        None => Arc::new(DefinitionFlow::new(
            Arc::new(LoadedFlow {
                name: String::new(),
                source: String::new(),
                format: flowdef::Format::BareDefinition,
                definition: Default::default(),
                connections: Default::default(),
                parameter_values: Default::default(),
                problems: Vec::new(),
            }),
            Arc::new(OperationMap::default()),
            RunLog::default(),
        )),
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

/// Why a definition cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("{0}")]
    NotRunnable(String),
    #[error("more than {SLOTS} flow definitions in one run; run them in several runs")]
    Full,
}

/// Registers a loaded definition as a flow the harness can run in-process. `broken` marks a
/// deliberately broken definition (its real-world mistake), as for the reference flows.
pub fn register(
    flow: LoadedFlow,
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
            "the flow {} ({}) cannot run: {}",
            flow.name,
            flow.source,
            if reasons.is_empty() {
                "it has no trigger insightsim runs".to_owned()
            } else {
                reasons.join("; ")
            }
        )));
    }
    let key = format!("{}\n{}", flow.source, flow.name);
    let name: &'static str = Box::leak(flow.name.clone().into_boxed_str());
    let description: &'static str =
        Box::leak(format!("flow definition {} ({})", flow.source, flow.format).into_boxed_str());
    let broken: Option<&'static str> = broken.map(|b| &*Box::leak(b.to_owned().into_boxed_str()));
    let mut registry = REGISTRY.lock();
    let log = RunLog::default();
    let slot = Slot {
        key: key.clone(),
        flow: Arc::new(flow),
        map,
        log: log.clone(),
    };
    let i = match registry.iter().position(|s| s.key == key) {
        Some(i) => {
            registry[i] = slot;
            i
        }
        None if registry.len() < SLOTS => {
            registry.push(slot);
            registry.len() - 1
        }
        None => return Err(RegisterError::Full),
    };
    Ok(Registered {
        factory: FlowFactory {
            name,
            description,
            broken,
            make: MAKERS[i],
        },
        runs: log,
    })
}

/// A case's failure explained for a flow maker: what the case required and what the flow did,
/// naming the actions (a loop that stopped at its limit, a call that gave up, ...).
pub fn explain(result: &CaseResult, runs: &[RunRecord]) -> String {
    let mut out = format!("{} — {}\n", result.id, result.requirement);
    for f in &result.failures {
        out += &format!(
            "  required: {}\n  happened: {}  [{}]\n",
            f.expected, f.actual, f.check
        );
    }
    let findings: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.findings().into_iter().map(move |f| {
                format!(
                    "{} (event {}): {f}",
                    r.id,
                    r.event_id.as_deref().unwrap_or("-")
                )
            })
        })
        .collect();
    if findings.is_empty() {
        out += "  the flow's runs: ";
        out += &runs
            .iter()
            .map(|r| format!("{} {:?}", r.id, r.outcome))
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
