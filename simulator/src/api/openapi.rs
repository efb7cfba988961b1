//! The OpenAPI 3.1 description of the server, generated from the route table ([`ROUTES`]) and the
//! body schemas ([`super::schemas`]), so it describes exactly what the router serves.
//!
//! The document is of one tenant: the instance id, entity, data source, segment and measure
//! parameters are `enum`s of the tenant's names, which is what this server accepts (any other
//! answers `404`), and what lets a generator such as Schemathesis reach past the `404`s.
//! `serve` answers it at `GET /openapi.json` (no auth, not counted against the call limit;
//! `?includeControl=true` adds `/_sim`), and `insightsim openapi` prints it.

use schemars::generate::{Contract, SchemaSettings};
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::error::ErrorShape;
use super::routes::{Content, Header, In, Kind, Names, Param, ROUTES, Route, Surface, path_param};
use super::schemas;
use crate::engine::Trigger;
use crate::sim::Simulator;
use crate::tenant::spec::CUSTOMER_MEASURES;

/// What a document is generated for.
#[derive(Debug, Clone, Default)]
pub struct Tenant {
    /// The server's base URL (`http://127.0.0.1:8080`).
    pub base_url: String,
    pub instance_id: String,
    pub entities: Vec<String>,
    pub data_sources: Vec<String>,
    pub segments: Vec<String>,
    /// Business measures without a dimension come first (see [`Tenant::scalar_measures`]),
    /// then those with one, then the customer measures.
    pub measures: Vec<String>,
    /// How many of `measures` (from the front) have no dimension.
    pub scalar_measures: usize,
    /// Whether `/v1` calls must carry `Ocp-Apim-Subscription-Key`.
    pub subscription_key_required: bool,
    /// Whether the control API asks for the admin token.
    pub admin_token: bool,
}

impl Tenant {
    /// The names of a simulator's tenant.
    pub fn of(sim: &Simulator, base_url: &str) -> Tenant {
        let spec = &sim.spec;
        let mut measures: Vec<(bool, String)> = spec
            .measures
            .iter()
            .map(|m| (m.dimension.is_some(), m.name.clone()))
            .collect();
        measures.sort_by_key(|(dimensioned, _)| *dimensioned);
        // The customer measures are measures too (not for the threshold trigger).
        measures.extend(CUSTOMER_MEASURES.iter().map(|c| (true, c.name.to_owned())));
        Tenant {
            base_url: base_url.to_owned(),
            instance_id: sim.instance_id.clone(),
            entities: sim.entity_rows().into_keys().collect(),
            data_sources: spec.data_sources.iter().map(|d| d.name.clone()).collect(),
            segments: spec.segments.iter().map(|s| s.name.clone()).collect(),
            scalar_measures: measures.iter().filter(|(d, _)| !d).count(),
            measures: measures.into_iter().map(|(_, n)| n).collect(),
            subscription_key_required: spec.auth.require_subscription_key,
            admin_token: sim.admin_token.is_some(),
        }
    }

    /// The tenant's names of one sort (the six trigger ids for triggers).
    pub fn names(&self, sort: Names) -> Vec<String> {
        match sort {
            Names::Instance => vec![self.instance_id.clone()],
            Names::Entity => self.entities.clone(),
            Names::DataSource => self.data_sources.clone(),
            Names::Segment => self.segments.clone(),
            Names::Measure => self.measures.clone(),
            Names::Trigger => Trigger::ALL.iter().map(|t| t.id().to_owned()).collect(),
        }
    }
}

/// Which routes a document describes.
pub fn described(route: &Route, include_control: bool) -> bool {
    include_control || route.surface != Surface::Control
}

/// The OpenAPI 3.1 document, as JSON.
pub fn document(tenant: &Tenant, include_control: bool) -> Value {
    let mut responses = generator(Contract::Serialize);
    let mut requests = generator(Contract::Deserialize);
    let errors = Errors {
        odata: responses.subschema_for::<schemas::ODataError>(),
        api: responses.subschema_for::<schemas::ApiErrorResult>(),
        gateway: responses.subschema_for::<schemas::GatewayError>(),
    };
    let mut paths = Map::new();
    for route in ROUTES.iter().filter(|r| described(r, include_control)) {
        let op = operation(tenant, route, &mut responses, &mut requests, &errors);
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        if let Some(item) = item.as_object_mut() {
            item.insert(route.method.to_ascii_lowercase(), op);
        }
    }
    let mut components = responses.take_definitions(true);
    for (name, schema) in requests.take_definitions(true) {
        components.entry(name).or_insert(schema);
    }
    let mut tags = vec![
        json!({"name": "Instances", "description": "The instance."}),
        json!({"name": "Entities", "description": "Entity metadata."}),
        json!({"name": "Data", "description": "Reading and writing items; partitions."}),
        json!({"name": "Status reports", "description": "Sends the status report."}),
        json!({"name": "Lifecycle", "description": "Data sources, segments, measures and refresh jobs."}),
        json!({"name": "Triggers", "description": "Webhook subscriptions of the six triggers."}),
        json!({"name": "Meta", "description": "This description."}),
    ];
    if include_control {
        tags.push(json!({
            "name": "Control",
            "description": "insightsim's control API (/_sim): plain JSON, loopback only, never counted against the call limit. Not part of Customer Insights.",
        }));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Dynamics 365 Customer Insights API (insightsim)",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "The Customer Insights API as insightsim serves it",
            "description": "A local, deterministic stand-in for the Customer Insights API behind the Power Automate / Logic Apps connector. Paths are the real API's (https://api.ci.ai.dynamics.com/v1). Every /v1 call counts against its connection (its bearer token): 100 calls per 60 s by default, then 429 with Retry-After. Errors have the API model's shapes: ODataError {\"error\":{\"code\",\"message\",\"target\"}} on data/ and partitions/, ApiErrorResult {\"errorCode\",\"message\",\"httpStatusCode\",...} on the other /v1 routes; a 401 has no body. Faults injected through PUT /_sim/faults can answer any status, and are not described here.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"},
        },
        "servers": [{"url": tenant.base_url, "description": "this simulator"}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Any non-empty token (unless the tenant lists tokens); each distinct token is one connection for the call limit.",
                },
                "subscriptionKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Ocp-Apim-Subscription-Key",
                    "description": "The API Management subscription key: accepted, and required when the tenant says so (auth.require_subscription_key).",
                },
                "adminToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Insightsim-Admin-Token",
                    "description": "The control API's token, when serve was started with --admin-token.",
                },
            },
        },
    })
}

/// The document of a running simulator.
pub fn for_simulator(sim: &Simulator, base_url: &str, include_control: bool) -> Value {
    document(&Tenant::of(sim, base_url), include_control)
}

fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
            s.contract = contract;
        })
        .into_generator()
}

/// The error bodies' schemas.
struct Errors {
    odata: Schema,
    api: Schema,
    /// API Management's `{"statusCode","message"}`.
    gateway: Schema,
}

fn operation(
    tenant: &Tenant,
    route: &Route,
    responses: &mut SchemaGenerator,
    requests: &mut SchemaGenerator,
    errors: &Errors,
) -> Value {
    let mut params: Vec<Value> = route
        .path_params()
        .into_iter()
        .map(|name| parameter(tenant, &path_param(name)))
        .collect();
    params.extend(route.query.iter().map(|p| parameter(tenant, p)));
    let mut answers = Map::new();
    for reply in route.replies() {
        let mut r = Map::new();
        let gateway_401 =
            reply.status == 401 && route.surface == Surface::V1 && tenant.subscription_key_required;
        if gateway_401 {
            r.insert(
                "description".into(),
                "A missing or invalid Ocp-Apim-Subscription-Key: API Management's own body and WWW-Authenticate: AzureApiManagementKey. (With a valid key, a missing or unknown bearer token gets WWW-Authenticate: Bearer and no body, as the API model declares.)".into(),
            );
        } else {
            r.insert("description".into(), reply.description.into());
        }
        let content = match reply.content {
            _ if gateway_401 => Some(("application/json", errors.gateway.clone().to_value())),
            Content::Json(schema) => Some(("application/json", schema(responses).to_value())),
            Content::Error => {
                let schema = match route.error_shape() {
                    ErrorShape::OData => &errors.odata,
                    ErrorShape::ApiErrorResult => &errors.api,
                };
                Some(("application/json", schema.clone().to_value()))
            }
            Content::ODataError => Some(("application/json", errors.odata.clone().to_value())),
            Content::Csv => Some(("text/csv", json!({"type": "string"}))),
            Content::Empty => None,
        };
        if let Some((media, schema)) = content {
            r.insert("content".into(), json!({ media: { "schema": schema } }));
        }
        if !reply.headers.is_empty() {
            let headers: Map<String, Value> = reply.headers.iter().map(|h| header(*h)).collect();
            r.insert("headers".into(), Value::Object(headers));
        }
        let links = links(route.operation_id, reply.status);
        if !links.is_empty() {
            r.insert("links".into(), Value::Object(links));
        }
        answers.insert(reply.status.to_string(), Value::Object(r));
    }
    let mut op = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": params,
        "responses": answers,
        "security": security(tenant, route.surface),
    });
    if !route.description.is_empty() {
        op["description"] = route.description.into();
    }
    if let Some(body) = route.body {
        op["requestBody"] = json!({
            "required": body.required,
            "content": { "application/json": { "schema": (body.schema)(requests).to_value() } },
        });
    }
    op
}

/// Where an answer's ids lead (OpenAPI links), so that a stateful client such as Schemathesis
/// can follow a created subscription or job to the operations that take its id.
fn links(operation_id: &str, status: u16) -> Map<String, Value> {
    const SUBSCRIPTION: &[&str] = &["getSubscription", "unsubscribe"];
    const JOB: &[&str] = &["getJob", "cancelJob"];
    let (targets, id_param, pointer) = match (operation_id, status) {
        ("subscribe", 201) => (SUBSCRIPTION, "id", "/id"),
        ("submitJob" | "submitJobManage", 200) => (JOB, "jobId", "/jobId"),
        _ => return Map::new(),
    };
    targets
        .iter()
        .map(|target| {
            let mut parameters = Map::new();
            parameters.insert("instanceId".into(), "$request.path.instanceId".into());
            if *target != "getJob" && *target != "cancelJob" {
                parameters.insert("trigger".into(), "$request.path.trigger".into());
            }
            parameters.insert(id_param.into(), format!("$response.body#{pointer}").into());
            (
                target.to_string(),
                json!({ "operationId": target, "parameters": parameters }),
            )
        })
        .collect()
}

fn security(tenant: &Tenant, surface: Surface) -> Value {
    match surface {
        Surface::V1 if tenant.subscription_key_required => {
            json!([{"bearer": [], "subscriptionKey": []}])
        }
        Surface::V1 => json!([{"bearer": []}, {"bearer": [], "subscriptionKey": []}]),
        Surface::Control if tenant.admin_token => json!([{"adminToken": []}]),
        Surface::Control | Surface::Meta => json!([]),
    }
}

/// The JSON Schema of a parameter's value.
pub fn param_schema(tenant: &Tenant, kind: Kind) -> Value {
    match kind {
        Kind::Str => json!({"type": "string"}),
        Kind::Count => json!({"type": "integer", "minimum": 0}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::DateTime => json!({"type": "string", "format": "date-time"}),
        Kind::OneOf(values) => json!({"type": "string", "enum": values}),
        Kind::Name(sort) => {
            let names = tenant.names(sort);
            if names.is_empty() {
                json!({"type": "string"})
            } else {
                json!({"type": "string", "enum": names})
            }
        }
    }
}

fn parameter(tenant: &Tenant, p: &Param) -> Value {
    let mut v = json!({
        "name": p.name,
        "in": match p.location { In::Path => "path", In::Query => "query" },
        "required": p.required,
        "schema": param_schema(tenant, p.kind),
    });
    if !p.description.is_empty() {
        v["description"] = p.description.into();
    }
    v
}

fn header(h: Header) -> (String, Value) {
    let (name, description, schema) = match h {
        Header::Location => (
            "Location",
            "The absolute URL of what was created.",
            json!({"type": "string", "format": "uri"}),
        ),
        Header::RetryAfter => (
            "Retry-After",
            "Whole seconds until a call of this connection would be admitted (at least 1).",
            json!({"type": "integer", "minimum": 1}),
        ),
        Header::WwwAuthenticate => (
            "WWW-Authenticate",
            "Bearer, with what to do in error_description (RFC 6750); API Management's AzureApiManagementKey challenge for a missing subscription key.",
            json!({"type": "string", "pattern": "^(Bearer|AzureApiManagementKey)"}),
        ),
    };
    (
        name.to_owned(),
        json!({"description": description, "required": true, "schema": schema}),
    )
}

/// `GET /openapi.json[?includeControl=true]`: no auth, not journaled, not counted.
pub fn serve(sim: &Simulator, req: &super::ApiRequest<'_>) -> super::ApiResponse {
    if req.method != "GET" {
        return super::error::ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} is not supported here; use GET", req.method),
        )
        .into();
    }
    let include_control = super::request::query_param(req.query, "includeControl")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    super::ApiResponse::json_value(200, &for_simulator(sim, req.base_url, include_control))
}
