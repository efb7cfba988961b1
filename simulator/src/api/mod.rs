//! The simulated API as plain functions: a request in, a response out, no sockets.
//!
//! The hyper server (`server`) translates HTTP to [`ApiRequest`] and [`ApiResponse`] back, and
//! nothing else; the harness's in-process flows call [`handle`] directly.

mod auth;
mod control;
mod error;
mod lifecycle;
mod request;
mod response;
mod routes;
mod v1;

pub use crate::body::Body;
pub use error::ApiError;
pub use request::ApiRequest;
pub use response::{ApiResponse, CSV, JSON, ODATA_JSON};
pub use routes::{ROUTES, handle};
