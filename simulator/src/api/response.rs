//! A response of the API: status, content type, headers and a body of pieces, plus the faults
//! the shell must inject (a delay, a dropped connection).

use super::error::{ApiError, ErrorShape};
use crate::body::Body;
use crate::time::SimDuration;

/// A response of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    /// An injected fault: wait this long (simulated time) before answering.
    pub delay: Option<SimDuration>,
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

impl ApiResponse {
    /// An error answer with the body of `shape`.
    pub fn error(e: &ApiError, shape: ErrorShape) -> ApiResponse {
        let mut response = ApiResponse::json(e.status, e.body_in(shape));
        if e.status == 401 {
            response = response.with_header("WWW-Authenticate", "Bearer");
        }
        if let Some(seconds) = e.retry_after_s {
            response = response.with_header("Retry-After", seconds.to_string());
        }
        response
    }
}

/// An error answer with the OData body (the control API, the data routes).
impl From<ApiError> for ApiResponse {
    fn from(e: ApiError) -> ApiResponse {
        ApiResponse::error(&e, ErrorShape::OData)
    }
}
