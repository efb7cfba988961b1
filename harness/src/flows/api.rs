//! Calling the Customer Insights API from a flow: encoding a query value, and retrying a call
//! that was throttled (`429`) or failed (`5xx`, connection failure).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use simulator::SimDuration;

use crate::flow::{ApiReply, FlowIo};

/// Everything but the unreserved characters and parentheses: a space becomes `%20`, a quote
/// `%27`, and `&`, `=`, `+`, `#` cannot break the query apart. Parentheses stay readable in
/// journals (`IsMemberOfSegment(%27ChurnRisk%27)`); they are allowed in a query as they are.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'(')
    .remove(b')');

/// Percent-encodes a query option's value or a path segment.
pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// An OData string literal: quoted, with quotes inside doubled (`'O''Brien'`).
pub(crate) fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// What a flow does with a `429` before calling again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnThrottled {
    /// Waits the `Retry-After` the API gave: the correct behaviour.
    WaitRetryAfter,
    /// Calls again at once: the mistake of `export-ignores-retry-after`.
    RetryAtOnce,
    /// Waits this long whatever `Retry-After` says: a mistake.
    WaitFixed(SimDuration),
    /// Waits `Retry-After` minus this much (never less than nothing): a mistake.
    WaitLess(SimDuration),
}

/// How a flow retries an API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    pub(crate) on_throttled: OnThrottled,
    /// How many `429`s in a row to retry before giving up (0: give up at the first).
    pub(crate) throttled_max: u32,
    /// How many `5xx` or connection failures in a row to retry (after 1 s, 2 s, 4 s, ...) before
    /// giving up.
    pub(crate) failures_max: u32,
}

impl Retry {
    /// The policy of the reference flows: wait exactly `Retry-After`, at most `throttled_max`
    /// times, and retry five server errors with back-off.
    pub(crate) const fn honouring_retry_after(throttled_max: u32) -> Retry {
        Retry {
            on_throttled: OnThrottled::WaitRetryAfter,
            throttled_max,
            failures_max: 5,
        }
    }

    /// How long to wait after a `429` that said `Retry-After: retry_after_s` (nothing when the
    /// header is missing means "soon": one second).
    fn wait_after_429(&self, retry_after_s: Option<u64>) -> SimDuration {
        let retry_after =
            SimDuration::from_secs(i64::try_from(retry_after_s.unwrap_or(1)).unwrap_or(i64::MAX));
        match self.on_throttled {
            OnThrottled::WaitRetryAfter => retry_after,
            OnThrottled::RetryAtOnce => SimDuration::ZERO,
            OnThrottled::WaitFixed(wait) => wait,
            OnThrottled::WaitLess(less) => {
                SimDuration::from_millis((retry_after.as_millis() - less.as_millis()).max(0))
            }
        }
    }
}

/// Calls the API until it answers something other than a retryable status, or the policy gives
/// up; returns the last answer.
pub(crate) async fn call(io: &dyn FlowIo, method: &str, path: &str, retry: Retry) -> ApiReply {
    let (mut throttled, mut failed) = (0, 0);
    loop {
        let reply = io.api(method, path, None).await;
        match reply.status {
            429 if throttled < retry.throttled_max => {
                throttled += 1;
                let wait = retry.wait_after_429(reply.retry_after_s);
                if wait > SimDuration::ZERO {
                    io.sleep(wait).await;
                }
            }
            0 | 500..=599 if failed < retry.failures_max => {
                io.sleep(SimDuration::from_secs(1 << failed)).await;
                failed += 1;
            }
            _ => return reply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_spaces_quotes_and_query_delimiters_but_keeps_parentheses() {
        assert_eq!(
            encode("IsMemberOfSegment('High Value & Co')"),
            "IsMemberOfSegment(%27High%20Value%20%26%20Co%27)"
        );
        assert_eq!(encode("a+b=c#d"), "a%2Bb%3Dc%23d");
    }

    fn check_wait(on_throttled: OnThrottled, retry_after_s: Option<u64>, expected_ms: i64) {
        let retry = Retry {
            on_throttled,
            ..Retry::honouring_retry_after(1)
        };
        assert_eq!(
            retry.wait_after_429(retry_after_s),
            SimDuration::from_millis(expected_ms),
            "{on_throttled:?} after Retry-After {retry_after_s:?}"
        );
    }

    #[test]
    fn waits_after_a_429_as_the_policy_says() {
        let second = SimDuration::from_secs(1);
        check_wait(OnThrottled::WaitRetryAfter, Some(7), 7_000);
        check_wait(OnThrottled::WaitRetryAfter, None, 1_000);
        check_wait(OnThrottled::RetryAtOnce, Some(7), 0);
        check_wait(OnThrottled::WaitFixed(second), Some(7), 1_000);
        check_wait(OnThrottled::WaitLess(second), Some(7), 6_000);
        check_wait(OnThrottled::WaitLess(second), Some(1), 0);
    }

    #[test]
    fn doubles_quotes_in_an_odata_string() {
        assert_eq!(odata_string("O'Brien"), "'O''Brien'");
    }
}
