//! The first split of a request: `/v1` to the connector's API, `/_sim` to the control API,
//! `/openapi.json` to the description of both.

use super::error::ApiError;
use super::request::ApiRequest;
use super::response::ApiResponse;
use super::{control, openapi, v1};
use crate::sim::Simulator;

/// Answers one request.
pub fn handle(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
    let path = req.path;
    if path == "/v1" || path.starts_with("/v1/") {
        return v1::handle(sim, req);
    }
    if path == "/_sim" || path.starts_with("/_sim/") {
        return control::handle(sim, req);
    }
    if path == "/openapi.json" {
        return openapi::serve(sim, req);
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
