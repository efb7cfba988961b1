//! Pre-rendered JSON of generated rows, in chunks of consecutive rows, filled as rows are first
//! served.
//!
//! Rendering a Customer row field by field costs about half a microsecond; serving its bytes from
//! memory costs next to nothing. Paging through `Customer` with `$top`/`$skip` is the connector's
//! documented way to read data and the load every benchmark measures, so rows are rendered once,
//! [`ROWS_PER_CHUNK`] consecutive rows at a time into one buffer (`row,row,row`), and a page of
//! consecutive rows is then a couple of zero-copy slices of those buffers. Chunks are kept up to a
//! byte budget. Once a chunk has not fitted in it, the cache is full for good (nothing is ever
//! evicted): from then on a request for rows that are not cached renders only those rows, not
//! the whole chunks they fall in, and drops them.
//!
//! Generated rows never change (an update lives in the overlay, and the query layer bypasses the
//! cache for rows with an update in force), so nothing is ever invalidated.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

/// Rows rendered together.
pub const ROWS_PER_CHUNK: u64 = 128;

/// Consecutive rows rendered as `row,row,row`.
#[derive(Debug, Clone)]
pub struct Chunk {
    bytes: Bytes,
    /// `ends[i]`: where row `i` of the chunk ends (exclusive); row `i + 1` starts one byte later,
    /// after the comma.
    ends: Arc<[u32]>,
}

impl Chunk {
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize + 1
        }
    }

    /// Rows `from..to` of the chunk as one slice (`row,row`).
    fn slice(&self, from: usize, to: usize) -> Bytes {
        self.bytes
            .slice(self.start(from)..self.ends[to - 1] as usize)
    }
}

#[derive(Debug)]
pub struct RowCache {
    rows: u64,
    chunks: Box<[OnceLock<Chunk>]>,
    used_bytes: AtomicUsize,
    bytes_max: usize,
    /// Set when a rendered chunk did not fit in the budget.
    full: AtomicBool,
}

impl RowCache {
    pub fn new(rows: u64, bytes_max: usize) -> RowCache {
        let chunks = rows.div_ceil(ROWS_PER_CHUNK) as usize;
        RowCache {
            rows,
            chunks: (0..chunks).map(|_| OnceLock::new()).collect(),
            used_bytes: AtomicUsize::new(0),
            bytes_max,
            full: AtomicBool::new(false),
        }
    }

    /// Chunk `c`, rendering it with `render(row, out)` when it is not cached; `None` when it is
    /// not cached and the cache is full.
    fn chunk(&self, c: usize, render: &impl Fn(u64, &mut Vec<u8>)) -> Option<Chunk> {
        if let Some(chunk) = self.chunks[c].get() {
            return Some(chunk.clone());
        }
        if self.full.load(Ordering::Relaxed) {
            return None;
        }
        let first = c as u64 * ROWS_PER_CHUNK;
        let last = (first + ROWS_PER_CHUNK).min(self.rows);
        let mut ends = Vec::with_capacity((last - first) as usize);
        let out = render_rows(first, last, render, Some(&mut ends));
        let chunk = Chunk {
            bytes: Bytes::from(out),
            ends: ends.into(),
        };
        let len = chunk.bytes.len();
        // Reserve the bytes first so that concurrent fills cannot overshoot the budget.
        if self.used_bytes.fetch_add(len, Ordering::Relaxed) + len <= self.bytes_max {
            if self.chunks[c].set(chunk.clone()).is_err() {
                // Another request rendered the same chunk at the same time; theirs is kept.
                self.used_bytes.fetch_sub(len, Ordering::Relaxed);
            }
        } else {
            self.used_bytes.fetch_sub(len, Ordering::Relaxed);
            self.full.store(true, Ordering::Relaxed);
        }
        Some(chunk)
    }

    /// Rows `from..to` as slices of `row,row` to be joined with commas (one slice per chunk).
    pub fn rows(&self, from: u64, to: u64, render: &impl Fn(u64, &mut Vec<u8>)) -> Vec<Bytes> {
        let to = to.min(self.rows);
        let mut slices = Vec::new();
        let mut row = from;
        while row < to {
            let c = row / ROWS_PER_CHUNK;
            let chunk_end = ((c + 1) * ROWS_PER_CHUNK).min(to);
            let base = c * ROWS_PER_CHUNK;
            slices.push(match self.chunk(c as usize, render) {
                Some(chunk) => chunk.slice((row - base) as usize, (chunk_end - base) as usize),
                None => Bytes::from(render_rows(row, chunk_end, render, None)),
            });
            row = chunk_end;
        }
        slices
    }

    pub fn used_bytes(&self) -> usize {
        self.used_bytes.load(Ordering::Relaxed)
    }
}

/// Rows `first..last` rendered as `row,row`, with where each row ends pushed to `ends`.
fn render_rows(
    first: u64,
    last: u64,
    render: &impl Fn(u64, &mut Vec<u8>),
    mut ends: Option<&mut Vec<u32>>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(600 * (last - first) as usize);
    for row in first..last {
        if row > first {
            out.push(b',');
        }
        render(row, &mut out);
        if let Some(ends) = ends.as_deref_mut() {
            ends.push(out.len() as u32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    fn render(row: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{{\"r\":{row}}}").as_bytes());
    }

    fn joined(slices: Vec<Bytes>) -> String {
        slices
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn any_range_reads_as_its_rows_joined_by_commas() {
        let cache = RowCache::new(300, 1 << 20);
        for (from, to) in [
            (0, 1),
            (0, 128),
            (5, 133),
            (127, 129),
            (250, 300),
            (290, 400),
            (10, 10),
        ] {
            let expected: Vec<String> = (from..to.min(300))
                .map(|r| format!("{{\"r\":{r}}}"))
                .collect();
            assert_eq!(
                joined(cache.rows(from, to, &render)),
                expected.join(","),
                "{from}..{to}"
            );
        }
    }

    #[test]
    fn renders_each_chunk_once_within_the_budget() {
        let calls = AtomicU64::new(0);
        let counting = |row: u64, out: &mut Vec<u8>| {
            calls.fetch_add(1, Ordering::Relaxed);
            render(row, out);
        };
        let cache = RowCache::new(256, 1 << 20);
        cache.rows(0, 100, &counting);
        cache.rows(50, 60, &counting);
        assert_eq!(calls.load(Ordering::Relaxed), 128);
    }

    #[test]
    fn past_the_budget_only_the_rows_asked_for_are_rendered_and_nothing_is_kept() {
        let calls = AtomicU64::new(0);
        let counting = |row: u64, out: &mut Vec<u8>| {
            calls.fetch_add(1, Ordering::Relaxed);
            render(row, out);
        };
        let cache = RowCache::new(256, 10);
        // The first chunk is rendered whole and does not fit: from then on the cache is full.
        assert_eq!(joined(cache.rows(0, 2, &counting)), "{\"r\":0},{\"r\":1}");
        assert_eq!(calls.load(Ordering::Relaxed), 128);
        assert_eq!(joined(cache.rows(0, 2, &counting)), "{\"r\":0},{\"r\":1}");
        assert_eq!(calls.load(Ordering::Relaxed), 130);
        // Across a chunk boundary: two slices, three rows rendered.
        assert_eq!(
            joined(cache.rows(126, 129, &counting)),
            "{\"r\":126},{\"r\":127},{\"r\":128}"
        );
        assert_eq!(calls.load(Ordering::Relaxed), 133);
        assert_eq!(cache.used_bytes(), 0);
    }

    /// Chunks cached before the budget ran out are still served from memory; rows of other
    /// chunks read the same as when they are cached.
    #[test]
    fn a_full_cache_keeps_serving_what_it_holds() {
        let calls = AtomicU64::new(0);
        let counting = |row: u64, out: &mut Vec<u8>| {
            calls.fetch_add(1, Ordering::Relaxed);
            render(row, out);
        };
        // Room for the first chunk (1,169 bytes: 128 rows and their commas) and not for the
        // second as well (1,279 more).
        let cache = RowCache::new(1_000, 1_800);
        cache.rows(0, 1, &counting);
        cache.rows(128, 129, &counting);
        assert_eq!(calls.load(Ordering::Relaxed), 256);
        let kept = cache.used_bytes();
        assert_eq!(kept, 1_169);
        let expected: Vec<String> = (100..300).map(|r| format!("{{\"r\":{r}}}")).collect();
        assert_eq!(joined(cache.rows(100, 300, &counting)), expected.join(","));
        // Rows 100..128 came from the cache; 128..300 were rendered for the request.
        assert_eq!(calls.load(Ordering::Relaxed), 256 + 172);
        assert_eq!(cache.used_bytes(), kept);
    }
}
