//! A run-length list of call times, oldest first: the limiter's memory of counted calls and the
//! grader's memory of recent admitted calls.
//!
//! Calls made in the same millisecond share one entry, so the list never holds more entries than
//! there are distinct milliseconds in a window (60,000 for 60 s) however many calls arrive: a
//! million-call burst costs one entry.

use std::collections::VecDeque;

#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    /// `(time_ms, calls)`, strictly increasing in time.
    runs: VecDeque<(i64, u64)>,
    /// The sum of the counts.
    total: u64,
}

impl Runs {
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The time of the oldest call held.
    pub(crate) fn oldest_ms(&self) -> Option<i64> {
        self.runs.front().map(|&(t, _)| t)
    }

    /// Adds one call at `t_ms`, which is never earlier than the newest call held (the limiter
    /// clamps time first).
    pub(crate) fn push(&mut self, t_ms: i64) {
        match self.runs.back_mut() {
            Some(back) if back.0 >= t_ms => back.1 += 1,
            _ => self.runs.push_back((t_ms, 1)),
        }
        self.total += 1;
    }

    /// Forgets every call made at or before `cutoff_ms`.
    pub(crate) fn expire_through(&mut self, cutoff_ms: i64) {
        while let Some(&(t, n)) = self.runs.front() {
            if t > cutoff_ms {
                break;
            }
            self.runs.pop_front();
            self.total -= n;
        }
    }

    /// Keeps only the newest `cap` calls.
    pub(crate) fn keep_newest(&mut self, cap: u64) {
        while self.total > cap {
            let excess = self.total - cap;
            let Some(front) = self.runs.front_mut() else {
                break;
            };
            if front.1 <= excess {
                self.total -= front.1;
                self.runs.pop_front();
            } else {
                front.1 -= excess;
                self.total = cap;
            }
        }
    }

    /// Entries held (for the memory bound, not the call count).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(runs: &Runs, expected_total: u64, expected_oldest_ms: Option<i64>) {
        assert_eq!(runs.total(), expected_total);
        assert_eq!(runs.oldest_ms(), expected_oldest_ms);
    }

    #[test]
    fn calls_in_the_same_millisecond_share_an_entry() {
        let mut runs = Runs::default();
        for _ in 0..1000 {
            runs.push(5);
        }
        runs.push(6);
        check(&runs, 1001, Some(5));
        assert_eq!(runs.entries(), 2);
    }

    #[test]
    fn expiring_forgets_calls_at_or_before_the_cutoff() {
        let mut runs = Runs::default();
        for t in [1, 2, 2, 3] {
            runs.push(t);
        }
        runs.expire_through(2);
        check(&runs, 1, Some(3));
        runs.expire_through(10);
        check(&runs, 0, None);
    }

    #[test]
    fn keeping_the_newest_splits_a_shared_entry() {
        let mut runs = Runs::default();
        for t in [1, 1, 1, 2, 3] {
            runs.push(t);
        }
        runs.keep_newest(3);
        check(&runs, 3, Some(1));
        runs.keep_newest(2);
        check(&runs, 2, Some(2));
        runs.keep_newest(0);
        check(&runs, 0, None);
    }
}
