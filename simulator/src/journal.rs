//! The journal of `/v1` calls: what each connection asked and what it got.
//!
//! Bounded by a number of entries and by bytes (`limits.journal_bytes_max`): the oldest entries
//! are dropped, and counted, so that a long load test or a flood of long URLs cannot exhaust
//! memory; the harness sizes it to keep every call of a scenario.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

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

/// An entry as the journal keeps it: the connection shared with the entries of the same token,
/// the method a constant when it is one of HTTP's, path and query in one allocation. Recording a
/// page request allocates once, and dropping the oldest entry frees once.
#[derive(Debug)]
struct Kept {
    seq: u64,
    at: SimTime,
    connection: Option<Arc<str>>,
    method: Method,
    target: Box<str>,
    status: u16,
    retry_after_s: Option<u64>,
    error: Option<Box<str>>,
}

#[derive(Debug)]
enum Method {
    Known(&'static str),
    Other(Box<str>),
}

impl Method {
    fn of(method: &str) -> Method {
        const KNOWN: [&str; 9] = [
            "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
        ];
        match KNOWN.iter().find(|&&m| m == method) {
            Some(m) => Method::Known(m),
            None => Method::Other(method.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Method::Known(m) => m,
            Method::Other(m) => m,
        }
    }
}

impl Kept {
    /// The memory the journal counts for this entry (the connection's text counted in every
    /// entry that shares it, as if each had its own copy).
    fn bytes(&self) -> usize {
        ENTRY_OVERHEAD_BYTES
            + self.connection.as_ref().map_or(0, |c| c.len())
            + self.method.as_str().len()
            + self.target.len()
            + self.error.as_ref().map_or(0, |e| e.len())
    }

    fn entry(&self) -> JournalEntry {
        JournalEntry {
            seq: self.seq,
            at: self.at,
            connection: self.connection.as_deref().map(str::to_owned),
            method: self.method.as_str().to_owned(),
            target: self.target.to_string(),
            status: self.status,
            retry_after_s: self.retry_after_s,
            error: self.error.as_deref().map(str::to_owned),
        }
    }
}

/// A request target as received: its path, and its query after a `?` when there is one.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl Target<'_> {
    fn to_boxed(self) -> Box<str> {
        match self.query {
            None => self.path.into(),
            Some(q) => {
                let mut t = String::with_capacity(self.path.len() + 1 + q.len());
                t.push_str(self.path);
                t.push('?');
                t.push_str(q);
                t.into_boxed_str()
            }
        }
    }
}

impl<'a> From<&'a str> for Target<'a> {
    /// A whole target (path and query), as one string.
    fn from(target: &'a str) -> Target<'a> {
        Target {
            path: target,
            query: None,
        }
    }
}

/// What every entry records about its call.
struct Call<'a> {
    at: SimTime,
    connection: Option<&'a str>,
    method: &'a str,
    target: Target<'a>,
    status: u16,
}

/// Connections the journal shares text for; past this many distinct tokens it starts again
/// (entries keep theirs), so a flood of tokens cannot grow it.
const CONNECTIONS_SHARED_MAX: usize = 4096;

/// Entries the queue has room for from the start (it grows past this up to the capacity).
const ENTRIES_PRESIZED_MAX: usize = 16_384;

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
    entries: VecDeque<Kept>,
    next_seq: u64,
    dropped: u64,
    bytes: usize,
    connections: HashSet<Arc<str>>,
}

impl Inner {
    fn new(capacity: usize) -> Inner {
        Inner {
            entries: VecDeque::with_capacity(capacity.min(ENTRIES_PRESIZED_MAX)),
            next_seq: 1,
            ..Inner::default()
        }
    }

    fn connection(&mut self, token: &str) -> Arc<str> {
        if let Some(shared) = self.connections.get(token) {
            return shared.clone();
        }
        if self.connections.len() >= CONNECTIONS_SHARED_MAX {
            self.connections.clear();
        }
        let shared = Arc::<str>::from(token);
        self.connections.insert(shared.clone());
        shared
    }
}

impl Journal {
    /// A journal of at most `capacity` entries and `bytes_max` bytes.
    pub fn new(capacity: usize, bytes_max: usize) -> Journal {
        let capacity = capacity.max(1);
        Journal {
            capacity,
            bytes_max,
            inner: Mutex::new(Inner::new(capacity)),
        }
    }

    pub fn record<'a>(
        &self,
        at: SimTime,
        connection: Option<&str>,
        method: &str,
        target: impl Into<Target<'a>>,
        status: u16,
        retry_after_s: Option<u64>,
    ) {
        let call = Call {
            at,
            connection,
            method,
            target: target.into(),
            status,
        };
        self.push(call, retry_after_s, None);
    }

    /// Records a refused call with the error message it was answered with (cut at
    /// `ERROR_CHARS_MAX` characters).
    pub fn record_refused<'a>(
        &self,
        at: SimTime,
        connection: Option<&str>,
        method: &str,
        target: impl Into<Target<'a>>,
        status: u16,
        error: &str,
    ) {
        let error = match error.char_indices().nth(ERROR_CHARS_MAX) {
            Some((cut, _)) => format!("{}…", &error[..cut]),
            None => error.to_owned(),
        };
        let call = Call {
            at,
            connection,
            method,
            target: target.into(),
            status,
        };
        self.push(call, None, Some(error.into_boxed_str()));
    }

    /// Keeps an entry (numbered here), dropping the oldest beyond the capacity or the bytes.
    fn push(&self, call: Call<'_>, retry_after_s: Option<u64>, error: Option<Box<str>>) {
        // Allocated before the lock is taken.
        let target = call.target.to_boxed();
        let method = Method::of(call.method);
        let mut inner = self.inner.lock();
        let entry = Kept {
            seq: inner.next_seq,
            at: call.at,
            connection: call.connection.map(|c| inner.connection(c)),
            method,
            target,
            status: call.status,
            retry_after_s,
            error,
        };
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
        inner.entries.range(start..).map(Kept::entry).collect()
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
        *self.inner.lock() = Inner::new(self.capacity);
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
            journal.record(SimTime(i), None, "GET", long.as_str(), 401, None);
        }
        assert!(journal.bytes() <= 64 * 1024, "{}", journal.bytes());
        assert_eq!(journal.len() as u64 + journal.dropped(), 100);
        assert_eq!(journal.since(0).last().map(|e| e.seq), Some(100));
        // One entry larger than the whole budget is still kept (the newest is never dropped).
        let huge = "y".repeat(100_000);
        journal.record(SimTime(0), None, "GET", huge.as_str(), 414, None);
        assert_eq!(journal.len(), 1);
    }

    #[test]
    fn an_entry_gives_back_what_was_recorded() {
        let journal = Journal::new(10, 1 << 20);
        let target = Target {
            path: "/v1/instances",
            query: Some("$top=1"),
        };
        journal.record(SimTime(1), Some("t"), "GET", target, 200, None);
        journal.record(SimTime(2), Some("t"), "PROPFIND", "/v1", 429, Some(7));
        journal.record_refused(SimTime(3), None, "POST", "/v1/x", 400, "bad");
        let entries = journal.since(0);
        let seen: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.connection.as_deref(),
                    e.method.as_str(),
                    e.target.as_str(),
                    e.status,
                    e.retry_after_s,
                    e.error.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (Some("t"), "GET", "/v1/instances?$top=1", 200, None, None),
                (Some("t"), "PROPFIND", "/v1", 429, Some(7), None),
                (None, "POST", "/v1/x", 400, None, Some("bad")),
            ]
        );
        assert_eq!(
            journal.bytes(),
            3 * ENTRY_OVERHEAD_BYTES + (1 + 3 + 20) + (1 + 8 + 3) + (4 + 5 + 3)
        );
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
