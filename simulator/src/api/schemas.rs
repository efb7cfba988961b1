//! The shapes of the API's bodies, as `schemars` types: what the OpenAPI document and the custom
//! connector describe.
//!
//! The handlers build most bodies with `json!` or from engine view types that are being
//! restructured, so these types mirror the wire form instead of being the handlers' own types.
//! They cannot drift unnoticed: `simulator/tests/it/routes.rs` calls every route and validates each
//! answer against the schema its route describes, and Schemathesis does the same with generated
//! requests (`scripts/schemathesis.sh`). Objects are closed (`additionalProperties: false`), so a
//! new field in an answer fails those checks until it is described here.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

mod common;
mod errors;
mod workflow;
pub use common::{AnyObject, DateTime};
pub use errors::{ApiErrorResult, CiError, GatewayError, ODataError, ODataErrorDetail, Throttled};
pub use workflow::{
    AdditionalInfo, Job, Node, OperationType, RefreshSchedule, RunStatus, ScheduleRequest,
    SubmissionKind, Task, TimezoneDetail,
};

/// An item of an entity: attribute names to values (the entity's metadata lists them).
pub struct Item;

impl JsonSchema for Item {
    fn schema_name() -> Cow<'static, str> {
        "Item".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "Attribute names to values; GET .../manage/entities/{entity} lists an entity's attributes and types.",
            "additionalProperties": { "type": ["string", "number", "boolean", "null", "array", "object"] },
        })
    }
}

/// The model's `InstanceInfo`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct InstanceInfo {
    pub instance_id: String,
    pub name: String,
    pub instance_type: String,
    pub expiry_time_utc: Option<String>,
    pub scale_unit_id: String,
    pub azure_region: String,
    pub platform_type: String,
    pub created_utc: DateTime,
}

/// The model's `IC360EntityModel`, reduced.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct EntityList {
    pub instance_id: String,
    pub entities: Vec<EntityMetadata>,
}

/// The model's `IEntityMetadata`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct EntityMetadata {
    pub name: String,
    pub qualified_entity_name: String,
    pub data_source_name: Option<String>,
    pub datasource_id: Option<String>,
    pub dataflow_type: String,
    /// `profile`, `unifiedActivity`, `profileKpi`, `segment`, `aggregateKpi` or `unspecified`.
    pub entity_type: String,
    pub attributes: Vec<AttributeMetadata>,
    /// The key attributes, as lists of attributes.
    pub keys: Vec<Vec<AttributeMetadata>>,
    pub relationships: Vec<AnyObject>,
    pub refresh_time: DateTime,
    pub partitions: Vec<Partition>,
    pub row_count: u64,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttributeMetadata {
    pub name: String,
    pub friendly_name: String,
    pub base_name: String,
    /// `Edm.String`, `Edm.Int64`, `Edm.Decimal`, `Edm.Boolean` or `Edm.DateTimeOffset`.
    pub data_type: String,
    pub semantic_type: Option<String>,
    pub search_properties: SearchProperties,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors the API model's SearchProperties, four flags on the wire"
)]
pub struct SearchProperties {
    pub is_searchable: bool,
    /// Whether `$filter` may name the attribute.
    pub is_filterable: bool,
    pub is_facetable: bool,
    pub is_sortable: bool,
}

/// The model's `PartitionMetadata`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Partition {
    pub name: String,
    /// The partition's URL ("Retrieve data from a partition").
    pub location: String,
    pub refresh_time: DateTime,
    #[schemars(rename = "isCIGenerated")]
    pub is_ci_generated: bool,
    pub force_sas_auth: bool,
    pub has_header: bool,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct EntitySize {
    pub qualified_entity_name: String,
    pub row_count: u64,
    /// Modelled: 64 bytes per attribute per row.
    pub size: u64,
}

/// The answer of `GET .../data/{entity}`: a page, or (with `proxy=true`) the partitions.
#[derive(JsonSchema)]
#[schemars(untagged)]
pub enum ItemsAnswer {
    Page(ItemsPage),
    Partitions(PartitionRequests),
}

/// A page of rows (`ODataEntityPayload`).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ItemsPage {
    #[schemars(rename = "@odata.context")]
    pub context: String,
    /// With `$count=true`.
    #[schemars(rename = "@odata.count")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// When next links are on and rows follow.
    #[schemars(rename = "@odata.nextLink")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    pub value: Vec<Item>,
}

/// "Retrieve partitions for an entity V2": the entity's partitions.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PartitionList {
    pub partitions: Vec<Partition>,
}

/// Where to download an entity's partitions (the Power Query connector's shape).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct PartitionRequests {
    pub http_requests: Vec<PartitionRequest>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PartitionRequest {
    pub uri: String,
    pub headers: BTreeMap<String, String>,
}

/// The body of "Sends the status report".
#[derive(JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct StatusReportRequest {
    /// A non-empty report type (e.g. `daily`).
    #[schemars(length(min = 1))]
    pub report_type: String,
    /// The instance (the connector's `dataset` key); accepted and recorded.
    #[schemars(default)]
    pub dataset: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatusReportReceipt {
    pub report_id: String,
    /// `Accepted`.
    pub status: String,
    /// 1 or 2.
    pub version: u8,
    pub received_at: DateTime,
}

#[derive(JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub enum RefreshState {
    NotUpdated,
    Updated,
    Updating,
    UpdateFailed,
    UpdateCancelled,
}

/// The model's `DataSourceMetadata`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataSource {
    pub data_source_id: String,
    pub name: String,
    pub friendly_name: String,
    pub kind: String,
    pub is_active: bool,
    pub entity_names: Vec<String>,
    pub entities_count: u64,
    pub provisioning_state: String,
    pub refresh_state: RefreshState,
    pub last_refresh: Option<DateTime>,
    pub instance_id: String,
}

/// The model's `SegmentMetadata`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Segment {
    pub name: String,
    pub friendly_name: String,
    pub description: String,
    pub kind: String,
    /// `active` or `inactive` (never evaluated).
    pub state: String,
    pub evaluation_status: SegmentEvaluationStatus,
    /// With `includeHistoricStats=true`: the evaluations of the last `historicStatsDays` days,
    /// oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation_status_history: Option<Vec<SegmentEvaluation>>,
    pub instance_id: String,
}

/// The model's `SegmentationPublishStats`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct SegmentEvaluationStatus {
    pub job_status: String,
    pub evaluation_date: DateTime,
    pub entity_count: u64,
    pub error: Option<StringInfo>,
    pub last_successful_run_id: Option<String>,
}

/// The model's `HistoricalSegmentStats`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct SegmentEvaluation {
    pub evaluation_date: DateTime,
    pub entity_count: u64,
    /// `CompletedSuccess` or `CompletedFailure`.
    pub job_status: String,
    pub error: Option<StringInfo>,
}

/// The model's `StringInfo`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StringInfo {
    pub key: String,
    pub value: String,
}

/// The model's `MeasureMetadata`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Measure {
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

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeasureDefinition {
    /// `entity` (a business measure) or `attribute` (a customer measure, a column of
    /// `Customer_Measure`).
    pub kind: String,
    /// `false` for a measure with a dimension (the threshold trigger refuses those).
    pub is_scalar: bool,
    pub dimensions: Vec<MeasureDimension>,
    #[schemars(rename = "type")]
    pub type_: String,
    pub is_profile: bool,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeasureDimension {
    pub field: String,
    pub alias: String,
    pub display_name: String,
    pub order: u32,
}

/// The model's `Evaluation`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeasureEvaluation {
    /// `running`, `failed` or `completed`.
    pub state: String,
    pub end_time: DateTime,
    pub error: Option<String>,
    pub last_successful_run_id: Option<String>,
}

/// The model's `ScalarOutput`: `values` maps the measure name (or each dimension value) to the
/// value as a string.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScalarOutput {
    pub values: BTreeMap<String, String>,
    pub measure_name: String,
    pub evaluation_time: DateTime,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct EvaluationStats {
    pub last_successful: Option<DateTime>,
    pub consecutive_failure_count: u32,
}

/// The six trigger ids.
#[derive(JsonSchema)]
#[schemars(rename_all = "kebab-case")]
pub enum TriggerId {
    DatasourceRefreshFailed,
    DatasourceRefreshSucceeded,
    SegmentThresholdCrossed,
    MeasureThresholdCrossed,
    FullRefreshCompleted,
    UnificationCompleted,
}

/// The body of a subscription: the callback and the trigger's inputs.
#[derive(JsonSchema)]
pub struct SubscriptionRequest {
    /// Where to POST the trigger's events (loopback unless the tenant allows more hosts).
    #[schemars(extend("format" = "uri"))]
    #[serde(rename = "NotificationUrl")]
    pub notification_url: String,
    /// Data source triggers: only this data source (default: all).
    #[serde(rename = "dataSourceName", default)]
    pub data_source_name: Option<String>,
    /// `segment-threshold-crossed`: the segment.
    #[serde(rename = "segmentName", default)]
    pub segment_name: Option<String>,
    /// `measure-threshold-crossed`: a business measure without a dimension.
    #[serde(rename = "measureName", default)]
    pub measure_name: Option<String>,
    /// The threshold trigger's threshold: fires when the value goes from at or below it to above.
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// A subscription.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub trigger: TriggerId,
    pub notification_url: String,
    /// The trigger inputs under their canonical names.
    pub inputs: BTreeMap<String, serde_json::Value>,
    pub created_at: DateTime,
    pub deleted_at: Option<DateTime>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SubscriptionList {
    pub value: Vec<Subscription>,
}

/// `POST /_sim/clock/advance`: `by` or `to`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ClockAdvance {
    /// A duration: `1h`, `30s`, `1d2h`.
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub to: Option<DateTime>,
}

/// A forced outcome.
#[derive(JsonSchema)]
#[schemars(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Fail,
    Transient,
    Timeout,
}

/// `POST /_sim/refresh`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct SimRefresh {
    #[serde(default)]
    pub kind: Option<SubmissionKind>,
    #[serde(default)]
    pub data_sources: Option<BTreeMap<String, Outcome>>,
    #[serde(default)]
    pub stages: Option<BTreeMap<String, Outcome>>,
    #[serde(default)]
    pub evaluations: Option<BTreeMap<String, Outcome>>,
    #[serde(default)]
    pub segments: Option<BTreeMap<String, u64>>,
    /// A value, or values by dimension.
    #[serde(default)]
    pub measures: Option<BTreeMap<String, serde_json::Value>>,
}

/// `POST /_sim/datasources/{dataSource}/refresh`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SimDataSourceRefresh {
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

/// `POST /_sim/segments/{segment}/evaluate`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct SimSegmentEvaluate {
    pub entity_count: u64,
}

/// `POST /_sim/measures/{measure}/evaluate`: `value`, or `values` for a measure with a dimension.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SimMeasureEvaluate {
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub values: Option<BTreeMap<String, f64>>,
}

/// `PUT /_sim/faults`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SimFaults {
    /// Route faults: `{"route", "status", "probability", "first", "latency", "drop"}`.
    #[serde(default)]
    pub routes: Option<Vec<AnyObject>>,
    /// Delivery faults: `{"rules": [...]}`.
    #[serde(default)]
    pub deliveries: Option<AnyObject>,
}
