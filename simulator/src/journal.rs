//! The journal of `/v1` calls: what each connection asked and what it got.
//!
//! Bounded by a number of entries and by bytes (`limits.journal_bytes_max`): the oldest entries
//! are dropped, and counted, so that a long load test or a flood of long URLs cannot exhaust
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

/// What an entry costs beyond its strings (the struct, the queue slot).
const ENTRY_OVERHEAD_BYTES: usize = 96;

impl JournalEntry {
    /// The memory the journal counts for this entry.
    fn bytes(&self) -> usize {
        ENTRY_OVERHEAD_BYTES
            + self.connection.as_ref().map_or(0, String::len)
            + self.method.len()
            + self.target.len()
            + self.error.as_ref().map_or(0, String::len)
    }
}

/// A stable short stand-in for a bearer token, shown by the control API instead of the token
/// (unless the admin token is presented): the same token always gives the same fingerprint, so
/// connections stay distinguishable, and a fingerprint does not give the token back.
pub fn fingerprint(token: &str) -> String {
    let h = crate::ids::hash_parts(0x1ce5_17e5, &["connection", token]);
    format!("token-{:012x}", h >> 16)
}

/// The longest error message the journal keeps.
const ERROR_CHARS_MAX: usize = 500;

#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    bytes_max: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    dropped: u64,
    bytes: usize,
}

impl Journal {
    /// A journal of at most `capacity` entries and `bytes_max` bytes.
    pub fn new(capacity: usize, bytes_max: usize) -> Journal {
        Journal {
            capacity: capacity.max(1),
            bytes_max,
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
        self.push(JournalEntry {
            seq: 0,
            at,
            connection: connection.map(str::to_owned),
            method: method.to_owned(),
            target: target.to_owned(),
            status,
            retry_after_s,
            error: None,
        });
    }

    /// Records a refused call with the error message it was answered with (cut at
    /// `ERROR_CHARS_MAX` characters).
    pub fn record_refused(
        &self,
        at: SimTime,
        connection: Option<&str>,
        method: &str,
        target: &str,
        status: u16,
        error: &str,
    ) {
        let error = match error.char_indices().nth(ERROR_CHARS_MAX) {
            Some((cut, _)) => format!("{}…", &error[..cut]),
            None => error.to_owned(),
        };
        self.push(JournalEntry {
            seq: 0,
            at,
            connection: connection.map(str::to_owned),
            method: method.to_owned(),
            target: target.to_owned(),
            status,
            retry_after_s: None,
            error: Some(error),
        });
    }

    /// Keeps `entry` (numbered here), dropping the oldest beyond the capacity or the bytes.
    fn push(&self, mut entry: JournalEntry) {
        let mut inner = self.inner.lock();
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        inner.bytes += entry.bytes();
        inner.entries.push_back(entry);
        while inner.entries.len() > self.capacity
            || (inner.bytes > self.bytes_max && inner.entries.len() > 1)
        {
            if let Some(old) = inner.entries.pop_front() {
                inner.bytes -= old.bytes();
                inner.dropped += 1;
            }
        }
    }

    /// The memory the kept entries take, as the journal counts it.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
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
        let journal = Journal::new(2, 1 << 20);
        for i in 0..3 {
            journal.record(SimTime(i), Some("t"), "GET", "/v1/instances", 200, None);
        }
        let entries = journal.since(0);
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(journal.dropped(), 1);
        assert_eq!(journal.since(2).len(), 1);
    }

    #[test]
    fn keeps_within_its_bytes_whatever_the_urls() {
        let journal = Journal::new(1_000_000, 64 * 1024);
        let long = format!("/v1/instances?{}", "x".repeat(15_000));
        for i in 0..100 {
            journal.record(SimTime(i), None, "GET", &long, 401, None);
        }
        assert!(journal.bytes() <= 64 * 1024, "{}", journal.bytes());
        assert_eq!(journal.len() as u64 + journal.dropped(), 100);
        assert_eq!(journal.since(0).last().map(|e| e.seq), Some(100));
        // One entry larger than the whole budget is still kept (the newest is never dropped).
        let huge = "y".repeat(100_000);
        journal.record(SimTime(0), None, "GET", &huge, 414, None);
        assert_eq!(journal.len(), 1);
    }

    #[test]
    fn a_fingerprint_is_stable_short_and_not_the_token() {
        let a = fingerprint("secret-token-1");
        assert_eq!(a, fingerprint("secret-token-1"));
        assert_ne!(a, fingerprint("secret-token-2"));
        assert!(!a.contains("secret"));
        assert_eq!(a.len(), "token-".len() + 12);
    }
}
