//! What the limiter says about one call, and the answer a throttled call gets.

/// What the limiter says about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Admit,
    /// Answer `429` with `Retry-After: retry_after_s` and [`throttle_body`].
    Throttle {
        retry_after_s: u64,
    },
}

impl Decision {
    // Marked `#[inline]` so that the limiter (another module) can inline them: it decides every
    // `/v1` call.
    #[inline]
    pub fn is_admit(self) -> bool {
        matches!(self, Decision::Admit)
    }

    #[inline]
    pub fn retry_after_s(self) -> Option<u64> {
        match self {
            Decision::Admit => None,
            Decision::Throttle { retry_after_s } => Some(retry_after_s),
        }
    }

    /// A throttle whose next admission is `wait_ms` away: whole seconds rounded up, at least 1.
    #[inline]
    pub(super) fn throttle_for_ms(wait_ms: i64) -> Decision {
        // `SimDuration::as_secs_ceil`, saturating for windows near `i64::MAX`.
        let retry_after_s = wait_ms.saturating_add(999).div_euclid(1000).max(1);
        Decision::Throttle {
            retry_after_s: u64::try_from(retry_after_s).unwrap_or(1),
        }
    }
}

/// The message of a throttled call, as users of the real connector report it. Always "seconds",
/// even for 1: that is the text people search for.
pub fn throttle_message(retry_after_s: u64) -> String {
    format!("Rate limit is exceeded. Try again in {retry_after_s} seconds.")
}

/// The JSON body of a `429`: `{"statusCode":429,"message":"Rate limit is exceeded. Try again in N
/// seconds."}`, with the same `N` as the `Retry-After` header.
pub fn throttle_body(retry_after_s: u64) -> String {
    format!(
        "{{\"statusCode\":429,\"message\":\"{}\"}}",
        throttle_message(retry_after_s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_429_body_carries_the_same_wait_as_the_header() {
        assert_eq!(
            throttle_body(23),
            r#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 23 seconds."}"#
        );
        assert_eq!(
            throttle_message(1),
            "Rate limit is exceeded. Try again in 1 seconds."
        );
        let parsed: serde_json::Value = serde_json::from_str(&throttle_body(7)).unwrap();
        assert_eq!(parsed["statusCode"], 429);
    }
}
