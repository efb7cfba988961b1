//! A compact equality index: the 64-bit hash of a field's value and the row, sorted.
//!
//! Twelve bytes per row, whatever the field. A lookup binary-searches the hash and returns the
//! rows in row order; hash collisions only add candidates, which the query engine checks against
//! the filter anyway, so the index never needs the values themselves.

use std::hash::Hasher;

/// Hash of a field value as the index stores it.
pub fn value_hash(bytes: &[u8]) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(bytes);
    hasher.write_u8(0xFF);
    crate::ids::mix64(hasher.finish())
}

#[derive(Debug, Default, Clone)]
pub struct HashIndex {
    hashes: Vec<u64>,
    rows: Vec<u32>,
}

impl HashIndex {
    /// Builds the index from `(hash, row)` pairs (in any order).
    pub fn from_pairs(mut pairs: Vec<(u64, u32)>) -> HashIndex {
        pairs.sort_unstable();
        let (hashes, rows) = pairs.into_iter().unzip();
        HashIndex { hashes, rows }
    }

    /// Rows whose value hashes like `value`, in row order (a superset of the rows that equal it).
    pub fn lookup(&self, value: &[u8]) -> &[u32] {
        let h = value_hash(value);
        let start = self.hashes.partition_point(|&x| x < h);
        let end = start + self.hashes[start..].partition_point(|&x| x == h);
        &self.rows[start..end]
    }

    pub fn heap_bytes(&self) -> usize {
        self.hashes.capacity() * 8 + self.rows.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_row_with_a_value_in_row_order() {
        let values = ["a", "b", "a", "c", "a"];
        let index = HashIndex::from_pairs(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (value_hash(v.as_bytes()), i as u32))
                .collect(),
        );
        assert_eq!(index.lookup(b"a"), &[0, 2, 4]);
        assert_eq!(index.lookup(b"c"), &[3]);
        assert!(index.lookup(b"zz").is_empty());
    }
}
