//! The Customer Insights connector stand-in.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod clock;
pub mod odata;
pub mod rate_limit;
pub mod schema;
pub mod time;

pub use clock::Clock;
pub use time::{SimDuration, SimTime};
