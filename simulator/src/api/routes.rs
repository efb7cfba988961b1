//! The route table: every route the simulator serves, with what a description of it needs
//! ([`Route`]).
//!
//! One table feeds the parity ledger test, the OpenAPI document (`/openapi.json`, `insightsim
//! openapi`) and the Power Platform custom connector (`insightsim connector export`), so none of
//! them can drift from the others; `simulator/tests/it/routes.rs` checks in both directions that the
//! router serves exactly the routes listed here, and that every answer matches its description.

use schemars::SchemaGenerator;

pub use super::route::{
    Content, Header, In, Kind, Names, Param, Reply, RequestBody, Route, SchemaFn, Surface,
    path_param,
};
use super::route::{empty, err, ok, query};
use super::schemas as s;

/// The route a request is an instance of, preferring literal segments over placeholders
/// (`manage/datasources/v2` over `manage/datasources/{dataSource}`).
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .filter(|r| r.method == method && r.matches_path(path))
        .max_by_key(|r| r.path.matches('/').count() * 100 - r.path.matches('{').count())
}

const V1: Surface = Surface::V1;
const CONTROL: Surface = Surface::Control;

const INCLUDE_TASKS: Param = query(
    "includeTasks",
    Kind::Bool,
    "Include each job's tasks (a single job includes them unless this is false).",
);
const VALID_UNTIL: Param = query(
    "validUntil",
    Kind::DateTime,
    "When the change disappears: at most 30 days ahead (default: 30 days).",
);

const ODATA: &[Param] = &[
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

const JOBS_LIST: &[Param] = &[
    query("top", Kind::Count, "At most this many jobs, newest first."),
    INCLUDE_TASKS,
];

const JOB_SUBMIT: &[Param] = &[
    query(
        "operationType",
        Kind::OneOf(&["all", "ingestion", "segmentation", "measures"]),
        "What to refresh (default all).",
    ),
    query(
        "identifiers",
        Kind::Str,
        "Comma-separated data source, segment or measure names the job is limited to.",
    ),
];

const JOB_REPLY: Reply = ok(
    200,
    "The job (GraphJobInfo).",
    SchemaGenerator::subschema_for::<s::Job>,
);
const JOB_ACCEPTED: Reply = ok(
    202,
    "The job was queued (GraphJobInfo). The API model declares 200; the simulator answers 202.",
    SchemaGenerator::subschema_for::<s::Job>,
);
const JOBS_REPLY: Reply = ok(
    200,
    "Recent jobs, newest first (GraphJobInfo).",
    SchemaGenerator::subschema_for::<Vec<s::Job>>,
);
const BAD_QUERY: Reply = err(400, "A query parameter is invalid; the message names it.");
const BAD_BODY: Reply = err(
    400,
    "The body is invalid; the message names the field and what to send.",
);
const NOT_FOUND: Reply = err(404, "No such resource; the message lists the valid names.");
const JOB_FINISHED: Reply = err(409, "The job has already finished.");

const STATUS_REPORT_BODY: RequestBody = RequestBody {
    required: true,
    schema: SchemaGenerator::subschema_for::<s::StatusReportRequest>,
};
const STATUS_REPORT_REPLIES: &[Reply] = &[
    ok(
        202,
        "The report was accepted and recorded.",
        SchemaGenerator::subschema_for::<s::StatusReportReceipt>,
    ),
    BAD_BODY,
];

/// Every route of the server. The parity ledger (`docs/parity.md`) has a row for each.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/v1/instances",
        operation_id: "listInstances",
        summary: "List instances",
        description: "The instances the caller can reach: the simulator serves one.",
        surface: V1,
        tag: "Instances",
        query: &[],
        body: None,
        replies: &[ok(
            200,
            "The instances (InstanceInfo).",
            SchemaGenerator::subschema_for::<Vec<s::InstanceInfo>>,
        )],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}",
        operation_id: "getInstance",
        summary: "Get instance metadata",
        description: "",
        surface: V1,
        tag: "Instances",
        query: &[],
        body: None,
        replies: &[ok(
            200,
            "The instance (InstanceInfo).",
            SchemaGenerator::subschema_for::<s::InstanceInfo>,
        )],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/entities",
        operation_id: "getEntities",
        summary: "Get entities",
        description: "Every entity with its attributes, types, keys, partitions and which fields are filterable.",
        surface: V1,
        tag: "Entities",
        query: &[],
        body: None,
        replies: &[ok(
            200,
            "The entities (IC360EntityModel).",
            SchemaGenerator::subschema_for::<s::EntityList>,
        )],
        action: Some("Get entities"),
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/entities/{entity}",
        operation_id: "getEntity",
        summary: "Get entity metadata",
        description: "",
        surface: V1,
        tag: "Entities",
        query: &[],
        body: None,
        replies: &[
            ok(
                200,
                "The entity (IEntityMetadata).",
                SchemaGenerator::subschema_for::<s::EntityMetadata>,
            ),
            NOT_FOUND,
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/entities/{entity}/entitysize",
        operation_id: "getEntitySize",
        summary: "Get entity size",
        description: "",
        surface: V1,
        tag: "Entities",
        query: &[],
        body: None,
        replies: &[
            ok(
                200,
                "Rows and (modelled) bytes.",
                SchemaGenerator::subschema_for::<s::EntitySize>,
            ),
            NOT_FOUND,
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/data/{entity}",
        operation_id: "getItems",
        summary: "Get items from an entity",
        description: "A page of rows with the connector's OData subset (Get items from an entity; Get item is the same call with $filter on the key). With proxy=true, where to download the entity's partitions instead (Retrieve partitions for an entity).",
        surface: V1,
        tag: "Data",
        query: ODATA,
        body: None,
        replies: &[
            ok(
                200,
                "A page of rows, or with proxy=true the partition download requests.",
                SchemaGenerator::subschema_for::<s::ItemsAnswer>,
            ),
            BAD_QUERY,
            NOT_FOUND,
        ],
        action: Some("Get items from an entity"),
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/data/{entity}",
        operation_id: "createItem",
        summary: "Create item (preview)",
        description: "Adds an item to Customer, UnifiedActivity or a data source table; it disappears after validUntil.",
        surface: V1,
        tag: "Data",
        query: &[VALID_UNTIL],
        body: Some(RequestBody {
            required: true,
            schema: SchemaGenerator::subschema_for::<s::Item>,
        }),
        replies: &[
            Reply {
                status: 201,
                description: "The created item; Location is a $filter URL that reads it back.",
                content: Content::Json(SchemaGenerator::subschema_for::<s::Item>),
                headers: &[Header::Location],
            },
            BAD_BODY,
            NOT_FOUND,
            err(409, "An item with this key already exists."),
        ],
        action: Some("Create item (preview)"),
    },
    Route {
        method: "PATCH",
        path: "/v1/instances/{instanceId}/data/{entity}/{entityId}",
        operation_id: "updateItem",
        summary: "Update item (preview)",
        description: "Changes attributes of an item; the change disappears after validUntil.",
        surface: V1,
        tag: "Data",
        query: &[VALID_UNTIL],
        body: Some(RequestBody {
            required: true,
            schema: SchemaGenerator::subschema_for::<s::Item>,
        }),
        replies: &[
            empty(204, "Updated."),
            BAD_BODY,
            err(404, "No such entity or item."),
        ],
        action: Some("Update item (preview)"),
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/partitions/{entity}/{partition}",
        operation_id: "getPartition",
        summary: "Retrieve data from a partition",
        description: "One partition of an entity as CSV (a header row for segments only).",
        surface: V1,
        tag: "Data",
        query: &[],
        body: None,
        replies: &[
            Reply {
                status: 200,
                description: "The rows, as CSV.",
                content: Content::Csv,
                headers: &[],
            },
            NOT_FOUND,
        ],
        action: Some("Retrieve data from a partition (preview)"),
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/statusreport",
        operation_id: "sendStatusReport",
        summary: "Sends the status report",
        description: "Accepted and recorded (the real semantics are not public).",
        surface: V1,
        tag: "Status reports",
        query: &[],
        body: Some(STATUS_REPORT_BODY),
        replies: STATUS_REPORT_REPLIES,
        action: Some("Sends the status report"),
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/statusreport/v2",
        operation_id: "sendStatusReportV2",
        summary: "Sends the status report V2",
        description: "As V1.",
        surface: V1,
        tag: "Status reports",
        query: &[],
        body: Some(STATUS_REPORT_BODY),
        replies: STATUS_REPORT_REPLIES,
        action: Some("Sends the status report V2"),
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/datasources",
        operation_id: "listDataSources",
        summary: "List data sources",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[ok(
            200,
            "The data sources (DataSourceMetadata).",
            SchemaGenerator::subschema_for::<Vec<s::DataSource>>,
        )],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/datasources/v2",
        operation_id: "listDataSourcesV2",
        summary: "List data sources (v2 path)",
        description: "The same list, under the path the OData examples use.",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[ok(
            200,
            "The data sources (DataSourceMetadata).",
            SchemaGenerator::subschema_for::<Vec<s::DataSource>>,
        )],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/datasources/{dataSource}",
        operation_id: "getDataSource",
        summary: "Get a data source",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[
            ok(
                200,
                "The data source (DataSourceMetadata).",
                SchemaGenerator::subschema_for::<s::DataSource>,
            ),
            NOT_FOUND,
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/segments",
        operation_id: "listSegments",
        summary: "List segments",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[ok(
            200,
            "The segments (SegmentMetadata).",
            SchemaGenerator::subschema_for::<Vec<s::Segment>>,
        )],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/segments/{segment}",
        operation_id: "getSegment",
        summary: "Get a segment",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[
            ok(
                200,
                "The segment (SegmentMetadata).",
                SchemaGenerator::subschema_for::<s::Segment>,
            ),
            NOT_FOUND,
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/measures",
        operation_id: "listMeasures",
        summary: "List measures",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[ok(
            200,
            "The business measures (MeasureMetadata).",
            SchemaGenerator::subschema_for::<Vec<s::Measure>>,
        )],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/measures/{measure}",
        operation_id: "getMeasure",
        summary: "Get a measure",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[
            ok(
                200,
                "The measure (MeasureMetadata).",
                SchemaGenerator::subschema_for::<s::Measure>,
            ),
            NOT_FOUND,
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/workflows/main/jobs",
        operation_id: "listJobs",
        summary: "List recent workflow jobs",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: JOBS_LIST,
        body: None,
        replies: &[JOBS_REPLY, BAD_QUERY],
        action: None,
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/workflows/main/jobs",
        operation_id: "submitJob",
        summary: "Submit a workflow job",
        description: "An on-demand refresh job that runs the refresh lifecycle.",
        surface: V1,
        tag: "Lifecycle",
        query: JOB_SUBMIT,
        body: None,
        replies: &[JOB_ACCEPTED, BAD_QUERY],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/workflows/main/jobs/{jobId}",
        operation_id: "getJob",
        summary: "Get a workflow job",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[INCLUDE_TASKS],
        body: None,
        replies: &[JOB_REPLY, NOT_FOUND],
        action: None,
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/workflows/main/jobs/{jobId}/cancel",
        operation_id: "cancelJob",
        summary: "Cancel a workflow job",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[JOB_REPLY, NOT_FOUND, JOB_FINISHED],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/workflows/main/jobs",
        operation_id: "listJobsManage",
        summary: "List recent workflow jobs (docs' prefix)",
        description: "The same as workflows/main/jobs, under the prefix the OData examples use.",
        surface: V1,
        tag: "Lifecycle",
        query: JOBS_LIST,
        body: None,
        replies: &[JOBS_REPLY, BAD_QUERY],
        action: None,
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/manage/workflows/main/jobs",
        operation_id: "submitJobManage",
        summary: "Submit a workflow job (docs' prefix)",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: JOB_SUBMIT,
        body: None,
        replies: &[JOB_ACCEPTED, BAD_QUERY],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/manage/workflows/main/jobs/{jobId}",
        operation_id: "getJobManage",
        summary: "Get a workflow job (docs' prefix)",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[INCLUDE_TASKS],
        body: None,
        replies: &[JOB_REPLY, NOT_FOUND],
        action: None,
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/manage/workflows/main/jobs/{jobId}/cancel",
        operation_id: "cancelJobManage",
        summary: "Cancel a workflow job (docs' prefix)",
        description: "",
        surface: V1,
        tag: "Lifecycle",
        query: &[],
        body: None,
        replies: &[JOB_REPLY, NOT_FOUND, JOB_FINISHED],
        action: None,
    },
    Route {
        method: "POST",
        path: "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions",
        operation_id: "subscribe",
        summary: "Subscribe a webhook trigger",
        description: "Registers NotificationUrl for the trigger's events, as Power Automate does when a flow is turned on. Inputs: dataSourceName (data source triggers, optional), segmentName + threshold, measureName + threshold (a measure without a dimension).",
        surface: V1,
        tag: "Triggers",
        query: &[],
        body: Some(RequestBody {
            required: true,
            schema: SchemaGenerator::subschema_for::<s::SubscriptionRequest>,
        }),
        replies: &[
            Reply {
                status: 201,
                description: "Subscribed; Location is the subscription's absolute URL (DELETE it to unsubscribe).",
                content: Content::Json(SchemaGenerator::subschema_for::<s::Subscription>),
                headers: &[Header::Location],
            },
            err(400, "An input is invalid; target names it."),
            err(404, "Unknown instance or trigger."),
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions",
        operation_id: "listSubscriptions",
        summary: "List a trigger's subscriptions",
        description: "",
        surface: V1,
        tag: "Triggers",
        query: &[],
        body: None,
        replies: &[
            ok(
                200,
                "The trigger's live subscriptions.",
                SchemaGenerator::subschema_for::<s::SubscriptionList>,
            ),
            err(404, "Unknown instance or trigger."),
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions/{id}",
        operation_id: "getSubscription",
        summary: "Get a subscription",
        description: "",
        surface: V1,
        tag: "Triggers",
        query: &[],
        body: None,
        replies: &[
            ok(
                200,
                "The subscription.",
                SchemaGenerator::subschema_for::<s::Subscription>,
            ),
            err(404, "Unknown instance, trigger or subscription."),
        ],
        action: None,
    },
    Route {
        method: "DELETE",
        path: "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions/{id}",
        operation_id: "unsubscribe",
        summary: "Delete a subscription",
        description: "What the platform does with the Location when a flow is turned off.",
        surface: V1,
        tag: "Triggers",
        query: &[],
        body: None,
        replies: &[
            empty(204, "Deleted; its pending deliveries are cancelled."),
            err(
                404,
                "Unknown instance, trigger or subscription (or deleted already).",
            ),
        ],
        action: None,
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        operation_id: "getOpenApi",
        summary: "This OpenAPI document",
        description: "No auth, not counted against the call limit.",
        surface: Surface::Meta,
        tag: "Meta",
        query: &[query(
            "includeControl",
            Kind::Bool,
            "Also describe the control API (/_sim).",
        )],
        body: None,
        replies: &[ok(
            200,
            "An OpenAPI 3.1 document.",
            SchemaGenerator::subschema_for::<s::AnyObject>,
        )],
        action: None,
    },
    control(
        "GET",
        "/_sim/health",
        "simHealth",
        "Liveness",
        None,
        &[sim_ok(200, "Alive.")],
    ),
    control(
        "GET",
        "/_sim/state",
        "simState",
        "A summary of the tenant, clock, subscriptions, jobs and deliveries",
        None,
        &[sim_ok(200, "The state.")],
    ),
    control(
        "POST",
        "/_sim/reset",
        "simReset",
        "Back to the start: data, subscriptions, jobs, deliveries, faults, call-limit state, journal",
        None,
        &[sim_ok(200, "Reset.")],
    ),
    control(
        "GET",
        "/_sim/clock",
        "simClock",
        "Read simulated time",
        None,
        &[sim_ok(200, "The clock.")],
    ),
    control(
        "POST",
        "/_sim/clock/advance",
        "simClockAdvance",
        "Move simulated time forward",
        Some(SchemaGenerator::subschema_for::<s::ClockAdvance>),
        &[sim_ok(200, "The clock after the move."), BAD_BODY],
    ),
    control(
        "POST",
        "/_sim/refresh",
        "simRefresh",
        "A full refresh now, with forced outcomes and values",
        Some(SchemaGenerator::subschema_for::<s::SimRefresh>),
        &[
            sim_ok(202, "The job."),
            BAD_BODY,
            err(404, "An unknown name."),
        ],
    ),
    control(
        "POST",
        "/_sim/datasources/{dataSource}/refresh",
        "simRefreshDataSource",
        "Refresh one data source",
        Some(SchemaGenerator::subschema_for::<s::SimDataSourceRefresh>),
        &[sim_ok(202, "The job."), BAD_BODY, NOT_FOUND],
    ),
    control(
        "POST",
        "/_sim/segments/{segment}/evaluate",
        "simEvaluateSegment",
        "A successful segment evaluation (fires crossings)",
        Some(SchemaGenerator::subschema_for::<s::SimSegmentEvaluate>),
        &[sim_ok(200, "The segment."), BAD_BODY, NOT_FOUND],
    ),
    control(
        "POST",
        "/_sim/measures/{measure}/evaluate",
        "simEvaluateMeasure",
        "A successful measure evaluation (fires crossings)",
        Some(SchemaGenerator::subschema_for::<s::SimMeasureEvaluate>),
        &[sim_ok(200, "The measure."), BAD_BODY, NOT_FOUND],
    ),
    control(
        "GET",
        "/_sim/journal",
        "simJournal",
        "Every /v1 call: time, connection, method, path, status, Retry-After",
        None,
        &[sim_ok(
            200,
            "The journal (after=N, connection=T filter it).",
        )],
    ),
    control(
        "GET",
        "/_sim/events",
        "simEvents",
        "Every trigger event",
        None,
        &[sim_ok(200, "The events.")],
    ),
    control(
        "GET",
        "/_sim/deliveries",
        "simDeliveries",
        "Every delivery attempt and dead letter",
        None,
        &[sim_ok(200, "The deliveries.")],
    ),
    control(
        "POST",
        "/_sim/deliveries/{id}/redeliver",
        "simRedeliver",
        "Re-send one delivery",
        None,
        &[
            sim_ok(202, "The delivery."),
            NOT_FOUND,
            err(409, "The delivery is still in progress."),
        ],
    ),
    control(
        "GET",
        "/_sim/ratelimit",
        "simRateLimit",
        "The call-limit grading of every connection",
        None,
        &[sim_ok(200, "The grading.")],
    ),
    control(
        "GET",
        "/_sim/faults",
        "simFaults",
        "The injected faults",
        None,
        &[sim_ok(200, "The faults.")],
    ),
    control(
        "PUT",
        "/_sim/faults",
        "simSetFaults",
        "Set seeded route and delivery faults",
        Some(SchemaGenerator::subschema_for::<s::SimFaults>),
        &[sim_ok(200, "Set."), BAD_BODY],
    ),
    control(
        "GET",
        "/_sim/reports",
        "simReports",
        "The status reports received",
        None,
        &[sim_ok(200, "The reports.")],
    ),
];

const fn sim_ok(status: u16, description: &'static str) -> Reply {
    ok(
        status,
        description,
        SchemaGenerator::subschema_for::<s::AnyObject>,
    )
}

const fn control(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_placeholders() {
        let r = find("GET", "/v1/instances/x/manage/datasources/v2").unwrap();
        assert_eq!(r.operation_id, "listDataSourcesV2");
        let r = find("GET", "/v1/instances/x/manage/datasources/PoS").unwrap();
        assert_eq!(r.operation_id, "getDataSource");
    }

    #[test]
    fn a_placeholder_with_a_suffix_needs_the_suffix() {
        let r = Route {
            path: "/p/{n}.csv",
            ..ROUTES[0]
        };
        assert!(r.matches_path("/p/0.csv"));
        assert!(!r.matches_path("/p/0"));
        assert!(!r.matches_path("/p/.csv"));
    }

    #[test]
    fn operation_ids_are_unique_and_placeholders_known() {
        let mut ids: Vec<&str> = ROUTES.iter().map(|r| r.operation_id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate operation ids");
        for r in ROUTES {
            for p in r.path_params() {
                assert!(
                    !path_param(p).name.is_empty(),
                    "{}: unknown {{{p}}}",
                    r.path
                );
            }
        }
    }

    #[test]
    fn v1_routes_describe_auth_and_the_call_limit() {
        for r in ROUTES.iter().filter(|r| r.surface == Surface::V1) {
            let statuses: Vec<u16> = r.replies().iter().map(|r| r.status).collect();
            assert!(
                statuses.contains(&401) && statuses.contains(&429),
                "{}",
                r.path
            );
        }
    }
}
