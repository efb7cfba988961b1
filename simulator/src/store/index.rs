//! A compact equality index: 32 bits of the hash of a field's value and the row, sorted.
//!
//! Eight bytes per row, whatever the field. A lookup binary-searches the hash and returns the
//! rows in row order; hash collisions only add candidates, which the query engine checks against
//! the filter anyway, so the index never needs the values themselves. With 32 bits, a lookup of a
//! value held by one row of ten million finds a stray candidate about once in 400 lookups.

use std::hash::Hasher;

/// Hash of a field value as the index stores it.
pub fn value_hash(bytes: &[u8]) -> u32 {
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(bytes);
    hasher.write_u8(0xFF);
    (crate::ids::mix64(hasher.finish()) >> 32) as u32
}

#[derive(Debug, Default, Clone)]
pub struct HashIndex {
    /// `hash << 32 | row`, ascending: by hash, then by row.
    entries: Vec<u64>,
}

impl HashIndex {
    /// Builds the index from every row's hash, `hashes[row]`.
    pub fn from_hashes(hashes: impl ExactSizeIterator<Item = u32>) -> HashIndex {
        let mut entries: Vec<u64> = hashes
            .zip(0u32..)
            .map(|(hash, row)| u64::from(hash) << 32 | u64::from(row))
            .collect();
        // A stable radix sort on the hash of entries in row order leaves equal hashes in row
        // order (a comparison sort of ten million entries takes several times as long).
        radsort::sort_by_key(&mut entries, |e| (e >> 32) as u32);
        HashIndex { entries }
    }

    /// Rows whose value hashes like `value`, in row order (a superset of the rows that equal it).
    pub fn lookup(&self, value: &[u8]) -> impl Iterator<Item = u32> + '_ {
        let h = u64::from(value_hash(value));
        let start = self.entries.partition_point(|&e| e >> 32 < h);
        let end = start + self.entries[start..].partition_point(|&e| e >> 32 == h);
        self.entries[start..end].iter().map(|&e| e as u32)
    }

    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_row_with_a_value_in_row_order() {
        let values = ["a", "b", "a", "c", "a"];
        let index = HashIndex::from_hashes(values.iter().map(|v| value_hash(v.as_bytes())));
        assert_eq!(index.lookup(b"a").collect::<Vec<_>>(), [0, 2, 4]);
        assert_eq!(index.lookup(b"c").collect::<Vec<_>>(), [3]);
        assert_eq!(index.lookup(b"zz").count(), 0);
    }

    #[test]
    fn rows_of_one_hash_stay_in_row_order_at_any_size() {
        // Few distinct values over many rows: every radix pass moves long runs of equal hashes.
        let values: Vec<String> = (0..50_000).map(|i| format!("v{}", (i * 7) % 13)).collect();
        let index = HashIndex::from_hashes(values.iter().map(|v| value_hash(v.as_bytes())));
        for k in 0..13 {
            let expected: Vec<u32> = (0..50_000u32).filter(|i| (i * 7) % 13 == k).collect();
            let found: Vec<u32> = index.lookup(format!("v{k}").as_bytes()).collect();
            assert_eq!(found, expected, "v{k}");
        }
    }
}
