//! Counting what is not delivered yet (a shutdown reports it).

/// Deliveries not delivered yet, by where they wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Undelivered {
    /// Waiting in their subscription's queue, never sent.
    pub queued: usize,
    /// Sent at least once, waiting out a back-off before the next attempt.
    pub retrying: usize,
    /// An attempt was sent and has not been answered.
    pub in_flight: usize,
}

impl Undelivered {
    pub fn total(&self) -> usize {
        self.queued + self.retrying + self.in_flight
    }
}

impl std::fmt::Display for Undelivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} in flight, {} waiting to retry, {} queued",
            self.in_flight, self.retrying, self.queued
        )
    }
}
