//! Trigger payloads: the flat JSON bodies a flow receives (SPEC 3.4). Typed structs, so the
//! field order on the wire is the order written here: the common fields first, then the
//! trigger's own.

use serde::Serialize;

use super::catalog::{RefreshState, json_number};
use super::jobs::{OperationType, RunStatus, SubmissionKind, Target};
use super::state::Engine;
use crate::time::SimTime;

/// Fields every payload starts with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Common {
    /// Identifies the occurrence and subscription pair: a redelivery or a duplicate carries the
    /// same id.
    pub event_id: String,
    /// The trigger id.
    pub event_type: &'static str,
    pub subscription_id: String,
    pub instance_id: String,
    pub occurred_at: SimTime,
}

/// A trigger payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    DataSource(DataSourcePayload),
    Segment(SegmentPayload),
    Measure(MeasurePayload),
    FullRefresh(FullRefreshPayload),
    Unification(UnificationPayload),
}

impl Payload {
    pub fn common(&self) -> &Common {
        match self {
            Payload::DataSource(p) => &p.common,
            Payload::Segment(p) => &p.common,
            Payload::Measure(p) => &p.common,
            Payload::FullRefresh(p) => &p.common,
            Payload::Unification(p) => &p.common,
        }
    }
}

/// `datasource-refresh-failed` and `datasource-refresh-succeeded`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSourcePayload {
    #[serde(flatten)]
    pub common: Common,
    pub data_source_id: String,
    pub data_source_name: String,
    pub friendly_name: String,
    pub job_id: String,
    pub task_status: RunStatus,
    pub refresh_state: RefreshState,
    pub last_refresh: Option<SimTime>,
    pub errors: Vec<ErrorEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry {
    pub error_code: String,
    pub message: String,
}

/// `segment-threshold-crossed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentPayload {
    #[serde(flatten)]
    pub common: Common,
    pub segment_name: String,
    pub friendly_name: String,
    /// The subscription's threshold, as the subscriber wrote it.
    pub threshold: serde_json::Number,
    pub previous_count: u64,
    pub entity_count: u64,
    pub evaluation_date: SimTime,
    pub job_id: String,
}

/// `measure-threshold-crossed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasurePayload {
    #[serde(flatten)]
    pub common: Common,
    pub measure_name: String,
    pub display_name: String,
    pub threshold: serde_json::Number,
    pub previous_value: serde_json::Number,
    pub value: serde_json::Number,
    pub evaluation_time: SimTime,
    pub job_id: String,
}

/// `full-refresh-completed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FullRefreshPayload {
    #[serde(flatten)]
    pub common: Common,
    pub job_id: String,
    pub job_type: &'static str,
    pub job_submission_kind: SubmissionKind,
    pub job_status: RunStatus,
    pub submitted_timestamp: SimTime,
    pub end_timestamp: SimTime,
    pub tasks: Vec<TaskSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub operation_type: OperationType,
    pub identifier: String,
    pub task_status: RunStatus,
}

/// `unification-completed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnificationPayload {
    #[serde(flatten)]
    pub common: Common,
    pub job_id: String,
    /// `successful`, or the status of the first of map, match, merge that did not succeed.
    pub task_status: RunStatus,
    pub stages: Vec<StageSummary>,
    pub unified_customer_count: u64,
    pub end_timestamp: SimTime,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSummary {
    pub operation_type: OperationType,
    pub task_status: RunStatus,
    pub end_timestamp: Option<SimTime>,
}

impl Engine {
    pub(super) fn data_source_payload(&self, common: Common, j: usize, t: usize) -> Payload {
        let job = &self.jobs[j];
        let task = &job.tasks[t];
        let i = match task.target {
            Target::DataSource(i) => i,
            _ => 0,
        };
        let ds = &self.sources[i];
        Payload::DataSource(DataSourcePayload {
            common,
            data_source_id: ds.id.clone(),
            data_source_name: ds.name.clone(),
            friendly_name: ds.friendly_name.clone(),
            job_id: job.id.clone(),
            task_status: task.status,
            refresh_state: ds.refresh_state,
            last_refresh: ds.last_refresh,
            errors: task
                .errors
                .iter()
                .map(|e| ErrorEntry {
                    error_code: e.error_code.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        })
    }

    pub(super) fn segment_payload(
        &self,
        common: Common,
        i: usize,
        threshold: &serde_json::Number,
        previous: u64,
        job_id: &str,
    ) -> Payload {
        let s = &self.segments[i];
        Payload::Segment(SegmentPayload {
            common,
            segment_name: s.name.clone(),
            friendly_name: s.friendly_name.clone(),
            threshold: threshold.clone(),
            previous_count: previous,
            entity_count: s.count,
            evaluation_date: s.latest.evaluation_date,
            job_id: job_id.to_owned(),
        })
    }

    pub(super) fn measure_payload(
        &self,
        common: Common,
        i: usize,
        threshold: &serde_json::Number,
        previous: f64,
        value: f64,
        job_id: &str,
    ) -> Payload {
        let m = &self.measures[i];
        Payload::Measure(MeasurePayload {
            common,
            measure_name: m.name.clone(),
            display_name: m.display_name.clone(),
            threshold: threshold.clone(),
            previous_value: json_number(previous),
            value: json_number(value),
            evaluation_time: m.latest.end_time,
            job_id: job_id.to_owned(),
        })
    }

    pub(super) fn full_refresh_payload(&self, common: Common, j: usize) -> Payload {
        let job = &self.jobs[j];
        Payload::FullRefresh(FullRefreshPayload {
            common,
            job_id: job.id.clone(),
            job_type: "full",
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

    pub(super) fn unification_payload(&self, common: Common, j: usize, now: SimTime) -> Payload {
        let job = &self.jobs[j];
        let chain: Vec<&super::jobs::Task> = job
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
            unified_customer_count: self.spec.customers as u64,
            end_timestamp: chain.iter().filter_map(|t| t.ended).max().unwrap_or(now),
        })
    }
}
