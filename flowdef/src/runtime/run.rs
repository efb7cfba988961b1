//! One run: the action graph level by level (`runAfter`), control flow, variables, data
//! operations, and the run's state that expressions read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::data;
use super::history::ActionRecord;
use super::io;
use super::sched::{Group, Lane};
use super::scope::RunScope;
use super::{EngineShared, object};
use crate::expr;
use crate::expr::value::{Num, as_bool, loose_eq, to_text, type_name};
use crate::host::BoxFuture;
use crate::model::{Action, ActionKind, Actions, Cond, Status, Tmpl, VariableDecl, walk};

/// A `Foreach` items limit (Power Automate's and Logic Apps' documented 100,000).
const FOREACH_ITEMS_MAX: usize = 100_000;

/// One loop around the code being run.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) name: String,
    /// The current item of a `Foreach` (`None` in an `Until`).
    pub(crate) item: Option<Value>,
    pub(crate) index: usize,
    /// Whether the loop runs one iteration at a time (an `Until`, a sequential `Foreach`).
    pub(crate) sequential: bool,
}

/// Where a piece of the run executes: inside which loops, on which lane.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) frames: Vec<Frame>,
    pub(crate) lane: Lane,
}

#[derive(Debug, Clone)]
struct Variable {
    name: String,
    ty: String,
    value: Value,
}

#[derive(Debug, Default)]
struct RunState {
    records: Vec<ActionRecord>,
    /// Action name → indexes into `records`, in completion order.
    results: BTreeMap<String, Vec<usize>>,
    variables: BTreeMap<String, Variable>,
    terminated: Option<(Status, Option<Value>)>,
    response: Option<u16>,
}

/// The shared state of a run.
pub(crate) struct RunShared {
    pub(crate) engine: Arc<EngineShared>,
    pub(crate) id: String,
    pub(crate) trigger_name: String,
    pub(crate) trigger_body: Value,
    state: Mutex<RunState>,
    rng: AtomicU64,
    /// Actions started so far (each execution's [`ActionRecord::started`]).
    started: AtomicU64,
}

/// What an action did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) status: Option<Status>,
    pub(crate) code: Option<u16>,
    pub(crate) inputs: Value,
    pub(crate) outputs: Value,
    pub(crate) error: Option<Value>,
    pub(crate) attempts: u32,
    pub(crate) note: Option<String>,
}

impl Outcome {
    pub(crate) fn ok(inputs: Value, outputs: Value) -> Outcome {
        Outcome {
            status: Some(Status::Succeeded),
            inputs,
            outputs,
            ..Outcome::default()
        }
    }

    pub(crate) fn failed(code: &str, message: impl Into<String>) -> Outcome {
        Outcome {
            status: Some(Status::Failed),
            error: Some(json!({"code": code, "message": message.into()})),
            ..Outcome::default()
        }
    }

    fn with_inputs(mut self, inputs: Value) -> Outcome {
        self.inputs = inputs;
        self
    }
}

/// SplitMix64: a small, well-spread deterministic generator.
pub(crate) fn splitmix(state: &AtomicU64) -> u64 {
    let mut z = state
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RunShared {
    pub(crate) fn new(
        engine: Arc<EngineShared>,
        id: String,
        trigger_name: String,
        trigger_body: Value,
        seed: u64,
    ) -> RunShared {
        RunShared {
            engine,
            id,
            trigger_name,
            trigger_body,
            state: Mutex::new(RunState::default()),
            rng: AtomicU64::new(seed),
            started: AtomicU64::new(0),
        }
    }

    /// Numbers an action execution as it starts.
    fn next_start(&self) -> u64 {
        self.started.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_random(&self) -> u64 {
        splitmix(&self.rng)
    }

    pub(crate) fn trigger_record(&self) -> Value {
        object([
            ("name", Value::String(self.trigger_name.clone())),
            ("inputs", json!({})),
            (
                "outputs",
                object([
                    ("headers", json!({"Content-Type": "application/json"})),
                    ("body", self.trigger_body.clone()),
                ]),
            ),
            ("status", Value::String("Succeeded".to_owned())),
        ])
    }

    /// The records of the run, taken (at its end), in the order the actions ended.
    pub(crate) fn take_records(&self) -> Vec<ActionRecord> {
        std::mem::take(&mut self.state.lock().records)
    }

    /// Lends `outputs('X')` (or `body('X')`) to `f` under the run's lock, without a copy.
    pub(crate) fn peek_part(
        &self,
        name: &str,
        iteration: &[usize],
        body: bool,
        f: &mut dyn FnMut(Result<&Value, String>),
    ) {
        {
            let state = self.state.lock();
            if let Some(list) = state.results.get(name) {
                let same = list.iter().rev().find(|&&i| {
                    let p = &state.records[i].iteration;
                    p.len() <= iteration.len() && p[..] == iteration[..p.len()]
                });
                if let Some(&i) = same.or(list.last()) {
                    let outputs = &state.records[i].outputs;
                    if !body {
                        return f(Ok(outputs));
                    }
                    return match outputs.get("body") {
                        Some(b) if outputs.is_object() => f(Ok(b)),
                        _ => f(Err(format!(
                            "action '{name}' has no body; use outputs('{name}')"
                        ))),
                    };
                }
            }
        }
        let v = self.action_part(name, iteration, body);
        f(v.as_ref().map_err(Clone::clone));
    }

    /// `outputs('X')` (or `body('X')` with `body`), cloning only that part of the record.
    pub(crate) fn action_part(
        &self,
        name: &str,
        iteration: &[usize],
        body: bool,
    ) -> Result<Value, String> {
        {
            let state = self.state.lock();
            if let Some(list) = state.results.get(name) {
                let same = list.iter().rev().find(|&&i| {
                    let p = &state.records[i].iteration;
                    p.len() <= iteration.len() && p[..] == iteration[..p.len()]
                });
                if let Some(&i) = same.or(list.last()) {
                    let outputs = &state.records[i].outputs;
                    if !body {
                        return Ok(outputs.clone());
                    }
                    return match outputs.get("body") {
                        Some(b) if outputs.is_object() => Ok(b.clone()),
                        _ => Err(format!(
                            "action '{name}' has no body; use outputs('{name}')"
                        )),
                    };
                }
            }
        }
        // Not run yet, or named in another case: the general path says why.
        let record = self.action_value(name, iteration)?;
        let outputs = record.get("outputs").cloned().unwrap_or(Value::Null);
        if !body {
            return Ok(outputs);
        }
        outputs
            .get("body")
            .cloned()
            .ok_or_else(|| format!("action '{name}' has no body; use outputs('{name}')"))
    }

    pub(crate) fn terminated(&self) -> Option<(Status, Option<Value>)> {
        self.state.lock().terminated.clone()
    }

    pub(crate) fn response(&self) -> Option<u16> {
        self.state.lock().response
    }

    /// `actions('X')` from `iteration`: the execution in the same iteration of the loops they
    /// share, else the latest one.
    pub(crate) fn action_value(&self, name: &str, iteration: &[usize]) -> Result<Value, String> {
        let state = self.state.lock();
        let found = state
            .results
            .get(name)
            .or_else(|| {
                state
                    .results
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .and_then(|list| {
                let same = list.iter().rev().find(|&&i| {
                    let p = &state.records[i].iteration;
                    p.len() <= iteration.len() && p[..] == iteration[..p.len()]
                });
                same.or(list.last()).map(|&i| state.records[i].to_value())
            });
        match found {
            Some(v) => Ok(v),
            None => {
                let mut all = Vec::new();
                walk(&self.engine.flow.definition.actions, &mut all);
                if all.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
                    Err(format!(
                        "the action '{name}' has not run yet at this point (check the runAfter of the action reading it)"
                    ))
                } else {
                    Err(format!(
                        "the action '{name}' does not exist in the definition"
                    ))
                }
            }
        }
    }

    /// `result('Scope')`: the latest records of the actions directly inside it.
    pub(crate) fn result_of(&self, scope: &str, iteration: &[usize]) -> Result<Value, String> {
        let mut all = Vec::new();
        walk(&self.engine.flow.definition.actions, &mut all);
        let Some(action) = all.iter().find(|a| a.name == scope) else {
            return Err(format!("result('{scope}'): no scope or loop of that name"));
        };
        let children: Vec<&String> = action
            .kind
            .children()
            .into_iter()
            .flat_map(|level| level.keys())
            .collect();
        if children.is_empty() {
            return Err(format!(
                "result('{scope}'): '{scope}' is not a scope, branch or loop"
            ));
        }
        let state = self.state.lock();
        let mut out = Vec::new();
        for name in children {
            if let Some(list) = state.results.get(name.as_str()) {
                let pick = list
                    .iter()
                    .rev()
                    .find(|&&i| state.records[i].iteration.starts_with(iteration))
                    .or(list.last());
                if let Some(&i) = pick {
                    out.push(state.records[i].to_value());
                }
            }
        }
        Ok(Value::Array(out))
    }

    pub(crate) fn variable(&self, name: &str) -> Result<Value, String> {
        let state = self.state.lock();
        match state.variables.get(&name.to_ascii_lowercase()) {
            Some(v) => Ok(v.value.clone()),
            None => {
                let known: Vec<&str> = state.variables.values().map(|v| v.name.as_str()).collect();
                Err(format!(
                    "the variable '{name}' is not initialized; initialized variables: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            }
        }
    }

    /// Records an execution. Inside a loop whose iterations run one at a time, the previous
    /// iteration's execution of the same action keeps its status and timing, but its large
    /// arrays are summarized: expressions now read the new execution, and a long export would
    /// otherwise hold every page it fetched. (Concurrent iterations keep everything: one may
    /// still read its own execution.)
    fn push(&self, record: ActionRecord, sequential: bool) {
        let mut state = self.state.lock();
        let i = state.records.len();
        let list = state.results.entry(record.name.clone()).or_default();
        let previous = list.last().copied();
        list.push(i);
        if let Some(p) = previous
            && sequential
        {
            let old = &mut state.records[p];
            let (a, b) = (&old.iteration, &record.iteration);
            if a.len() == b.len() && !a.is_empty() && a[..a.len() - 1] == b[..b.len() - 1] {
                summarize(&mut old.inputs, 0);
                summarize(&mut old.outputs, 0);
            }
        }
        state.records.push(record);
    }

    fn is_terminated(&self) -> bool {
        self.state.lock().terminated.is_some()
    }
}

/// Arrays longer than this in a superseded record are replaced by a count.
const KEPT_ITEMS_MAX: usize = 20;

fn summarize(v: &mut Value, depth: usize) {
    match v {
        Value::Array(a) if a.len() > KEPT_ITEMS_MAX => {
            *v = Value::String(format!("[{} items, not kept in the run history]", a.len()));
        }
        Value::Array(a) if depth < 4 => a.iter_mut().for_each(|x| summarize(x, depth + 1)),
        Value::Object(o) if depth < 4 => o.values_mut().for_each(|x| summarize(x, depth + 1)),
        _ => {}
    }
}

/// Evaluates a value of the definition where `ctx` is.
pub(crate) fn eval(run: &RunShared, ctx: &Ctx, t: &Tmpl) -> Result<Value, String> {
    let scope = RunScope {
        run,
        frames: &ctx.frames,
        element: None,
    };
    t.eval(&scope).map_err(|e| e.to_string())
}

fn eval_cond(run: &RunShared, ctx: &Ctx, c: &Cond) -> Result<Value, String> {
    match c {
        Cond::Value(t) => eval(run, ctx, t),
        Cond::Op { op, args } => {
            let scope = RunScope {
                run,
                frames: &ctx.frames,
                element: None,
            };
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(eval_cond(run, ctx, a)?);
            }
            let lower = op.to_ascii_lowercase();
            expr::eval(
                &expr::Expr::Call {
                    name: op.clone(),
                    args: values.into_iter().map(literal).collect(),
                },
                &scope,
            )
            .map_err(|e| format!("{e} (in the condition's {lower})"))
        }
    }
}

/// A value as an expression literal (to apply a function to already evaluated arguments).
fn literal(v: Value) -> expr::Expr {
    match v {
        Value::Null => expr::Expr::Null,
        Value::Bool(b) => expr::Expr::Bool(b),
        Value::Number(n) => match Num::of(&Value::Number(n)) {
            Some(Num::Int(i)) => expr::Expr::Int(i),
            Some(Num::Float(x)) => expr::Expr::Float(x),
            None => expr::Expr::Null,
        },
        Value::String(s) => expr::Expr::Str(s),
        other => expr::Expr::Call {
            name: "json".to_owned(),
            args: vec![expr::Expr::Str(other.to_string())],
        },
    }
}

fn truth(v: &Value, what: &str) -> Result<bool, String> {
    as_bool(v).ok_or_else(|| format!("{what} must be a boolean, got {}", type_name(v)))
}

/// Runs one level of actions by their `runAfter` graph; returns the level's status.
pub(crate) fn exec_level<'a>(
    run: &'a RunShared,
    level: &'a Actions,
    ctx: &'a Ctx,
) -> BoxFuture<'a, Status> {
    Box::pin(async move {
        let mut statuses: BTreeMap<&str, Status> = BTreeMap::new();
        loop {
            if run.is_terminated() {
                break;
            }
            let mut ready: Vec<&Action> = Vec::new();
            let mut skipped_any = false;
            for a in level.values() {
                if statuses.contains_key(a.name.as_str()) {
                    continue;
                }
                let preds: Vec<(Status, &Vec<Status>)> = a
                    .run_after
                    .iter()
                    .filter(|(p, _)| level.contains_key(p))
                    .filter_map(|(p, allowed)| statuses.get(p.as_str()).map(|s| (*s, allowed)))
                    .collect();
                let waiting = a
                    .run_after
                    .iter()
                    .filter(|(p, _)| level.contains_key(p))
                    .count();
                if preds.len() < waiting {
                    continue;
                }
                if preds.iter().all(|(s, allowed)| allowed.contains(s)) {
                    ready.push(a);
                } else {
                    statuses.insert(&a.name, Status::Skipped);
                    skip(run, ctx, a);
                    skipped_any = true;
                }
            }
            if ready.is_empty() {
                if skipped_any {
                    continue;
                }
                break;
            }
            if ready.len() == 1 {
                let a = ready[0];
                let s = exec_action(run, a, ctx).await;
                statuses.insert(&a.name, s);
                ctx.lane.yield_now().await;
            } else {
                // Parallel branches: one group, deterministic interleaving.
                let frames = ctx.frames.clone();
                let list = ready.clone();
                let n = list.len();
                let results = Group::new(&*run.engine.host, &ctx.lane, n, n, move |i, lane| {
                    let a = list[i];
                    let frames = frames.clone();
                    Box::pin(async move {
                        let ctx = Ctx { frames, lane };
                        let s = exec_action(run, a, &ctx).await;
                        ctx.lane.yield_now().await;
                        s
                    })
                })
                .await;
                for (a, s) in ready.iter().zip(results) {
                    statuses.insert(&a.name, s);
                }
            }
        }
        level_status(level, &statuses)
    })
}

/// A level fails when an action failed (or timed out) and nothing ran after it to handle it.
fn level_status(level: &Actions, statuses: &BTreeMap<&str, Status>) -> Status {
    for a in level.values() {
        let Some(&s) = statuses.get(a.name.as_str()) else {
            continue;
        };
        if !matches!(s, Status::Failed | Status::TimedOut | Status::Cancelled) {
            continue;
        }
        let handled = level.values().any(|b| {
            b.run_after.iter().any(|(p, _)| p == &a.name)
                && statuses
                    .get(b.name.as_str())
                    .is_some_and(|bs| *bs != Status::Skipped)
        });
        if !handled {
            return Status::Failed;
        }
    }
    Status::Succeeded
}

fn skip(run: &RunShared, ctx: &Ctx, a: &Action) {
    let now = run.engine.host.now_ms();
    run.push(ActionRecord {
        started: run.next_start(),
        name: a.name.clone(),
        kind: a.kind.type_name(),
        iteration: ctx.frames.iter().map(|f| f.index).collect(),
        status: Status::Skipped,
        code: None,
        inputs: Value::Null,
        outputs: Value::Null,
        error: Some(json!({"code": "ActionSkipped", "message": format!(
            "skipped: its runAfter condition ({}) was not met",
            a.run_after.iter().map(|(p, s)| format!("{p} is {}", s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" or "))).collect::<Vec<_>>().join(", ")
        )})),
        start_ms: now,
        end_ms: now,
        attempts: 0,
        note: None,
    }, ctx.frames.last().is_some_and(|f| f.sequential));
}

/// Runs one action and records it; returns its status.
pub(crate) fn exec_action<'a>(
    run: &'a RunShared,
    a: &'a Action,
    ctx: &'a Ctx,
) -> BoxFuture<'a, Status> {
    Box::pin(async move {
        let host = &*run.engine.host;
        let start = host.now_ms();
        let started = run.next_start();
        let mut out = run_kind(run, a, ctx, start).await;
        let end = host.now_ms();
        let mut status = out.status.unwrap_or(Status::Succeeded);
        if let Some(limit) = a.timeout_ms
            && end - start > limit
            && status != Status::TimedOut
        {
            status = Status::TimedOut;
            out.error = Some(json!({"code": "ActionTimedOut", "message": format!(
                "the action took {} and its limit.timeout is {}",
                crate::model::format_duration(end - start),
                crate::model::format_duration(limit)
            )}));
        }
        run.push(
            ActionRecord {
                started,
                name: a.name.clone(),
                kind: a.kind.type_name(),
                iteration: ctx.frames.iter().map(|f| f.index).collect(),
                status,
                code: out.code,
                inputs: out.inputs,
                outputs: out.outputs,
                error: out.error,
                start_ms: start,
                end_ms: end,
                attempts: out.attempts,
                note: out.note,
            },
            ctx.frames.last().is_some_and(|f| f.sequential),
        );
        status
    })
}

macro_rules! try_eval {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(message) => return Outcome::failed("InvalidTemplate", message),
        }
    };
}

async fn run_kind(run: &RunShared, a: &Action, ctx: &Ctx, start: i64) -> Outcome {
    match &a.kind {
        ActionKind::Connector(call) => io::connector(run, a, call, ctx, start).await,
        ActionKind::Http { inputs } => {
            let inputs = try_eval!(eval(run, ctx, inputs));
            io::http(run, a, inputs, ctx, start).await
        }
        ActionKind::Compose { inputs } => {
            let v = try_eval!(eval(run, ctx, inputs));
            Outcome::ok(v.clone(), v)
        }
        ActionKind::InitializeVariable { variables } => initialize(run, ctx, variables),
        ActionKind::SetVariable { name, value } => {
            let v = try_eval!(eval(run, ctx, value));
            set_variable(run, name, v, |_, new| Ok(new))
        }
        ActionKind::IncrementVariable { name, value, sign } => {
            let by = match value {
                Some(t) => try_eval!(eval(run, ctx, t)),
                None => Value::from(1),
            };
            let sign = *sign;
            set_variable(run, name, by.clone(), move |old, by| {
                let (Some(o), Some(b)) = (Num::of(old), Num::of(&by)) else {
                    return Err(format!(
                        "can only increment or decrement a number, not {} by {}",
                        type_name(old),
                        type_name(&by)
                    ));
                };
                Ok(match (o, b) {
                    (Num::Int(o), Num::Int(b)) => Value::from(o.saturating_add(sign * b)),
                    (o, b) => crate::expr::value::float(o.as_f64() + sign as f64 * b.as_f64()),
                })
            })
        }
        ActionKind::AppendToArrayVariable { name, value } => {
            let v = try_eval!(eval(run, ctx, value));
            set_variable(run, name, v, |old, v| match old {
                Value::Array(a) => {
                    let mut a = a.clone();
                    a.push(v);
                    Ok(Value::Array(a))
                }
                other => Err(format!(
                    "can only append to an array, not {}",
                    type_name(other)
                )),
            })
        }
        ActionKind::AppendToStringVariable { name, value } => {
            let v = try_eval!(eval(run, ctx, value));
            set_variable(run, name, v, |old, v| match old {
                Value::String(s) => Ok(Value::String(format!("{s}{}", to_text(&v)))),
                other => Err(format!(
                    "can only append text to a string, not {}",
                    type_name(other)
                )),
            })
        }
        ActionKind::If {
            expression,
            actions,
            else_actions,
        } => {
            let v = try_eval!(eval_cond(run, ctx, expression));
            let b = try_eval!(truth(&v, "the condition"));
            let level = if b { actions } else { else_actions };
            let status = exec_level(run, level, ctx).await;
            Outcome {
                status: Some(status),
                inputs: json!({"expressionResult": b}),
                outputs: json!({"expression": b}),
                ..Outcome::default()
            }
        }
        ActionKind::Switch {
            expression,
            cases,
            default,
        } => {
            let v = try_eval!(eval(run, ctx, expression));
            let (case, level) = cases
                .iter()
                .find(|(_, c, _)| loose_eq(c, &v) || to_text(c) == to_text(&v))
                .map_or(("default", default), |(name, _, level)| {
                    (name.as_str(), level)
                });
            let status = exec_level(run, level, ctx).await;
            Outcome {
                status: Some(status),
                inputs: json!({"expression": v}),
                outputs: json!({"case": case}),
                ..Outcome::default()
            }
        }
        ActionKind::Foreach {
            items,
            actions,
            concurrency,
        } => foreach(run, a, ctx, items, actions, *concurrency).await,
        ActionKind::Until {
            expression,
            count,
            timeout_ms,
            actions,
        } => {
            let host = &*run.engine.host;
            let mut i = 0;
            let mut note = None;
            let status = loop {
                let mut frames = ctx.frames.clone();
                frames.push(Frame {
                    name: a.name.clone(),
                    item: None,
                    index: i as usize,
                    sequential: true,
                });
                let inner = Ctx {
                    frames,
                    lane: ctx.lane.clone(),
                };
                let status = exec_level(run, actions, &inner).await;
                i += 1;
                if run.is_terminated() {
                    break status;
                }
                let v = try_eval!(eval_cond(run, &inner, expression));
                if try_eval!(truth(&v, "the Until condition")) {
                    break status;
                }
                if i >= *count {
                    note = Some(format!(
                        "stopped after {i} iterations, its limit.count{}, before its condition was true; the run went on as if the loop had finished",
                        if *count == 60 {
                            " (60 is the default when limit.count is not set)"
                        } else {
                            ""
                        }
                    ));
                    break status;
                }
                if host.now_ms() - start >= *timeout_ms {
                    note = Some(format!(
                        "stopped after {i} iterations when its limit.timeout of {} ran out, before its condition was true",
                        crate::model::format_duration(*timeout_ms)
                    ));
                    break status;
                }
            };
            Outcome {
                status: Some(status),
                outputs: json!({"iterations": i}),
                note,
                ..Outcome::default()
            }
        }
        ActionKind::Scope { actions } => Outcome {
            status: Some(exec_level(run, actions, ctx).await),
            ..Outcome::default()
        },
        ActionKind::Terminate { status, error } => {
            let error = match error {
                Some(t) => Some(try_eval!(eval(run, ctx, t))),
                None => None,
            };
            run.state.lock().terminated = Some((*status, error.clone()));
            Outcome::ok(
                json!({"runStatus": status.as_str(), "runError": error}),
                Value::Null,
            )
        }
        ActionKind::Response { inputs } => {
            let v = try_eval!(eval(run, ctx, inputs));
            let code = v
                .get("statusCode")
                .and_then(|c| {
                    c.as_u64()
                        .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
                })
                .unwrap_or(200);
            let code = u16::try_from(code).unwrap_or(200);
            run.state.lock().response = Some(code);
            Outcome {
                code: Some(code),
                ..Outcome::ok(v.clone(), v)
            }
        }
        ActionKind::ParseJson { content, schema } => {
            let v = try_eval!(eval(run, ctx, content));
            let parsed = match &v {
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(p) => p,
                    Err(e) => {
                        return Outcome::failed(
                            "InvalidJSON",
                            format!("the content is not JSON: {e}"),
                        )
                        .with_inputs(object([("content", v)]));
                    }
                },
                other => other.clone(),
            };
            if let Err(errors) = data::validate(&parsed, schema) {
                return Outcome::failed(
                    "ValidationFailed",
                    format!(
                        "the content does not match the schema: {}",
                        errors.join("; ")
                    ),
                )
                .with_inputs(object([("content", v), ("schema", schema.clone())]));
            }
            Outcome::ok(
                object([("content", v), ("schema", schema.clone())]),
                object([("body", parsed)]),
            )
        }
        ActionKind::Query { from, filter } => {
            let from_v = try_eval!(eval(run, ctx, from));
            let Value::Array(items) = &from_v else {
                return Outcome::failed(
                    "InvalidTemplate",
                    format!(
                        "Filter array's from must be an array, got {}",
                        type_name(&from_v)
                    ),
                );
            };
            let mut kept = Vec::new();
            for item in items {
                let scope = RunScope {
                    run,
                    frames: &ctx.frames,
                    element: Some(item),
                };
                let v = try_eval!(filter.eval(&scope).map_err(|e| e.to_string()));
                if try_eval!(truth(&v, "Filter array's where")) {
                    kept.push(item.clone());
                }
            }
            Outcome::ok(
                object([("from", from_v)]),
                object([("body", Value::Array(kept))]),
            )
        }
        ActionKind::Select { from, select } => {
            let from_v = try_eval!(eval(run, ctx, from));
            let Value::Array(items) = &from_v else {
                return Outcome::failed(
                    "InvalidTemplate",
                    format!("Select's from must be an array, got {}", type_name(&from_v)),
                );
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let scope = RunScope {
                    run,
                    frames: &ctx.frames,
                    element: Some(item),
                };
                out.push(try_eval!(select.eval(&scope).map_err(|e| e.to_string())));
            }
            Outcome::ok(
                object([("from", from_v)]),
                object([("body", Value::Array(out))]),
            )
        }
        ActionKind::Join { from, join_with } => {
            let from_v = try_eval!(eval(run, ctx, from));
            let with = try_eval!(eval(run, ctx, join_with));
            let Value::Array(items) = &from_v else {
                return Outcome::failed(
                    "InvalidTemplate",
                    format!("Join's from must be an array, got {}", type_name(&from_v)),
                );
            };
            let s = items
                .iter()
                .map(to_text)
                .collect::<Vec<_>>()
                .join(&to_text(&with));
            Outcome::ok(
                object([("from", from_v), ("joinWith", with)]),
                object([("body", Value::String(s))]),
            )
        }
        ActionKind::Table {
            from,
            format,
            columns,
        } => {
            let from_v = try_eval!(eval(run, ctx, from));
            let Value::Array(items) = &from_v else {
                return Outcome::failed(
                    "InvalidTemplate",
                    format!(
                        "Create table's from must be an array, got {}",
                        type_name(&from_v)
                    ),
                );
            };
            let mut cols: Vec<(String, Vec<Value>)> = Vec::new();
            match columns {
                Some(list) => {
                    for (header, value) in list {
                        let h = to_text(&try_eval!(eval(run, ctx, header)));
                        let mut cells = Vec::with_capacity(items.len());
                        for item in items {
                            let scope = RunScope {
                                run,
                                frames: &ctx.frames,
                                element: Some(item),
                            };
                            cells.push(try_eval!(value.eval(&scope).map_err(|e| e.to_string())));
                        }
                        cols.push((h, cells));
                    }
                }
                None => {
                    let keys: Vec<String> = items
                        .first()
                        .and_then(Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    for k in keys {
                        let cells = items
                            .iter()
                            .map(|i| i.get(&k).cloned().unwrap_or(Value::Null))
                            .collect();
                        cols.push((k, cells));
                    }
                }
            }
            let body = data::table(&cols, items.len(), format == "HTML");
            Outcome::ok(
                object([("from", from_v), ("format", Value::String(format.clone()))]),
                object([("body", Value::String(body))]),
            )
        }
        ActionKind::Wait { interval, until } => {
            let host = &*run.engine.host;
            let (inputs, wait_ms) = if let Some((count, unit)) = interval {
                let c = try_eval!(eval(run, ctx, count));
                let u = try_eval!(eval(run, ctx, unit));
                let n = try_eval!(
                    c.as_i64()
                        .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()))
                        .ok_or_else(|| format!("Wait's count must be a whole number, got {c}"))
                );
                let unit = to_text(&u);
                let from = crate::expr::time::from_millis(start);
                let to = try_eval!(crate::expr::time::add(from, n, &unit));
                (
                    json!({"interval": {"count": n, "unit": unit}}),
                    to.as_millisecond() - start,
                )
            } else if let Some(ts) = until {
                let t = try_eval!(eval(run, ctx, ts));
                let at = try_eval!(crate::expr::time::parse(&to_text(&t)));
                (
                    json!({"until": {"timestamp": t}}),
                    at.as_millisecond() - start,
                )
            } else {
                (Value::Null, 0)
            };
            let capped = match a.timeout_ms {
                Some(limit) => wait_ms.min(limit + 1),
                None => wait_ms,
            };
            if capped > 0 {
                ctx.lane.sleep(host, capped).await;
            }
            Outcome::ok(inputs, Value::Null)
        }
    }
}

fn initialize(run: &RunShared, ctx: &Ctx, variables: &[VariableDecl]) -> Outcome {
    let mut inputs = Vec::new();
    for decl in variables {
        let value = match &decl.value {
            Some(t) => try_eval!(eval(run, ctx, t)),
            None => Value::Null,
        };
        let value = match (decl.ty.as_str(), value) {
            ("string", Value::Null) => Value::String(String::new()),
            ("integer", Value::Null) => Value::from(0),
            ("float", Value::Null) => json!(0.0),
            ("boolean", Value::Null) => Value::Bool(false),
            ("array", Value::Null) => json!([]),
            ("object", Value::Null) => json!({}),
            (ty, v) => try_eval!(coerce(ty, v, &decl.name)),
        };
        let mut state = run.state.lock();
        let key = decl.name.to_ascii_lowercase();
        if state.variables.contains_key(&key) {
            return Outcome::failed(
                "InvalidTemplate",
                format!(
                    "the variable '{}' is already initialized; InitializeVariable runs once per variable, at the top level of the flow",
                    decl.name
                ),
            );
        }
        state.variables.insert(
            key,
            Variable {
                name: decl.name.clone(),
                ty: decl.ty.clone(),
                value: value.clone(),
            },
        );
        drop(state);
        inputs.push(object([
            ("name", Value::String(decl.name.clone())),
            ("type", Value::String(decl.ty.clone())),
            ("value", value),
        ]));
    }
    Outcome::ok(json!({"variables": inputs}), Value::Null)
}

/// A value for a variable of type `ty`, or why it does not fit.
fn coerce(ty: &str, v: Value, name: &str) -> Result<Value, String> {
    let fits = match (ty, &v) {
        ("string", Value::String(_))
        | ("boolean", Value::Bool(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("float", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        (_, Value::Null) => true,
        _ => false,
    };
    if fits {
        Ok(v)
    } else {
        Err(format!(
            "the variable '{name}' is of type {ty} and cannot hold {}",
            type_name(&v)
        ))
    }
}

fn set_variable(
    run: &RunShared,
    name: &str,
    given: Value,
    update: impl FnOnce(&Value, Value) -> Result<Value, String>,
) -> Outcome {
    let mut state = run.state.lock();
    let Some(var) = state.variables.get_mut(&name.to_ascii_lowercase()) else {
        drop(state);
        return Outcome::failed(
            "InvalidTemplate",
            run.variable(name).err().unwrap_or_default(),
        );
    };
    let new = match update(&var.value, given.clone()).and_then(|v| coerce(&var.ty, v, &var.name)) {
        Ok(v) => v,
        Err(message) => {
            return Outcome::failed("InvalidTemplate", message).with_inputs(object([
                ("name", Value::String(name.to_owned())),
                ("value", given),
            ]));
        }
    };
    var.value = new.clone();
    Outcome::ok(
        object([("name", Value::String(name.to_owned())), ("value", given)]),
        object([(
            "body",
            object([("name", Value::String(var.name.clone())), ("value", new)]),
        )]),
    )
}

async fn foreach(
    run: &RunShared,
    a: &Action,
    ctx: &Ctx,
    items: &Tmpl,
    actions: &Actions,
    concurrency: u32,
) -> Outcome {
    let v = try_eval!(eval(run, ctx, items));
    let list = match v {
        Value::Array(list) => list,
        other => {
            return Outcome::failed(
                "InvalidTemplate",
                format!(
                    "the Foreach expression must give an array, but it gives {}",
                    type_name(&other)
                ),
            );
        }
    };
    if list.len() > FOREACH_ITEMS_MAX {
        return Outcome::failed(
            "ForeachTooManyItems",
            format!(
                "{} items are more than the {FOREACH_ITEMS_MAX} a Foreach takes",
                list.len()
            ),
        );
    }
    let n = list.len();
    let list = Arc::new(list);
    let frames = ctx.frames.clone();
    let name = a.name.clone();
    let results = {
        let list = list.clone();
        Group::new(
            &*run.engine.host,
            &ctx.lane,
            n,
            concurrency as usize,
            move |i, lane| {
                let mut frames = frames.clone();
                frames.push(Frame {
                    name: name.clone(),
                    item: Some(list[i].clone()),
                    index: i,
                    sequential: concurrency == 1,
                });
                Box::pin(async move {
                    let ctx = Ctx { frames, lane };
                    let s = exec_level(run, actions, &ctx).await;
                    ctx.lane.yield_now().await;
                    s
                })
            },
        )
        .await
    };
    let failed = results.iter().filter(|s| **s != Status::Succeeded).count();
    let mut out = Outcome {
        status: Some(if failed > 0 {
            Status::Failed
        } else {
            Status::Succeeded
        }),
        inputs: json!({"items": n, "concurrency": concurrency}),
        outputs: json!({"iterations": n}),
        ..Outcome::default()
    };
    if failed > 0 {
        out.error = Some(
            json!({"code": "ActionFailed", "message": format!("{failed} of {n} iteration(s) failed")}),
        );
    }
    if concurrency > 1 && n > 1 && writes_variables(actions) {
        out.note = Some(format!(
            "ran {} iterations at once (concurrency {concurrency}) while they set variables, which every iteration shares: one iteration can read a value another one wrote; use Sequential (concurrency 1) or item() instead",
            n.min(concurrency as usize)
        ));
    }
    out
}

fn writes_variables(actions: &Actions) -> bool {
    let mut all = Vec::new();
    walk(actions, &mut all);
    all.iter().any(|a| {
        matches!(
            a.kind,
            ActionKind::SetVariable { .. } | ActionKind::IncrementVariable { .. }
        )
    })
}
