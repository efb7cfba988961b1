//! The workflow's bodies: jobs, tasks and nodes (`GraphJobInfo`, `GraphTaskInfo`,
//! `GraphNodeInfo`) and their enums.

use schemars::JsonSchema;

use super::common::DateTime;
use super::errors::CiError;
// The enums are the engine's own (they derive `JsonSchema`), so the document describes exactly
// what the engine serialises.
pub use crate::engine::{OperationType, RunStatus, SubmissionKind};

/// The model's `GraphJobInfo`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub job_type: String,
    pub job_submission_kind: SubmissionKind,
    pub job_status: RunStatus,
    pub operation_type: OperationType,
    pub sub_type: String,
    pub submitted_timestamp: DateTime,
    pub end_timestamp: Option<DateTime>,
    pub should_force_run_requested_nodes: bool,
    /// Present unless `includeTasks=false` (absent by default in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<Task>>,
    pub id_list: Vec<String>,
}

/// The model's `GraphTaskInfo`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Task {
    pub task_id: String,
    pub task_status: RunStatus,
    pub operation_type: OperationType,
    pub sub_type: String,
    pub identifier: String,
    pub friendly_name: String,
    pub job_ids: Vec<String>,
    pub submitted_timestamp: DateTime,
    pub end_timestamp: Option<DateTime>,
    pub ci_error: Option<CiError>,
    pub ci_errors: Vec<CiError>,
    pub waiting_task_ids: Vec<String>,
    pub additional_info: Option<AdditionalInfo>,
}

/// The model's `GraphNodeInfo`: one node of the workflow and its latest task.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    pub operation_type: OperationType,
    pub sub_type: String,
    pub identifier: String,
    pub friendly_name: String,
    /// The job of the latest task.
    pub job_ids: Vec<String>,
    pub task_status: RunStatus,
    /// The job of the latest successful task.
    pub last_success_job_ids: Vec<String>,
    pub end_timestamp: Option<DateTime>,
    pub last_successful_timestamp: Option<DateTime>,
    pub ci_error: Option<CiError>,
    pub ci_errors: Vec<CiError>,
    pub additional_info: Option<AdditionalInfo>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AdditionalInfo {
    pub kind: String,
}

/// The model's `WorkflowRefreshSchedule`, as the simulator answers it.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshSchedule {
    pub operation_type: OperationType,
    /// `noSubType`.
    pub sub_type: String,
    pub identifiers: Vec<String>,
    /// `full`.
    pub job_type: String,
    pub is_active: bool,
    /// `UTC`.
    pub timezone_id: String,
    /// Cron expressions (5 fields, or 6 with seconds first), evaluated in UTC.
    pub cron_schedules: Vec<String>,
    pub schedule_id: String,
    pub instance_id: String,
}

/// The body of a schedule to create (the model's `WorkflowRefreshSchedule`; `scheduleId` and
/// `instanceId` are ignored).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleRequest {
    /// What to refresh (default `all`).
    #[serde(default)]
    pub operation_type: Option<OperationType>,
    /// `noSubType` (the only one simulated).
    #[serde(default)]
    pub sub_type: Option<String>,
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// `full` (the only one simulated).
    #[serde(default)]
    pub job_type: Option<String>,
    /// Default true.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// `UTC` (the only one supported).
    #[serde(default)]
    pub timezone_id: Option<String>,
    /// At least one cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6
    /// with seconds first.
    #[schemars(length(min = 1))]
    pub cron_schedules: Vec<String>,
    #[serde(default)]
    pub schedule_id: Option<String>,
    #[serde(default)]
    pub instance_id: Option<String>,
}

/// The model's `TimezoneDetail`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TimezoneDetail {
    pub id: String,
    pub name: String,
}
