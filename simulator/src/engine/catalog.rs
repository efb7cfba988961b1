//! The tenant's refreshable objects — data sources, segments and business measures — with the
//! state their refreshes leave behind, and the manage-API views of them (shaped like the API
//! model's `DataSourceMetadata`, `SegmentMetadata` and `MeasureMetadata`).

use serde::{Serialize, Serializer};

use super::error::EngineError;
use super::jobs::ForcedMeasure;
use super::state::{Effect, Engine, Initial};
use super::walk;
use crate::ids;
use crate::tenant::spec::MeasureSource;
use crate::tenant::spec::initial_segment_count;
use crate::time::{SimDuration, SimTime};

/// A business measure's value.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasureValue {
    /// A measure without a dimension.
    Scalar(f64),
    /// A measure with a dimension: one value per dimension value (e.g. per country), in order.
    ByDimension(Vec<(String, f64)>),
}

impl MeasureValue {
    pub fn scalar(&self) -> Option<f64> {
        match self {
            MeasureValue::Scalar(v) => Some(*v),
            MeasureValue::ByDimension(_) => None,
        }
    }
}

/// A data source's `refreshState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RefreshState {
    NotUpdated,
    Updated,
    Updating,
    UpdateFailed,
    UpdateCancelled,
}

/// The id of a data source: `ids::uuid(seed, ["datasource", name])`.
pub fn data_source_id(seed: u64, name: &str) -> String {
    ids::uuid(seed, &["datasource", name])
}

#[derive(Debug, Clone)]
pub(super) struct DataSourceState {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) friendly_name: String,
    pub(super) kind: String,
    pub(super) entity_names: Vec<String>,
    pub(super) refresh_state: RefreshState,
    pub(super) last_refresh: Option<SimTime>,
}

#[derive(Debug, Clone)]
pub(super) struct SegmentState {
    pub(super) name: String,
    pub(super) friendly_name: String,
    pub(super) description: String,
    pub(super) volatility: f64,
    /// The initial count, which the random walk is pulled back toward.
    pub(super) anchor: u64,
    /// The count of the last successful evaluation (the crossing baseline).
    pub(super) count: u64,
    /// Whether any evaluation has succeeded (if not, the baseline is 0).
    pub(super) evaluated: bool,
    pub(super) last_success_run: Option<String>,
    pub(super) latest: SegmentEvaluation,
    pub(super) history: Vec<SegmentEvaluation>,
    /// A segmentation task is running for it.
    pub(super) running: bool,
    /// Walk steps taken (keys the random draws).
    pub(super) steps: u64,
}

/// One evaluation of a segment (the model's `HistoricalSegmentStats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentEvaluation {
    pub evaluation_date: SimTime,
    pub entity_count: u64,
    /// `CompletedSuccess` or `CompletedFailure`.
    pub job_status: &'static str,
    pub error: Option<StringInfo>,
}

/// The model's `StringInfo`: an error text and its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StringInfo {
    pub key: &'static str,
    pub value: String,
}

#[derive(Debug, Clone)]
pub(super) struct MeasureState {
    pub(super) name: String,
    pub(super) display_name: String,
    pub(super) description: String,
    pub(super) dimension: Option<String>,
    pub(super) volatility: f64,
    /// Counts walk in whole units, money in cents.
    pub(super) whole: bool,
    pub(super) anchor: MeasureValue,
    /// The value of the last successful evaluation (the crossing baseline).
    pub(super) value: MeasureValue,
    pub(super) evaluated: bool,
    pub(super) last_success_run: Option<String>,
    pub(super) last_successful: Option<SimTime>,
    pub(super) consecutive_failures: u32,
    pub(super) latest: MeasureEvaluation,
    pub(super) history: Vec<MeasureEvaluation>,
    pub(super) outputs: Vec<(SimTime, MeasureValue)>,
    pub(super) running: bool,
    pub(super) steps: u64,
}

/// One evaluation of a measure (the model's `Evaluation`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasureEvaluation {
    /// `running`, `failed` or `completed`.
    pub state: &'static str,
    pub end_time: SimTime,
    pub error: Option<String>,
    pub last_successful_run_id: Option<String>,
}

impl Engine {
    pub(super) fn build_catalog(&mut self, initial: &Initial) {
        let spec = self.spec.clone();
        let start = self.start;
        let initial_run = ids::uuid(self.seed, &["initial-evaluation"]);
        self.sources = spec
            .data_sources
            .iter()
            .map(|ds| {
                let ago = walk::duration_in(
                    self.seed,
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
                    id: data_source_id(self.seed, &ds.name),
                    name: ds.name.clone(),
                    friendly_name: ds.friendly_name.clone(),
                    kind: ds.kind.clone(),
                    entity_names,
                    refresh_state: RefreshState::Updated,
                    last_refresh: Some(start - ago),
                }
            })
            .collect();
        self.segments = spec
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let count = initial_segment_count(&spec, i);
                let first = SegmentEvaluation {
                    evaluation_date: start,
                    entity_count: count,
                    job_status: "CompletedSuccess",
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
                    history: vec![first],
                    running: false,
                    steps: 0,
                }
            })
            .collect();
        self.measures = spec
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
                    state: "completed",
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
                    history: vec![first],
                    outputs: vec![(start, value)],
                    running: false,
                    steps: 0,
                }
            })
            .collect();
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

    /// The valid names of a kind of object, for error messages.
    pub(super) fn names_of(&self, kind: &str) -> Vec<String> {
        match kind {
            "data source" => self.sources.iter().map(|s| s.name.clone()).collect(),
            "segment" => self.segments.iter().map(|s| s.name.clone()).collect(),
            "measure" => self.measures.iter().map(|s| s.name.clone()).collect(),
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

    pub(super) fn check_count(&self, segment: &str, count: u64) -> Result<u64, EngineError> {
        let customers = self.spec.customers as u64;
        if count > customers {
            return Err(EngineError::invalid(
                "entityCount",
                format!(
                    "segment {segment} cannot have {count} members; the tenant has {customers} customers"
                ),
            ));
        }
        Ok(count)
    }

    /// A forced value for measure `i`, checked against its shape (scalar or by dimension).
    pub(super) fn forced_measure_value(
        &self,
        i: usize,
        forced: &ForcedMeasure,
    ) -> Result<MeasureValue, EngineError> {
        let m = &self.measures[i];
        let finite = |v: f64| {
            if v.is_finite() {
                Ok(v)
            } else {
                Err(EngineError::invalid(
                    "value",
                    "a measure value must be a finite number",
                ))
            }
        };
        match (forced, &m.value) {
            (ForcedMeasure::Value(v), MeasureValue::Scalar(_)) => {
                Ok(MeasureValue::Scalar(finite(*v)?))
            }
            (ForcedMeasure::Values(map), MeasureValue::ByDimension(current)) => {
                let mut next = current.clone();
                for (key, v) in map {
                    let v = finite(*v)?;
                    match next.iter_mut().find(|(k, _)| k == key) {
                        Some(slot) => slot.1 = v,
                        None => next.push((key.clone(), v)),
                    }
                }
                Ok(MeasureValue::ByDimension(next))
            }
            (ForcedMeasure::Value(_), MeasureValue::ByDimension(_)) => Err(EngineError::invalid(
                "value",
                format!(
                    "measure {} has a dimension ({}); give an object of dimension value to number",
                    m.name,
                    m.dimension.as_deref().unwrap_or("?")
                ),
            )),
            (ForcedMeasure::Values(_), MeasureValue::Scalar(_)) => Err(EngineError::invalid(
                "value",
                format!("measure {} has no dimension; give a number", m.name),
            )),
        }
    }

    /// The count segment `i` evaluates to now: the forced count, else a walk step (if the
    /// tenant's `random_walk` is on), else unchanged.
    pub(super) fn next_segment_count(&mut self, i: usize, forced: Option<u64>) -> u64 {
        if let Some(c) = forced {
            return c;
        }
        let s = &mut self.segments[i];
        if !self.spec.refresh.random_walk {
            return s.count;
        }
        s.steps += 1;
        let z = walk::normal(
            self.seed,
            &["walk", "segment", &s.name, &s.steps.to_string()],
        );
        walk::next_count(
            s.count,
            s.anchor,
            s.volatility,
            z,
            self.spec.customers as u64,
        )
    }

    /// The value measure `i` evaluates to now (like [`Engine::next_segment_count`]; a measure
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
        if !self.spec.refresh.random_walk {
            return m.value.clone();
        }
        m.steps += 1;
        let step = m.steps.to_string();
        let key = |dim: &str| walk::normal(seed, &["walk", "measure", &m.name, dim, &step]);
        match (&m.value, &m.anchor) {
            (MeasureValue::Scalar(v), MeasureValue::Scalar(a)) => {
                MeasureValue::Scalar(walk::next_value(*v, *a, m.volatility, key(""), m.whole))
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
                            walk::next_value(*v, a, m.volatility, key(k), m.whole),
                        )
                    })
                    .collect(),
            ),
            (v, _) => v.clone(),
        }
    }

    /// Records a successful evaluation of segment `i`; returns the baseline it replaced.
    pub(super) fn record_segment_success(
        &mut self,
        now: SimTime,
        i: usize,
        count: u64,
        run_id: &str,
    ) -> u64 {
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
            job_status: "CompletedSuccess",
            error: None,
        };
        s.history.push(s.latest.clone());
        if changed {
            self.outbox
                .push(Effect::SegmentCountChanged { segment: i, count });
        }
        previous
    }

    pub(super) fn record_segment_failure(&mut self, now: SimTime, i: usize, message: String) {
        let s = &mut self.segments[i];
        s.running = false;
        s.latest = SegmentEvaluation {
            evaluation_date: now,
            entity_count: s.count,
            job_status: "CompletedFailure",
            error: Some(StringInfo {
                key: "segmentEvaluationOrchestrationFailed",
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
            state: "completed",
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
            state: "failed",
            end_time: now,
            error: Some(message),
            last_successful_run_id: m.last_success_run.clone(),
        };
        m.history.push(m.latest.clone());
    }

    /// The current member count of segment `index` (0 for an unknown index).
    pub fn segment_count(&self, index: usize) -> u64 {
        self.segments.get(index).map_or(0, |s| s.count)
    }

    /// The current value of measure `index`.
    pub fn measure_value(&self, index: usize) -> Option<&MeasureValue> {
        self.measures.get(index).map(|m| &m.value)
    }

    /// `GET .../manage/datasources`.
    pub fn data_sources(&self) -> Vec<DataSourceView> {
        self.sources
            .iter()
            .map(|s| DataSourceView {
                data_source_id: s.id.clone(),
                name: s.name.clone(),
                friendly_name: s.friendly_name.clone(),
                kind: s.kind.clone(),
                is_active: true,
                entity_names: s.entity_names.clone(),
                entities_count: s.entity_names.len(),
                provisioning_state: "active",
                refresh_state: s.refresh_state,
                last_refresh: s.last_refresh,
                instance_id: self.instance_id.clone(),
            })
            .collect()
    }

    /// `GET .../manage/segments` (history oldest first).
    pub fn segments(&self) -> Vec<SegmentView> {
        self.segments
            .iter()
            .map(|s| SegmentView {
                name: s.name.clone(),
                friendly_name: s.friendly_name.clone(),
                description: s.description.clone(),
                kind: "default",
                state: "active",
                evaluation_status: EvaluationStatus {
                    job_status: if s.running {
                        "Running"
                    } else {
                        s.latest.job_status
                    },
                    evaluation_date: s.latest.evaluation_date,
                    entity_count: s.count,
                    error: s.latest.error.clone(),
                    last_successful_run_id: s.last_success_run.clone(),
                },
                evaluation_status_history: s.history.clone(),
                instance_id: self.instance_id.clone(),
            })
            .collect()
    }

    /// `GET .../manage/measures` (histories oldest first).
    pub fn measures(&self) -> Vec<MeasureView> {
        self.measures
            .iter()
            .map(|m| {
                let output = |(at, value): &(SimTime, MeasureValue)| ScalarOutput {
                    values: OutputValues::of(&m.name, value),
                    measure_name: m.name.clone(),
                    evaluation_time: *at,
                };
                MeasureView {
                    name: m.name.clone(),
                    display_name: m.display_name.clone(),
                    description: m.description.clone(),
                    definition: MeasureDefinition {
                        kind: "entity",
                        is_scalar: m.dimension.is_none(),
                        dimensions: m
                            .dimension
                            .iter()
                            .map(|d| MeasureDimension {
                                field: d.clone(),
                                alias: d.clone(),
                                display_name: d.clone(),
                                order: 0,
                            })
                            .collect(),
                        type_: "structured",
                        is_profile: false,
                    },
                    latest_evaluation: if m.running {
                        MeasureEvaluation {
                            state: "running",
                            ..m.latest.clone()
                        }
                    } else {
                        m.latest.clone()
                    },
                    output: m.outputs.last().map(output),
                    evaluation_stats: EvaluationStats {
                        last_successful: m.last_successful,
                        consecutive_failure_count: m.consecutive_failures,
                    },
                    evaluation_history: m.history.clone(),
                    output_history: m.outputs.iter().map(output).collect(),
                    instance_id: self.instance_id.clone(),
                }
            })
            .collect()
    }
}

/// A data source (the model's `DataSourceMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceView {
    pub data_source_id: String,
    pub name: String,
    pub friendly_name: String,
    pub kind: String,
    pub is_active: bool,
    pub entity_names: Vec<String>,
    pub entities_count: usize,
    pub provisioning_state: &'static str,
    pub refresh_state: RefreshState,
    pub last_refresh: Option<SimTime>,
    pub instance_id: String,
}

/// A segment (the model's `SegmentMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentView {
    pub name: String,
    pub friendly_name: String,
    pub description: String,
    pub kind: &'static str,
    pub state: &'static str,
    pub evaluation_status: EvaluationStatus,
    pub evaluation_status_history: Vec<SegmentEvaluation>,
    pub instance_id: String,
}

/// The model's `SegmentationPublishStats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationStatus {
    pub job_status: &'static str,
    pub evaluation_date: SimTime,
    pub entity_count: u64,
    pub error: Option<StringInfo>,
    pub last_successful_run_id: Option<String>,
}

/// A business measure (the model's `MeasureMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasureView {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub definition: MeasureDefinition,
    pub latest_evaluation: MeasureEvaluation,
    pub output: Option<ScalarOutput>,
    pub evaluation_stats: EvaluationStats,
    pub evaluation_history: Vec<MeasureEvaluation>,
    pub output_history: Vec<ScalarOutput>,
    pub instance_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasureDefinition {
    pub kind: &'static str,
    pub is_scalar: bool,
    pub dimensions: Vec<MeasureDimension>,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub is_profile: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasureDimension {
    pub field: String,
    pub alias: String,
    pub display_name: String,
    pub order: u32,
}

/// The model's `ScalarOutput`: `values` is a dictionary of strings — keyed by the measure name
/// for a measure without a dimension, by dimension value otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalarOutput {
    pub values: OutputValues,
    pub measure_name: String,
    pub evaluation_time: SimTime,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationStats {
    pub last_successful: Option<SimTime>,
    pub consecutive_failure_count: u32,
}

/// An ordered string dictionary (serialized as a JSON object in this order).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputValues(pub Vec<(String, String)>);

impl OutputValues {
    fn of(name: &str, value: &MeasureValue) -> OutputValues {
        match value {
            MeasureValue::Scalar(v) => OutputValues(vec![(name.to_owned(), format_number(*v))]),
            MeasureValue::ByDimension(values) => OutputValues(
                values
                    .iter()
                    .map(|(k, v)| (k.clone(), format_number(*v)))
                    .collect(),
            ),
        }
    }
}

impl Serialize for OutputValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// The shortest text of a number that reads back the same (`1234`, `1234.5`).
pub(super) fn format_number(v: f64) -> String {
    format!("{v}")
}

/// A JSON number for a value: an integer when the value is whole, so `1000` stays `1000`.
pub(super) fn json_number(v: f64) -> serde_json::Number {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Number::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    fn check(engine: &Engine, segment: &str, expected_count: u64) {
        let view = engine.segments();
        let s = view.iter().find(|s| s.name == segment).unwrap();
        assert_eq!(s.evaluation_status.entity_count, expected_count);
        let i = engine.find_segment(segment).unwrap();
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
        let i = engine.find_segment("ChurnRisk").unwrap();
        engine.record_segment_failure(testkit::T0, i, "boom".into());
        check(&engine, "ChurnRisk", 77);
        let view = engine.segments();
        let s = view.iter().find(|s| s.name == "ChurnRisk").unwrap();
        assert_eq!(s.evaluation_status.job_status, "CompletedFailure");
        assert_eq!(s.evaluation_status_history.len(), 3);
    }

    #[test]
    fn whole_numbers_print_without_a_fraction() {
        assert_eq!(format_number(1000.0), "1000");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(json_number(1000.0).to_string(), "1000");
        assert_eq!(json_number(0.25).to_string(), "0.25");
    }
}
