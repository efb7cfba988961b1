//! The six triggers as webhook triggers: `x-ms-trigger`, the callback property marked
//! `x-ms-notification-url`, and each event's payload for `x-ms-notification-content`.

use serde_json::{Map, Value, json};

use super::actions::{THROTTLING, dynamic_values, pascal, path};
use crate::api::routes::{Names, path_param};
use crate::engine::Trigger;

/// The subscription operation of one trigger, and the schema of its event.
pub(super) fn trigger_op(trigger: Trigger) -> (Value, Value) {
    let string = |s: &str| json!({"type": "string", "x-ms-summary": s});
    let (title, description, inputs, required, event): (&str, &str, Value, Vec<&str>, Value) =
        match trigger {
            Trigger::DataSourceRefreshFailed => (
                "When a data source refresh fails",
                "An ingestion task ends in permanent failure (failed after its retries, or timed out).",
                json!({"dataSourceName": with_picker(string("Data source"), Names::DataSource)}),
                vec![],
                data_source_event(),
            ),
            Trigger::DataSourceRefreshSucceeded => (
                "When a data source refresh succeeds",
                "An ingestion task ends successfully.",
                json!({"dataSourceName": with_picker(string("Data source"), Names::DataSource)}),
                vec![],
                data_source_event(),
            ),
            Trigger::SegmentThresholdCrossed => (
                "When a segment threshold is crossed",
                "A successful evaluation moves the segment's member count from at or below the threshold to above it (upward only).",
                json!({
                    "segmentName": with_picker(string("Segment"), Names::Segment),
                    "threshold": {"type": "number", "x-ms-summary": "Threshold"},
                }),
                vec!["segmentName", "threshold"],
                event(&[
                    ("segmentName", "string"),
                    ("friendlyName", "string"),
                    ("threshold", "number"),
                    ("previousCount", "integer"),
                    ("entityCount", "integer"),
                    ("evaluationDate", "date-time"),
                    ("jobId", "string"),
                ]),
            ),
            Trigger::MeasureThresholdCrossed => (
                "When a business measure threshold is crossed",
                "The same for a business measure without a dimension.",
                json!({
                    "measureName": with_picker(string("Business measure"), Names::Measure),
                    "threshold": {"type": "number", "x-ms-summary": "Threshold"},
                }),
                vec!["measureName", "threshold"],
                event(&[
                    ("measureName", "string"),
                    ("displayName", "string"),
                    ("threshold", "number"),
                    ("previousValue", "number"),
                    ("value", "number"),
                    ("evaluationTime", "date-time"),
                    ("jobId", "string"),
                ]),
            ),
            Trigger::FullRefreshCompleted => (
                "When a full refresh is completed",
                "A scheduled full refresh reaches a terminal state (not an on-demand one).",
                json!({}),
                vec![],
                with(
                    event(&[
                        ("jobId", "string"),
                        ("jobType", "string"),
                        ("jobSubmissionKind", "string"),
                        ("jobStatus", "string"),
                        ("submittedTimestamp", "date-time"),
                        ("endTimestamp", "date-time"),
                    ]),
                    "tasks",
                    json!({"type": "array", "items": {"type": "object", "properties": {
                        "operationType": {"type": "string"}, "identifier": {"type": "string"}, "taskStatus": {"type": "string"},
                    }}}),
                ),
            ),
            Trigger::UnificationCompleted => (
                "When unification is completed",
                "The map, match and merge chain of a refresh finishes, successfully or not.",
                json!({}),
                vec![],
                with(
                    event(&[
                        ("jobId", "string"),
                        ("taskStatus", "string"),
                        ("unifiedCustomerCount", "integer"),
                        ("endTimestamp", "date-time"),
                    ]),
                    "stages",
                    json!({"type": "array", "items": {"type": "object", "properties": {
                        "operationType": {"type": "string"}, "taskStatus": {"type": "string"},
                        "endTimestamp": {"type": "string", "format": "date-time"},
                    }}}),
                ),
            ),
        };
    let mut properties = json!({
        "NotificationUrl": {
            "type": "string",
            "x-ms-notification-url": true,
            "x-ms-visibility": "internal",
            "title": "",
            "description": "The callback URL of the flow (filled in by the platform).",
        },
    });
    if let (Some(p), Some(i)) = (properties.as_object_mut(), inputs.as_object()) {
        p.extend(i.clone());
    }
    let mut required_all = vec!["NotificationUrl"];
    required_all.extend(required);
    let op = json!({
        "operationId": pascal(&trigger.id().replace('-', "_")).replace('_', ""),
        "summary": title,
        "description": format!("{description} {THROTTLING}"),
        "x-ms-trigger": "single",
        "parameters": [
            path(&path_param("instanceId"), true),
            {
                "name": "body",
                "in": "body",
                "required": true,
                "schema": {"type": "object", "required": required_all, "properties": properties},
            },
        ],
        "responses": {
            "201": {"description": "Subscribed; Location is the subscription's URL (deleted when the flow is turned off).", "headers": {"Location": {"type": "string"}}},
            "400": {"description": "An input is invalid", "schema": {"$ref": "#/definitions/ODataError"}},
            "429": {"description": "The call limit is exhausted", "schema": {"$ref": "#/definitions/Throttled"}, "headers": {"Retry-After": {"type": "integer"}}},
        },
    });
    (op, event)
}

fn with_picker(mut schema: Value, sort: Names) -> Value {
    if let Some(d) = dynamic_values(sort) {
        schema["x-ms-dynamic-values"] = d;
    }
    schema
}

/// An event payload: the common fields and the trigger's own.
fn event(fields: &[(&str, &str)]) -> Value {
    let mut properties = Map::new();
    for (name, ty) in [
        ("eventId", "string"),
        ("eventType", "string"),
        ("subscriptionId", "string"),
        ("instanceId", "string"),
        ("occurredAt", "date-time"),
    ]
    .iter()
    .chain(fields)
    {
        let schema = match *ty {
            "date-time" => json!({"type": "string", "format": "date-time"}),
            t => json!({"type": t}),
        };
        properties.insert((*name).to_owned(), schema);
    }
    json!({"type": "object", "properties": properties})
}

fn with(mut event: Value, name: &str, schema: Value) -> Value {
    event["properties"][name] = schema;
    event
}

fn data_source_event() -> Value {
    with(
        event(&[
            ("dataSourceId", "string"),
            ("dataSourceName", "string"),
            ("friendlyName", "string"),
            ("jobId", "string"),
            ("taskStatus", "string"),
            ("refreshState", "string"),
            ("lastRefresh", "date-time"),
        ]),
        "errors",
        json!({"type": "array", "items": {"type": "object", "properties": {
            "errorCode": {"type": "string"}, "message": {"type": "string"},
        }}}),
    )
}
