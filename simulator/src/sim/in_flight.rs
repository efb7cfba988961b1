//! Counting the HTTP requests a server is handling, so that an observer (the harness) can tell
//! a client that is working from one that is quiet.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts one HTTP request as in flight while it lives (the server holds one per request, from
/// its head to its answer).
#[derive(Debug)]
pub struct RequestInFlight<'a> {
    counter: &'a AtomicUsize,
}

impl RequestInFlight<'_> {
    pub(super) fn start(counter: &AtomicUsize) -> RequestInFlight<'_> {
        counter.fetch_add(1, Ordering::SeqCst);
        RequestInFlight { counter }
    }
}

impl Drop for RequestInFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}
