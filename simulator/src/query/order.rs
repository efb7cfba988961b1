//! `$orderby`: the rows of one page in order, sorting no more than the page needs, and stopping
//! when the query's deadline passes.
//!
//! A page needs the first `skip + top` rows of the order. When that is small (the usual page),
//! a bounded heap keeps just those while the scan runs, so memory stays at the page's size
//! whatever the entity's. A deep page (a large `$skip`) sorts everything, with a comparison
//! that looks at the deadline now and then and, once it has passed, stops comparing keys.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::clock::Deadline;
use crate::odata::Direction;
use crate::schema::{AttrId, Value};
use crate::store::{Entity, Store};
use crate::time::SimTime;

/// Largest `skip + top` kept in a heap; a deeper page sorts every matching row.
const HEAP_ROWS_MAX: usize = 65_536;

/// Comparisons between two looks at the deadline while sorting.
const COMPARISONS_PER_CHECK: u32 = 4096;

/// How to order the rows of an entity.
pub(super) struct Order<'a> {
    pub(super) store: &'a Store,
    pub(super) entity: &'a Entity,
    pub(super) keys: &'a [(AttrId, Direction)],
    pub(super) now: SimTime,
}

/// A row with its sort keys.
struct Keyed<'k> {
    values: Vec<Value<'static>>,
    row: u64,
    keys: &'k [(AttrId, Direction)],
}

impl Keyed<'_> {
    /// The order of `$orderby`, ties broken by row (so it is total and stable).
    fn order(&self, other: &Self) -> Ordering {
        for (i, &(_, dir)) in self.keys.iter().enumerate() {
            let ord = self.values[i].sort_cmp(&other.values[i]);
            let ord = if dir == Direction::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord.is_ne() {
                return ord;
            }
        }
        self.row.cmp(&other.row)
    }
}

impl PartialEq for Keyed<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.order(other).is_eq()
    }
}

impl Eq for Keyed<'_> {}

impl PartialOrd for Keyed<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order(other)
    }
}

impl Order<'_> {
    fn keyed(&self, row: u64) -> Keyed<'_> {
        Keyed {
            values: self
                .keys
                .iter()
                .map(|&(attr, _)| self.store.value(self.entity, row, attr, self.now))
                .collect(),
            row,
            keys: self.keys,
        }
    }

    /// Rows `skip..skip + top` of `rows` in order, and how many rows there were. When the
    /// deadline passes the result is incomplete; the caller checks the deadline.
    pub(super) fn page(
        &self,
        rows: impl Iterator<Item = u64>,
        skip: usize,
        top: usize,
        deadline: &Deadline,
    ) -> (Vec<u64>, u64) {
        self.page_with(rows, skip, top, deadline, HEAP_ROWS_MAX)
    }

    fn page_with(
        &self,
        rows: impl Iterator<Item = u64>,
        skip: usize,
        top: usize,
        deadline: &Deadline,
        heap_rows_max: usize,
    ) -> (Vec<u64>, u64) {
        let wanted = skip.saturating_add(top);
        let mut total = 0u64;
        let sorted: Vec<Keyed<'_>> = if wanted <= heap_rows_max {
            // A max-heap of the `wanted` first rows: the last of them on top, evicted by any
            // row that comes before it.
            let mut heap = BinaryHeap::with_capacity(wanted.min(4096) + 1);
            for row in rows {
                total += 1;
                if wanted == 0 {
                    continue;
                }
                let keyed = self.keyed(row);
                if heap.len() < wanted {
                    heap.push(keyed);
                } else if heap.peek().is_some_and(|last| keyed < *last) {
                    heap.pop();
                    heap.push(keyed);
                }
            }
            heap.into_sorted_vec()
        } else {
            let mut all: Vec<Keyed<'_>> = rows
                .map(|row| {
                    total += 1;
                    self.keyed(row)
                })
                .collect();
            let mut comparisons = 0u32;
            let mut expired = false;
            all.sort_by(|a, b| {
                if expired {
                    return Ordering::Equal;
                }
                comparisons = comparisons.wrapping_add(1);
                if comparisons.is_multiple_of(COMPARISONS_PER_CHECK) && deadline.expired() {
                    // The sort cannot be left early; comparing nothing makes the rest of it a
                    // few linear passes. The caller sees the deadline and drops the result.
                    expired = true;
                    return Ordering::Equal;
                }
                a.order(b)
            });
            all
        };
        let rows = sorted
            .into_iter()
            .skip(skip)
            .take(top)
            .map(|k| k.row)
            .collect();
        (rows, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantSpec;

    const ROWS: u64 = 300;

    fn store() -> Store {
        let mut spec = TenantSpec::demo();
        spec.customers = ROWS as usize;
        Store::generate(&spec, 7)
    }

    /// The law: whether the page comes from the heap or from the full sort, it is the slice
    /// `skip..skip + top` of every row sorted by the keys, ties by row.
    #[test]
    fn a_page_is_the_slice_of_the_full_order_whichever_way_it_is_found() {
        let store = store();
        let e = store.entity(store.entity_index("Customer").unwrap());
        let attr = |name: &str| e.schema.attr(name).unwrap();
        let orders = [
            vec![(attr("City"), Direction::Asc)],
            vec![
                (attr("City"), Direction::Desc),
                (attr("FullName"), Direction::Asc),
            ],
            vec![(attr("Gender"), Direction::Desc)],
        ];
        for keys in &orders {
            let order = Order {
                store: &store,
                entity: e,
                keys,
                now: SimTime::DEFAULT_EPOCH,
            };
            let mut expected: Vec<Keyed<'_>> = (0..ROWS).map(|r| order.keyed(r)).collect();
            expected.sort_by(Keyed::order);
            let expected: Vec<u64> = expected.iter().map(|k| k.row).collect();
            for (skip, top) in [(0, 10), (37, 100), (290, 100), (300, 5), (0, 0)] {
                for heap_rows_max in [0, HEAP_ROWS_MAX] {
                    let (rows, total) =
                        order.page_with(0..ROWS, skip, top, &Deadline::unbounded(), heap_rows_max);
                    let end = (skip + top).min(ROWS as usize);
                    let start = skip.min(end);
                    assert_eq!(total, ROWS);
                    assert_eq!(rows, expected[start..end], "{keys:?} {skip} {top}");
                }
            }
        }
    }
}
