//! Scenario files: the conformance suite as data.

pub mod model;

pub use model::*;
