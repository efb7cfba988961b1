//! The simulated API as plain functions: a request in, a response out, no sockets.
//!
//! The hyper server (`server`) translates HTTP to [`ApiRequest`] and [`ApiResponse`] back, and
//! nothing else; the harness's in-process flows call [`handle`] directly.

mod auth;
pub mod connector;
mod control;
mod lifecycle;
pub mod openapi;
pub mod route;
pub mod routes;
pub mod schemas;
mod v1;

use crate::body::Body;
use crate::error::ApiError;
use crate::sim::Simulator;

/// A request as the API sees it.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    /// The path, percent-encoded as received (`/v1/instances/...`).
    pub path: &'a str,
    /// The raw query string after `?`, if any.
    pub query: Option<&'a str>,
    /// `Authorization` header.
    pub authorization: Option<&'a str>,
    /// `Ocp-Apim-Subscription-Key` header.
    pub subscription_key: Option<&'a str>,
    /// `X-Insightsim-Admin-Token` header.
    pub admin_token: Option<&'a str>,
    pub body: &'a [u8],
    /// Scheme and authority the client used (`http://127.0.0.1:8080`), for absolute URLs.
    pub base_url: &'a str,
    /// Whether the peer is on the loopback interface.
    pub peer_loopback: bool,
}

/// A response of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    /// An injected fault: wait this long (simulated time) before answering.
    pub delay: Option<crate::time::SimDuration>,
    /// An injected fault: close the connection instead of answering.
    pub drop_connection: bool,
}

pub const JSON: &str = "application/json; charset=utf-8";
pub const ODATA_JSON: &str = "application/json; odata.metadata=minimal; charset=utf-8";
pub const CSV: &str = "text/csv; charset=utf-8";

impl ApiResponse {
    pub fn json(status: u16, body: impl Into<Body>) -> ApiResponse {
        ApiResponse {
            status,
            content_type: JSON,
            headers: Vec::new(),
            body: body.into(),
            delay: None,
            drop_connection: false,
        }
    }

    pub fn json_value(status: u16, value: &serde_json::Value) -> ApiResponse {
        ApiResponse::json(status, serde_json::to_vec(value).unwrap_or_default())
    }

    pub fn empty(status: u16) -> ApiResponse {
        ApiResponse {
            status,
            content_type: JSON,
            headers: Vec::new(),
            body: Body::default(),
            delay: None,
            drop_connection: false,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiResponse {
        self.headers.push((name, value.into()));
        self
    }

    /// The whole body as one buffer.
    pub fn bytes(&self) -> bytes::Bytes {
        self.body.to_bytes()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl From<ApiError> for ApiResponse {
    fn from(e: ApiError) -> ApiResponse {
        let mut response = ApiResponse::json(e.status, e.body());
        if e.status == 401 {
            response = response.with_header("WWW-Authenticate", "Bearer");
        }
        response
    }
}

pub use routes::ROUTES;

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

/// Splits a path into its percent-decoded segments.
pub(crate) fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// Reads one non-`$` query parameter (percent-decoded), if present.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        k.eq_ignore_ascii_case(name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}
