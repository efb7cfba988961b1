//! The tenant's data as the API serves it: generated rows, the items clients created or changed,
//! and the live parts (segment members, measure values) that the refresh lifecycle moves.

pub mod entity;
pub mod index;
pub mod json;
pub mod overlay;
pub mod population;
pub mod row_cache;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::error::ApiError;
use crate::schema::{AttrId, EntityKind, Value};
use crate::tenant::spec::TenantSpec;
use crate::time::{SimDuration, SimTime};

use entity::{BaseRows, build_entities, json_value_as, write_value_json};
pub use entity::{Entity, TableKind};
pub use population::{CustomerField, Population};

/// A segment's current members.
#[derive(Debug, Clone)]
pub struct SegmentLive {
    pub name: String,
    pub count: u64,
    /// Member customer rows, ascending.
    pub members: Arc<Vec<u32>>,
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

/// Created and changed items may live at most this long.
pub const VALID_UNTIL_MAX: SimDuration = SimDuration::from_days(30);

#[derive(Debug)]
pub struct Store {
    pub pop: Arc<Population>,
    pub entities: Vec<Entity>,
    by_name: HashMap<String, usize>,
    source_contacts: Vec<OnceLock<Vec<u32>>>,
    source_activity_prefix: Vec<OnceLock<Vec<u64>>>,
    /// Rendered JSON objects of generated Customer rows (all attributes).
    customer_rows: row_cache::RowCache,
    pub live: Live,
}

impl Store {
    /// Generates the tenant's data and sets segments and measures to their first values.
    pub fn generate(spec: &TenantSpec, seed: u64) -> Store {
        Store::from_population(spec, Arc::new(Population::generate(spec, seed)))
    }

    /// Builds a store over an already generated population (a reset reuses it).
    pub fn from_population(spec: &TenantSpec, pop: Arc<Population>) -> Store {
        let entities = build_entities(spec, &pop);
        let by_name = entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.schema.name.to_ascii_lowercase(), i))
            .collect();
        let segments = spec
            .segments
            .iter()
            .enumerate()
            .map(|(i, seg)| {
                let count = initial_segment_count(seg.initial_share, pop.n);
                SegmentLive {
                    name: seg.name.clone(),
                    count,
                    members: Arc::new(pop.rankings[i].members(count as usize)),
                }
            })
            .collect();
        let measures = spec
            .measures
            .iter()
            .map(|m| MeasureLive {
                name: m.name.clone(),
                dimension: m.dimension.clone(),
                values: match &m.dimension {
                    None => vec![(None, pop.measure_initial(m.source))],
                    Some(_) => pop
                        .measure_initial_by_country(m.source)
                        .into_iter()
                        .map(|(k, v)| (Some(k), v))
                        .collect(),
                },
            })
            .collect();
        let sources = pop.sources.len();
        Store {
            customer_rows: row_cache::RowCache::new(
                u64::from(pop.n),
                spec.limits.row_cache_bytes_max,
            ),
            entities,
            by_name,
            source_contacts: (0..sources).map(|_| OnceLock::new()).collect(),
            source_activity_prefix: (0..sources).map(|_| OnceLock::new()).collect(),
            live: Live { segments, measures },
            pop,
        }
    }

    /// Sets a segment's member count; its member entity and `IsMemberOfSegment` follow at once.
    pub fn set_segment_count(&mut self, segment: usize, count: u64) {
        let pop = &self.pop;
        if let Some(live) = self.live.segments.get_mut(segment)
            && live.count != count
        {
            let count = count.min(u64::from(pop.n));
            live.count = count;
            live.members = Arc::new(pop.rankings[segment].members(count as usize));
        }
    }

    pub fn set_measure_values(&mut self, measure: usize, values: Vec<(Option<String>, f64)>) {
        if let Some(live) = self.live.measures.get_mut(measure) {
            live.values = values;
        }
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
        BaseRows { store: self }
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
        let (Some(live), Some(ranking)) = (
            self.live.segments.get(segment),
            self.pop.rankings.get(segment),
        ) else {
            return false;
        };
        ranking
            .pos
            .get(customer as usize)
            .is_some_and(|&p| u64::from(p) < live.count)
    }

    /// The row of an entity whose key attribute equals `key`, if visible at `now`.
    pub fn find_row(&self, e: &Entity, key: &str, now: SimTime) -> Option<u64> {
        let base = self.base_len(e);
        if let Some(k) = e.overlay.created_by_key(key, now) {
            return Some(base + k);
        }
        let pop = &self.pop;
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
                self.source_contacts(s)
                    .binary_search(&c)
                    .ok()
                    .map(|r| r as u64)
            }
            TableKind::SourceActivities(s) => {
                let a = pop.find_activity(key).filter(|a| a.source == s)?;
                Some(self.source_activity_prefix(s)[a.customer as usize] + u64::from(a.ordinal))
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
                    .pop
                    .find_by_source_key(s, value)
                    .map(u64::from)
                    .into_iter()
                    .collect(),
                field => {
                    let (_, index) = self.pop.indexes.iter().find(|(f, _)| *f == field)?;
                    index
                        .lookup(value.as_bytes())
                        .iter()
                        .map(|&r| u64::from(r))
                        .collect()
                }
            },
            TableKind::UnifiedActivity if e.schema.attributes[attr].name == "CustomerId" => {
                match self.pop.find_customer(value) {
                    Some(c) => self.pop.activity_range(c).collect(),
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
        self.pop.activity_range(customer)
    }

    pub(crate) fn source_contacts(&self, s: usize) -> &[u32] {
        self.source_contacts[s].get_or_init(|| {
            (0..self.pop.n)
                .filter(|&r| self.pop.has_source(r, s))
                .collect()
        })
    }

    pub(crate) fn source_activity_prefix(&self, s: usize) -> &[u64] {
        self.source_activity_prefix[s].get_or_init(|| {
            let mut prefix = Vec::with_capacity(self.pop.n as usize + 1);
            let mut total = 0u64;
            prefix.push(0);
            for row in 0..self.pop.n {
                total += u64::from(self.pop.activity_count(row, s));
                prefix.push(total);
            }
            prefix
        })
    }

    /// Create item: validates `body` against the entity's schema and adds it.
    pub fn create_item(
        &mut self,
        entity: usize,
        body: &serde_json::Value,
        valid_until: SimTime,
        now: SimTime,
    ) -> Result<serde_json::Value, ApiError> {
        let e = &self.entities[entity];
        writable(e)?;
        let changes = parse_item(e, body)?;
        let key_attr = e.schema.key.ok_or_else(|| read_only(e))?;
        let key_name = &e.schema.attributes[key_attr].name;
        let key = match changes.iter().find(|(a, _)| *a == key_attr) {
            Some((_, Value::Str(k))) if !k.is_empty() => k.to_string(),
            _ => {
                return Err(ApiError::bad_request(
                    "MissingKey",
                    format!(
                        "the item has no {key_name}; Create item needs the key attribute {key_name} of {}",
                        e.schema.name
                    ),
                )
                .with_target(key_name.clone()));
            }
        };
        if self.find_row(e, &key, now).is_some() {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "an item of {} with {key_name} '{key}' already exists",
                    e.schema.name
                ),
            )
            .with_target(key_name.clone()));
        }
        let mut values = vec![Value::Null; e.schema.attributes.len()];
        for (attr, v) in changes {
            values[attr] = v;
        }
        let e = &mut self.entities[entity];
        let k = e.overlay.insert(key, values, valid_until);
        let row = self.base_len(&self.entities[entity]) + k;
        Ok(self.row_json(entity, row, now))
    }

    /// Update item: applies the changes in `body` to the item whose key is `key`.
    pub fn update_item(
        &mut self,
        entity: usize,
        key: &str,
        body: &serde_json::Value,
        valid_until: SimTime,
        now: SimTime,
    ) -> Result<(), ApiError> {
        let e = &self.entities[entity];
        writable(e)?;
        let changes = parse_item(e, body)?;
        let row = self.find_row(e, key, now).ok_or_else(|| {
            ApiError::not_found(
                "ItemNotFound",
                format!("{} has no item with key '{key}'", e.schema.name),
            )
            .with_target(key.to_owned())
        })?;
        if let Some(key_attr) = e.schema.key
            && let Some((_, new)) = changes.iter().find(|(a, _)| *a == key_attr)
            && *new != Value::Str(key.into())
        {
            let name = &e.schema.attributes[key_attr].name;
            return Err(ApiError::bad_request(
                "KeyChange",
                format!(
                    "{name} is the key of {} and cannot be changed",
                    e.schema.name
                ),
            )
            .with_target(name.clone()));
        }
        let base = self.base_len(e);
        let e = &mut self.entities[entity];
        if row >= base {
            e.overlay.update_created(row - base, changes, valid_until);
        } else {
            e.overlay.update_base(row, changes, valid_until, now);
        }
        Ok(())
    }

    /// One row as a JSON object.
    pub fn row_json(&self, entity: usize, row: u64, now: SimTime) -> serde_json::Value {
        let mut out = Vec::with_capacity(256);
        self.write_row(&self.entities[entity], row, None, now, &mut out);
        serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null)
    }
}

fn initial_segment_count(share: f64, n: u32) -> u64 {
    ((share.clamp(0.0, 1.0) * f64::from(n)).round() as u64).min(u64::from(n))
}

fn read_only(e: &Entity) -> ApiError {
    ApiError::bad_request(
        "ReadOnlyEntity",
        format!(
            "{} is computed by Customer Insights and cannot be changed; Create item and Update item work on Customer, UnifiedActivity and the data source tables",
            e.schema.name
        ),
    )
}

fn writable(e: &Entity) -> Result<(), ApiError> {
    match e.schema.kind {
        EntityKind::Profile | EntityKind::UnifiedActivity | EntityKind::SourceTable => Ok(()),
        _ => Err(read_only(e)),
    }
}

/// Checks an item body against the schema: a JSON object whose keys are attributes and whose
/// values have the attributes' types.
fn parse_item(
    e: &Entity,
    body: &serde_json::Value,
) -> Result<Vec<(AttrId, Value<'static>)>, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::bad_request(
            "InvalidBody",
            format!(
                "the body must be a JSON object of {} attributes, e.g. {{\"{}\": \"...\"}}",
                e.schema.name, e.schema.attributes[0].name
            ),
        ));
    };
    let mut changes = Vec::with_capacity(object.len());
    for (name, v) in object {
        if name.starts_with("@odata.") {
            continue;
        }
        let Some(attr) = e.schema.attr(name) else {
            let names: Vec<&str> = e
                .schema
                .attributes
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            return Err(ApiError::bad_request(
                "SchemaMismatch",
                format!(
                    "{} has no attribute \"{name}\"; its attributes are {}",
                    e.schema.name,
                    names.join(", ")
                ),
            )
            .with_target(name.clone()));
        };
        let a = &e.schema.attributes[attr];
        let value = json_value_as(v, a.ty);
        if value.is_null() && !v.is_null() {
            return Err(ApiError::bad_request(
                "SchemaMismatch",
                format!(
                    "{} of {} is {}, but the body gives {}",
                    a.name,
                    e.schema.name,
                    a.ty.edm(),
                    describe_json(v)
                ),
            )
            .with_target(a.name.clone()));
        }
        changes.push((attr, value));
    }
    Ok(changes)
}

fn describe_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("the string \"{s}\""),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::Bool(b) => format!("the boolean {b}"),
        serde_json::Value::Array(_) => "an array".to_owned(),
        serde_json::Value::Object(_) => "an object".to_owned(),
        serde_json::Value::Null => "null".to_owned(),
    }
}
