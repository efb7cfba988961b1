//! A flow definition as the runtime sees it: one trigger, a graph of actions, parameters and
//! connection references. Built from the JSON by [`parse_definition`], which records every
//! construct insightsim cannot run as a [`Problem`](crate::check::Problem) instead of stopping.

mod duration;
mod parse;
mod tmpl;

use std::collections::BTreeMap;

use serde_json::Value;

pub use duration::{format_duration, parse_duration};
pub use parse::{ACTION_TYPES, Connections, parse_definition};
pub use tmpl::{JsonPath, Tmpl, parse_string};

use crate::operations::Connector;

/// An action's or a run's status, as the run history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Succeeded,
    Failed,
    Skipped,
    TimedOut,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::Skipped => "Skipped",
            Status::TimedOut => "TimedOut",
            Status::Cancelled => "Cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Succeeded,
            Status::Failed,
            Status::Skipped,
            Status::TimedOut,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workflow definition.
#[derive(Debug, Clone, Default)]
pub struct Definition {
    /// Declared parameters with their default values (`$connections` and `$authentication`
    /// excluded).
    pub parameters: BTreeMap<String, Value>,
    /// `None` when the definition has no trigger insightsim can run (see the problems).
    pub trigger: Option<Trigger>,
    pub actions: Actions,
}

/// The actions of one level (the workflow, a scope, a branch, a loop body), by name.
pub type Actions = BTreeMap<String, Action>;

/// The trigger: one of the connector's webhook triggers.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub name: String,
    pub path: JsonPath,
    /// The connection reference the subscription is made with.
    pub connection: String,
    /// The simulator's trigger id (`segment-threshold-crossed`).
    pub trigger_id: String,
    /// The subscription's inputs (`segmentName`, `threshold`, ...), without `NotificationUrl`.
    pub inputs: Vec<(String, Tmpl)>,
    pub split_on: Option<Tmpl>,
    /// Trigger conditions: a run starts only when each is true.
    pub conditions: Vec<Tmpl>,
    /// `runtimeConfiguration.concurrency.runs`: runs at once (`None`: no limit).
    pub concurrency: Option<u32>,
}

impl Trigger {
    /// The inputs bound to a workflow parameter (`"segmentName": "@parameters('Segment')"`):
    /// `(input, parameter)`. Turning the flow on for a scenario sets those parameters from the
    /// scenario's requested subscription, as a deployment sets a flow's parameters.
    pub fn parameter_bindings(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.bound_parameter()?.to_owned())))
            .collect()
    }
}

/// One action.
#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub path: JsonPath,
    /// Predecessors and the statuses that let this action run after them.
    pub run_after: Vec<(String, Vec<Status>)>,
    pub kind: ActionKind,
    /// `inputs.retryPolicy` (`None`: the platform default, where the action retries at all).
    pub retry: Option<RetryPolicy>,
    /// `limit.timeout`, in milliseconds.
    pub timeout_ms: Option<i64>,
    /// `runtimeConfiguration.paginationPolicy.minimumItemCount`.
    pub pagination: Option<u64>,
}

/// A retry policy (`inputs.retryPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    None,
    Fixed {
        count: u32,
        interval_ms: i64,
    },
    Exponential {
        count: u32,
        interval_ms: i64,
        min_ms: i64,
        max_ms: i64,
    },
}

impl RetryPolicy {
    /// The platform default: exponential, 4 retries, intervals scaled by 7.5 s and kept between
    /// 5 s and 45 s (LA-ERR, the prose of "Retry policies").
    pub const DEFAULT: RetryPolicy = RetryPolicy::Exponential {
        count: 4,
        interval_ms: 7_500,
        min_ms: 5_000,
        max_ms: 45_000,
    };
}

/// What a branch condition or loop condition is: an expression string, or the designer's
/// object form (`{"and": [{"greater": ["@x", 10]}]}`).
#[derive(Debug, Clone)]
pub enum Cond {
    Value(Tmpl),
    Op { op: String, args: Vec<Cond> },
}

/// A variable declared by `InitializeVariable`.
#[derive(Debug, Clone)]
pub struct VariableDecl {
    pub name: String,
    /// `string`, `integer`, `float`, `boolean`, `array` or `object` (lower case).
    pub ty: String,
    pub value: Option<Tmpl>,
}

/// A connector or sink call of an action, resolved against the operation map.
#[derive(Debug, Clone)]
pub struct ConnectorCall {
    /// The connection reference (its own bearer token for the Customer Insights API).
    pub connection: String,
    pub connector: Connector,
    /// The operation's id in the operation map.
    pub operation: String,
    /// Power Automate's `parameters`, or Logic Apps' `{method, path, queries, body}`.
    pub inputs: Tmpl,
    /// Logic Apps form: the path pattern's names for the evaluated path.
    pub logic_apps: bool,
}

#[derive(Debug, Clone)]
pub enum ActionKind {
    Connector(ConnectorCall),
    Http {
        inputs: Tmpl,
    },
    Compose {
        inputs: Tmpl,
    },
    InitializeVariable {
        variables: Vec<VariableDecl>,
    },
    SetVariable {
        name: String,
        value: Tmpl,
    },
    IncrementVariable {
        name: String,
        value: Option<Tmpl>,
        sign: i64,
    },
    AppendToArrayVariable {
        name: String,
        value: Tmpl,
    },
    AppendToStringVariable {
        name: String,
        value: Tmpl,
    },
    If {
        expression: Cond,
        actions: Actions,
        else_actions: Actions,
    },
    Switch {
        expression: Tmpl,
        cases: Vec<(String, Value, Actions)>,
        default: Actions,
    },
    Foreach {
        items: Tmpl,
        actions: Actions,
        /// Iterations at once: 1 for `Sequential`, else `repetitions`, else the platform's
        /// default ([`Format::foreach_default`](crate::Format::foreach_default)).
        concurrency: u32,
    },
    Until {
        expression: Cond,
        count: u32,
        timeout_ms: i64,
        actions: Actions,
    },
    Scope {
        actions: Actions,
    },
    Terminate {
        status: Status,
        error: Option<Tmpl>,
    },
    Response {
        inputs: Tmpl,
    },
    ParseJson {
        content: Tmpl,
        schema: Value,
    },
    Query {
        from: Tmpl,
        filter: Tmpl,
    },
    Select {
        from: Tmpl,
        select: Tmpl,
    },
    Join {
        from: Tmpl,
        join_with: Tmpl,
    },
    Table {
        from: Tmpl,
        format: String,
        columns: Option<Vec<(Tmpl, Tmpl)>>,
    },
    Wait {
        interval: Option<(Tmpl, Tmpl)>,
        until: Option<Tmpl>,
    },
}

impl ActionKind {
    /// The nested action levels (branches, loop bodies, scopes).
    pub fn children(&self) -> Vec<&Actions> {
        match self {
            ActionKind::If {
                actions,
                else_actions,
                ..
            } => vec![actions, else_actions],
            ActionKind::Switch { cases, default, .. } => {
                let mut v: Vec<&Actions> = cases.iter().map(|(_, _, a)| a).collect();
                v.push(default);
                v
            }
            ActionKind::Foreach { actions, .. }
            | ActionKind::Until { actions, .. }
            | ActionKind::Scope { actions } => vec![actions],
            _ => Vec::new(),
        }
    }

    /// The WDL type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            ActionKind::Connector(c) if c.logic_apps => "ApiConnection",
            ActionKind::Connector(_) => "OpenApiConnection",
            ActionKind::Http { .. } => "Http",
            ActionKind::Compose { .. } => "Compose",
            ActionKind::InitializeVariable { .. } => "InitializeVariable",
            ActionKind::SetVariable { .. } => "SetVariable",
            ActionKind::IncrementVariable { sign, .. } if *sign < 0 => "DecrementVariable",
            ActionKind::IncrementVariable { .. } => "IncrementVariable",
            ActionKind::AppendToArrayVariable { .. } => "AppendToArrayVariable",
            ActionKind::AppendToStringVariable { .. } => "AppendToStringVariable",
            ActionKind::If { .. } => "If",
            ActionKind::Switch { .. } => "Switch",
            ActionKind::Foreach { .. } => "Foreach",
            ActionKind::Until { .. } => "Until",
            ActionKind::Scope { .. } => "Scope",
            ActionKind::Terminate { .. } => "Terminate",
            ActionKind::Response { .. } => "Response",
            ActionKind::ParseJson { .. } => "ParseJson",
            ActionKind::Query { .. } => "Query",
            ActionKind::Select { .. } => "Select",
            ActionKind::Join { .. } => "Join",
            ActionKind::Table { .. } => "Table",
            ActionKind::Wait { .. } => "Wait",
        }
    }
}

/// Every action of a level and of the levels inside it.
pub fn walk<'a>(actions: &'a Actions, out: &mut Vec<&'a Action>) {
    for a in actions.values() {
        out.push(a);
        for child in a.kind.children() {
            walk(child, out);
        }
    }
}
