//! Errors as the API returns them: a status, a stable code, a message, and the body shape of the
//! route family.
//!
//! The API model declares two error bodies: `ODataError` on the data routes (`data/`), written
//! as OData JSON `{"error":{"code":...,"message":...,"target":...}}`, and `ApiErrorResult` on
//! every other route (instances, `manage/`, `workflows/`), `{"errorCode", "message",
//! "httpStatusCode", "exceptionCulprit", "resultSeverity", "params", "ciResults"}`.
//! [`ErrorShape`] says which one a route answers (see [`ErrorShape::of_path`]).
//!
//! This is the one place where the core's refusals get their HTTP shape: the engine, the store
//! and the OData layer return their own error types, and the `From` impls below give each
//! variant its status, its stable code and the part of the request at fault.

use crate::engine::{EngineError, SubscribeError};
use crate::faults::RouteFaultError;
use crate::json::push_json_str;
use crate::odata::QueryError;
use crate::store::StoreError;

/// The code of every refusal by one of the server's own limits (see `api::limits`).
pub const SERVER_LIMIT: &str = "ServerLimit";

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
    /// `Retry-After` of the answer, in whole seconds (a server limit that passes).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            target: None,
            retry_after_s: None,
        }
    }

    /// The same error with a `Retry-After` header.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_s = Some(seconds);
        self
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

    /// `405`, naming the methods the resource takes.
    pub fn method_not_allowed(method: &str, allowed: &[&str]) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!(
                "{method} is not supported here; use {}",
                allowed.join(" or ")
            ),
        )
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

/// The error body of a route family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error":{"code","message","target"}}`: the data routes (the model's `ODataError`),
    /// the control API and anything outside `/v1`.
    OData,
    /// The model's `ApiErrorResult`: every other `/v1` route.
    ApiErrorResult,
}

impl ErrorShape {
    /// The shape of the errors of a request path: `ODataError` below `data/` and `partitions/`
    /// (the data family), `ApiErrorResult` for every other path under `/v1`, OData elsewhere.
    pub fn of_path(path: &str) -> ErrorShape {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        if segments.next() != Some("v1") {
            return ErrorShape::OData;
        }
        match (segments.next(), segments.next(), segments.next()) {
            (Some("instances"), Some(_), Some("data" | "partitions")) => ErrorShape::OData,
            _ => ErrorShape::ApiErrorResult,
        }
    }
}

/// The name .NET gives a status (`HttpStatusCode`), as `ApiErrorResult.httpStatusCode` carries
/// it; the number for a status without one here.
fn status_name(status: u16) -> String {
    let name = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        408 => "RequestTimeout",
        409 => "Conflict",
        413 => "RequestEntityTooLarge",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        other => return other.to_string(),
    };
    name.to_owned()
}

impl ApiError {
    /// The body in `shape`.
    pub fn body_in(&self, shape: ErrorShape) -> Vec<u8> {
        match shape {
            ErrorShape::OData => self.body(),
            ErrorShape::ApiErrorResult => {
                let mut params = serde_json::Map::new();
                if let Some(t) = &self.target {
                    params.insert("target".into(), t.clone().into());
                }
                let value = serde_json::json!({
                    "errorCode": self.code,
                    "message": self.message,
                    "httpStatusCode": status_name(self.status),
                    "exceptionCulprit": if self.status >= 500 { "system" } else { "user" },
                    "resultSeverity": "error",
                    "params": params,
                    "ciResults": [],
                });
                serde_json::to_vec(&value).unwrap_or_default()
            }
        }
    }
}

/// `Ok` when `method` is one of `allowed`, else `405`.
pub(super) fn allow(method: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&method) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(method, allowed))
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        ApiError::bad_request(e.code, e.message).with_target(e.target)
    }
}

/// 404 for unknown things, 409 for a conflict with the current state, 400 for a malformed
/// request.
impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let (status, code) = match &e {
            EngineError::UnknownJob { .. } => (404, "UnknownJob"),
            EngineError::UnknownDelivery { .. } => (404, "UnknownDelivery"),
            EngineError::JobFinished { .. } => (409, "JobFinished"),
            EngineError::DeliveryNotFinished { .. } => (409, "DeliveryNotFinished"),
            EngineError::SubscriptionDeleted { .. } => (409, "SubscriptionDeleted"),
            EngineError::UnsupportedOperation { .. } => (400, "UnsupportedOperation"),
            EngineError::UnknownIdentifiers { .. } => (400, "UnknownIdentifiers"),
            EngineError::Invalid { .. } => (400, "InvalidRequest"),
            EngineError::DeliveryVolume { window, .. } => {
                let retry_after_s = window.as_secs_ceil().max(1) as u64;
                return ApiError::new(503, SERVER_LIMIT, e.to_string()).retry_after(retry_after_s);
            }
        };
        let target = match &e {
            EngineError::UnsupportedOperation { .. } => Some("operationType".to_owned()),
            EngineError::UnknownIdentifiers { .. } => Some("identifiers".to_owned()),
            EngineError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        ApiError {
            target,
            ..ApiError::new(status, code, e.to_string())
        }
    }
}

/// An unknown trigger is 404; a bad body or input is 400 naming the field.
impl From<SubscribeError> for ApiError {
    fn from(e: SubscribeError) -> ApiError {
        match &e {
            SubscribeError::UnknownTrigger { .. } => {
                ApiError::not_found("UnknownTrigger", e.to_string())
            }
            SubscribeError::Invalid { field, .. } => {
                let field = field.clone();
                ApiError::bad_request("InvalidInput", e.to_string()).with_target(field)
            }
        }
    }
}

/// A refused `PUT /_sim/faults`: the body's `routes` are at fault.
impl From<RouteFaultError> for ApiError {
    fn from(e: RouteFaultError) -> ApiError {
        ApiError::bad_request("InvalidBody", e.to_string()).with_target("routes")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let (status, code, target) = match &e {
            StoreError::ReadOnlyEntity { .. } => (400, "ReadOnlyEntity", None),
            StoreError::NotAnObject { .. } => (400, "InvalidBody", None),
            StoreError::UnknownAttribute { name, .. } => (400, "SchemaMismatch", Some(name)),
            StoreError::WrongType { attribute, .. } => (400, "SchemaMismatch", Some(attribute)),
            StoreError::MissingKey { key, .. } => (400, "MissingKey", Some(key)),
            StoreError::Conflict { key, .. } => (409, "Conflict", Some(key)),
            StoreError::ItemNotFound { key, .. } => (404, "ItemNotFound", Some(key)),
            StoreError::KeyChange { key, .. } => (400, "KeyChange", Some(key)),
        };
        let mut error = ApiError::new(status, code, e.to_string());
        error.target = target.cloned();
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{DeliveryStatus, RunStatus};

    #[test]
    fn the_route_family_decides_the_shape() {
        for (path, shape) in [
            ("/v1/instances/i/data/Customer", ErrorShape::OData),
            (
                "/v1/instances/i/partitions/Customer/0.csv",
                ErrorShape::OData,
            ),
            (
                "/v1/instances/i/manage/segments",
                ErrorShape::ApiErrorResult,
            ),
            (
                "/v1/instances/i/workflows/main/jobs",
                ErrorShape::ApiErrorResult,
            ),
            ("/v1/instances/i", ErrorShape::ApiErrorResult),
            ("/v1", ErrorShape::ApiErrorResult),
            ("/_sim/state", ErrorShape::OData),
        ] {
            assert_eq!(ErrorShape::of_path(path), shape, "{path}");
        }
    }

    #[test]
    fn the_api_error_result_carries_code_message_status_and_target() {
        let e = ApiError::not_found("UnknownJob", "job \"x\" does not exist").with_target("jobId");
        let v: serde_json::Value =
            serde_json::from_slice(&e.body_in(ErrorShape::ApiErrorResult)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "errorCode": "UnknownJob",
                "message": "job \"x\" does not exist",
                "httpStatusCode": "NotFound",
                "exceptionCulprit": "user",
                "resultSeverity": "error",
                "params": {"target": "jobId"},
                "ciResults": [],
            })
        );
        let injected = ApiError::new(599, "InjectedFault", "x");
        let v: serde_json::Value =
            serde_json::from_slice(&injected.body_in(ErrorShape::ApiErrorResult)).unwrap();
        assert_eq!(
            (v["httpStatusCode"].as_str(), v["exceptionCulprit"].as_str()),
            (Some("599"), Some("system"))
        );
    }

    #[test]
    fn the_body_is_odata_error_json() {
        let e = ApiError::bad_request("InvalidFilter", "unexpected \"x\"").with_target("$filter");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "InvalidFilter");
        assert_eq!(v["error"]["message"], "unexpected \"x\"");
        assert_eq!(v["error"]["target"], "$filter");
    }

    /// One check per mapping: the status and code an error becomes, and its message unchanged.
    fn check(e: impl Into<ApiError> + std::fmt::Display, status: u16, code: &str) {
        let message = e.to_string();
        let api: ApiError = e.into();
        assert_eq!((api.status, api.code), (status, code), "{message}");
        assert_eq!(api.message, message);
    }

    #[test]
    fn engine_errors_are_404_for_unknown_things_409_for_conflicts_and_400_otherwise() {
        let id = || "x".to_owned();
        check(EngineError::UnknownJob { id: id() }, 404, "UnknownJob");
        check(
            EngineError::UnknownDelivery { id: id() },
            404,
            "UnknownDelivery",
        );
        let finished = EngineError::JobFinished {
            id: id(),
            status: RunStatus::Successful,
        };
        check(finished, 409, "JobFinished");
        let unfinished = EngineError::DeliveryNotFinished {
            id: id(),
            status: DeliveryStatus::Pending,
        };
        check(unfinished, 409, "DeliveryNotFinished");
        check(
            EngineError::SubscriptionDeleted { id: id() },
            409,
            "SubscriptionDeleted",
        );
        let op = EngineError::UnsupportedOperation { operation: id() };
        check(op, 400, "UnsupportedOperation");
        let unknown = EngineError::UnknownIdentifiers {
            kind: "segment",
            unknown: vec![id()],
            valid: vec![],
        };
        check(unknown, 400, "UnknownIdentifiers");
        let invalid = EngineError::Invalid {
            field: id(),
            message: id(),
        };
        check(invalid, 400, "InvalidRequest");
        let volume = EngineError::DeliveryVolume {
            subscription: id(),
            max: 10,
            window: crate::time::SimDuration::from_secs(60),
        };
        check(volume.clone(), 503, "ServerLimit");
        assert_eq!(ApiError::from(volume).retry_after_s, Some(60));
    }

    #[test]
    fn subscribe_errors_name_the_field_at_fault() {
        let unknown = SubscribeError::UnknownTrigger {
            trigger: "x".into(),
        };
        check(unknown.clone(), 404, "UnknownTrigger");
        assert_eq!(ApiError::from(unknown).target, None);
        let invalid = SubscribeError::Invalid {
            field: "threshold".into(),
            message: "it is missing".into(),
        };
        check(invalid.clone(), 400, "InvalidInput");
        assert_eq!(ApiError::from(invalid).target.as_deref(), Some("threshold"));
    }

    #[test]
    fn store_errors_target_the_attribute_or_key_at_fault() {
        let entity = || "Customer".to_owned();
        let conflict = StoreError::Conflict {
            entity: entity(),
            key: "CustomerId".into(),
            value: "c-1".into(),
        };
        check(conflict.clone(), 409, "Conflict");
        assert_eq!(
            ApiError::from(conflict).target.as_deref(),
            Some("CustomerId")
        );
        let missing = StoreError::ItemNotFound {
            entity: entity(),
            key: "c-9".into(),
        };
        check(missing.clone(), 404, "ItemNotFound");
        assert_eq!(ApiError::from(missing).target.as_deref(), Some("c-9"));
        check(
            StoreError::ReadOnlyEntity { entity: entity() },
            400,
            "ReadOnlyEntity",
        );
        let wrong = StoreError::WrongType {
            entity: entity(),
            attribute: "FirstName".into(),
            edm: "Edm.String",
            given: "the number 5".into(),
        };
        check(wrong, 400, "SchemaMismatch");
    }

    #[test]
    fn only_the_listed_methods_are_allowed() {
        assert_eq!(allow("GET", &["GET"]), Ok(()));
        let e = allow("PUT", &["GET", "POST"]).unwrap_err();
        assert_eq!((e.status, e.code), (405, "MethodNotAllowed"));
        assert_eq!(e.message, "PUT is not supported here; use GET or POST");
    }
}
