//! Running jobs: the job queue, task attempts with their durations, retries and timeouts,
//! skipping downstream of failures, cancellation, and the refresh schedule.
//!
//! Jobs run one at a time, in submission order (one workflow, `main`). Within a job, a task is
//! `queued` until every upstream task is terminal; it then runs if they all succeeded and is
//! `skipped` otherwise (at that instant, with no duration), and so is everything downstream.

use super::catalog::RefreshState;
use super::error::EngineError;
use super::jobs::{
    CiError, JobRequest, JobView, OperationType, Outcome, RunStatus, SubmissionKind, Target,
};
use super::queue::Due;
use super::state::{Engine, ScheduleOverlap};
use super::walk::{self, AttemptOutcome};
use crate::time::{SimDuration, SimTime};

impl Engine {
    /// Submits a job (the jobs API). It starts at once if no other job is queued or running,
    /// otherwise it waits (`queued`) for the jobs ahead of it.
    pub fn submit_job(&mut self, now: SimTime, req: JobRequest) -> Result<JobView, EngineError> {
        let now = self.catch_up(now);
        let job = self.plan_job(now, req)?;
        let j = self.jobs.len();
        self.jobs.push(job);
        self.enqueue_job(now, j);
        Ok(self.jobs[j].view())
    }

    /// Cancels a queued or running job: its unfinished tasks become `aborted` and the job
    /// `aborted`, now. Events this causes (e.g. `full-refresh-completed` for a scheduled job)
    /// come out of the next call that returns effects.
    pub fn cancel_job(&mut self, now: SimTime, job_id: &str) -> Result<JobView, EngineError> {
        let now = self.catch_up(now);
        let j = self
            .find_job(job_id)
            .ok_or_else(|| EngineError::UnknownJob {
                id: job_id.to_owned(),
            })?;
        let job = &self.jobs[j];
        if job.status.is_terminal() {
            return Err(EngineError::JobFinished {
                id: job.id.clone(),
                status: job.status,
            });
        }
        for t in 0..self.jobs[j].tasks.len() {
            let task = &mut self.jobs[j].tasks[t];
            if task.status.is_terminal() {
                continue;
            }
            let was_running = task.status == RunStatus::Running;
            task.status = RunStatus::Aborted;
            task.ended = Some(now);
            task.pending = None;
            let target = task.target;
            if was_running {
                // A cancelled refresh reverts to the last refresh state, as the UI documents;
                // a data source says so with `updateCancelled`.
                match target {
                    Target::DataSource(i) => {
                        self.sources[i].refresh_state = RefreshState::UpdateCancelled
                    }
                    Target::Segment(i) => self.segments[i].running = false,
                    Target::Measure(i) => self.measures[i].running = false,
                    Target::Stage => {}
                }
            }
        }
        self.queue.retain(|d| match *d {
            Due::AttemptEnd { job, .. } | Due::TaskRetry { job, .. } => job != j,
            _ => true,
        });
        self.check_unification(now, j);
        let was_running = self.running_job == Some(j);
        self.waiting_jobs.retain(|&w| w != j);
        self.finish_job(now, j, true);
        if was_running {
            self.running_job = None;
            self.start_next_job(now);
        }
        Ok(self.jobs[j].view())
    }

    /// All jobs, newest first (the jobs API lists recent jobs first).
    pub fn jobs(&self) -> Vec<JobView> {
        self.jobs.iter().rev().map(|j| j.view()).collect()
    }

    pub fn job(&self, id: &str) -> Option<JobView> {
        self.find_job(id).map(|j| self.jobs[j].view())
    }

    fn find_job(&self, id: &str) -> Option<usize> {
        self.jobs
            .iter()
            .position(|j| j.id.eq_ignore_ascii_case(id.trim()))
    }

    pub(super) fn enqueue_job(&mut self, now: SimTime, j: usize) {
        if self.running_job.is_none() && self.waiting_jobs.is_empty() {
            self.start_job(now, j);
        } else {
            self.waiting_jobs.push_back(j);
        }
    }

    fn start_next_job(&mut self, now: SimTime) {
        if self.running_job.is_none()
            && let Some(next) = self.waiting_jobs.pop_front()
        {
            self.start_job(now, next);
        }
    }

    fn start_job(&mut self, now: SimTime, j: usize) {
        self.running_job = Some(j);
        self.jobs[j].status = RunStatus::Running;
        self.advance(now, j);
    }

    /// Starts every task whose upstream is done and succeeded, skips every task whose upstream
    /// is done and did not, until nothing changes; then checks the unification chain and the
    /// job's end.
    fn advance(&mut self, now: SimTime, j: usize) {
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
                    self.start_attempt(now, j, t);
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
        self.check_unification(now, j);
        if self.jobs[j].status == RunStatus::Running
            && self.jobs[j].tasks.iter().all(|t| t.status.is_terminal())
        {
            self.finish_job(now, j, false);
            self.running_job = None;
            self.start_next_job(now);
        }
    }

    fn start_attempt(&mut self, now: SimTime, j: usize, t: usize) {
        let seed = self.seed;
        let refresh = &self.spec.refresh;
        let timeout = refresh.task_timeout;
        let job_id = self.jobs[j].id.clone();
        let task = &mut self.jobs[j].tasks[t];
        task.status = RunStatus::Running;
        task.attempts += 1;
        let attempt = task.attempts;
        let (range, rates) = match task.op {
            OperationType::Ingestion => (
                refresh.durations.ingestion,
                match task.target {
                    Target::DataSource(i) => self.spec.data_sources[i]
                        .failures
                        .unwrap_or(refresh.failures),
                    _ => refresh.failures,
                },
            ),
            OperationType::Map => (refresh.durations.map, refresh.failures),
            OperationType::Match => (refresh.durations.match_, refresh.failures),
            OperationType::Merge => (refresh.durations.merge, refresh.failures),
            OperationType::Measures => (refresh.durations.measures, refresh.failures),
            OperationType::Segmentation => (refresh.durations.segmentation, refresh.failures),
            OperationType::Export | OperationType::All => {
                (refresh.durations.export, refresh.failures)
            }
        };
        let key = [job_id.as_str(), &t.to_string(), &attempt.to_string()];
        let mut outcome = match (task.forced, attempt) {
            (Some(Outcome::Success), _) | (Some(Outcome::Transient), 2..) => {
                AttemptOutcome::Success
            }
            (Some(Outcome::Transient), _) => AttemptOutcome::Transient,
            (Some(Outcome::Fail), _) => AttemptOutcome::Permanent,
            (Some(Outcome::Timeout), _) => AttemptOutcome::Timeout,
            (None, _) => walk::attempt_outcome(seed, &["outcome", key[0], key[1], key[2]], rates),
        };
        let mut duration = walk::duration_in(seed, &["duration", key[0], key[1], key[2]], range);
        // An attempt that would run past the timeout is cut off there (a timeout of 0 means
        // none).
        if timeout.as_millis() > 0 && (outcome == AttemptOutcome::Timeout || duration > timeout) {
            outcome = AttemptOutcome::Timeout;
            duration = timeout;
        }
        task.pending = Some(outcome);
        let target = task.target;
        if attempt == 1 {
            match target {
                Target::DataSource(i) => self.sources[i].refresh_state = RefreshState::Updating,
                Target::Segment(i) => self.segments[i].running = true,
                Target::Measure(i) => self.measures[i].running = true,
                Target::Stage => {}
            }
        }
        self.queue.push(
            now + duration,
            Due::AttemptEnd {
                job: j,
                task: t,
                attempt,
            },
        );
    }

    pub(super) fn on_attempt_end(&mut self, now: SimTime, j: usize, t: usize, attempt: u32) {
        let retries_max = self.spec.refresh.task_retries_max;
        let retry_delay = self.spec.refresh.task_retry_delay;
        let timeout = self.spec.refresh.task_timeout;
        let Some(task) = self.jobs.get_mut(j).and_then(|job| job.tasks.get_mut(t)) else {
            return;
        };
        if task.status != RunStatus::Running || task.attempts != attempt {
            return;
        }
        let Some(outcome) = task.pending.take() else {
            return;
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
            exception_culprit: culprit,
            result_severity: "error",
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
                self.queue
                    .push(now + retry_delay, Due::TaskRetry { job: j, task: t });
                return;
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
        self.finish_task(now, j, t, status);
    }

    pub(super) fn on_task_retry(&mut self, now: SimTime, j: usize, t: usize) {
        let running = self
            .jobs
            .get(j)
            .and_then(|job| job.tasks.get(t))
            .is_some_and(|task| task.status == RunStatus::Running && task.pending.is_none());
        if running {
            self.start_attempt(now, j, t);
        }
    }

    /// A task ends `successful`, `failed` or `timedOut`: its effects on the catalog, its
    /// triggers, then whatever it unblocks.
    fn finish_task(&mut self, now: SimTime, j: usize, t: usize, status: RunStatus) {
        let task = &mut self.jobs[j].tasks[t];
        task.status = status;
        task.ended = Some(now);
        if status == RunStatus::Successful {
            // The "Failed (retrying)" errors of earlier attempts no longer apply.
            task.errors.clear();
        }
        let message = task
            .errors
            .last()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        let target = task.target;
        let job_id = self.jobs[j].id.clone();
        match target {
            Target::DataSource(i) => {
                let ds = &mut self.sources[i];
                if status == RunStatus::Successful {
                    ds.refresh_state = RefreshState::Updated;
                    ds.last_refresh = Some(now);
                } else {
                    ds.refresh_state = RefreshState::UpdateFailed;
                }
                self.fire_data_source(now, j, t);
            }
            Target::Segment(i) if status == RunStatus::Successful => {
                let forced = self.jobs[j].forced_counts.get(&i).copied();
                let count = self.next_segment_count(i, forced);
                let previous = self.record_segment_success(now, i, count, &job_id);
                self.fire_segment_crossings(now, i, previous, count, &job_id);
            }
            Target::Segment(i) => self.record_segment_failure(now, i, message),
            Target::Measure(i) if status == RunStatus::Successful => {
                let forced = self.jobs[j].forced_values.get(&i).cloned();
                let value = self.next_measure_value(i, forced);
                let previous = self.record_measure_success(now, i, value.clone(), &job_id);
                self.fire_measure_crossings(now, i, &previous, &value, &job_id);
            }
            Target::Measure(i) => self.record_measure_failure(now, i, message),
            Target::Stage => {}
        }
        self.advance(now, j);
    }

    /// Once map, match and merge are all terminal, decides (once) whether
    /// `unification-completed` fires: not when all three were aborted before any ran (the job
    /// was cancelled before unification started), and not for a chain skipped because an
    /// ingestion failed unless the options say so.
    fn check_unification(&mut self, now: SimTime, j: usize) {
        let job = &self.jobs[j];
        let Some(chain) = job.unification() else {
            return;
        };
        if job.unification_reported || !chain.iter().all(|&t| job.tasks[t].status.is_terminal()) {
            return;
        }
        let statuses = chain.map(|t| job.tasks[t].status);
        self.jobs[j].unification_reported = true;
        if statuses.iter().all(|&s| s == RunStatus::Aborted) {
            return;
        }
        if statuses[0] == RunStatus::Skipped && !self.options.unification_fires_when_skipped {
            return;
        }
        self.fire_unification(now, j);
    }

    /// Ends a job whose tasks are all terminal (or that was cancelled) and fires
    /// `full-refresh-completed` for a scheduled full refresh.
    fn finish_job(&mut self, now: SimTime, j: usize, cancelled: bool) {
        let job = &mut self.jobs[j];
        job.status = job.final_status(cancelled);
        job.ended = Some(now);
        if job.kind == SubmissionKind::Scheduled && job.op == OperationType::All {
            self.fire_full_refresh(now, j);
        }
    }

    /// A schedule tick: queue the next one, then submit a scheduled full refresh (or skip it,
    /// if another job is busy and the options say so).
    pub(super) fn on_schedule_tick(&mut self, at: SimTime) {
        self.counters.schedule_ticks += 1;
        let every = self.spec.refresh.schedule_every;
        self.next_schedule_at = (every > SimDuration::ZERO).then(|| at + every);
        if let Some(next) = self.next_schedule_at {
            self.queue.push(next, Due::ScheduledRefresh);
        }
        let busy = self.running_job.is_some() || !self.waiting_jobs.is_empty();
        if busy && self.options.schedule_overlap == ScheduleOverlap::Skip {
            self.counters.schedule_skipped += 1;
            return;
        }
        let mut req = JobRequest::new(OperationType::All);
        req.submission_kind = SubmissionKind::Scheduled;
        // A full refresh with no identifiers and no forcing always plans.
        if let Ok(job) = self.plan_job(at, req) {
            let j = self.jobs.len();
            self.jobs.push(job);
            self.enqueue_job(at, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::jobs::JobRequest;
    use super::super::testkit::{self, T0, secs};
    use super::*;

    /// Runs a job to its end and returns `(operationType:identifier, status)` per task.
    fn check(
        engine: &mut Engine,
        req: JobRequest,
        expected: &[(&str, RunStatus)],
        job_status: RunStatus,
    ) {
        let job = engine.submit_job(T0, req).unwrap();
        engine.run_until(T0 + SimDuration::from_days(1));
        let view = engine.job(&job.job_id).unwrap();
        let got: Vec<(String, RunStatus)> = view
            .tasks
            .iter()
            .map(|t| {
                (
                    format!("{}:{}", t.operation_type, t.identifier),
                    t.task_status,
                )
            })
            .collect();
        let expected: Vec<(String, RunStatus)> =
            expected.iter().map(|(k, s)| (k.to_string(), *s)).collect();
        for e in &expected {
            assert!(got.contains(e), "missing {e:?} in {got:?}");
        }
        assert_eq!(view.job_status, job_status, "{got:?}");
    }

    fn forced(
        op: OperationType,
        sources: &[(&str, Outcome)],
        stages: &[(&str, Outcome)],
    ) -> JobRequest {
        let mut req = JobRequest::new(op);
        for (n, o) in sources {
            req.forcing.data_sources.insert(n.to_string(), *o);
        }
        for (n, o) in stages {
            req.forcing.stages.insert(n.to_string(), *o);
        }
        req
    }

    #[test]
    fn a_full_refresh_runs_the_whole_graph_in_order() {
        let mut engine = testkit::engine();
        let job = engine
            .submit_job(T0, JobRequest::new(OperationType::All))
            .unwrap();
        assert_eq!(job.job_status, RunStatus::Running);
        let ops: Vec<OperationType> = job.tasks.iter().map(|t| t.operation_type).collect();
        assert_eq!(ops.first(), Some(&OperationType::Ingestion));
        assert_eq!(ops.last(), Some(&OperationType::Export));
        assert_eq!(
            job.tasks
                .iter()
                .filter(|t| t.operation_type == OperationType::Segmentation)
                .count(),
            4
        );
        engine.run_until(T0 + SimDuration::from_hours(1));
        let done = engine.job(&job.job_id).unwrap();
        assert_eq!(done.job_status, RunStatus::Successful);
        let end = |op| {
            done.tasks
                .iter()
                .filter(|t| t.operation_type == op)
                .filter_map(|t| t.end_timestamp)
                .max()
                .unwrap()
        };
        assert!(end(OperationType::Ingestion) <= end(OperationType::Map));
        assert!(end(OperationType::Map) < end(OperationType::Match));
        assert!(end(OperationType::Merge) < end(OperationType::Export));
        assert_eq!(done.end_timestamp, Some(end(OperationType::Export)));
    }

    #[test]
    fn a_failed_ingestion_skips_everything_downstream() {
        let mut engine = testkit::engine();
        check(
            &mut engine,
            forced(OperationType::All, &[("PoS", Outcome::Fail)], &[]),
            &[
                ("ingestion:PoS", RunStatus::Failed),
                ("ingestion:eCommerce", RunStatus::Successful),
                ("map:Customer", RunStatus::Skipped),
                ("merge:Customer", RunStatus::Skipped),
                ("segmentation:ChurnRisk", RunStatus::Skipped),
                ("export:Exports", RunStatus::Skipped),
            ],
            RunStatus::Failed,
        );
        let ds = engine.data_sources();
        assert_eq!(ds[0].refresh_state, RefreshState::UpdateFailed);
        assert_eq!(ds[1].refresh_state, RefreshState::Updated);
    }

    #[test]
    fn a_transient_failure_retries_and_succeeds() {
        let mut engine = testkit::engine();
        check(
            &mut engine,
            forced(
                OperationType::Ingestion,
                &[("Loyalty", Outcome::Transient)],
                &[],
            ),
            &[("ingestion:Loyalty", RunStatus::Successful)],
            RunStatus::Successful,
        );
    }

    #[test]
    fn a_transient_failure_shows_as_running_with_an_error_while_it_waits() {
        let mut engine = testkit::engine();
        let req = forced(
            OperationType::Ingestion,
            &[("Loyalty", Outcome::Transient)],
            &[],
        );
        let mut req = req;
        req.identifiers = vec!["Loyalty".into()];
        let job = engine.submit_job(T0, req).unwrap();
        // The first attempt ends within the ingestion range; the retry starts 5 s later.
        engine.run_until(T0 + secs(10) + SimDuration::from_millis(1));
        let view = engine.job(&job.job_id).unwrap();
        assert_eq!(view.tasks[0].task_status, RunStatus::Running);
        assert_eq!(view.tasks[0].ci_errors[0].error_code, "TransientFailure");
        assert_eq!(
            engine.data_sources()[2].refresh_state,
            RefreshState::Updating
        );
    }

    #[test]
    fn a_timeout_ends_timed_out_after_the_task_timeout() {
        let mut engine = testkit::engine();
        let mut req = forced(OperationType::Ingestion, &[("PoS", Outcome::Timeout)], &[]);
        req.identifiers = vec!["PoS".into()];
        let job = engine.submit_job(T0, req).unwrap();
        engine.run_until(T0 + SimDuration::from_hours(1));
        let view = engine.job(&job.job_id).unwrap();
        assert_eq!(view.tasks[0].task_status, RunStatus::TimedOut);
        assert_eq!(
            view.tasks[0].end_timestamp,
            Some(T0 + SimDuration::from_mins(2))
        );
        assert_eq!(view.job_status, RunStatus::Failed);
    }

    #[test]
    fn a_failed_match_skips_merge_and_everything_after_it() {
        let mut engine = testkit::engine();
        check(
            &mut engine,
            forced(OperationType::All, &[], &[("match", Outcome::Fail)]),
            &[
                ("map:Customer", RunStatus::Successful),
                ("match:Customer", RunStatus::Failed),
                ("merge:Customer", RunStatus::Skipped),
                ("measures:TotalRevenue", RunStatus::Skipped),
            ],
            RunStatus::Failed,
        );
    }

    #[test]
    fn unknown_identifiers_are_named_with_the_valid_ones() {
        let mut engine = testkit::engine();
        let mut req = JobRequest::new(OperationType::Segmentation);
        req.identifiers = vec!["ChurnRisk".into(), "Nope".into()];
        let err = engine.submit_job(T0, req).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"Nope\""), "{text}");
        assert!(text.contains("HighValueCustomers, ChurnRisk"), "{text}");
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn ingestion_identifiers_accept_data_source_ids() {
        let mut engine = testkit::engine();
        let id = engine.data_sources()[1].data_source_id.clone();
        let mut req = JobRequest::new(OperationType::Ingestion);
        req.identifiers = vec![format!("'{id}'")];
        let job = engine.submit_job(T0, req).unwrap();
        assert_eq!(job.tasks.len(), 1);
        assert_eq!(job.tasks[0].identifier, "eCommerce");
    }

    #[test]
    fn jobs_run_one_at_a_time_in_submission_order() {
        let mut engine = testkit::engine();
        let first = engine
            .submit_job(T0, JobRequest::new(OperationType::All))
            .unwrap();
        let second = engine
            .submit_job(T0, JobRequest::new(OperationType::Measures))
            .unwrap();
        assert_eq!(second.job_status, RunStatus::Queued);
        engine.run_until(T0 + SimDuration::from_hours(1));
        let (a, b) = (
            engine.job(&first.job_id).unwrap(),
            engine.job(&second.job_id).unwrap(),
        );
        assert_eq!(b.job_status, RunStatus::Successful);
        assert!(b.tasks.iter().all(|t| t.end_timestamp > a.end_timestamp));
    }

    #[test]
    fn cancel_aborts_unfinished_tasks_and_the_job() {
        let mut engine = testkit::engine();
        let job = engine
            .submit_job(T0, JobRequest::new(OperationType::All))
            .unwrap();
        let view = engine.cancel_job(T0 + secs(1), &job.job_id).unwrap();
        assert_eq!(view.job_status, RunStatus::Aborted);
        assert_eq!(view.end_timestamp, Some(T0 + secs(1)));
        assert!(
            view.tasks
                .iter()
                .all(|t| t.task_status == RunStatus::Aborted)
        );
        assert!(
            engine
                .data_sources()
                .iter()
                .all(|d| d.refresh_state == RefreshState::UpdateCancelled)
        );
        assert_eq!(
            engine.next_due(),
            None,
            "the cancelled job's attempts left the queue"
        );
        let again = engine.cancel_job(T0 + secs(2), &job.job_id).unwrap_err();
        assert_eq!(again.status(), 409);
        assert_eq!(engine.cancel_job(T0, "nope").unwrap_err().status(), 404);
    }

    #[test]
    fn the_schedule_submits_a_full_refresh_first_after_the_delay_then_every_interval() {
        let mut spec = testkit::tenant();
        spec.refresh.schedule_enabled = true;
        spec.refresh.schedule_first_after = SimDuration::from_mins(10);
        spec.refresh.schedule_every = SimDuration::from_hours(1);
        let mut engine = Engine::new(&spec, 7, T0, testkit::initial());
        engine.run_until(T0 + SimDuration::from_mins(10) - SimDuration::from_millis(1));
        assert!(engine.jobs().is_empty());
        engine.run_until(T0 + SimDuration::from_mins(10));
        engine.run_until(T0 + SimDuration::from_mins(190));
        let mut submitted: Vec<SimTime> = engine
            .jobs()
            .iter()
            .map(|j| j.submitted_timestamp)
            .collect();
        submitted.sort();
        let expected: Vec<SimTime> = [10, 70, 130, 190]
            .iter()
            .map(|&m| T0 + SimDuration::from_mins(m))
            .collect();
        assert_eq!(submitted, expected);
        assert!(
            engine
                .jobs()
                .iter()
                .all(|j| j.job_submission_kind == SubmissionKind::Scheduled
                    && j.operation_type == OperationType::All)
        );
        assert_eq!(
            engine.schedule().next_at,
            Some(T0 + SimDuration::from_mins(250))
        );
    }

    #[test]
    fn a_schedule_tick_while_busy_is_queued_or_skipped_as_configured() {
        let mut spec = testkit::tenant();
        spec.refresh.schedule_enabled = true;
        spec.refresh.schedule_first_after = secs(1);
        spec.refresh.schedule_every = secs(2);
        for (overlap, expected_jobs) in [(ScheduleOverlap::Queue, 3), (ScheduleOverlap::Skip, 1)] {
            let mut engine = Engine::new(&spec, 7, T0, testkit::initial());
            engine.set_options(super::super::state::EngineOptions {
                schedule_overlap: overlap,
                ..Default::default()
            });
            engine.run_until(T0 + secs(5));
            assert_eq!(engine.jobs().len(), expected_jobs, "{overlap:?}");
        }
    }

    fn outcome() -> impl Strategy<Value = Option<Outcome>> {
        prop_oneof![
            2 => Just(None),
            1 => Just(Some(Outcome::Success)),
            1 => Just(Some(Outcome::Fail)),
            1 => Just(Some(Outcome::Transient)),
            1 => Just(Some(Outcome::Timeout)),
        ]
    }

    /// The status a task that runs must end with, given its forced outcome, or `None` when its
    /// outcome is drawn at random (then any of successful, failed, timedOut is allowed).
    fn forced_status(forced: Option<Outcome>, retries_max: u32) -> Option<RunStatus> {
        match forced? {
            Outcome::Success => Some(RunStatus::Successful),
            Outcome::Transient if retries_max >= 1 => Some(RunStatus::Successful),
            Outcome::Transient | Outcome::Fail => Some(RunStatus::Failed),
            Outcome::Timeout => Some(RunStatus::TimedOut),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        /// Law: for any forced outcomes (per data source, per unification/export stage, per
        /// segment or measure; the rest drawn from random failure rates) a full refresh ends
        /// with every task terminal, where a task whose upstream did not all succeed is
        /// `skipped`, a task that ran has its forced status (`transient` = successful when a
        /// retry is allowed), and the job is `failed` iff some task failed or timed out, else
        /// `successful`. The data source triggers fire exactly once per ingestion task: failed
        /// for `failed`/`timedOut`, succeeded for `successful`, never failed for a source whose
        /// transient failure was retried successfully.
        #[test]
        fn job_graph_statuses_and_data_source_triggers_follow_the_rules(
            sources in prop::collection::vec(outcome(), 4),
            stages in prop::collection::vec(outcome(), 4),
            evaluations in prop::collection::vec(outcome(), 8),
            rates in (0.0f64..0.3, 0.0f64..0.2, 0.0f64..0.2),
            retries_max in 0u32..3,
            seed in any::<u64>(),
        ) {
            let mut spec = testkit::tenant();
            spec.refresh.task_retries_max = retries_max;
            spec.refresh.failures = crate::tenant::spec::FailureRates { transient: rates.0, permanent: rates.1, timeout: rates.2 };
            let mut engine = Engine::new(&spec, seed, T0, testkit::initial());
            engine.subscribe(T0, "datasource-refresh-failed", &testkit::hook(serde_json::json!({}))).unwrap();
            engine.subscribe(T0, "datasource-refresh-succeeded", &testkit::hook(serde_json::json!({}))).unwrap();
            let mut req = JobRequest::new(OperationType::All);
            let names: Vec<String> = engine.data_sources().iter().map(|d| d.name.clone()).collect();
            for (name, o) in names.iter().zip(&sources) {
                if let Some(o) = o { req.forcing.data_sources.insert(name.clone(), *o); }
            }
            for (stage, o) in ["map", "match", "merge", "export"].iter().zip(&stages) {
                if let Some(o) = o { req.forcing.stages.insert(stage.to_string(), *o); }
            }
            let evaluated: Vec<String> = engine.segments().iter().map(|s| s.name.clone())
                .chain(engine.measures().iter().map(|m| m.name.clone())).collect();
            for (name, o) in evaluated.iter().zip(&evaluations) {
                if let Some(o) = o { req.forcing.evaluations.insert(name.clone(), *o); }
            }
            let forcing = req.forcing.clone();
            let job = engine.submit_job(T0, req).unwrap();
            testkit::drive_ok(&mut engine, T0 + SimDuration::from_days(1));
            let view = engine.job(&job.job_id).unwrap();
            let by_id: std::collections::BTreeMap<&str, usize> =
                view.tasks.iter().enumerate().map(|(i, t)| (t.task_id.as_str(), i)).collect();
            // Upstream per task, rebuilt from the graph rules (tasks are in topological order).
            let ops: Vec<OperationType> = view.tasks.iter().map(|t| t.operation_type).collect();
            let upstream = |i: usize| -> Vec<usize> {
                let all = |op: OperationType| (0..ops.len()).filter(|&k| ops[k] == op).collect::<Vec<_>>();
                match ops[i] {
                    OperationType::Ingestion => vec![],
                    OperationType::Map => all(OperationType::Ingestion),
                    OperationType::Match => all(OperationType::Map),
                    OperationType::Merge => all(OperationType::Match),
                    OperationType::Measures | OperationType::Segmentation => all(OperationType::Merge),
                    _ => all(OperationType::Segmentation),
                }
            };
            let mut expected: Vec<RunStatus> = Vec::new();
            for (i, task) in view.tasks.iter().enumerate() {
                let ups = upstream(i);
                let want = if ups.iter().any(|&u| expected[u] != RunStatus::Successful) {
                    Some(RunStatus::Skipped)
                } else {
                    let forced = match task.operation_type {
                        OperationType::Ingestion => forcing.data_sources.get(&task.identifier).copied(),
                        OperationType::Segmentation | OperationType::Measures => forcing.evaluations.get(&task.identifier).copied(),
                        op => forcing.stages.get(op.as_str()).copied(),
                    };
                    forced_status(forced, retries_max)
                };
                match want {
                    Some(w) => prop_assert_eq!(task.task_status, w, "task {} {}", task.operation_type, task.identifier),
                    None => prop_assert!(matches!(task.task_status, RunStatus::Successful | RunStatus::Failed | RunStatus::TimedOut), "{:?}", task.task_status),
                }
                expected.push(task.task_status);
                prop_assert!(task.end_timestamp.is_some());
                prop_assert!(task.waiting_task_ids.iter().all(|id| by_id.contains_key(id.as_str())));
            }
            let any_failure = expected.iter().any(|s| s.is_failure());
            prop_assert_eq!(view.job_status, if any_failure { RunStatus::Failed } else { RunStatus::Successful });
            let events = engine.events();
            for task in view.tasks.iter().filter(|t| t.operation_type == OperationType::Ingestion) {
                let fired: Vec<&str> = events.iter().filter_map(|e| match &e.payload {
                    super::super::payload::Payload::DataSource(p) if p.data_source_name == task.identifier => Some(e.trigger.id()),
                    _ => None,
                }).collect();
                let want = if task.task_status == RunStatus::Successful { "datasource-refresh-succeeded" } else { "datasource-refresh-failed" };
                prop_assert_eq!(fired, vec![want], "{}", task.identifier);
            }
            prop_assert_eq!(engine.deliveries().len(), events.len());
        }
    }
}
