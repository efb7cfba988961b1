//! What a flow definition is for, read from the definition itself: the trigger it subscribes to
//! and the inputs it sets, where its effects go (the actions that post to Teams, send an e-mail or
//! call an HTTP endpoint that is not the Customer Insights API), which fields of the trigger's
//! payload those effects carry, and the entity it pages through when it exports one.
//!
//! The harness turns an [`Intent`] into the flow's manifest, so that a definition is held to the
//! same behavioural checks as any flow (`harness::flow::definition::manifest_of`).
//!
//! ```
//! use std::path::Path;
//!
//! let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/definitions");
//! let flow = flowdef::load(&dir.join("teams-on-refresh-failure.json")).unwrap().remove(0);
//! let intent = flowdef::intent(&flow, &flowdef::OperationMap::built_in()).unwrap();
//! assert_eq!(intent.trigger, "datasource-refresh-failed");
//! assert_eq!(intent.inputs, ["dataSourceName"]);
//! assert_eq!(intent.sinks(), [flowdef::Sink::Teams]);
//! assert!(intent.echo.contains(&"dataSourceName".to_owned()));
//! assert_eq!(intent.exports, None);
//! ```
//!
//! It reads the definition, not a run, so it stays on the safe side: a trigger field counts as
//! carried only where it reaches the effect as it is (the whole of an expression, or an argument
//! of a function that passes it through, such as `concat` or `coalesce`), directly or through
//! `Compose`, variables and the data operations; a value reformatted on the way (`formatDateTime`)
//! is not required to arrive verbatim.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::expr::{Expr, FixedScope, Template};
use crate::load::LoadedFlow;
use crate::model::{Action, ActionKind, Actions, ConnectorCall, Tmpl};
use crate::operations::{OperationMap, Sink, match_path};
use crate::runtime::api_path_of;

/// What a definition says it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The simulator's id of the trigger it subscribes to (`segment-threshold-crossed`).
    pub trigger: String,
    /// The trigger inputs the definition sets, bound to a parameter or written as literals, as
    /// the operation map spells them (`segmentName`, `threshold`).
    pub inputs: Vec<String>,
    /// The actions whose call reaches a downstream connector, in the definition's order.
    pub effects: Vec<Effect>,
    /// The fields of the trigger's payload the effects carry as they are, sorted.
    pub echo: Vec<String>,
    /// The entity the flow pages through and sends on: read with Get items (or an `Http`
    /// action to the API's `data/<entity>`) inside a loop or with a pagination policy.
    pub exports: Option<String>,
}

/// One action whose call goes to a downstream connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub action: String,
    pub sink: Sink,
}

impl Intent {
    /// The downstream connectors the effects go to, each once, sorted.
    pub fn sinks(&self) -> Vec<Sink> {
        let set: BTreeSet<Sink> = self.effects.iter().map(|e| e.sink).collect();
        set.into_iter().collect()
    }
}

/// What `flow` is for, read from its definition; `None` when it has no trigger insightsim runs.
pub fn intent(flow: &LoadedFlow, map: &OperationMap) -> Option<Intent> {
    let trigger = flow.definition.trigger.as_ref()?;
    let canonical: Vec<String> = map
        .triggers
        .iter()
        .find(|t| t.trigger == trigger.trigger_id)
        .map(|t| t.inputs.clone())
        .unwrap_or_default();
    let mut inputs: Vec<String> = Vec::new();
    for (k, _) in &trigger.inputs {
        let name = canonical
            .iter()
            .find(|c| c.eq_ignore_ascii_case(k))
            .cloned()
            .unwrap_or_else(|| k.clone());
        if !inputs.contains(&name) {
            inputs.push(name);
        }
    }
    let mut parameters = flow.definition.parameters.clone();
    for (k, v) in &flow.parameter_values {
        parameters.insert(k.clone(), v.clone());
    }
    let reader = Reader {
        map,
        scope: FixedScope {
            parameters,
            ..FixedScope::default()
        },
    };
    let mut visits = Vec::new();
    reader.visit(&flow.definition.actions, false, &mut visits);
    let effects: Vec<Effect> = visits
        .iter()
        .filter_map(|v| match &v.role {
            Role::Effect(sink, _) => Some(Effect {
                action: v.action.name.clone(),
                sink: *sink,
            }),
            _ => None,
        })
        .collect();
    let exports = visits.iter().find_map(|v| match &v.role {
        Role::Pages(entity) => Some(entity.clone()),
        _ => None,
    });
    let mut all = Vec::new();
    crate::model::walk(&flow.definition.actions, &mut all);
    let mut sources = Sources::default();
    for v in &visits {
        if let Role::Effect(_, carried) = &v.role {
            for t in carried {
                sources.add_tmpl(t);
            }
        }
    }
    let echo = sources.fields_through(&all);
    Some(Intent {
        trigger: trigger.trigger_id.clone(),
        inputs,
        effects,
        echo,
        exports,
    })
}

/// What one action is, for the intent.
enum Role<'a> {
    /// It calls a downstream connector with these values.
    Effect(Sink, Vec<&'a Tmpl>),
    /// It reads pages of this entity.
    Pages(String),
    Other,
}

struct Visit<'a> {
    action: &'a Action,
    role: Role<'a>,
}

/// Reads actions with the definition's parameters (the only values known before a run).
struct Reader<'m> {
    map: &'m OperationMap,
    scope: FixedScope,
}

impl Reader<'_> {
    fn visit<'a>(&self, actions: &'a Actions, in_loop: bool, out: &mut Vec<Visit<'a>>) {
        // Actions of a level are kept by name, so this order is stable, if not the file's.
        for a in actions.values() {
            out.push(Visit {
                action: a,
                role: self.role(a, in_loop),
            });
            let inner = in_loop
                || matches!(
                    a.kind,
                    ActionKind::Foreach { .. } | ActionKind::Until { .. }
                );
            for child in a.kind.children() {
                self.visit(child, inner, out);
            }
        }
    }

    fn role<'a>(&self, a: &'a Action, in_loop: bool) -> Role<'a> {
        match &a.kind {
            ActionKind::Connector(call) => self.connector_role(a, call, in_loop),
            ActionKind::Http { inputs } => {
                let uri = inputs.get("uri").and_then(|u| self.text(u));
                match uri.as_deref().and_then(api_path_of) {
                    Some(path) => match entity_of(&path) {
                        Some(entity) if in_loop => Role::Pages(entity),
                        _ => Role::Other,
                    },
                    // Anything but the API goes to the `http` sink, and so does a URL only a
                    // run can tell: the sink receives the body.
                    None => Role::Effect(Sink::Http, inputs.get("body").into_iter().collect()),
                }
            }
            _ => Role::Other,
        }
    }

    fn connector_role<'a>(
        &self,
        a: &'a Action,
        call: &'a ConnectorCall,
        in_loop: bool,
    ) -> Role<'a> {
        let Some(op) = self.map.by_id(call.connector, &call.operation) else {
            return Role::Other;
        };
        if let Some(sink) = op.sink {
            // Power Automate's parameters go to the sink as they are; Logic Apps' body does.
            let carried = if call.logic_apps {
                call.inputs.get("body").into_iter().collect()
            } else {
                vec![&call.inputs]
            };
            return Role::Effect(sink, carried);
        }
        let reads_pages = op.api.as_deref() == Some("GET data/{table}") && !op.key_filter;
        if !reads_pages || !(in_loop || a.pagination.is_some()) {
            return Role::Other;
        }
        let table = if call.logic_apps {
            let method = call.inputs.get("method").and_then(|m| self.text(m));
            let path = call.inputs.get("path").and_then(|p| self.text(p));
            method
                .zip(path)
                .and_then(|(m, p)| match_path(&op.path, &m, &p))
                .and_then(|params| params.get("table").cloned())
        } else {
            call.inputs.get("table").and_then(|t| self.text(t))
        };
        table.map_or(Role::Other, Role::Pages)
    }

    /// The text of a value known before a run (a literal, or an expression of parameters).
    fn text(&self, t: &Tmpl) -> Option<String> {
        match t.eval(&self.scope).ok()? {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// `Customer` for `data/Customer?$top=100`.
fn entity_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("data/")?;
    let entity = rest.split(['?', '/']).next()?;
    (!entity.is_empty()).then(|| entity.to_owned())
}

/// Where the values of an effect come from, as far as the definition shows.
#[derive(Default)]
struct Sources {
    fields: BTreeSet<String>,
    actions: BTreeSet<String>,
    variables: BTreeSet<String>,
}

impl Sources {
    fn add_tmpl(&mut self, t: &Tmpl) {
        match t {
            Tmpl::Str(template @ (Template::Expr(_) | Template::Interp(_))) => {
                for e in template.exprs() {
                    self.carried(e);
                }
            }
            Tmpl::Array(items) => items.iter().for_each(|x| self.add_tmpl(x)),
            Tmpl::Object(pairs) => pairs.iter().for_each(|(_, x)| self.add_tmpl(x)),
            _ => {}
        }
    }

    /// The sources of a value that reaches the effect as `e` gives it.
    fn carried(&mut self, e: &Expr) {
        if let Some(field) = trigger_field(e) {
            self.fields.insert(field);
            return;
        }
        match e {
            Expr::Call { name, args } => {
                let lower = name.to_ascii_lowercase();
                let first = match args.first() {
                    Some(Expr::Str(s)) => Some(s.clone()),
                    _ => None,
                };
                match lower.as_str() {
                    "outputs" | "body" | "actions" | "actionoutputs" | "actionbody" => {
                        self.actions.extend(first);
                    }
                    "variables" => self.variables.extend(first),
                    "concat" | "string" | "coalesce" | "tolower" | "toupper" | "trim"
                    | "createarray" | "union" => args.iter().for_each(|a| self.carried(a)),
                    "if" => args.iter().skip(1).for_each(|a| self.carried(a)),
                    _ => {}
                }
            }
            // A part of another action's output: that action's sources.
            Expr::Index { target, .. } | Expr::Member { target, .. } => {
                if let Expr::Call { name, args } = root(target)
                    && let Some(Expr::Str(s)) = args.first()
                {
                    match name.to_ascii_lowercase().as_str() {
                        "outputs" | "body" | "actions" | "actionoutputs" | "actionbody" => {
                            self.actions.insert(s.clone());
                        }
                        "variables" => {
                            self.variables.insert(s.clone());
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// The trigger fields carried, following the actions and variables the values pass
    /// through (`Compose`, variables, the data operations; a connector's or HTTP action's
    /// output is the service's answer, not what was sent, so it is not followed).
    fn fields_through(mut self, all: &[&Action]) -> Vec<String> {
        let mut seen_actions = BTreeSet::new();
        let mut seen_variables = BTreeSet::new();
        loop {
            let actions: Vec<String> = self
                .actions
                .iter()
                .filter(|a| !seen_actions.contains(*a))
                .cloned()
                .collect();
            let variables: Vec<String> = self
                .variables
                .iter()
                .filter(|v| !seen_variables.contains(*v))
                .cloned()
                .collect();
            if actions.is_empty() && variables.is_empty() {
                break;
            }
            for name in actions {
                if let Some(a) = all.iter().find(|a| a.name == name) {
                    for t in passed_on(&a.kind) {
                        self.add_tmpl(t);
                    }
                }
                seen_actions.insert(name);
            }
            for name in variables {
                for a in all {
                    for t in assigned(&a.kind, &name) {
                        self.add_tmpl(t);
                    }
                }
                seen_variables.insert(name);
            }
        }
        self.fields.into_iter().collect()
    }
}

/// The values an action passes on as its output.
fn passed_on(kind: &ActionKind) -> Vec<&Tmpl> {
    match kind {
        ActionKind::Compose { inputs } => vec![inputs],
        ActionKind::Select { select, .. } => vec![select],
        ActionKind::Join { from, .. }
        | ActionKind::Query { from, .. }
        | ActionKind::Table { from, .. } => vec![from],
        ActionKind::ParseJson { content, .. } => vec![content],
        _ => Vec::new(),
    }
}

/// The values an action gives the variable `name`.
fn assigned<'a>(kind: &'a ActionKind, name: &str) -> Vec<&'a Tmpl> {
    match kind {
        ActionKind::InitializeVariable { variables } => variables
            .iter()
            .filter(|v| v.name.eq_ignore_ascii_case(name))
            .filter_map(|v| v.value.as_ref())
            .collect(),
        ActionKind::SetVariable { name: n, value }
        | ActionKind::AppendToArrayVariable { name: n, value }
        | ActionKind::AppendToStringVariable { name: n, value }
            if n.eq_ignore_ascii_case(name) =>
        {
            vec![value]
        }
        _ => Vec::new(),
    }
}

/// The call an access chain starts from (`outputs('X')` in `outputs('X')?['body']?['a']`).
fn root(e: &Expr) -> &Expr {
    match e {
        Expr::Index { target, .. } | Expr::Member { target, .. } => root(target),
        other => other,
    }
}

/// The keys of an access chain below its root, outermost last.
fn keys(e: &Expr, out: &mut Vec<String>) -> Option<()> {
    match e {
        Expr::Index { target, index, .. } => {
            keys(target, out)?;
            match index.as_ref() {
                Expr::Str(k) => out.push(k.clone()),
                _ => return None,
            }
        }
        Expr::Member { target, name, .. } => {
            keys(target, out)?;
            out.push(name.clone());
        }
        Expr::Call { args, .. } if args.is_empty() => {}
        _ => return None,
    }
    Some(())
}

/// The payload field a trigger access reads: `triggerBody()?['x']`, `triggerBody().x`,
/// `triggerOutputs()?['body/x']`, `triggerOutputs()?['body']?['x']`, `trigger().outputs.body.x`.
fn trigger_field(e: &Expr) -> Option<String> {
    let Expr::Call { name, args } = root(e) else {
        return None;
    };
    if !args.is_empty() {
        return None;
    }
    let mut path = Vec::new();
    keys(e, &mut path)?;
    let lower: Vec<String> = path.iter().map(|k| k.to_ascii_lowercase()).collect();
    let field = match (name.to_ascii_lowercase().as_str(), lower.as_slice()) {
        ("triggerbody", [_]) => path.pop(),
        ("triggeroutputs", [one]) => one
            .strip_prefix("body/")
            .filter(|f| !f.contains('/'))
            .map(|_| path[0]["body/".len()..].to_owned()),
        ("triggeroutputs", [body, _]) if body == "body" => path.pop(),
        ("trigger", [outputs, body, _]) if outputs == "outputs" && body == "body" => path.pop(),
        _ => None,
    }?;
    Some(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse_expr;

    fn field(text: &str) -> Option<String> {
        trigger_field(&parse_expr(text).unwrap())
    }

    #[test]
    fn a_trigger_field_is_read_in_every_spelling() {
        assert_eq!(
            field("triggerBody()?['segmentName']").as_deref(),
            Some("segmentName")
        );
        assert_eq!(field("triggerBody().value").as_deref(), Some("value"));
        assert_eq!(
            field("triggerOutputs()?['body/jobId']").as_deref(),
            Some("jobId")
        );
        assert_eq!(
            field("triggerOutputs()['body']['jobId']").as_deref(),
            Some("jobId")
        );
        assert_eq!(
            field("trigger().outputs.body.eventId").as_deref(),
            Some("eventId")
        );
        assert_eq!(field("triggerBody()?['errors'][0]"), None);
        assert_eq!(field("triggerOutputs()?['headers/x']"), None);
        assert_eq!(field("body('X')?['a']"), None);
    }

    #[test]
    fn only_values_that_pass_through_are_carried() {
        let mut s = Sources::default();
        for text in [
            "concat('x', triggerBody()?['a'])",
            "coalesce(triggerBody()?['b'], 'none')",
            "if(equals(triggerBody()?['c'], 1), triggerBody()?['d'], 'e')",
            "formatDateTime(triggerBody()?['f'], 'yyyy')",
            "outputs('Compose')?['body']",
            "variables('v')",
        ] {
            s.carried(&parse_expr(text).unwrap());
        }
        assert_eq!(
            s.fields.iter().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b", "d"]
        );
        assert!(s.actions.contains("Compose") && s.variables.contains("v"));
    }

    #[test]
    fn the_entity_of_an_api_path_is_its_first_segment_below_data() {
        assert_eq!(
            entity_of("data/Customer?$top=100").as_deref(),
            Some("Customer")
        );
        assert_eq!(entity_of("data/Customer/123").as_deref(), Some("Customer"));
        assert_eq!(entity_of("manage/entities"), None);
        assert_eq!(entity_of("data/"), None);
    }
}
