//! The simulated API as plain functions: a request in, a response out, no sockets.
//!
//! The hyper server (`server`) translates HTTP to [`ApiRequest`] and [`ApiResponse`] back, and
//! nothing else; the harness's in-process flows call [`handle`] directly. [`ROUTES`] lists every
//! route with what a description of it needs: the OpenAPI document and the custom connector are
//! generated from it.

mod auth;
pub mod connector;
mod control;
mod dispatch;
mod error;
mod items;
mod lifecycle;
pub mod limits;
pub mod openapi;
mod request;
mod response;
pub mod route;
pub mod routes;
pub mod schemas;
mod staged;
mod v1;

pub use crate::body::Body;
pub use dispatch::{handle, stage};
pub use error::{ApiError, ErrorShape};
pub use request::ApiRequest;
pub use response::{ApiResponse, CSV, JSON, ODATA_JSON};
pub use routes::ROUTES;
pub use staged::{Heavy, Staged};
