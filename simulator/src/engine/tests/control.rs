//! The control API's shortcuts: immediate evaluations and one data source's refresh.

use std::collections::BTreeMap;

use crate::engine::testkit::{self, T0};
use crate::engine::{
    Effect, EngineError, ForcedMeasure, OperationType, Outcome, RunStatus, SubmissionKind,
};
use crate::time::SimDuration;

/// `expected` is `None` for success, else the name of the error's variant.
fn check(result: Result<Vec<Effect>, EngineError>, expected: Option<&str>) {
    match (result, expected) {
        (Ok(_), None) => {}
        (Err(e), Some(variant)) => assert!(format!("{e:?}").starts_with(variant), "{e:?}"),
        (got, want) => panic!("got {got:?}, expected {want:?}"),
    }
}

#[test]
fn evaluate_segment_checks_the_name_and_the_count() {
    let mut engine = testkit::engine();
    check(engine.evaluate_segment(T0, "churnrisk", 10), None);
    check(
        engine.evaluate_segment(T0, "Nope", 10),
        Some("UnknownIdentifiers"),
    );
    check(
        engine.evaluate_segment(T0, "ChurnRisk", 1_000_000),
        Some("Invalid"),
    );
}

#[test]
fn evaluate_measure_refuses_a_number_for_a_dimensioned_measure() {
    let mut engine = testkit::engine();
    check(engine.evaluate_measure(T0, "TotalRevenue", 1.0), None);
    check(
        engine.evaluate_measure(T0, "RevenueByCountry", 1.0),
        Some("Invalid"),
    );
    check(
        engine.evaluate_measure(T0, "TotalRevenue", f64::NAN),
        Some("Invalid"),
    );
    check(
        engine.evaluate_measure_with(
            T0,
            "RevenueByCountry",
            ForcedMeasure::Values(BTreeMap::from([("Germany".to_owned(), 5.0)])),
        ),
        None,
    );
    let view = engine.measures();
    let json = serde_json::to_value(&view[3]).unwrap();
    assert_eq!(json["output"]["values"]["Germany"], "5");
    assert_eq!(json["output"]["values"]["France"], "300000");
}

#[test]
fn an_immediate_evaluation_is_listed_as_a_finished_job() {
    let mut engine = testkit::engine();
    engine.evaluate_segment(T0, "ChurnRisk", 10).unwrap();
    let jobs = engine.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].operation_type, OperationType::Segmentation);
    assert_eq!(jobs[0].job_status, RunStatus::Successful);
    let seg = engine.segments();
    assert_eq!(
        seg[1].evaluation_status.last_successful_run_id.as_deref(),
        Some(jobs[0].job_id.as_str())
    );
}

#[test]
fn refresh_datasource_forces_the_outcome_of_one_source() {
    let mut engine = testkit::engine();
    let job = engine
        .refresh_datasource(T0, "ecommerce", Outcome::Fail)
        .unwrap();
    assert_eq!(job.tasks.len(), 1);
    assert_eq!(job.job_submission_kind, SubmissionKind::OnDemand);
    engine.run_until(T0 + SimDuration::from_hours(1));
    assert_eq!(
        engine.job(&job.job_id).unwrap().tasks[0].task_status,
        RunStatus::Failed
    );
    assert!(
        engine
            .refresh_datasource(T0, "Nope", Outcome::Fail)
            .is_err()
    );
}
