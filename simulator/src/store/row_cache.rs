//! Pre-rendered JSON of generated rows, filled as rows are first served.
//!
//! Rendering a Customer row field by field costs about half a microsecond; copying its bytes costs
//! a few tens of nanoseconds. Paging through `Customer` is the connector's main use and the load
//! every benchmark measures, so each generated row's full JSON object is kept once rendered, up to
//! a byte budget (rows beyond it are rendered on every request). Generated rows never change (an
//! update lives in the overlay, and a row with an update in force bypasses the cache), so the
//! cache is never invalidated.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct RowCache {
    rows: Box<[OnceLock<Box<[u8]>>]>,
    used_bytes: AtomicUsize,
    bytes_max: usize,
}

impl RowCache {
    pub fn new(rows: usize, bytes_max: usize) -> RowCache {
        RowCache {
            rows: (0..rows).map(|_| OnceLock::new()).collect(),
            used_bytes: AtomicUsize::new(0),
            bytes_max,
        }
    }

    /// Appends the row's JSON to `out`, rendering it with `render` the first time (and caching it
    /// while the budget lasts).
    pub fn write(&self, row: u64, out: &mut Vec<u8>, render: impl FnOnce(&mut Vec<u8>)) {
        let Some(slot) = usize::try_from(row).ok().and_then(|r| self.rows.get(r)) else {
            render(out);
            return;
        };
        if let Some(bytes) = slot.get() {
            out.extend_from_slice(bytes);
            return;
        }
        let start = out.len();
        render(out);
        let len = out.len() - start;
        // Reserve the bytes first so that concurrent fills cannot overshoot the budget.
        if self.used_bytes.fetch_add(len, Ordering::Relaxed) + len <= self.bytes_max {
            if slot.set(out[start..].into()).is_err() {
                // Another request rendered the same row at the same time; keep its copy.
                self.used_bytes.fetch_sub(len, Ordering::Relaxed);
            }
        } else {
            self.used_bytes.fetch_sub(len, Ordering::Relaxed);
        }
    }

    pub fn used_bytes(&self) -> usize {
        self.used_bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_and_serves_the_copy() {
        let cache = RowCache::new(2, 1000);
        let mut calls = 0;
        for _ in 0..3 {
            let mut out = Vec::new();
            cache.write(1, &mut out, |o| {
                calls += 1;
                o.extend_from_slice(b"{\"a\":1}");
            });
            assert_eq!(out, b"{\"a\":1}");
        }
        assert_eq!(calls, 1);
        assert_eq!(cache.used_bytes(), 7);
    }

    #[test]
    fn stops_caching_at_the_budget_but_still_renders() {
        let cache = RowCache::new(3, 10);
        let mut calls = 0;
        for row in [0, 1, 1] {
            let mut out = Vec::new();
            cache.write(row, &mut out, |o| {
                calls += 1;
                o.extend_from_slice(b"12345678");
            });
            assert_eq!(out, b"12345678");
        }
        assert_eq!(
            calls, 3,
            "row 1 does not fit the budget and is rendered each time"
        );
    }
}
