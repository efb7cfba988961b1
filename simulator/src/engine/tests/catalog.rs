//! The catalog through the engine: initial state and evaluations.

use crate::engine::testkit;
use crate::engine::{Engine, JobRequest, OperationType, Outcome, RefreshState};
use crate::time::SimDuration;

fn check(engine: &Engine, segment: &str, expected_count: u64) {
    let view = engine.segments();
    let s = view.iter().find(|s| s.name == segment).unwrap();
    assert_eq!(s.evaluation_status.entity_count, expected_count);
    let i = testkit::segment_index(engine, segment);
    assert_eq!(engine.segment_count(i), expected_count);
}

#[test]
fn every_segment_starts_with_one_successful_evaluation_at_its_initial_share() {
    let engine = testkit::engine();
    let spec = testkit::tenant();
    check(
        &engine,
        "HighValueCustomers",
        (0.12f64 * spec.customers as f64).round() as u64,
    );
    for s in engine.segments() {
        assert_eq!(s.evaluation_status_history.len(), 1);
        assert_eq!(s.evaluation_status.job_status, "CompletedSuccess");
        assert_eq!(s.evaluation_status.evaluation_date, testkit::T0);
    }
}

#[test]
fn every_data_source_starts_updated_a_little_before_start() {
    for ds in testkit::engine().data_sources() {
        assert_eq!(ds.refresh_state, RefreshState::Updated);
        let last = ds.last_refresh.unwrap();
        assert!(last < testkit::T0 && last >= testkit::T0 - SimDuration::from_hours(6));
        assert!(ds.entity_names.iter().all(|n| n.starts_with(&ds.name)));
    }
}

#[test]
fn measures_start_with_the_initial_values_given() {
    let engine = testkit::engine();
    let view = engine.measures();
    let revenue = view.iter().find(|m| m.name == "TotalRevenue").unwrap();
    assert!(revenue.definition.is_scalar);
    let json = serde_json::to_value(revenue).unwrap();
    assert_eq!(json["output"]["values"]["TotalRevenue"], "1000000");
    assert_eq!(json["latestEvaluation"]["state"], "completed");
    let by_country = view.iter().find(|m| m.name == "RevenueByCountry").unwrap();
    assert!(!by_country.definition.is_scalar);
    let json = serde_json::to_value(by_country).unwrap();
    assert_eq!(json["definition"]["dimensions"][0]["field"], "Country");
    assert_eq!(json["output"]["values"]["Germany"], "400000.5");
}

#[test]
fn a_successful_evaluation_moves_the_count_and_a_failed_one_does_not() {
    let mut engine = testkit::engine();
    engine
        .evaluate_segment(testkit::T0, "ChurnRisk", 77)
        .unwrap();
    check(&engine, "ChurnRisk", 77);
    let mut failing = JobRequest::new(OperationType::Segmentation);
    failing.identifiers = vec!["ChurnRisk".into()];
    failing
        .forcing
        .evaluations
        .insert("ChurnRisk".into(), Outcome::Fail);
    engine.submit_job(testkit::T0, failing).unwrap();
    engine.run_until(testkit::T0 + SimDuration::from_hours(1));
    check(&engine, "ChurnRisk", 77);
    let view = engine.segments();
    let s = view.iter().find(|s| s.name == "ChurnRisk").unwrap();
    assert_eq!(s.evaluation_status.job_status, "CompletedFailure");
    assert_eq!(s.evaluation_status_history.len(), 3);
}
