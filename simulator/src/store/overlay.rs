//! Items created and changed through the API (the preview Create item and Update item actions).
//!
//! Generated rows are never modified in place: a change is kept beside them, with the
//! `validUntil` the client gave (at most 30 days ahead). After that instant the change disappears
//! from reads, as the API documents ("if the data source for this entity doesn't contain the
//! changes after this time, the update disappears from the store").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::{AttrId, Value};
use crate::time::SimTime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedRow {
    pub values: Vec<Value<'static>>,
    pub valid_until: SimTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Patch {
    pub values: Vec<Option<Value<'static>>>,
    pub valid_until: SimTime,
}

/// The items of one entity created and changed through the API. It serializes whole: `serve
/// --state-dir` saves it, and [`crate::store::Store::restore_overlays`] puts it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overlay {
    attrs: usize,
    created: Vec<CreatedRow>,
    /// Created items by key (a `BTreeMap`, so that the saved bytes of an unchanged overlay
    /// never change).
    by_key: BTreeMap<String, usize>,
    patches: BTreeMap<u64, Patch>,
}

impl Overlay {
    pub fn new(attrs: usize) -> Overlay {
        Overlay {
            attrs,
            created: Vec::new(),
            by_key: BTreeMap::new(),
            patches: BTreeMap::new(),
        }
    }

    /// The number of attributes of the entity.
    pub fn attrs(&self) -> usize {
        self.attrs
    }

    pub fn created_len(&self) -> u64 {
        self.created.len() as u64
    }

    /// A created item, if it is still valid at `now`.
    pub fn created(&self, k: u64, now: SimTime) -> Option<&CreatedRow> {
        self.created
            .get(usize::try_from(k).ok()?)
            .filter(|c| c.valid_until > now)
    }

    /// The created item with this key, if still valid.
    pub fn created_by_key(&self, key: &str, now: SimTime) -> Option<u64> {
        let &k = self.by_key.get(key)?;
        self.created(k as u64, now).map(|_| k as u64)
    }

    /// The change to a generated row, if one is in force at `now`.
    pub fn patch(&self, row: u64, now: SimTime) -> Option<&Patch> {
        if self.patches.is_empty() {
            return None;
        }
        self.patches.get(&row).filter(|p| p.valid_until > now)
    }

    /// Generated rows with a change in force (they may no longer match an index lookup).
    pub fn patched_rows(&self, now: SimTime) -> impl Iterator<Item = u64> + '_ {
        self.patches
            .iter()
            .filter(move |(_, p)| p.valid_until > now)
            .map(|(row, _)| *row)
    }

    pub fn insert(
        &mut self,
        key: String,
        values: Vec<Value<'static>>,
        valid_until: SimTime,
    ) -> u64 {
        let k = self.created.len();
        self.created.push(CreatedRow {
            values,
            valid_until,
        });
        self.by_key.insert(key, k);
        k as u64
    }

    /// Applies changes to a created item.
    pub fn update_created(
        &mut self,
        k: u64,
        changes: Vec<(AttrId, Value<'static>)>,
        valid_until: SimTime,
    ) {
        if let Some(row) = usize::try_from(k)
            .ok()
            .and_then(|k| self.created.get_mut(k))
        {
            for (attr, v) in changes {
                if let Some(slot) = row.values.get_mut(attr) {
                    *slot = v;
                }
            }
            row.valid_until = valid_until;
        }
    }

    /// Applies changes to a generated row (merging with an earlier change still in force).
    pub fn update_base(
        &mut self,
        row: u64,
        changes: Vec<(AttrId, Value<'static>)>,
        valid_until: SimTime,
        now: SimTime,
    ) {
        let attrs = self.attrs;
        let patch = self.patches.entry(row).or_insert_with(|| Patch {
            values: vec![None; attrs],
            valid_until,
        });
        if patch.valid_until <= now {
            patch.values = vec![None; attrs];
        }
        for (attr, v) in changes {
            if let Some(slot) = patch.values.get_mut(attr) {
                *slot = Some(v);
            }
        }
        patch.valid_until = valid_until;
    }
}
