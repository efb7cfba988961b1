//! The server's own limits as a client sees them. Every refusal says "insightsim server limit",
//! names the tenant-file key and its value, and says how to get under it or raise it; the code
//! is always `ServerLimit`, so that no client mistakes one for the connector's call limit.

use std::fmt::Display;

use super::error::ApiError;
pub use super::error::SERVER_LIMIT;

/// A refusal by the server limit `limits.{key}` (whose value is `value`): `what` happened,
/// `advice` says how to stay under it.
pub fn refusal(status: u16, key: &str, value: &str, what: impl Display, advice: &str) -> ApiError {
    ApiError::new(
        status,
        SERVER_LIMIT,
        format!(
            "insightsim server limit: {what} (limits.{key} = {value}); {advice}, or raise limits.{key} in the tenant file; this protects the simulator and is not the connector's call limit"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_limit_and_how_to_raise_it() {
        let e = refusal(
            413,
            "server_body_bytes_max",
            "1024",
            "the body is too large",
            "send less",
        );
        assert_eq!((e.status, e.code), (413, SERVER_LIMIT));
        for part in [
            "insightsim server limit",
            "limits.server_body_bytes_max = 1024",
            "send less",
            "raise limits.server_body_bytes_max in the tenant file",
        ] {
            assert!(e.message.contains(part), "{part}: {}", e.message);
        }
    }
}
