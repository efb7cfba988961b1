//! The simulated tenant: its definition (the tenant file) and its generated data.

mod geography;
mod limits;
pub mod names;
mod objects;
pub mod schema;
pub mod spec;

pub use spec::TenantSpec;
