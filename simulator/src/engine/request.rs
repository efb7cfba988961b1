//! What a client asks of the lifecycle: job submissions and refreshes with their forced
//! outcomes, counts and values; and the same request resolved against the catalog (names to
//! indices), which is what the jobs owner plans from.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::value::MeasureValue;

/// The operation a job or task performs: every value of the API model's `operationType`, in its
/// order. A job runs the part of the refresh graph its operation names (see
/// `Catalog::select`); the tenant has nothing for most of them (enrichments, predictions,
/// hierarchies, ...), and a job of those ends at once with no tasks.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
#[schemars(description = "The API model's `operationType`: what a job runs.")]
pub enum OperationType {
    None,
    Ingestion,
    DerivedEntity,
    Hierarchy,
    DataPreparation,
    Map,
    RealtimeM3Search,
    Match,
    Merge,
    ProfileStore,
    Search,
    Activity,
    Contact,
    AttributeMeasures,
    EntityMeasures,
    Measures,
    Segmentation,
    SegmentMembership,
    Enrichment,
    PreEnrichment,
    Transform,
    Intelligence,
    AiBuilder,
    Insights,
    Export,
    ModelManagement,
    Relationship,
    RoleAssignment,
    Analysis,
    SemanticEntity,
    All,
}

impl OperationType {
    /// Every value, in the API model's order.
    pub const ALL: [OperationType; 31] = [
        OperationType::None,
        OperationType::Ingestion,
        OperationType::DerivedEntity,
        OperationType::Hierarchy,
        OperationType::DataPreparation,
        OperationType::Map,
        OperationType::RealtimeM3Search,
        OperationType::Match,
        OperationType::Merge,
        OperationType::ProfileStore,
        OperationType::Search,
        OperationType::Activity,
        OperationType::Contact,
        OperationType::AttributeMeasures,
        OperationType::EntityMeasures,
        OperationType::Measures,
        OperationType::Segmentation,
        OperationType::SegmentMembership,
        OperationType::Enrichment,
        OperationType::PreEnrichment,
        OperationType::Transform,
        OperationType::Intelligence,
        OperationType::AiBuilder,
        OperationType::Insights,
        OperationType::Export,
        OperationType::ModelManagement,
        OperationType::Relationship,
        OperationType::RoleAssignment,
        OperationType::Analysis,
        OperationType::SemanticEntity,
        OperationType::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationType::None => "none",
            OperationType::Ingestion => "ingestion",
            OperationType::DerivedEntity => "derivedEntity",
            OperationType::Hierarchy => "hierarchy",
            OperationType::DataPreparation => "dataPreparation",
            OperationType::Map => "map",
            OperationType::RealtimeM3Search => "realtimeM3Search",
            OperationType::Match => "match",
            OperationType::Merge => "merge",
            OperationType::ProfileStore => "profileStore",
            OperationType::Search => "search",
            OperationType::Activity => "activity",
            OperationType::Contact => "contact",
            OperationType::AttributeMeasures => "attributeMeasures",
            OperationType::EntityMeasures => "entityMeasures",
            OperationType::Measures => "measures",
            OperationType::Segmentation => "segmentation",
            OperationType::SegmentMembership => "segmentMembership",
            OperationType::Enrichment => "enrichment",
            OperationType::PreEnrichment => "preEnrichment",
            OperationType::Transform => "transform",
            OperationType::Intelligence => "intelligence",
            OperationType::AiBuilder => "aiBuilder",
            OperationType::Insights => "insights",
            OperationType::Export => "export",
            OperationType::ModelManagement => "modelManagement",
            OperationType::Relationship => "relationship",
            OperationType::RoleAssignment => "roleAssignment",
            OperationType::Analysis => "analysis",
            OperationType::SemanticEntity => "semanticEntity",
            OperationType::All => "all",
        }
    }

    /// Parses an `operationType` query value, case-insensitively (the docs write `Ingestion`).
    pub fn parse(text: &str) -> Result<OperationType, EngineError> {
        OperationType::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| EngineError::UnsupportedOperation {
                operation: text.to_owned(),
            })
    }

    /// Whether this is a stage of unification (`map`, `match`, `merge`).
    pub fn is_unification(self) -> bool {
        matches!(
            self,
            OperationType::Map | OperationType::Match | OperationType::Merge
        )
    }
}

impl fmt::Display for OperationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who started a job (the model's `jobSubmissionKind`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum SubmissionKind {
    #[default]
    OnDemand,
    Scheduled,
}

/// A forced task outcome (control API and scenarios).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every attempt succeeds.
    Success,
    /// The first attempt fails permanently.
    Fail,
    /// The first attempt fails transiently; the retry succeeds (if the tenant allows a retry).
    Transient,
    /// The first attempt runs until the task timeout and ends `timedOut`.
    Timeout,
}

/// A forced measure value: a number for a measure without a dimension, an object of
/// dimension value → number for one with a dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ForcedMeasure {
    Value(f64),
    Values(BTreeMap<String, f64>),
}

/// What a job's tasks are forced to do instead of drawing from the tenant's rates and walks.
/// Names are matched case-insensitively; forcing for a task the job does not run has no effect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Forcing {
    /// Ingestion outcome per data source name.
    pub data_sources: BTreeMap<String, Outcome>,
    /// Outcome of the `map`, `match`, `merge` or `export` task.
    pub stages: BTreeMap<String, Outcome>,
    /// Outcome of a segment's segmentation task or a measure's measures task, by name.
    pub evaluations: BTreeMap<String, Outcome>,
    /// The member count a segment evaluates to.
    pub segments: BTreeMap<String, u64>,
    /// The value a measure evaluates to.
    pub measures: BTreeMap<String, ForcedMeasure>,
}

/// A job submission (the jobs API: `operationType`, `identifiers`, and the simulator's forcing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobRequest {
    pub operation_type: OperationType,
    /// Data source names (or ids) for `ingestion`, segment names for `segmentation`, measure
    /// names for `measures`; empty means all. Must be empty for `all`.
    #[serde(default)]
    pub identifiers: Vec<String>,
    #[serde(default)]
    pub submission_kind: SubmissionKind,
    #[serde(default)]
    pub forcing: Forcing,
}

impl JobRequest {
    pub fn new(operation_type: OperationType) -> JobRequest {
        JobRequest {
            operation_type,
            identifiers: Vec::new(),
            submission_kind: SubmissionKind::OnDemand,
            forcing: Forcing::default(),
        }
    }

    /// A job the schedule submits.
    pub fn scheduled(operation_type: OperationType) -> JobRequest {
        JobRequest {
            submission_kind: SubmissionKind::Scheduled,
            ..JobRequest::new(operation_type)
        }
    }

    /// An on-demand ingestion of one data source whose (first) attempt has `outcome`.
    pub fn ingestion_of(data_source: String, outcome: Outcome) -> JobRequest {
        let mut req = JobRequest::new(OperationType::Ingestion);
        req.identifiers = vec![data_source.clone()];
        req.forcing.data_sources = BTreeMap::from([(data_source, outcome)]);
        req
    }
}

/// `POST /_sim/refresh`: a full refresh now. `kind` defaults to `scheduled`, since this endpoint
/// stands in for the platform's scheduler (on-demand refreshes go through the jobs API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshRequest {
    pub kind: SubmissionKind,
    pub data_sources: BTreeMap<String, Outcome>,
    pub stages: BTreeMap<String, Outcome>,
    pub evaluations: BTreeMap<String, Outcome>,
    pub segments: BTreeMap<String, u64>,
    pub measures: BTreeMap<String, ForcedMeasure>,
}

impl Default for RefreshRequest {
    fn default() -> Self {
        RefreshRequest {
            kind: SubmissionKind::Scheduled,
            data_sources: BTreeMap::new(),
            stages: BTreeMap::new(),
            evaluations: BTreeMap::new(),
            segments: BTreeMap::new(),
            measures: BTreeMap::new(),
        }
    }
}

impl RefreshRequest {
    pub fn into_job_request(self) -> JobRequest {
        JobRequest {
            operation_type: OperationType::All,
            identifiers: Vec::new(),
            submission_kind: self.kind,
            forcing: Forcing {
                data_sources: self.data_sources,
                stages: self.stages,
                evaluations: self.evaluations,
                segments: self.segments,
                measures: self.measures,
            },
        }
    }
}

/// What a task acts on: a stage of the unification, or an object of the catalog (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Target {
    Stage,
    DataSource(usize),
    Segment(usize),
    Measure(usize),
}

/// One object a job acts on, found in the catalog: its index there and the names its task shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pick {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) friendly_name: String,
}

/// What a job runs: data sources, unification stages, measures, segments (in catalog order) and
/// whether the exports.
#[derive(Debug, Default)]
pub(super) struct Selection {
    pub(super) sources: Vec<Pick>,
    /// The unification stages, in chain order (`map`, `match`, `merge`), each after the one
    /// before it and the first after every ingestion.
    pub(super) stages: Vec<OperationType>,
    pub(super) measures: Vec<Pick>,
    pub(super) segments: Vec<Pick>,
    /// The export task, after every segmentation.
    pub(super) export: bool,
}

/// A [`Forcing`] with its names resolved to catalog indices, counts checked and values shaped.
#[derive(Debug, Default)]
pub(super) struct ResolvedForcing {
    pub(super) sources: BTreeMap<usize, Outcome>,
    pub(super) stages: BTreeMap<OperationType, Outcome>,
    pub(super) segments: BTreeMap<usize, Outcome>,
    pub(super) measures: BTreeMap<usize, Outcome>,
    pub(super) counts: BTreeMap<usize, u64>,
    pub(super) values: BTreeMap<usize, MeasureValue>,
}
