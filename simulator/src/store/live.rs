//! The parts of the data that the refresh lifecycle moves: segment members and measure values.
//! The event engine decides the numbers; the simulator copies them here after every engine call
//! (`Simulator::with_engine`), so the API answers what the last event said.

use std::sync::{Arc, Weak};

use super::population::{Population, bit_is_set, member_bits};
use crate::tenant::spec::{TenantSpec, initial_segment_count};

/// A segment's current members.
#[derive(Debug, Clone)]
pub struct SegmentLive {
    pub name: String,
    pub count: u64,
    /// Member customer rows, ascending.
    pub members: Arc<Vec<u32>>,
    /// One bit per customer: whether it is a member of the list `bits_of` points to.
    member_bits: Arc<[u64]>,
    /// The member list `member_bits` was built from. A `Weak` keeps its allocation, so the
    /// address is never reused while held: if `members` is replaced without new bits, the
    /// addresses differ and [`SegmentLive::is_member`] searches the list instead.
    bits_of: Weak<Vec<u32>>,
}

impl SegmentLive {
    pub(super) fn new(name: String, count: u64, members: Vec<u32>, customers: u32) -> SegmentLive {
        let members = Arc::new(members);
        SegmentLive {
            name,
            count,
            member_bits: member_bits(&members, customers as usize).into(),
            bits_of: Arc::downgrade(&members),
            members,
        }
    }

    /// Whether customer row `row` is a member.
    pub fn is_member(&self, row: u32) -> bool {
        if std::ptr::eq(self.bits_of.as_ptr(), Arc::as_ptr(&self.members)) {
            bit_is_set(&self.member_bits, row)
        } else {
            self.members.binary_search(&row).is_ok()
        }
    }
}

/// A business measure's current output.
#[derive(Debug, Clone)]
pub struct MeasureLive {
    pub name: String,
    pub dimension: Option<String>,
    /// `(dimension value, value)`; a scalar measure has one entry with no dimension value.
    pub values: Vec<(Option<String>, f64)>,
}

/// The parts of the data that the lifecycle changes.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub segments: Vec<SegmentLive>,
    pub measures: Vec<MeasureLive>,
}

impl Live {
    /// Every segment at its initial count and every measure at the value the population gives.
    pub fn initial(spec: &TenantSpec, population: &Population) -> Live {
        let segments = spec
            .segments
            .iter()
            .enumerate()
            .map(|(i, seg)| {
                let count = initial_segment_count(spec, i);
                let members = population.rankings[i].members(count as usize);
                SegmentLive::new(seg.name.clone(), count, members, population.n)
            })
            .collect();
        let measures = spec
            .measures
            .iter()
            .map(|m| MeasureLive {
                name: m.name.clone(),
                dimension: m.dimension.clone(),
                values: match &m.dimension {
                    None => vec![(None, population.measure_initial(m.source))],
                    Some(_) => population
                        .measure_initial_by_country(m.source)
                        .into_iter()
                        .map(|(k, v)| (Some(k), v))
                        .collect(),
                },
            })
            .collect();
        Live { segments, measures }
    }

    /// Sets a segment's member count (at most every customer); its member list follows at once.
    pub fn set_segment_count(&mut self, population: &Population, segment: usize, count: u64) {
        if let Some(live) = self.segments.get_mut(segment)
            && live.count != count
        {
            let count = count.min(u64::from(population.n));
            let members = population.rankings[segment].members(count as usize);
            let name = std::mem::take(&mut live.name);
            *live = SegmentLive::new(name, count, members, population.n);
        }
    }

    /// Installs a segment's members computed elsewhere (from `Population::rankings`, with no
    /// lock held): the simulator builds a large list and its bits outside its lock and installs
    /// them here.
    pub fn install_segment(&mut self, segment: usize, live: SegmentLive) {
        if let Some(slot) = self.segments.get_mut(segment) {
            *slot = live;
        }
    }

    pub fn set_measure_values(&mut self, measure: usize, values: Vec<(Option<String>, f64)>) {
        if let Some(live) = self.measures.get_mut(measure) {
            live.values = values;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Law: `is_member` answers whether the row is in `members`, from the bitmap while it was
    /// built from that list, and by searching the list once `members` is replaced on its own.
    #[test]
    fn is_member_follows_the_member_list_even_when_it_is_replaced_alone() {
        let mut live = SegmentLive::new("s".to_owned(), 3, vec![1, 64, 199], 200);
        let members_of = |live: &SegmentLive| (0..260).filter(|&r| live.is_member(r)).collect();
        let found: Vec<u32> = members_of(&live);
        assert_eq!(found, [1, 64, 199]);
        live.members = Arc::new(vec![0, 2, 65]);
        live.count = 3;
        let found: Vec<u32> = members_of(&live);
        assert_eq!(found, [0, 2, 65]);
        let clone = live.clone();
        let found: Vec<u32> = members_of(&clone);
        assert_eq!(found, [0, 2, 65]);
    }

    /// A segment installed from elsewhere (the simulator builds it outside its lock) keeps the
    /// bitmap it was built with, so `is_member` does not fall back to searching.
    #[test]
    fn an_installed_segment_answers_from_its_bitmap() {
        let mut live = Live {
            segments: vec![SegmentLive::new("s".to_owned(), 1, vec![5], 200)],
            measures: Vec::new(),
        };
        live.install_segment(0, SegmentLive::new("s".to_owned(), 2, vec![7, 150], 200));
        let segment = &live.segments[0];
        assert!(std::ptr::eq(
            segment.bits_of.as_ptr(),
            Arc::as_ptr(&segment.members)
        ));
        let found: Vec<u32> = (0..200).filter(|&r| segment.is_member(r)).collect();
        assert_eq!(found, [7, 150]);
    }
}
