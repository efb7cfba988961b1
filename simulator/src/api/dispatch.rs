//! The first split of a request: `/v1` to the connector's API, `/_sim` to the control API,
//! `/openapi.json` to the description of both.

use super::error::ApiError;
use super::request::ApiRequest;
use super::response::ApiResponse;
use super::{control, openapi, v1};
use crate::sim::Simulator;

/// Answers one request. With a state dir, what the request changed is saved before the answer
/// leaves (commit, then answer): a success that could not be saved becomes a `503`.
pub fn handle(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
    let response = route(sim, req);
    match sim.commit() {
        Err(e) if response.status < 300 && req.method != "GET" => ApiError::new(
            503,
            "StateNotSaved",
            format!(
                "{}; the change may take effect, but it is not saved: retry once the state dir is writable",
                crate::persist::chain(&e)
            ),
        )
        .into(),
        _ => response,
    }
}

fn route(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
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
