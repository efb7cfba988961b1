//! Control-API shortcuts (SPEC 3.8): a full refresh now, one data source's refresh with a
//! forced outcome, and immediate segment and measure evaluations.

use std::collections::BTreeMap;

use super::catalog::MeasureValue;
use super::error::EngineError;
use super::jobs::{
    ForcedMeasure, Job, JobRequest, JobView, OperationType, Outcome, RefreshRequest, RunStatus,
    SubmissionKind, Target, Task,
};
use super::state::{Effect, Engine};
use crate::ids;
use crate::time::SimTime;

impl Engine {
    /// `POST /_sim/refresh`: a full refresh (`operationType = all`) submitted now, of the kind
    /// asked for, with any forced outcomes, counts and values.
    pub fn refresh(&mut self, now: SimTime, req: RefreshRequest) -> Result<JobView, EngineError> {
        self.submit_job(now, req.into_job_request())
    }

    /// `POST /_sim/datasources/{name}/refresh`: an on-demand ingestion job for one data source
    /// whose (first) attempt has the given outcome.
    pub fn refresh_datasource(
        &mut self,
        now: SimTime,
        name: &str,
        outcome: Outcome,
    ) -> Result<JobView, EngineError> {
        let i = self.find_source(name).ok_or_else(|| {
            EngineError::unknown(
                "data source",
                vec![name.to_owned()],
                self.names_of("data source"),
            )
        })?;
        let name = self.sources[i].name.clone();
        let mut req = JobRequest::new(OperationType::Ingestion);
        req.identifiers = vec![name.clone()];
        req.forcing.data_sources = BTreeMap::from([(name, outcome)]);
        self.submit_job(now, req)
    }

    /// `POST /_sim/segments/{name}/evaluate`: an immediate successful evaluation to
    /// `entity_count`, recorded as an on-demand segmentation job that starts and succeeds now.
    /// Returns the effects (the count change first, then any deliveries of crossings).
    pub fn evaluate_segment(
        &mut self,
        now: SimTime,
        name: &str,
        entity_count: u64,
    ) -> Result<Vec<Effect>, EngineError> {
        let now = self.catch_up(now);
        let i = self.find_segment(name).ok_or_else(|| {
            EngineError::unknown("segment", vec![name.to_owned()], self.names_of("segment"))
        })?;
        let count = self.check_count(&self.segments[i].name, entity_count)?;
        let job_id = self.record_instant_job(now, OperationType::Segmentation, Target::Segment(i));
        let previous = self.record_segment_success(now, i, count, &job_id);
        self.fire_segment_crossings(now, i, previous, count, &job_id);
        Ok(self.take_effects())
    }

    /// `POST /_sim/measures/{name}/evaluate`: the same for a measure without a dimension.
    pub fn evaluate_measure(
        &mut self,
        now: SimTime,
        name: &str,
        value: f64,
    ) -> Result<Vec<Effect>, EngineError> {
        self.evaluate_measure_with(now, name, ForcedMeasure::Value(value))
    }

    /// The same for any measure: a number, or dimension values for a measure with a dimension.
    pub fn evaluate_measure_with(
        &mut self,
        now: SimTime,
        name: &str,
        value: ForcedMeasure,
    ) -> Result<Vec<Effect>, EngineError> {
        let now = self.catch_up(now);
        let i = self.find_measure(name).ok_or_else(|| {
            EngineError::unknown("measure", vec![name.to_owned()], self.names_of("measure"))
        })?;
        let value: MeasureValue = self.forced_measure_value(i, &value)?;
        let job_id = self.record_instant_job(now, OperationType::Measures, Target::Measure(i));
        let previous = self.record_measure_success(now, i, value.clone(), &job_id);
        self.fire_measure_crossings(now, i, &previous, &value, &job_id);
        Ok(self.take_effects())
    }

    /// Records a one-task on-demand job that was submitted and succeeded at `now`, so that the
    /// `jobId` in a payload names a job the jobs API knows. It does not wait for the job queue.
    fn record_instant_job(&mut self, now: SimTime, op: OperationType, target: Target) -> String {
        let (identifier, friendly_name) = match target {
            Target::Segment(i) => (
                self.segments[i].name.clone(),
                self.segments[i].friendly_name.clone(),
            ),
            Target::Measure(i) => (
                self.measures[i].name.clone(),
                self.measures[i].display_name.clone(),
            ),
            Target::DataSource(i) => (
                self.sources[i].name.clone(),
                self.sources[i].friendly_name.clone(),
            ),
            Target::Stage => (op.as_str().to_owned(), op.as_str().to_owned()),
        };
        let job_id = ids::uuid_n(self.id_seed, "job", self.counters.jobs);
        self.counters.jobs += 1;
        let task_id = ids::uuid_n(self.id_seed, "task", self.counters.tasks);
        self.counters.tasks += 1;
        self.jobs.push(Job {
            id: job_id.clone(),
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
}

#[cfg(test)]
mod tests {
    use super::super::jobs::RunStatus;
    use super::super::testkit::{self, T0};
    use super::*;
    use crate::time::SimDuration;

    fn check(result: Result<Vec<Effect>, EngineError>, expected_status: Option<u16>) {
        match (result, expected_status) {
            (Ok(_), None) => {}
            (Err(e), Some(s)) => assert_eq!(e.status(), s, "{e}"),
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn evaluate_segment_checks_the_name_and_the_count() {
        let mut engine = testkit::engine();
        check(engine.evaluate_segment(T0, "churnrisk", 10), None);
        check(engine.evaluate_segment(T0, "Nope", 10), Some(400));
        check(
            engine.evaluate_segment(T0, "ChurnRisk", 1_000_000),
            Some(400),
        );
    }

    #[test]
    fn evaluate_measure_refuses_a_number_for_a_dimensioned_measure() {
        let mut engine = testkit::engine();
        check(engine.evaluate_measure(T0, "TotalRevenue", 1.0), None);
        check(
            engine.evaluate_measure(T0, "RevenueByCountry", 1.0),
            Some(400),
        );
        check(
            engine.evaluate_measure(T0, "TotalRevenue", f64::NAN),
            Some(400),
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
}
