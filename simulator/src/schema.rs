//! Entity schemas: the attributes an entity has, their types, and which of them the connector
//! lets a client filter on.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::time::SimTime;

/// Index of an attribute within its [`Schema`] (the order in which rows are serialized).
pub type AttrId = usize;

/// The EDM type of an attribute, as the metadata endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Int64,
    Decimal,
    Boolean,
    DateTime,
}

impl AttrType {
    /// The `dataType` of the API model (`Edm.String`, ...).
    pub fn edm(self) -> &'static str {
        match self {
            AttrType::String => "Edm.String",
            AttrType::Int64 => "Edm.Int64",
            AttrType::Decimal => "Edm.Decimal",
            AttrType::Boolean => "Edm.Boolean",
            AttrType::DateTime => "Edm.DateTimeOffset",
        }
    }
}

/// One attribute (column) of an entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: AttrType,
    /// Whether `$filter` may name it on its own (the connector's rules, see [`EntityKind`]).
    pub filterable: bool,
    /// Whether `$filter` may name it inside a conjunction that also has an `eq` condition on a
    /// filterable attribute (`UnifiedActivity`: `CustomerId eq '…' and ActivityType eq '…'`, as
    /// the documented OData examples write it). Binding decides, with
    /// [`BindContext::keyed_filters`](crate::odata::BindContext::keyed_filters).
    pub filterable_with_key: bool,
    /// Whether `$search` looks into it.
    pub searchable: bool,
    /// The API model's `semanticType`, where one applies (`PersonFullName`, `LocationCity`, ...).
    pub semantic_type: Option<&'static str>,
}

impl Attribute {
    pub fn new(name: impl Into<String>, ty: AttrType) -> Attribute {
        Attribute {
            name: name.into(),
            ty,
            filterable: false,
            filterable_with_key: false,
            searchable: false,
            semantic_type: None,
        }
    }

    pub fn filterable(mut self) -> Attribute {
        self.filterable = true;
        self
    }

    /// Filterable only together with an `eq` condition on a filterable attribute (see
    /// [`Attribute::filterable_with_key`]).
    pub fn filterable_with_key(mut self) -> Attribute {
        self.filterable_with_key = true;
        self
    }

    pub fn searchable(mut self) -> Attribute {
        self.searchable = true;
        self
    }

    pub fn semantic(mut self, semantic_type: &'static str) -> Attribute {
        self.semantic_type = Some(semantic_type);
        self
    }
}

/// What kind of entity this is; it decides the connector's filter rules and the metadata's
/// `entityType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// The unified `Customer` profile: `CustomerId` and the indexed fields are filterable,
    /// `IsMemberOfSegment` and `$expand` are available.
    Profile,
    /// `UnifiedActivity`: `ActivityId` and `CustomerId` are filterable, as the connector page
    /// says; `ActivityTime`, `ActivityType` and `ActivityTypeDisplay` only together with a
    /// `CustomerId eq` or `ActivityId eq` condition, as the OData examples use them (modelled).
    UnifiedActivity,
    /// `Customer_Measure`: `CustomerId` only.
    CustomerMeasure,
    /// A segment's member entity: `CustomerId` only.
    Segment,
    /// A business measure's output table: `CustomerId` only (it has none, so nothing).
    BusinessMeasure,
    /// An ingested source table (`PoS_Contacts`, ...): `$filter` is rejected, as documented.
    SourceTable,
}

impl EntityKind {
    /// The API model's `entityType`.
    pub fn entity_type(self) -> &'static str {
        match self {
            EntityKind::Profile => "profile",
            EntityKind::UnifiedActivity => "unifiedActivity",
            EntityKind::CustomerMeasure => "profileKpi",
            EntityKind::Segment => "segment",
            EntityKind::BusinessMeasure => "aggregateKpi",
            EntityKind::SourceTable => "unspecified",
        }
    }
}

/// The shape of an entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub name: String,
    pub kind: EntityKind,
    pub attributes: Vec<Attribute>,
    /// The attribute that identifies a row (`CustomerId`, `ActivityId`, a source table's key).
    pub key: Option<AttrId>,
    /// Navigation properties `$expand` accepts (only `Customer` has any).
    pub expandable: Vec<String>,
    /// The data source of an ingested table.
    pub data_source: Option<String>,
}

impl Schema {
    /// Finds an attribute by name, ignoring ASCII case (the documented examples write
    /// `customerid eq '1'`).
    pub fn attr(&self, name: &str) -> Option<AttrId> {
        self.attributes
            .iter()
            .position(|a| a.name == name)
            .or_else(|| {
                self.attributes
                    .iter()
                    .position(|a| a.name.eq_ignore_ascii_case(name))
            })
    }

    pub fn attr_named(&self, name: &str) -> Option<&Attribute> {
        self.attr(name).map(|id| &self.attributes[id])
    }

    /// Names of the filterable attributes, in schema order.
    pub fn filterable_names(&self) -> Vec<&str> {
        self.attributes
            .iter()
            .filter(|a| a.filterable)
            .map(|a| a.name.as_str())
            .collect()
    }

    /// Names of the attributes filterable only together with an `eq` condition on a filterable
    /// one, in schema order.
    pub fn keyed_filter_names(&self) -> Vec<&str> {
        self.attributes
            .iter()
            .filter(|a| a.filterable_with_key && !a.filterable)
            .map(|a| a.name.as_str())
            .collect()
    }
}

/// A value of one attribute of one row, borrowed where possible. It serializes for the saved
/// state of created and changed items (`serve --state-dir`), and reads back owned.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Decimal(f64),
    Bool(bool),
    DateTime(SimTime),
}

impl Value<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Int(i) => Value::Int(i),
            Value::Decimal(d) => Value::Decimal(d),
            Value::Bool(b) => Value::Bool(b),
            Value::DateTime(t) => Value::DateTime(t),
        }
    }

    /// The total order `$orderby` sorts by: nulls first, then by value; values of different
    /// kinds (which a schema never mixes) order by kind.
    pub fn sort_cmp(&self, other: &Value<'_>) -> Ordering {
        fn rank(v: &Value<'_>) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Int(_) | Value::Decimal(_) => 2,
                Value::DateTime(_) => 3,
                Value::Str(_) => 4,
            }
        }
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => a.total_cmp(b),
            (Value::Int(a), Value::Decimal(b)) => (*a as f64).total_cmp(b),
            (Value::Decimal(a), Value::Int(b)) => a.total_cmp(&(*b as f64)),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::DateTime(a), Value::DateTime(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Decimal(d) => serde_json::Number::from_f64(*d)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::DateTime(t) => serde_json::Value::String(t.to_rfc3339()),
        }
    }
}
