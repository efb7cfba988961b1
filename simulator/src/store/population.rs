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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

pub use activities::Activity;
pub use field::CustomerField;
pub use ranking::{Ranking, bit_is_set, member_bits};
pub use source::{ActivitySource, SourceInfo};

use super::index::{HashIndex, value_hash};
use crate::ids::{RowIdCodec, SourceKeyCodec, hash_parts};
use crate::tenant::names::Dictionaries;
use crate::tenant::spec::{ActivityKind, SegmentRank, SegmentSpec, TenantSpec};
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
        let (indexes, rankings) = pop.build_lookups(&indexed, &spec.segments);
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

    /// Builds the search & filter indexes and the segment rankings, as many at a time as there
    /// are cores: each needs a column of every row and a sort, and building all of them at once
    /// would hold all their working memory at once (ten million customers: 160 MB each).
    fn build_lookups(
        &self,
        indexed: &[CustomerField],
        segments: &[SegmentSpec],
    ) -> (Vec<(CustomerField, HashIndex)>, Vec<Ranking>) {
        enum Built {
            Index(CustomerField, HashIndex),
            Ranking(Ranking),
        }
        let jobs = indexed.len() + segments.len();
        let build = |job: usize| match indexed.get(job) {
            Some(&field) => Built::Index(field, self.build_index(field)),
            None => {
                let segment = job - indexed.len();
                Built::Ranking(self.build_ranking(segment, segments[segment].rank_by))
            }
        };
        let next = AtomicUsize::new(0);
        let workers = thread::available_parallelism()
            .map_or(1, |p| p.get())
            .clamp(1, jobs.max(1));
        let mut built: Vec<(usize, Built)> = thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let job = next.fetch_add(1, Ordering::Relaxed);
                            if job >= jobs {
                                return done;
                            }
                            done.push((job, build(job)));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        built.sort_unstable_by_key(|(job, _)| *job);
        let mut indexes = Vec::with_capacity(indexed.len());
        let mut rankings = Vec::with_capacity(segments.len());
        for (_, b) in built {
            match b {
                Built::Index(field, index) => indexes.push((field, index)),
                Built::Ranking(ranking) => rankings.push(ranking),
            }
        }
        (indexes, rankings)
    }

    fn build_index(&self, field: CustomerField) -> HashIndex {
        if matches!(
            field,
            CustomerField::City | CustomerField::State | CustomerField::Country
        ) {
            // The value depends on the city alone: hash it once per city, from a row that lives
            // there (cities nobody lives in need no hash).
            let mut per_city: Vec<Option<u32>> = vec![None; self.dict.cities.len()];
            let mut buf = Vec::with_capacity(64);
            for row in 0..self.n {
                let slot = &mut per_city[self.city_index(row)];
                if slot.is_none() {
                    buf.clear();
                    self.write_customer_field(row, field, true, &mut buf);
                    *slot = Some(value_hash(&buf));
                }
            }
            return HashIndex::from_hashes(
                self.city
                    .iter()
                    .map(|&c| per_city[usize::from(c)].unwrap_or_default()),
            );
        }
        self.build_index_row_by_row(field)
    }

    fn build_index_row_by_row(&self, field: CustomerField) -> HashIndex {
        let mut buf = Vec::with_capacity(64);
        HashIndex::from_hashes((0..self.n).map(|row| {
            buf.clear();
            self.write_customer_field(row, field, true, &mut buf);
            value_hash(&buf)
        }))
    }

    fn build_ranking(&self, segment: usize, rank_by: SegmentRank) -> Ranking {
        let salt = SALT_SEGMENT + segment as u64;
        Ranking::by_key(self.n, |row| {
            let r = row as usize;
            match rank_by {
                SegmentRank::TotalSpend => u64::from(u32::MAX - self.total_spend_cents[r]),
                SegmentRank::PurchaseCount => u64::from(u16::MAX - self.purchase_count[r]),
                // Longest since the last purchase first; customers who never bought lead.
                SegmentRank::Recency => u64::from(u32::MAX - self.last_purchase_s[r]),
                SegmentRank::Newest => u64::from(self.created_before_epoch_s(row)),
                SegmentRank::Random => self.row_hash(row, salt),
            }
        })
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
        let rankings: usize = self.rankings.iter().map(|r| r.rank.capacity() * 4).sum();
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

    /// Law: the stored columns are what folding every activity of the row gives (the reference
    /// model draws each activity whole; generation draws only what the columns need).
    #[test]
    fn measures_agree_with_activities() {
        let mut spec = TenantSpec::demo();
        spec.customers = 2_000;
        // Every kind of activity, returns and web visits included.
        spec.data_sources[1].activities.as_mut().unwrap().activity = ActivityKind::Return;
        spec.data_sources[3].activities.as_mut().unwrap().activity = ActivityKind::WebVisit;
        for (spec, seed) in [(TenantSpec::demo(), 3), (spec, 11)] {
            let pop = Population::generate(&spec, seed);
            for row in 0..pop.n {
                let (mut spend, mut purchases, mut points) = (0, 0, 0);
                let mut last: Option<SimTime> = None;
                for s in 0..pop.source_count() {
                    for j in 0..pop.activity_count(row, s) {
                        let a = pop.activity(row, s, j);
                        assert!(a.time < pop.data_epoch && a.time > pop.created_on(row));
                        spend += a.amount_cents.unwrap_or(0);
                        points += a.points;
                        let kind = pop.sources[s].activity.as_ref().unwrap().kind;
                        if kind == ActivityKind::Purchase {
                            purchases += 1;
                            last = last.max(Some(a.time));
                        }
                    }
                }
                assert_eq!(pop.total_spend_cents(row), spend.max(0), "row {row}");
                assert_eq!(pop.purchase_count(row), purchases, "row {row}");
                assert_eq!(pop.loyalty_points(row), points, "row {row}");
                // Stored in whole seconds before the epoch.
                let whole_s = |t: SimTime| (pop.data_epoch - t).as_millis() / 1000;
                assert_eq!(
                    pop.last_purchase(row).map(whole_s),
                    last.map(whole_s),
                    "row {row}"
                );
            }
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
        }
    }

    /// The City, State and Country indexes hash once per city; they hold what hashing every
    /// row's value gives.
    #[test]
    fn indexes_of_city_fields_equal_the_row_by_row_build() {
        let pop = small(3_000, 4);
        for field in [
            CustomerField::City,
            CustomerField::State,
            CustomerField::Country,
        ] {
            let fast = pop.build_index(field);
            let slow = pop.build_index_row_by_row(field);
            for row in (0..3_000).step_by(7) {
                let value = pop.customer_text(row, field).unwrap();
                let found: Vec<u32> = fast.lookup(value.as_bytes()).collect();
                assert!(found.contains(&row), "{field:?} {value}");
                assert_eq!(found, slow.lookup(value.as_bytes()).collect::<Vec<_>>());
            }
        }
    }
}
