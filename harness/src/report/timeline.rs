//! The calls a client made, per connection, on one time axis: what the call-limit plots of the
//! HTML report draw ([`super::plot`]).
//!
//! A case's log comes from the simulator's journal (the flow's calls, with their statuses and
//! `Retry-After`s); a load run's from the load driver, which records every answer it got. The
//! marking below follows the simulator's grading rules (`simulator::rate_limit` module docs):
//!
//! - an **early retry** is a call made before `t429 + Retry-After` of the connection's most
//!   recent 429; the deadline holds until a call arrives at or after it;
//! - the **window count** after a call is the number of admitted calls in `(t - window, t]`.

use serde::Serialize;
use simulator::SimTime;
use simulator::journal::JournalEntry;

/// One call of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// Milliseconds since the log's start.
    pub at_ms: i64,
    pub connection: String,
    pub status: u16,
    /// The `Retry-After` of a 429, in seconds.
    pub retry_after_s: Option<u64>,
}

/// Every call of a case or a load run, and the call limit they ran under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallLog {
    /// Calls per window, when the limit is on.
    pub calls_max: Option<u32>,
    /// The limit's window (the connector's 60 s when the limit is off).
    pub window_ms: i64,
    /// In time order.
    pub calls: Vec<CallRecord>,
}

/// One call, marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marked {
    pub at_ms: i64,
    pub status: u16,
    pub retry_after_s: Option<u64>,
    /// Made before the Retry-After of the connection's last 429 had passed.
    pub early: bool,
    /// Admitted calls in `(at_ms - window, at_ms]`, this one included if admitted.
    pub in_window: u64,
}

impl Marked {
    pub fn throttled(&self) -> bool {
        self.status == 429
    }
}

/// The window the reports use when the limit is off.
pub const DEFAULT_WINDOW_MS: i64 = 60_000;

impl CallLog {
    /// The calls of a journal that `keep` selects, timed from `start`.
    pub fn from_journal(
        journal: &[JournalEntry],
        start: SimTime,
        keep: impl Fn(&JournalEntry) -> bool,
        calls_max: Option<u32>,
        window_ms: Option<i64>,
    ) -> CallLog {
        let mut calls: Vec<CallRecord> = journal
            .iter()
            .filter(|e| keep(e))
            .map(|e| CallRecord {
                at_ms: e.at.as_millis() - start.as_millis(),
                connection: e.connection.clone().unwrap_or_default(),
                status: e.status,
                retry_after_s: e.retry_after_s,
            })
            .collect();
        calls.sort_by_key(|c| c.at_ms);
        CallLog {
            calls_max,
            window_ms: window_ms.unwrap_or(DEFAULT_WINDOW_MS).max(1),
            calls,
        }
    }

    /// The connections, in order of their first call.
    pub fn connections(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.calls {
            if !out.contains(&c.connection.as_str()) {
                out.push(&c.connection);
            }
        }
        out
    }

    /// One connection's calls, marked.
    pub fn marked(&self, connection: &str) -> Vec<Marked> {
        mark(
            self.calls.iter().filter(|c| c.connection == connection),
            self.window_ms,
        )
    }

    /// The end of the time axis: the last call, or one window when that is later.
    pub fn end_ms(&self) -> i64 {
        self.calls
            .iter()
            .map(|c| {
                let wait = c.retry_after_s.map_or(0, |s| s as i64 * 1000);
                c.at_ms + wait
            })
            .max()
            .unwrap_or(0)
            .max(self.window_ms)
    }
}

/// Marks calls (in time order) with early retries and window counts.
pub fn mark<'a>(calls: impl Iterator<Item = &'a CallRecord>, window_ms: i64) -> Vec<Marked> {
    let mut deadline: Option<i64> = None;
    let mut admitted: std::collections::VecDeque<i64> = std::collections::VecDeque::new();
    let mut out = Vec::new();
    for c in calls {
        let early = match deadline {
            Some(d) if c.at_ms < d => true,
            Some(_) => {
                deadline = None;
                false
            }
            None => false,
        };
        while admitted.front().is_some_and(|&t| t <= c.at_ms - window_ms) {
            admitted.pop_front();
        }
        if c.status == 429 {
            let wait = c.retry_after_s.unwrap_or(0).saturating_mul(1000);
            deadline = Some(
                c.at_ms
                    .saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)),
            );
        } else {
            admitted.push_back(c.at_ms);
        }
        out.push(Marked {
            at_ms: c.at_ms,
            status: c.status,
            retry_after_s: c.retry_after_s,
            early,
            in_window: admitted.len() as u64,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(at_ms: i64, status: u16, retry_after_s: Option<u64>) -> CallRecord {
        CallRecord {
            at_ms,
            connection: "c".to_owned(),
            status,
            retry_after_s,
        }
    }

    /// `(at, early, in_window)` of each call.
    fn check(calls: &[CallRecord], window_ms: i64, expected: &[(i64, bool, u64)]) {
        let got: Vec<(i64, bool, u64)> = mark(calls.iter(), window_ms)
            .iter()
            .map(|m| (m.at_ms, m.early, m.in_window))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_call_before_the_retry_after_deadline_is_early_and_one_at_it_is_not() {
        check(
            &[
                call(0, 200, None),
                call(10, 429, Some(2)),
                call(500, 429, Some(2)),
                call(2_500, 200, None),
                call(2_600, 200, None),
            ],
            1_000,
            &[
                (0, false, 1),
                (10, false, 1),
                (500, true, 1),
                (2_500, false, 1),
                (2_600, false, 2),
            ],
        );
    }

    #[test]
    fn the_window_count_drops_calls_a_whole_window_old() {
        check(
            &[
                call(0, 200, None),
                call(999, 200, None),
                call(1_000, 200, None),
            ],
            1_000,
            &[(0, false, 1), (999, false, 2), (1_000, false, 2)],
        );
    }
}
