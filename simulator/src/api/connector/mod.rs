//! The Power Platform custom connector of the simulated API: `apiDefinition.swagger.json`
//! (OpenAPI 2.0 with Microsoft's extensions) and `apiProperties.json`, generated from the route
//! table ([`ROUTES`](crate::api::routes::ROUTES)) and the OpenAPI document's schemas, so the
//! connector offers exactly what the simulator serves.
//!
//! - Actions: the routes with a documented connector action (`Route::action`), under their
//!   display names, and internal helper operations for the pickers.
//! - Triggers: the six triggers as webhook triggers (`x-ms-trigger: single`), one path each, the
//!   callback in `NotificationUrl` (`x-ms-notification-url`), the payload of each trigger in
//!   `x-ms-notification-content`, and `DELETE` of the subscription for turning a flow off.
//! - Pickers: `x-ms-dynamic-values` for the instance, entity, data source, segment and measure
//!   parameters, backed by the list operations.
//! - Auth: an API key sent as the `Authorization` header (`Bearer <token>`); optionally the
//!   `Ocp-Apim-Subscription-Key`, set by a `setheader` policy from a second connection parameter.
//! - The call limit (100 calls per connection per 60 s, 429 with Retry-After) is stated in the
//!   description of the connector and of every action.

mod actions;
mod export;
mod swagger;
mod triggers;

pub use export::{Connector, ConnectorError, connector};
pub use swagger::swagger2;
