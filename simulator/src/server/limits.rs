//! The server's own limits (the tenant file's `[limits] server_*` keys) and how each refusal
//! reads: every one says "insightsim server limit", names its key and how to raise it.

use std::time::Duration;

use crate::api::ApiError;
use crate::api::limits::refusal;
use crate::sim::Simulator;
use crate::time::SimDuration;

/// Header fields a request may have (hyper's own maximum, which the gate applies first).
pub(super) const HEADERS_MAX: usize = 100;

/// The server's own protection (not the simulated connector limit).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub connections_max: usize,
    pub connections_per_peer_max: usize,
    pub body_bytes_max: usize,
    pub header_bytes_max: usize,
    pub url_bytes_max: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_read_timeout: Duration,
    pub query_time_max: Duration,
    pub queries_max: usize,
}

fn wall(d: SimDuration) -> Duration {
    Duration::from_millis(d.as_millis().max(1) as u64)
}

impl ServerLimits {
    pub fn from_spec(sim: &Simulator) -> ServerLimits {
        let l = &sim.spec.limits;
        ServerLimits {
            connections_max: l.server_connections_max.max(1),
            connections_per_peer_max: l.server_connections_per_peer_max.max(1),
            body_bytes_max: l.server_body_bytes_max,
            header_bytes_max: l.server_header_bytes_max.max(1024),
            url_bytes_max: l.server_url_bytes_max,
            header_read_timeout: wall(l.server_header_read_timeout),
            idle_timeout: wall(l.server_idle_timeout),
            body_read_timeout: wall(l.server_body_read_timeout),
            query_time_max: wall(l.server_query_time_max),
            queries_max: l.server_queries_max.max(1),
        }
    }

    pub(super) fn too_many_connections(&self) -> ApiError {
        refusal(
            503,
            "server_connections_max",
            &self.connections_max.to_string(),
            format!(
                "more than {} simultaneous connections",
                self.connections_max
            ),
            "close idle connections or retry later",
        )
        .retry_after(1)
    }

    pub(super) fn too_many_from_peer(&self) -> ApiError {
        refusal(
            503,
            "server_connections_per_peer_max",
            &self.connections_per_peer_max.to_string(),
            format!(
                "more than {} simultaneous connections from one address",
                self.connections_per_peer_max
            ),
            "close idle connections or retry later",
        )
        .retry_after(1)
    }

    pub(super) fn body_too_slow(&self) -> ApiError {
        refusal(
            408,
            "server_body_read_timeout",
            &format_duration(self.body_read_timeout),
            format!(
                "the request body did not arrive within {}",
                format_duration(self.body_read_timeout)
            ),
            "send the body without pauses",
        )
    }

    pub(super) fn body_too_large(&self) -> ApiError {
        refusal(
            413,
            "server_body_bytes_max",
            &self.body_bytes_max.to_string(),
            format!(
                "the request body is larger than {} bytes",
                self.body_bytes_max
            ),
            "send a smaller body",
        )
    }

    pub(super) fn url_too_long(&self, bytes: usize) -> ApiError {
        refusal(
            414,
            "server_url_bytes_max",
            &self.url_bytes_max.to_string(),
            format!(
                "the request target (path and query) is {bytes} bytes, more than {}",
                self.url_bytes_max
            ),
            "send a shorter $filter or query",
        )
    }

    pub(super) fn queries_busy(&self) -> ApiError {
        refusal(
            503,
            "server_queries_max",
            &self.queries_max.to_string(),
            format!(
                "{} heavy queries (scans, sorts, searches, partitions) were already running for the whole query budget",
                self.queries_max
            ),
            "retry later, or narrow the query with an indexed $filter",
        )
        .retry_after(self.query_time_max.as_secs().max(1))
    }
}

/// A request head longer than `limits.server_header_bytes_max`.
pub(super) fn head_too_large(bytes_max: usize) -> ApiError {
    refusal(
        431,
        "server_header_bytes_max",
        &bytes_max.to_string(),
        format!("the request head (request line and headers) is larger than {bytes_max} bytes"),
        "send shorter headers",
    )
}

/// A request with more header fields than hyper reads.
pub(super) fn too_many_headers() -> ApiError {
    ApiError::new(
        431,
        crate::api::limits::SERVER_LIMIT,
        format!(
            "insightsim server limit: the request has more than {HEADERS_MAX} header fields; this limit is fixed: send fewer headers"
        ),
    )
}

/// A request head that did not arrive within `limits.server_header_read_timeout`.
pub(super) fn head_too_slow(timeout: Duration) -> ApiError {
    let timeout = format_duration(timeout);
    refusal(
        408,
        "server_header_read_timeout",
        &timeout,
        format!("the request head did not arrive within {timeout} of its first byte"),
        "send the whole head at once",
    )
}

/// A request head the gate could not read.
pub(super) fn malformed_head(why: &str) -> ApiError {
    ApiError::bad_request(
        "MalformedRequest",
        format!("the request head is not valid HTTP/1.1 ({why}); send a well-formed request"),
    )
}

/// A request body hyper could not read (a bad chunk, a connection cut short).
pub(super) fn malformed_body(why: &str) -> ApiError {
    ApiError::bad_request(
        "MalformedBody",
        format!("the request body could not be read ({why}); send a well-formed body"),
    )
}

fn format_duration(d: Duration) -> String {
    SimDuration::from_millis(d.as_millis().min(i64::MAX as u128) as i64).to_string()
}
