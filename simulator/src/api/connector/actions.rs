//! The connector's actions: the documented ones under their display names, and the internal
//! operations the pickers call; their parameters, with pickers (`x-ms-dynamic-values`).

use serde_json::{Map, Value, json};

use super::swagger::swagger2;
use crate::api::ErrorShape;
use crate::api::openapi::{Tenant, document, param_schema};
use crate::api::routes::{Content, Header, In, Kind, Names, Param, Route, path_param};

/// The call limit, as every description states it.
pub(super) const THROTTLING: &str = "Throttling: 100 calls per connection per 60 seconds (a sliding window, as the Customer Insights connector documents); over the limit the API answers 429 with Retry-After.";

/// `OperationId` in the connector's PascalCase style (`getItems` → `GetItems`).
pub(super) fn pascal(id: &str) -> String {
    let mut c = id.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

pub(super) fn action(route: &Route, visible: bool) -> Value {
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
                let name = match route.error_shape() {
                    ErrorShape::OData => "ODataError",
                    ErrorShape::ApiErrorResult => "ApiErrorResult",
                };
                r.insert(
                    "schema".into(),
                    json!({"$ref": format!("#/definitions/{name}")}),
                );
            }
            Content::ODataError => {
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
pub(super) fn dynamic_values(sort: Names) -> Option<Value> {
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

pub(super) fn path(p: &Param, visible: bool) -> Value {
    simple(p, "path", visible)
}

fn query(p: &Param, visible: bool) -> Value {
    debug_assert_eq!(p.location, In::Query);
    simple(p, "query", visible)
}
