//! The journal of `/v1` calls: what each connection asked and what it got.
//!
//! Bounded (oldest entries are dropped, and counted) so that a long load test cannot exhaust
//! memory; the harness sizes it to keep every call of a scenario.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::Serialize;

use crate::time::SimTime;

/// One `/v1` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Position of the call since start (or the last reset), from 1.
    pub seq: u64,
    pub at: SimTime,
    /// The bearer token that identified the connection (`None` when the call had none).
    pub connection: Option<String>,
    pub method: String,
    /// Path and query as received.
    pub target: String,
    pub status: u16,
    /// The `Retry-After` the call got, for a `429`.
    pub retry_after_s: Option<u64>,
    /// The error message of a refused call (a `4xx` other than `429`), cut at 500 characters:
    /// what a client was told, for a harness that reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The longest error message the journal keeps.
const ERROR_CHARS_MAX: usize = 500;

#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    dropped: u64,
}

impl Journal {
    pub fn new(capacity: usize) -> Journal {
        Journal {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                next_seq: 1,
                ..Inner::default()
            }),
        }
    }

    pub fn record(
        &self,
        at: SimTime,
        connection: Option<&str>,
        method: &str,
        target: &str,
        status: u16,
        retry_after_s: Option<u64>,
    ) {
        let mut inner = self.inner.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.entries.len() == self.capacity {
            inner.entries.pop_front();
            inner.dropped += 1;
        }
        inner.entries.push_back(JournalEntry {
            seq,
            at,
            connection: connection.map(str::to_owned),
            method: method.to_owned(),
            target: target.to_owned(),
            status,
            retry_after_s,
            error: None,
        });
    }

    /// Records a refused call with the error message it was answered with.
    pub fn record_refused(
        &self,
        at: SimTime,
        connection: Option<&str>,
        method: &str,
        target: &str,
        status: u16,
        error: &str,
    ) {
        self.record(at, connection, method, target, status, None);
        let mut inner = self.inner.lock();
        if let Some(last) = inner.entries.back_mut()
            && last.target == target
            && last.status == status
        {
            last.error = Some(match error.char_indices().nth(ERROR_CHARS_MAX) {
                Some((cut, _)) => format!("{}…", &error[..cut]),
                None => error.to_owned(),
            });
        }
    }

    /// Entries with `seq > after` (all when `after` is 0), oldest first.
    pub fn since(&self, after: u64) -> Vec<JournalEntry> {
        let inner = self.inner.lock();
        // Entries are in `seq` order: skip the older ones without looking at each.
        let start = inner.entries.partition_point(|e| e.seq <= after);
        inner.entries.range(start..).cloned().collect()
    }

    /// The `seq` of the latest entry (0 when none).
    pub fn last_seq(&self) -> u64 {
        self.inner.lock().next_seq - 1
    }

    /// How many entries were dropped because the journal was full.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().dropped
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        *inner = Inner {
            next_seq: 1,
            ..Inner::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_entries_and_counts_the_dropped_ones() {
        let journal = Journal::new(2);
        for i in 0..3 {
            journal.record(SimTime(i), Some("t"), "GET", "/v1/instances", 200, None);
        }
        let entries = journal.since(0);
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(journal.dropped(), 1);
        assert_eq!(journal.since(2).len(), 1);
    }
}
