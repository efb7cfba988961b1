//! A record list kept within a byte budget (`limits.history_bytes_max`,
//! `limits.jobs_history_bytes_max`): the oldest records are dropped first, and counted, so that
//! a long-running tenant's evaluation histories and job list stop growing.

/// What a record costs, about the size of its JSON in a view.
pub(crate) trait Weight {
    fn weight(&self) -> usize;
}

/// Records, oldest first, within `bytes_max` (the newest record is always kept).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct History<T: Clone> {
    /// A persistent vector (`imbl`): a clone shares it (`durable.rs` snapshots the engine).
    items: imbl::Vector<T>,
    bytes: usize,
    bytes_max: usize,
    dropped: u64,
}

impl<T: Weight + Clone> History<T> {
    /// A history holding `first`.
    pub(crate) fn new(bytes_max: usize, first: T) -> History<T> {
        let mut h = History::empty(bytes_max);
        h.push(first);
        h
    }

    pub(crate) fn empty(bytes_max: usize) -> History<T> {
        History {
            items: imbl::Vector::new(),
            bytes: 0,
            bytes_max,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        self.bytes += item.weight();
        self.items.push_back(item);
        while self.bytes > self.bytes_max && self.items.len() > 1 {
            self.drop_oldest();
        }
    }

    /// Drops the oldest record; `false` if there is none.
    pub(crate) fn drop_oldest(&mut self) -> bool {
        let Some(old) = self.items.pop_front() else {
            return false;
        };
        self.bytes -= old.weight();
        self.dropped += 1;
        true
    }

    /// Records dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl<T: Clone> History<T> {
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub(crate) fn last(&self) -> Option<&T> {
        self.items.back()
    }
}

impl<T: Clone> History<T> {
    pub(crate) fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }
}

/// Records dropped from the histories to stay within their byte budgets (`GET /_sim/state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryDrops {
    /// From the segments' evaluation histories (`limits.history_bytes_max` each).
    pub segment_evaluations: u64,
    /// From the measures' evaluation and output histories (`limits.history_bytes_max` each).
    pub measure_evaluations: u64,
    pub measure_outputs: u64,
    /// Finished jobs (`limits.jobs_history_bytes_max`).
    pub jobs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weight for String {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    #[test]
    fn drops_the_oldest_beyond_the_budget_and_counts_them() {
        let mut h = History::new(10, "aaaa".to_owned());
        h.push("bbbb".to_owned());
        h.push("cccc".to_owned());
        assert_eq!(h.to_vec(), ["bbbb", "cccc"]);
        assert_eq!(h.dropped(), 1);
        h.push("x".repeat(50));
        assert_eq!(
            h.to_vec().len(),
            1,
            "the newest record is kept even alone over the budget"
        );
        assert_eq!(h.dropped(), 3);
    }
}
