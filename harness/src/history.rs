//! The run history of a flow that keeps one — a Power Automate or Logic Apps definition run by
//! `flowdef` — as Power Automate's run view shows it: each run's trigger, event and outcome, and
//! every action execution (one per loop iteration) with its inputs, outputs, status, HTTP status,
//! calls made, duration, error and a note when there is something a flow maker should know.
//!
//! A flow hands its runs over when a case ends ([`Flow::take_runs`](crate::flow::Flow)); the case's
//! transcript gets one `run` line per run and one `action` line per action execution, and the
//! reports show the runs ([`FlowRun::render`]). Both read the runs after [`FlowRun::normalised`]:
//! seeded ids named as in the rest of the transcript (`ev1`, `sub1`), inputs and outputs cut to a
//! readable size.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use simulator::SimDuration;

use crate::text::cut;

/// How much of an action's inputs or outputs a report keeps (characters of compact JSON).
pub const REPORT_VALUE_CHARS_MAX: usize = 2_000;
/// How much of an action's inputs or outputs a transcript line shows.
pub const LINE_VALUE_CHARS_MAX: usize = 100;

/// One run of a flow, or one delivery that started none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRun {
    /// `run1`, `run2`, ... in the order the runs started.
    pub id: String,
    /// The trigger's name in the definition.
    pub trigger: String,
    /// The `eventId` of the delivery that started it.
    pub event: Option<String>,
    /// `Succeeded`, `Failed`, `Cancelled`; `NotRun` when the delivery started no run (`reason`
    /// says why: a trigger condition was false, a `splitOn` failed).
    pub status: String,
    pub reason: Option<String>,
    /// When it started and ended on the flow's clock (simulated time in the harness), in
    /// milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub end_ms: i64,
    pub actions: Vec<FlowAction>,
    /// A `Terminate` action's error, or the failure that failed the run.
    pub error: Option<String>,
    /// What a flow maker should read first: notes, the action that ended the run, failed
    /// actions with their errors (a finding repeated in every iteration is counted, `(×12)`).
    pub findings: Vec<String>,
}

/// One action execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowAction {
    pub name: String,
    /// The definition's action type (`OpenApiConnection`, `Foreach`, `Compose`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The iteration inside loops, outermost first (`[3]`: the fourth iteration of its loop).
    pub iteration: Vec<usize>,
    /// `Succeeded`, `Failed`, `Skipped`, `TimedOut`, `Cancelled`.
    pub status: String,
    /// The HTTP status of a connector or HTTP action.
    pub code: Option<u16>,
    /// Calls made (1 + retries) by a connector or HTTP action.
    pub attempts: u32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub inputs: Value,
    pub outputs: Value,
    pub error: Option<String>,
    pub note: Option<String>,
}

/// Seeded ids and the stable names they get in transcripts and reports (`ev1`, `sub1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids(Vec<(String, String)>);

impl Ids {
    /// Names `id` `alias`, unless it has a name.
    pub fn name(&mut self, id: &str, alias: &str) {
        if !id.is_empty() && !self.0.iter().any(|(i, _)| i == id) {
            self.0.push((id.to_owned(), alias.to_owned()));
        }
    }

    /// The name of `id`, naming it `{kind}N` first if it has none (N counts the names of that
    /// kind so far: `ev1`, `ev2`, …).
    pub fn named(&mut self, id: &str, kind: &str) -> String {
        if let Some((_, alias)) = self.0.iter().find(|(i, _)| i == id) {
            return alias.clone();
        }
        let n = self
            .0
            .iter()
            .filter(|(_, a)| {
                a.strip_prefix(kind)
                    .is_some_and(|d| d.parse::<u32>().is_ok())
            })
            .count()
            + 1;
        let alias = format!("{kind}{n}");
        self.name(id, &alias);
        alias
    }

    /// `text` with every named id replaced by its name.
    pub fn normalise(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (id, alias) in &self.0 {
            if out.contains(id.as_str()) {
                out = out.replace(id.as_str(), alias);
            }
        }
        out
    }

    /// Every string inside `v`, normalised.
    fn normalise_value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.normalise(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|x| self.normalise_value(x)).collect())
            }
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.normalise_value(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl FlowRun {
    /// The run with its ids named by `ids` and every input and output kept whole up to
    /// [`REPORT_VALUE_CHARS_MAX`] characters of JSON (longer ones become their cut text).
    pub fn normalised(&self, ids: &Ids) -> FlowRun {
        let text = |s: &String| ids.normalise(s);
        let value = |v: &Value| {
            let v = ids.normalise_value(v);
            let compact = serde_json::to_string(&v).unwrap_or_default();
            if compact.chars().count() > REPORT_VALUE_CHARS_MAX {
                Value::String(cut(&compact, REPORT_VALUE_CHARS_MAX))
            } else {
                v
            }
        };
        FlowRun {
            id: self.id.clone(),
            trigger: self.trigger.clone(),
            event: self.event.as_ref().map(text),
            status: self.status.clone(),
            reason: self.reason.as_ref().map(text),
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            actions: self
                .actions
                .iter()
                .map(|a| FlowAction {
                    inputs: value(&a.inputs),
                    outputs: value(&a.outputs),
                    error: a.error.as_ref().map(text),
                    note: a.note.as_ref().map(text),
                    ..a.clone()
                })
                .collect(),
            error: self.error.as_ref().map(text),
            findings: self.findings.iter().map(text).collect(),
        }
    }

    /// The transcript lines of the run: `(start, text)` of a `run` line and of an `action` line
    /// per action execution, each with its duration; an action's inputs and outputs are cut to
    /// [`LINE_VALUE_CHARS_MAX`] characters.
    pub fn transcript_lines(&self) -> Vec<(i64, String)> {
        let mut lines = vec![(self.start_ms, format!("run       {}", self.headline()))];
        for a in &self.actions {
            let mut line = format!("action    {} {}", self.id, a.headline());
            let _ = write!(
                line,
                " in={} out={}",
                short(&a.inputs, LINE_VALUE_CHARS_MAX),
                short(&a.outputs, LINE_VALUE_CHARS_MAX)
            );
            if let Some(e) = &a.error {
                let _ = write!(line, " error={}", cut(e, LINE_VALUE_CHARS_MAX));
            }
            if let Some(n) = &a.note {
                let _ = write!(line, " note={n}");
            }
            lines.push((a.start_ms, line));
        }
        lines
    }

    /// The run as Power Automate's run view lists it: a line for the run, then a line per action
    /// execution (time from the run's start, status, name with the iteration, type, HTTP status
    /// and calls, duration), its inputs and outputs cut to `value_chars` characters, and its
    /// error and note.
    pub fn render(&self, value_chars: usize) -> String {
        let mut out = format!("{}\n", self.headline());
        for a in &self.actions {
            let _ = writeln!(
                out,
                "  +{:<9} {}",
                duration(a.start_ms - self.start_ms),
                a.headline()
            );
            let _ = writeln!(out, "      inputs:  {}", short(&a.inputs, value_chars));
            let _ = writeln!(out, "      outputs: {}", short(&a.outputs, value_chars));
            if let Some(e) = &a.error {
                let _ = writeln!(out, "      error:   {}", cut(e, value_chars));
            }
            if let Some(n) = &a.note {
                let _ = writeln!(out, "      note:    {n}");
            }
        }
        if let Some(e) = &self.error {
            let _ = writeln!(out, "  run error: {}", cut(e, value_chars));
        }
        out
    }

    /// `run1 When_a_data_source_refresh_fails ev1 -> Succeeded in 2s`.
    fn headline(&self) -> String {
        let outcome = match &self.reason {
            Some(reason) => format!("{} ({reason})", self.status),
            None => self.status.clone(),
        };
        let mut line = format!(
            "{} {} {} -> {outcome} in {}",
            self.id,
            self.trigger,
            self.event.as_deref().unwrap_or("-"),
            duration(self.end_ms - self.start_ms)
        );
        if let Some(e) = &self.error {
            let _ = write!(line, " error={}", cut(e, LINE_VALUE_CHARS_MAX));
        }
        line
    }
}

impl FlowAction {
    /// `Get_a_page[3] (OpenApiConnection) Succeeded 200 after 2 calls in 1.5s`.
    fn headline(&self) -> String {
        let iteration = if self.iteration.is_empty() {
            String::new()
        } else {
            let i: Vec<String> = self.iteration.iter().map(usize::to_string).collect();
            format!("[{}]", i.join(","))
        };
        let code = match (self.code, self.attempts) {
            (Some(c), n) if n > 1 => format!(" {c} after {n} calls"),
            (Some(c), _) => format!(" {c}"),
            (None, _) => String::new(),
        };
        format!(
            "{}{iteration} ({}) {}{code} in {}",
            self.name,
            self.kind,
            self.status,
            duration(self.end_ms - self.start_ms)
        )
    }
}

/// A duration in the transcript's form (`0s`, `1.5s`, `2m30s`).
fn duration(ms: i64) -> String {
    SimDuration::from_millis(ms.max(0)).to_string()
}

/// A value on one line: a string as it is, anything else as compact JSON; cut at `max`.
fn short(v: &Value, max: usize) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    cut(&text.replace(['\n', '\r'], " "), max)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run() -> FlowRun {
        FlowRun {
            id: "run1".into(),
            trigger: "When_done".into(),
            event: Some("e132f96e-0000".into()),
            status: "Failed".into(),
            reason: None,
            start_ms: 1_000,
            end_ms: 3_500,
            actions: vec![FlowAction {
                name: "Get_a_page".into(),
                kind: "Http".into(),
                iteration: vec![3],
                status: "Failed".into(),
                code: Some(429),
                attempts: 1,
                start_ms: 1_500,
                end_ms: 3_500,
                inputs: json!({"uri": "http://x/v1/instances/i-1/data/Customer", "event": "e132f96e-0000"}),
                outputs: json!({"statusCode": 429, "body": "x".repeat(3_000)}),
                error: Some("throttled".into()),
                note: Some("failed at once".into()),
            }],
            error: Some("throttled".into()),
            findings: vec!["action 'Get_a_page' (Http): failed at once".into()],
        }
    }

    fn ids() -> Ids {
        let mut ids = Ids::default();
        ids.name("e132f96e-0000", "ev1");
        ids.name("i-1", "instance");
        ids.name("e132f96e-0000", "ev9");
        ids
    }

    #[test]
    fn ids_are_named_everywhere_and_long_values_are_cut() {
        let r = run().normalised(&ids());
        assert_eq!(r.event.as_deref(), Some("ev1"));
        let a = &r.actions[0];
        assert_eq!(
            a.inputs,
            json!({"uri": "http://x/v1/instances/instance/data/Customer", "event": "ev1"})
        );
        let Value::String(out) = &a.outputs else {
            panic!("a long output is cut to text: {}", a.outputs);
        };
        assert_eq!(out.chars().count(), REPORT_VALUE_CHARS_MAX + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn a_run_is_a_run_line_and_an_action_line_per_action_execution() {
        let lines = run().normalised(&ids()).transcript_lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            (
                1_000,
                "run       run1 When_done ev1 -> Failed in 2.5s error=throttled".to_owned()
            )
        );
        let (at, action) = &lines[1];
        assert_eq!(*at, 1_500);
        assert!(
            action.starts_with(
                "action    run1 Get_a_page[3] (Http) Failed 429 in 2s in={\"event\":\"ev1\",\"uri\":\"http://x/v1/instances/instance/data/Customer\"} out={\"body\":\"xxx"
            ),
            "{action}"
        );
        assert!(
            action.ends_with("… error=throttled note=failed at once"),
            "{action}"
        );
    }

    #[test]
    fn the_run_view_shows_each_action_with_its_inputs_and_outputs() {
        let text = run().normalised(&ids()).render(40);
        assert!(
            text.starts_with("run1 When_done ev1 -> Failed in 2.5s"),
            "{text}"
        );
        assert!(
            text.contains("  +500ms     Get_a_page[3] (Http) Failed 429 in 2s\n"),
            "{text}"
        );
        assert!(text.contains("      error:   throttled\n"), "{text}");
        assert!(text.contains("      note:    failed at once\n"), "{text}");
        assert!(text.ends_with("  run error: throttled\n"), "{text}");
    }
}
