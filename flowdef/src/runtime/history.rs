//! Run history, as Power Automate's run view shows it: each run's trigger, its actions with
//! their inputs, outputs, status and duration, and notes a flow maker needs to read a failure.

use std::fmt::Write as _;

use serde_json::Value;

use crate::expr::time;
use crate::model::{Status, format_duration};

/// One action execution (one per iteration inside loops).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRecord {
    /// The order in which the run's action executions started (a container before what it
    /// holds); a run's records are in this order.
    pub started: u64,
    pub name: String,
    /// The WDL type (`OpenApiConnection`, `Foreach`, ...).
    pub kind: &'static str,
    /// The iteration path inside loops (`[3]`: the fourth iteration of the enclosing loop).
    pub iteration: Vec<usize>,
    pub status: Status,
    /// The HTTP status of a connector or HTTP action.
    pub code: Option<u16>,
    pub inputs: Value,
    pub outputs: Value,
    pub error: Option<Value>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Calls made (1 + retries) by a connector or HTTP action.
    pub attempts: u32,
    /// What a flow maker should know (a loop that stopped at its limit, retries given up, ...).
    pub note: Option<String>,
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// A run happened.
    Ran(Status),
    /// A trigger condition was false: no run, as the platform skips it.
    ConditionFalse,
    /// The delivery could not start a run (a `splitOn` that is not an array, a condition that
    /// fails to evaluate).
    TriggerFailed(String),
}

/// One run (or one skipped delivery).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// `run1`, `run2`, ... in the order runs started.
    pub id: String,
    pub trigger: String,
    /// The delivery's `eventId`, when it has one.
    pub event_id: Option<String>,
    pub trigger_body: Value,
    pub outcome: RunOutcome,
    pub start_ms: i64,
    pub end_ms: i64,
    /// In the order they started.
    pub actions: Vec<ActionRecord>,
    /// A `Terminate` action's error, or the first failure that failed the run.
    pub error: Option<Value>,
}

impl ActionRecord {
    /// `actions('X')` as expressions see it.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::Map::new();
        v.insert("name".to_owned(), Value::String(self.name.clone()));
        v.insert("inputs".to_owned(), self.inputs.clone());
        v.insert("outputs".to_owned(), self.outputs.clone());
        v.insert(
            "status".to_owned(),
            Value::String(self.status.as_str().to_owned()),
        );
        v.insert(
            "startTime".to_owned(),
            Value::String(time_text(self.start_ms)),
        );
        v.insert("endTime".to_owned(), Value::String(time_text(self.end_ms)));
        if let Some(code) = self.code {
            v.insert("code".to_owned(), Value::from(code));
        }
        if let Some(e) = &self.error {
            v.insert("error".to_owned(), e.clone());
        }
        Value::Object(v)
    }
}

pub(crate) fn time_text(ms: i64) -> String {
    time::format(time::from_millis(ms), "o").unwrap_or_default()
}

fn short(v: &Value, max: usize) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

impl RunRecord {
    /// The run as text, one line per action execution: time from the run's start, status,
    /// name (with the iteration), type, HTTP status and attempts, duration, then the error or
    /// note indented beneath.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let event = self.event_id.as_deref().unwrap_or("-");
        let outcome = match &self.outcome {
            RunOutcome::Ran(s) => s.as_str().to_owned(),
            RunOutcome::ConditionFalse => "not run (trigger condition false)".to_owned(),
            RunOutcome::TriggerFailed(why) => format!("not run ({why})"),
        };
        let _ = writeln!(
            out,
            "{} {} event={event} {outcome} in {}",
            self.id,
            self.trigger,
            format_duration(self.end_ms - self.start_ms)
        );
        for a in &self.actions {
            let iteration = if a.iteration.is_empty() {
                String::new()
            } else {
                format!(
                    "[{}]",
                    a.iteration
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            let code = match (a.code, a.attempts) {
                (Some(c), n) if n > 1 => format!(" {c} after {n} calls"),
                (Some(c), _) => format!(" {c}"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  +{:<8} {:<9} {}{iteration} ({}){code} {}",
                format_duration(a.start_ms - self.start_ms),
                a.status.as_str(),
                a.name,
                a.kind,
                format_duration(a.end_ms - a.start_ms),
            );
            if let Some(e) = &a.error {
                let message = e
                    .get("message")
                    .map_or_else(|| short(e, 200), |m| short(m, 200));
                let _ = writeln!(out, "      error: {message}");
            }
            if let Some(n) = &a.note {
                let _ = writeln!(out, "      note: {n}");
            }
        }
        if let Some(e) = &self.error {
            let _ = writeln!(out, "  run error: {}", short(e, 300));
        }
        out
    }

    /// What a flow maker should read first: each note, the actions that ended the run
    /// (`Terminate`), and, when the run did not succeed, each failed action with its error.
    /// Repeats (the same finding in every iteration of a loop) are counted, not repeated.
    pub fn findings(&self) -> Vec<String> {
        let failed_run = !matches!(self.outcome, RunOutcome::Ran(Status::Succeeded));
        let mut found: Vec<(String, usize)> = Vec::new();
        let mut add = |f: String| match found.iter_mut().find(|(g, _)| *g == f) {
            Some((_, n)) => *n += 1,
            None => found.push((f, 1)),
        };
        for a in &self.actions {
            if let Some(n) = &a.note {
                add(format!("action '{}' ({}): {n}", a.name, a.kind));
            }
            if a.kind == "Terminate" && a.status == Status::Succeeded {
                let status = a.inputs["runStatus"].as_str().unwrap_or("Failed");
                add(format!(
                    "action '{}' (Terminate) ended the run as {status}",
                    a.name
                ));
            }
            if failed_run
                && matches!(a.status, Status::Failed | Status::TimedOut)
                && let Some(e) = &a.error
            {
                let message = e
                    .get("message")
                    .map_or_else(|| short(e, 300), |m| short(m, 300));
                add(format!(
                    "action '{}' ({}) {}: {message}",
                    a.name,
                    a.kind,
                    a.status.as_str().to_lowercase()
                ));
            }
        }
        if let RunOutcome::TriggerFailed(why) = &self.outcome {
            add(format!("trigger '{}': {why}", self.trigger));
        }
        found
            .into_iter()
            .map(|(f, n)| if n > 1 { format!("{f} (×{n})") } else { f })
            .collect()
    }
}
