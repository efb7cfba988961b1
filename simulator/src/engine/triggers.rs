//! The six triggers: when each fires, and the events it creates (one per occurrence and
//! matching subscription), each handed to delivery at once.

use std::fmt;

use serde::{Serialize, Serializer};

use super::catalog::MeasureValue;
use super::faults::FaultPlan;
use super::jobs::{RunStatus, Target};
use super::payload::{Common, Payload};
use super::state::Engine;
use super::subscriptions::Filter;
use crate::ids;
use crate::time::SimTime;

/// A trigger kind (SPEC 3.4); [`Trigger::id`] is the id used in paths, payloads and scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    DataSourceRefreshFailed,
    DataSourceRefreshSucceeded,
    SegmentThresholdCrossed,
    MeasureThresholdCrossed,
    FullRefreshCompleted,
    UnificationCompleted,
}

impl Trigger {
    pub const ALL: [Trigger; 6] = [
        Trigger::DataSourceRefreshFailed,
        Trigger::DataSourceRefreshSucceeded,
        Trigger::SegmentThresholdCrossed,
        Trigger::MeasureThresholdCrossed,
        Trigger::FullRefreshCompleted,
        Trigger::UnificationCompleted,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Trigger::DataSourceRefreshFailed => "datasource-refresh-failed",
            Trigger::DataSourceRefreshSucceeded => "datasource-refresh-succeeded",
            Trigger::SegmentThresholdCrossed => "segment-threshold-crossed",
            Trigger::MeasureThresholdCrossed => "measure-threshold-crossed",
            Trigger::FullRefreshCompleted => "full-refresh-completed",
            Trigger::UnificationCompleted => "unification-completed",
        }
    }

    /// The trigger with this id (exact, as ids are lower-case path segments).
    pub fn parse(id: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The six ids, comma-separated, for error messages.
    pub fn ids() -> String {
        Trigger::ALL.map(Trigger::id).join(", ")
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// The threshold rule of both threshold triggers: an upward crossing, from at or below the
/// threshold to strictly above it.
pub fn crosses(previous: f64, next: f64, threshold: f64) -> bool {
    previous <= threshold && next > threshold
}

/// One event: an occurrence of a trigger for one subscription.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) id: String,
    pub(super) trigger: Trigger,
    pub(super) subscription: usize,
    pub(super) occurred_at: SimTime,
    pub(super) payload: Payload,
    /// The payload as sent (the same bytes for every delivery of this event).
    pub(super) body: String,
    pub(super) faults: FaultPlan,
}

/// An event, for the control API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub event_id: String,
    pub trigger: Trigger,
    pub subscription_id: String,
    pub occurred_at: SimTime,
    pub payload: Payload,
}

impl Engine {
    /// Every event so far, in the order they occurred.
    pub fn events(&self) -> Vec<EventView> {
        self.events
            .iter()
            .map(|e| EventView {
                event_id: e.id.clone(),
                trigger: e.trigger,
                subscription_id: self.subscriptions[e.subscription].public.id.clone(),
                occurred_at: e.occurred_at,
                payload: e.payload.clone(),
            })
            .collect()
    }

    /// Creates one event per active subscription of `trigger` whose inputs `matches` accepts,
    /// with the payload `build` makes, and hands each to delivery.
    fn emit(
        &mut self,
        now: SimTime,
        trigger: Trigger,
        matches: impl Fn(&Filter) -> bool,
        build: impl Fn(&Engine, Common, &Filter) -> Payload,
    ) {
        let targets: Vec<usize> = self
            .subscriptions
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_active() && s.public.trigger == trigger && matches(&s.filter))
            .map(|(i, _)| i)
            .collect();
        for s in targets {
            let n = self.counters.events;
            self.counters.events += 1;
            let common = Common {
                event_id: ids::uuid_n(self.id_seed, "event", n),
                event_type: trigger.id(),
                subscription_id: self.subscriptions[s].public.id.clone(),
                instance_id: self.instance_id.clone(),
                occurred_at: now,
            };
            let event_id = common.event_id.clone();
            let payload = build(self, common, &self.subscriptions[s].filter);
            let body = serde_json::to_string(&payload).unwrap_or_default();
            let faults = self.plan_faults(trigger, &event_id);
            self.events.push(Event {
                id: event_id,
                trigger,
                subscription: s,
                occurred_at: now,
                payload,
                body,
                faults,
            });
            self.deliver_event(now, self.events.len() - 1);
        }
    }

    /// An ingestion task ended: `successful` fires refresh-succeeded; `failed` (after its
    /// retries) or `timedOut` fires refresh-failed. Called only for terminal statuses, so a
    /// transient failure that is retried fires nothing.
    pub(super) fn fire_data_source(&mut self, now: SimTime, j: usize, t: usize) {
        let task = &self.jobs[j].tasks[t];
        let Target::DataSource(i) = task.target else {
            return;
        };
        let trigger = match task.status {
            RunStatus::Successful => Trigger::DataSourceRefreshSucceeded,
            RunStatus::Failed | RunStatus::TimedOut => Trigger::DataSourceRefreshFailed,
            _ => return,
        };
        self.emit(
            now,
            trigger,
            |f| matches!(f, Filter::DataSource(None)) || *f == Filter::DataSource(Some(i)),
            |engine, common, _| engine.data_source_payload(common, j, t),
        );
    }

    /// A successful evaluation moved segment `i` from `previous` (the baseline) to `count`.
    pub(super) fn fire_segment_crossings(
        &mut self,
        now: SimTime,
        i: usize,
        previous: u64,
        count: u64,
        job_id: &str,
    ) {
        self.emit(
            now,
            Trigger::SegmentThresholdCrossed,
            |f| match f {
                Filter::Segment {
                    index, threshold, ..
                } => *index == i && crosses(previous as f64, count as f64, *threshold),
                _ => false,
            },
            |engine, common, f| {
                let threshold = match f {
                    Filter::Segment { threshold_json, .. } => threshold_json.clone(),
                    _ => serde_json::Number::from(0),
                };
                engine.segment_payload(common, i, &threshold, previous, job_id)
            },
        );
    }

    /// A successful evaluation moved measure `i` from `previous` to `value`. Only measures
    /// without a dimension can be subscribed to, so dimensioned values never match.
    pub(super) fn fire_measure_crossings(
        &mut self,
        now: SimTime,
        i: usize,
        previous: &MeasureValue,
        value: &MeasureValue,
        job_id: &str,
    ) {
        let (Some(previous), Some(value)) = (previous.scalar(), value.scalar()) else {
            return;
        };
        self.emit(
            now,
            Trigger::MeasureThresholdCrossed,
            |f| match f {
                Filter::Measure {
                    index, threshold, ..
                } => *index == i && crosses(previous, value, *threshold),
                _ => false,
            },
            |engine, common, f| {
                let threshold = match f {
                    Filter::Measure { threshold_json, .. } => threshold_json.clone(),
                    _ => serde_json::Number::from(0),
                };
                engine.measure_payload(common, i, &threshold, previous, value, job_id)
            },
        );
    }

    pub(super) fn fire_full_refresh(&mut self, now: SimTime, j: usize) {
        self.emit(
            now,
            Trigger::FullRefreshCompleted,
            |_| true,
            |engine, common, _| engine.full_refresh_payload(common, j),
        );
    }

    pub(super) fn fire_unification(&mut self, now: SimTime, j: usize) {
        self.emit(
            now,
            Trigger::UnificationCompleted,
            |_| true,
            |engine, common, _| engine.unification_payload(common, j, now),
        );
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::super::jobs::{JobRequest, OperationType, Outcome, RefreshRequest, SubmissionKind};
    use super::super::testkit::{self, T0, drive_ok, secs};
    use super::*;
    use crate::time::SimDuration;

    /// Subscribes to `trigger` with `inputs`, runs `act`, answers every delivery with 200, and
    /// checks the payloads of the events delivered.
    fn check(trigger: &str, inputs: Value, act: impl FnOnce(&mut Engine), expected: &[Value]) {
        let mut engine = testkit::engine();
        engine
            .subscribe(T0, trigger, &testkit::hook(inputs))
            .unwrap();
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
            &[
                json!({"dataSourceName": "PoS", "taskStatus": "failed", "refreshState": "updateFailed"}),
            ],
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
        engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "NewCustomers", "threshold": 10})),
            )
            .unwrap();
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
        engine
            .subscribe(
                T0,
                "segment-threshold-crossed",
                &testkit::hook(json!({"segmentName": "ChurnRisk", "threshold": 0})),
            )
            .unwrap();
        engine.evaluate_segment(T0, "ChurnRisk", 0).unwrap();
        let effects = engine.evaluate_segment(T0, "ChurnRisk", 42).unwrap();
        let i = engine.find_segment("ChurnRisk").unwrap();
        assert_eq!(
            effects[0],
            super::super::state::Effect::SegmentCountChanged {
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
        engine
            .subscribe(T0, "unification-completed", &testkit::hook(json!({})))
            .unwrap();
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
                e.set_options(super::super::state::EngineOptions {
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
    fn crossing_is_strictly_above_from_at_or_below() {
        assert!(crosses(10.0, 11.0, 10.0));
        assert!(crosses(5.0, 11.0, 10.0));
        assert!(!crosses(10.0, 10.0, 10.0));
        assert!(!crosses(11.0, 12.0, 10.0));
        assert!(!crosses(12.0, 5.0, 10.0));
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
        let op = if e.find_segment(name).is_some() {
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
            let i = engine.find_segment(name).unwrap();
            engine.evaluate_segment(T0, name, 20).unwrap();
            let subs: Vec<String> = thresholds.iter().map(|t| {
                engine.subscribe(T0, "segment-threshold-crossed", &testkit::hook(json!({"segmentName": name, "threshold": t}))).unwrap().id
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
            engine.subscribe(T0, "measure-threshold-crossed", &testkit::hook(json!({"measureName": name, "threshold": threshold}))).unwrap();
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
}
