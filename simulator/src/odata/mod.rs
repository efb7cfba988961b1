//! The OData subset of the Customer Insights API: query options, `$filter` grammar, binding to
//! an entity schema and evaluation against a row.

mod ast;

pub use ast::*;
