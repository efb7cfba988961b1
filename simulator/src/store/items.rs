//! Create item and Update item: checking a body against the entity's schema and applying it
//! to the entity's overlay.

use super::base_rows::json_value_as;
use super::data::Store;
use super::entity::Entity;
use crate::schema::{AttrId, EntityKind, Value};
use crate::time::{SimDuration, SimTime};

/// Created and changed items may live at most this long.
pub const VALID_UNTIL_MAX: SimDuration = SimDuration::from_days(30);

/// Why Create item or Update item refused a body. The API layer gives each its status, code
/// and target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{entity} is computed by Customer Insights and cannot be changed; Create item and Update item work on Customer, UnifiedActivity and the data source tables"
    )]
    ReadOnlyEntity { entity: String },
    #[error(
        "the body must be a JSON object of {entity} attributes, e.g. {{\"{example}\": \"...\"}}"
    )]
    NotAnObject { entity: String, example: String },
    #[error("{entity} has no attribute \"{name}\"; its attributes are {}", .attributes.join(", "))]
    UnknownAttribute {
        entity: String,
        name: String,
        attributes: Vec<String>,
    },
    #[error("{attribute} of {entity} is {edm}, but the body gives {given}")]
    WrongType {
        entity: String,
        attribute: String,
        edm: &'static str,
        /// `the string "x"`, `the number 5`, ...
        given: String,
    },
    #[error("the item has no {key}; Create item needs the key attribute {key} of {entity}")]
    MissingKey { entity: String, key: String },
    #[error("an item of {entity} with {key} '{value}' already exists")]
    Conflict {
        entity: String,
        key: String,
        value: String,
    },
    #[error("{entity} has no item with key '{key}'")]
    ItemNotFound { entity: String, key: String },
    #[error("{key} is the key of {entity} and cannot be changed")]
    KeyChange { entity: String, key: String },
}

impl Store {
    /// Create item: validates `body` against the entity's schema and adds it.
    pub fn create_item(
        &mut self,
        entity: usize,
        body: &serde_json::Value,
        valid_until: SimTime,
        now: SimTime,
    ) -> Result<serde_json::Value, StoreError> {
        let e = &self.entities[entity];
        writable(e)?;
        let changes = parse_item(e, body)?;
        let key_attr = e.schema.key.ok_or_else(|| read_only(e))?;
        let key_name = &e.schema.attributes[key_attr].name;
        let key = match changes.iter().find(|(a, _)| *a == key_attr) {
            Some((_, Value::Str(k))) if !k.is_empty() => k.to_string(),
            _ => {
                return Err(StoreError::MissingKey {
                    entity: e.schema.name.clone(),
                    key: key_name.clone(),
                });
            }
        };
        if self.find_row(e, &key, now).is_some() {
            return Err(StoreError::Conflict {
                entity: e.schema.name.clone(),
                key: key_name.clone(),
                value: key,
            });
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
    ) -> Result<(), StoreError> {
        let e = &self.entities[entity];
        writable(e)?;
        let changes = parse_item(e, body)?;
        let row = self
            .find_row(e, key, now)
            .ok_or_else(|| StoreError::ItemNotFound {
                entity: e.schema.name.clone(),
                key: key.to_owned(),
            })?;
        if let Some(key_attr) = e.schema.key
            && let Some((_, new)) = changes.iter().find(|(a, _)| *a == key_attr)
            && *new != Value::Str(key.into())
        {
            return Err(StoreError::KeyChange {
                entity: e.schema.name.clone(),
                key: e.schema.attributes[key_attr].name.clone(),
            });
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
}

fn read_only(e: &Entity) -> StoreError {
    StoreError::ReadOnlyEntity {
        entity: e.schema.name.clone(),
    }
}

fn writable(e: &Entity) -> Result<(), StoreError> {
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
) -> Result<Vec<(AttrId, Value<'static>)>, StoreError> {
    let Some(object) = body.as_object() else {
        return Err(StoreError::NotAnObject {
            entity: e.schema.name.clone(),
            example: e.schema.attributes[0].name.clone(),
        });
    };
    let mut changes = Vec::with_capacity(object.len());
    for (name, v) in object {
        if name.starts_with("@odata.") {
            continue;
        }
        let Some(attr) = e.schema.attr(name) else {
            return Err(StoreError::UnknownAttribute {
                entity: e.schema.name.clone(),
                name: name.clone(),
                attributes: e.schema.attributes.iter().map(|a| a.name.clone()).collect(),
            });
        };
        let a = &e.schema.attributes[attr];
        let value = json_value_as(v, a.ty);
        if value.is_null() && !v.is_null() {
            return Err(StoreError::WrongType {
                entity: e.schema.name.clone(),
                attribute: a.name.clone(),
                edm: a.ty.edm(),
                given: describe_json(v),
            });
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
