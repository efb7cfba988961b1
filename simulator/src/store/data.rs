//! The [`Store`]: ties the generated population, the entities over it and the live parts
//! together, and reads rows as the API serves them.

use std::collections::HashMap;
use std::sync::Arc;

use super::base_rows::{BaseRows, SourceRows, write_value_json};
use super::entity::{Entity, TableKind, build_entities};
use super::live::{Live, SegmentLive};
use super::overlay::Overlay;
use super::population::{CustomerField, Population};
use super::row_cache::RowCache;
use crate::schema::{AttrId, Value};
use crate::tenant::spec::TenantSpec;
use crate::time::SimTime;

/// The tenant's data as the API serves it: the generated population, the entities over it with
/// the items clients created or changed, and the live segment members and measure values.
///
/// A clone is cheap (the generated data and the caches of rendered rows are shared, segment
/// members are shared lists), which lets a reader take a snapshot and run a long query with no
/// lock held while a writer changes its own copy.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) population: Arc<Population>,
    pub(crate) entities: Vec<Entity>,
    by_name: HashMap<String, usize>,
    /// Shared by every snapshot: generated rows never change.
    sources: Arc<SourceRows>,
    /// Rendered JSON objects of generated Customer rows (all attributes), shared by every
    /// snapshot.
    customer_rows: Arc<RowCache>,
    pub(crate) live: Live,
}

impl Store {
    /// Generates the tenant's data and sets segments and measures to their first values.
    pub fn generate(spec: &TenantSpec, seed: u64) -> Store {
        Store::from_population(spec, Arc::new(Population::generate(spec, seed)))
    }

    /// Builds a store over an already generated population (a reset reuses it).
    pub fn from_population(spec: &TenantSpec, population: Arc<Population>) -> Store {
        let entities = build_entities(spec, &population);
        let by_name = entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.schema.name.to_ascii_lowercase(), i))
            .collect();
        Store {
            customer_rows: Arc::new(RowCache::new(
                u64::from(population.n),
                spec.limits.row_cache_bytes_max,
            )),
            entities,
            by_name,
            sources: Arc::new(SourceRows::new(population.sources.len())),
            live: Live::initial(spec, &population),
            population,
        }
    }

    /// The generated data.
    pub fn population(&self) -> &Population {
        &self.population
    }

    /// Every entity, in the order `manage/entities` lists them.
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// The segment members and measure values in force.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Sets a segment's member count; its member entity and `IsMemberOfSegment` follow at once.
    pub fn set_segment_count(&mut self, segment: usize, count: u64) {
        self.live
            .set_segment_count(&self.population, segment, count);
    }

    /// The members of `segment` at `count` (clamped to the customers), their list in row order
    /// and their membership bits: the slow part of a count change, which needs no `&mut` and so
    /// no lock (`None` for an unknown segment).
    pub fn members_at(&self, segment: usize, count: u64) -> Option<SegmentLive> {
        let ranking = self.population.rankings.get(segment)?;
        let name = self.live.segments.get(segment)?.name.clone();
        let count = count.min(u64::from(self.population.n));
        let members = ranking.members(count as usize);
        Some(SegmentLive::new(name, count, members, self.population.n))
    }

    /// Installs a segment's members from [`Store::members_at`] (list and membership bits built
    /// already, so installing costs nothing that grows with them).
    pub fn install_segment(&mut self, segment: usize, live: SegmentLive) {
        self.live.install_segment(segment, live);
    }

    /// The member count the data layer serves for `segment`.
    pub fn segment_count(&self, segment: usize) -> Option<u64> {
        self.live.segments.get(segment).map(|s| s.count)
    }

    pub fn set_measure_values(&mut self, measure: usize, values: Vec<(Option<String>, f64)>) {
        self.live.set_measure_values(measure, values);
    }

    /// The items created and changed through the API, one overlay per entity in order (what
    /// `serve --state-dir` saves of the data; the rest is generated from the seed).
    pub fn overlays(&self) -> Vec<&Overlay> {
        self.entities.iter().map(|e| &e.overlay).collect()
    }

    /// Puts back overlays that [`Store::overlays`] gave for the same tenant. Refused, changing
    /// nothing, when their number or shapes do not fit this store's entities.
    pub fn restore_overlays(&mut self, overlays: Vec<Overlay>) -> Result<(), String> {
        if overlays.len() != self.entities.len() {
            return Err(format!(
                "{} entities were saved, but the tenant has {}",
                overlays.len(),
                self.entities.len()
            ));
        }
        for (e, o) in self.entities.iter().zip(&overlays) {
            if o.attrs() != e.schema.attributes.len() {
                return Err(format!(
                    "{} was saved with {} attributes, but has {}",
                    e.schema.name,
                    o.attrs(),
                    e.schema.attributes.len()
                ));
            }
        }
        for (e, o) in self.entities.iter_mut().zip(overlays) {
            e.overlay = o;
        }
        Ok(())
    }

    /// The entity with this name (exact, then ignoring ASCII case).
    pub fn entity_index(&self, name: &str) -> Option<usize> {
        self.entities
            .iter()
            .position(|e| e.schema.name == name)
            .or_else(|| self.by_name.get(&name.to_ascii_lowercase()).copied())
    }

    pub fn entity(&self, index: usize) -> &Entity {
        &self.entities[index]
    }

    pub fn segment_names(&self) -> Vec<&str> {
        self.live.segments.iter().map(|s| s.name.as_str()).collect()
    }

    pub(crate) fn base(&self) -> BaseRows<'_> {
        BaseRows {
            population: &self.population,
            live: &self.live,
            sources: &self.sources,
        }
    }

    /// Generated rows of an entity.
    pub fn base_len(&self, e: &Entity) -> u64 {
        self.base().len(e.kind)
    }

    /// Whether a row can be seen at `now` (created items expire).
    pub fn visible(&self, e: &Entity, row: u64, now: SimTime) -> bool {
        let base = self.base_len(e);
        row < base || e.overlay.created(row - base, now).is_some()
    }

    /// Rows visible at `now`, in natural order.
    pub fn visible_rows<'a>(
        &'a self,
        e: &'a Entity,
        now: SimTime,
    ) -> impl Iterator<Item = u64> + 'a {
        let base = self.base_len(e);
        (0..base).chain(
            (0..e.overlay.created_len())
                .filter(move |&k| e.overlay.created(k, now).is_some())
                .map(move |k| base + k),
        )
    }

    /// Number of rows visible at `now`.
    pub fn visible_len(&self, e: &Entity, now: SimTime) -> u64 {
        let created = (0..e.overlay.created_len())
            .filter(|&k| e.overlay.created(k, now).is_some())
            .count() as u64;
        self.base_len(e) + created
    }

    /// Appends the JSON value of one attribute of a row.
    pub fn write_json(&self, e: &Entity, row: u64, attr: AttrId, now: SimTime, out: &mut Vec<u8>) {
        let base = self.base_len(e);
        if row >= base {
            match e
                .overlay
                .created(row - base, now)
                .and_then(|c| c.values.get(attr))
            {
                Some(v) => write_value_json(v, out),
                None => out.extend_from_slice(b"null"),
            }
            return;
        }
        if let Some(Some(v)) = e.overlay.patch(row, now).and_then(|p| p.values.get(attr)) {
            write_value_json(v, out);
            return;
        }
        self.base().write_json(e.kind, row, attr, out);
    }

    /// Whether row `row` of `e` can be served whole from the row cache: a generated Customer row
    /// with no update in force.
    pub fn cached_whole(&self, e: &Entity, row: u64, now: SimTime) -> bool {
        e.kind == TableKind::Customer
            && row < self.base_len(e)
            && e.overlay.patch(row, now).is_none()
    }

    /// Generated Customer rows `from..to` as `row,row` slices of the row cache, to be joined
    /// with commas. Every row must pass [`Store::cached_whole`].
    pub fn cached_customer_rows(&self, from: u64, to: u64) -> Vec<bytes::Bytes> {
        let Some(e) = self.entities.iter().find(|e| e.kind == TableKind::Customer) else {
            return Vec::new();
        };
        let base = self.base();
        self.customer_rows
            .rows(from, to, &|row, out: &mut Vec<u8>| {
                out.push(b'{');
                for attr in 0..e.schema.attributes.len() {
                    if attr > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&e.key_json[attr]);
                    base.write_json(TableKind::Customer, row, attr, out);
                }
                out.push(b'}');
            })
    }

    /// Appends a row as a JSON object of the attributes `attrs` (`None`: all of them).
    pub fn write_row(
        &self,
        e: &Entity,
        row: u64,
        attrs: Option<&[AttrId]>,
        now: SimTime,
        out: &mut Vec<u8>,
    ) {
        if attrs.is_none() && self.cached_whole(e, row, now) {
            for slice in self.cached_customer_rows(row, row + 1) {
                out.extend_from_slice(&slice);
            }
            return;
        }
        match attrs {
            Some(list) => self.write_object(e, row, list.iter().copied(), now, out),
            None => self.write_object(e, row, 0..e.schema.attributes.len(), now, out),
        }
    }

    fn write_object(
        &self,
        e: &Entity,
        row: u64,
        attrs: impl Iterator<Item = AttrId>,
        now: SimTime,
        out: &mut Vec<u8>,
    ) {
        out.push(b'{');
        for (i, attr) in attrs.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&e.key_json[attr]);
            self.write_json(e, row, attr, now, out);
        }
        out.push(b'}');
    }

    /// Bytes of pre-rendered rows held.
    pub fn row_cache_bytes(&self) -> usize {
        self.customer_rows.used_bytes()
    }

    /// The value of one attribute of a row.
    pub fn value(&self, e: &Entity, row: u64, attr: AttrId, now: SimTime) -> Value<'static> {
        let base = self.base_len(e);
        if row >= base {
            return e
                .overlay
                .created(row - base, now)
                .and_then(|c| c.values.get(attr).cloned())
                .unwrap_or(Value::Null);
        }
        if let Some(Some(v)) = e.overlay.patch(row, now).and_then(|p| p.values.get(attr)) {
            return v.clone();
        }
        let ty = e.schema.attributes[attr].ty;
        self.base().value(e.kind, ty, row, attr)
    }

    /// The customer a generated row belongs to (created rows belong to none).
    pub fn customer_of(&self, e: &Entity, row: u64) -> Option<u32> {
        if row >= self.base_len(e) {
            return None;
        }
        self.base().customer_of(e.kind, row)
    }

    /// Whether a customer is a member of a segment now.
    pub fn is_member(&self, segment: usize, customer: u32) -> bool {
        self.live
            .segments
            .get(segment)
            .is_some_and(|live| live.is_member(customer))
    }

    /// The row of an entity whose key attribute equals `key`, if visible at `now`.
    pub fn find_row(&self, e: &Entity, key: &str, now: SimTime) -> Option<u64> {
        let base = self.base_len(e);
        if let Some(k) = e.overlay.created_by_key(key, now) {
            return Some(base + k);
        }
        let pop = &*self.population;
        let row = match e.kind {
            TableKind::Customer | TableKind::CustomerMeasure => {
                pop.find_customer(key).map(u64::from)
            }
            TableKind::UnifiedActivity => pop.find_activity(key).map(|a| pop.activity_index(&a)),
            TableKind::Segment(i) => {
                let c = pop.find_customer(key)?;
                self.live.segments[i]
                    .members
                    .binary_search(&c)
                    .ok()
                    .map(|r| r as u64)
            }
            TableKind::SourceContacts(s) => {
                let c = pop.find_by_source_key(s, key)?;
                self.sources
                    .contacts(&self.population, s)
                    .binary_search(&c)
                    .ok()
                    .map(|r| r as u64)
            }
            TableKind::SourceActivities(s) => {
                let a = pop.find_activity(key).filter(|a| a.source == s)?;
                Some(
                    self.sources.activity_prefix(&self.population, s)[a.customer as usize]
                        + u64::from(a.ordinal),
                )
            }
            TableKind::Measure(_) => None,
        }?;
        // A key changed by an update no longer finds its row under the old value.
        let patched_key = e
            .schema
            .key
            .and_then(|k| {
                e.overlay
                    .patch(row, now)
                    .and_then(|p| p.values.get(k).cloned())
            })
            .flatten();
        match patched_key {
            Some(Value::Str(new_key)) if new_key != key => None,
            _ => Some(row),
        }
    }

    /// Rows that may have `attr == value`, in row order, when an index answers that cheaply
    /// (`None`: no index, scan). The query engine checks every candidate against the filter.
    pub fn eq_candidates(
        &self,
        e: &Entity,
        attr: AttrId,
        value: &str,
        now: SimTime,
    ) -> Option<Vec<u64>> {
        let base = self.base_len(e);
        let mut rows: Vec<u64> = match e.kind {
            _ if e.schema.key == Some(attr) => self.find_row(e, value, now).into_iter().collect(),
            TableKind::Customer => match CustomerField::from_attr(attr) {
                CustomerField::AltKey(s) => self
                    .population
                    .find_by_source_key(s, value)
                    .map(u64::from)
                    .into_iter()
                    .collect(),
                field => {
                    let (_, index) = self.population.indexes.iter().find(|(f, _)| *f == field)?;
                    index.lookup(value.as_bytes()).map(u64::from).collect()
                }
            },
            TableKind::UnifiedActivity if e.schema.attributes[attr].name == "CustomerId" => {
                match self.population.find_customer(value) {
                    Some(c) => self.population.activity_range(c).collect(),
                    None => Vec::new(),
                }
            }
            _ => return None,
        };
        // Changed rows may now match (or no longer match) whatever the index says, and created
        // rows are in no index: add them all as candidates.
        rows.extend(e.overlay.patched_rows(now));
        rows.extend((0..e.overlay.created_len()).map(|k| base + k));
        rows.sort_unstable();
        rows.dedup();
        Some(rows)
    }

    /// Rows of a segment's members in the Customer entity, in row order.
    pub fn segment_members(&self, segment: usize) -> Arc<Vec<u32>> {
        self.live.segments[segment].members.clone()
    }

    /// The positions in `UnifiedActivity` of a customer's activities.
    pub fn activities_of(&self, customer: u32) -> std::ops::Range<u64> {
        self.population.activity_range(customer)
    }

    /// One row as a JSON object.
    pub fn row_json(&self, entity: usize, row: u64, now: SimTime) -> serde_json::Value {
        let mut out = Vec::with_capacity(256);
        self.write_row(&self.entities[entity], row, None, now, &mut out);
        serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null)
    }
}
