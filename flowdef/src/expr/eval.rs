//! Evaluating expressions against a run: the workflow functions read the run through [`Scope`].

use serde_json::Value;

use super::functions;
use super::parse::{Expr, Part, Template};
use super::value::{property, to_text, type_name};

/// What the workflow functions (`triggerBody()`, `body('X')`, `variables('v')`, `item()`, ...)
/// read. The runtime implements it for a run; tests implement it with fixed values.
pub trait Scope {
    /// The trigger's record: `{name, inputs, outputs: {headers, body}, status, startTime, ...}`.
    fn trigger(&self) -> Result<Value, String>;
    /// `actions('X')`: `{name, inputs, outputs, status, code, error, startTime, endTime}`.
    fn action(&self, name: &str) -> Result<Value, String>;
    fn variable(&self, name: &str) -> Result<Value, String>;
    fn parameter(&self, name: &str) -> Result<Value, String>;
    /// `item()`: the current item of the innermost `Foreach` (or of `Query`/`Select`).
    fn item(&self) -> Result<Value, String>;
    /// `items('Loop')`: the current item of the named `Foreach`.
    fn items(&self, loop_name: &str) -> Result<Value, String>;
    /// `iterationIndexes('Until')`: the current iteration (from 0) of the named `Until`.
    fn iteration_index(&self, loop_name: &str) -> Result<Value, String>;
    /// `workflow()`: `{name, run: {name}, ...}`.
    fn workflow(&self) -> Value;
    /// `result('Scope')`: the records of the actions directly inside a scope or loop.
    fn result(&self, scope: &str) -> Result<Value, String>;
    /// The host's clock, in milliseconds since the Unix epoch (virtual time in the harness).
    fn now_ms(&self) -> i64;
    /// `listCallbackUrl()`: the URL deliveries reach the flow at.
    fn callback_url(&self) -> String;
    /// A deterministic random number (seeded per run) for `rand()` and `guid()`.
    fn random(&self) -> u64;

    /// `outputs('X')`, or `body('X')` when `body`. The default reads [`Scope::action`]; a scope
    /// holding large outputs overrides it to copy only the part asked for.
    fn action_output(&self, name: &str, body: bool) -> Result<Value, String> {
        let record = self.action(name)?;
        let outputs = record.get("outputs").cloned().unwrap_or(Value::Null);
        if !body {
            return Ok(outputs);
        }
        match outputs {
            Value::Object(mut o) => o.remove("body").ok_or_else(|| {
                format!("action '{name}' has no body in its outputs; use outputs('{name}')")
            }),
            _ => Err(format!(
                "action '{name}' has no body; use outputs('{name}')"
            )),
        }
    }

    /// Lends `outputs('X')` (or `body('X')`) to `f` without copying it, where the scope can
    /// (the default copies).
    fn peek_action_output(
        &self,
        name: &str,
        body: bool,
        f: &mut dyn FnMut(Result<&Value, String>),
    ) {
        let v = self.action_output(name, body);
        f(v.as_ref().map_err(Clone::clone));
    }

    /// Lends `item()` to `f` without copying it, where the scope can (the default copies).
    fn peek_item(&self, f: &mut dyn FnMut(Result<&Value, String>)) {
        let v = self.item();
        f(v.as_ref().map_err(Clone::clone));
    }
}

/// Where a chain starts.
enum Root<'e> {
    Output(&'e str, bool),
    Item,
}

/// `body('X')?['value'][0]`-like chains: a workflow function with a literal argument, then
/// property and index steps with literal keys.
fn chain(e: &Expr) -> Option<(Root<'_>, Vec<(&Expr, bool)>)> {
    let mut steps = Vec::new();
    let mut cur = e;
    loop {
        match cur {
            Expr::Index {
                target,
                index,
                safe,
            } if matches!(**index, Expr::Str(_) | Expr::Int(_)) => {
                steps.push((&**index, *safe));
                cur = target;
            }
            Expr::Call { name, args } => {
                let root = match args.as_slice() {
                    [] if name.eq_ignore_ascii_case("item") => Root::Item,
                    [Expr::Str(action)] if name.eq_ignore_ascii_case("body") => {
                        Root::Output(action, true)
                    }
                    [Expr::Str(action)] if name.eq_ignore_ascii_case("outputs") => {
                        Root::Output(action, false)
                    }
                    _ => return None,
                };
                steps.reverse();
                return Some((root, steps));
            }
            _ => return None,
        }
    }
}

/// Walks a chain's steps by reference: `Ok(None)` is a null result.
fn walk<'v>(mut v: &'v Value, steps: &[(&Expr, bool)]) -> Result<Option<&'v Value>, String> {
    for (step, safe) in steps {
        let key = match step {
            Expr::Str(k) => Value::String(k.clone()),
            Expr::Int(i) => Value::from(*i),
            _ => return Err("unexpected step".to_owned()),
        };
        match (v, &key) {
            (Value::Null, _) if *safe => return Ok(None),
            (Value::Object(o), Value::String(k)) => match property(o, k) {
                Some(x) => v = x,
                None if *safe => return Ok(None),
                None => return access(v.clone(), &key, false).map(|_| None),
            },
            (Value::Array(a), Value::Number(n)) => {
                match n
                    .as_i64()
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| a.get(i))
                {
                    Some(x) => v = x,
                    None if *safe => return Ok(None),
                    None => return access(v.clone(), &key, false).map(|_| None),
                }
            }
            _ => return access(v.clone(), &key, *safe).map(|_| None),
        }
    }
    Ok(Some(v))
}

/// Evaluates a chain on the action's outputs without copying more than the result (or, for
/// `length`, nothing). `None` when `e` is not such a chain.
fn eval_chain(e: &Expr, scope: &dyn Scope, length: bool) -> Option<Result<Value, String>> {
    let (root, steps) = chain(e)?;
    let mut out = None;
    let mut lend = |root: Result<&Value, String>| {
        out = Some(root.and_then(|r| {
            let found = walk(r, &steps)?;
            if !length {
                return Ok(found.cloned().unwrap_or(Value::Null));
            }
            match found {
                Some(Value::Array(a)) => Ok(Value::from(a.len() as i64)),
                Some(Value::String(s)) => Ok(Value::from(s.chars().count() as i64)),
                Some(Value::Object(o)) => Ok(Value::from(o.len() as i64)),
                Some(other) => Err(format!(
                    "length() expects an array or a string, got {}",
                    type_name(other)
                )),
                None => Err("length() expects an array or a string, got null".to_owned()),
            }
        }));
    };
    match root {
        Root::Output(action, body) => scope.peek_action_output(action, body, &mut lend),
        Root::Item => scope.peek_item(&mut lend),
    }
    out
}

/// An expression that failed: what went wrong (the caller adds the JSON path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (in `{expression}`)")]
pub struct EvalError {
    pub expression: String,
    pub message: String,
}

/// Evaluates a definition's string value: a literal, an expression's value, or interpolated text.
pub fn eval_template(t: &Template, scope: &dyn Scope) -> Result<Value, EvalError> {
    match t {
        Template::Literal(s) => Ok(Value::String(s.clone())),
        Template::Expr(e) => eval(e, scope).map_err(|message| EvalError {
            expression: format!("@{e}"),
            message,
        }),
        Template::Interp(parts) => {
            let mut out = String::new();
            for part in parts {
                match part {
                    Part::Text(s) => out.push_str(s),
                    Part::Expr(e) => {
                        let v = eval(e, scope).map_err(|message| EvalError {
                            expression: format!("@{{{e}}}"),
                            message,
                        })?;
                        out.push_str(&to_text(&v));
                    }
                }
            }
            Ok(Value::String(out))
        }
    }
}

/// Evaluates one expression; the error is a message naming the function or property at fault.
pub fn eval(e: &Expr, scope: &dyn Scope) -> Result<Value, String> {
    match e {
        Expr::Null => Ok(Value::Null),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        Expr::Int(i) => Ok(Value::from(*i)),
        Expr::Float(x) => Ok(super::value::float(*x)),
        Expr::Str(s) => Ok(Value::String(s.clone())),
        Expr::Call { name, args } => {
            if name.eq_ignore_ascii_case("length")
                && let [arg] = args.as_slice()
                && let Some(r) = eval_chain(arg, scope, true)
            {
                return r;
            }
            let lower = name.to_ascii_lowercase();
            if lower == "if" && args.len() == 3 {
                // Only the branch taken is evaluated, so `if(empty(x), 0, x[0])` is safe.
                let cond = eval(&args[0], scope)?;
                let taken = match super::value::as_bool(&cond) {
                    Some(true) => &args[1],
                    Some(false) => &args[2],
                    None => {
                        return Err(format!(
                            "if() expects a boolean condition, got {}",
                            type_name(&cond)
                        ));
                    }
                };
                return eval(taken, scope);
            }
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(eval(a, scope)?);
            }
            functions::call(name, &lower, values, scope)
        }
        Expr::Index {
            target,
            index,
            safe,
        } => {
            if let Some(r) = eval_chain(e, scope, false) {
                return r;
            }
            let t = eval(target, scope)?;
            let i = eval(index, scope)?;
            access(t, &i, *safe)
        }
        Expr::Member { target, name, safe } => {
            let t = eval(target, scope)?;
            access(t, &Value::String(name.clone()), *safe)
        }
    }
}

/// `t[i]`: a property of an object (by name, ignoring case), an element of an array (by
/// integer index). With `safe` (`?[]`), a null target or a missing property gives null. The
/// target is consumed, so the part is moved out rather than copied.
fn access(t: Value, i: &Value, safe: bool) -> Result<Value, String> {
    match (t, i) {
        (Value::Null, _) if safe => Ok(Value::Null),
        (Value::Object(mut o), Value::String(k)) => match property(&o, k) {
            Some(_) => {
                let key = if o.contains_key(k.as_str()) {
                    k.clone()
                } else {
                    o.keys()
                        .find(|x| x.eq_ignore_ascii_case(k))
                        .cloned()
                        .unwrap_or_default()
                };
                Ok(o.remove(&key).unwrap_or(Value::Null))
            }
            None if safe => Ok(Value::Null),
            None => {
                let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
                keys.truncate(20);
                Err(format!(
                    "the property '{k}' does not exist; the object has {}; use ?['{k}'] to get null instead",
                    if keys.is_empty() {
                        "no properties".to_owned()
                    } else {
                        keys.join(", ")
                    }
                ))
            }
        },
        (Value::Array(a), Value::Number(n)) => {
            let idx = n.as_i64().unwrap_or(-1);
            let len = a.len();
            match usize::try_from(idx).ok().and_then(|u| a.into_iter().nth(u)) {
                Some(v) => Ok(v),
                None if safe => Ok(Value::Null),
                None => Err(format!(
                    "index {n} is out of range: the array has {len} element(s)"
                )),
            }
        }
        (Value::Null, _) => Err(format!(
            "cannot read [{}] of null; use ?[...] for null-safe access",
            to_text(i)
        )),
        (t, _) => Err(format!(
            "cannot index {} with {}",
            type_name(&t),
            type_name(i)
        )),
    }
}
