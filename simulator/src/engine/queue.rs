//! The event queue: every time-dependent behaviour of the engine is an item due at an instant.
//!
//! Items are ordered by `(due_at, seq)`, where `seq` grows with every push, so items due at the
//! same instant come out in the order they were queued and the whole queue has one total order.
//! Nothing here reads a clock: the caller says what "now" is.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::time::SimTime;

/// What happens when an item falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Due {
    /// The refresh schedule ticks: a scheduled full refresh is submitted.
    ScheduledRefresh,
    /// A refresh schedule created through the API is due (see `schedules`).
    CronTick { schedule: usize },
    /// A task attempt ends (its outcome was drawn when it started).
    AttemptEnd {
        job: usize,
        task: usize,
        attempt: u32,
    },
    /// A task that failed transiently starts its next attempt.
    TaskRetry { job: usize, task: usize },
    /// A delivery waiting out its back-off sends its next attempt.
    DeliveryRetry { delivery: usize },
    /// Deliveries held back by the `reorder` fault are released (if still held by that hold).
    ReleaseHeld { subscription: usize, hold: u64 },
    /// The `lateReplay` fault re-sends the event of a delivered delivery.
    LateReplay { delivery: usize },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Entry {
    due_at: SimTime,
    seq: u64,
    item: Due,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that the max-heap pops the earliest `(due_at, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_at, other.seq).cmp(&(self.due_at, self.seq))
    }
}

/// A min-queue of [`Due`] items keyed by `(due_at, seq)`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Queue {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
}

impl Queue {
    pub(super) fn push(&mut self, due_at: SimTime, item: Due) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { due_at, seq, item });
    }

    /// When the earliest item falls due.
    pub(super) fn next_due(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.due_at)
    }

    /// Removes and returns the earliest item if it is due at or before `now`.
    pub(super) fn pop_due(&mut self, now: SimTime) -> Option<(SimTime, Due)> {
        if self.heap.peek()?.due_at > now {
            return None;
        }
        self.heap.pop().map(|e| (e.due_at, e.item))
    }

    /// Drops every item for which `keep` is false (used when a job is cancelled or a
    /// subscription deleted, so that `next_due` never points at an item that would do nothing).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Due) -> bool) {
        self.heap.retain(|e| keep(&e.item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(pushes: &[(i64, u32)], expected: &[u32]) {
        let mut q = Queue::default();
        for &(at, tag) in pushes {
            q.push(
                SimTime(at),
                Due::TaskRetry {
                    job: 0,
                    task: tag as usize,
                },
            );
        }
        let mut out = Vec::new();
        while let Some((_, Due::TaskRetry { task, .. })) = q.pop_due(SimTime(i64::MAX)) {
            out.push(task as u32);
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn items_come_out_by_due_time_then_by_push_order() {
        check(&[(5, 1), (3, 2), (5, 3), (3, 4)], &[2, 4, 1, 3]);
    }

    #[test]
    fn items_due_later_than_now_stay_queued() {
        let mut q = Queue::default();
        q.push(SimTime(10), Due::ScheduledRefresh);
        assert_eq!(q.pop_due(SimTime(9)), None);
        assert_eq!(q.next_due(), Some(SimTime(10)));
        assert_eq!(
            q.pop_due(SimTime(10)),
            Some((SimTime(10), Due::ScheduledRefresh))
        );
        assert_eq!(q.next_due(), None);
    }

    proptest! {
        /// Law: popping yields the items sorted by due time, and items with equal due times in
        /// the order they were pushed (a stable sort of the pushes by due time).
        #[test]
        fn the_queue_is_a_stable_sort_by_due_time(times in prop::collection::vec(0i64..20, 0..40)) {
            let pushes: Vec<(i64, u32)> = times.iter().enumerate().map(|(i, &t)| (t, i as u32)).collect();
            let mut expected = pushes.clone();
            expected.sort_by_key(|&(t, _)| t);
            let expected: Vec<u32> = expected.into_iter().map(|(_, i)| i).collect();
            check(&pushes, &expected);
        }
    }
}
