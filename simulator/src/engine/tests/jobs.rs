//! Jobs through the engine: the task graph, attempts, retries, timeouts, skipping, the job
//! queue, cancellation, the schedule, and the law of job statuses and data source triggers.

use proptest::prelude::*;

use crate::engine::testkit::{self, T0, secs};
use crate::engine::{
    Engine, EngineError, EngineOptions, JobRequest, OperationType, Outcome, Payload, RefreshState,
    RunStatus, ScheduleOverlap, SubmissionKind,
};
use crate::time::{SimDuration, SimTime};

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
fn every_operation_type_of_the_model_is_accepted() {
    for op in OperationType::ALL {
        let mut engine = testkit::engine();
        let job = engine.submit_job(T0, JobRequest::new(op)).unwrap();
        engine.run_until(T0 + SimDuration::from_days(1));
        let view = engine.job(&job.job_id).unwrap();
        assert_eq!(view.job_status, RunStatus::Successful, "{op}");
        let ops: Vec<OperationType> = view.tasks.iter().map(|t| t.operation_type).collect();
        let expected: Vec<OperationType> = match op {
            OperationType::All => ops.clone(),
            OperationType::Map => vec![
                OperationType::Map,
                OperationType::Match,
                OperationType::Merge,
            ],
            OperationType::Match => vec![OperationType::Match, OperationType::Merge],
            OperationType::Merge => vec![OperationType::Merge],
            OperationType::Ingestion => vec![OperationType::Ingestion; 4],
            OperationType::Measures | OperationType::EntityMeasures => {
                vec![OperationType::Measures; 4]
            }
            OperationType::Segmentation | OperationType::SegmentMembership => {
                vec![OperationType::Segmentation; 4]
            }
            OperationType::Export => vec![OperationType::Export],
            // Nothing of the kind in the tenant: no tasks, done at once.
            _ => vec![],
        };
        assert_eq!(ops, expected, "{op}");
        if expected.is_empty() {
            assert_eq!(view.end_timestamp, Some(T0), "{op}");
        }
    }
}

#[test]
fn unification_and_export_jobs_take_no_identifiers() {
    let mut engine = testkit::engine();
    for op in [
        OperationType::Merge,
        OperationType::Export,
        OperationType::All,
    ] {
        let mut req = JobRequest::new(op);
        req.identifiers = vec!["PoS".into()];
        let err = engine.submit_job(T0, req).unwrap_err();
        assert!(
            matches!(&err, EngineError::Invalid { field, .. } if field == "identifiers"),
            "{err}"
        );
    }
    assert_eq!(
        OperationType::parse("Merge").unwrap(),
        OperationType::Merge,
        "case-insensitive"
    );
    let err = OperationType::parse("unify").unwrap_err().to_string();
    assert!(err.starts_with("unknown operationType \"unify\"; use one of the API model's values: all, ingestion, map, match, merge"), "{err}");
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
    assert!(
        matches!(err, EngineError::UnknownIdentifiers { .. }),
        "{err:?}"
    );
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
    assert!(
        matches!(again, EngineError::JobFinished { .. }),
        "{again:?}"
    );
    assert!(matches!(
        engine.cancel_job(T0, "nope"),
        Err(EngineError::UnknownJob { .. })
    ));
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
        engine.set_options(EngineOptions {
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
        testkit::watch(&mut engine, "datasource-refresh-failed", serde_json::json!({}));
        testkit::watch(&mut engine, "datasource-refresh-succeeded", serde_json::json!({}));
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
                Payload::DataSource(p) if p.data_source_name == task.identifier => Some(e.trigger.id()),
                _ => None,
            }).collect();
            let want = if task.task_status == RunStatus::Successful { "datasource-refresh-succeeded" } else { "datasource-refresh-failed" };
            prop_assert_eq!(fired, vec![want], "{}", task.identifier);
        }
        prop_assert_eq!(engine.deliveries().len(), events.len());
    }
}
