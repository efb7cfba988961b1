//! The connector's call limit (100 calls per connection per 60 s by default) and the grading of
//! how each client treated it. A pure core: every call takes `now` from the injected clock.
//!
//! ```
//! use simulator::rate_limit::{Decision, Limiter, RateLimitSetting, throttle_body};
//! use simulator::{SimDuration, SimTime};
//!
//! let limiter = Limiter::new(RateLimitSetting::parse("2/10s")?);
//! let now = SimTime::DEFAULT_EPOCH;
//! assert_eq!(limiter.check("token-a", now), Decision::Admit);
//! assert_eq!(limiter.check("token-a", now + SimDuration(1500)), Decision::Admit);
//! let third = limiter.check("token-a", now + SimDuration(2000));
//! assert_eq!(third, Decision::Throttle { retry_after_s: 8 });
//! assert_eq!(
//!     throttle_body(8),
//!     r#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 8 seconds."}"#
//! );
//! // Another connection has its own window.
//! assert!(limiter.check("token-b", now).is_admit());
//! let reports = limiter.report(now + SimDuration(2000));
//! assert_eq!((reports[0].admitted, reports[0].throttled), (2, 1));
//! # Ok::<(), simulator::rate_limit::RateLimitParseError>(())
//! ```
//!
//! The rules, which of them Microsoft documents and which insightsim models, are in
//! `docs/rate-limit.md`.

mod config;
mod decision;
mod grading;
mod limiter;
mod runs;
#[cfg(test)]
mod tests;

pub use config::{Algorithm, RateLimit, RateLimitParseError, RateLimitSetting};
pub use decision::{Decision, throttle_body, throttle_message};
pub use grading::{ConnectionReport, Grade, render_table, shorten_connection};
pub use limiter::Limiter;
