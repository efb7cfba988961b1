//! The Customer Insights connector stand-in.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod body;
pub mod clock;
pub mod delivery;
pub mod driver;
pub mod engine;
pub mod faults;
pub mod ids;
pub mod journal;
mod json;
pub mod metadata;
pub mod odata;
pub mod query;
pub mod rate_limit;
pub mod schema;
pub mod server;
pub mod sim;
pub mod store;
pub mod tenant;
pub mod time;

pub use clock::Clock;
pub use sim::{SimConfig, Simulator};
pub use time::{SimDuration, SimTime};
