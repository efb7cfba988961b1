//! The stable `code` of every rejected query (the table in the [module docs](super) says when
//! each one is used). Clients and scenario checks match on these strings, so they never change.

/// A value in the query string is not valid UTF-8 after percent-decoding.
pub const INVALID_ENCODING: &str = "InvalidEncoding";
/// A `$`-option that this API does not have (`$format`, `$apply`, `$Filter`, ...).
pub const UNKNOWN_OPTION: &str = "UnknownOption";
/// The same `$`-option given twice.
pub const DUPLICATE_OPTION: &str = "DuplicateOption";
/// A malformed value of `$top`, `$skip`, `$count`, `$select`, `$orderby`, `$expand`, `$search`
/// or `$skiptoken`.
pub const INVALID_OPTION_VALUE: &str = "InvalidOptionValue";
/// `$filter` is not well-formed (bad token, unbalanced parenthesis, missing operand, ...).
pub const INVALID_FILTER: &str = "InvalidFilter";
/// `$filter` is valid OData but outside the connector's subset (other functions, arithmetic,
/// field-to-field comparisons, typed literals).
pub const UNSUPPORTED_FILTER: &str = "UnsupportedFilter";
/// `$filter` is longer or nests deeper than the limits.
pub const FILTER_TOO_COMPLEX: &str = "FilterTooComplex";
/// `$filter` on an ingested source table.
pub const ENTITY_NOT_FILTERABLE: &str = "EntityNotFilterable";
/// A field name that the entity does not have (`$filter`, `$select`, `$orderby`).
pub const UNKNOWN_FIELD: &str = "UnknownField";
/// A field that exists but may not be filtered on.
pub const FIELD_NOT_FILTERABLE: &str = "FieldNotFilterable";
/// A literal of the wrong type for its field, `null` with an ordering operator, or an ordering
/// operator on a boolean.
pub const TYPE_MISMATCH: &str = "TypeMismatch";
/// `IsMemberOfSegment` on an entity other than the unified profile.
pub const MEMBERSHIP_NOT_SUPPORTED: &str = "MembershipNotSupported";
/// `IsMemberOfSegment` names a segment the instance does not have.
pub const UNKNOWN_SEGMENT: &str = "UnknownSegment";
/// `$expand` on an entity without navigation properties.
pub const EXPAND_NOT_SUPPORTED: &str = "ExpandNotSupported";
/// `$expand` names a navigation property the entity does not have.
pub const UNKNOWN_NAVIGATION: &str = "UnknownNavigation";
/// A documented unsupported combination: `$expand` with `$search`, or with a partial `$select`.
pub const UNSUPPORTED_COMBINATION: &str = "UnsupportedCombination";
/// `$search` on an entity without searchable fields.
pub const SEARCH_NOT_SUPPORTED: &str = "SearchNotSupported";
