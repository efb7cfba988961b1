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
            let t = eval(target, scope)?;
            let i = eval(index, scope)?;
            access(&t, &i, *safe)
        }
        Expr::Member { target, name, safe } => {
            let t = eval(target, scope)?;
            access(&t, &Value::String(name.clone()), *safe)
        }
    }
}

/// `t[i]`: a property of an object (by name, ignoring case), an element of an array (by
/// integer index). With `safe` (`?[]`), a null target or a missing property gives null.
fn access(t: &Value, i: &Value, safe: bool) -> Result<Value, String> {
    match (t, i) {
        (Value::Null, _) if safe => Ok(Value::Null),
        (Value::Object(o), Value::String(k)) => match property(o, k) {
            Some(v) => Ok(v.clone()),
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
            match usize::try_from(idx).ok().and_then(|u| a.get(u)) {
                Some(v) => Ok(v.clone()),
                None if safe => Ok(Value::Null),
                None => Err(format!(
                    "index {n} is out of range: the array has {} element(s)",
                    a.len()
                )),
            }
        }
        (Value::Null, _) => Err(format!(
            "cannot read [{}] of null; use ?[...] for null-safe access",
            to_text(i)
        )),
        _ => Err(format!(
            "cannot index {} with {}",
            type_name(t),
            type_name(i)
        )),
    }
}
