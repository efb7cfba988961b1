//! The order in which each segment takes in customers as its member count grows.

/// The order in which a segment takes in customers as its count grows.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    /// Customer rows, first to join first.
    pub rank: Vec<u32>,
}

/// A bitmap of `rows` among `n` rows: bit `row % 64` of word `row / 64` is set for each.
pub fn member_bits(rows: &[u32], n: usize) -> Vec<u64> {
    let mut bits = vec![0u64; n.div_ceil(64)];
    for &row in rows {
        if let Some(word) = bits.get_mut(row as usize / 64) {
            *word |= 1 << (row % 64);
        }
    }
    bits
}

/// Whether bit `row` of a bitmap from [`member_bits`] is set.
pub fn bit_is_set(bits: &[u64], row: u32) -> bool {
    bits.get(row as usize / 64)
        .is_some_and(|w| w >> (row % 64) & 1 == 1)
}

impl Ranking {
    /// The members at `count`: the first `count` rows of the ranking, in row order.
    pub fn members(&self, count: usize) -> Vec<u32> {
        // Marking the members in a bitmap and reading it back in order is linear, where
        // sorting the first `count` rows is not (ten million customers: 1.25 MB of bits).
        let first = &self.rank[..count.min(self.rank.len())];
        let bits = member_bits(first, self.rank.len());
        let mut rows = Vec::with_capacity(first.len());
        for (i, &word) in bits.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                rows.push((i * 64) as u32 + rest.trailing_zeros());
                rest &= rest - 1;
            }
        }
        rows
    }

    /// The ranking of rows `0..n` by ascending `key(row)`, ties by row.
    ///
    /// Rows are sorted by the 32 most significant bits the keys use, with a stable radix sort
    /// (8 bytes a row: the key's bits and the row), so equal prefixes stay in row order; when the
    /// keys are wider than 32 bits (hashes), rows with an equal prefix are then put in key order
    /// (a few thousand short runs among ten million rows).
    pub(super) fn by_key(n: u32, key: impl Fn(u32) -> u64) -> Ranking {
        let widest = (0..n).map(&key).fold(0, u64::max);
        let shift = (u64::BITS - widest.leading_zeros()).saturating_sub(32);
        let mut entries: Vec<u64> = (0..n)
            .map(|row| (key(row) >> shift) << 32 | u64::from(row))
            .collect();
        radsort::sort_by_key(&mut entries, |e| (e >> 32) as u32);
        let mut rank: Vec<u32> = entries.iter().map(|&e| e as u32).collect();
        if shift > 0 {
            let mut start = 0;
            while start < entries.len() {
                let prefix = entries[start] >> 32;
                let mut end = start + 1;
                while end < entries.len() && entries[end] >> 32 == prefix {
                    end += 1;
                }
                if end - start > 1 {
                    rank[start..end].sort_unstable_by_key(|&row| (key(row), row));
                }
                start = end;
            }
        }
        Ranking { rank }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::mix64;

    /// Law: the ranking is every row, ordered by `(key, row)`, and the members at any count are
    /// the first rows of it, in row order.
    fn check(n: u32, key: impl Fn(u32) -> u64) {
        let ranking = Ranking::by_key(n, &key);
        let mut expected: Vec<(u64, u32)> = (0..n).map(|row| (key(row), row)).collect();
        expected.sort_unstable();
        let expected: Vec<u32> = expected.into_iter().map(|(_, row)| row).collect();
        assert_eq!(ranking.rank, expected);
        for count in [0, 1, n as usize / 3, n as usize, n as usize + 5] {
            let members = ranking.members(count);
            let mut first = expected[..count.min(n as usize)].to_vec();
            first.sort_unstable();
            assert_eq!(members, first, "count {count}");
            let bits = member_bits(&members, n as usize);
            for row in 0..n + 70 {
                assert_eq!(bit_is_set(&bits, row), first.binary_search(&row).is_ok());
            }
        }
    }

    #[test]
    fn ranks_by_narrow_keys_with_ties_by_row() {
        check(5_000, |row| u64::from(row * 7919 % 13));
        check(5_000, |row| u64::from(u32::MAX - row % 1000));
        check(5_000, |_| 0);
        check(0, u64::from);
    }

    #[test]
    fn ranks_by_wide_keys_with_shared_prefixes() {
        check(5_000, |row| mix64(u64::from(row)));
        // Equal upper halves, order decided by the lower ones; and equal wide keys.
        check(5_000, |row| {
            (7 << 40) | u64::from(mix64(u64::from(row)) as u8)
        });
        check(5_000, |row| u64::MAX - u64::from(row % 3));
    }
}
