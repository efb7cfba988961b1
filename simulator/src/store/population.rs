//! The generated base data of a tenant: customers, their source records and activities, their
//! measures, the search & filter index and the segment rankings.
//!
//! Everything is derived from the seed. A customer row holds only what cannot be recomputed
//! cheaply (its city, name indices, source membership, activity counts and measure totals); every
//! purely random field (phone, street, date of birth, ...) is recomputed from a per-row hash when
//! it is written. A million customers take about 40 bytes each plus 12 bytes per indexed field
//! and 8 per segment (see the README's benchmarks for measured numbers).

mod activities;
mod field;
mod hash;
mod measures;
mod ranking;
mod render;
mod rows;
mod source;

use std::thread;

pub use activities::Activity;
pub use field::CustomerField;
pub use ranking::Ranking;
pub use source::{ActivitySource, SourceInfo};

use super::index::{HashIndex, value_hash};
use crate::ids::{RowIdCodec, SourceKeyCodec, hash_parts};
use crate::tenant::names::Dictionaries;
use crate::tenant::spec::{ActivityKind, SegmentRank, TenantSpec};
use crate::time::{SimDuration, SimTime};
use activities::activity;
use hash::{SALT_BIRTH, SALT_GENDER, SALT_SEGMENT, created_before_epoch_s, row_hash};
use rows::{RowCtx, prefix_sums};

/// The generated data of one tenant.
#[derive(Debug)]
pub struct Population {
    pub seed: u64,
    pub n: u32,
    pub data_epoch: SimTime,
    pub dict: Dictionaries,
    pub sources: Vec<SourceInfo>,
    pub customer_ids: RowIdCodec,
    pub activity_ids: RowIdCodec,
    row_key: u64,
    city: Vec<u16>,
    first: Vec<u16>,
    last: Vec<u16>,
    source_mask: Vec<u16>,
    /// `act_counts[row * sources + s]`: activities of the row in source `s`.
    act_counts: Vec<u8>,
    /// `act_prefix[row]`: index of the row's first activity in `UnifiedActivity` order.
    act_prefix: Vec<u64>,
    total_spend_cents: Vec<u32>,
    purchase_count: Vec<u16>,
    /// Seconds before the data epoch of the last purchase; `u32::MAX` when none.
    last_purchase_s: Vec<u32>,
    points: Vec<u32>,
    /// The search & filter index: one hash index per indexed string field.
    pub indexes: Vec<(CustomerField, HashIndex)>,
    pub rankings: Vec<Ranking>,
}

impl Population {
    /// Generates the tenant's data. Deterministic for a spec and seed, whatever the number of
    /// threads: every row is computed from its own seed.
    pub fn generate(spec: &TenantSpec, seed: u64) -> Population {
        let n = spec.customers.min(u32::MAX as usize) as u32;
        let sources: Vec<SourceInfo> = spec
            .data_sources
            .iter()
            .map(|ds| {
                let contacts_entity = format!("{}_{}", ds.name, ds.contacts.table);
                SourceInfo {
                    name: ds.name.clone(),
                    alt_key_column: format!("{contacts_entity}_{}", ds.contacts.key),
                    key_codec: SourceKeyCodec::new(seed, &contacts_entity, &ds.contacts.key_prefix),
                    contacts_entity,
                    contacts_key: ds.contacts.key.clone(),
                    coverage: ds.contacts.coverage,
                    activity: ds.activities.as_ref().map(|a| ActivitySource {
                        entity: format!("{}_{}", ds.name, a.table),
                        key: a.key.clone(),
                        kind: a.activity,
                        per_customer: a.per_customer,
                        activity_name: format!("{}{}", ds.name, a.table),
                    }),
                }
            })
            .collect();
        let mut pop = Population {
            seed,
            n,
            data_epoch: spec.data_epoch,
            dict: Dictionaries::new(),
            customer_ids: RowIdCodec::new(seed, "Customer"),
            activity_ids: RowIdCodec::new(seed, "UnifiedActivity"),
            row_key: hash_parts(seed, &["rows"]),
            city: vec![0; n as usize],
            first: vec![0; n as usize],
            last: vec![0; n as usize],
            source_mask: vec![0; n as usize],
            act_counts: vec![0; n as usize * sources.len()],
            act_prefix: Vec::new(),
            total_spend_cents: vec![0; n as usize],
            purchase_count: vec![0; n as usize],
            last_purchase_s: vec![u32::MAX; n as usize],
            points: vec![0; n as usize],
            indexes: Vec::new(),
            rankings: Vec::new(),
            sources,
        };
        pop.fill_rows();
        pop.act_prefix = prefix_sums(&pop.act_counts, pop.sources.len());
        let indexed: Vec<CustomerField> = spec
            .indexed_fields
            .iter()
            .filter_map(|name| {
                CustomerField::FIXED
                    .iter()
                    .copied()
                    .find(|f| f.name().eq_ignore_ascii_case(name) && f.is_string())
            })
            .filter(|f| *f != CustomerField::CustomerId)
            .collect();
        let (indexes, rankings) = thread::scope(|scope| {
            let pop = &pop;
            let index_jobs: Vec<_> = indexed
                .iter()
                .map(|&field| scope.spawn(move || (field, pop.build_index(field))))
                .collect();
            let rank_jobs: Vec<_> = spec
                .segments
                .iter()
                .enumerate()
                .map(|(i, seg)| scope.spawn(move || pop.build_ranking(i, seg.rank_by)))
                .collect();
            let indexes = index_jobs
                .into_iter()
                .filter_map(|j| j.join().ok())
                .collect();
            let rankings = rank_jobs
                .into_iter()
                .filter_map(|j| j.join().ok())
                .collect();
            (indexes, rankings)
        });
        pop.indexes = indexes;
        pop.rankings = rankings;
        pop
    }

    /// Computes every row's stored columns, in parallel chunks.
    fn fill_rows(&mut self) {
        let n = self.n as usize;
        let threads = thread::available_parallelism()
            .map_or(1, |p| p.get())
            .clamp(1, 8);
        let chunk = n.div_ceil(threads).max(1);
        let s_count = self.sources.len();
        let ctx = RowCtx {
            row_key: self.row_key,
            dict: &self.dict,
            sources: &self.sources,
            epoch: self.data_epoch,
        };
        thread::scope(|scope| {
            let columns = self
                .city
                .chunks_mut(chunk)
                .zip(self.first.chunks_mut(chunk))
                .zip(self.last.chunks_mut(chunk))
                .zip(self.source_mask.chunks_mut(chunk))
                .zip(self.act_counts.chunks_mut(chunk * s_count.max(1)))
                .zip(self.total_spend_cents.chunks_mut(chunk))
                .zip(self.purchase_count.chunks_mut(chunk))
                .zip(self.last_purchase_s.chunks_mut(chunk))
                .zip(self.points.chunks_mut(chunk))
                .enumerate();
            for (
                i,
                ((((((((city, first), last), mask), counts), spend), purchases), last_p), pts),
            ) in columns
            {
                let ctx = &ctx;
                scope.spawn(move || {
                    for k in 0..city.len() {
                        let row = (i * chunk + k) as u32;
                        let r = ctx.row(row, &mut counts[k * s_count..(k + 1) * s_count]);
                        city[k] = r.city;
                        first[k] = r.first;
                        last[k] = r.last;
                        mask[k] = r.mask;
                        spend[k] = r.spend_cents;
                        purchases[k] = r.purchases;
                        last_p[k] = r.last_purchase_s;
                        pts[k] = r.points;
                    }
                });
            }
        });
    }

    fn build_index(&self, field: CustomerField) -> HashIndex {
        let mut buf = Vec::with_capacity(64);
        let pairs = (0..self.n)
            .map(|row| {
                buf.clear();
                self.write_customer_field(row, field, true, &mut buf);
                (value_hash(&buf), row)
            })
            .collect();
        HashIndex::from_pairs(pairs)
    }

    fn build_ranking(&self, segment: usize, rank_by: SegmentRank) -> Ranking {
        let salt = SALT_SEGMENT + segment as u64;
        Ranking::by_key((0..self.n).map(|row| {
            let r = row as usize;
            match rank_by {
                SegmentRank::TotalSpend => u64::from(u32::MAX - self.total_spend_cents[r]),
                SegmentRank::PurchaseCount => u64::from(u16::MAX - self.purchase_count[r]),
                // Longest since the last purchase first; customers who never bought lead.
                SegmentRank::Recency => u64::from(u32::MAX - self.last_purchase_s[r]),
                SegmentRank::Newest => u64::from(self.created_before_epoch_s(row)),
                SegmentRank::Random => self.row_hash(row, salt),
            }
        }))
    }

    pub fn row_hash(&self, row: u32, salt: u64) -> u64 {
        row_hash(self.row_key, row, salt)
    }

    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    pub fn has_source(&self, row: u32, source: usize) -> bool {
        self.source_mask[row as usize] & (1 << source) != 0
    }

    fn created_before_epoch_s(&self, row: u32) -> u32 {
        created_before_epoch_s(self.row_key, row)
    }

    pub fn created_on(&self, row: u32) -> SimTime {
        self.data_epoch - SimDuration::from_secs(i64::from(self.created_before_epoch_s(row)))
    }

    pub fn date_of_birth_days(&self, row: u32) -> i64 {
        let epoch_days = self.data_epoch.as_millis().div_euclid(86_400_000);
        let age_days = 18 * 365 + (self.row_hash(row, SALT_BIRTH) % (62 * 365)) as i64;
        epoch_days - age_days
    }

    /// The gender that the first name suggests; unknown (null) for about one profile in twenty.
    pub fn gender(&self, row: u32) -> Option<&'static str> {
        if self.row_hash(row, SALT_GENDER).is_multiple_of(20) {
            return None;
        }
        let words = self
            .dict
            .words(self.dict.country_of_city(self.city_index(row)).locale);
        let first = &words.first[self.first[row as usize] as usize % words.first.len()];
        Some(if first.female { "Female" } else { "Male" })
    }

    pub fn city_index(&self, row: u32) -> usize {
        self.city[row as usize] as usize
    }

    pub fn total_spend_cents(&self, row: u32) -> i64 {
        i64::from(self.total_spend_cents[row as usize])
    }

    pub fn purchase_count(&self, row: u32) -> u32 {
        u32::from(self.purchase_count[row as usize])
    }

    pub fn last_purchase(&self, row: u32) -> Option<SimTime> {
        let s = self.last_purchase_s[row as usize];
        (s != u32::MAX).then(|| self.data_epoch - SimDuration::from_secs(i64::from(s)))
    }

    pub fn loyalty_points(&self, row: u32) -> u32 {
        self.points[row as usize]
    }

    /// Number of activities in `UnifiedActivity`.
    pub fn activity_total(&self) -> u64 {
        self.act_prefix.last().copied().unwrap_or(0)
    }

    /// Activities of a customer in one source.
    pub fn activity_count(&self, row: u32, source: usize) -> u32 {
        u32::from(self.act_counts[row as usize * self.sources.len() + source])
    }

    /// The `UnifiedActivity` positions of a customer's activities.
    pub fn activity_range(&self, row: u32) -> std::ops::Range<u64> {
        self.act_prefix[row as usize]..self.act_prefix[row as usize + 1]
    }

    /// The activity at position `index` of `UnifiedActivity` (customer, then source, then time).
    pub fn activity_at(&self, index: u64) -> Option<Activity> {
        if index >= self.activity_total() {
            return None;
        }
        let row = self.act_prefix.partition_point(|&p| p <= index) - 1;
        let mut offset = index - self.act_prefix[row];
        for s in 0..self.sources.len() {
            let c = u64::from(self.activity_count(row as u32, s));
            if offset < c {
                return Some(self.activity(row as u32, s, offset as u32));
            }
            offset -= c;
        }
        None
    }

    /// The `UnifiedActivity` position of an activity.
    pub fn activity_index(&self, a: &Activity) -> u64 {
        let before: u64 = (0..a.source)
            .map(|s| u64::from(self.activity_count(a.customer, s)))
            .sum();
        self.act_prefix[a.customer as usize] + before + u64::from(a.ordinal)
    }

    /// Recomputes activity `ordinal` of a customer in a source.
    pub fn activity(&self, row: u32, source: usize, ordinal: u32) -> Activity {
        let count = self.activity_count(row, source);
        let kind = self.sources[source]
            .activity
            .as_ref()
            .map_or(ActivityKind::WebVisit, |a| a.kind);
        activity(
            self.row_key,
            self.data_epoch,
            row,
            source,
            ordinal,
            count,
            kind,
            self.created_before_epoch_s(row),
        )
    }

    /// Packs an activity's coordinates for its id.
    pub fn activity_code(a: &Activity) -> u64 {
        activities::code(a)
    }

    /// Finds an activity from its `ActivityId`.
    pub fn find_activity(&self, id: &str) -> Option<Activity> {
        let code = self.activity_ids.decode(id)?;
        let row = u32::try_from(code >> 24).ok()?;
        let source = ((code >> 16) & 0xFF) as usize;
        let ordinal = (code & 0xFFFF) as u32;
        (row < self.n && source < self.sources.len() && ordinal < self.activity_count(row, source))
            .then(|| self.activity(row, source, ordinal))
    }

    /// Finds a customer row from its `CustomerId`.
    pub fn find_customer(&self, id: &str) -> Option<u32> {
        let row = self.customer_ids.decode(id)?;
        u32::try_from(row).ok().filter(|r| *r < self.n)
    }

    /// Finds a customer row from its key in a source's contacts table.
    pub fn find_by_source_key(&self, source: usize, key: &str) -> Option<u32> {
        let row = self.sources.get(source)?.key_codec.decode(key)?;
        (row < self.n && self.has_source(row, source)).then_some(row)
    }

    /// Heap bytes held by the population (columns, indexes, rankings).
    pub fn heap_bytes(&self) -> usize {
        let columns = self.city.capacity() * 2
            + self.first.capacity() * 2
            + self.last.capacity() * 2
            + self.source_mask.capacity() * 2
            + self.act_counts.capacity()
            + self.act_prefix.capacity() * 8
            + self.total_spend_cents.capacity() * 4
            + self.purchase_count.capacity() * 2
            + self.last_purchase_s.capacity() * 4
            + self.points.capacity() * 4;
        let indexes: usize = self.indexes.iter().map(|(_, i)| i.heap_bytes()).sum();
        let rankings: usize = self
            .rankings
            .iter()
            .map(|r| r.rank.capacity() * 4 + r.pos.capacity() * 4)
            .sum();
        columns + indexes + rankings
    }

    /// The JSON-escaped text of a customer's activity title.
    pub fn write_activity_title(&self, a: &Activity, out: &mut Vec<u8>) {
        let kind = self.sources[a.source]
            .activity
            .as_ref()
            .map_or(ActivityKind::WebVisit, |s| s.kind);
        activities::write_title(kind, a, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(customers: usize, seed: u64) -> Population {
        let mut spec = TenantSpec::demo();
        spec.customers = customers;
        Population::generate(&spec, seed)
    }

    fn row_text(pop: &Population, row: u32) -> String {
        let mut out = Vec::new();
        for field in CustomerField::FIXED {
            pop.write_customer_field(row, field, false, &mut out);
            out.push(b'|');
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let (a, b) = (small(300, 7), small(300, 7));
        for row in 0..300 {
            assert_eq!(row_text(&a, row), row_text(&b, row));
        }
        assert_ne!(row_text(&a, 0), row_text(&small(300, 8), 0));
    }

    #[test]
    fn emails_are_made_from_the_name_and_cities_match_countries() {
        let pop = small(500, 42);
        for row in 0..500 {
            let email = pop.customer_text(row, CustomerField::EMail).unwrap();
            let last = pop.customer_text(row, CustomerField::LastName).unwrap();
            let folded: String = deunicode::deunicode(&last)
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            let local = email.split('@').next().unwrap();
            let first_folded: String =
                deunicode::deunicode(&pop.customer_text(row, CustomerField::FirstName).unwrap())
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
            assert!(
                local.contains(&folded) || local.starts_with(&first_folded),
                "{email} / {last}"
            );
            let city = &pop.dict.cities[pop.city_index(row)];
            assert_eq!(
                pop.customer_text(row, CustomerField::Country).unwrap(),
                pop.dict.countries[city.country].name
            );
        }
    }

    #[test]
    fn measures_agree_with_activities() {
        let pop = small(200, 3);
        for row in 0..200 {
            let mut spend = 0;
            let mut purchases = 0;
            for s in 0..pop.source_count() {
                for j in 0..pop.activity_count(row, s) {
                    let a = pop.activity(row, s, j);
                    assert!(a.time < pop.data_epoch && a.time > pop.created_on(row));
                    if let Some(c) = a.amount_cents {
                        spend += c;
                        purchases += 1;
                    }
                }
            }
            assert_eq!(pop.total_spend_cents(row), spend);
            assert_eq!(pop.purchase_count(row), purchases);
        }
    }

    #[test]
    fn activities_are_found_by_position_and_by_id() {
        let pop = small(100, 5);
        for index in 0..pop.activity_total() {
            let a = pop.activity_at(index).unwrap();
            assert_eq!(pop.activity_index(&a), index);
            let mut id = Vec::new();
            pop.activity_ids
                .write(Population::activity_code(&a), &mut id);
            assert_eq!(
                pop.find_activity(std::str::from_utf8(&id).unwrap()),
                Some(a)
            );
        }
        assert_eq!(pop.activity_at(pop.activity_total()), None);
    }

    #[test]
    fn rankings_are_permutations() {
        let pop = small(400, 9);
        for ranking in &pop.rankings {
            let mut sorted = ranking.rank.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..400).collect::<Vec<_>>());
            for (p, &row) in ranking.rank.iter().enumerate() {
                assert_eq!(ranking.pos[row as usize] as usize, p);
            }
        }
    }
}
