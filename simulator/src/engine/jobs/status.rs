//! The workflow's status and history, as the API model's `GraphNodeInfo` and `GraphTaskInfo`
//! lists, computed from the jobs (`workflows/{name}/status` and `…/history`).
//!
//! A node is one thing the graph refreshes: an `(operationType, identifier)` pair (`ingestion`
//! of `PoS`, `merge` of `Customer`, `segmentation` of `ChurnRisk`). The status lists each node a
//! job of the simulator has run, with its latest task; the tenant's refreshes before the
//! simulator started are not simulated, so a node no job has run yet is not listed.

use serde::Serialize;

use super::model::{AdditionalInfo, CiError, JobView, TaskView};
use crate::engine::request::OperationType;
use crate::engine::status::RunStatus;
use crate::time::SimTime;

/// One node of the workflow (the model's `GraphNodeInfo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    pub operation_type: OperationType,
    pub sub_type: &'static str,
    pub identifier: String,
    pub friendly_name: String,
    /// The job of the node's latest task.
    pub job_ids: Vec<String>,
    /// The status of the node's latest task.
    pub task_status: RunStatus,
    /// The job of the node's latest successful task (empty if none succeeded).
    pub last_success_job_ids: Vec<String>,
    pub end_timestamp: Option<SimTime>,
    pub last_successful_timestamp: Option<SimTime>,
    pub ci_error: Option<CiError>,
    pub ci_errors: Vec<CiError>,
    pub additional_info: Option<AdditionalInfo>,
}

/// Where an operation's nodes come in the status list: the order of the refresh graph.
fn graph_rank(op: OperationType) -> usize {
    const ORDER: [OperationType; 7] = [
        OperationType::Ingestion,
        OperationType::Map,
        OperationType::Match,
        OperationType::Merge,
        OperationType::Measures,
        OperationType::Segmentation,
        OperationType::Export,
    ];
    ORDER.iter().position(|&o| o == op).unwrap_or(ORDER.len())
}

/// The workflow's nodes, in graph order (data sources, unification, measures, segments,
/// export; within an operation, in the order a job first ran them), from `jobs` as
/// [`Engine::jobs`](crate::engine::Engine::jobs) lists them (newest first).
pub fn workflow_status(jobs: &[JobView]) -> Vec<NodeView> {
    let mut nodes: Vec<NodeView> = Vec::new();
    for job in jobs.iter().rev() {
        for task in &job.tasks {
            let i = match nodes.iter().position(|n| {
                n.operation_type == task.operation_type && n.identifier == task.identifier
            }) {
                Some(i) => i,
                None => {
                    nodes.push(NodeView {
                        operation_type: task.operation_type,
                        sub_type: task.sub_type,
                        identifier: task.identifier.clone(),
                        friendly_name: task.friendly_name.clone(),
                        job_ids: Vec::new(),
                        task_status: task.task_status,
                        last_success_job_ids: Vec::new(),
                        end_timestamp: None,
                        last_successful_timestamp: None,
                        ci_error: None,
                        ci_errors: Vec::new(),
                        additional_info: None,
                    });
                    nodes.len() - 1
                }
            };
            let node = &mut nodes[i];
            node.friendly_name.clone_from(&task.friendly_name);
            node.job_ids = vec![job.job_id.clone()];
            node.task_status = task.task_status;
            node.end_timestamp = task.end_timestamp;
            node.ci_error.clone_from(&task.ci_error);
            node.ci_errors.clone_from(&task.ci_errors);
            node.additional_info.clone_from(&task.additional_info);
            if task.task_status == RunStatus::Successful {
                node.last_success_job_ids = vec![job.job_id.clone()];
                node.last_successful_timestamp = task.end_timestamp;
            }
        }
    }
    nodes.sort_by_key(|n| graph_rank(n.operation_type));
    nodes
}

/// The most recent `top` tasks of all jobs (the model's `GraphTaskInfo`), newest first: tasks
/// not yet ended first (the newest job's first), then by end time; among equals the later job,
/// then the later task, comes first.
pub fn workflow_history(jobs: &[JobView], top: usize) -> Vec<TaskView> {
    let mut tasks: Vec<(Option<SimTime>, usize, usize, &TaskView)> = jobs
        .iter()
        .rev()
        .enumerate()
        .flat_map(|(j, job)| {
            job.tasks
                .iter()
                .enumerate()
                .map(move |(t, task)| (task.end_timestamp, j, t, task))
        })
        .collect();
    tasks.sort_by(|a, b| {
        let end = |e: Option<SimTime>| e.map_or(i64::MAX, |t| t.0);
        (end(b.0), b.1, b.2).cmp(&(end(a.0), a.1, a.2))
    });
    tasks
        .into_iter()
        .take(top)
        .map(|(_, _, _, task)| task.clone())
        .collect()
}
