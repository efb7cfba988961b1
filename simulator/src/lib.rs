//! A local, deterministic stand-in for the Dynamics 365 Customer Insights connector: one
//! simulated tenant (customers, activities, measures, segments, data sources generated from a
//! seed) served through the connector's API, with its OData subset, its call limit, a living
//! refresh lifecycle and the connector's six webhook triggers.
//!
//! Everything is driven by one injected [`Clock`]. On a frozen clock nothing moves until you
//! move it, so a test can call the API, jump to the next thing due and read the result, with no
//! sockets and no sleeps; `serve` runs the same code behind a hyper server on the wall clock.
//!
//! # Getting started
//!
//! Build a small tenant on a frozen clock, call the API in-process with [`api::handle`],
//! subscribe to a trigger, and run a refresh that crosses the subscription's threshold:
//!
//! ```
//! use simulator::api::{self, ApiRequest};
//! use simulator::engine::{AttemptResult, RefreshRequest};
//! use simulator::tenant::TenantSpec;
//! use simulator::{Clock, SimConfig, SimDuration, SimTime, Simulator};
//!
//! let mut spec = TenantSpec::demo();
//! spec.customers = 1_000;
//! spec.refresh.schedule_enabled = false;
//! let sim = Simulator::new(SimConfig::new(spec, Clock::frozen_at(SimTime::DEFAULT_EPOCH)));
//!
//! // The API as a plain function: a request in, a response out.
//! let call = |method: &str, path: &str, query: Option<&str>, body: &str| {
//!     let path = format!("/v1/instances/{}/{path}", sim.instance_id);
//!     api::handle(
//!         &sim,
//!         &ApiRequest {
//!             method,
//!             path: &path,
//!             query,
//!             authorization: Some("Bearer my-flow"),
//!             subscription_key: None,
//!             admin_token: None,
//!             body: body.as_bytes(),
//!             base_url: "http://127.0.0.1:8080",
//!             peer_loopback: true,
//!         },
//!     )
//! };
//! let page = call("GET", "data/Customer", Some("$top=2&$select=CustomerId"), "");
//! assert_eq!(page.status, 200);
//! let page: serde_json::Value = serde_json::from_slice(&page.bytes())?;
//! assert_eq!(page["value"].as_array().map(Vec::len), Some(2));
//!
//! // Subscribe as a flow would: tell me when ChurnRisk grows past 500 members.
//! let subscribe = call(
//!     "POST",
//!     "triggers/segment-threshold-crossed/subscriptions",
//!     None,
//!     r#"{"NotificationUrl": "http://127.0.0.1:9000/hook", "segmentName": "ChurnRisk", "threshold": 500}"#,
//! );
//! assert_eq!(subscribe.status, 201);
//!
//! // The scheduler's part: a full refresh that evaluates ChurnRisk to 600 members.
//! let mut refresh = RefreshRequest::default();
//! refresh.segments.insert("ChurnRisk".into(), 600);
//! sim.with_engine(|engine, now| (engine.refresh(now, refresh), Vec::new()))?;
//!
//! // Virtual time: jump an hour ahead and run what fell due (the refresh's tasks).
//! sim.clock.advance(SimDuration::from_hours(1));
//! sim.tick();
//! let deliveries = sim.take_deliveries();
//! assert_eq!(deliveries.len(), 1, "one webhook POST for one upward crossing");
//! let event: serde_json::Value = serde_json::from_str(&deliveries[0].body)?;
//! assert_eq!((event["previousCount"].as_u64(), event["entityCount"].as_u64()), (Some(180), Some(600)));
//! // The shell POSTs it to the flow and reports how that went.
//! sim.delivery_result(deliveries[0].attempt_id, AttemptResult::Status(200));
//!
//! // The API agrees with the event it sent.
//! let members = call("GET", "data/ChurnRisk", Some("$count=true&$top=0"), "");
//! let members: serde_json::Value = serde_json::from_slice(&members.bytes())?;
//! assert_eq!(members["@odata.count"], 600);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Over real sockets, [`server::start`] serves the same [`api::handle`], and
//! [`driver::Driver`] sends the deliveries with [`delivery::Sender`] on the wall clock.
//!
//! # The module map
//!
//! A pure core in a thin shell: the core takes `now` as an argument (or reads the injected
//! [`Clock`]) and does no I/O; the shell translates HTTP and sends webhooks.
//!
//! | Module | Owns | Imports (of this crate) |
//! |---|---|---|
//! | [`time`], `ids`, `json`, `body`, [`addresses`] | simulated instants and durations; seeded ids; the hot-path JSON writer; response bodies of pieces; the simulator's own addresses | nothing |
//! | [`epoch`] | the id epoch: why created objects' ids never repeat across restarts and resets | `ids` |
//! | [`tenant`] | the tenant file ([`TenantSpec`](tenant::TenantSpec)), its dictionaries and geography | `time`, `json`, [`rate_limit`] (its settings) |
//! | [`schema`] | attribute types, schemas and values | `time` |
//! | [`odata`] | the OData subset: options, `$filter` parsing, binding to a schema, evaluation | `schema`, `time` |
//! | [`store`] | the generated population, the entities, created items, live segment members | `tenant`, `schema`, `ids`, `json`, `time` |
//! | `query`, `metadata` | running a bound query over the store (within a deadline) and writing its page; entity metadata | `store`, `odata`, `schema`, `body`, `json`, `ids`, `time`, `clock` |
//! | [`rate_limit`] | the call limiter and the grading of clients | `time` |
//! | [`engine`] | the refresh lifecycle, the six triggers, subscriptions and deliveries | `tenant`, `ids`, `time` |
//! | [`faults`], [`journal`], `clock` | route faults; the log of `/v1` calls (within its bytes); the one clock and the deadlines of heavy queries | `ids`, `time` |
//! | [`persist`] | the state dir: one redb file of saved parts, the tenant's identity, the encoding | `epoch`, `ids`, `tenant`, `time` |
//! | [`Simulator`] (`sim`, `durable`) | one tenant: the store (as snapshots) and the engine under one lock, the limiter, the journal, the faults, where it listens; opened on a state dir and saved before every answer | the core above, `persist` |
//! | [`api`] | the API as functions, and the one mapping of core errors to HTTP | `sim` and the core |
//! | [`server`], [`delivery`], [`driver`] | the shell: hyper behind a gate that reads each head first, the server's own limits, the webhook sender (never to itself), the `serve` loop | `api`, `sim`, `engine`, `body`, `addresses` |
//!
//! No file imports another that imports it back, no file holds more than 600 lines of code, and
//! `mod.rs` files only declare and re-export: `tests/it/architecture.rs` checks all three.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod addresses;
pub mod api;
mod body;
mod clock;
pub mod delivery;
pub mod driver;
mod durable;
pub mod engine;
pub mod epoch;
pub mod faults;
mod ids;
pub mod journal;
mod json;
mod metadata;
pub mod odata;
pub mod persist;
mod query;
pub mod rate_limit;
pub mod schema;
pub mod server;
mod sim;
pub mod store;
pub mod tenant;
pub mod time;

pub use clock::{Clock, Deadline};
pub use epoch::IdEpoch;
pub use sim::{
    CommitHook, QueryHook, SimConfig, Simulator, StatusReport, ThrottleHook, Undelivered, Waker,
};
pub use time::{SimDuration, SimTime};
