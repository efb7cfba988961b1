//! The six triggers through the engine: when each fires, its payload, and the laws of the
//! threshold triggers.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::engine::testkit::{self, T0, drive_ok, secs};
use crate::engine::{
    Effect, Engine, EngineOptions, JobRequest, OperationType, Outcome, Payload, RefreshRequest,
    RunStatus, SubmissionKind,
};
use crate::time::{SimDuration, SimTime};

/// Subscribes to `trigger` with `inputs`, runs `act`, answers every delivery with 200, and
/// checks the payloads of the events delivered.
fn check(trigger: &str, inputs: Value, act: impl FnOnce(&mut Engine), expected: &[Value]) {
    let mut engine = testkit::engine();
    testkit::watch(&mut engine, trigger, inputs);
    act(&mut engine);
    let sent = drive_ok(&mut engine, T0 + SimDuration::from_days(2));
    let bodies: Vec<Value> = sent
        .iter()
        .map(|a| serde_json::from_str(&a.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), expected.len(), "{bodies:#?}");
    for (body, want) in bodies.iter().zip(expected) {
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&body[k], v, "field {k} of {body:#}");
        }
        assert_eq!(body["eventType"], trigger);
        assert_eq!(body["instanceId"], engine.instance_id());
    }
}

fn refresh(sources: &[(&str, Outcome)]) -> impl FnOnce(&mut Engine) {
    let mut req = RefreshRequest::default();
    for (n, o) in sources {
        req.data_sources.insert(n.to_string(), *o);
    }
    move |e: &mut Engine| {
        e.refresh(T0, req).unwrap();
    }
}

#[test]
fn refresh_failed_fires_on_a_permanent_failure() {
    check(
        "datasource-refresh-failed",
        json!({}),
        refresh(&[("PoS", Outcome::Fail)]),
        &[json!({"dataSourceName": "PoS", "taskStatus": "failed", "refreshState": "updateFailed"})],
    );
}

#[test]
fn refresh_failed_fires_on_a_timeout() {
    check(
        "datasource-refresh-failed",
        json!({"dataSourceName": "pos"}),
        refresh(&[("PoS", Outcome::Timeout), ("Loyalty", Outcome::Fail)]),
        &[json!({"dataSourceName": "PoS", "taskStatus": "timedOut"})],
    );
}

#[test]
fn refresh_failed_does_not_fire_for_a_transient_failure_that_recovers() {
    check(
        "datasource-refresh-failed",
        json!({}),
        refresh(&[("PoS", Outcome::Transient)]),
        &[],
    );
}

#[test]
fn refresh_succeeded_fires_once_per_source_and_honours_the_filter() {
    check(
        "datasource-refresh-succeeded",
        json!({"dataSourceName": "eCommerce"}),
        refresh(&[("PoS", Outcome::Transient)]),
        &[
            json!({"dataSourceName": "eCommerce", "taskStatus": "successful", "errors": [], "refreshState": "updated"}),
        ],
    );
}

#[test]
fn refresh_succeeded_does_not_fire_for_a_failed_source() {
    check(
        "datasource-refresh-succeeded",
        json!({"dataSourceName": "PoS"}),
        refresh(&[("PoS", Outcome::Fail)]),
        &[],
    );
}

#[test]
fn segment_trigger_fires_on_an_upward_crossing_only() {
    check(
        "segment-threshold-crossed",
        json!({"segmentName": "ChurnRisk", "threshold": 1000}),
        |e| {
            e.evaluate_segment(T0, "ChurnRisk", 900).unwrap();
            e.evaluate_segment(T0 + secs(1), "ChurnRisk", 1100).unwrap();
            e.evaluate_segment(T0 + secs(2), "ChurnRisk", 950).unwrap();
            e.evaluate_segment(T0 + secs(3), "ChurnRisk", 1000).unwrap();
            e.evaluate_segment(T0 + secs(4), "ChurnRisk", 1001).unwrap();
        },
        &[
            json!({"segmentName": "ChurnRisk", "threshold": 1000, "previousCount": 900, "entityCount": 1100}),
            json!({"previousCount": 1000, "entityCount": 1001}),
        ],
    );
}

#[test]
fn segment_trigger_does_not_fire_while_the_count_stays_above() {
    check(
        "segment-threshold-crossed",
        json!({"segmentName": "ChurnRisk", "threshold": 10}),
        |e| {
            e.evaluate_segment(T0, "ChurnRisk", 20).unwrap();
            e.evaluate_segment(T0, "ChurnRisk", 30).unwrap();
        },
        &[],
    );
}

#[test]
fn a_failed_segment_evaluation_fires_nothing_and_keeps_the_baseline() {
    check(
        "segment-threshold-crossed",
        json!({"segmentName": "ChurnRisk", "threshold": 1000}),
        |e| {
            e.evaluate_segment(T0, "ChurnRisk", 900).unwrap();
            let mut req = JobRequest::new(OperationType::Segmentation);
            req.identifiers = vec!["ChurnRisk".into()];
            req.forcing
                .evaluations
                .insert("ChurnRisk".into(), Outcome::Fail);
            req.forcing.segments.insert("ChurnRisk".into(), 5000);
            e.submit_job(T0, req).unwrap();
            e.run_until(T0 + SimDuration::from_hours(1));
            e.evaluate_segment(T0 + SimDuration::from_hours(1), "ChurnRisk", 1200)
                .unwrap();
        },
        &[json!({"previousCount": 900, "entityCount": 1200})],
    );
}

#[test]
fn a_segment_evaluated_by_a_refresh_fires_with_its_job_id() {
    let mut engine = testkit::engine();
    testkit::watch_segment(&mut engine, "NewCustomers", 10);
    engine.evaluate_segment(T0, "NewCustomers", 5).unwrap();
    let mut req = RefreshRequest::default();
    req.segments.insert("NewCustomers".into(), 11);
    let job = engine.refresh(T0, req).unwrap();
    let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(1));
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["jobId"], job.job_id.as_str());
    assert_eq!(body["entityCount"], 11);
}

#[test]
fn the_api_agrees_with_the_payload_when_the_event_is_created() {
    let mut engine = testkit::engine();
    testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    engine.evaluate_segment(T0, "ChurnRisk", 0).unwrap();
    let effects = engine.evaluate_segment(T0, "ChurnRisk", 42).unwrap();
    let i = testkit::segment_index(&engine, "ChurnRisk");
    assert_eq!(
        effects[0],
        Effect::SegmentCountChanged {
            segment: i,
            count: 42
        },
        "the count change comes before the delivery"
    );
    assert_eq!(engine.segment_count(i), 42);
    assert_eq!(
        engine.events()[0].payload.common().event_type,
        "segment-threshold-crossed"
    );
}

#[test]
fn measure_trigger_fires_on_an_upward_crossing_only() {
    check(
        "measure-threshold-crossed",
        json!({"measureName": "TotalRevenue", "threshold": 1500000.5}),
        |e| {
            e.evaluate_measure(T0, "TotalRevenue", 2_000_000.0).unwrap();
            e.evaluate_measure(T0, "TotalRevenue", 1_000_000.0).unwrap();
            e.evaluate_measure(T0, "TotalRevenue", 1_500_000.5).unwrap();
            e.evaluate_measure(T0, "TotalRevenue", 1_500_000.75)
                .unwrap();
        },
        &[
            json!({"measureName": "TotalRevenue", "previousValue": 1000000, "value": 2000000, "threshold": 1500000.5}),
            json!({"previousValue": 1500000.5, "value": 1500000.75}),
        ],
    );
}

#[test]
fn full_refresh_completed_fires_for_scheduled_jobs_with_their_status() {
    check(
        "full-refresh-completed",
        json!({}),
        refresh(&[("Loyalty", Outcome::Fail)]),
        &[json!({"jobSubmissionKind": "scheduled", "jobStatus": "failed", "jobType": "full"})],
    );
}

#[test]
fn full_refresh_completed_does_not_fire_for_on_demand_jobs() {
    check(
        "full-refresh-completed",
        json!({}),
        |e| {
            let req = RefreshRequest {
                kind: SubmissionKind::OnDemand,
                ..Default::default()
            };
            e.refresh(T0, req).unwrap();
            e.submit_job(T0, JobRequest::new(OperationType::All))
                .unwrap();
        },
        &[],
    );
}

#[test]
fn full_refresh_completed_does_not_fire_for_a_scheduled_partial_job() {
    check(
        "full-refresh-completed",
        json!({}),
        |e| {
            let mut req = JobRequest::new(OperationType::Segmentation);
            req.submission_kind = SubmissionKind::Scheduled;
            e.submit_job(T0, req).unwrap();
        },
        &[],
    );
}

#[test]
fn a_cancelled_scheduled_refresh_still_completes_as_aborted() {
    check(
        "full-refresh-completed",
        json!({}),
        |e| {
            let job = e.refresh(T0, RefreshRequest::default()).unwrap();
            e.cancel_job(T0 + secs(1), &job.job_id).unwrap();
        },
        &[json!({"jobStatus": "aborted", "endTimestamp": "2026-01-01T00:00:01Z"})],
    );
}

#[test]
fn unification_completed_carries_the_three_stages() {
    let mut engine = testkit::engine();
    testkit::watch(&mut engine, "unification-completed", json!({}));
    let job = engine.refresh(T0, RefreshRequest::default()).unwrap();
    let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(1));
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    let view = engine.job(&job.job_id).unwrap();
    let merge = view
        .tasks
        .iter()
        .find(|t| t.operation_type == OperationType::Merge)
        .unwrap();
    assert_eq!(body["jobId"], job.job_id.as_str());
    assert_eq!(body["taskStatus"], "successful");
    assert_eq!(body["unifiedCustomerCount"], 10_000);
    assert_eq!(body["stages"].as_array().unwrap().len(), 3);
    assert_eq!(body["stages"][0]["operationType"], "map");
    assert_eq!(body["stages"][2]["operationType"], "merge");
    assert_eq!(
        body["endTimestamp"],
        serde_json::to_value(merge.end_timestamp).unwrap()
    );
    assert_eq!(body["occurredAt"], body["endTimestamp"]);
}

#[test]
fn unification_completed_reports_the_first_stage_that_did_not_succeed() {
    check(
        "unification-completed",
        json!({}),
        |e| {
            let mut req = RefreshRequest::default();
            req.stages.insert("match".into(), Outcome::Timeout);
            e.refresh(T0, req).unwrap();
        },
        &[json!({"taskStatus": "timedOut"})],
    );
}

#[test]
fn unification_completed_fires_as_skipped_when_ingestion_failed_unless_switched_off() {
    check(
        "unification-completed",
        json!({}),
        refresh(&[("PoS", Outcome::Fail)]),
        &[json!({"taskStatus": "skipped"})],
    );
    check(
        "unification-completed",
        json!({}),
        |e| {
            e.set_options(EngineOptions {
                unification_fires_when_skipped: false,
                ..Default::default()
            });
            refresh(&[("PoS", Outcome::Fail)])(e);
        },
        &[],
    );
}

#[test]
fn unification_completed_does_not_fire_for_a_job_cancelled_before_unification() {
    check(
        "unification-completed",
        json!({}),
        |e| {
            let job = e.refresh(T0, RefreshRequest::default()).unwrap();
            e.cancel_job(T0 + secs(1), &job.job_id).unwrap();
        },
        &[],
    );
}

#[test]
fn unification_completed_does_not_fire_for_partial_jobs() {
    check(
        "unification-completed",
        json!({}),
        |e| {
            e.submit_job(T0, JobRequest::new(OperationType::Ingestion))
                .unwrap();
        },
        &[],
    );
}

#[test]
fn full_refresh_completed_fires_for_on_demand_jobs_with_the_2021_wording() {
    let mut engine = {
        let mut spec = testkit::tenant();
        spec.refresh.full_refresh_trigger = crate::tenant::spec::FullRefreshTrigger::Any;
        Engine::new(&spec, 42, T0, testkit::initial())
    };
    testkit::watch(&mut engine, "full-refresh-completed", json!({}));
    engine
        .submit_job(T0, JobRequest::new(OperationType::All))
        .unwrap();
    engine
        .submit_job(T0, JobRequest::new(OperationType::Merge))
        .unwrap();
    let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(1));
    assert_eq!(sent.len(), 1, "only the full refresh");
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["jobSubmissionKind"], "onDemand");
}

/// A unification-only job (`operationType` `map`, `match` or `merge`) runs that stage and the
/// stages after it up to merge, and fires `unification-completed` once with those stages.
#[test]
fn a_unification_only_job_fires_unification_completed_once_with_its_stages() {
    for (op, stages) in [
        (OperationType::Map, vec!["map", "match", "merge"]),
        (OperationType::Match, vec!["match", "merge"]),
        (OperationType::Merge, vec!["merge"]),
    ] {
        let mut engine = testkit::engine();
        testkit::watch(&mut engine, "unification-completed", json!({}));
        testkit::watch(&mut engine, "full-refresh-completed", json!({}));
        testkit::watch(&mut engine, "datasource-refresh-succeeded", json!({}));
        let job = engine.submit_job(T0, JobRequest::new(op)).unwrap();
        let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(1));
        let bodies: Vec<Value> = sent
            .iter()
            .map(|a| serde_json::from_str(&a.body).unwrap())
            .collect();
        assert_eq!(bodies.len(), 1, "{op}: {bodies:#?}");
        let body = &bodies[0];
        assert_eq!(body["eventType"], "unification-completed");
        assert_eq!(body["jobId"], job.job_id.as_str());
        assert_eq!(body["taskStatus"], "successful");
        let got: Vec<&str> = body["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["operationType"].as_str().unwrap())
            .collect();
        assert_eq!(got, stages, "{op}");
        let view = engine.job(&job.job_id).unwrap();
        assert_eq!(view.operation_type, op);
        assert_eq!(view.job_status, RunStatus::Successful);
        assert_eq!(view.tasks.len(), stages.len());
    }
}

/// The event of a unification-only job has the fields of a full refresh's, in the same order.
#[test]
fn an_on_demand_unification_and_a_scheduled_refresh_send_the_same_event_shape() {
    let keys = |act: &dyn Fn(&mut Engine)| {
        let mut engine = testkit::engine();
        testkit::watch(&mut engine, "unification-completed", json!({}));
        act(&mut engine);
        let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(1));
        assert_eq!(sent.len(), 1);
        let body: serde_json::Map<String, Value> = serde_json::from_str(&sent[0].body).unwrap();
        let stage_keys: Vec<Vec<String>> = body["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_object().unwrap().keys().cloned().collect())
            .collect();
        (
            body.keys().cloned().collect::<Vec<_>>(),
            stage_keys[0].clone(),
        )
    };
    let scheduled = keys(&|e| {
        e.refresh(T0, RefreshRequest::default()).unwrap();
    });
    let on_demand = keys(&|e| {
        e.submit_job(T0, JobRequest::new(OperationType::Merge))
            .unwrap();
    });
    assert_eq!(scheduled, on_demand);
}

/// The demo tenant with `ChurnRisk` inactive and `NewCustomers` static.
fn inactive_and_static() -> Engine {
    use crate::tenant::spec::{SegmentRefresh, SegmentState};
    let mut spec = testkit::tenant();
    for s in &mut spec.segments {
        match s.name.as_str() {
            "ChurnRisk" => s.state = SegmentState::Inactive,
            "NewCustomers" => s.refresh = SegmentRefresh::Static,
            _ => {}
        }
    }
    Engine::new(&spec, 42, T0, testkit::initial())
}

#[test]
fn an_inactive_segment_is_never_evaluated_and_never_fires() {
    let mut engine = inactive_and_static();
    testkit::watch_segment(&mut engine, "ChurnRisk", 0);
    let mut req = RefreshRequest::default();
    req.segments.insert("ChurnRisk".into(), 9_000);
    let job = engine.refresh(T0, req).unwrap();
    assert!(
        !job.tasks.iter().any(|t| t.identifier == "ChurnRisk"),
        "scheduled refreshes leave it out"
    );
    let mut named = JobRequest::new(OperationType::Segmentation);
    named.identifiers = vec!["churnrisk".into()];
    let err = engine.submit_job(T0, named).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid identifiers: segment ChurnRisk is inactive (state = \"inactive\" in the tenant file), and inactive segments are not evaluated; make it active to evaluate it"
    );
    assert!(engine.evaluate_segment(T0, "ChurnRisk", 9_000).is_err());
    assert!(drive_ok(&mut engine, T0 + SimDuration::from_days(1)).is_empty());
    let churn = &engine.segments()[testkit::segment_index(&engine, "ChurnRisk")];
    assert_eq!(churn.state, "inactive");
    assert_eq!(
        churn.evaluation_status_history.len(),
        1,
        "only the initial one"
    );
}

#[test]
fn a_static_segment_is_evaluated_only_by_a_job_that_names_it() {
    let mut engine = inactive_and_static();
    testkit::watch_segment(&mut engine, "NewCustomers", 0);
    let mut req = RefreshRequest::default();
    req.segments.insert("NewCustomers".into(), 0);
    engine.refresh(T0, req).unwrap();
    let all = engine
        .submit_job(T0, JobRequest::new(OperationType::Segmentation))
        .unwrap();
    assert!(!all.tasks.iter().any(|t| t.identifier == "NewCustomers"));
    assert!(drive_ok(&mut engine, T0 + SimDuration::from_hours(1)).is_empty());
    // A manual refresh: from the initial count to 0, then up again.
    engine
        .evaluate_segment(T0 + secs(3600), "NewCustomers", 0)
        .unwrap();
    let mut named = JobRequest::new(OperationType::Segmentation);
    named.identifiers = vec!["NewCustomers".into()];
    named.forcing.segments.insert("NewCustomers".into(), 700);
    engine.submit_job(T0 + secs(3600), named).unwrap();
    let sent = drive_ok(&mut engine, T0 + SimDuration::from_hours(2));
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(
        (body["segmentName"].as_str(), body["entityCount"].as_u64()),
        (Some("NewCustomers"), Some(700))
    );
}

/// One step of a threshold timeline.
#[derive(Debug, Clone)]
enum Step {
    Success(u64),
    Failure,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![3 => (0u64..40).prop_map(Step::Success), 1 => Just(Step::Failure)],
        0..12,
    )
}

/// The reference: fold over successful evaluations from the baseline; a crossing is
/// `previous <= t < next`.
fn reference(initial: f64, values: &[Option<f64>], threshold: f64) -> Vec<(f64, f64)> {
    let mut base = initial;
    let mut out = Vec::new();
    for v in values.iter().flatten() {
        if base <= threshold && *v > threshold {
            out.push((base, *v));
        }
        base = *v;
    }
    out
}

fn fail_evaluation(e: &mut Engine, at: SimTime, name: &str) {
    let op = if e.segments().iter().any(|s| s.name == name) {
        OperationType::Segmentation
    } else {
        OperationType::Measures
    };
    let mut req = JobRequest::new(op);
    req.identifiers = vec![name.into()];
    req.forcing.evaluations.insert(name.into(), Outcome::Fail);
    e.submit_job(at, req).unwrap();
    e.run_until(at + SimDuration::from_hours(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Law: for any sequence of successful and failed segment evaluations and any
    /// thresholds, each subscription receives exactly one delivery per upward crossing of
    /// its threshold, where the baseline is the last successful evaluation (initially the
    /// segment's initial count); failed evaluations fire nothing and move no baseline.
    #[test]
    fn segment_deliveries_happen_exactly_at_upward_crossings(
        timeline in steps(),
        thresholds in prop::collection::vec(0u64..40, 1..4),
    ) {
        let mut engine = testkit::engine();
        let name = "NewCustomers";
        let i = testkit::segment_index(&engine, name);
        engine.evaluate_segment(T0, name, 20).unwrap();
        let subs: Vec<String> = thresholds.iter().map(|t| {
            testkit::watch_segment(&mut engine, name, *t).id
        }).collect();
        let mut at = T0;
        let mut values = Vec::new();
        for step in &timeline {
            at += SimDuration::from_hours(2);
            match step {
                Step::Success(c) => { engine.evaluate_segment(at, name, *c).unwrap(); values.push(Some(*c as f64)); }
                Step::Failure => { fail_evaluation(&mut engine, at, name); values.push(None); }
            }
            prop_assert_eq!(engine.segment_count(i), values.iter().flatten().last().copied().unwrap_or(20.0) as u64);
        }
        let sent = drive_ok(&mut engine, at + SimDuration::from_days(1));
        for (sub, t) in subs.iter().zip(&thresholds) {
            let got: Vec<(f64, f64)> = sent.iter().filter(|a| &a.subscription_id == sub).map(|a| {
                let b: Value = serde_json::from_str(&a.body).unwrap();
                (b["previousCount"].as_f64().unwrap(), b["entityCount"].as_f64().unwrap())
            }).collect();
            prop_assert_eq!(got, reference(20.0, &values, *t as f64));
        }
    }

    /// Law: the same for a measure without a dimension, with arbitrary real values and
    /// thresholds.
    #[test]
    fn measure_deliveries_happen_exactly_at_upward_crossings(
        timeline in prop::collection::vec(prop_oneof![3 => (-50.0f64..50.0).prop_map(Some), 1 => Just(None)], 0..12),
        threshold in -50.0f64..50.0,
    ) {
        let mut engine = testkit::engine();
        let name = "AverageOrderValue";
        engine.evaluate_measure(T0, name, 0.0).unwrap();
        testkit::watch(&mut engine, "measure-threshold-crossed", json!({"measureName": name, "threshold": threshold}));
        let mut at = T0;
        for v in &timeline {
            at += SimDuration::from_hours(2);
            match v {
                Some(v) => { engine.evaluate_measure(at, name, *v).unwrap(); }
                None => fail_evaluation(&mut engine, at, name),
            }
        }
        let sent = drive_ok(&mut engine, at + SimDuration::from_days(1));
        // Compare the payloads as built (serde_json's default float parsing may be off by
        // one ulp, which is not what this law is about).
        let got: Vec<(f64, f64)> = engine.events().iter().map(|e| match &e.payload {
            Payload::Measure(p) => (p.previous_value.as_f64().unwrap(), p.value.as_f64().unwrap()),
            other => panic!("{other:?}"),
        }).collect();
        prop_assert_eq!(sent.len(), got.len());
        prop_assert_eq!(got, reference(0.0, &timeline, threshold));
    }
}
