//! Trigger payloads: the flat JSON bodies a flow receives (SPEC 3.4). Typed structs, so the
//! field order on the wire is the order written here: the common fields first, then the
//! trigger's own. The owners fill in their parts (the catalog its objects, the jobs owner its
//! jobs and tasks); this module only names the shapes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::request::{OperationType, SubmissionKind};
use super::status::{RefreshState, RunStatus};
use crate::time::SimTime;

/// Fields every payload starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Common {
    /// Identifies the occurrence and subscription pair: a redelivery or a duplicate carries the
    /// same id.
    pub event_id: String,
    /// The trigger id.
    pub event_type: Cow<'static, str>,
    pub subscription_id: String,
    pub instance_id: String,
    pub occurred_at: SimTime,
}

/// A trigger payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    DataSource(DataSourcePayload),
    Segment(SegmentPayload),
    Measure(MeasurePayload),
    FullRefresh(FullRefreshPayload),
    Unification(UnificationPayload),
}

impl Payload {
    pub fn common(&self) -> &Common {
        match self {
            Payload::DataSource(p) => &p.common,
            Payload::Segment(p) => &p.common,
            Payload::Measure(p) => &p.common,
            Payload::FullRefresh(p) => &p.common,
            Payload::Unification(p) => &p.common,
        }
    }
}

/// The saved form of a [`Payload`] (`#[serde(with = "saved")]`): its variant and its JSON text.
/// The wire form is untagged, which would read back ambiguously, and its common fields are
/// flattened, which serde can only read back from a human-readable form.
pub(super) mod saved {
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Payload;

    #[derive(Serialize, Deserialize)]
    enum Kind {
        DataSource,
        Segment,
        Measure,
        FullRefresh,
        Unification,
    }

    pub(crate) fn serialize<S: Serializer>(p: &Payload, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, json) = match p {
            Payload::DataSource(p) => (Kind::DataSource, serde_json::to_string(p)),
            Payload::Segment(p) => (Kind::Segment, serde_json::to_string(p)),
            Payload::Measure(p) => (Kind::Measure, serde_json::to_string(p)),
            Payload::FullRefresh(p) => (Kind::FullRefresh, serde_json::to_string(p)),
            Payload::Unification(p) => (Kind::Unification, serde_json::to_string(p)),
        };
        (kind, json.map_err(S::Error::custom)?).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Payload, D::Error> {
        let (kind, json) = <(Kind, String)>::deserialize(d)?;
        let payload = match kind {
            Kind::DataSource => serde_json::from_str(&json).map(Payload::DataSource),
            Kind::Segment => serde_json::from_str(&json).map(Payload::Segment),
            Kind::Measure => serde_json::from_str(&json).map(Payload::Measure),
            Kind::FullRefresh => serde_json::from_str(&json).map(Payload::FullRefresh),
            Kind::Unification => serde_json::from_str(&json).map(Payload::Unification),
        };
        payload.map_err(D::Error::custom)
    }
}

/// `datasource-refresh-failed` and `datasource-refresh-succeeded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSourcePayload {
    #[serde(flatten)]
    pub common: Common,
    pub data_source_id: String,
    pub data_source_name: String,
    pub friendly_name: String,
    pub job_id: String,
    pub task_status: RunStatus,
    pub refresh_state: RefreshState,
    pub last_refresh: Option<SimTime>,
    pub errors: Vec<ErrorEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry {
    pub error_code: String,
    pub message: String,
}

/// `segment-threshold-crossed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentPayload {
    #[serde(flatten)]
    pub common: Common,
    pub segment_name: String,
    pub friendly_name: String,
    /// The subscription's threshold, as the subscriber wrote it.
    pub threshold: serde_json::Number,
    pub previous_count: u64,
    pub entity_count: u64,
    pub evaluation_date: SimTime,
    pub job_id: String,
}

/// `measure-threshold-crossed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasurePayload {
    #[serde(flatten)]
    pub common: Common,
    pub measure_name: String,
    pub display_name: String,
    pub threshold: serde_json::Number,
    pub previous_value: serde_json::Number,
    pub value: serde_json::Number,
    pub evaluation_time: SimTime,
    pub job_id: String,
}

/// `full-refresh-completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FullRefreshPayload {
    #[serde(flatten)]
    pub common: Common,
    pub job_id: String,
    pub job_type: Cow<'static, str>,
    pub job_submission_kind: SubmissionKind,
    pub job_status: RunStatus,
    pub submitted_timestamp: SimTime,
    pub end_timestamp: SimTime,
    pub tasks: Vec<TaskSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub operation_type: OperationType,
    pub identifier: String,
    pub task_status: RunStatus,
}

/// `unification-completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnificationPayload {
    #[serde(flatten)]
    pub common: Common,
    pub job_id: String,
    /// `successful`, or the status of the first of map, match, merge that did not succeed.
    pub task_status: RunStatus,
    pub stages: Vec<StageSummary>,
    pub unified_customer_count: u64,
    pub end_timestamp: SimTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSummary {
    pub operation_type: OperationType,
    pub task_status: RunStatus,
    pub end_timestamp: Option<SimTime>,
}

/// What a data source payload says about the ingestion task that fired it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TaskReport {
    pub(super) job_id: String,
    pub(super) task_status: RunStatus,
    pub(super) errors: Vec<ErrorEntry>,
}
