//! The entities the API serves, their schemas, and how a row's values are read from the
//! generated population.
//!
//! Rows are addressed by a `u64`: `0..base_len` are the generated rows of the entity (in its
//! natural order), and rows from `base_len` on are items created through the API.

use std::borrow::Cow;

use crate::schema::{AttrId, AttrType, Attribute, EntityKind, Schema, Value};
use crate::store::json::{push_cents, push_f64, push_i64, push_json_str};
use crate::store::overlay::Overlay;
use crate::store::population::{Activity, CustomerField, Population};
use crate::store::{Live, Store};
use crate::tenant::spec::{ActivityKind, TenantSpec};

/// Where an entity's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Customer,
    UnifiedActivity,
    CustomerMeasure,
    /// A segment's member entity (index into the tenant's segments).
    Segment(usize),
    /// A business measure's output table (index into the tenant's measures).
    Measure(usize),
    /// A data source's contacts table (index into the data sources).
    SourceContacts(usize),
    /// A data source's activity table.
    SourceActivities(usize),
}

/// One entity: its schema, its source, and the items clients created or changed.
#[derive(Debug)]
pub struct Entity {
    pub schema: Schema,
    pub kind: TableKind,
    /// `"Name":` for every attribute, pre-escaped.
    pub(crate) key_json: Vec<Vec<u8>>,
    pub overlay: Overlay,
}

impl Entity {
    fn new(schema: Schema, kind: TableKind) -> Entity {
        let key_json = schema
            .attributes
            .iter()
            .map(|a| {
                let mut k = Vec::with_capacity(a.name.len() + 3);
                push_json_str(&a.name, &mut k);
                k.push(b':');
                k
            })
            .collect();
        let overlay = Overlay::new(schema.attributes.len());
        Entity {
            schema,
            kind,
            key_json,
            overlay,
        }
    }
}

/// Builds every entity of a tenant, in the order `manage/entities` lists them.
pub fn build_entities(spec: &TenantSpec, pop: &Population) -> Vec<Entity> {
    let mut entities = vec![
        Entity::new(customer_schema(spec, pop), TableKind::Customer),
        Entity::new(activity_schema(), TableKind::UnifiedActivity),
        Entity::new(customer_measure_schema(), TableKind::CustomerMeasure),
    ];
    for (i, seg) in spec.segments.iter().enumerate() {
        let schema = Schema {
            name: seg.name.clone(),
            kind: EntityKind::Segment,
            attributes: vec![
                Attribute::new("CustomerId", AttrType::String)
                    .filterable()
                    .semantic("Customer"),
                Attribute::new("FullName", AttrType::String).semantic("PersonFullName"),
                Attribute::new("EMail", AttrType::String).semantic("IdentityServiceEmail"),
            ],
            key: Some(0),
            expandable: Vec::new(),
            data_source: None,
        };
        entities.push(Entity::new(schema, TableKind::Segment(i)));
    }
    for (i, m) in spec.measures.iter().enumerate() {
        let mut attributes = Vec::new();
        if let Some(dim) = &m.dimension {
            attributes.push(Attribute::new(dim.clone(), AttrType::String));
        }
        attributes.push(Attribute::new(m.name.clone(), AttrType::Decimal));
        let schema = Schema {
            name: m.name.clone(),
            kind: EntityKind::BusinessMeasure,
            attributes,
            key: None,
            expandable: Vec::new(),
            data_source: None,
        };
        entities.push(Entity::new(schema, TableKind::Measure(i)));
    }
    for (s, src) in pop.sources.iter().enumerate() {
        let contacts = Schema {
            name: src.contacts_entity.clone(),
            kind: EntityKind::SourceTable,
            attributes: vec![
                Attribute::new(src.contacts_key.clone(), AttrType::String),
                Attribute::new("FirstName", AttrType::String),
                Attribute::new("LastName", AttrType::String),
                Attribute::new("EMail", AttrType::String),
                Attribute::new("Telephone", AttrType::String),
                Attribute::new("City", AttrType::String),
                Attribute::new("Country", AttrType::String),
                Attribute::new("PostCode", AttrType::String),
            ],
            key: Some(0),
            expandable: Vec::new(),
            data_source: Some(src.name.clone()),
        };
        entities.push(Entity::new(contacts, TableKind::SourceContacts(s)));
        if let Some(act) = &src.activity {
            let mut attributes = vec![
                Attribute::new(act.key.clone(), AttrType::String),
                Attribute::new(src.contacts_key.clone(), AttrType::String),
                Attribute::new("Timestamp", AttrType::DateTime),
                Attribute::new("Description", AttrType::String),
            ];
            match act.kind {
                ActivityKind::Purchase | ActivityKind::Return => {
                    attributes.push(Attribute::new("Amount", AttrType::Decimal));
                }
                ActivityKind::LoyaltyPoints => {
                    attributes.push(Attribute::new("Points", AttrType::Int64));
                }
                _ => {}
            }
            let schema = Schema {
                name: act.entity.clone(),
                kind: EntityKind::SourceTable,
                attributes,
                key: Some(0),
                expandable: Vec::new(),
                data_source: Some(src.name.clone()),
            };
            entities.push(Entity::new(schema, TableKind::SourceActivities(s)));
        }
    }
    entities
}

fn customer_schema(spec: &TenantSpec, pop: &Population) -> Schema {
    let indexed = |name: &str| {
        spec.indexed_fields
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
    };
    let mut attributes: Vec<Attribute> = CustomerField::FIXED
        .iter()
        .map(|&field| {
            let ty = if field.is_string() {
                AttrType::String
            } else {
                AttrType::DateTime
            };
            let mut a = Attribute::new(field.name(), ty);
            a.semantic_type = match field {
                CustomerField::CustomerId => Some("Customer"),
                CustomerField::FirstName => Some("PersonFirstName"),
                CustomerField::LastName => Some("PersonLastName"),
                CustomerField::FullName => Some("PersonFullName"),
                CustomerField::EMail => Some("IdentityServiceEmail"),
                CustomerField::Telephone => Some("IdentityServicePhone"),
                CustomerField::DateOfBirth => Some("CalendarDate"),
                CustomerField::StreetAddress => Some("LocationAddressStreet"),
                CustomerField::City => Some("LocationCity"),
                CustomerField::State => Some("LocationState"),
                CustomerField::Country => Some("LocationCountry"),
                CustomerField::PostCode => Some("LocationPostalCode"),
                CustomerField::CreatedOn => Some("MeasurementDateCreation"),
                _ => None,
            };
            a.filterable = field == CustomerField::CustomerId || indexed(field.name());
            a.searchable = field.is_string()
                && (indexed(field.name())
                    || matches!(
                        field,
                        CustomerField::FirstName
                            | CustomerField::LastName
                            | CustomerField::FullName
                    ));
            a
        })
        .collect();
    for src in &pop.sources {
        attributes.push(Attribute::new(src.alt_key_column.clone(), AttrType::String).filterable());
    }
    Schema {
        name: "Customer".to_owned(),
        kind: EntityKind::Profile,
        attributes,
        key: Some(0),
        expandable: vec!["UnifiedActivity".to_owned(), "Customer_Measure".to_owned()],
        data_source: None,
    }
}

/// `UnifiedActivity` attributes, in order.
const ACTIVITY_ATTRS: [(&str, AttrType, bool); 10] = [
    ("ActivityId", AttrType::String, true),
    ("CustomerId", AttrType::String, true),
    ("ActivityTime", AttrType::DateTime, true),
    ("ActivityType", AttrType::String, true),
    ("ActivityTypeDisplay", AttrType::String, true),
    ("ActivityName", AttrType::String, false),
    ("Title", AttrType::String, false),
    ("SourceEntity", AttrType::String, false),
    ("SourceDataSource", AttrType::String, false),
    ("Amount", AttrType::Decimal, false),
];

fn activity_schema() -> Schema {
    Schema {
        name: "UnifiedActivity".to_owned(),
        kind: EntityKind::UnifiedActivity,
        attributes: ACTIVITY_ATTRS
            .iter()
            .map(|&(name, ty, filterable)| {
                let a = Attribute::new(name, ty);
                if filterable { a.filterable() } else { a }
            })
            .collect(),
        key: Some(0),
        expandable: Vec::new(),
        data_source: None,
    }
}

fn customer_measure_schema() -> Schema {
    Schema {
        name: "Customer_Measure".to_owned(),
        kind: EntityKind::CustomerMeasure,
        attributes: vec![
            Attribute::new("CustomerId", AttrType::String)
                .filterable()
                .semantic("Customer"),
            Attribute::new("TotalSpend", AttrType::Decimal),
            Attribute::new("PurchaseCount", AttrType::Int64),
            Attribute::new("AverageOrderValue", AttrType::Decimal),
            Attribute::new("LastPurchaseDate", AttrType::DateTime),
            Attribute::new("LoyaltyPoints", AttrType::Int64),
        ],
        key: Some(0),
        expandable: Vec::new(),
        data_source: None,
    }
}

fn kind_names(kind: ActivityKind) -> (&'static str, &'static str) {
    match kind {
        ActivityKind::Purchase => ("Purchase", "Purchase"),
        ActivityKind::WebVisit => ("WebVisit", "Web visit"),
        ActivityKind::LoyaltyPoints => ("LoyaltyPoints", "Loyalty points"),
        ActivityKind::EmailOpen => ("EmailOpen", "Email open"),
        ActivityKind::Return => ("Return", "Return"),
    }
}

/// Reads generated (base) rows. Every method takes a base row number (`< base_len`).
pub(crate) struct BaseRows<'a> {
    pub store: &'a Store,
}

impl BaseRows<'_> {
    fn pop(&self) -> &Population {
        &self.store.pop
    }

    fn live(&self) -> &Live {
        &self.store.live
    }

    pub fn len(&self, kind: TableKind) -> u64 {
        let pop = self.pop();
        match kind {
            TableKind::Customer | TableKind::CustomerMeasure => u64::from(pop.n),
            TableKind::UnifiedActivity => pop.activity_total(),
            TableKind::Segment(i) => self.live().segments[i].members.len() as u64,
            TableKind::Measure(i) => self.live().measures[i].values.len() as u64,
            TableKind::SourceContacts(s) => self.store.source_contacts(s).len() as u64,
            TableKind::SourceActivities(s) => self
                .store
                .source_activity_prefix(s)
                .last()
                .copied()
                .unwrap_or(0),
        }
    }

    /// The customer a row belongs to.
    pub fn customer_of(&self, kind: TableKind, row: u64) -> Option<u32> {
        match kind {
            TableKind::Customer | TableKind::CustomerMeasure => u32::try_from(row).ok(),
            TableKind::UnifiedActivity => self.pop().activity_at(row).map(|a| a.customer),
            TableKind::Segment(i) => self.live().segments[i].members.get(row as usize).copied(),
            TableKind::SourceContacts(s) => {
                self.store.source_contacts(s).get(row as usize).copied()
            }
            TableKind::SourceActivities(s) => self.source_activity(s, row).map(|a| a.customer),
            TableKind::Measure(_) => None,
        }
    }

    fn source_activity(&self, s: usize, row: u64) -> Option<Activity> {
        let prefix = self.store.source_activity_prefix(s);
        if row >= prefix.last().copied().unwrap_or(0) {
            return None;
        }
        let customer = prefix.partition_point(|&p| p <= row) - 1;
        let ordinal = (row - prefix[customer]) as u32;
        Some(self.pop().activity(customer as u32, s, ordinal))
    }

    /// Appends the JSON value of one attribute of a base row.
    pub fn write_json(&self, kind: TableKind, row: u64, attr: AttrId, out: &mut Vec<u8>) {
        let pop = self.pop();
        match kind {
            TableKind::Customer => {
                pop.write_customer_field(row as u32, CustomerField::from_attr(attr), false, out);
            }
            TableKind::UnifiedActivity => match pop.activity_at(row) {
                Some(a) => self.write_activity(&a, attr, out),
                None => out.extend_from_slice(b"null"),
            },
            TableKind::CustomerMeasure => self.write_customer_measure(row as u32, attr, out),
            TableKind::Segment(i) => {
                let Some(&c) = self.live().segments[i].members.get(row as usize) else {
                    out.extend_from_slice(b"null");
                    return;
                };
                let field = [
                    CustomerField::CustomerId,
                    CustomerField::FullName,
                    CustomerField::EMail,
                ][attr.min(2)];
                pop.write_customer_field(c, field, false, out);
            }
            TableKind::Measure(i) => {
                let m = &self.live().measures[i];
                match m.values.get(row as usize) {
                    Some((Some(dim), _)) if attr == 0 && m.dimension.is_some() => {
                        push_json_str(dim, out);
                    }
                    Some((_, v)) => push_f64(*v, out),
                    None => out.extend_from_slice(b"null"),
                }
            }
            TableKind::SourceContacts(s) => {
                let Some(&c) = self.store.source_contacts(s).get(row as usize) else {
                    out.extend_from_slice(b"null");
                    return;
                };
                let field = [
                    CustomerField::AltKey(s),
                    CustomerField::FirstName,
                    CustomerField::LastName,
                    CustomerField::EMail,
                    CustomerField::Telephone,
                    CustomerField::City,
                    CustomerField::Country,
                    CustomerField::PostCode,
                ][attr.min(7)];
                pop.write_customer_field(c, field, false, out);
            }
            TableKind::SourceActivities(s) => match self.source_activity(s, row) {
                Some(a) => match attr {
                    0 => {
                        out.push(b'"');
                        pop.activity_ids.write(Population::activity_code(&a), out);
                        out.push(b'"');
                    }
                    1 => pop.write_customer_field(a.customer, CustomerField::AltKey(s), false, out),
                    2 => {
                        out.push(b'"');
                        a.time.write_rfc3339(out);
                        out.push(b'"');
                    }
                    3 => {
                        out.push(b'"');
                        pop.write_activity_title(&a, out);
                        out.push(b'"');
                    }
                    _ => match a.amount_cents {
                        Some(c) => push_cents(c, out),
                        None => push_i64(i64::from(a.points), out),
                    },
                },
                None => out.extend_from_slice(b"null"),
            },
        }
    }

    fn write_activity(&self, a: &Activity, attr: AttrId, out: &mut Vec<u8>) {
        let pop = self.pop();
        let src = &pop.sources[a.source];
        let kind = src
            .activity
            .as_ref()
            .map_or(ActivityKind::WebVisit, |s| s.kind);
        let (type_name, display) = kind_names(kind);
        let text = |t: &str, out: &mut Vec<u8>| push_json_str(t, out);
        match attr {
            0 => {
                out.push(b'"');
                pop.activity_ids.write(Population::activity_code(a), out);
                out.push(b'"');
            }
            1 => pop.write_customer_field(a.customer, CustomerField::CustomerId, false, out),
            2 => {
                out.push(b'"');
                a.time.write_rfc3339(out);
                out.push(b'"');
            }
            3 => text(type_name, out),
            4 => text(display, out),
            5 => text(
                src.activity
                    .as_ref()
                    .map_or("", |s| s.activity_name.as_str()),
                out,
            ),
            6 => {
                out.push(b'"');
                pop.write_activity_title(a, out);
                out.push(b'"');
            }
            7 => text(src.activity.as_ref().map_or("", |s| s.entity.as_str()), out),
            8 => text(&src.name, out),
            _ => match a.amount_cents {
                Some(c) => push_cents(c, out),
                None => out.extend_from_slice(b"null"),
            },
        }
    }

    fn write_customer_measure(&self, row: u32, attr: AttrId, out: &mut Vec<u8>) {
        let pop = self.pop();
        match attr {
            0 => pop.write_customer_field(row, CustomerField::CustomerId, false, out),
            1 => push_cents(pop.total_spend_cents(row), out),
            2 => push_i64(i64::from(pop.purchase_count(row)), out),
            3 => match pop.purchase_count(row) {
                0 => out.extend_from_slice(b"null"),
                n => push_cents(
                    (pop.total_spend_cents(row) as f64 / f64::from(n)).round() as i64,
                    out,
                ),
            },
            4 => match pop.last_purchase(row) {
                Some(t) => {
                    out.push(b'"');
                    t.write_rfc3339(out);
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            },
            _ => push_i64(i64::from(pop.loyalty_points(row)), out),
        }
    }

    /// The value of one attribute of a base row (allocates for strings; off the page hot path).
    pub fn value(&self, kind: TableKind, ty: AttrType, row: u64, attr: AttrId) -> Value<'static> {
        if kind == TableKind::Customer
            && let Some(text) = self.customer_text(row, attr)
        {
            return text;
        }
        let mut out = Vec::with_capacity(48);
        self.write_json(kind, row, attr, &mut out);
        json_to_value(&out, ty)
    }

    fn customer_text(&self, row: u64, attr: AttrId) -> Option<Value<'static>> {
        let field = CustomerField::from_attr(attr);
        if !field.is_string() {
            return None;
        }
        Some(match self.pop().customer_text(row as u32, field) {
            Some(text) => Value::Str(Cow::Owned(text)),
            None => Value::Null,
        })
    }
}

/// Turns a JSON value written by [`BaseRows::write_json`] back into a [`Value`] of type `ty`.
fn json_to_value(json: &[u8], ty: AttrType) -> Value<'static> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return Value::Null;
    };
    json_value_as(&v, ty)
}

/// Converts a JSON value to a [`Value`] of type `ty` (`Null` when it does not fit).
pub fn json_value_as(v: &serde_json::Value, ty: AttrType) -> Value<'static> {
    use serde_json::Value as J;
    match (ty, v) {
        (_, J::Null) => Value::Null,
        (AttrType::String, J::String(s)) => Value::Str(Cow::Owned(s.clone())),
        (AttrType::Int64, J::Number(n)) => n.as_i64().map_or(Value::Null, Value::Int),
        (AttrType::Decimal, J::Number(n)) => n.as_f64().map_or(Value::Null, Value::Decimal),
        (AttrType::Boolean, J::Bool(b)) => Value::Bool(*b),
        (AttrType::DateTime, J::String(s)) => {
            crate::time::SimTime::parse_rfc3339(s).map_or(Value::Null, Value::DateTime)
        }
        _ => Value::Null,
    }
}

/// Appends a [`Value`] as JSON.
pub fn write_value_json(v: &Value<'_>, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Str(s) => push_json_str(s, out),
        Value::Int(i) => push_i64(*i, out),
        Value::Decimal(d) => push_f64(*d, out),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::DateTime(t) => {
            out.push(b'"');
            t.write_rfc3339(out);
            out.push(b'"');
        }
    }
}
