//! The catalog owner: the tenant's refreshable objects (data sources, segments and business
//! measures) with the state their refreshes leave behind, the random walks that move counts and
//! values, and the manage-API views of them.
//!
//! It knows nothing of jobs, subscriptions or deliveries: the orchestrator (`state.rs`) tells it
//! what happened to an object and builds events from what it answers.

mod objects;
mod payloads;
mod resolve;
mod views;

use objects::{CustomerMeasureState, DataSourceState, MeasureState, SegmentState};
pub use objects::{MeasureEvaluation, SegmentEvaluation, StringInfo};
pub use views::{
    DataSourceView, EvaluationStats, EvaluationStatus, MeasureDefinition, MeasureDimension,
    MeasureView, OutputValues, ScalarOutput, SegmentView,
};

use super::draw;
use super::history::{History, HistoryDrops};
use super::names::Names;
use super::request::Target;
use super::status::RefreshState;
use super::value::MeasureValue;
use crate::ids;
use crate::tenant::TenantSpec;
use crate::tenant::spec::{
    CUSTOMER_MEASURES, MeasureSource, SegmentRefresh, SegmentState as SegmentSpecState,
    initial_segment_count,
};
use crate::time::{SimDuration, SimTime};

/// What the caller computed from the generated data before the engine starts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Initial {
    /// The first value of each measure, in the order of `spec.measures`. A missing entry starts
    /// at 0 (or with no dimension values).
    pub measure_values: Vec<MeasureValue>,
}

/// The id of a data source: `ids::uuid(seed, ["datasource", name])`.
pub fn data_source_id(seed: u64, name: &str) -> String {
    ids::uuid(seed, &["datasource", name])
}

/// The tenant's data sources, segments and measures, and their refresh state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Catalog {
    sources: Vec<DataSourceState>,
    segments: Vec<SegmentState>,
    measures: Vec<MeasureState>,
    /// The customer measures: listed with the measures, never evaluated again.
    customer_measures: Vec<CustomerMeasureState>,
    /// Keys the random walks.
    seed: u64,
    /// No segment has more members than the tenant has customers.
    customers: u64,
    /// Whether counts and values walk between refreshes (else they stay until forced).
    random_walk: bool,
}

impl Catalog {
    /// Every data source refreshed a little before `start`, every segment and measure evaluated
    /// once at `start`.
    pub(super) fn new(spec: &TenantSpec, seed: u64, start: SimTime, initial: &Initial) -> Catalog {
        let initial_run = ids::uuid(seed, &["initial-evaluation"]);
        let history_bytes_max = spec.limits.history_bytes_max;
        let sources = spec
            .data_sources
            .iter()
            .map(|ds| {
                let ago = draw::duration_in(
                    seed,
                    &["last-refresh", &ds.name],
                    crate::tenant::spec::DurationRange {
                        min: SimDuration::from_mins(30),
                        max: SimDuration::from_hours(6),
                    },
                );
                let mut entity_names = vec![format!("{}_{}", ds.name, ds.contacts.table)];
                if let Some(act) = &ds.activities {
                    entity_names.push(format!("{}_{}", ds.name, act.table));
                }
                DataSourceState {
                    id: data_source_id(seed, &ds.name),
                    name: ds.name.clone(),
                    friendly_name: ds.friendly_name.clone(),
                    kind: ds.kind.clone(),
                    entity_names,
                    refresh_state: RefreshState::Updated,
                    last_refresh: Some(start - ago),
                }
            })
            .collect();
        let segments = spec
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let count = initial_segment_count(spec, i);
                let first = SegmentEvaluation {
                    evaluation_date: start,
                    entity_count: count,
                    job_status: "CompletedSuccess".into(),
                    error: None,
                };
                SegmentState {
                    name: s.name.clone(),
                    friendly_name: s.friendly_name.clone(),
                    description: s.description.clone(),
                    volatility: s.volatility,
                    anchor: count,
                    count,
                    evaluated: true,
                    last_success_run: Some(initial_run.clone()),
                    latest: first.clone(),
                    history: History::new(history_bytes_max, first),
                    running: false,
                    steps: 0,
                    state: s.state,
                    refresh: s.refresh,
                }
            })
            .collect();
        let customer_measures = CUSTOMER_MEASURES
            .iter()
            .map(|c| CustomerMeasureState {
                name: c.name.into(),
                display_name: c.display_name.into(),
                description: c.description.into(),
                evaluation: MeasureEvaluation {
                    state: "completed".into(),
                    end_time: start,
                    error: None,
                    last_successful_run_id: Some(initial_run.clone()),
                },
            })
            .collect();
        let measures = spec
            .measures
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let value = match (initial.measure_values.get(i), &m.dimension) {
                    (Some(MeasureValue::Scalar(v)), None) => MeasureValue::Scalar(*v),
                    (Some(MeasureValue::ByDimension(v)), Some(_)) => {
                        MeasureValue::ByDimension(v.clone())
                    }
                    (_, None) => MeasureValue::Scalar(0.0),
                    (_, Some(_)) => MeasureValue::ByDimension(Vec::new()),
                };
                let first = MeasureEvaluation {
                    state: "completed".into(),
                    end_time: start,
                    error: None,
                    last_successful_run_id: Some(initial_run.clone()),
                };
                MeasureState {
                    name: m.name.clone(),
                    display_name: m.display_name.clone(),
                    description: m.description.clone(),
                    dimension: m.dimension.clone(),
                    volatility: m.volatility,
                    whole: matches!(
                        m.source,
                        MeasureSource::ActiveCustomers | MeasureSource::CustomerCount
                    ),
                    anchor: value.clone(),
                    value: value.clone(),
                    evaluated: true,
                    last_success_run: Some(initial_run.clone()),
                    last_successful: Some(start),
                    consecutive_failures: 0,
                    latest: first.clone(),
                    history: History::new(history_bytes_max, first),
                    outputs: History::new(history_bytes_max, (start, value)),
                    running: false,
                    steps: 0,
                }
            })
            .collect();
        Catalog {
            sources,
            segments,
            measures,
            customer_measures,
            seed,
            customers: spec.customers as u64,
            random_walk: spec.refresh.random_walk,
        }
    }

    pub(super) fn find_source(&self, name: &str) -> Option<usize> {
        self.sources
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name) || s.id.eq_ignore_ascii_case(name))
    }

    pub(super) fn find_segment(&self, name: &str) -> Option<usize> {
        self.segments
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
    }

    pub(super) fn find_measure(&self, name: &str) -> Option<usize> {
        self.measures
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The canonical name of the customer measure with this name (any case).
    pub(super) fn find_customer_measure(&self, name: &str) -> Option<&str> {
        self.customer_measures
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.name.as_ref())
    }

    /// Whether segment `i` is evaluated by a refresh of segments that does not name it: active
    /// and dynamic.
    pub(super) fn refreshes_with_all(&self, i: usize) -> bool {
        let s = &self.segments[i];
        s.state == SegmentSpecState::Active && s.refresh == SegmentRefresh::Dynamic
    }

    /// Whether segment `i` is active (an inactive one is never evaluated).
    pub(super) fn segment_active(&self, i: usize) -> bool {
        self.segments[i].state == SegmentSpecState::Active
    }

    /// The valid names of a kind of object, for error messages.
    pub(super) fn names_of(&self, kind: &str) -> Vec<String> {
        match kind {
            "data source" => self.sources.iter().map(|s| s.name.clone()).collect(),
            "segment" => self.segments.iter().map(|s| s.name.clone()).collect(),
            "measure" => self.measures.iter().map(|s| s.name.clone()).collect(),
            "scalar measure" => self
                .measures
                .iter()
                .filter(|m| m.dimension.is_none())
                .map(|s| s.name.clone())
                .collect(),
            "stage" => ["map", "match", "merge", "export"]
                .map(String::from)
                .to_vec(),
            _ => self
                .segments
                .iter()
                .map(|s| s.name.clone())
                .chain(self.measures.iter().map(|m| m.name.clone()))
                .collect(),
        }
    }

    /// The count segment `i` evaluates to now: the forced count, else a walk step (if the
    /// tenant's `random_walk` is on), else unchanged.
    pub(super) fn next_segment_count(&mut self, i: usize, forced: Option<u64>) -> u64 {
        if let Some(c) = forced {
            return c;
        }
        let s = &mut self.segments[i];
        if !self.random_walk {
            return s.count;
        }
        s.steps += 1;
        let z = draw::normal(
            self.seed,
            &["walk", "segment", &s.name, &s.steps.to_string()],
        );
        draw::next_count(s.count, s.anchor, s.volatility, z, self.customers)
    }

    /// The value measure `i` evaluates to now (like [`Catalog::next_segment_count`]; a measure
    /// with a dimension walks each dimension value on its own).
    pub(super) fn next_measure_value(
        &mut self,
        i: usize,
        forced: Option<MeasureValue>,
    ) -> MeasureValue {
        if let Some(v) = forced {
            return v;
        }
        let seed = self.seed;
        let m = &mut self.measures[i];
        if !self.random_walk {
            return m.value.clone();
        }
        m.steps += 1;
        let step = m.steps.to_string();
        let key = |dim: &str| draw::normal(seed, &["walk", "measure", &m.name, dim, &step]);
        match (&m.value, &m.anchor) {
            (MeasureValue::Scalar(v), MeasureValue::Scalar(a)) => {
                MeasureValue::Scalar(draw::next_value(*v, *a, m.volatility, key(""), m.whole))
            }
            (MeasureValue::ByDimension(values), anchor) => MeasureValue::ByDimension(
                values
                    .iter()
                    .map(|(k, v)| {
                        let a = match anchor {
                            MeasureValue::ByDimension(a) => {
                                a.iter().find(|(ak, _)| ak == k).map_or(*v, |(_, a)| *a)
                            }
                            MeasureValue::Scalar(_) => *v,
                        };
                        (
                            k.clone(),
                            draw::next_value(*v, a, m.volatility, key(k), m.whole),
                        )
                    })
                    .collect(),
            ),
            (v, _) => v.clone(),
        }
    }

    /// Records a successful evaluation of segment `i`; returns the baseline it replaced and
    /// whether the count changed (the data layer must then follow).
    pub(super) fn record_segment_success(
        &mut self,
        now: SimTime,
        i: usize,
        count: u64,
        run_id: &str,
    ) -> (u64, bool) {
        let s = &mut self.segments[i];
        let previous = if s.evaluated { s.count } else { 0 };
        let changed = s.count != count;
        s.count = count;
        s.evaluated = true;
        s.running = false;
        s.last_success_run = Some(run_id.to_owned());
        s.latest = SegmentEvaluation {
            evaluation_date: now,
            entity_count: count,
            job_status: "CompletedSuccess".into(),
            error: None,
        };
        s.history.push(s.latest.clone());
        (previous, changed)
    }

    pub(super) fn record_segment_failure(&mut self, now: SimTime, i: usize, message: String) {
        let s = &mut self.segments[i];
        s.running = false;
        s.latest = SegmentEvaluation {
            evaluation_date: now,
            entity_count: s.count,
            job_status: "CompletedFailure".into(),
            error: Some(StringInfo {
                key: "segmentEvaluationOrchestrationFailed".into(),
                value: message,
            }),
        };
        s.history.push(s.latest.clone());
    }

    /// Records a successful evaluation of measure `i`; returns the value it replaced.
    pub(super) fn record_measure_success(
        &mut self,
        now: SimTime,
        i: usize,
        value: MeasureValue,
        run_id: &str,
    ) -> MeasureValue {
        let m = &mut self.measures[i];
        let previous = if m.evaluated {
            m.value.clone()
        } else {
            match &m.value {
                MeasureValue::Scalar(_) => MeasureValue::Scalar(0.0),
                MeasureValue::ByDimension(_) => MeasureValue::ByDimension(Vec::new()),
            }
        };
        m.value = value.clone();
        m.evaluated = true;
        m.running = false;
        m.last_success_run = Some(run_id.to_owned());
        m.last_successful = Some(now);
        m.consecutive_failures = 0;
        m.latest = MeasureEvaluation {
            state: "completed".into(),
            end_time: now,
            error: None,
            last_successful_run_id: Some(run_id.to_owned()),
        };
        m.history.push(m.latest.clone());
        m.outputs.push((now, value));
        previous
    }

    pub(super) fn record_measure_failure(&mut self, now: SimTime, i: usize, message: String) {
        let m = &mut self.measures[i];
        m.running = false;
        m.consecutive_failures += 1;
        m.latest = MeasureEvaluation {
            state: "failed".into(),
            end_time: now,
            error: Some(message),
            last_successful_run_id: m.last_success_run.clone(),
        };
        m.history.push(m.latest.clone());
    }

    /// Records dropped from the evaluation histories to stay within `limits.history_bytes_max`,
    /// with the `jobs` the jobs owner dropped.
    pub(super) fn history_drops(&self, jobs: u64) -> HistoryDrops {
        HistoryDrops {
            segment_evaluations: self.segments.iter().map(|s| s.history.dropped()).sum(),
            measure_evaluations: self.measures.iter().map(|m| m.history.dropped()).sum(),
            measure_outputs: self.measures.iter().map(|m| m.outputs.dropped()).sum(),
            jobs,
        }
    }

    /// The current member count of segment `index` (0 for an unknown index).
    pub fn segment_count(&self, index: usize) -> u64 {
        self.segments.get(index).map_or(0, |s| s.count)
    }

    /// The current value of measure `index`.
    pub fn measure_value(&self, index: usize) -> Option<&MeasureValue> {
        self.measures.get(index).map(|m| &m.value)
    }

    /// A task started refreshing `target`: a data source is `updating`, a segment or measure
    /// running.
    pub(super) fn refresh_started(&mut self, target: Target) {
        match target {
            Target::DataSource(i) => self.sources[i].refresh_state = RefreshState::Updating,
            Target::Segment(i) => self.segments[i].running = true,
            Target::Measure(i) => self.measures[i].running = true,
            Target::Stage => {}
        }
    }

    /// A running task on `target` was cancelled: a refresh reverts to the last refresh state,
    /// as the UI documents, and a data source says so with `updateCancelled`.
    pub(super) fn refresh_cancelled(&mut self, target: Target) {
        match target {
            Target::DataSource(i) => self.sources[i].refresh_state = RefreshState::UpdateCancelled,
            Target::Segment(i) => self.segments[i].running = false,
            Target::Measure(i) => self.measures[i].running = false,
            Target::Stage => {}
        }
    }

    /// A data source's ingestion ended (successful or not).
    pub(super) fn source_refreshed(&mut self, now: SimTime, i: usize, ok: bool) {
        let ds = &mut self.sources[i];
        if ok {
            ds.refresh_state = RefreshState::Updated;
            ds.last_refresh = Some(now);
        } else {
            ds.refresh_state = RefreshState::UpdateFailed;
        }
    }

    /// The canonical name of data source `i`.
    pub(super) fn source_name(&self, i: usize) -> &str {
        &self.sources[i].name
    }

    /// The canonical name and friendly name of segment `i`.
    pub(super) fn segment_names(&self, i: usize) -> (&str, &str) {
        let s = &self.segments[i];
        (&s.name, &s.friendly_name)
    }

    /// The canonical name, display name and dimension of measure `i`.
    pub(super) fn measure_names(&self, i: usize) -> (&str, &str, Option<&str>) {
        let m = &self.measures[i];
        (&m.name, &m.display_name, m.dimension.as_deref())
    }

    /// `GET .../manage/datasources`.
    pub(super) fn data_sources(&self, instance_id: &str) -> Vec<DataSourceView> {
        self.sources
            .iter()
            .map(|s| views::data_source_view(s, instance_id))
            .collect()
    }

    /// `GET .../manage/segments` (history oldest first).
    pub(super) fn segments(&self, instance_id: &str) -> Vec<SegmentView> {
        self.segments
            .iter()
            .map(|s| views::segment_view(s, instance_id))
            .collect()
    }

    /// `GET .../manage/measures` (histories oldest first): the business measures, then the
    /// customer measures.
    pub(super) fn measures(&self, instance_id: &str) -> Vec<MeasureView> {
        self.measures
            .iter()
            .map(|m| views::measure_view(m, instance_id))
            .chain(
                self.customer_measures
                    .iter()
                    .map(|c| views::customer_measure_view(c, instance_id)),
            )
            .collect()
    }
}

/// The catalog answers what validating a subscription needs.
impl Names for Catalog {
    fn find_source(&self, name: &str) -> Option<usize> {
        Catalog::find_source(self, name)
    }

    fn find_segment(&self, name: &str) -> Option<usize> {
        Catalog::find_segment(self, name)
    }

    fn find_measure(&self, name: &str) -> Option<usize> {
        Catalog::find_measure(self, name)
    }

    fn find_customer_measure(&self, name: &str) -> Option<&str> {
        Catalog::find_customer_measure(self, name)
    }

    fn names_of(&self, kind: &str) -> Vec<String> {
        Catalog::names_of(self, kind)
    }

    fn source_name(&self, i: usize) -> &str {
        Catalog::source_name(self, i)
    }

    fn segment_names(&self, i: usize) -> (&str, &str) {
        Catalog::segment_names(self, i)
    }

    fn measure_names(&self, i: usize) -> (&str, &str, Option<&str>) {
        Catalog::measure_names(self, i)
    }
}
