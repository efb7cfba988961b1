//! From a definition's JSON to the model, recording every unsupported construct.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{
    Action, ActionKind, Actions, Cond, ConnectorCall, Definition, JsonPath, RetryPolicy, Status,
    Tmpl, Trigger, VariableDecl, parse_duration,
};
use crate::check::Problem;
use crate::expr::Template;
use crate::operations::{Connector, OperationMap};

/// The action types insightsim runs.
pub const ACTION_TYPES: &[&str] = &[
    "OpenApiConnection",
    "ApiConnection",
    "Http",
    "Compose",
    "InitializeVariable",
    "SetVariable",
    "IncrementVariable",
    "DecrementVariable",
    "AppendToArrayVariable",
    "AppendToStringVariable",
    "If",
    "Switch",
    "Foreach",
    "Until",
    "Scope",
    "Terminate",
    "Response",
    "ParseJson",
    "Query",
    "Select",
    "Join",
    "Table",
    "Wait",
];

/// Operation options that change nothing insightsim models.
const HARMLESS_OPTIONS: &[&str] = &[
    "DisableAsyncPattern",
    "SuppressWorkflowHeaders",
    "SuppressWorkflowHeadersOnResponse",
    "IncludeAuthorizationHeadersInOutputs",
    "DisableAutomaticDecompression",
    "Asynchronous",
];

/// Connection references: name → connector (`None`: a connector insightsim does not provide).
pub type Connections = BTreeMap<String, Option<Connector>>;

struct Ctx<'a> {
    connections: &'a Connections,
    map: &'a OperationMap,
    problems: Vec<Problem>,
    /// Iterations of a `Foreach` at once when it does not say: the platform's default.
    foreach_default: u32,
}

impl Ctx<'_> {
    fn problem(&mut self, path: &JsonPath, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn tmpl(&mut self, v: &Value, path: &JsonPath) -> Tmpl {
        Tmpl::parse(v, path, &mut self.problems)
    }

    fn tmpl_at(&mut self, o: &Map<String, Value>, key: &str, path: &JsonPath) -> Tmpl {
        match get(o, key) {
            Some(v) => self.tmpl(v, &path.key(key)),
            None => Tmpl::Null,
        }
    }
}

/// Looks up a key exactly, then ignoring case (definitions mix `runAfter` and `RunAfter`).
fn get<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn obj(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

/// Parses a definition (`{"triggers", "actions", "parameters", ...}`) at `path`.
pub fn parse_definition(
    def: &Value,
    path: &JsonPath,
    connections: &Connections,
    map: &OperationMap,
    foreach_default: u32,
) -> (Definition, Vec<Problem>) {
    let mut ctx = Ctx {
        connections,
        map,
        problems: Vec::new(),
        foreach_default,
    };
    let mut definition = Definition::default();
    let Some(o) = def.as_object() else {
        ctx.problem(path, "the definition is not a JSON object");
        return (definition, ctx.problems);
    };
    if let Some(params) = obj(get(o, "parameters")) {
        for (name, p) in params {
            if name == "$connections" || name == "$authentication" {
                continue;
            }
            let value = p
                .get("defaultValue")
                .or_else(|| p.get("value"))
                .cloned()
                .unwrap_or(Value::Null);
            definition.parameters.insert(name.clone(), value);
        }
    }
    let triggers_path = path.key("triggers");
    match obj(get(o, "triggers")) {
        None => ctx.problem(&triggers_path, "the definition has no trigger"),
        Some(t) if t.is_empty() => ctx.problem(&triggers_path, "the definition has no trigger"),
        Some(t) => {
            if t.len() > 1 {
                ctx.problem(
                    &triggers_path,
                    format!(
                        "the definition has {} triggers; a workflow has one",
                        t.len()
                    ),
                );
            }
            if let Some((name, trigger)) = t.iter().next() {
                definition.trigger =
                    parse_trigger(&mut ctx, name, trigger, &triggers_path.key(name));
            }
        }
    }
    let actions_path = path.key("actions");
    definition.actions = match get(o, "actions") {
        Some(a) => parse_actions(&mut ctx, a, &actions_path),
        None => Actions::new(),
    };
    let mut all = Vec::new();
    super::walk(&definition.actions, &mut all);
    check_references(&mut ctx, &definition, &all);
    (definition, ctx.problems)
}

/// The connection reference an action or trigger names: Power Automate's `host.connectionName`,
/// Logic Apps Standard's `host.connection.referenceName`, or Consumption's
/// `host.connection.name` (`@parameters('$connections')['name']['connectionId']`).
fn connection_name(inputs: &Map<String, Value>) -> Option<String> {
    let host = obj(get(inputs, "host"))?;
    if let Some(n) = get(host, "connectionName").and_then(Value::as_str) {
        return Some(n.to_owned());
    }
    let conn = obj(get(host, "connection"))?;
    if let Some(n) = get(conn, "referenceName").and_then(Value::as_str) {
        return Some(n.to_owned());
    }
    let name = get(conn, "name").and_then(Value::as_str)?;
    match name.split_once("$connections')['") {
        Some((_, rest)) => rest.split('\'').next().map(str::to_owned),
        None => Some(name.to_owned()),
    }
}

fn connector_of(ctx: &Ctx<'_>, inputs: &Map<String, Value>, reference: &str) -> Option<Connector> {
    if let Some(c) = ctx.connections.get(reference) {
        return *c;
    }
    let api = obj(get(inputs, "host"))
        .and_then(|h| get(h, "apiId"))
        .and_then(Value::as_str);
    api.and_then(Connector::of_api)
        .or_else(|| Connector::of_api(reference))
}

/// The shape of a Logic Apps path with expressions in it: each `@{...}` becomes `{}`, which
/// matches any parameter segment of a pattern.
fn path_shape(t: &Tmpl) -> Option<String> {
    match t {
        Tmpl::Str(Template::Literal(s)) => Some(s.clone()),
        Tmpl::Str(Template::Interp(parts)) => Some(
            parts
                .iter()
                .map(|p| match p {
                    crate::expr::Part::Text(s) => s.clone(),
                    crate::expr::Part::Expr(_) => "{}".to_owned(),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Whether a path shape fits a pattern (`{}` in the shape fits a `{name}` segment).
fn shape_fits(pattern: &str, method: &str, shape: &str) -> bool {
    let Some((pm, pp)) = pattern.split_once(' ') else {
        return false;
    };
    if !pm.eq_ignore_ascii_case(method) {
        return false;
    }
    let shape = shape.split('?').next().unwrap_or(shape);
    let want: Vec<&str> = pp.trim().trim_matches('/').split('/').collect();
    let got: Vec<&str> = shape.trim_matches('/').split('/').collect();
    want.len() == got.len()
        && want
            .iter()
            .zip(&got)
            .all(|(w, g)| (w.starts_with('{') && w.ends_with('}')) || w.eq_ignore_ascii_case(g))
}

fn parse_trigger(ctx: &mut Ctx<'_>, name: &str, t: &Value, path: &JsonPath) -> Option<Trigger> {
    let Some(o) = t.as_object() else {
        ctx.problem(path, "the trigger is not a JSON object");
        return None;
    };
    let ty = get(o, "type").and_then(Value::as_str).unwrap_or("");
    if !matches!(ty, "OpenApiConnectionWebhook" | "ApiConnectionWebhook") {
        ctx.problem(
            &path.key("type"),
            format!(
                "trigger type \"{ty}\" is not supported; insightsim runs flows started by one of the Customer Insights connector's webhook triggers (OpenApiConnectionWebhook in Power Automate, ApiConnectionWebhook in Logic Apps)"
            ),
        );
        return None;
    }
    let inputs_path = path.key("inputs");
    let empty = Map::new();
    let inputs = obj(get(o, "inputs")).unwrap_or(&empty);
    let connection = connection_name(inputs).unwrap_or_default();
    let connector = connector_of(ctx, inputs, &connection);
    if connector != Some(Connector::CustomerInsights) {
        ctx.problem(
            &inputs_path.key("host"),
            format!(
                "the trigger uses the connection \"{connection}\", which is not the Customer Insights connector; insightsim provides the Customer Insights triggers only"
            ),
        );
        return None;
    }
    let mut subscription_inputs = Vec::new();
    let op = if ty == "OpenApiConnectionWebhook" {
        let id = obj(get(inputs, "host"))
            .and_then(|h| get(h, "operationId"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let op = ctx.map.trigger_by_id(id).cloned();
        if let Some(params) = obj(get(inputs, "parameters")) {
            for (k, v) in params {
                let key = k.strip_prefix("body/").unwrap_or(k);
                if key == "dataset" || key.eq_ignore_ascii_case("NotificationUrl") {
                    continue;
                }
                let t = ctx.tmpl(v, &inputs_path.key("parameters").key(k));
                subscription_inputs.push((key.to_owned(), t));
            }
        }
        if op.is_none() {
            ctx.problem(
                &inputs_path.key("host").key("operationId"),
                format!(
                    "unknown trigger operation \"{id}\" of the Customer Insights connector; the known ones are {} (map yours with --operation-map FILE, see docs/flow-definitions.md)",
                    ctx.map.known_triggers()
                ),
            );
        }
        op
    } else {
        let method = get(inputs, "method")
            .and_then(Value::as_str)
            .unwrap_or("POST");
        let path_t = ctx.tmpl_at(inputs, "path", &inputs_path);
        let shape = path_shape(&path_t).unwrap_or_default();
        let op = ctx
            .map
            .triggers
            .iter()
            .find(|t| shape_fits(&t.path, method, &shape))
            .cloned();
        if let Some(body) = obj(get(inputs, "body")) {
            for (k, v) in body {
                if k.eq_ignore_ascii_case("NotificationUrl") {
                    continue;
                }
                let t = ctx.tmpl(v, &inputs_path.key("body").key(k));
                subscription_inputs.push((k.clone(), t));
            }
        }
        if op.is_none() {
            ctx.problem(
                &inputs_path.key("path"),
                format!(
                    "unknown trigger path \"{method} {shape}\" of the Customer Insights connector; the known triggers are {} (map yours with --operation-map FILE, see docs/flow-definitions.md)",
                    ctx.map.known_triggers()
                ),
            );
        }
        op
    };
    let op = op?;
    for (k, _) in &subscription_inputs {
        if !op.inputs.iter().any(|i| i.eq_ignore_ascii_case(k)) {
            ctx.problem(
                &inputs_path.key(k),
                format!(
                    "the trigger {} has no input \"{k}\"; its inputs are {}",
                    op.id,
                    if op.inputs.is_empty() {
                        "none".to_owned()
                    } else {
                        op.inputs.join(", ")
                    }
                ),
            );
        }
    }
    let split_on = get(o, "splitOn").map(|v| ctx.tmpl(v, &path.key("splitOn")));
    let mut conditions = Vec::new();
    if let Some(conds) = get(o, "conditions").and_then(Value::as_array) {
        for (i, c) in conds.iter().enumerate() {
            let p = path.key("conditions").index(i);
            match c.get("expression") {
                Some(e) => conditions.push(ctx.tmpl(e, &p.key("expression"))),
                None => ctx.problem(&p, "a trigger condition needs an \"expression\""),
            }
        }
    }
    let concurrency = runtime_concurrency(ctx, o, path, "runs", RUNS_MAX);
    check_options(ctx, o, path, &[]);
    Some(Trigger {
        name: name.to_owned(),
        path: path.clone(),
        connection,
        trigger_id: op.trigger.clone(),
        inputs: subscription_inputs,
        split_on,
        conditions,
        concurrency,
    })
}

/// The most runs of a trigger at once (`runtimeConfiguration.concurrency.runs`): Power
/// Automate's limits page allows 1 to 100.
const RUNS_MAX: u64 = 100;
/// The most iterations of a `Foreach` at once (`repetitions`): 1 to 50 on both platforms' limits
/// pages.
const FOREACH_MAX: u64 = 50;

/// `runtimeConfiguration.concurrency.<key>` (`runs` for triggers, `repetitions` for loops),
/// from 1 to `max`.
fn runtime_concurrency(
    ctx: &mut Ctx<'_>,
    o: &Map<String, Value>,
    path: &JsonPath,
    key: &str,
    max: u64,
) -> Option<u32> {
    let rc = obj(get(o, "runtimeConfiguration"))?;
    let c = obj(get(rc, "concurrency"))?;
    let v = get(c, key)?;
    let p = path.key("runtimeConfiguration").key("concurrency").key(key);
    match v.as_u64().filter(|n| (1..=max).contains(n)) {
        Some(n) => u32::try_from(n).ok(),
        None => {
            ctx.problem(
                &p,
                format!("concurrency {key} must be a whole number from 1 to {max}, not {v}"),
            );
            None
        }
    }
}

fn check_options(ctx: &mut Ctx<'_>, o: &Map<String, Value>, path: &JsonPath, allowed: &[&str]) {
    let Some(opts) = get(o, "operationOptions").and_then(Value::as_str) else {
        return;
    };
    for opt in opts.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let known = allowed
            .iter()
            .chain(HARMLESS_OPTIONS)
            .any(|a| a.eq_ignore_ascii_case(opt));
        if !known {
            ctx.problem(
                &path.key("operationOptions"),
                format!("operation option \"{opt}\" is not supported here"),
            );
        }
    }
}

fn parse_actions(ctx: &mut Ctx<'_>, v: &Value, path: &JsonPath) -> Actions {
    let mut out = Actions::new();
    let Some(o) = v.as_object() else {
        ctx.problem(path, "actions must be a JSON object of named actions");
        return out;
    };
    for (name, a) in o {
        if let Some(action) = parse_action(ctx, name, a, &path.key(name)) {
            out.insert(name.clone(), action);
        }
    }
    out
}

fn parse_action(ctx: &mut Ctx<'_>, name: &str, a: &Value, path: &JsonPath) -> Option<Action> {
    let Some(o) = a.as_object() else {
        ctx.problem(path, "the action is not a JSON object");
        return None;
    };
    let ty = get(o, "type").and_then(Value::as_str).unwrap_or("");
    let ip = path.key("inputs");
    let empty = Map::new();
    let inputs_v = get(o, "inputs");
    let inputs = obj(inputs_v).unwrap_or(&empty);
    let mut run_after = Vec::new();
    if let Some(ra) = obj(get(o, "runAfter")) {
        for (pred, statuses) in ra {
            let p = path.key("runAfter").key(pred);
            let mut list = Vec::new();
            for s in statuses.as_array().map(Vec::as_slice).unwrap_or_default() {
                match s.as_str().and_then(Status::parse) {
                    Some(st) => list.push(st),
                    None => ctx.problem(
                        &p,
                        format!(
                            "runAfter status {s} is not Succeeded, Failed, Skipped or TimedOut"
                        ),
                    ),
                }
            }
            if list.is_empty() {
                list.push(Status::Succeeded);
            }
            run_after.push((pred.clone(), list));
        }
    }
    let retry = match get(inputs, "retryPolicy") {
        Some(r) => parse_retry(ctx, r, &ip.key("retryPolicy")),
        None => None,
    };
    let timeout_ms = obj(get(o, "limit"))
        .and_then(|l| get(l, "timeout"))
        .and_then(|t| match t.as_str().map(parse_duration) {
            Some(Ok(ms)) => Some(ms),
            _ => {
                ctx.problem(
                    &path.key("limit").key("timeout"),
                    format!("limit.timeout {t} is not an ISO 8601 duration such as PT1M"),
                );
                None
            }
        });
    let pagination = obj(get(o, "runtimeConfiguration"))
        .and_then(|rc| obj(get(rc, "paginationPolicy")))
        .and_then(|p| get(p, "minimumItemCount"))
        .and_then(Value::as_u64);
    let children = |ctx: &mut Ctx<'_>, key: &str| match get(o, key) {
        Some(v) => parse_actions(ctx, v, &path.key(key)),
        None => Actions::new(),
    };
    let var_name = |ctx: &mut Ctx<'_>| match get(inputs, "name").and_then(Value::as_str) {
        Some(n) => n.to_owned(),
        None => {
            ctx.problem(&ip.key("name"), "the variable action needs a \"name\"");
            String::new()
        }
    };
    let kind = match ty {
        "OpenApiConnection" | "ApiConnection" => {
            parse_connector(ctx, ty, inputs, &ip).map(ActionKind::Connector)?
        }
        "Http" => ActionKind::Http {
            inputs: ctx.tmpl(inputs_v.unwrap_or(&Value::Null), &ip),
        },
        "Compose" => ActionKind::Compose {
            inputs: ctx.tmpl(inputs_v.unwrap_or(&Value::Null), &ip),
        },
        "InitializeVariable" => {
            let mut variables = Vec::new();
            let list = get(inputs, "variables").and_then(Value::as_array);
            for (i, v) in list
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let p = ip.key("variables").index(i);
                let Some(vo) = v.as_object() else {
                    ctx.problem(&p, "a variable must be a JSON object");
                    continue;
                };
                let name = get(vo, "name").and_then(Value::as_str).unwrap_or("");
                let ty = get(vo, "type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if name.is_empty() {
                    ctx.problem(&p.key("name"), "the variable needs a name");
                }
                if !matches!(
                    ty.as_str(),
                    "string" | "integer" | "float" | "boolean" | "array" | "object"
                ) {
                    ctx.problem(
                        &p.key("type"),
                        format!("variable type \"{ty}\" is not string, integer, float, boolean, array or object"),
                    );
                }
                let value = get(vo, "value").map(|x| ctx.tmpl(x, &p.key("value")));
                variables.push(VariableDecl {
                    name: name.to_owned(),
                    ty,
                    value,
                });
            }
            if variables.is_empty() {
                ctx.problem(
                    &ip.key("variables"),
                    "InitializeVariable declares no variable",
                );
            }
            ActionKind::InitializeVariable { variables }
        }
        "SetVariable" => ActionKind::SetVariable {
            name: var_name(ctx),
            value: ctx.tmpl_at(inputs, "value", &ip),
        },
        "IncrementVariable" | "DecrementVariable" => ActionKind::IncrementVariable {
            name: var_name(ctx),
            value: get(inputs, "value").map(|v| ctx.tmpl(v, &ip.key("value"))),
            sign: if ty == "IncrementVariable" { 1 } else { -1 },
        },
        "AppendToArrayVariable" => ActionKind::AppendToArrayVariable {
            name: var_name(ctx),
            value: ctx.tmpl_at(inputs, "value", &ip),
        },
        "AppendToStringVariable" => ActionKind::AppendToStringVariable {
            name: var_name(ctx),
            value: ctx.tmpl_at(inputs, "value", &ip),
        },
        "If" => {
            let expression = match get(o, "expression") {
                Some(e) => parse_cond(ctx, e, &path.key("expression")),
                None => {
                    ctx.problem(path, "the condition has no \"expression\"");
                    Cond::Value(Tmpl::Bool(false))
                }
            };
            let actions = children(ctx, "actions");
            let else_actions = match obj(get(o, "else")) {
                Some(e) => match get(e, "actions") {
                    Some(v) => parse_actions(ctx, v, &path.key("else").key("actions")),
                    None => Actions::new(),
                },
                None => Actions::new(),
            };
            ActionKind::If {
                expression,
                actions,
                else_actions,
            }
        }
        "Switch" => {
            let expression = ctx.tmpl_at(o, "expression", path);
            let mut cases = Vec::new();
            if let Some(cs) = obj(get(o, "cases")) {
                for (case_name, c) in cs {
                    let p = path.key("cases").key(case_name);
                    let value = c.get("case").cloned().unwrap_or(Value::Null);
                    if !matches!(value, Value::String(_) | Value::Number(_)) {
                        ctx.problem(&p.key("case"), "a case value must be a string or a number");
                    }
                    let actions = match c.get("actions") {
                        Some(a) => parse_actions(ctx, a, &p.key("actions")),
                        None => Actions::new(),
                    };
                    cases.push((case_name.clone(), value, actions));
                }
            }
            let default = match obj(get(o, "default")).and_then(|d| get(d, "actions")) {
                Some(a) => parse_actions(ctx, a, &path.key("default").key("actions")),
                None => Actions::new(),
            };
            ActionKind::Switch {
                expression,
                cases,
                default,
            }
        }
        "Foreach" => {
            check_options(ctx, o, path, &["Sequential"]);
            let sequential = get(o, "operationOptions")
                .and_then(Value::as_str)
                .is_some_and(|s| {
                    s.split(',')
                        .any(|x| x.trim().eq_ignore_ascii_case("Sequential"))
                });
            let concurrency = runtime_concurrency(ctx, o, path, "repetitions", FOREACH_MAX);
            ActionKind::Foreach {
                items: ctx.tmpl_at(o, "foreach", path),
                actions: children(ctx, "actions"),
                concurrency: if sequential {
                    1
                } else {
                    concurrency.unwrap_or(ctx.foreach_default)
                },
            }
        }
        "Until" => {
            let expression = match get(o, "expression") {
                Some(e) => parse_cond(ctx, e, &path.key("expression")),
                None => {
                    ctx.problem(path, "the Until loop has no \"expression\"");
                    Cond::Value(Tmpl::Bool(true))
                }
            };
            let limit = obj(get(o, "limit"));
            let count = match limit.and_then(|l| get(l, "count")) {
                None => 60,
                Some(c) => match c.as_u64() {
                    Some(n @ 1..=5000) => n as u32,
                    _ => {
                        ctx.problem(
                            &path.key("limit").key("count"),
                            format!("the Until count must be from 1 to 5000, not {c}"),
                        );
                        60
                    }
                },
            };
            let timeout_ms = match limit
                .and_then(|l| get(l, "timeout"))
                .and_then(Value::as_str)
            {
                None => 3_600_000,
                Some(t) => parse_duration(t).unwrap_or_else(|e| {
                    ctx.problem(&path.key("limit").key("timeout"), e);
                    3_600_000
                }),
            };
            ActionKind::Until {
                expression,
                count,
                timeout_ms,
                actions: children(ctx, "actions"),
            }
        }
        "Scope" => ActionKind::Scope {
            actions: children(ctx, "actions"),
        },
        "Terminate" => {
            let status = get(inputs, "runStatus")
                .and_then(Value::as_str)
                .and_then(Status::parse)
                .filter(|s| matches!(s, Status::Succeeded | Status::Failed | Status::Cancelled))
                .unwrap_or_else(|| {
                    ctx.problem(
                        &ip.key("runStatus"),
                        "Terminate needs runStatus Succeeded, Failed or Cancelled",
                    );
                    Status::Failed
                });
            ActionKind::Terminate {
                status,
                error: get(inputs, "runError").map(|e| ctx.tmpl(e, &ip.key("runError"))),
            }
        }
        "Response" => ActionKind::Response {
            inputs: ctx.tmpl(inputs_v.unwrap_or(&Value::Null), &ip),
        },
        "ParseJson" => ActionKind::ParseJson {
            content: ctx.tmpl_at(inputs, "content", &ip),
            schema: get(inputs, "schema").cloned().unwrap_or(Value::Null),
        },
        "Query" => ActionKind::Query {
            from: ctx.tmpl_at(inputs, "from", &ip),
            filter: ctx.tmpl_at(inputs, "where", &ip),
        },
        "Select" => ActionKind::Select {
            from: ctx.tmpl_at(inputs, "from", &ip),
            select: ctx.tmpl_at(inputs, "select", &ip),
        },
        "Join" => ActionKind::Join {
            from: ctx.tmpl_at(inputs, "from", &ip),
            join_with: ctx.tmpl_at(inputs, "joinWith", &ip),
        },
        "Table" => {
            let format = get(inputs, "format")
                .and_then(Value::as_str)
                .unwrap_or("CSV")
                .to_ascii_uppercase();
            if format != "CSV" && format != "HTML" {
                ctx.problem(&ip.key("format"), "a table's format is CSV or HTML");
            }
            let columns = get(inputs, "columns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let p = ip.key("columns").index(i);
                            let header = match c.get("header") {
                                Some(h) => ctx.tmpl(h, &p.key("header")),
                                None => Tmpl::Str(Template::Literal(String::new())),
                            };
                            let value = match c.get("value") {
                                Some(v) => ctx.tmpl(v, &p.key("value")),
                                None => Tmpl::Null,
                            };
                            (header, value)
                        })
                        .collect()
                });
            ActionKind::Table {
                from: ctx.tmpl_at(inputs, "from", &ip),
                format,
                columns,
            }
        }
        "Wait" => {
            let interval = obj(get(inputs, "interval")).map(|i| {
                let p = ip.key("interval");
                (ctx.tmpl_at(i, "count", &p), ctx.tmpl_at(i, "unit", &p))
            });
            let until =
                obj(get(inputs, "until")).map(|u| ctx.tmpl_at(u, "timestamp", &ip.key("until")));
            if interval.is_none() && until.is_none() {
                ctx.problem(
                    &ip,
                    "Wait needs an interval {count, unit} or until {timestamp}",
                );
            }
            ActionKind::Wait { interval, until }
        }
        other => {
            ctx.problem(
                &path.key("type"),
                format!(
                    "action type \"{other}\" is not supported; the supported types are {}",
                    ACTION_TYPES.join(", ")
                ),
            );
            return None;
        }
    };
    if !matches!(kind, ActionKind::Foreach { .. }) {
        check_options(ctx, o, path, &[]);
    }
    Some(Action {
        name: name.to_owned(),
        path: path.clone(),
        run_after,
        kind,
        retry,
        timeout_ms,
        pagination,
    })
}

fn parse_connector(
    ctx: &mut Ctx<'_>,
    ty: &str,
    inputs: &Map<String, Value>,
    ip: &JsonPath,
) -> Option<ConnectorCall> {
    let Some(connection) = connection_name(inputs) else {
        ctx.problem(
            &ip.key("host"),
            "the action names no connection (inputs.host)",
        );
        return None;
    };
    let Some(connector) = connector_of(ctx, inputs, &connection) else {
        ctx.problem(
            &ip.key("host"),
            format!(
                "the connection \"{connection}\" is of a connector insightsim does not provide; it provides Customer Insights (customerinsights), Microsoft Teams (teams) and Office 365 Outlook (office365); call any other service with an HTTP action, which goes to the HTTP sink"
            ),
        );
        return None;
    };
    if ty == "OpenApiConnection" {
        let id = obj(get(inputs, "host"))
            .and_then(|h| get(h, "operationId"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(op) = ctx.map.by_id(connector, id) else {
            ctx.problem(
                &ip.key("host").key("operationId"),
                format!(
                    "unknown operation \"{id}\" of the {} connector; the known ones are {} (map yours with --operation-map FILE, see docs/flow-definitions.md)",
                    connector.id(),
                    ctx.map.known(connector)
                ),
            );
            return None;
        };
        let operation = op.id.clone();
        let params = match get(inputs, "parameters") {
            Some(p) => ctx.tmpl(p, &ip.key("parameters")),
            None => Tmpl::Object(Vec::new()),
        };
        Some(ConnectorCall {
            connection,
            connector,
            operation,
            inputs: params,
            logic_apps: false,
        })
    } else {
        let method = get(inputs, "method")
            .and_then(Value::as_str)
            .unwrap_or("get")
            .to_owned();
        // Only what the call is made of: the host names the connection (resolved above), and
        // `$connections` is the platform's, not a parameter a run can read.
        let mut call = inputs.clone();
        for k in ["host", "retryPolicy", "authentication"] {
            call.remove(k);
        }
        let all = ctx.tmpl(&Value::Object(call), ip);
        let shape = all.get("path").and_then(path_shape).unwrap_or_default();
        let Some(op) = ctx
            .map
            .operations
            .iter()
            .find(|o| o.connector == connector && shape_fits(&o.path, &method, &shape))
        else {
            ctx.problem(
                &ip.key("path"),
                format!(
                    "unknown operation \"{} {shape}\" of the {} connector; the known ones are {} (map yours with --operation-map FILE, see docs/flow-definitions.md)",
                    method.to_ascii_uppercase(),
                    connector.id(),
                    ctx.map.known(connector)
                ),
            );
            return None;
        };
        Some(ConnectorCall {
            connection,
            connector,
            operation: op.id.clone(),
            inputs: all,
            logic_apps: true,
        })
    }
}

fn parse_retry(ctx: &mut Ctx<'_>, r: &Value, path: &JsonPath) -> Option<RetryPolicy> {
    let ty = r
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let dur = |ctx: &mut Ctx<'_>, key: &str, default: i64| -> i64 {
        match r.get(key).and_then(Value::as_str) {
            None => default,
            Some(t) => parse_duration(t).unwrap_or_else(|e| {
                ctx.problem(&path.key(key), e);
                default
            }),
        }
    };
    let count = |ctx: &mut Ctx<'_>| -> u32 {
        match r.get("count") {
            None => 4,
            Some(c) => match c.as_u64() {
                Some(n @ 1..=90) => n as u32,
                _ => {
                    ctx.problem(
                        &path.key("count"),
                        format!("retry count must be from 1 to 90, not {c}"),
                    );
                    4
                }
            },
        }
    };
    match ty.as_str() {
        "none" => Some(RetryPolicy::None),
        "fixed" => {
            let count = count(ctx);
            let interval_ms = dur(ctx, "interval", 20_000);
            Some(RetryPolicy::Fixed { count, interval_ms })
        }
        "exponential" => {
            let count = count(ctx);
            let interval_ms = dur(ctx, "interval", 7_500);
            let min_ms = dur(ctx, "minimumInterval", 5_000);
            let max_ms = dur(ctx, "maximumInterval", 86_400_000);
            Some(RetryPolicy::Exponential {
                count,
                interval_ms,
                min_ms,
                max_ms,
            })
        }
        "" => None,
        other => {
            ctx.problem(
                &path.key("type"),
                format!("retry policy type \"{other}\" is not none, fixed or exponential"),
            );
            None
        }
    }
}

fn parse_cond(ctx: &mut Ctx<'_>, v: &Value, path: &JsonPath) -> Cond {
    match v {
        Value::Object(o) if o.len() == 1 => {
            let Some((op, args)) = o.iter().next() else {
                return Cond::Value(Tmpl::Null);
            };
            let known = matches!(
                op.to_ascii_lowercase().as_str(),
                "and"
                    | "or"
                    | "not"
                    | "equals"
                    | "greater"
                    | "greaterorequals"
                    | "less"
                    | "lessorequals"
                    | "contains"
                    | "startswith"
                    | "endswith"
                    | "empty"
            );
            if !known {
                ctx.problem(
                    &path.key(op),
                    format!("condition operator \"{op}\" is not supported"),
                );
            }
            let p = path.key(op);
            let args = match args {
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .map(|(i, x)| parse_cond(ctx, x, &p.index(i)))
                    .collect(),
                single => vec![parse_cond(ctx, single, &p)],
            };
            Cond::Op {
                op: op.clone(),
                args,
            }
        }
        other => Cond::Value(ctx.tmpl(other, path)),
    }
}

/// runAfter names that do not exist at the action's level, cycles, and references to actions
/// and variables that do not exist anywhere.
fn check_references(ctx: &mut Ctx<'_>, def: &Definition, all: &[&Action]) {
    let names: BTreeSet<&str> = all.iter().map(|a| a.name.as_str()).collect();
    check_level(ctx, &def.actions);
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for a in all {
        if let ActionKind::InitializeVariable { variables } = &a.kind {
            declared.extend(variables.iter().map(|v| v.name.to_ascii_lowercase()));
        }
    }
    for a in all {
        let var = match &a.kind {
            ActionKind::SetVariable { name, .. }
            | ActionKind::IncrementVariable { name, .. }
            | ActionKind::AppendToArrayVariable { name, .. }
            | ActionKind::AppendToStringVariable { name, .. } => Some(name),
            _ => None,
        };
        if let Some(v) = var
            && !v.is_empty()
            && !declared.contains(&v.to_ascii_lowercase())
        {
            ctx.problem(
                &a.path.key("inputs").key("name"),
                format!("the variable \"{v}\" is never initialized (add an InitializeVariable action at the top level)"),
            );
        }
    }
    let _ = names;
}

fn check_level(ctx: &mut Ctx<'_>, level: &Actions) {
    for a in level.values() {
        for (pred, _) in &a.run_after {
            if !level.contains_key(pred) {
                let here: Vec<&str> = level.keys().map(String::as_str).collect();
                ctx.problem(
                    &a.path.key("runAfter").key(pred),
                    format!(
                        "runAfter names \"{pred}\", which is not an action at this level ({})",
                        here.join(", ")
                    ),
                );
            }
        }
        for child in a.kind.children() {
            check_level(ctx, child);
        }
    }
    // A cycle leaves actions that never become ready.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    loop {
        let ready: Vec<&str> = level
            .values()
            .filter(|a| !done.contains(a.name.as_str()))
            .filter(|a| {
                a.run_after
                    .iter()
                    .all(|(p, _)| done.contains(p.as_str()) || !level.contains_key(p))
            })
            .map(|a| a.name.as_str())
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready);
    }
    for a in level.values() {
        if !done.contains(a.name.as_str()) {
            ctx.problem(
                &a.path.key("runAfter"),
                "runAfter makes a cycle: this action waits, directly or not, for itself",
            );
        }
    }
}
