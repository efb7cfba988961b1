//! The Customer Insights connector stand-in.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod clock;
pub mod engine;
pub mod ids;
pub mod odata;
pub mod schema;
pub mod tenant;
pub mod time;

pub use clock::Clock;
pub use time::{SimDuration, SimTime};
