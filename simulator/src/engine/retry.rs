//! The platform's delivery retry policy, as pure functions: which results are retried and how
//! long to wait before each retry. Nothing here holds state or reads a clock.

use serde::{Deserialize, Serialize};

use crate::tenant::spec::DeliverySpec;
use crate::time::SimDuration;

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Status(u16),
    Timeout,
    ConnectionError(String),
    /// The shell would not send it (the target is the simulator itself): final, never retried.
    Refused(String),
}

impl AttemptResult {
    pub(super) fn describe(&self) -> String {
        match self {
            AttemptResult::Status(code) => format!("status {code}"),
            AttemptResult::Timeout => "timeout".to_owned(),
            AttemptResult::ConnectionError(e) => format!("connection error: {e}"),
            AttemptResult::Refused(why) => format!("not sent: {why}"),
        }
    }

    pub(super) fn is_success(&self) -> bool {
        matches!(self, AttemptResult::Status(200..=299))
    }

    /// Timeouts, connection errors, 408, 429 and 5xx are retried; other statuses are final.
    pub(super) fn is_retryable(&self) -> bool {
        match self {
            AttemptResult::Status(code) => matches!(code, 408 | 429 | 500..=599),
            AttemptResult::Timeout | AttemptResult::ConnectionError(_) => true,
            AttemptResult::Refused(_) => false,
        }
    }
}

/// The kind of retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryKind {
    Exponential,
    Fixed,
    None,
}

/// The retry policy (tenant `[delivery]`), with the platform's documented algorithm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    pub kind: RetryKind,
    /// Retries after the first attempt (0 for `none`).
    pub count: u32,
    pub interval: SimDuration,
    pub interval_min: SimDuration,
    pub interval_max: SimDuration,
    pub attempt_timeout: SimDuration,
}

impl RetryPolicy {
    pub fn from_spec(spec: &DeliverySpec) -> RetryPolicy {
        let kind = match spec.retry_policy.as_str() {
            "fixed" => RetryKind::Fixed,
            "none" => RetryKind::None,
            _ => RetryKind::Exponential,
        };
        RetryPolicy {
            kind,
            count: if kind == RetryKind::None {
                0
            } else {
                spec.retry_count
            },
            interval: spec.retry_interval,
            interval_min: spec.retry_interval_min,
            interval_max: spec.retry_interval_max,
            attempt_timeout: spec.attempt_timeout,
        }
    }

    /// The range the wait before retry `k` (1-based) is drawn from. Exponential (per the
    /// platform doc): retry 1 in `[max(0, min), min(interval, max)]`, retry k in
    /// `[max(2^(k-2)·interval, min), min(2^(k-1)·interval, max)]`; if the cap falls below the
    /// floor, the wait is the cap. Fixed: exactly `interval`.
    pub fn wait_bounds(&self, k: u32) -> (SimDuration, SimDuration) {
        let interval = self.interval.as_millis().max(0);
        let (min, max) = (
            self.interval_min.as_millis().max(0),
            self.interval_max.as_millis().max(0),
        );
        let scaled = |e: u32| {
            if e >= 62 {
                i64::MAX
            } else {
                interval.saturating_mul(1i64 << e)
            }
        };
        let (lo, hi) = match self.kind {
            RetryKind::None => (0, 0),
            RetryKind::Fixed => (interval, interval),
            RetryKind::Exponential if k <= 1 => (min, interval.min(max)),
            RetryKind::Exponential => (scaled(k - 2).max(min), scaled(k - 1).min(max)),
        };
        (SimDuration(lo.min(hi)), SimDuration(hi))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn exponential_bounds_match_the_platform_doc() {
        let policy = RetryPolicy::from_spec(&testkit::tenant().delivery);
        let secs = |lo: f64, hi: f64| {
            (
                SimDuration((lo * 1000.0) as i64),
                SimDuration((hi * 1000.0) as i64),
            )
        };
        assert_eq!(policy.wait_bounds(1), secs(5.0, 7.5));
        assert_eq!(policy.wait_bounds(2), secs(7.5, 15.0));
        assert_eq!(policy.wait_bounds(3), secs(15.0, 30.0));
        assert_eq!(policy.wait_bounds(4), secs(30.0, 45.0));
        assert_eq!(policy.wait_bounds(9), secs(45.0, 45.0));
    }

    #[test]
    fn timeouts_connection_errors_408_429_and_5xx_are_retried_other_statuses_are_final() {
        for code in [408, 429, 500, 503, 599] {
            assert!(AttemptResult::Status(code).is_retryable(), "{code}");
        }
        for code in [200, 204, 301, 400, 404, 410] {
            assert!(!AttemptResult::Status(code).is_retryable(), "{code}");
        }
        assert!(AttemptResult::Timeout.is_retryable());
        assert!(AttemptResult::ConnectionError("refused".into()).is_retryable());
        assert!(!AttemptResult::Refused("the simulator itself".into()).is_retryable());
        assert!(AttemptResult::Status(299).is_success());
        assert!(!AttemptResult::Status(300).is_success());
    }
}
