//! The tenant's data as the API serves it: generated rows, the items clients created or changed,
//! and the live parts (segment members, measure values) that the refresh lifecycle moves.
//!
//! - `population`: the generated data as compact columns, and its rendering;
//! - `entity`: the entities and their schemas; `base_rows`: reading generated rows;
//! - `overlay`: items created and changed through the API; `items`: Create and Update item;
//! - `live`: segment members and measure values; `row_cache`: pre-rendered Customer rows;
//! - `data`: the [`Store`] that ties these together.

mod base_rows;
mod data;
mod entity;
mod index;
mod items;
mod live;
mod overlay;
mod population;
mod row_cache;

pub use data::Store;
pub use entity::{Entity, TableKind};
pub use items::{StoreError, VALID_UNTIL_MAX};
pub use live::{Live, MeasureLive, SegmentLive};
pub use overlay::Overlay;
pub use population::{CustomerField, Population};
