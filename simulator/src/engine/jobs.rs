//! The jobs owner: refresh jobs and their task graphs (the API model's `GraphJobInfo` and
//! `GraphTaskInfo`), the job queue, task attempts with their durations, retries and timeouts,
//! skipping downstream of failures, cancellation, and the refresh schedule.
//!
//! Jobs run one at a time, in submission order (one workflow, `main`). Within a job, a task is
//! `queued` until every upstream task is terminal; it then runs if they all succeeded and is
//! `skipped` otherwise (at that instant, with no duration), and so is everything downstream.
//!
//! The owner changes only jobs. What the rest of the engine must do about it comes back as
//! [`Step`]s, in the order it happened: items to queue, objects whose refresh started, ended or
//! was cancelled (the catalog's business), and triggers that fire.

mod list;
mod model;
mod plan;
mod schedule;
mod status;

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::draw::{self, AttemptOutcome};
use super::error::EngineError;
use super::options::{EngineOptions, ScheduleOverlap};
use super::payload::{Common, Payload, TaskReport};
use super::queue::{Due, Queue};
use super::request::{
    JobRequest, OperationType, Outcome, ResolvedForcing, Selection, SubmissionKind, Target,
};
use super::status::RunStatus;
use super::value::MeasureValue;
use crate::ids;
use crate::tenant::TenantSpec;
use crate::tenant::spec::{FailureRates, FullRefreshTrigger, RefreshSpec};
use crate::time::SimTime;
use list::JobList;
pub use model::{AdditionalInfo, CiError, JobView, TaskView};
use model::{Job, Task};
use schedule::Schedule;
pub use schedule::ScheduleView;
pub use status::{NodeView, workflow_history, workflow_status};

/// Something the rest of the engine must do because of what happened to jobs, in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// Queue this item.
    Queue(SimTime, Due),
    /// A task started its first attempt on this object.
    Started(Target),
    /// A running task on this object was cancelled.
    Cancelled(Target),
    /// Task `task` of job `job` ended `successful`, `failed` or `timedOut`.
    Ended { job: usize, task: usize },
    /// `unification-completed` fires for this job.
    Unification(usize),
    /// `full-refresh-completed` fires for this job.
    FullRefresh(usize),
}

/// Every job of the tenant, the one running and the ones waiting, and the schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Jobs {
    jobs: JobList,
    /// The job whose tasks are running; jobs run one at a time.
    running: Option<usize>,
    /// Jobs waiting for the running one, in submission order.
    waiting: VecDeque<usize>,
    schedule: Schedule,
    /// Jobs and tasks numbered so far (their ids).
    job_count: u64,
    task_count: u64,
    /// Durations, failure rates, retries, timeout and schedule.
    refresh: RefreshSpec,
    /// Per data source, failure rates that replace the tenant's for its ingestion.
    source_failures: Vec<Option<FailureRates>>,
    /// Keys the draws of task outcomes and durations.
    seed: u64,
    /// The tenant's customers (a unification's result).
    customers: u64,
}

impl Jobs {
    /// No jobs; the first scheduled refresh, if the schedule is on, is due
    /// `schedule_first_after` after `start` (see [`Jobs::next_schedule_at`]).
    pub(super) fn new(spec: &TenantSpec, seed: u64, start: SimTime) -> Jobs {
        let refresh = spec.refresh.clone();
        Jobs {
            jobs: JobList::new(spec.limits.jobs_history_bytes_max),
            running: None,
            waiting: VecDeque::new(),
            schedule: Schedule::new(&refresh, spec.limits.clock_catch_up_refreshes_max, start),
            job_count: 0,
            task_count: 0,
            source_failures: spec.data_sources.iter().map(|ds| ds.failures).collect(),
            refresh,
            seed,
            customers: spec.customers as u64,
        }
    }

    /// When the schedule next ticks.
    pub(super) fn next_schedule_at(&self) -> Option<SimTime> {
        self.schedule.next_at
    }

    /// Builds a job (status `queued`, nothing started) from a request resolved against the
    /// catalog.
    pub(super) fn plan(
        &mut self,
        now: SimTime,
        req: JobRequest,
        selection: Selection,
        forcing: ResolvedForcing,
        id_seed: u64,
    ) -> usize {
        let job = self.job_count;
        self.job_count += 1;
        let numbers = plan::Numbers {
            seed: self.seed,
            id_seed,
            job,
            next_task: &mut self.task_count,
        };
        // No step or queue item of an older job is pending here, so old finished jobs can go.
        let (running, waiting) = (self.running, &self.waiting);
        self.jobs
            .prune(|j| running == Some(j) || waiting.contains(&j));
        self.jobs
            .push(plan::plan(now, req, selection, forcing, numbers))
    }

    /// Starts job `j` at once if no other job is queued or running, otherwise queues it behind
    /// them.
    pub(super) fn enqueue(&mut self, now: SimTime, j: usize, options: &EngineOptions) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.running.is_none() && self.waiting.is_empty() {
            self.start_job(now, j, options, &mut steps);
        } else {
            self.waiting.push_back(j);
        }
        steps
    }

    /// Cancels a queued or running job: its unfinished tasks become `aborted` and the job
    /// `aborted`, now; its queued attempts leave `queue`.
    pub(super) fn cancel(
        &mut self,
        now: SimTime,
        job_id: &str,
        queue: &mut Queue,
        options: &EngineOptions,
    ) -> Result<(usize, Vec<Step>), EngineError> {
        let j = self.find(job_id).ok_or_else(|| EngineError::UnknownJob {
            id: job_id.to_owned(),
        })?;
        let job = &self.jobs[j];
        if job.status.is_terminal() {
            return Err(EngineError::JobFinished {
                id: job.id.clone(),
                status: job.status,
            });
        }
        let mut steps = Vec::new();
        for task in &mut self.jobs[j].tasks {
            if task.status.is_terminal() {
                continue;
            }
            let was_running = task.status == RunStatus::Running;
            task.status = RunStatus::Aborted;
            task.ended = Some(now);
            task.pending = None;
            if was_running {
                steps.push(Step::Cancelled(task.target));
            }
        }
        queue.retain(|d| match *d {
            Due::AttemptEnd { job, .. } | Due::TaskRetry { job, .. } => job != j,
            _ => true,
        });
        self.check_unification(j, options, &mut steps);
        let was_running = self.running == Some(j);
        self.waiting.retain(|&w| w != j);
        self.finish_job(now, j, true, &mut steps);
        if was_running {
            self.running = None;
            self.start_next_job(now, options, &mut steps);
        }
        Ok((j, steps))
    }

    /// A task attempt's due time came: it ends as drawn when it started (a transient failure
    /// with retries left waits for its retry instead).
    pub(super) fn attempt_end(
        &mut self,
        now: SimTime,
        j: usize,
        t: usize,
        attempt: u32,
        options: &EngineOptions,
    ) -> Vec<Step> {
        let mut steps = Vec::new();
        let retries_max = self.refresh.task_retries_max;
        let retry_delay = self.refresh.task_retry_delay;
        let timeout = self.refresh.task_timeout;
        let Some(task) = self.jobs.get_mut(j).and_then(|job| job.tasks.get_mut(t)) else {
            return steps;
        };
        if task.status != RunStatus::Running || task.attempts != attempt {
            return steps;
        }
        let Some(outcome) = task.pending.take() else {
            return steps;
        };
        let what = format!("{} of {}", task.op, task.identifier);
        let culprit = if task.op == OperationType::Ingestion {
            "external"
        } else {
            "system"
        };
        let error = |code: &str, message: String| CiError {
            error_code: code.to_owned(),
            message,
            exception_culprit: culprit.into(),
            result_severity: "error".into(),
        };
        let status = match outcome {
            AttemptOutcome::Success => RunStatus::Successful,
            AttemptOutcome::Transient if attempt <= retries_max => {
                task.errors.push(error(
                    "TransientFailure",
                    format!(
                        "{what} failed on attempt {attempt} with a transient error; retrying in {retry_delay}"
                    ),
                ));
                steps.push(Step::Queue(
                    now + retry_delay,
                    Due::TaskRetry { job: j, task: t },
                ));
                return steps;
            }
            AttemptOutcome::Transient => {
                task.errors.push(error(
                    "TaskFailed",
                    format!(
                        "{what} failed on attempt {attempt}, the last of {}",
                        retries_max + 1
                    ),
                ));
                RunStatus::Failed
            }
            AttemptOutcome::Permanent => {
                task.errors.push(error(
                    "TaskFailed",
                    format!("{what} failed permanently on attempt {attempt}"),
                ));
                RunStatus::Failed
            }
            AttemptOutcome::Timeout => {
                task.errors.push(error(
                    "TaskTimedOut",
                    format!("{what} timed out after {timeout}"),
                ));
                RunStatus::TimedOut
            }
        };
        let task = &mut self.jobs[j].tasks[t];
        task.status = status;
        task.ended = Some(now);
        if status == RunStatus::Successful {
            // The "Failed (retrying)" errors of earlier attempts no longer apply.
            task.errors.clear();
        }
        steps.push(Step::Ended { job: j, task: t });
        self.advance(now, j, options, &mut steps);
        steps
    }

    /// A task that failed transiently starts its next attempt.
    pub(super) fn task_retry(&mut self, now: SimTime, j: usize, t: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let running = self
            .jobs
            .get(j)
            .and_then(|job| job.tasks.get(t))
            .is_some_and(|task| task.status == RunStatus::Running && task.pending.is_none());
        if running {
            self.start_attempt(now, j, t, &mut steps);
        }
        steps
    }

    /// Before a catch-up to `now`: skips schedule ticks in bulk (see [`Schedule`]).
    pub(super) fn skip_ticks_before(&mut self, now: SimTime, queue: &mut Queue) {
        self.schedule.skip_before(now, queue);
    }

    /// A schedule tick: the next one is queued; the answer says whether to submit a scheduled
    /// full refresh now (not when another job is busy and the options say to skip).
    pub(super) fn schedule_tick(
        &mut self,
        at: SimTime,
        options: &EngineOptions,
    ) -> (Vec<Step>, bool) {
        let steps = self
            .schedule
            .tick(at)
            .map(|next| Step::Queue(next, Due::ScheduledRefresh))
            .into_iter()
            .collect();
        let busy = self.running.is_some() || !self.waiting.is_empty();
        if busy && options.schedule_overlap == ScheduleOverlap::Skip {
            self.schedule.skipped += 1;
            return (steps, false);
        }
        (steps, true)
    }

    /// Records a one-task on-demand job that was submitted and succeeded at `now`, so that the
    /// `jobId` in a payload names a job the jobs API knows. It does not wait for the job queue.
    pub(super) fn record_instant(
        &mut self,
        now: SimTime,
        target: Target,
        (identifier, friendly_name): (String, String),
        id_seed: u64,
    ) -> String {
        let op = match target {
            Target::Segment(_) => OperationType::Segmentation,
            Target::Measure(_) => OperationType::Measures,
            Target::DataSource(_) => OperationType::Ingestion,
            Target::Stage => OperationType::All,
        };
        let job_id = ids::uuid_n(id_seed, "job", self.job_count);
        let draw_key = ids::uuid_n(self.seed, "job", self.job_count);
        self.job_count += 1;
        let task_id = ids::uuid_n(id_seed, "task", self.task_count);
        self.task_count += 1;
        let (running, waiting) = (self.running, &self.waiting);
        self.jobs
            .prune(|j| running == Some(j) || waiting.contains(&j));
        self.jobs.push(Job {
            id: job_id.clone(),
            draw_key,
            kind: SubmissionKind::OnDemand,
            op,
            identifiers: vec![identifier.clone()],
            status: RunStatus::Successful,
            submitted: now,
            ended: Some(now),
            tasks: vec![Task {
                id: task_id,
                op,
                identifier,
                friendly_name,
                target,
                upstream: Vec::new(),
                status: RunStatus::Successful,
                ended: Some(now),
                attempts: 1,
                forced: Some(Outcome::Success),
                pending: None,
                errors: Vec::new(),
            }],
            forced_counts: BTreeMap::new(),
            forced_values: BTreeMap::new(),
            unification_reported: true,
        });
        job_id
    }

    /// All jobs, newest first (the jobs API lists recent jobs first).
    pub(super) fn views(&self) -> Vec<JobView> {
        self.jobs.iter().rev().map(Job::view).collect()
    }

    pub(super) fn view(&self, j: usize) -> JobView {
        self.jobs[j].view()
    }

    pub(super) fn find(&self, id: &str) -> Option<usize> {
        self.jobs.position(|j| j.id.eq_ignore_ascii_case(id.trim()))
    }

    /// Finished jobs dropped to stay within `limits.jobs_history_bytes_max`.
    pub(super) fn dropped(&self) -> u64 {
        self.jobs.dropped()
    }

    /// The refresh schedule.
    pub(super) fn schedule(&self) -> ScheduleView {
        self.schedule.view()
    }

    /// What an ended task acted on, how it ended, and its last error message.
    pub(super) fn ended(&self, j: usize, t: usize) -> (Target, RunStatus, String) {
        let task = &self.jobs[j].tasks[t];
        let message = task
            .errors
            .last()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        (task.target, task.status, message)
    }

    pub(super) fn job_id(&self, j: usize) -> &str {
        &self.jobs[j].id
    }

    /// The count job `j` forces on segment `i`, if any.
    pub(super) fn forced_count(&self, j: usize, i: usize) -> Option<u64> {
        self.jobs[j].forced_counts.get(&i).copied()
    }

    /// The value job `j` forces on measure `i`, if any.
    pub(super) fn forced_value(&self, j: usize, i: usize) -> Option<MeasureValue> {
        self.jobs[j].forced_values.get(&i).cloned()
    }

    pub(super) fn task_report(&self, j: usize, t: usize) -> TaskReport {
        self.jobs[j].task_report(t)
    }

    pub(super) fn full_refresh_payload(&self, common: Common, j: usize) -> Payload {
        self.jobs[j].full_refresh_payload(common)
    }

    pub(super) fn unification_payload(&self, common: Common, j: usize, now: SimTime) -> Payload {
        self.jobs[j].unification_payload(common, now, self.customers)
    }

    fn start_next_job(&mut self, now: SimTime, options: &EngineOptions, steps: &mut Vec<Step>) {
        if self.running.is_none()
            && let Some(next) = self.waiting.pop_front()
        {
            self.start_job(now, next, options, steps);
        }
    }

    fn start_job(
        &mut self,
        now: SimTime,
        j: usize,
        options: &EngineOptions,
        steps: &mut Vec<Step>,
    ) {
        self.running = Some(j);
        self.jobs[j].status = RunStatus::Running;
        self.advance(now, j, options, steps);
    }

    /// Starts every task whose upstream is done and succeeded, skips every task whose upstream
    /// is done and did not, until nothing changes; then checks the unification chain and the
    /// job's end.
    fn advance(&mut self, now: SimTime, j: usize, options: &EngineOptions, steps: &mut Vec<Step>) {
        loop {
            let mut changed = false;
            for t in 0..self.jobs[j].tasks.len() {
                let job = &self.jobs[j];
                let task = &job.tasks[t];
                if task.status != RunStatus::Queued {
                    continue;
                }
                let upstream = task.upstream.iter().map(|&u| job.tasks[u].status);
                if !upstream.clone().all(RunStatus::is_terminal) {
                    continue;
                }
                if upstream.clone().all(|s| s == RunStatus::Successful) {
                    self.start_attempt(now, j, t, steps);
                } else {
                    let task = &mut self.jobs[j].tasks[t];
                    task.status = RunStatus::Skipped;
                    task.ended = Some(now);
                }
                changed = true;
            }
            if !changed {
                break;
            }
        }
        self.check_unification(j, options, steps);
        if self.jobs[j].status == RunStatus::Running
            && self.jobs[j].tasks.iter().all(|t| t.status.is_terminal())
        {
            self.finish_job(now, j, false, steps);
            self.running = None;
            self.start_next_job(now, options, steps);
        }
    }

    fn start_attempt(&mut self, now: SimTime, j: usize, t: usize, steps: &mut Vec<Step>) {
        let seed = self.seed;
        let refresh = &self.refresh;
        let timeout = refresh.task_timeout;
        let job_id = self.jobs[j].draw_key.clone();
        let task = &mut self.jobs[j].tasks[t];
        task.status = RunStatus::Running;
        task.attempts += 1;
        let attempt = task.attempts;
        let (range, rates) = match task.op {
            OperationType::Ingestion => (
                refresh.durations.ingestion,
                match task.target {
                    Target::DataSource(i) => self.source_failures[i].unwrap_or(refresh.failures),
                    _ => refresh.failures,
                },
            ),
            OperationType::Map => (refresh.durations.map, refresh.failures),
            OperationType::Match => (refresh.durations.match_, refresh.failures),
            OperationType::Merge => (refresh.durations.merge, refresh.failures),
            OperationType::Measures => (refresh.durations.measures, refresh.failures),
            OperationType::Segmentation => (refresh.durations.segmentation, refresh.failures),
            // Only the operations above get tasks (see `plan`); the export's range stands in
            // for anything else.
            _ => (refresh.durations.export, refresh.failures),
        };
        let key = [job_id.as_str(), &t.to_string(), &attempt.to_string()];
        let mut outcome = match (task.forced, attempt) {
            (Some(Outcome::Success), _) | (Some(Outcome::Transient), 2..) => {
                AttemptOutcome::Success
            }
            (Some(Outcome::Transient), _) => AttemptOutcome::Transient,
            (Some(Outcome::Fail), _) => AttemptOutcome::Permanent,
            (Some(Outcome::Timeout), _) => AttemptOutcome::Timeout,
            (None, _) => draw::attempt_outcome(seed, &["outcome", key[0], key[1], key[2]], rates),
        };
        let mut duration = draw::duration_in(seed, &["duration", key[0], key[1], key[2]], range);
        // An attempt that would run past the timeout is cut off there (a timeout of 0 means
        // none).
        if timeout.as_millis() > 0 && (outcome == AttemptOutcome::Timeout || duration > timeout) {
            outcome = AttemptOutcome::Timeout;
            duration = timeout;
        }
        task.pending = Some(outcome);
        if attempt == 1 {
            steps.push(Step::Started(task.target));
        }
        steps.push(Step::Queue(
            now + duration,
            Due::AttemptEnd {
                job: j,
                task: t,
                attempt,
            },
        ));
    }

    /// Once the job's unification tasks (map, match and merge, or the part of the chain it
    /// runs) are all terminal, decides (once) whether `unification-completed` fires: not when all
    /// were aborted before any ran (the job was cancelled before unification started), and not
    /// for a chain skipped because an ingestion failed unless the options say so.
    fn check_unification(&mut self, j: usize, options: &EngineOptions, steps: &mut Vec<Step>) {
        let job = &self.jobs[j];
        let Some(chain) = job.unification() else {
            return;
        };
        if job.unification_reported || !chain.iter().all(|&t| job.tasks[t].status.is_terminal()) {
            return;
        }
        let statuses: Vec<RunStatus> = chain.iter().map(|&t| job.tasks[t].status).collect();
        self.jobs[j].unification_reported = true;
        if statuses.iter().all(|&s| s == RunStatus::Aborted) {
            return;
        }
        if statuses[0] == RunStatus::Skipped && !options.unification_fires_when_skipped {
            return;
        }
        steps.push(Step::Unification(j));
    }

    /// Ends a job whose tasks are all terminal (or that was cancelled); a scheduled full refresh
    /// fires `full-refresh-completed` (any full refresh, with the tenant's
    /// `full_refresh_trigger = "any"`).
    fn finish_job(&mut self, now: SimTime, j: usize, cancelled: bool, steps: &mut Vec<Step>) {
        let any = self.refresh.full_refresh_trigger == FullRefreshTrigger::Any;
        let job = &mut self.jobs[j];
        job.status = job.final_status(cancelled);
        job.ended = Some(now);
        if job.op == OperationType::All && (job.kind == SubmissionKind::Scheduled || any) {
            steps.push(Step::FullRefresh(j));
        }
    }
}
