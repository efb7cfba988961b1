//! The expression [`Scope`] of a run: the trigger, the actions' results, the variables, the
//! parameters and the loops around the expression being evaluated.

use serde_json::{Value, json};

use super::run::{Frame, RunShared};
use crate::expr::Scope;

/// A run seen from one place in it (its loop frames), optionally with the current element of a
/// `Query` or `Select` as `item()`.
pub(crate) struct RunScope<'a> {
    pub(crate) run: &'a RunShared,
    pub(crate) frames: &'a [Frame],
    pub(crate) element: Option<&'a Value>,
}

impl RunScope<'_> {
    fn iteration(&self) -> Vec<usize> {
        self.frames.iter().map(|f| f.index).collect()
    }
}

impl Scope for RunScope<'_> {
    fn trigger(&self) -> Result<Value, String> {
        Ok(self.run.trigger_record())
    }

    fn action(&self, name: &str) -> Result<Value, String> {
        self.run.action_value(name, &self.iteration())
    }

    fn action_output(&self, name: &str, body: bool) -> Result<Value, String> {
        self.run.action_part(name, &self.iteration(), body)
    }

    fn peek_action_output(
        &self,
        name: &str,
        body: bool,
        f: &mut dyn FnMut(Result<&Value, String>),
    ) {
        self.run.peek_part(name, &self.iteration(), body, f);
    }

    fn variable(&self, name: &str) -> Result<Value, String> {
        self.run.variable(name)
    }

    fn parameter(&self, name: &str) -> Result<Value, String> {
        let params = &self.run.engine.parameters;
        match params.get(name).or_else(|| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        }) {
            Some(v) => Ok(v.clone()),
            None => {
                let known: Vec<&str> = params.keys().map(String::as_str).collect();
                Err(format!(
                    "the parameter '{name}' is not defined; the definition's parameters are {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            }
        }
    }

    fn item(&self) -> Result<Value, String> {
        if let Some(e) = self.element {
            return Ok(e.clone());
        }
        self.frames
            .iter()
            .rev()
            .find(|f| f.item.is_some())
            .and_then(|f| f.item.clone())
            .ok_or_else(|| "item() is used outside a Foreach loop".to_owned())
    }

    fn peek_item(&self, f: &mut dyn FnMut(Result<&Value, String>)) {
        let found = match self.element {
            Some(e) => Some(e),
            None => self.frames.iter().rev().find_map(|fr| fr.item.as_ref()),
        };
        match found {
            Some(v) => f(Ok(v)),
            None => f(Err("item() is used outside a Foreach loop".to_owned())),
        }
    }

    fn items(&self, loop_name: &str) -> Result<Value, String> {
        self.frames
            .iter()
            .rev()
            .find(|f| f.name == loop_name && f.item.is_some())
            .and_then(|f| f.item.clone())
            .ok_or_else(|| {
                format!("items('{loop_name}') is used outside the Foreach loop '{loop_name}'")
            })
    }

    fn iteration_index(&self, loop_name: &str) -> Result<Value, String> {
        self.frames
            .iter()
            .rev()
            .find(|f| f.name == loop_name)
            .map(|f| Value::from(f.index as u64))
            .ok_or_else(|| {
                format!("iterationIndexes('{loop_name}') is used outside the loop '{loop_name}'")
            })
    }

    fn workflow(&self) -> Value {
        let e = &self.run.engine;
        json!({
            "id": format!("/workflows/{}", e.flow_id),
            "name": e.flow_id,
            "type": "Microsoft.Logic/workflows",
            "tags": {"flowDisplayName": e.flow.name},
            "run": {"id": format!("/workflows/{}/runs/{}", e.flow_id, self.run.id), "name": self.run.id, "type": "Microsoft.Logic/workflows/runs"},
        })
    }

    fn result(&self, scope: &str) -> Result<Value, String> {
        self.run.result_of(scope, &self.iteration())
    }

    fn now_ms(&self) -> i64 {
        self.run.engine.host.now_ms()
    }

    fn callback_url(&self) -> String {
        self.run.engine.host.notification_url()
    }

    fn random(&self) -> u64 {
        self.run.next_random()
    }
}
