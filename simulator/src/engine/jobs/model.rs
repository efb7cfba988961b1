//! Jobs and tasks as the engine keeps them, and as the jobs API and the payloads show them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::draw::AttemptOutcome;
use crate::engine::payload::{
    Common, ErrorEntry, FullRefreshPayload, Payload, StageSummary, TaskReport, TaskSummary,
    UnificationPayload,
};
use crate::engine::request::{OperationType, Outcome, SubmissionKind, Target};
use crate::engine::status::RunStatus;
use crate::engine::value::MeasureValue;
use crate::time::SimTime;

/// One entry of a task's `ciErrors` (the model's `CIResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiError {
    pub error_code: String,
    pub message: String,
    /// `system`, `user` or `external`.
    pub exception_culprit: Cow<'static, str>,
    /// `error`, `warning` or `recommendation`.
    pub result_severity: Cow<'static, str>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) op: OperationType,
    pub(crate) identifier: String,
    pub(crate) friendly_name: String,
    pub(crate) target: Target,
    /// Indices (in the job) of the tasks this one waits for.
    pub(crate) upstream: Vec<usize>,
    pub(crate) status: RunStatus,
    pub(crate) ended: Option<SimTime>,
    /// Attempts started so far.
    pub(crate) attempts: u32,
    pub(crate) forced: Option<Outcome>,
    /// How the running attempt will end (drawn when it started).
    pub(crate) pending: Option<AttemptOutcome>,
    pub(crate) errors: Vec<CiError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) id: String,
    /// What the job's seeded draws (task durations and outcomes) are keyed by: the id the job
    /// has without an id salt, so that salting ids (the harness does, per case) changes names
    /// and never a duration.
    pub(crate) draw_key: String,
    pub(crate) kind: SubmissionKind,
    pub(crate) op: OperationType,
    pub(crate) identifiers: Vec<String>,
    pub(crate) status: RunStatus,
    pub(crate) submitted: SimTime,
    pub(crate) ended: Option<SimTime>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) forced_counts: BTreeMap<usize, u64>,
    pub(crate) forced_values: BTreeMap<usize, MeasureValue>,
    /// Whether `unification-completed` has been decided for this job.
    pub(crate) unification_reported: bool,
}

impl Job {
    /// The indices of the job's unification tasks (`map`, `match`, `merge`, those it runs, in
    /// chain order), if it runs any.
    pub(crate) fn unification(&self) -> Option<Vec<usize>> {
        let chain: Vec<usize> = (0..self.tasks.len())
            .filter(|&t| self.tasks[t].op.is_unification())
            .collect();
        (!chain.is_empty()).then_some(chain)
    }

    /// The job status once every task is terminal: `aborted` if cancelled, `failed` if any task
    /// failed or timed out, `successful` if all succeeded, otherwise (only skips besides
    /// successes, which the graphs built here never produce) `skipped`.
    pub(crate) fn final_status(&self, cancelled: bool) -> RunStatus {
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
    pub(crate) fn view(&self) -> JobView {
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
pub(crate) const UNIFIED_ENTITY: &str = "Customer";
pub(crate) const EXPORT_IDENTIFIER: &str = "Exports";

impl Job {
    /// What the payload of a data source trigger says about task `t`.
    pub(crate) fn task_report(&self, t: usize) -> TaskReport {
        let task = &self.tasks[t];
        TaskReport {
            job_id: self.id.clone(),
            task_status: task.status,
            errors: task
                .errors
                .iter()
                .map(|e| ErrorEntry {
                    error_code: e.error_code.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        }
    }

    /// The payload of `full-refresh-completed` for this job.
    pub(crate) fn full_refresh_payload(&self, common: Common) -> Payload {
        let job = self;
        Payload::FullRefresh(FullRefreshPayload {
            common,
            job_id: job.id.clone(),
            job_type: "full".into(),
            job_submission_kind: job.kind,
            job_status: job.status,
            submitted_timestamp: job.submitted,
            end_timestamp: job.ended.unwrap_or(job.submitted),
            tasks: job
                .tasks
                .iter()
                .map(|t| TaskSummary {
                    operation_type: t.op,
                    identifier: t.identifier.clone(),
                    task_status: t.status,
                })
                .collect(),
        })
    }

    /// The payload of `unification-completed` for this job: its map, match and merge tasks (those
    /// it ran).
    pub(crate) fn unification_payload(
        &self,
        common: Common,
        now: SimTime,
        unified_customers: u64,
    ) -> Payload {
        let job = self;
        let chain: Vec<&Task> = job
            .unification()
            .map(|c| c.iter().map(|&t| &job.tasks[t]).collect())
            .unwrap_or_default();
        let task_status = chain
            .iter()
            .map(|t| t.status)
            .find(|&s| s != RunStatus::Successful)
            .unwrap_or(RunStatus::Successful);
        Payload::Unification(UnificationPayload {
            common,
            job_id: job.id.clone(),
            task_status,
            stages: chain
                .iter()
                .map(|t| StageSummary {
                    operation_type: t.op,
                    task_status: t.status,
                    end_timestamp: t.ended,
                })
                .collect(),
            unified_customer_count: unified_customers,
            end_timestamp: chain.iter().filter_map(|t| t.ended).max().unwrap_or(now),
        })
    }
}
