//! A [`Scope`] of fixed values: for evaluating an expression outside a run (examples, tests,
//! trying an expression out).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::eval::Scope;

/// Fixed trigger outputs, action records, variables, parameters and loop items; a fixed clock.
#[derive(Debug, Default)]
pub struct FixedScope {
    pub trigger: Value,
    pub actions: BTreeMap<String, Value>,
    pub variables: BTreeMap<String, Value>,
    pub parameters: BTreeMap<String, Value>,
    /// Loops from outermost to innermost: `(name, current item or iteration index)`.
    pub loops: Vec<(String, Value)>,
    pub now_ms: i64,
    pub random: AtomicU64,
}

impl FixedScope {
    /// A scope whose trigger delivered `body`.
    pub fn with_trigger_body(body: Value) -> FixedScope {
        FixedScope {
            trigger: json!({"name": "trigger", "outputs": {"headers": {}, "body": body}, "status": "Succeeded"}),
            ..FixedScope::default()
        }
    }
}

fn missing(kind: &str, name: &str, known: Vec<&String>) -> String {
    let known: Vec<&str> = known.into_iter().map(String::as_str).collect();
    format!(
        "the {kind} '{name}' does not exist; the {kind}s are {}",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )
}

impl Scope for FixedScope {
    fn trigger(&self) -> Result<Value, String> {
        Ok(self.trigger.clone())
    }

    fn action(&self, name: &str) -> Result<Value, String> {
        self.actions
            .get(name)
            .cloned()
            .ok_or_else(|| missing("action", name, self.actions.keys().collect()))
    }

    fn variable(&self, name: &str) -> Result<Value, String> {
        self.variables
            .get(name)
            .cloned()
            .ok_or_else(|| missing("variable", name, self.variables.keys().collect()))
    }

    fn parameter(&self, name: &str) -> Result<Value, String> {
        self.parameters
            .get(name)
            .cloned()
            .ok_or_else(|| missing("parameter", name, self.parameters.keys().collect()))
    }

    fn item(&self) -> Result<Value, String> {
        self.loops
            .last()
            .map(|(_, v)| v.clone())
            .ok_or_else(|| "item() is used outside a loop".to_owned())
    }

    fn items(&self, loop_name: &str) -> Result<Value, String> {
        self.loops
            .iter()
            .rev()
            .find(|(n, _)| n == loop_name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("items('{loop_name}') is used outside that loop"))
    }

    fn iteration_index(&self, loop_name: &str) -> Result<Value, String> {
        self.items(loop_name)
    }

    fn workflow(&self) -> Value {
        json!({"name": "flow", "run": {"name": "run"}})
    }

    fn result(&self, scope: &str) -> Result<Value, String> {
        Err(format!("result('{scope}') has no actions in a fixed scope"))
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn callback_url(&self) -> String {
        "http://127.0.0.1:9/callback".to_owned()
    }

    fn random(&self) -> u64 {
        // SplitMix64 over a counter: deterministic, well spread.
        let mut z = self
            .random
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
