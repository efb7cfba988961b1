//! `insightsim definition check`: every construct of a definition that insightsim cannot run,
//! all at once, each with its JSON path.

use std::fmt;
use std::path::Path;

use crate::load::{LoadError, load_with};
use crate::model::JsonPath;
use crate::operations::OperationMap;

/// One thing insightsim cannot run, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path in the flow's definition file (`$.properties.definition.actions.X.type`).
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: &JsonPath, message: impl Into<String>) -> Problem {
        Problem {
            path: path.0.clone(),
            message: message.into(),
        }
    }
}

/// What `check` found in one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowReport {
    pub name: String,
    /// Where the flow was read (`export.zip!Microsoft.Flow/flows/<id>/definition.json`).
    pub source: String,
    pub format: String,
    pub trigger: Option<String>,
    pub actions: usize,
    pub problems: Vec<Problem>,
}

/// What `check` found in a file.
#[derive(Debug)]
pub struct Report {
    pub path: String,
    pub flows: Vec<FlowReport>,
    /// The file could not be read as a definition at all.
    pub error: Option<LoadError>,
}

impl Report {
    /// Whether every flow can run.
    pub fn is_ok(&self) -> bool {
        self.error.is_none() && self.flows.iter().all(|f| f.problems.is_empty())
    }

    /// Problems over all flows.
    pub fn problem_count(&self) -> usize {
        self.flows.iter().map(|f| f.problems.len()).sum()
    }
}

/// Checks the definition(s) in `path` against the built-in operation map.
pub fn check(path: &Path) -> Report {
    check_with(path, &OperationMap::built_in())
}

/// Checks the definition(s) in `path` against `map`.
pub fn check_with(path: &Path, map: &OperationMap) -> Report {
    let shown = path.display().to_string();
    match load_with(path, map) {
        Ok(flows) => Report {
            path: shown,
            flows: flows
                .iter()
                .map(|f| FlowReport {
                    name: f.name.clone(),
                    source: f.source.clone(),
                    format: f.format.to_string(),
                    trigger: f.definition.trigger.as_ref().map(|t| t.trigger_id.clone()),
                    actions: {
                        let mut all = Vec::new();
                        crate::model::walk(&f.definition.actions, &mut all);
                        all.len()
                    },
                    problems: f.problems.clone(),
                })
                .collect(),
            error: None,
        },
        Err(error) => Report {
            path: shown,
            flows: Vec::new(),
            error: Some(error),
        },
    }
}

impl fmt::Display for Report {
    /// For a terminal: a line per flow, then its problems indented, path first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.error {
            return writeln!(f, "{e}");
        }
        for flow in &self.flows {
            let trigger = flow.trigger.as_deref().unwrap_or("no runnable trigger");
            if flow.problems.is_empty() {
                writeln!(
                    f,
                    "ok    {} ({}; {}; {trigger}; {} action(s))",
                    flow.name, flow.source, flow.format, flow.actions
                )?;
            } else {
                writeln!(
                    f,
                    "FAIL  {} ({}; {}; {trigger}): {} unsupported construct(s)",
                    flow.name,
                    flow.source,
                    flow.format,
                    flow.problems.len()
                )?;
                for p in &flow.problems {
                    writeln!(f, "      {}", p.path)?;
                    writeln!(f, "        {}", p.message)?;
                }
            }
        }
        let flows = self.flows.len();
        let bad = self.flows.iter().filter(|f| !f.problems.is_empty()).count();
        writeln!(
            f,
            "{flows} flow(s), {} runnable, {bad} with {} problem(s)",
            flows - bad,
            self.problem_count()
        )
    }
}
