//! The Power Platform custom connector of the simulated API: `apiDefinition.swagger.json`
//! (OpenAPI 2.0 with Microsoft's extensions) and `apiProperties.json`, generated from the route
//! table ([`ROUTES`]) and the OpenAPI document's schemas, so the connector offers exactly what the
//! simulator serves.
//!
//! - Actions: the routes with a documented connector action (`Route::action`), under their
//!   display names, and internal helper operations for the pickers.
//! - Triggers: the six triggers as webhook triggers (`x-ms-trigger: single`), one path each, the
//!   callback in `NotificationUrl` (`x-ms-notification-url`), the payload of each trigger in
//!   `x-ms-notification-content`, and `DELETE` of the subscription for turning a flow off.
//! - Pickers: `x-ms-dynamic-values` for the instance, entity, data source, segment and measure
//!   parameters, backed by the list operations.
//! - Auth: an API key sent as the `Authorization` header (`Bearer <token>`); optionally the
//!   `Ocp-Apim-Subscription-Key`, set by a `setheader` policy from a second connection parameter.
//! - The call limit (100 calls per connection per 60 s, 429 with Retry-After) is stated in the
//!   description of the connector and of every action.

use serde_json::{Map, Value, json};

use super::openapi::{Tenant, document, param_schema};
use super::routes::{Content, Header, In, Kind, Names, Param, ROUTES, Route, path_param};
use crate::engine::Trigger;

/// The connector's files.
#[derive(Debug, Clone)]
pub struct Connector {
    /// `apiDefinition.swagger.json`.
    pub api_definition: Value,
    /// `apiProperties.json`.
    pub api_properties: Value,
}

/// Why the connector cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error(
        "--host {0:?} is not an https:// or http:// URL with a host; give the public URL of your tunnel, e.g. https://abc123.ngrok.app"
    )]
    BadHost(String),
}

const THROTTLING: &str = "Throttling: 100 calls per connection per 60 seconds (a sliding window, as the Customer Insights connector documents); over the limit the API answers 429 with Retry-After.";

/// The helper operations the pickers call (internal: not shown as actions).
const PICKERS: &[&str] = &[
    "listInstances",
    "listDataSources",
    "listSegments",
    "listMeasures",
];

/// Generates the connector for a public `host` (`https://abc123.ngrok.app`).
pub fn connector(tenant: &Tenant, host: &str) -> Result<Connector, ConnectorError> {
    let (scheme, authority) = host
        .trim_end_matches('/')
        .split_once("://")
        .filter(|(s, a)| (*s == "https" || *s == "http") && !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| ConnectorError::BadHost(host.to_owned()))?;
    let openapi = document(tenant, false);
    let mut definitions = Map::new();
    if let Some(schemas) = openapi["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            definitions.insert(name.clone(), swagger2(schema.clone()));
        }
    }
    let mut paths = Map::new();
    for route in ROUTES {
        let visible = route.action.is_some();
        if !visible && !PICKERS.contains(&route.operation_id) {
            continue;
        }
        let op = action(route, visible);
        insert(&mut paths, route.path, route.method, op);
    }
    for trigger in Trigger::ALL {
        let path = format!(
            "/v1/instances/{{instanceId}}/triggers/{}/subscriptions",
            trigger.id()
        );
        let (name, event) = trigger_op(trigger);
        insert(&mut paths, &path, "POST", name);
        if let Some(item) = paths.get_mut(&path).and_then(Value::as_object_mut) {
            item.insert(
                "x-ms-notification-content".into(),
                json!({ "description": format!("The {} event", trigger.id()), "schema": event }),
            );
        }
    }
    insert(
        &mut paths,
        "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions/{id}",
        "DELETE",
        json!({
            "operationId": "DeleteTriggerSubscription",
            "summary": "Delete a trigger subscription",
            "description": "What Power Automate calls (the Location of the subscription) when a flow is turned off.",
            "x-ms-visibility": "internal",
            "parameters": [
                path(&path_param("instanceId"), false),
                {"name": "trigger", "in": "path", "required": true, "type": "string", "x-ms-summary": "Trigger"},
                {"name": "id", "in": "path", "required": true, "type": "string", "x-ms-summary": "Subscription id"},
            ],
            "responses": {
                "204": {"description": "Deleted"},
                "404": {"description": "No such subscription", "schema": {"$ref": "#/definitions/ODataError"}},
            },
        }),
    );
    let api_definition = json!({
        "swagger": "2.0",
        "info": {
            "title": "Customer Insights (insightsim)",
            "description": format!("The Dynamics 365 Customer Insights connector's API as served by insightsim, a local simulator, for testing flows. {THROTTLING}"),
            "version": env!("CARGO_PKG_VERSION"),
            "contact": {"name": "insightsim"},
        },
        "host": authority,
        "basePath": "/",
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": definitions,
        "parameters": {},
        "responses": {},
        "securityDefinitions": {
            "api_key": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "Bearer <token>: any token works unless the tenant lists tokens; each token is one connection for the call limit.",
            },
        },
        "security": [{"api_key": []}],
        "tags": [],
        "x-ms-connector-metadata": [
            {"propertyName": "Website", "propertyValue": "https://learn.microsoft.com/connectors/customerinsights/"},
            {"propertyName": "Categories", "propertyValue": "Marketing;Data"},
            {"propertyName": "Throttling", "propertyValue": THROTTLING},
        ],
    });
    let api_properties = json!({
        "properties": {
            "iconBrandColor": "#0b556a",
            "publisher": "insightsim",
            "stackOwner": "insightsim",
            "capabilities": ["actions", "triggers"],
            "connectionParameters": {
                "api_key": {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": "Authorization (Bearer token)",
                        "description": "Bearer followed by any token, e.g. Bearer my-flow: the token names the connection whose calls the simulator counts and grades.",
                        "tooltip": "Enter: Bearer <token>",
                        "constraints": {"tabIndex": 2, "clearText": false, "required": "true"},
                    },
                },
                "subscription_key": {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": "Ocp-Apim-Subscription-Key (optional)",
                        "description": "Sent as the Ocp-Apim-Subscription-Key header; required only when the tenant file sets auth.require_subscription_key.",
                        "tooltip": "Leave empty unless the tenant requires a subscription key",
                        "constraints": {"tabIndex": 3, "clearText": false, "required": "false"},
                    },
                },
            },
            "policyTemplateInstances": [
                {
                    "templateId": "setheader",
                    "title": "Ocp-Apim-Subscription-Key from the connection",
                    "parameters": {
                        "x-ms-apimTemplateParameter.name": "Ocp-Apim-Subscription-Key",
                        "x-ms-apimTemplateParameter.value": "@connectionParameters('subscription_key')",
                        "x-ms-apimTemplateParameter.existsAction": "override",
                        "x-ms-apimTemplate-policySection": "Request",
                    },
                },
            ],
        },
    });
    Ok(Connector {
        api_definition,
        api_properties,
    })
}

fn insert(paths: &mut Map<String, Value>, path: &str, method: &str, op: Value) {
    let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
    if let Some(item) = item.as_object_mut() {
        item.insert(method.to_ascii_lowercase(), op);
    }
}

/// `OperationId` in the connector's PascalCase style (`getItems` → `GetItems`).
fn pascal(id: &str) -> String {
    let mut c = id.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn action(route: &Route, visible: bool) -> Value {
    let mut parameters: Vec<Value> = route
        .path_params()
        .into_iter()
        .map(|name| path(&path_param(name), visible))
        .collect();
    parameters.extend(route.query.iter().map(|p| query(p, visible)));
    if let Some(body) = route.body {
        let schema = if route.operation_id.contains("Item") {
            json!({"type": "object", "description": "Attribute names and values of the item (see Get entities for the attributes)."})
        } else {
            swagger2(body_schema(route))
        };
        parameters.push(json!({
            "name": "body",
            "in": "body",
            "required": body.required,
            "schema": schema,
        }));
    }
    let mut responses = Map::new();
    for reply in route.replies() {
        let mut r = Map::new();
        r.insert("description".into(), reply.description.into());
        match reply.content {
            Content::Json(_) if route.operation_id == "getItems" => {
                r.insert("schema".into(), json!({"$ref": "#/definitions/ItemsPage"}));
            }
            Content::Json(_) => {
                r.insert("schema".into(), swagger2(reply_schema(route, reply.status)));
            }
            Content::Error => {
                r.insert("schema".into(), json!({"$ref": "#/definitions/ODataError"}));
            }
            Content::Csv => {
                r.insert(
                    "schema".into(),
                    json!({"type": "string", "format": "binary"}),
                );
            }
            Content::Empty => {}
        }
        if !reply.headers.is_empty() {
            let headers: Map<String, Value> = reply
                .headers
                .iter()
                .map(|h| match h {
                    Header::Location => ("Location".to_owned(), json!({"type": "string"})),
                    Header::RetryAfter => ("Retry-After".to_owned(), json!({"type": "integer"})),
                    Header::WwwAuthenticate => {
                        ("WWW-Authenticate".to_owned(), json!({"type": "string"}))
                    }
                })
                .collect();
            r.insert("headers".into(), Value::Object(headers));
        }
        responses.insert(reply.status.to_string(), Value::Object(r));
    }
    let mut op = json!({
        "operationId": pascal(route.operation_id),
        "summary": route.action.unwrap_or(route.summary),
        "description": format!("{} {THROTTLING}", if route.description.is_empty() { route.summary } else { route.description }),
        "parameters": parameters,
        "responses": responses,
    });
    if !visible {
        op["x-ms-visibility"] = "internal".into();
    }
    if route.method == "GET" {
        op["x-ms-safe-operation"] = true.into();
    }
    if route.operation_id == "getPartition" {
        op["produces"] = json!(["text/csv"]);
    }
    op
}

/// The JSON schema of a reply, as the OpenAPI document describes it.
fn reply_schema(route: &Route, status: u16) -> Value {
    let doc = document(&Tenant::default(), true);
    doc["paths"][route.path][route.method.to_ascii_lowercase()]["responses"][status.to_string()]
        ["content"]["application/json"]["schema"]
        .clone()
}

fn body_schema(route: &Route) -> Value {
    let doc = document(&Tenant::default(), true);
    doc["paths"][route.path][route.method.to_ascii_lowercase()]["requestBody"]["content"]
        ["application/json"]["schema"]
        .clone()
}

/// A picker for a parameter of one of the tenant's names.
fn dynamic_values(sort: Names) -> Option<Value> {
    let instance = json!({"instanceId": {"parameter": "instanceId"}});
    let v = match sort {
        Names::Instance => json!({
            "operationId": "ListInstances",
            "value-path": "instanceId",
            "value-title": "name",
        }),
        Names::Entity => json!({
            "operationId": "GetEntities",
            "parameters": instance,
            "value-collection": "entities",
            "value-path": "name",
            "value-title": "name",
        }),
        Names::DataSource => json!({
            "operationId": "ListDataSources",
            "parameters": instance,
            "value-path": "name",
            "value-title": "friendlyName",
        }),
        Names::Segment => json!({
            "operationId": "ListSegments",
            "parameters": instance,
            "value-path": "name",
            "value-title": "friendlyName",
        }),
        Names::Measure => json!({
            "operationId": "ListMeasures",
            "parameters": instance,
            "value-path": "name",
            "value-title": "displayName",
        }),
        Names::Trigger => return None,
    };
    Some(v)
}

fn summary(name: &str) -> String {
    match name {
        "instanceId" => "Instance".to_owned(),
        "entity" => "Entity".to_owned(),
        "entityId" => "Item key".to_owned(),
        "dataSource" => "Data source".to_owned(),
        "segment" => "Segment".to_owned(),
        "measure" => "Measure".to_owned(),
        "jobId" => "Job id".to_owned(),
        "partition" => "Partition".to_owned(),
        other => other.trim_start_matches('$').to_owned(),
    }
}

fn simple(p: &Param, location: &str, visible: bool) -> Value {
    let schema = param_schema(&Tenant::default(), p.kind);
    let mut v = json!({
        "name": p.name,
        "in": location,
        "required": p.required,
        "type": schema["type"],
        "x-ms-summary": summary(p.name),
    });
    if !p.description.is_empty() {
        v["description"] = p.description.into();
    }
    match p.kind {
        Kind::DateTime => v["format"] = "date-time".into(),
        Kind::OneOf(values) => v["enum"] = json!(values),
        Kind::Name(sort) if visible => {
            if let Some(d) = dynamic_values(sort) {
                v["x-ms-dynamic-values"] = d;
            }
        }
        _ => {}
    }
    if location == "query"
        && p.name.starts_with('$')
        && p.name != "$filter"
        && p.name != "$top"
        && p.name != "$skip"
        && p.name != "$select"
        && p.name != "$orderby"
    {
        v["x-ms-visibility"] = "advanced".into();
    }
    if p.name == "proxy" || p.name == "forceSearch" || p.name == "$skiptoken" {
        v["x-ms-visibility"] = "internal".into();
    }
    v
}

fn path(p: &Param, visible: bool) -> Value {
    simple(p, "path", visible)
}

fn query(p: &Param, visible: bool) -> Value {
    debug_assert_eq!(p.location, In::Query);
    simple(p, "query", visible)
}

/// The subscription operation of one trigger, and the schema of its event.
fn trigger_op(trigger: Trigger) -> (Value, Value) {
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

/// A JSON Schema 2020-12 schema of the OpenAPI document as a Swagger 2.0 schema: references
/// into `#/definitions`, nullable types as `x-nullable`, `const` as a one-value `enum`, and of
/// an `anyOf` the first non-null branch, unsigned formats as signed ones.
pub fn swagger2(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    map.remove("$schema");
    let mut nullable = false;
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.remove(key) {
            nullable |= branches.iter().any(|b| b["type"] == "null");
            if let Some(Value::Object(first)) = branches.into_iter().find(|b| b["type"] != "null") {
                for (k, v) in first {
                    map.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(Value::Array(types)) = map.get("type").cloned() {
        nullable |= types.iter().any(|t| t == "null");
        let rest: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
        if rest.len() == 1 {
            map.insert("type".into(), rest[0].clone());
        } else {
            map.remove("type");
        }
    }
    // Swagger 2.0 knows signed formats only (schemars writes `uint64` for a `u64`).
    if let Some(Value::String(format)) = map.get("format") {
        let signed = match format.as_str() {
            "uint64" => Some("int64"),
            "uint32" | "uint16" | "uint8" | "int16" | "int8" => Some("int32"),
            _ => None,
        };
        if let Some(f) = signed {
            map.insert("format".into(), f.into());
        }
    }
    if let Some(v) = map.remove("const") {
        map.insert("enum".into(), json!([v]));
    }
    if let Some(Value::String(r)) = map.get("$ref") {
        let name = r.rsplit('/').next().unwrap_or_default().to_owned();
        map.insert("$ref".into(), json!(format!("#/definitions/{name}")));
    }
    if nullable {
        map.insert("x-nullable".into(), true.into());
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = map.remove(key) {
            map.insert(key.into(), swagger2(v));
        }
    }
    if let Some(Value::Object(props)) = map.remove("properties") {
        let props: Map<String, Value> = props.into_iter().map(|(k, v)| (k, swagger2(v))).collect();
        map.insert("properties".into(), Value::Object(props));
    }
    Value::Object(map)
}
