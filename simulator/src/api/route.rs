//! What the route table ([`super::routes::ROUTES`]) says of a route: its method and path, operation
//! id, parameters, body and answers, and which connector action it is.
//!
//! A route lists only the answers specific to it. Every `/v1` route also answers `401` (with
//! `WWW-Authenticate` and no body, as the API model declares it) and `429` (with `Retry-After`);
//! every route under `/v1/instances/{instanceId}` also answers `404` for an unknown instance;
//! every `/_sim` route answers `401` (admin token) and `403` (not loopback); and every route
//! answers the server's own limits (`400` for a request that is not HTTP, `408`, `414`, `431`,
//! `503` with `Retry-After`). [`Route::replies`] adds them. An error answer ([`Content::Error`])
//! has the body of the route's family ([`Route::error_shape`]).

use schemars::{Schema, SchemaGenerator};

use super::error::ErrorShape;
use super::schemas as s;

/// Builds the JSON Schema of a body (a `SchemaGenerator::subschema_for::<T>`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// Which part of the server a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The simulated Customer Insights API (`/v1`): bearer auth, the call limit.
    V1,
    /// insightsim's control API (`/_sim`): loopback only, never counted.
    Control,
    /// The description itself (`/openapi.json`): no auth, never counted.
    Meta,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// A whole number, at least 0.
    Count,
    Bool,
    DateTime,
    /// One of these values.
    OneOf(&'static [&'static str]),
    /// One of the tenant's names of this sort (entities, data sources, ...): an `enum` in the
    /// OpenAPI document of a tenant, dynamic values in the custom connector.
    Name(Names),
}

/// The sorts of names a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Instance,
    Entity,
    DataSource,
    Segment,
    Measure,
    Trigger,
}

/// One parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub location: In,
    pub required: bool,
    pub kind: Kind,
    pub description: &'static str,
}

pub(super) const fn query(name: &'static str, kind: Kind, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        required: false,
        kind,
        description,
    }
}

/// What an answer carries.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// The error body of the route's family ([`Route::error_shape`]): the OData error
    /// `{"error": {"code", "message", "target"}}` or the model's `ApiErrorResult`.
    Error,
    /// The OData error body whatever the route (the server's own limits answer it).
    ODataError,
    /// `text/csv`.
    Csv,
    /// No body.
    Empty,
}

/// A response header a reply always carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `Location`: the absolute URL of what was created.
    Location,
    /// `Retry-After`: whole seconds until a call would be admitted.
    RetryAfter,
    /// `WWW-Authenticate`: `Bearer` with what to do in `error_description` (or API
    /// Management's `AzureApiManagementKey` challenge for a missing subscription key).
    WwwAuthenticate,
}

/// One answer of a route.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub description: &'static str,
    pub content: Content,
    pub headers: &'static [Header],
}

pub(super) const fn ok(status: u16, description: &'static str, schema: SchemaFn) -> Reply {
    Reply {
        status,
        description,
        content: Content::Json(schema),
        headers: &[],
    }
}

pub(super) const fn err(status: u16, description: &'static str) -> Reply {
    Reply {
        status,
        description,
        content: Content::Error,
        headers: &[],
    }
}

/// An answer of the server's own limits: an OData error body whatever the route.
const fn limit(status: u16, description: &'static str) -> Reply {
    Reply {
        status,
        description,
        content: Content::ODataError,
        headers: &[],
    }
}

pub(super) const fn empty(status: u16, description: &'static str) -> Reply {
    Reply {
        status,
        description,
        content: Content::Empty,
        headers: &[],
    }
}

/// The request body a route reads.
#[derive(Debug, Clone, Copy)]
pub struct RequestBody {
    pub required: bool,
    pub schema: SchemaFn,
}

/// One route of the server.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// With `{placeholders}`, as in the parity ledger.
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub surface: Surface,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// Query parameters (path parameters come from the path's placeholders).
    pub query: &'static [Param],
    pub body: Option<RequestBody>,
    /// The answers specific to this route (see the module docs for the common ones).
    pub replies: &'static [Reply],
    /// The connector action this route is, by its display name in the maker portal; `None` for a
    /// route the custom connector does not expose.
    pub action: Option<&'static str>,
}

impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.method == other.method && self.path == other.path
    }
}

/// A path parameter's description, by placeholder name.
pub fn path_param(name: &str) -> Param {
    let (kind, description) = match name {
        "instanceId" => (
            Kind::Name(Names::Instance),
            "The Customer Insights instance id (GET /v1/instances lists it).",
        ),
        "entity" => (
            Kind::Name(Names::Entity),
            "An entity name: Customer, UnifiedActivity, Customer_Measure, a segment, a business measure or a data source table.",
        ),
        "entityId" => (
            Kind::Str,
            "The key of the item (for Customer, its CustomerId).",
        ),
        "partition" => (
            Kind::Str,
            "The partition file: its number from 0 and .csv (0.csv, 1.csv, ...), as the entity's partitions list them.",
        ),
        "dataSource" => (
            Kind::Name(Names::DataSource),
            "A data source, by name or id.",
        ),
        "segment" => (Kind::Name(Names::Segment), "A segment name."),
        "measure" => (Kind::Name(Names::Measure), "A business measure name."),
        "jobId" => (Kind::Str, "A job id, as the jobs list gives it."),
        "trigger" => (Kind::Name(Names::Trigger), "One of the six trigger ids."),
        "id" => (Kind::Str, "A subscription or delivery id."),
        _ => (Kind::Str, ""),
    };
    Param {
        name: leak_free_name(name),
        location: In::Path,
        required: true,
        kind,
        description,
    }
}

/// The `'static` spelling of a known placeholder (unknown ones map to `""`, which the route
/// table test refuses).
fn leak_free_name(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "instanceId",
        "entity",
        "entityId",
        "partition",
        "dataSource",
        "segment",
        "measure",
        "jobId",
        "trigger",
        "id",
    ];
    KNOWN.iter().find(|k| **k == name).copied().unwrap_or("")
}

impl Route {
    /// The names of the path's `{placeholders}`, in order.
    pub fn path_params(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            out.push(&rest[open + 1..open + close]);
            rest = &rest[open + close + 1..];
        }
        out
    }

    /// Every answer: the route's own, then the common ones of its surface.
    pub fn replies(&self) -> Vec<Reply> {
        let mut out: Vec<Reply> = self.replies.to_vec();
        let mut add = |r: Reply| {
            if !out.iter().any(|o| o.status == r.status) {
                out.push(r);
            }
        };
        match self.surface {
            Surface::V1 => {
                if self.path.starts_with("/v1/instances/{instanceId}") {
                    add(err(
                        404,
                        "Unknown instance (or the resource named in the message).",
                    ));
                }
                if self.body.is_some() {
                    add(limit(
                        413,
                        "insightsim server limit: the body is larger than limits.server_body_bytes_max (or, for an item, a field than limits.item_field_bytes_max).",
                    ));
                }
                add(Reply {
                    status: 401,
                    description: "Missing or malformed Authorization header, or an unknown token: no body (as the API model declares it), what to do in WWW-Authenticate's error_description.",
                    content: Content::Empty,
                    headers: &[Header::WwwAuthenticate],
                });
                add(Reply {
                    status: 429,
                    description: "The connection's call limit (100 calls per 60 s by default) is exhausted; wait Retry-After seconds.",
                    content: Content::Json(SchemaGenerator::subschema_for::<s::Throttled>),
                    headers: &[Header::RetryAfter],
                });
            }
            Surface::Control => {
                add(err(
                    401,
                    "The control API needs the admin token (X-Insightsim-Admin-Token).",
                ));
                add(err(403, "The control API answers loopback clients only."));
            }
            Surface::Meta => {}
        }
        // The server's own limits, on every route (see `server::ServerLimits`).
        add(limit(
            400,
            "The request is not valid HTTP/1.1 (MalformedRequest, MalformedBody).",
        ));
        add(limit(
            408,
            "insightsim server limit: the request head or body did not arrive in time (limits.server_header_read_timeout, limits.server_body_read_timeout).",
        ));
        add(limit(
            414,
            "insightsim server limit: the path and query are longer than limits.server_url_bytes_max.",
        ));
        add(limit(
            431,
            "insightsim server limit: the request head is larger than limits.server_header_bytes_max.",
        ));
        add(Reply {
            status: 503,
            description: "insightsim server limit: too many connections (limits.server_connections_max, limits.server_connections_per_peer_max), or a heavy query that waited or ran past limits.server_query_time_max; retry after Retry-After seconds. Or, for a change under serve --state-dir, the change could not be saved (StateNotSaved, no Retry-After): it is not acknowledged; retry once the state dir is writable.",
            content: Content::ODataError,
            headers: &[Header::RetryAfter],
        });
        out.sort_by_key(|r| r.status);
        out
    }

    /// The body of this route's error answers: `ODataError` on the data family, the model's
    /// `ApiErrorResult` on the other `/v1` routes, OData on the control API.
    pub fn error_shape(&self) -> ErrorShape {
        match self.surface {
            Surface::V1 => ErrorShape::of_path(self.path),
            Surface::Control | Surface::Meta => ErrorShape::OData,
        }
    }

    /// Whether a concrete request path is an instance of this route's template.
    pub fn matches_path(&self, path: &str) -> bool {
        let template: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let actual: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        template.len() == actual.len()
            && template
                .iter()
                .zip(&actual)
                .all(|(t, a)| segment_matches(t, a))
    }
}

/// `{x}` matches any segment, `{n}.csv` any segment ending in `.csv`, a literal itself.
fn segment_matches(template: &str, actual: &str) -> bool {
    match template.find('{') {
        None => template == actual,
        Some(open) => {
            let close = template.find('}').unwrap_or(template.len() - 1);
            let (prefix, suffix) = (&template[..open], &template[close + 1..]);
            actual.len() > prefix.len() + suffix.len()
                && actual.starts_with(prefix)
                && actual.ends_with(suffix)
        }
    }
}
