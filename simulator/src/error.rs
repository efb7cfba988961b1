//! Errors as the API returns them: a status and an OData error body
//! `{"error":{"code":...,"message":...,"target":...}}`.

use crate::odata::QueryError;
use crate::store::json::push_json_str;

/// An error answer of the simulated API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: u16,
    /// A stable, machine-readable code (`UnknownEntity`, `InvalidFilter`, ...).
    pub code: &'static str,
    pub message: String,
    /// The part of the request at fault (`$filter`, a body field, a path segment).
    pub target: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            target: None,
        }
    }

    pub fn with_target(mut self, target: impl Into<String>) -> ApiError {
        self.target = Some(target.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(404, code, message)
    }

    /// The OData error body.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.message.len() + 64);
        out.extend_from_slice(b"{\"error\":{\"code\":");
        push_json_str(self.code, &mut out);
        out.extend_from_slice(b",\"message\":");
        push_json_str(&self.message, &mut out);
        out.extend_from_slice(b",\"target\":");
        match &self.target {
            Some(t) => push_json_str(t, &mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}}");
        out
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        ApiError {
            status: 400,
            code: e.code,
            message: e.message,
            target: Some(e.target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_odata_error_json() {
        let e = ApiError::bad_request("InvalidFilter", "unexpected \"x\"").with_target("$filter");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "InvalidFilter");
        assert_eq!(v["error"]["message"], "unexpected \"x\"");
        assert_eq!(v["error"]["target"], "$filter");
    }
}
