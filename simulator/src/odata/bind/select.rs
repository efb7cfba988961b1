//! Binding `$select` and `$expand`, with the documented combinations `$expand` does not
//! support (with `$search`, or with a `$select` of some fields).

use super::fields::Fields;
use crate::odata::words::{did_you_mean, join, shorten};
use crate::odata::{QueryError, code};
use crate::schema::AttrId;

/// `$select`: `None` for all fields (`*` or no `$select`), else the named fields in order,
/// without duplicates.
pub(super) fn bind_select(
    fields: &Fields<'_>,
    select: Option<Vec<String>>,
) -> Result<Option<Vec<AttrId>>, QueryError> {
    let Some(names) = select else {
        return Ok(None);
    };
    if names.iter().any(|n| n == "*") {
        return Ok(None);
    }
    let mut ids = Vec::with_capacity(names.len());
    for name in &names {
        let id = fields.any_field(name, "$select")?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(Some(ids))
}

/// `$expand`: canonical navigation names, without duplicates.
pub(super) fn bind_expand(
    fields: &Fields<'_>,
    names: Vec<String>,
    search: bool,
    partial_select: bool,
) -> Result<Vec<String>, QueryError> {
    if names.is_empty() {
        return Ok(names);
    }
    let supported = &fields.schema.expandable;
    if supported.is_empty() {
        return Err(QueryError::new(
            code::EXPAND_NOT_SUPPORTED,
            "$expand",
            format!(
                "$expand is not supported on {}, which has no navigation properties; $expand works on the unified customer profile",
                fields.schema.name
            ),
        ));
    }
    let mut expand: Vec<String> = Vec::with_capacity(names.len());
    for name in &names {
        let found = supported
            .iter()
            .find(|s| *s == name)
            .or_else(|| supported.iter().find(|s| s.eq_ignore_ascii_case(name)));
        let Some(canonical) = found else {
            return Err(QueryError::new(
                code::UNKNOWN_NAVIGATION,
                "$expand",
                format!(
                    "unknown navigation property \"{}\" in $expand; {} supports {}{}",
                    shorten(name),
                    fields.schema.name,
                    join(supported),
                    did_you_mean(name, supported.iter().map(String::as_str))
                ),
            ));
        };
        if !expand.contains(canonical) {
            expand.push(canonical.clone());
        }
    }
    let combination = |other: &str, fix: &str| {
        QueryError::new(
            code::UNSUPPORTED_COMBINATION,
            "$expand",
            format!(
                "$expand cannot be combined with {other}, a documented limitation of the API; {fix}"
            ),
        )
    };
    if search {
        return Err(combination("$search", "drop one of them"));
    }
    if partial_select {
        return Err(combination(
            "a $select of some fields",
            "use $select=* or leave $select out",
        ));
    }
    Ok(expand)
}
