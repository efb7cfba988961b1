//! The OData subset of the Customer Insights API: query options, `$filter` grammar, binding to
//! an entity schema and evaluation against a row.
//!
//! ```
//! use simulator::odata::{BindContext, RowAccess, bind, eval, parse_options};
//! use simulator::schema::{AttrId, AttrType, Attribute, EntityKind, Schema, Value};
//!
//! let schema = Schema {
//!     name: "Customer".into(),
//!     kind: EntityKind::Profile,
//!     attributes: vec![
//!         Attribute::new("CustomerId", AttrType::String).filterable(),
//!         Attribute::new("EMail", AttrType::String).filterable().searchable(),
//!     ],
//!     key: Some(0),
//!     expandable: vec!["UnifiedActivity".into()],
//!     data_source: None,
//! };
//! let ctx = BindContext { page_size_default: 100, page_size_max: 100, segments: &["VIP"], keyed_filters: true };
//!
//! let raw = parse_options("$filter=customerid+in+('a','b')+and+IsMemberOfSegment('VIP')&$top=500")?;
//! let query = bind(raw, &schema, &ctx)?;
//! assert_eq!(query.top, 100); // clamped to the maximum page size
//!
//! struct Row(&'static str, bool);
//! impl RowAccess for Row {
//!     fn value(&self, _attr: AttrId) -> Value<'_> { Value::Str(self.0.into()) }
//!     fn is_member(&self, _segment: usize) -> bool { self.1 }
//! }
//! let filter = query.filter.as_ref().expect("a filter");
//! assert!(eval(filter, &Row("b", true)));
//! assert!(!eval(filter, &Row("c", true)));
//!
//! let err = parse_options("$filter=Emial eq 'x'").and_then(|raw| bind(raw, &schema, &ctx)).unwrap_err();
//! assert_eq!((err.code, err.target.as_str()), ("UnknownField", "$filter"));
//! assert_eq!(
//!     err.message,
//!     r#"unknown field "Emial" in $filter; filterable fields of Customer are CustomerId, EMail; did you mean "EMail"?"#
//! );
//! # Ok::<(), simulator::odata::QueryError>(())
//! ```
//!
//! # The pipeline
//!
//! [`parse_options`] reads the raw query string into [`RawOptions`] (with `$filter` parsed by
//! [`parse_filter`] into an [`Expr`]); [`bind()`] checks them against a [`Schema`] and the
//! connector's rules into a [`Query`] (with a [`Filter`] over attribute ids); [`eval()`] decides
//! whether one row (any [`RowAccess`]) matches. An [`Expr`] prints (`Display`) as canonical
//! `$filter` text that parses back to the same [`Expr`].
//!
//! # `$filter` grammar (EBNF)
//!
//! ```text
//! filter     = or_expr ;
//! or_expr    = and_expr , { "or" , and_expr } ;             (* left-associative *)
//! and_expr   = unary , { "and" , unary } ;                  (* left-associative *)
//! unary      = "not" , unary | primary ;
//! primary    = "(" , or_expr , ")" | membership | comparison ;
//! membership = "IsMemberOfSegment" , "(" , string , ")" ;  (* function name in any case *)
//! comparison = field , cmp_op , literal
//!            | literal , cmp_op , field                      (* 5 lt X is read as X gt 5 *)
//!            | field , "in" , "(" , literal , { "," , literal } , ")" ;
//! cmp_op     = "eq" | "ne" | "gt" | "ge" | "lt" | "le" ;
//! literal    = string | number | date_time | "true" | "false" | "null" ;
//! field      = ( letter | "_" ) , { letter | digit | "_" } ; (* not a keyword *)
//! string     = "'" , { any char but "'" | "''" } , "'" ;   (* '' is one quote *)
//! number     = [ "-" ] , digits , [ "." , digits ] , [ ( "e" | "E" ) , [ "+" | "-" ] , digits ] ;
//! date_time  = yyyy "-" mm "-" dd , [ "T" , hh ":" mm [ ":" ss [ "." fraction ] ] , ( "Z" | ( "+" | "-" ) , hh ":" mm ) ] ;
//! ```
//!
//! - Tokens are separated by optional whitespace (space, tab, CR, LF).
//! - Precedence is `not` > `and` > `or`. Since every operand in the subset is a condition, `not`
//!   applies to the condition after it: `not A eq 1` is `not (A eq 1)` (strict OData binds `not`
//!   tighter than `eq` and would reject it as a type error; printing always writes the
//!   parenthesised form, valid in both readings).
//! - Keywords (`and or not in eq ne gt ge lt le true false null`) are lowercase and
//!   case-sensitive, as in OData: `EQ` is an error that suggests `eq`. The function name
//!   `IsMemberOfSegment` is matched in any case. Field names are matched by the schema, exactly
//!   and then ignoring ASCII case (the documentation writes `customerid eq '1'`).
//! - Numbers: without fraction or exponent and within `i64`, an `Edm.Int64` literal
//!   ([`Literal::Int`]); otherwise (`1.5`, `2e3`, `-1.5e-7`, or an integer beyond `i64`) an
//!   `Edm.Decimal` held as `f64` ([`Literal::Decimal`]), which must be finite. Decimals print in
//!   Rust's shortest round-trip form, which always has a `.` or an exponent, so they read back
//!   exactly. The OData v3 suffixes (`1.5M`, `2L`) and `INF`/`NaN` are not supported.
//! - Date-times are unquoted, as in the documented examples (`ActivityTime gt
//!   2017-01-01T00:00:00.000Z`); a bare date (`2017-01-01`) is midnight UTC. A time needs `Z` or
//!   an offset. Years run from 0000 to 9999; precision is the millisecond. In a URL, write an
//!   offset's `+` as `%2B`: a plain `+` decodes to a space (the error says so). For date-time
//!   fields a quoted RFC 3339 string is accepted too and converted during binding.
//! - Typed literals of OData v3 (`datetime'...'`, `guid'...'`) are rejected with a hint.
//! - Limits: at most [`FILTER_LEN_MAX`] bytes and [`FILTER_DEPTH_MAX`] levels of nesting
//!   (parentheses and `not`), so that no input can exhaust the stack. Chains of `and`/`or`
//!   are not nested and have no limit but the length: binding makes them right-leaning so that
//!   [`eval()`] iterates along them.
//!
//! # Query options
//!
//! See [`parse_options`] (decoding, which parameters are ignored) and [`bind()`]. In short:
//! `$select=*` or no `$select` selects everything; `$orderby` takes several keys with
//! `asc`/`desc`; `$top` defaults to [`BindContext::page_size_default`] and is clamped to
//! [`BindContext::page_size_max`]; `$skiptoken` (the row offset of the next page, as the
//! simulator's `@odata.nextLink` writes it) is added to `$skip`; `$search="text"` needs double quotes; `$expand` only where the
//! schema lists navigation properties, and never with `$search` or a partial `$select`.
//!
//! # Errors
//!
//! Every rejected query is a [`QueryError`], sent as `400` with the OData error body
//! `{"error":{"code":...,"message":...,"target":...}}`. Codes are stable strings, also
//! available as constants in [`code`]; messages name the option and the offending token
//! (with its 1-based character position inside `$filter`) and say how to fix it.
//!
//! | `code` | `target` | When |
//! |---|---|---|
//! | `InvalidEncoding` | the option | a value is not UTF-8 after percent-decoding |
//! | `UnknownOption` | the option as written | a `$`-option outside the supported list (`$format`, `$apply`, `$Filter`) |
//! | `DuplicateOption` | the option | an option given twice |
//! | `InvalidOptionValue` | the option | malformed `$top`, `$skip`, `$count`, `$select`, `$orderby`, `$expand`, `$search` or `$skiptoken`; a number too large |
//! | `InvalidFilter` | `$filter` | a syntax error: bad character, unterminated string, malformed number or date-time, unbalanced parenthesis, missing operand, trailing token, empty filter or `in ()`, upper-case keyword |
//! | `UnsupportedFilter` | `$filter` | valid OData outside the subset: functions other than `IsMemberOfSegment`, arithmetic (`add`, `sub`, ...), `has`, field-to-field comparison, typed literals |
//! | `FilterTooComplex` | `$filter` | longer than [`FILTER_LEN_MAX`] or nested deeper than [`FILTER_DEPTH_MAX`] |
//! | `EntityNotFilterable` | `$filter` | any `$filter` on an ingested source table ([`EntityKind::SourceTable`](crate::schema::EntityKind::SourceTable)) |
//! | `UnknownField` | `$filter`, `$select`, `$orderby` | a field the entity does not have (with a suggestion when one is close) |
//! | `FieldNotFilterable` | `$filter` | a field whose [`Attribute::filterable`](crate::schema::Attribute::filterable) is false, unless it is [`filterable_with_key`](crate::schema::Attribute::filterable_with_key) and the filter's top-level conjunction has an `eq` condition with a value on a filterable field (`CustomerId eq '…' and ActivityType eq 'Purchase'`) |
//! | `TypeMismatch` | `$filter` | a literal of the wrong type for the field, `null` with `gt`/`ge`/`lt`/`le`, or an ordering operator on a boolean |
//! | `MembershipNotSupported` | `$filter` | `IsMemberOfSegment` on an entity other than the profile |
//! | `UnknownSegment` | `$filter` | `IsMemberOfSegment` names no segment of the instance |
//! | `ExpandNotSupported` | `$expand` | `$expand` on an entity without navigation properties |
//! | `UnknownNavigation` | `$expand` | a navigation property the entity does not have |
//! | `UnsupportedCombination` | `$expand` | `$expand` with `$search`, or with a `$select` of some fields |
//! | `SearchNotSupported` | `$search` | `$search` on an entity without searchable fields |
//!
//! [`Schema`]: crate::schema::Schema

mod ast;
mod bind;
pub mod code;
mod display;
mod eval;
mod lexer;
mod options;
mod parser;
#[cfg(test)]
mod testgen;
mod words;

pub use ast::*;
pub use bind::{BindContext, bind};
pub use eval::{RowAccess, eval};
pub use options::{SUPPORTED_OPTIONS, parse_options};
pub use parser::{FILTER_DEPTH_MAX, FILTER_LEN_MAX, parse_filter};
