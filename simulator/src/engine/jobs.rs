//! Refresh jobs and their task graphs (the API model's `GraphJobInfo` and `GraphTaskInfo`).
//!
//! A job of `operationType = all` runs the whole refresh graph:
//!
//! ```text
//! ingestion(each data source) → map → match → merge → measures(each) ─┐
//!                                                  └→ segmentation(each) → export
//! ```
//!
//! Other operation types run a slice of it (only the named ingestion, segmentation or measures
//! tasks, with no upstream). This file builds jobs and shows them; `lifecycle.rs` runs them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::catalog::MeasureValue;
use super::error::EngineError;
use super::state::Engine;
use super::walk::AttemptOutcome;
use crate::ids;
use crate::time::SimTime;

/// A job or task status (the API model's `jobStatus` / `taskStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    Queued,
    Running,
    Successful,
    Failed,
    TimedOut,
    Skipped,
    Aborted,
}

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// Failed for good: `failed` or `timedOut`.
    pub fn is_failure(self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::TimedOut)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Successful => "successful",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timedOut",
            RunStatus::Skipped => "skipped",
            RunStatus::Aborted => "aborted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation a job or task performs (the subset of the model's `operationType` the
/// simulator runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationType {
    All,
    Ingestion,
    Map,
    Match,
    Merge,
    Measures,
    Segmentation,
    Export,
}

impl OperationType {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationType::All => "all",
            OperationType::Ingestion => "ingestion",
            OperationType::Map => "map",
            OperationType::Match => "match",
            OperationType::Merge => "merge",
            OperationType::Measures => "measures",
            OperationType::Segmentation => "segmentation",
            OperationType::Export => "export",
        }
    }

    /// Parses an `operationType` query value, case-insensitively (the docs write `Ingestion`).
    pub fn parse(text: &str) -> Result<OperationType, EngineError> {
        let all = [
            OperationType::All,
            OperationType::Ingestion,
            OperationType::Map,
            OperationType::Match,
            OperationType::Merge,
            OperationType::Measures,
            OperationType::Segmentation,
            OperationType::Export,
        ];
        all.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| EngineError::UnsupportedOperation {
                operation: text.to_owned(),
            })
    }
}

impl fmt::Display for OperationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who started a job (the model's `jobSubmissionKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubmissionKind {
    #[default]
    OnDemand,
    Scheduled,
}

/// A forced task outcome (control API and scenarios).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every attempt succeeds.
    Success,
    /// The first attempt fails permanently.
    Fail,
    /// The first attempt fails transiently; the retry succeeds (if the tenant allows a retry).
    Transient,
    /// The first attempt runs until the task timeout and ends `timedOut`.
    Timeout,
}

/// A forced measure value: a number for a measure without a dimension, an object of
/// dimension value → number for one with a dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ForcedMeasure {
    Value(f64),
    Values(BTreeMap<String, f64>),
}

/// What a job's tasks are forced to do instead of drawing from the tenant's rates and walks.
/// Names are matched case-insensitively; forcing for a task the job does not run has no effect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Forcing {
    /// Ingestion outcome per data source name.
    pub data_sources: BTreeMap<String, Outcome>,
    /// Outcome of the `map`, `match`, `merge` or `export` task.
    pub stages: BTreeMap<String, Outcome>,
    /// Outcome of a segment's segmentation task or a measure's measures task, by name.
    pub evaluations: BTreeMap<String, Outcome>,
    /// The member count a segment evaluates to.
    pub segments: BTreeMap<String, u64>,
    /// The value a measure evaluates to.
    pub measures: BTreeMap<String, ForcedMeasure>,
}

/// A job submission (the jobs API: `operationType`, `identifiers`, and the simulator's forcing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobRequest {
    pub operation_type: OperationType,
    /// Data source names (or ids) for `ingestion`, segment names for `segmentation`, measure
    /// names for `measures`; empty means all. Must be empty for `all`.
    #[serde(default)]
    pub identifiers: Vec<String>,
    #[serde(default)]
    pub submission_kind: SubmissionKind,
    #[serde(default)]
    pub forcing: Forcing,
}

impl JobRequest {
    pub fn new(operation_type: OperationType) -> JobRequest {
        JobRequest {
            operation_type,
            identifiers: Vec::new(),
            submission_kind: SubmissionKind::OnDemand,
            forcing: Forcing::default(),
        }
    }
}

/// `POST /_sim/refresh`: a full refresh now. `kind` defaults to `scheduled`, since this endpoint
/// stands in for the platform's scheduler (on-demand refreshes go through the jobs API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshRequest {
    pub kind: SubmissionKind,
    pub data_sources: BTreeMap<String, Outcome>,
    pub stages: BTreeMap<String, Outcome>,
    pub evaluations: BTreeMap<String, Outcome>,
    pub segments: BTreeMap<String, u64>,
    pub measures: BTreeMap<String, ForcedMeasure>,
}

impl Default for RefreshRequest {
    fn default() -> Self {
        RefreshRequest {
            kind: SubmissionKind::Scheduled,
            data_sources: BTreeMap::new(),
            stages: BTreeMap::new(),
            evaluations: BTreeMap::new(),
            segments: BTreeMap::new(),
            measures: BTreeMap::new(),
        }
    }
}

impl RefreshRequest {
    pub fn into_job_request(self) -> JobRequest {
        JobRequest {
            operation_type: OperationType::All,
            identifiers: Vec::new(),
            submission_kind: self.kind,
            forcing: Forcing {
                data_sources: self.data_sources,
                stages: self.stages,
                evaluations: self.evaluations,
                segments: self.segments,
                measures: self.measures,
            },
        }
    }
}

/// One entry of a task's `ciErrors` (the model's `CIResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CiError {
    pub error_code: String,
    pub message: String,
    /// `system`, `user` or `external`.
    pub exception_culprit: &'static str,
    /// `error`, `warning` or `recommendation`.
    pub result_severity: &'static str,
}

/// What a task acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Stage,
    DataSource(usize),
    Segment(usize),
    Measure(usize),
}

#[derive(Debug, Clone)]
pub(super) struct Task {
    pub(super) id: String,
    pub(super) op: OperationType,
    pub(super) identifier: String,
    pub(super) friendly_name: String,
    pub(super) target: Target,
    /// Indices (in the job) of the tasks this one waits for.
    pub(super) upstream: Vec<usize>,
    pub(super) status: RunStatus,
    pub(super) ended: Option<SimTime>,
    /// Attempts started so far.
    pub(super) attempts: u32,
    pub(super) forced: Option<Outcome>,
    /// How the running attempt will end (drawn when it started).
    pub(super) pending: Option<AttemptOutcome>,
    pub(super) errors: Vec<CiError>,
}

#[derive(Debug, Clone)]
pub(super) struct Job {
    pub(super) id: String,
    pub(super) kind: SubmissionKind,
    pub(super) op: OperationType,
    pub(super) identifiers: Vec<String>,
    pub(super) status: RunStatus,
    pub(super) submitted: SimTime,
    pub(super) ended: Option<SimTime>,
    pub(super) tasks: Vec<Task>,
    pub(super) forced_counts: BTreeMap<usize, u64>,
    pub(super) forced_values: BTreeMap<usize, MeasureValue>,
    /// Whether `unification-completed` has been decided for this job.
    pub(super) unification_reported: bool,
}

impl Job {
    /// The indices of the map, match and merge tasks, if this job runs them.
    pub(super) fn unification(&self) -> Option<[usize; 3]> {
        let find = |op| self.tasks.iter().position(|t| t.op == op);
        Some([
            find(OperationType::Map)?,
            find(OperationType::Match)?,
            find(OperationType::Merge)?,
        ])
    }

    /// The job status once every task is terminal: `aborted` if cancelled, `failed` if any task
    /// failed or timed out, `successful` if all succeeded, otherwise (only skips besides
    /// successes, which the graphs built here never produce) `skipped`.
    pub(super) fn final_status(&self, cancelled: bool) -> RunStatus {
        if cancelled {
            RunStatus::Aborted
        } else if self.tasks.iter().any(|t| t.status.is_failure()) {
            RunStatus::Failed
        } else if self.tasks.iter().all(|t| t.status == RunStatus::Successful) {
            RunStatus::Successful
        } else {
            RunStatus::Skipped
        }
    }
}

/// A job as the jobs API shows it (the model's `GraphJobInfo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub job_id: String,
    pub job_type: &'static str,
    pub job_submission_kind: SubmissionKind,
    pub job_status: RunStatus,
    pub operation_type: OperationType,
    pub sub_type: &'static str,
    pub submitted_timestamp: SimTime,
    pub end_timestamp: Option<SimTime>,
    pub should_force_run_requested_nodes: bool,
    pub tasks: Vec<TaskView>,
    pub id_list: Vec<String>,
}

/// A task as the jobs API shows it (the model's `GraphTaskInfo`, plus `identifier` from
/// `GraphNodeInfo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub task_id: String,
    pub task_status: RunStatus,
    pub operation_type: OperationType,
    pub sub_type: &'static str,
    pub identifier: String,
    pub friendly_name: String,
    pub job_ids: Vec<String>,
    pub submitted_timestamp: SimTime,
    pub end_timestamp: Option<SimTime>,
    pub ci_error: Option<CiError>,
    pub ci_errors: Vec<CiError>,
    pub waiting_task_ids: Vec<String>,
    pub additional_info: Option<AdditionalInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdditionalInfo {
    pub kind: &'static str,
}

impl Job {
    pub(super) fn view(&self) -> JobView {
        let tasks = self
            .tasks
            .iter()
            .map(|t| TaskView {
                task_id: t.id.clone(),
                task_status: t.status,
                operation_type: t.op,
                sub_type: "noSubType",
                identifier: t.identifier.clone(),
                friendly_name: t.friendly_name.clone(),
                job_ids: vec![self.id.clone()],
                submitted_timestamp: self.submitted,
                end_timestamp: t.ended,
                ci_error: t.errors.last().cloned(),
                ci_errors: t.errors.clone(),
                waiting_task_ids: if t.status == RunStatus::Queued {
                    t.upstream
                        .iter()
                        .filter(|&&u| !self.tasks[u].status.is_terminal())
                        .map(|&u| self.tasks[u].id.clone())
                        .collect()
                } else {
                    Vec::new()
                },
                additional_info: match t.op {
                    OperationType::Segmentation => Some("segmentation"),
                    OperationType::Measures => Some("measures"),
                    OperationType::Export => Some("export"),
                    OperationType::Merge => Some("merge"),
                    _ => None,
                }
                .map(|kind| AdditionalInfo { kind }),
            })
            .collect();
        JobView {
            job_id: self.id.clone(),
            job_type: "full",
            job_submission_kind: self.kind,
            job_status: self.status,
            operation_type: self.op,
            sub_type: "noSubType",
            submitted_timestamp: self.submitted,
            end_timestamp: self.ended,
            should_force_run_requested_nodes: true,
            tasks,
            id_list: self.identifiers.clone(),
        }
    }
}

/// The identifier of the unification and export tasks (they act on the unified `Customer`
/// table and on all exports respectively).
pub(super) const UNIFIED_ENTITY: &str = "Customer";
pub(super) const EXPORT_IDENTIFIER: &str = "Exports";

impl Engine {
    /// Builds a job (status `queued`, nothing started) from a request, or explains what is wrong
    /// with it.
    pub(super) fn plan_job(&mut self, now: SimTime, req: JobRequest) -> Result<Job, EngineError> {
        let selection = self.select(req.operation_type, &req.identifiers)?;
        let resolved = self.resolve_forcing(&req.forcing)?;
        let job_n = self.counters.jobs;
        self.counters.jobs += 1;
        let job_id = ids::uuid_n(self.id_seed, "job", job_n);
        let mut tasks: Vec<Task> = Vec::new();
        let mut add = |engine: &mut Engine,
                       op: OperationType,
                       identifier: String,
                       friendly_name: String,
                       target: Target,
                       upstream: Vec<usize>|
         -> usize {
            let n = engine.counters.tasks;
            engine.counters.tasks += 1;
            let forced = match target {
                Target::DataSource(i) => resolved.sources.get(&i).copied(),
                Target::Segment(i) => resolved.segments.get(&i).copied(),
                Target::Measure(i) => resolved.measures.get(&i).copied(),
                Target::Stage => resolved.stages.get(&op).copied(),
            };
            tasks.push(Task {
                id: ids::uuid_n(engine.id_seed, "task", n),
                op,
                identifier,
                friendly_name,
                target,
                upstream,
                status: RunStatus::Queued,
                ended: None,
                attempts: 0,
                forced,
                pending: None,
                errors: Vec::new(),
            });
            tasks.len() - 1
        };
        let sources: Vec<(String, String)> = selection
            .sources
            .iter()
            .map(|&i| {
                (
                    self.sources[i].name.clone(),
                    self.sources[i].friendly_name.clone(),
                )
            })
            .collect();
        let ingestion: Vec<usize> = selection
            .sources
            .iter()
            .zip(sources)
            .map(|(&i, (name, friendly))| {
                add(
                    self,
                    OperationType::Ingestion,
                    name,
                    friendly,
                    Target::DataSource(i),
                    vec![],
                )
            })
            .collect();
        let merge = if req.operation_type == OperationType::All {
            let map = add(
                self,
                OperationType::Map,
                UNIFIED_ENTITY.to_owned(),
                "Map".to_owned(),
                Target::Stage,
                ingestion.clone(),
            );
            let match_ = add(
                self,
                OperationType::Match,
                UNIFIED_ENTITY.to_owned(),
                "Match".to_owned(),
                Target::Stage,
                vec![map],
            );
            Some(add(
                self,
                OperationType::Merge,
                UNIFIED_ENTITY.to_owned(),
                "Merge".to_owned(),
                Target::Stage,
                vec![match_],
            ))
        } else {
            None
        };
        let after_merge: Vec<usize> = merge.into_iter().collect();
        for &i in &selection.measures {
            let (name, friendly) = (
                self.measures[i].name.clone(),
                self.measures[i].display_name.clone(),
            );
            add(
                self,
                OperationType::Measures,
                name,
                friendly,
                Target::Measure(i),
                after_merge.clone(),
            );
        }
        let mut segmentation = Vec::new();
        for &i in &selection.segments {
            let (name, friendly) = (
                self.segments[i].name.clone(),
                self.segments[i].friendly_name.clone(),
            );
            segmentation.push(add(
                self,
                OperationType::Segmentation,
                name,
                friendly,
                Target::Segment(i),
                after_merge.clone(),
            ));
        }
        if req.operation_type == OperationType::All {
            add(
                self,
                OperationType::Export,
                EXPORT_IDENTIFIER.to_owned(),
                "Export".to_owned(),
                Target::Stage,
                segmentation,
            );
        }
        Ok(Job {
            id: job_id,
            kind: req.submission_kind,
            op: req.operation_type,
            identifiers: req.identifiers,
            status: RunStatus::Queued,
            submitted: now,
            ended: None,
            tasks,
            forced_counts: resolved.counts,
            forced_values: resolved.values,
            unification_reported: false,
        })
    }

    /// Which data sources, measures and segments a job of `op` with `identifiers` runs.
    fn select(&self, op: OperationType, identifiers: &[String]) -> Result<Selection, EngineError> {
        let names: Vec<String> = identifiers
            .iter()
            .map(|s| s.trim().trim_matches('\'').trim_matches('"').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let all = |n: usize| (0..n).collect::<Vec<_>>();
        let mut selection = Selection::default();
        match op {
            OperationType::All => {
                if !names.is_empty() {
                    return Err(EngineError::invalid(
                        "identifiers",
                        "operationType all refreshes everything and takes no identifiers; \
                         use ingestion, segmentation or measures to refresh a part",
                    ));
                }
                selection.sources = all(self.sources.len());
                selection.measures = all(self.measures.len());
                selection.segments = all(self.segments.len());
            }
            OperationType::Ingestion => {
                selection.sources = if names.is_empty() {
                    all(self.sources.len())
                } else {
                    self.find_all(&names, "data source", |e, n| e.find_source(n))?
                };
            }
            OperationType::Segmentation => {
                selection.segments = if names.is_empty() {
                    all(self.segments.len())
                } else {
                    self.find_all(&names, "segment", |e, n| e.find_segment(n))?
                };
            }
            OperationType::Measures => {
                selection.measures = if names.is_empty() {
                    all(self.measures.len())
                } else {
                    self.find_all(&names, "measure", |e, n| e.find_measure(n))?
                };
            }
            other => {
                return Err(EngineError::UnsupportedOperation {
                    operation: other.as_str().to_owned(),
                });
            }
        }
        Ok(selection)
    }

    fn find_all(
        &self,
        names: &[String],
        kind: &'static str,
        find: impl Fn(&Engine, &str) -> Option<usize>,
    ) -> Result<Vec<usize>, EngineError> {
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for name in names {
            match find(self, name) {
                Some(i) if !found.contains(&i) => found.push(i),
                Some(_) => {}
                None => unknown.push(name.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(EngineError::unknown(kind, unknown, self.names_of(kind)));
        }
        found.sort_unstable();
        Ok(found)
    }

    fn resolve_forcing(&self, forcing: &Forcing) -> Result<ResolvedForcing, EngineError> {
        let mut out = ResolvedForcing::default();
        let mut unknown = Vec::new();
        for (name, &outcome) in &forcing.data_sources {
            match self.find_source(name) {
                Some(i) => {
                    out.sources.insert(i, outcome);
                }
                None => unknown.push(name.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(EngineError::unknown(
                "data source",
                unknown,
                self.names_of("data source"),
            ));
        }
        for (name, &outcome) in &forcing.stages {
            let op = OperationType::parse(name)
                .ok()
                .filter(|op| {
                    matches!(
                        op,
                        OperationType::Map
                            | OperationType::Match
                            | OperationType::Merge
                            | OperationType::Export
                    )
                })
                .ok_or_else(|| {
                    EngineError::unknown("stage", vec![name.clone()], self.names_of("stage"))
                })?;
            out.stages.insert(op, outcome);
        }
        for (name, &outcome) in &forcing.evaluations {
            if let Some(i) = self.find_segment(name) {
                out.segments.insert(i, outcome);
            } else if let Some(i) = self.find_measure(name) {
                out.measures.insert(i, outcome);
            } else {
                unknown.push(name.clone());
            }
        }
        if !unknown.is_empty() {
            return Err(EngineError::unknown(
                "segment or measure",
                unknown,
                self.names_of("segment or measure"),
            ));
        }
        for (name, &count) in &forcing.segments {
            let i = self.find_segment(name).ok_or_else(|| {
                EngineError::unknown("segment", vec![name.clone()], self.names_of("segment"))
            })?;
            out.counts
                .insert(i, self.check_count(&self.segments[i].name, count)?);
        }
        for (name, forced) in &forcing.measures {
            let i = self.find_measure(name).ok_or_else(|| {
                EngineError::unknown("measure", vec![name.clone()], self.names_of("measure"))
            })?;
            out.values.insert(i, self.forced_measure_value(i, forced)?);
        }
        Ok(out)
    }
}

#[derive(Debug, Default)]
struct Selection {
    sources: Vec<usize>,
    measures: Vec<usize>,
    segments: Vec<usize>,
}

#[derive(Debug, Default)]
struct ResolvedForcing {
    sources: BTreeMap<usize, Outcome>,
    stages: BTreeMap<OperationType, Outcome>,
    segments: BTreeMap<usize, Outcome>,
    measures: BTreeMap<usize, Outcome>,
    counts: BTreeMap<usize, u64>,
    values: BTreeMap<usize, MeasureValue>,
}
