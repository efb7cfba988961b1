//! The tenant file's `[limits]`: the simulated connector's call limit and page sizes, and the
//! simulator's own protection (the `server_*` keys and the memory budgets), each with a default
//! in the embedded `demo.toml` and a check in [`LimitsSpec::validate`].

use serde::{Deserialize, Serialize};

use crate::rate_limit::{Algorithm, RateLimitSetting};
use crate::time::SimDuration;

/// The simulated connector's limits, and the server's own protection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSpec {
    /// The connector call limit per connection: `CALLS/WINDOW` (e.g. `100/60s`) or `off`.
    pub rate_limit: String,
    /// `sliding` (default) or `fixed` windows.
    pub rate_limit_algorithm: String,
    /// Whether throttled calls also count against the window.
    pub throttled_calls_count: bool,
    /// Largest page `$top` can ask for (larger values are clamped).
    pub page_size_max: usize,
    /// Page size when `$top` is absent.
    pub page_size_default: usize,
    /// Whether responses carry `@odata.nextLink` with a `$skiptoken`. Off by default: the
    /// documentation pages with `$skip` and the API model's payload has no next link, so
    /// insightsim infers that the service sends none (a `$skiptoken` is accepted either way).
    pub next_link: bool,
    /// Server self-protection, not part of the simulated connector: simultaneous connections.
    pub server_connections_max: usize,
    /// Server self-protection: simultaneous connections from one peer address.
    pub server_connections_per_peer_max: usize,
    /// Server self-protection: largest request body in bytes (a larger `Content-Length` is
    /// refused before the body is read).
    pub server_body_bytes_max: usize,
    /// Server self-protection: largest request head (request line and headers) in bytes.
    pub server_header_bytes_max: usize,
    /// Server self-protection: longest request target (path and query) in bytes.
    pub server_url_bytes_max: usize,
    /// Server self-protection (wall-clock time): how long a client may take to send a request
    /// head once it has started.
    pub server_header_read_timeout: SimDuration,
    /// Server self-protection (wall-clock time): how long an idle keep-alive connection stays
    /// open waiting for its next request.
    pub server_idle_timeout: SimDuration,
    /// Server self-protection (wall-clock time): how long a client may take to send a body.
    pub server_body_read_timeout: SimDuration,
    /// Server self-protection (wall-clock time): the budget of one heavy query (a scan, a sort,
    /// a search, a partition); it is stopped when the budget runs out.
    pub server_query_time_max: SimDuration,
    /// Server self-protection: heavy queries that run at once (the others wait, within their
    /// time budget).
    pub server_queries_max: usize,
    /// Largest value of one field of a created or updated item, in bytes of JSON.
    pub item_field_bytes_max: usize,
    /// Memory for the items created and changed through the API since start (or the last
    /// reset), counted by their request bodies; beyond it Create and Update item are refused.
    pub items_bytes_max: usize,
    /// Memory for the journal of `/v1` calls (`/_sim/journal`), in bytes, and, a budget of the
    /// same size, for the status reports kept; the oldest entries are dropped and counted.
    pub journal_bytes_max: usize,
    /// Memory for each evaluation history (a segment's, a measure's evaluations and outputs),
    /// in bytes of JSON; the oldest records are dropped and counted.
    pub history_bytes_max: usize,
    /// Memory for the list of finished jobs, in bytes of JSON; the oldest finished jobs are
    /// dropped and counted.
    pub jobs_history_bytes_max: usize,
    /// The longest move of the clock in one `POST /_sim/clock/advance`.
    pub clock_advance_max: SimDuration,
    /// Scheduled refreshes run by one catch-up of the clock; older ones that fell due in the
    /// same jump are skipped in bulk and counted (`schedule.skippedInCatchUp` in `/_sim/state`).
    pub clock_catch_up_refreshes_max: u64,
    /// Deliveries one subscription may get within `deliveries_window` (simulated time); beyond
    /// it a loop or flood is cut, and the cut deliveries are counted in `/_sim/events`.
    pub deliveries_per_subscription_max: u64,
    /// The window of `deliveries_per_subscription_max`.
    pub deliveries_window: SimDuration,
    /// Memory for pre-rendered Customer rows (filled as rows are served; rows beyond it are
    /// rendered on each request, which is slower but correct).
    pub row_cache_bytes_max: usize,
}

impl LimitsSpec {
    /// Checks that every server limit is usable: counts and sizes at least their minimum,
    /// durations longer than zero.
    pub(super) fn validate(&self) -> Result<(), String> {
        let at_least = |key: &str, value: u64, min: u64| {
            if value < min {
                Err(format!(
                    "limits.{key} = {value} is too small; use at least {min}"
                ))
            } else {
                Ok(())
            }
        };
        at_least(
            "server_connections_max",
            self.server_connections_max as u64,
            1,
        )?;
        at_least(
            "server_connections_per_peer_max",
            self.server_connections_per_peer_max as u64,
            1,
        )?;
        at_least(
            "server_header_bytes_max",
            self.server_header_bytes_max as u64,
            1024,
        )?;
        at_least(
            "server_url_bytes_max",
            self.server_url_bytes_max as u64,
            256,
        )?;
        at_least("server_queries_max", self.server_queries_max as u64, 1)?;
        at_least("item_field_bytes_max", self.item_field_bytes_max as u64, 1)?;
        at_least("items_bytes_max", self.items_bytes_max as u64, 1024)?;
        at_least("journal_bytes_max", self.journal_bytes_max as u64, 4096)?;
        at_least("history_bytes_max", self.history_bytes_max as u64, 1024)?;
        at_least(
            "jobs_history_bytes_max",
            self.jobs_history_bytes_max as u64,
            1024,
        )?;
        at_least(
            "clock_catch_up_refreshes_max",
            self.clock_catch_up_refreshes_max,
            1,
        )?;
        at_least(
            "deliveries_per_subscription_max",
            self.deliveries_per_subscription_max,
            1,
        )?;
        for (key, value) in [
            (
                "server_header_read_timeout",
                self.server_header_read_timeout,
            ),
            ("server_idle_timeout", self.server_idle_timeout),
            ("server_body_read_timeout", self.server_body_read_timeout),
            ("server_query_time_max", self.server_query_time_max),
            ("clock_advance_max", self.clock_advance_max),
            ("deliveries_window", self.deliveries_window),
        ] {
            if value.as_millis() <= 0 {
                return Err(format!("limits.{key} = {value} must be longer than 0s"));
            }
        }
        Ok(())
    }

    /// The connector call limit these settings describe. An algorithm or `throttled-consume`
    /// written in `rate_limit` itself (`100/60s,fixed`) wins over the separate keys.
    pub fn rate_limit_setting(&self) -> Result<RateLimitSetting, String> {
        let setting = RateLimitSetting::parse(&self.rate_limit)
            .map_err(|e| format!("limits.rate_limit: {e}"))?;
        let RateLimitSetting::On(mut limit) = setting else {
            return Ok(RateLimitSetting::Off);
        };
        let text = self.rate_limit.to_ascii_lowercase();
        if !text.contains(",fixed") && !text.contains(",sliding") {
            limit.algorithm = match self.rate_limit_algorithm.as_str() {
                "fixed" => Algorithm::Fixed,
                _ => Algorithm::Sliding,
            };
        }
        limit.throttled_consume |= self.throttled_calls_count;
        Ok(RateLimitSetting::On(limit))
    }
}
