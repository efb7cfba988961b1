//! The manage-API views of the catalog (shaped like the API model's `DataSourceMetadata`,
//! `SegmentMetadata` and `MeasureMetadata`), built from the catalog's objects.

use serde::{Serialize, Serializer};

use super::objects::{
    CustomerMeasureState, DataSourceState, MeasureEvaluation, MeasureState, SegmentEvaluation,
    SegmentState, StringInfo,
};
use crate::engine::status::RefreshState;
use crate::engine::value::{MeasureValue, format_number};
use crate::tenant::spec::SegmentState as SegmentSpecState;
use crate::time::SimTime;

/// `GET .../manage/datasources/{name}`.
pub(crate) fn data_source_view(s: &DataSourceState, instance_id: &str) -> DataSourceView {
    DataSourceView {
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
        instance_id: instance_id.to_owned(),
    }
}

/// `GET .../manage/segments/{name}` (history oldest first).
pub(crate) fn segment_view(s: &SegmentState, instance_id: &str) -> SegmentView {
    SegmentView {
        name: s.name.clone(),
        friendly_name: s.friendly_name.clone(),
        description: s.description.clone(),
        kind: "default",
        state: match s.state {
            SegmentSpecState::Active => "active",
            SegmentSpecState::Inactive => "inactive",
        },
        evaluation_status: EvaluationStatus {
            job_status: if s.running {
                "Running".into()
            } else {
                s.latest.job_status.clone()
            },
            evaluation_date: s.latest.evaluation_date,
            entity_count: s.count,
            error: s.latest.error.clone(),
            last_successful_run_id: s.last_success_run.clone(),
        },
        evaluation_status_history: s.history.to_vec(),
        instance_id: instance_id.to_owned(),
    }
}

/// `GET .../manage/measures/{name}` (histories oldest first).
pub(crate) fn measure_view(m: &MeasureState, instance_id: &str) -> MeasureView {
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
                state: "running".into(),
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
        evaluation_history: m.history.to_vec(),
        output_history: m.outputs.iter().map(output).collect(),
        instance_id: instance_id.to_owned(),
    }
}

/// `GET .../manage/measures/{name}` of a customer measure: `definition.kind = attribute`,
/// `isProfile`, one value per customer (the `CustomerId` dimension), so no scalar output.
pub(crate) fn customer_measure_view(c: &CustomerMeasureState, instance_id: &str) -> MeasureView {
    MeasureView {
        name: c.name.to_string(),
        display_name: c.display_name.to_string(),
        description: c.description.to_string(),
        definition: MeasureDefinition {
            kind: "attribute",
            is_scalar: false,
            dimensions: vec![MeasureDimension {
                field: "CustomerId".to_owned(),
                alias: "CustomerId".to_owned(),
                display_name: "Customer".to_owned(),
                order: 0,
            }],
            type_: "structured",
            is_profile: true,
        },
        latest_evaluation: c.evaluation.clone(),
        output: None,
        evaluation_stats: EvaluationStats {
            last_successful: Some(c.evaluation.end_time),
            consecutive_failure_count: 0,
        },
        evaluation_history: vec![c.evaluation.clone()],
        output_history: Vec::new(),
        instance_id: instance_id.to_owned(),
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
    pub job_status: std::borrow::Cow<'static, str>,
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
