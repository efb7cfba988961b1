//! The catalog's objects as the engine keeps them: data sources, segments and business measures
//! with the state their refreshes leave behind, and their evaluation records.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::engine::history::{History, Weight};
use crate::engine::status::RefreshState;
use crate::engine::value::MeasureValue;
use crate::tenant::spec::{SegmentRefresh, SegmentState as SegmentSpecState};
use crate::time::SimTime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DataSourceState {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) friendly_name: String,
    pub(crate) kind: String,
    pub(crate) entity_names: Vec<String>,
    pub(crate) refresh_state: RefreshState,
    pub(crate) last_refresh: Option<SimTime>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SegmentState {
    pub(crate) name: String,
    pub(crate) friendly_name: String,
    pub(crate) description: String,
    pub(crate) volatility: f64,
    /// The initial count, which the random walk is pulled back toward.
    pub(crate) anchor: u64,
    /// The count of the last successful evaluation (the crossing baseline).
    pub(crate) count: u64,
    /// Whether any evaluation has succeeded (if not, the baseline is 0).
    pub(crate) evaluated: bool,
    pub(crate) last_success_run: Option<String>,
    pub(crate) latest: SegmentEvaluation,
    pub(crate) history: History<SegmentEvaluation>,
    /// A segmentation task is running for it.
    pub(crate) running: bool,
    /// Walk steps taken (keys the random draws).
    pub(crate) steps: u64,
    /// Inactive segments are never evaluated.
    pub(crate) state: SegmentSpecState,
    /// Dynamic segments are evaluated by every refresh of segments; static ones only by a job
    /// that names them.
    pub(crate) refresh: SegmentRefresh,
}

/// A customer measure (a column of `Customer_Measure`): its values are generated with the data
/// and never change, so only its first evaluation is recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CustomerMeasureState {
    pub(crate) name: Cow<'static, str>,
    pub(crate) display_name: Cow<'static, str>,
    pub(crate) description: Cow<'static, str>,
    pub(crate) evaluation: MeasureEvaluation,
}

/// One evaluation of a segment (the model's `HistoricalSegmentStats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentEvaluation {
    pub evaluation_date: SimTime,
    pub entity_count: u64,
    /// `CompletedSuccess` or `CompletedFailure`.
    pub job_status: Cow<'static, str>,
    pub error: Option<StringInfo>,
}

/// The model's `StringInfo`: an error text and its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringInfo {
    pub key: Cow<'static, str>,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MeasureState {
    pub(crate) name: String,
    pub(crate) display_name: String,
    pub(crate) description: String,
    pub(crate) dimension: Option<String>,
    pub(crate) volatility: f64,
    /// Counts walk in whole units, money in cents.
    pub(crate) whole: bool,
    pub(crate) anchor: MeasureValue,
    /// The value of the last successful evaluation (the crossing baseline).
    pub(crate) value: MeasureValue,
    pub(crate) evaluated: bool,
    pub(crate) last_success_run: Option<String>,
    pub(crate) last_successful: Option<SimTime>,
    pub(crate) consecutive_failures: u32,
    pub(crate) latest: MeasureEvaluation,
    pub(crate) history: History<MeasureEvaluation>,
    pub(crate) outputs: History<(SimTime, MeasureValue)>,
    pub(crate) running: bool,
    pub(crate) steps: u64,
}

/// One evaluation of a measure (the model's `Evaluation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasureEvaluation {
    /// `running`, `failed` or `completed`.
    pub state: Cow<'static, str>,
    pub end_time: SimTime,
    pub error: Option<String>,
    pub last_successful_run_id: Option<String>,
}

impl Weight for SegmentEvaluation {
    fn weight(&self) -> usize {
        // `{"evaluationDate":"…","entityCount":…,"jobStatus":"…","error":…}`
        104 + self
            .error
            .as_ref()
            .map_or(0, |e| e.key.len() + e.value.len() + 20)
    }
}

impl Weight for MeasureEvaluation {
    fn weight(&self) -> usize {
        96 + self.error.as_ref().map_or(0, String::len)
            + self.last_successful_run_id.as_ref().map_or(0, String::len)
    }
}

impl Weight for (SimTime, MeasureValue) {
    fn weight(&self) -> usize {
        match &self.1 {
            MeasureValue::Scalar(_) => 64,
            MeasureValue::ByDimension(values) => {
                48 + values.iter().map(|(k, _)| k.len() + 40).sum::<usize>()
            }
        }
    }
}
