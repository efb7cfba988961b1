//! The order in which each segment takes in customers as its member count grows.

/// The order in which a segment takes in customers as its count grows.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    /// Customer rows, first to join first.
    pub rank: Vec<u32>,
    /// `pos[row]`: where the row stands in `rank` (the row is a member iff `pos < count`).
    pub pos: Vec<u32>,
}

impl Ranking {
    /// The members at `count`, in row order.
    pub fn members(&self, count: usize) -> Vec<u32> {
        let mut members = self.rank[..count.min(self.rank.len())].to_vec();
        members.sort_unstable();
        members
    }
}

impl Ranking {
    /// The ranking of rows `0..keys.len()` by ascending key, ties by row.
    pub(super) fn by_key(keys: impl Iterator<Item = u64>) -> Ranking {
        let mut keyed: Vec<(u64, u32)> = keys.zip(0u32..).collect();
        keyed.sort_unstable();
        let rank: Vec<u32> = keyed.into_iter().map(|(_, row)| row).collect();
        let mut pos = vec![0u32; rank.len()];
        for (p, &row) in rank.iter().enumerate() {
            pos[row as usize] = p as u32;
        }
        Ranking { rank, pos }
    }
}
