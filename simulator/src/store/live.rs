//! The parts of the data that the refresh lifecycle moves: segment members and measure values.
//! The event engine decides the numbers; the simulator copies them here after every engine call
//! (`Simulator::with_engine`), so the API answers what the last event said.

use std::sync::Arc;

use super::population::{Members, Population, bit_is_set};
use crate::tenant::spec::{TenantSpec, initial_segment_count};

/// A segment's current members.
#[derive(Debug, Clone)]
pub struct SegmentLive {
    pub name: String,
    pub count: u64,
    /// Member customer rows, ascending.
    pub members: Arc<Vec<u32>>,
    /// One bit per customer: whether it is a member.
    member_bits: Arc<[u64]>,
}

impl SegmentLive {
    fn new(name: String, count: u64, members: Members) -> SegmentLive {
        SegmentLive {
            name,
            count,
            members: Arc::new(members.rows),
            member_bits: members.bits.into(),
        }
    }

    /// Whether customer row `row` is a member.
    pub fn is_member(&self, row: u32) -> bool {
        bit_is_set(&self.member_bits, row)
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
                SegmentLive::new(seg.name.clone(), count, members)
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
            *live = SegmentLive::new(std::mem::take(&mut live.name), count, members);
        }
    }

    pub fn set_measure_values(&mut self, measure: usize, values: Vec<(Option<String>, f64)>) {
        if let Some(live) = self.measures.get_mut(measure) {
            live.values = values;
        }
    }
}
