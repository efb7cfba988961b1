//! The entities the API serves and their schemas.
//!
//! Rows are addressed by a `u64`: `0..base_len` are the generated rows of the entity (in its
//! natural order, read by [`BaseRows`](super::base_rows::BaseRows)), and rows from `base_len`
//! on are items created through the API.

use super::overlay::Overlay;
use super::population::{CustomerField, Population};
use crate::json::push_json_str;
use crate::schema::{AttrType, Attribute, EntityKind, Schema};
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
#[derive(Debug, Clone)]
pub struct Entity {
    pub schema: Schema,
    pub kind: TableKind,
    /// `"Name":` for every attribute, pre-escaped.
    pub(crate) key_json: Vec<Vec<u8>>,
    pub(crate) overlay: Overlay,
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

/// How `$filter` may use an attribute of `UnifiedActivity`.
#[derive(Clone, Copy)]
enum ActivityFilter {
    /// On its own: the connector page's "ActivityId and CustomerId fields".
    Yes,
    /// Only together with `CustomerId eq` or `ActivityId eq`, as the OData examples use it.
    WithKey,
    No,
}

/// `UnifiedActivity` attributes, in order.
const ACTIVITY_ATTRS: [(&str, AttrType, ActivityFilter); 10] = [
    ("ActivityId", AttrType::String, ActivityFilter::Yes),
    ("CustomerId", AttrType::String, ActivityFilter::Yes),
    ("ActivityTime", AttrType::DateTime, ActivityFilter::WithKey),
    ("ActivityType", AttrType::String, ActivityFilter::WithKey),
    (
        "ActivityTypeDisplay",
        AttrType::String,
        ActivityFilter::WithKey,
    ),
    ("ActivityName", AttrType::String, ActivityFilter::No),
    ("Title", AttrType::String, ActivityFilter::No),
    ("SourceEntity", AttrType::String, ActivityFilter::No),
    ("SourceDataSource", AttrType::String, ActivityFilter::No),
    ("Amount", AttrType::Decimal, ActivityFilter::No),
];

fn activity_schema() -> Schema {
    Schema {
        name: "UnifiedActivity".to_owned(),
        kind: EntityKind::UnifiedActivity,
        attributes: ACTIVITY_ATTRS
            .iter()
            .map(|&(name, ty, filter)| {
                let a = Attribute::new(name, ty);
                match filter {
                    ActivityFilter::Yes => a.filterable(),
                    ActivityFilter::WithKey => a.filterable_with_key(),
                    ActivityFilter::No => a,
                }
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
            // The customer measures, in the order of `tenant::spec::CUSTOMER_MEASURES`.
            Attribute::new("TotalSpend", AttrType::Decimal),
            Attribute::new("PurchaseCount", AttrType::Int64),
            Attribute::new("AveragePurchaseAmount", AttrType::Decimal),
            Attribute::new("LastPurchaseDate", AttrType::DateTime),
            Attribute::new("LoyaltyPoints", AttrType::Int64),
        ],
        key: Some(0),
        expandable: Vec::new(),
        data_source: None,
    }
}

pub(super) fn kind_names(kind: ActivityKind) -> (&'static str, &'static str) {
    match kind {
        ActivityKind::Purchase => ("Purchase", "Purchase"),
        ActivityKind::WebVisit => ("WebVisit", "Web visit"),
        ActivityKind::LoyaltyPoints => ("LoyaltyPoints", "Loyalty points"),
        ActivityKind::EmailOpen => ("EmailOpen", "Email open"),
        ActivityKind::Return => ("Return", "Return"),
    }
}
