//! The route table and the first split: `/v1` to the connector's API, `/_sim` to the control
//! API.

use super::error::ApiError;
use super::request::ApiRequest;
use super::response::ApiResponse;
use super::{control, v1};
use crate::sim::Simulator;

/// Every route of the simulated API, as `(method, path)` with `{placeholders}`: the parity
/// ledger (`docs/parity.md`) lists each of them, and a test checks both that the ledger does and
/// that every route answers.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/instances"),
    ("GET", "/v1/instances/{instanceId}"),
    ("GET", "/v1/instances/{instanceId}/manage/entities"),
    ("GET", "/v1/instances/{instanceId}/manage/entities/{entity}"),
    (
        "GET",
        "/v1/instances/{instanceId}/manage/entities/{entity}/entitysize",
    ),
    ("GET", "/v1/instances/{instanceId}/data/{entity}"),
    ("POST", "/v1/instances/{instanceId}/data/{entity}"),
    (
        "PATCH",
        "/v1/instances/{instanceId}/data/{entity}/{entityId}",
    ),
    (
        "GET",
        "/v1/instances/{instanceId}/partitions/{entity}/{n}.csv",
    ),
    ("POST", "/v1/instances/{instanceId}/statusreport"),
    ("POST", "/v1/instances/{instanceId}/statusreport/v2"),
    ("GET", "/v1/instances/{instanceId}/manage/datasources"),
    (
        "GET",
        "/v1/instances/{instanceId}/manage/datasources/{dataSource}",
    ),
    ("GET", "/v1/instances/{instanceId}/manage/segments"),
    (
        "GET",
        "/v1/instances/{instanceId}/manage/segments/{segment}",
    ),
    ("GET", "/v1/instances/{instanceId}/manage/measures"),
    (
        "GET",
        "/v1/instances/{instanceId}/manage/measures/{measure}",
    ),
    ("GET", "/v1/instances/{instanceId}/workflows/main/jobs"),
    ("POST", "/v1/instances/{instanceId}/workflows/main/jobs"),
    (
        "GET",
        "/v1/instances/{instanceId}/workflows/main/jobs/{jobId}",
    ),
    (
        "POST",
        "/v1/instances/{instanceId}/workflows/main/jobs/{jobId}/cancel",
    ),
    (
        "GET",
        "/v1/instances/{instanceId}/manage/workflows/main/jobs",
    ),
    (
        "POST",
        "/v1/instances/{instanceId}/manage/workflows/main/jobs",
    ),
    (
        "POST",
        "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions",
    ),
    (
        "GET",
        "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions",
    ),
    (
        "GET",
        "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions/{id}",
    ),
    (
        "DELETE",
        "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions/{id}",
    ),
    ("GET", "/_sim/health"),
    ("GET", "/_sim/state"),
    ("POST", "/_sim/reset"),
    ("GET", "/_sim/clock"),
    ("POST", "/_sim/clock/advance"),
    ("POST", "/_sim/refresh"),
    ("POST", "/_sim/datasources/{dataSource}/refresh"),
    ("POST", "/_sim/segments/{segment}/evaluate"),
    ("POST", "/_sim/measures/{measure}/evaluate"),
    ("GET", "/_sim/journal"),
    ("GET", "/_sim/events"),
    ("GET", "/_sim/deliveries"),
    ("POST", "/_sim/deliveries/{id}/redeliver"),
    ("GET", "/_sim/ratelimit"),
    ("GET", "/_sim/faults"),
    ("PUT", "/_sim/faults"),
    ("GET", "/_sim/reports"),
];

/// Answers one request.
pub fn handle(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
    let path = req.path;
    if path == "/v1" || path.starts_with("/v1/") {
        return v1::handle(sim, req);
    }
    if path == "/_sim" || path.starts_with("/_sim/") {
        return control::handle(sim, req);
    }
    ApiError::not_found(
        "UnknownPath",
        format!(
            "no route for {} {path}; the API is under /v1 (e.g. GET /v1/instances) and the control API under /_sim",
            req.method
        ),
    )
    .into()
}
