//! The expression language of flow definitions: `@...` expressions, `@{...}` interpolation, `@@`
//! escaping, `?[]` null-safe access, and the functions flows use.
//!
//! ```
//! use flowdef::expr::{FixedScope, eval_template, parse_template};
//! use serde_json::json;
//!
//! let scope = FixedScope::with_trigger_body(json!({"segmentName": "VIP", "entityCount": 1042}));
//! let t = parse_template("@{triggerBody()?['segmentName']} has @{add(triggerBody()?['entityCount'], 1)}").unwrap();
//! assert_eq!(eval_template(&t, &scope).unwrap(), json!("VIP has 1043"));
//! ```

mod eval;
mod fixed;
mod functions;
mod parse;
pub mod time;
pub mod value;

pub use eval::{EvalError, Scope, eval, eval_template};
pub use fixed::FixedScope;
pub use functions::{FUNCTIONS, UNSUPPORTED, check_call};
pub use parse::{Expr, Part, SyntaxError, Template, parse_expr, parse_template};

/// Every function call in an expression, with its argument count (for `check`).
pub fn calls(e: &Expr, out: &mut Vec<(String, usize)>) {
    match e {
        Expr::Call { name, args } => {
            out.push((name.clone(), args.len()));
            for a in args {
                calls(a, out);
            }
        }
        Expr::Index { target, index, .. } => {
            calls(target, out);
            calls(index, out);
        }
        Expr::Member { target, .. } => calls(target, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
