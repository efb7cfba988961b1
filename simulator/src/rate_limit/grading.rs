//! Grading a client by how it treated the call limit: per connection, what it called, what it was
//! told, whether it waited, and how much of the limit it used.
//!
//! The rules (also in `docs/rate-limit.md`, with worked examples):
//!
//! - An **early retry** is a call made at a time `t < t429 + retry_after_s * 1000`, where `t429`
//!   is the time of the most recent 429 the connection received and `retry_after_s` the
//!   `Retry-After` it carried. The deadline holds until a call arrives at or after it; a later 429
//!   replaces it. Every call before the deadline counts, including calls that were in flight
//!   concurrently with the 429 (the simulator cannot tell a retry from a parallel request, and a
//!   client that fans out beyond the limit is what the grade is for).
//! - **Grade**: `ok` when there is no early retry; `fail` ("kept hammering") when the early
//!   retries outnumber the admitted calls made after the connection's first 429 — the client spent
//!   more calls ignoring `Retry-After` than doing useful work once throttled, which includes never
//!   getting through again; `non-strict` otherwise (it retried early but recovered).
//! - **Most admitted in any window**: the most admitted calls in any half-open interval
//!   `[a, a + window)`, tracked exactly whatever the algorithm (or with the limit off, where the
//!   window is the connector's 60 s).
//! - **Throughput per window**: `admitted * window / (span + window)`, where `span` is last call
//!   minus first call. The `+ window` counts the window the last calls occupy, so a client that
//!   uses every slot of `k` windows scores exactly `calls_max`; under the sliding algorithm the
//!   efficiency (`throughput / calls_max`) is therefore never above 1.

use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::decision::Decision;
use super::runs::Runs;
use crate::time::{SimDuration, SimTime};

/// How well a connection respected `Retry-After`; see the module docs for the exact rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grade {
    /// No early retry.
    Ok,
    /// Early retries, fewer than its admitted calls after the first 429: it recovered.
    NonStrict,
    /// More early retries than admitted calls after the first 429: it kept hammering.
    Fail,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Ok => "ok",
            Grade::NonStrict => "non-strict",
            Grade::Fail => "fail",
        }
    }

    /// The grade of `early_retries` against the admitted calls after the first 429, and why.
    pub fn of(
        early_retries: u64,
        admitted_after_first_429: u64,
        throttled: u64,
    ) -> (Grade, String) {
        let retries = |n: u64| if n == 1 { "retry" } else { "retries" };
        let calls = |n: u64| if n == 1 { "call" } else { "calls" };
        if early_retries == 0 {
            let reason = if throttled == 0 {
                "never throttled".to_owned()
            } else {
                "waited out every Retry-After".to_owned()
            };
            (Grade::Ok, reason)
        } else if early_retries > admitted_after_first_429 {
            let reason = format!(
                "kept hammering: {early_retries} early {} > {admitted_after_first_429} admitted {} after the first 429",
                retries(early_retries),
                calls(admitted_after_first_429)
            );
            (Grade::Fail, reason)
        } else {
            let reason = format!(
                "recovered: {early_retries} early {} <= {admitted_after_first_429} admitted {} after the first 429",
                retries(early_retries),
                calls(admitted_after_first_429)
            );
            (Grade::NonStrict, reason)
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grading of one connection, served at `GET /_sim/ratelimit` (camelCase JSON, times in RFC
/// 3339, durations in milliseconds) and printed by [`render_table`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReport {
    /// The full bearer token.
    pub connection: String,
    /// The token shortened for display: its first 8 characters and `…` (see [`shorten_connection`]).
    pub connection_display: String,
    pub calls: u64,
    pub admitted: u64,
    pub throttled: u64,
    pub early_retries: u64,
    /// Admitted calls made after the connection's first 429 (what early retries are weighed
    /// against).
    #[serde(rename = "admittedAfterFirst429")]
    pub admitted_after_first_429: u64,
    /// The most admitted calls in any half-open interval of length `window`.
    pub max_admitted_in_window: u64,
    /// The window the report measures with: the limit's, or 60 s when the limit is off.
    #[serde(
        rename = "windowMs",
        serialize_with = "duration_ms",
        deserialize_with = "duration_ms_de"
    )]
    pub window: SimDuration,
    #[serde(serialize_with = "rfc3339")]
    pub first_call: SimTime,
    #[serde(serialize_with = "rfc3339")]
    pub last_call: SimTime,
    /// When the connection first got a 429.
    #[serde(serialize_with = "rfc3339_opt")]
    pub first_throttled: Option<SimTime>,
    /// The pending early-retry deadline, when it is still ahead of the report's `now`: a call
    /// before it would count as an early retry.
    #[serde(serialize_with = "rfc3339_opt")]
    pub retry_not_before: Option<SimTime>,
    /// `last_call - first_call`.
    #[serde(
        rename = "spanMs",
        serialize_with = "duration_ms",
        deserialize_with = "duration_ms_de"
    )]
    pub span: SimDuration,
    /// Admitted calls per window over the span: `admitted * window / (span + window)`.
    pub throughput_per_window: f64,
    /// `calls_max`, or `None` when the limit is off.
    pub ideal_per_window: Option<u32>,
    /// `throughput_per_window / ideal_per_window`; `None` when the limit is off.
    pub efficiency: Option<f64>,
    pub grade: Grade,
    pub reason: String,
}

fn rfc3339<S: Serializer>(time: &SimTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(time)
}

fn rfc3339_opt<S: Serializer>(time: &Option<SimTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.collect_str(time),
        None => serializer.serialize_none(),
    }
}

fn duration_ms_de<'de, D: Deserializer<'de>>(d: D) -> Result<SimDuration, D::Error> {
    i64::deserialize(d).map(SimDuration)
}

fn duration_ms<S: Serializer>(duration: &SimDuration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(duration.as_millis())
}

/// The first 8 characters of a token and `…`, or the token itself when it is that short.
pub fn shorten_connection(token: &str) -> String {
    match token.char_indices().nth(8) {
        Some((cut, _)) => format!("{}…", &token[..cut]),
        None => token.to_owned(),
    }
}

/// What the grader remembers about one connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    calls: u64,
    admitted: u64,
    throttled: u64,
    early_retries: u64,
    admitted_after_first_429: u64,
    first_call_ms: i64,
    last_call_ms: i64,
    first_429_ms: Option<i64>,
    /// `t429 + retry_after_s * 1000` of the most recent 429, until a call reaches it.
    retry_deadline_ms: Option<i64>,
    /// Admitted calls in the trailing window `(now - window, now]`.
    recent_admitted: Runs,
    max_admitted_in_window: u64,
}

impl Tally {
    /// The time a call at `now_ms` is taken to happen: never before the previous call, so that a
    /// clock read that lost a race to the lock counts as the same instant.
    pub(crate) fn clamp(&self, now_ms: i64) -> i64 {
        if self.calls == 0 {
            now_ms
        } else {
            now_ms.max(self.last_call_ms)
        }
    }

    /// Records a call at `now_ms` (already clamped) and the limiter's decision on it.
    pub(crate) fn record(&mut self, now_ms: i64, decision: Decision, window_ms: i64) {
        if self.calls == 0 {
            self.first_call_ms = now_ms;
        }
        self.calls += 1;
        self.last_call_ms = now_ms;
        if let Some(deadline_ms) = self.retry_deadline_ms {
            if now_ms < deadline_ms {
                self.early_retries += 1;
            } else {
                self.retry_deadline_ms = None;
            }
        }
        match decision {
            Decision::Admit => {
                self.admitted += 1;
                if self.first_429_ms.is_some() {
                    self.admitted_after_first_429 += 1;
                }
                self.recent_admitted
                    .expire_through(now_ms.saturating_sub(window_ms));
                self.recent_admitted.push(now_ms);
                self.max_admitted_in_window = self
                    .max_admitted_in_window
                    .max(self.recent_admitted.total());
            }
            Decision::Throttle { retry_after_s } => {
                self.throttled += 1;
                self.first_429_ms.get_or_insert(now_ms);
                let wait_ms = i64::try_from(retry_after_s.saturating_mul(1000)).unwrap_or(i64::MAX);
                self.retry_deadline_ms = Some(now_ms.saturating_add(wait_ms));
            }
        }
    }

    pub(crate) fn report(
        &self,
        connection: &str,
        now: SimTime,
        window: SimDuration,
        ideal_per_window: Option<u32>,
    ) -> ConnectionReport {
        let span = SimDuration(self.last_call_ms.saturating_sub(self.first_call_ms));
        let window_ms = window.as_millis().max(1) as f64;
        let throughput_per_window =
            self.admitted as f64 * window_ms / (span.as_millis() as f64 + window_ms);
        let efficiency =
            ideal_per_window.map(|ideal| throughput_per_window / f64::from(ideal.max(1)));
        let (grade, reason) = Grade::of(
            self.early_retries,
            self.admitted_after_first_429,
            self.throttled,
        );
        ConnectionReport {
            connection: connection.to_owned(),
            connection_display: shorten_connection(connection),
            calls: self.calls,
            admitted: self.admitted,
            throttled: self.throttled,
            early_retries: self.early_retries,
            admitted_after_first_429: self.admitted_after_first_429,
            max_admitted_in_window: self.max_admitted_in_window,
            window,
            first_call: SimTime(self.first_call_ms),
            last_call: SimTime(self.last_call_ms),
            first_throttled: self.first_429_ms.map(SimTime),
            retry_not_before: self
                .retry_deadline_ms
                .filter(|&deadline_ms| deadline_ms > now.as_millis())
                .map(SimTime),
            span,
            throughput_per_window,
            ideal_per_window,
            efficiency,
            grade,
            reason,
        }
    }

    #[cfg(test)]
    pub(crate) fn recent_admitted_entries(&self) -> usize {
        self.recent_admitted.entries()
    }
}

/// A fixed-width text table of reports, one line per connection under a header line (printed
/// when `serve` stops and by `load`). Numbers are right-aligned, the span is in seconds, the
/// throughput in admitted calls per window; the reason closes each line.
pub fn render_table(reports: &[ConnectionReport]) -> String {
    let mut out = String::new();
    // Full tokens, never cut: two connections whose names share a prefix stay apart.
    let width = reports
        .iter()
        .map(|r| r.connection.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    let _ = writeln!(
        out,
        "{:<width$} {:>8} {:>8} {:>9} {:>7} {:>10} {:>11} {:>10} {:>6} {:>10}  {:<10}  reason",
        "connection",
        "calls",
        "admitted",
        "throttled",
        "early",
        "max/window",
        "span",
        "per-window",
        "ideal",
        "efficiency",
        "grade",
    );
    for report in reports {
        let ideal = report
            .ideal_per_window
            .map_or_else(|| "off".to_owned(), |ideal| ideal.to_string());
        let efficiency = report
            .efficiency
            .map_or_else(|| "-".to_owned(), |e| format!("{e:.3}"));
        let _ = writeln!(
            out,
            "{:<width$} {:>8} {:>8} {:>9} {:>7} {:>10} {:>11} {:>10.1} {:>6} {:>10}  {:<10}  {}",
            report.connection,
            report.calls,
            report.admitted,
            report.throttled,
            report.early_retries,
            report.max_admitted_in_window,
            format!("{:.3}s", report.span.as_millis() as f64 / 1000.0),
            report.throughput_per_window,
            ideal,
            efficiency,
            report.grade.as_str(),
            report.reason,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(early_retries: u64, admitted_after_first_429: u64, throttled: u64, expected: Grade) {
        let (grade, reason) = Grade::of(early_retries, admitted_after_first_429, throttled);
        assert_eq!(grade, expected, "{reason}");
    }

    #[test]
    fn grades_by_early_retries_against_admitted_calls_after_the_first_429() {
        check(0, 0, 0, Grade::Ok);
        check(0, 900, 9, Grade::Ok);
        check(1, 1, 2, Grade::NonStrict);
        check(10, 900, 19, Grade::NonStrict);
        check(1, 0, 2, Grade::Fail);
        check(5000, 900, 5009, Grade::Fail);
    }

    #[test]
    fn shortens_long_tokens_on_a_character_boundary() {
        assert_eq!(shorten_connection("abc"), "abc");
        assert_eq!(shorten_connection("12345678"), "12345678");
        assert_eq!(shorten_connection("123456789"), "12345678…");
        assert_eq!(shorten_connection("ééééééééé"), "éééééééé…");
    }

    #[test]
    fn an_early_retry_is_a_call_before_the_last_deadline() {
        let mut tally = Tally::default();
        tally.record(0, Decision::Throttle { retry_after_s: 2 }, 60_000);
        tally.record(1_999, Decision::Throttle { retry_after_s: 1 }, 60_000);
        // The second 429 replaced the deadline: 1_999 + 1_000.
        tally.record(2_500, Decision::Throttle { retry_after_s: 1 }, 60_000);
        tally.record(3_500, Decision::Admit, 60_000);
        let report = tally.report("c", SimTime(3_500), SimDuration::from_secs(60), Some(100));
        assert_eq!(report.early_retries, 2);
        assert_eq!(report.admitted_after_first_429, 1);
        assert_eq!(report.grade, Grade::Fail);
        assert_eq!(report.retry_not_before, None);
    }
}
