//! The error bodies: OData's, the API model's `ApiErrorResult`, and API Management's.

use std::collections::BTreeMap;

use schemars::JsonSchema;

/// The OData error body: the errors of the data routes (`data/`, `partitions/`) and of the
/// control API.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ODataError {
    pub error: ODataErrorDetail,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ODataErrorDetail {
    /// A stable, machine-readable code (`UnknownEntity`, `InvalidFilter`, ...).
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
    /// The part of the request at fault (`$filter`, a body field, a path segment).
    pub target: Option<String>,
}

/// The model's `ApiErrorResult`: the error body of every `/v1` route outside `data/`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiErrorResult {
    /// A stable, machine-readable code (`UnknownJob`, `UnsupportedOperation`, ...).
    pub error_code: String,
    /// What went wrong and what to do.
    pub message: String,
    /// The status's .NET name (`NotFound`, `BadRequest`, ...).
    pub http_status_code: String,
    /// `user` for a 4xx, `system` for a 5xx.
    pub exception_culprit: String,
    /// `error`.
    pub result_severity: String,
    /// `target`: the part of the request at fault (a query parameter, a body field), when one is.
    pub params: BTreeMap<String, String>,
    /// Always empty.
    pub ci_results: Vec<CiError>,
}

/// API Management's own body for a missing or invalid subscription key, and for the call limit.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayError {
    /// The status (401).
    pub status_code: u16,
    /// `Access denied due to missing subscription key. …`
    pub message: String,
}

/// The API Management 429 body.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct Throttled {
    /// Always 429.
    pub status_code: u16,
    /// `Rate limit is exceeded. Try again in N seconds.`
    pub message: String,
}

/// The model's `CIResult`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
pub struct CiError {
    pub error_code: String,
    pub message: String,
    pub exception_culprit: String,
    pub result_severity: String,
}
