//! Scenario files: the conformance suite as data.
//!
//! [`parse`] reads one file, [`load_suite`] a suite of them, [`write()`] renders a scenario back
//! to TOML (for shrunk property-test failures) and [`schema`] is the JSON Schema of the format.

#[cfg(test)]
mod arb;
mod error;
mod key;
mod load;
pub mod model;
mod names;
mod parse;
mod schema;
mod validate;
mod write;

pub use error::{ErrorKind, NameKind, PartitionError, PartitionProblem, ScenarioError};
pub use load::{Case, Suite, load_suite, matches_filter, parse_partition};
pub use model::*;
pub use parse::parse;
pub use schema::{SCHEMA_ID, schema};
pub use write::write;
