//! The first split of a request: `/v1` to the connector's API, `/_sim` to the control API,
//! `/openapi.json` to the description of both.

use super::error::ApiError;
use super::request::ApiRequest;
use super::response::ApiResponse;
use super::staged::{Heavy, Staged};
use super::{control, openapi, v1};
use crate::sim::Simulator;

/// Answers one request on this thread (heavy work included).
pub fn handle(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
    stage(sim, req).run_inline(sim)
}

/// The first stage of a request: the answer, or the heavy work that makes it (see
/// [`Staged`]). The server runs the work off its I/O threads.
///
/// With a state dir, what a request changed is saved before its answer leaves (commit, then
/// answer): a success that could not be saved becomes a `503`. Heavy reads (`Staged::Query`)
/// change nothing; blocking control actions commit when their work is done.
pub fn stage(sim: &Simulator, req: &ApiRequest<'_>) -> Staged {
    let changes = req.method != "GET";
    match route(sim, req) {
        Staged::Ready(response) => Staged::Ready(committed(sim, changes, response)),
        Staged::Blocking(work) => Staged::Blocking(Heavy::new(move |sim, deadline| {
            let response = work.run(sim, deadline);
            committed(sim, changes, response)
        })),
        query @ Staged::Query(_) => query,
    }
}

/// `response`, once what the request changed is saved; a `503` if it could not be.
fn committed(sim: &Simulator, changes: bool, response: ApiResponse) -> ApiResponse {
    match sim.commit() {
        Err(e) if changes && response.status < 300 => ApiError::new(
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

fn route(sim: &Simulator, req: &ApiRequest<'_>) -> Staged {
    let path = req.path;
    if path == "/v1" || path.starts_with("/v1/") {
        return v1::stage(sim, req);
    }
    if path == "/_sim" || path.starts_with("/_sim/") {
        if control::is_blocking(req) {
            let req = req.owned();
            return Staged::Blocking(Heavy::new(move |sim, _| {
                control::handle(sim, &req.borrow())
            }));
        }
        return Staged::Ready(control::handle(sim, req));
    }
    if path == "/openapi.json" {
        return Staged::Ready(openapi::serve(sim, req));
    }
    Staged::Ready(
        ApiError::not_found(
            "UnknownPath",
            format!(
                "no route for {} {path}; the API is under /v1 (e.g. GET /v1/instances) and the control API under /_sim",
                req.method
            ),
        )
        .into(),
    )
}
