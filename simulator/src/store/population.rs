//! The generated base data of a tenant: customers, their source records and activities, their
//! measures, the search & filter index and the segment rankings.
//!
//! Everything is derived from the seed. A customer row holds only what cannot be recomputed
//! cheaply (its city, name indices, source membership, activity counts and measure totals); every
//! purely random field (phone, street, date of birth, ...) is recomputed from a per-row hash when
//! it is written. A million customers take about 40 bytes each plus 12 bytes per indexed field
//! and 8 per segment (see the README's benchmarks for measured numbers).

use std::thread;

use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::ids::{RowIdCodec, SourceKeyCodec, hash_parts, mix64};
use crate::store::index::{HashIndex, value_hash};
use crate::store::json::{push_json_str_inner, push_u64};
use crate::tenant::names::Dictionaries;
use crate::tenant::spec::{ActivityKind, MeasureSource, SegmentRank, TenantSpec};
use crate::time::{SimDuration, SimTime, write_date};

/// The fixed attributes of `Customer`, in serialization order (alternate keys follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerField {
    CustomerId,
    FirstName,
    LastName,
    FullName,
    EMail,
    Telephone,
    DateOfBirth,
    Gender,
    StreetAddress,
    City,
    State,
    Country,
    PostCode,
    CreatedOn,
    /// The alternate key of data source `n`.
    AltKey(usize),
}

impl CustomerField {
    pub const FIXED: [CustomerField; 14] = [
        CustomerField::CustomerId,
        CustomerField::FirstName,
        CustomerField::LastName,
        CustomerField::FullName,
        CustomerField::EMail,
        CustomerField::Telephone,
        CustomerField::DateOfBirth,
        CustomerField::Gender,
        CustomerField::StreetAddress,
        CustomerField::City,
        CustomerField::State,
        CustomerField::Country,
        CustomerField::PostCode,
        CustomerField::CreatedOn,
    ];

    /// The field of attribute `attr` of the Customer schema.
    pub fn from_attr(attr: usize) -> CustomerField {
        Self::FIXED
            .get(attr)
            .copied()
            .unwrap_or_else(|| CustomerField::AltKey(attr - Self::FIXED.len()))
    }

    pub fn attr(self) -> usize {
        match self {
            CustomerField::AltKey(s) => Self::FIXED.len() + s,
            field => Self::FIXED.iter().position(|f| *f == field).unwrap_or(0),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CustomerField::CustomerId => "CustomerId",
            CustomerField::FirstName => "FirstName",
            CustomerField::LastName => "LastName",
            CustomerField::FullName => "FullName",
            CustomerField::EMail => "EMail",
            CustomerField::Telephone => "Telephone",
            CustomerField::DateOfBirth => "DateOfBirth",
            CustomerField::Gender => "Gender",
            CustomerField::StreetAddress => "StreetAddress",
            CustomerField::City => "City",
            CustomerField::State => "State",
            CustomerField::Country => "Country",
            CustomerField::PostCode => "PostCode",
            CustomerField::CreatedOn => "CreatedOn",
            CustomerField::AltKey(_) => "",
        }
    }

    pub fn is_string(self) -> bool {
        !matches!(self, CustomerField::DateOfBirth | CustomerField::CreatedOn)
    }
}

/// A data source as the data layer sees it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub name: String,
    /// `PoS_Contacts`
    pub contacts_entity: String,
    /// `ContactId`
    pub contacts_key: String,
    /// `PoS_Contacts_ContactId`
    pub alt_key_column: String,
    pub key_codec: SourceKeyCodec,
    pub coverage: f64,
    pub activity: Option<ActivitySource>,
}

#[derive(Debug, Clone)]
pub struct ActivitySource {
    /// `PoS_Purchases`
    pub entity: String,
    /// `PurchaseId`
    pub key: String,
    pub kind: ActivityKind,
    pub per_customer: f64,
    /// The activity definition name (`PoSPurchases`).
    pub activity_name: String,
}

/// One activity, recomputed from its coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    pub customer: u32,
    pub source: usize,
    pub ordinal: u32,
    pub time: SimTime,
    /// Purchase or return amount in hundredths; `None` for other kinds.
    pub amount_cents: Option<i64>,
    /// Loyalty points earned; 0 for other kinds.
    pub points: u32,
    /// A per-activity random number for titles.
    pub variant: u64,
}

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

const SALT_ROW: u64 = 0x01;
const SALT_EMAIL: u64 = 0x02;
const SALT_PHONE: u64 = 0x03;
const SALT_STREET: u64 = 0x04;
const SALT_POSTCODE: u64 = 0x05;
const SALT_BIRTH: u64 = 0x06;
const SALT_GENDER: u64 = 0x07;
const SALT_CREATED: u64 = 0x08;
const SALT_SEGMENT: u64 = 0x100;

/// Customers are created during the five years before the data epoch.
const CREATED_SPAN_S: u64 = 5 * 365 * 86_400;
/// A customer is "active" with a purchase in the last 90 days.
const ACTIVE_WINDOW_S: u32 = 90 * 86_400;

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
        let mut keyed: Vec<(u64, u32)> = (0..self.n)
            .map(|row| {
                let r = row as usize;
                let key = match rank_by {
                    SegmentRank::TotalSpend => u64::from(u32::MAX - self.total_spend_cents[r]),
                    SegmentRank::PurchaseCount => u64::from(u16::MAX - self.purchase_count[r]),
                    // Longest since the last purchase first; customers who never bought lead.
                    SegmentRank::Recency => u64::from(u32::MAX - self.last_purchase_s[r]),
                    SegmentRank::Newest => u64::from(self.created_before_epoch_s(row)),
                    SegmentRank::Random => self.row_hash(row, salt),
                };
                (key, row)
            })
            .collect();
        keyed.sort_unstable();
        let rank: Vec<u32> = keyed.into_iter().map(|(_, row)| row).collect();
        let mut pos = vec![0u32; self.n as usize];
        for (p, &row) in rank.iter().enumerate() {
            pos[row as usize] = p as u32;
        }
        Ranking { rank, pos }
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
        (u64::from(a.customer) << 24) | ((a.source as u64) << 16) | u64::from(a.ordinal)
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

    /// Appends one Customer field: raw text (`raw = true`, for hashing and comparisons) or as a
    /// JSON value (quoted and escaped, `null` when absent).
    pub fn write_customer_field(
        &self,
        row: u32,
        field: CustomerField,
        raw: bool,
        out: &mut Vec<u8>,
    ) {
        let city = self.city_index(row);
        let country = self.dict.country_of_city(city);
        let words = self.dict.words(country.locale);
        let first = &words.first[self.first[row as usize] as usize % words.first.len()];
        let last = &words.last[self.last[row as usize] as usize % words.last.len()];
        let quote = |out: &mut Vec<u8>| {
            if !raw {
                out.push(b'"');
            }
        };
        match field {
            CustomerField::CustomerId => {
                quote(out);
                self.customer_ids.write(u64::from(row), out);
                quote(out);
            }
            CustomerField::FirstName => {
                quote(out);
                out.extend_from_slice(first.bytes(raw));
                quote(out);
            }
            CustomerField::LastName => {
                quote(out);
                out.extend_from_slice(last.bytes(raw));
                quote(out);
            }
            CustomerField::FullName => {
                quote(out);
                out.extend_from_slice(first.bytes(raw));
                out.push(b' ');
                out.extend_from_slice(last.bytes(raw));
                quote(out);
            }
            CustomerField::EMail => {
                quote(out);
                let h = self.row_hash(row, SALT_EMAIL);
                let (f, l) = (first.email.as_bytes(), last.email.as_bytes());
                match h % 7 {
                    0 | 1 => [f, b".", l].iter().for_each(|p| out.extend_from_slice(p)),
                    2 => [f, l].iter().for_each(|p| out.extend_from_slice(p)),
                    3 => [&f[..1], b".", l]
                        .iter()
                        .for_each(|p| out.extend_from_slice(p)),
                    4 => [f, b"_", l].iter().for_each(|p| out.extend_from_slice(p)),
                    5 => {
                        [f, b".", l].iter().for_each(|p| out.extend_from_slice(p));
                        push_u64(10 + (h >> 8) % 90, out);
                    }
                    _ => {
                        out.extend_from_slice(f);
                        push_u64(10 + (h >> 8) % 90, out);
                    }
                }
                out.push(b'@');
                let domains = &country.email_domains;
                out.extend_from_slice(
                    domains[((h >> 16) % domains.len() as u64) as usize].as_bytes(),
                );
                quote(out);
            }
            CustomerField::Telephone => {
                quote(out);
                self.dict
                    .write_phone(city, self.row_hash(row, SALT_PHONE), out);
                quote(out);
            }
            CustomerField::DateOfBirth => {
                quote(out);
                write_date(self.date_of_birth_days(row), out);
                out.extend_from_slice(b"T00:00:00Z");
                quote(out);
            }
            CustomerField::Gender => match self.gender(row) {
                Some(g) => {
                    quote(out);
                    out.extend_from_slice(g.as_bytes());
                    quote(out);
                }
                None if !raw => out.extend_from_slice(b"null"),
                None => {}
            },
            CustomerField::StreetAddress => {
                quote(out);
                let h = self.row_hash(row, SALT_STREET);
                let number = 1 + (h % 1998) as u32;
                self.dict.write_street(
                    city,
                    number,
                    ((h >> 16) % 4096) as usize,
                    ((h >> 32) % 64) as usize,
                    raw,
                    out,
                );
                quote(out);
            }
            CustomerField::City => {
                let c = &self.dict.cities[city];
                if raw {
                    out.extend_from_slice(c.name.as_bytes());
                } else {
                    out.extend_from_slice(&c.name_json);
                }
            }
            CustomerField::State => {
                let c = &self.dict.cities[city];
                if raw {
                    out.extend_from_slice(c.state.as_bytes());
                } else {
                    out.extend_from_slice(&c.state_json);
                }
            }
            CustomerField::Country => {
                if raw {
                    out.extend_from_slice(country.name.as_bytes());
                } else {
                    out.extend_from_slice(&country.name_json);
                }
            }
            CustomerField::PostCode => {
                quote(out);
                self.dict
                    .write_postcode(city, self.row_hash(row, SALT_POSTCODE), out);
                quote(out);
            }
            CustomerField::CreatedOn => {
                quote(out);
                self.created_on(row).write_rfc3339(out);
                quote(out);
            }
            CustomerField::AltKey(s) => {
                if self.has_source(row, s) {
                    quote(out);
                    self.sources[s].key_codec.write(row, out);
                    quote(out);
                } else if !raw {
                    out.extend_from_slice(b"null");
                }
            }
        }
    }

    /// A customer field as text (`None` when absent); allocates, so off the hot path only.
    pub fn customer_text(&self, row: u32, field: CustomerField) -> Option<String> {
        if matches!(field, CustomerField::Gender) && self.gender(row).is_none() {
            return None;
        }
        if let CustomerField::AltKey(s) = field
            && !self.has_source(row, s)
        {
            return None;
        }
        let mut out = Vec::with_capacity(48);
        self.write_customer_field(row, field, true, &mut out);
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    /// The first value of a business measure, computed from the data.
    pub fn measure_initial(&self, source: MeasureSource) -> f64 {
        let revenue = || {
            self.total_spend_cents
                .iter()
                .map(|&c| f64::from(c))
                .sum::<f64>()
                / 100.0
        };
        match source {
            MeasureSource::TotalRevenue => round2(revenue()),
            MeasureSource::ActiveCustomers => self
                .last_purchase_s
                .iter()
                .filter(|&&s| s <= ACTIVE_WINDOW_S)
                .count() as f64,
            MeasureSource::CustomerCount => f64::from(self.n),
            MeasureSource::AverageOrderValue => {
                let orders: f64 = self.purchase_count.iter().map(|&c| f64::from(c)).sum();
                if orders == 0.0 {
                    0.0
                } else {
                    round2(revenue() / orders)
                }
            }
        }
    }

    /// The first values of a business measure per country, in country-table order.
    pub fn measure_initial_by_country(&self, source: MeasureSource) -> Vec<(String, f64)> {
        let k = self.dict.countries.len();
        let (mut revenue, mut customers, mut active, mut orders) =
            (vec![0f64; k], vec![0f64; k], vec![0f64; k], vec![0f64; k]);
        for row in 0..self.n {
            let c = self.dict.cities[self.city_index(row)].country;
            revenue[c] += f64::from(self.total_spend_cents[row as usize]) / 100.0;
            customers[c] += 1.0;
            orders[c] += f64::from(self.purchase_count[row as usize]);
            if self.last_purchase_s[row as usize] <= ACTIVE_WINDOW_S {
                active[c] += 1.0;
            }
        }
        (0..k)
            .map(|c| {
                let v = match source {
                    MeasureSource::TotalRevenue => round2(revenue[c]),
                    MeasureSource::ActiveCustomers => active[c],
                    MeasureSource::CustomerCount => customers[c],
                    MeasureSource::AverageOrderValue if orders[c] > 0.0 => {
                        round2(revenue[c] / orders[c])
                    }
                    MeasureSource::AverageOrderValue => 0.0,
                };
                (self.dict.countries[c].name.to_owned(), v)
            })
            .collect()
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
        let v = a.variant;
        match kind {
            ActivityKind::Purchase => {
                out.extend_from_slice(b"Order of ");
                push_u64(1 + v % 6, out);
                out.extend_from_slice(if v.is_multiple_of(6) {
                    b" item"
                } else {
                    b" items"
                });
            }
            ActivityKind::Return => {
                out.extend_from_slice(b"Return of ");
                push_u64(1 + v % 2, out);
                out.extend_from_slice(if v.is_multiple_of(2) {
                    b" item"
                } else {
                    b" items"
                });
            }
            ActivityKind::LoyaltyPoints => {
                out.extend_from_slice(b"Earned ");
                push_u64(u64::from(a.points), out);
                out.extend_from_slice(b" points");
            }
            ActivityKind::EmailOpen => {
                out.extend_from_slice(b"Opened: ");
                push_json_str_inner(CAMPAIGNS[(v % CAMPAIGNS.len() as u64) as usize], out);
            }
            ActivityKind::WebVisit => {
                out.extend_from_slice(b"Visited ");
                push_json_str_inner(PAGES[(v % PAGES.len() as u64) as usize], out);
            }
        }
    }
}

const CAMPAIGNS: &[&str] = &[
    "Spring Sale",
    "Summer Collection",
    "Back to School",
    "Black Friday Preview",
    "Holiday Gift Guide",
    "New Year, New You",
    "Loyalty Double Points Week",
    "Member Exclusive Offers",
];

const PAGES: &[&str] = &[
    "/home",
    "/sale",
    "/new-arrivals",
    "/account",
    "/stores",
    "/gift-cards",
];

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn row_hash(row_key: u64, row: u32, salt: u64) -> u64 {
    mix64(row_key ^ u64::from(row).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.rotate_left(40))
}

fn created_before_epoch_s(row_key: u64, row: u32) -> u32 {
    // At least a day old, so that every activity lies strictly between creation and the epoch.
    (86_400 + row_hash(row_key, row, SALT_CREATED) % (CREATED_SPAN_S - 86_400)) as u32
}

#[expect(
    clippy::too_many_arguments,
    reason = "the coordinates of an activity, passed flat on a hot path"
)]
fn activity(
    row_key: u64,
    epoch: SimTime,
    row: u32,
    source: usize,
    ordinal: u32,
    count: u32,
    kind: ActivityKind,
    created_s: u32,
) -> Activity {
    let h = row_hash(
        row_key,
        row,
        0x1000 + ((source as u64) << 20) + u64::from(ordinal),
    );
    // Stratified times: activity j falls in slot j of the customer's life, so times increase
    // with the ordinal without sorting.
    let slot = f64::from(created_s) / f64::from(count.max(1));
    let within = (h >> 11) as f64 / (1u64 << 53) as f64;
    let before_s = f64::from(created_s) - slot * (f64::from(ordinal) + within);
    let time = epoch - SimDuration::from_millis((before_s.max(0.0) * 1000.0) as i64);
    let (amount_cents, points) = match kind {
        ActivityKind::Purchase | ActivityKind::Return => {
            // Log-uniform between 8.00 and 400.00.
            let u = (h & 0xFFFF) as f64 / 65_536.0;
            let cents = (800.0 * (50f64).powf(u)).round() as i64;
            let cents = if kind == ActivityKind::Return {
                -cents
            } else {
                cents
            };
            (Some(cents), 0)
        }
        ActivityKind::LoyaltyPoints => (None, 10 + ((h >> 20) % 491) as u32),
        _ => (None, 0),
    };
    Activity {
        customer: row,
        source,
        ordinal,
        time,
        amount_cents,
        points,
        variant: h >> 24,
    }
}

struct RowCtx<'a> {
    row_key: u64,
    dict: &'a Dictionaries,
    sources: &'a [SourceInfo],
    epoch: SimTime,
}

struct RowColumns {
    city: u16,
    first: u16,
    last: u16,
    mask: u16,
    spend_cents: u32,
    purchases: u16,
    last_purchase_s: u32,
    points: u32,
}

impl RowCtx<'_> {
    /// Draws one customer row; fills its activity counts per source into `counts`.
    fn row(&self, row: u32, counts: &mut [u8]) -> RowColumns {
        let mut rng = Pcg64Mcg::seed_from_u64(row_hash(self.row_key, row, SALT_ROW));
        let city = self.dict.pick_city(rng.next_u64());
        let words = self.dict.words(self.dict.country_of_city(city).locale);
        let first = rng.random_range(0..words.first.len()) as u16;
        let last = rng.random_range(0..words.last.len()) as u16;
        let mut mask = 0u16;
        for (s, src) in self.sources.iter().enumerate().take(16) {
            if rng.random_bool(src.coverage.clamp(0.0, 1.0)) {
                mask |= 1 << s;
            }
        }
        if mask == 0 && !self.sources.is_empty() {
            // A unified profile exists only because some source has a record of it.
            let best = (0..self.sources.len().min(16))
                .max_by(|&a, &b| {
                    self.sources[a]
                        .coverage
                        .total_cmp(&self.sources[b].coverage)
                })
                .unwrap_or(0);
            mask = 1 << best;
        }
        let created_s = created_before_epoch_s(self.row_key, row);
        let (mut spend, mut purchases, mut last_s, mut points) = (0i64, 0u32, u32::MAX, 0u32);
        for (s, src) in self.sources.iter().enumerate() {
            let Some(act) = &src.activity else { continue };
            if mask & (1 << s) == 0 {
                continue;
            }
            // Exponentially distributed counts: most customers buy a little, a few a lot.
            let u: f64 = rng.random();
            let c = (-act.per_customer * (1.0 - u).ln())
                .floor()
                .clamp(0.0, 255.0) as u32;
            counts[s] = c as u8;
            for j in 0..c {
                let a = activity(self.row_key, self.epoch, row, s, j, c, act.kind, created_s);
                if let Some(cents) = a.amount_cents {
                    spend += cents;
                    if act.kind == ActivityKind::Purchase {
                        purchases += 1;
                        let before = ((self.epoch - a.time).as_millis() / 1000).max(0) as u32;
                        last_s = last_s.min(before);
                    }
                }
                points += a.points;
            }
        }
        RowColumns {
            city: city as u16,
            first,
            last,
            mask,
            spend_cents: spend.clamp(0, i64::from(u32::MAX)) as u32,
            purchases: purchases.min(u32::from(u16::MAX)) as u16,
            last_purchase_s: last_s,
            points,
        }
    }
}

fn prefix_sums(counts: &[u8], per_row: usize) -> Vec<u64> {
    let rows = counts.len().checked_div(per_row).unwrap_or(0);
    let mut prefix = Vec::with_capacity(rows + 1);
    let mut total = 0u64;
    prefix.push(0);
    for row in 0..rows {
        total += counts[row * per_row..(row + 1) * per_row]
            .iter()
            .map(|&c| u64::from(c))
            .sum::<u64>();
        prefix.push(total);
    }
    prefix
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
