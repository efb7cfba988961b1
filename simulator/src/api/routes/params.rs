//! What several routes share: parameters, replies, and the shape of a control route.

use schemars::SchemaGenerator;

use super::super::route::*;
use super::super::schemas as s;

pub(super) const V1: Surface = Surface::V1;
pub(super) const CONTROL: Surface = Surface::Control;

pub(super) const INCLUDE_TASKS: Param = query(
    "includeTasks",
    Kind::Bool,
    "Include each job's tasks (a single job includes them unless this is false).",
);
pub(super) const VALID_UNTIL: Param = query(
    "validUntil",
    Kind::DateTime,
    "When the change disappears: at most 30 days ahead (default: 30 days).",
);

pub(super) const ODATA: &[Param] = &[
    query(
        "$filter",
        Kind::Str,
        "OData filter: eq ne gt ge lt le, and or not, in (...), IsMemberOfSegment('Name'); filterable fields only (see the entity's searchProperties.isFilterable).",
    ),
    query("$select", Kind::Str, "Comma-separated attributes, or *."),
    query(
        "$top",
        Kind::Count,
        "Rows per page: default and maximum 100 (a larger value is clamped).",
    ),
    query("$skip", Kind::Count, "Rows to skip: page with $skip."),
    query(
        "$orderby",
        Kind::Str,
        "Comma-separated attributes, each optionally asc or desc.",
    ),
    query(
        "$search",
        Kind::Str,
        "Quoted text, e.g. \"smith\": a case-insensitive substring of the searchable attributes.",
    ),
    query(
        "$expand",
        Kind::Str,
        "UnifiedActivity and/or Customer_Measure, on Customer.",
    ),
    query("$count", Kind::Bool, "Add @odata.count."),
    query(
        "$skiptoken",
        Kind::Str,
        "The continuation of @odata.nextLink, when the tenant turns next links on.",
    ),
    query(
        "proxy",
        Kind::Bool,
        "true: answer where to download the entity's partitions (Retrieve partitions for an entity).",
    ),
    query(
        "forceSearch",
        Kind::Bool,
        "Accepted and ignored (the API model's flag).",
    ),
];

const INCLUDE_HISTORIC_STATS: Param = query(
    "includeHistoricStats",
    Kind::Bool,
    "Add each segment's evaluationStatusHistory (default false).",
);
const HISTORIC_STATS_DAYS: Param = query(
    "historicStatsDays",
    Kind::Count,
    "How many days of evaluation history (default 10).",
);

pub(super) const SEGMENT_OPTIONS: &[Param] = &[INCLUDE_HISTORIC_STATS, HISTORIC_STATS_DAYS];

pub(super) const SEGMENT_LIST: &[Param] = &[
    INCLUDE_HISTORIC_STATS,
    HISTORIC_STATS_DAYS,
    query(
        "numberOfSegments",
        Kind::Count,
        "At most this many segments (default all).",
    ),
];

pub(super) const JOBS_LIST: &[Param] = &[
    query(
        "top",
        Kind::Count,
        "At most this many jobs, newest first (default 10, as in the API model).",
    ),
    INCLUDE_TASKS,
];

pub(super) const HISTORY: &[Param] = &[query(
    "top",
    Kind::Count,
    "At most this many tasks, newest first (default 10, as in the API model).",
)];

pub(super) const JOB_SUBMIT: &[Param] = &[
    query(
        "operationType",
        Kind::OneOf(&[
            "all",
            "ingestion",
            "map",
            "match",
            "merge",
            "measures",
            "entityMeasures",
            "attributeMeasures",
            "segmentation",
            "segmentMembership",
            "export",
            "none",
            "derivedEntity",
            "hierarchy",
            "dataPreparation",
            "realtimeM3Search",
            "profileStore",
            "search",
            "activity",
            "contact",
            "enrichment",
            "preEnrichment",
            "transform",
            "intelligence",
            "aiBuilder",
            "insights",
            "modelManagement",
            "relationship",
            "roleAssignment",
            "analysis",
            "semanticEntity",
        ]),
        "What to refresh (default all): all the whole graph; ingestion, segmentation, measures the named data sources, segments, measures; map, match, merge the unification from that stage to merge (fires unification-completed); export the exports; the model's other values have nothing to run in the simulated tenant and end at once.",
    ),
    query(
        "identifiers",
        Kind::Str,
        "Comma-separated data source, segment or measure names the job is limited to.",
    ),
    query(
        "forceRunRequested",
        Kind::Bool,
        "Accepted: the simulator always runs the requested nodes (the job's shouldForceRunRequestedNodes is true).",
    ),
];

pub(super) const JOB_REPLY: Reply = ok(
    200,
    "The job (GraphJobInfo).",
    SchemaGenerator::subschema_for::<s::Job>,
);
pub(super) const JOB_SUBMITTED: Reply = ok(
    200,
    "The job, running or queued behind the running one (GraphJobInfo), with its tasks.",
    SchemaGenerator::subschema_for::<s::Job>,
);
pub(super) const JOBS_REPLY: Reply = ok(
    200,
    "Recent jobs, newest first (GraphJobInfo).",
    SchemaGenerator::subschema_for::<Vec<s::Job>>,
);
pub(super) const BAD_QUERY: Reply = err(400, "A query parameter is invalid; the message names it.");
pub(super) const BAD_BODY: Reply = err(
    400,
    "The body is invalid; the message names the field and what to send.",
);
pub(super) const NOT_FOUND: Reply =
    err(404, "No such resource; the message lists the valid names.");
pub(super) const JOB_FINISHED: Reply = err(409, "The job has already finished.");
pub(super) const ITEMS_FULL: Reply = err(
    507,
    "insightsim server limit: the items created and changed since start fill limits.items_bytes_max.",
);

pub(super) const STATUS_REPORT_BODY: RequestBody = RequestBody {
    required: true,
    schema: SchemaGenerator::subschema_for::<s::StatusReportRequest>,
};
pub(super) const STATUS_REPORT_REPLIES: &[Reply] = &[
    ok(
        202,
        "The report was accepted and recorded.",
        SchemaGenerator::subschema_for::<s::StatusReportReceipt>,
    ),
    BAD_BODY,
];

pub(super) const fn sim_ok(status: u16, description: &'static str) -> Reply {
    ok(
        status,
        description,
        SchemaGenerator::subschema_for::<s::AnyObject>,
    )
}

pub(super) const fn control(
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    body: Option<SchemaFn>,
    replies: &'static [Reply],
) -> Route {
    Route {
        method,
        path,
        operation_id,
        summary,
        description: "",
        surface: CONTROL,
        tag: "Control",
        query: &[],
        body: match body {
            Some(schema) => Some(RequestBody {
                required: false,
                schema,
            }),
            None => None,
        },
        replies,
        action: None,
    }
}
