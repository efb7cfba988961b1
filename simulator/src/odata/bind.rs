//! Binding parsed options to an entity's schema: resolving names, checking the connector's
//! filter rules and literal types, and settling paging.

mod fields;
mod filter;
mod orderby;
mod select;
#[cfg(test)]
mod tests;

use super::words::shorten;
use super::{Query, QueryError, RawOptions, code};
use crate::schema::Schema;
use fields::Fields;

/// What binding needs to know beyond the entity's schema.
#[derive(Debug, Clone, Copy)]
pub struct BindContext<'a> {
    /// Rows per page when `$top` is absent.
    pub page_size_default: usize,
    /// The largest page; a larger `$top` is clamped to it.
    pub page_size_max: usize,
    /// The instance's segment names; [`Filter::Member`](super::Filter::Member) holds an index into
    /// this list.
    pub segments: &'a [&'a str],
    /// Whether responses carry `@odata.nextLink`, and so whether `$skiptoken` is accepted.
    pub next_link: bool,
}

/// Checks `raw` against `schema` and the connector's rules (see the [module docs](super)),
/// giving a [`Query`] whose attributes are ids and whose literals fit their fields.
pub fn bind(raw: RawOptions, schema: &Schema, ctx: &BindContext) -> Result<Query, QueryError> {
    let fields = Fields { schema };
    let filter = raw
        .filter
        .map(|e| filter::bind_filter(&fields, ctx.segments, e))
        .transpose()?;
    let select = select::bind_select(&fields, raw.select)?;
    let orderby = orderby::bind_orderby(&fields, raw.orderby)?;
    let top = match raw.top {
        None => ctx.page_size_default,
        Some(top) => rows("$top", top)?,
    }
    .min(ctx.page_size_max);
    let skip = skip(ctx, raw.skip, raw.skiptoken)?;
    if raw.search.is_some() && !schema.attributes.iter().any(|a| a.searchable) {
        return Err(QueryError::new(
            code::SEARCH_NOT_SUPPORTED,
            "$search",
            format!(
                "$search is not supported on {}, which has no searchable fields",
                schema.name
            ),
        ));
    }
    let expand = select::bind_expand(&fields, raw.expand, raw.search.is_some(), select.is_some())?;
    Ok(Query {
        filter,
        select,
        orderby,
        top,
        skip,
        search: raw.search,
        expand,
        count: raw.count,
    })
}

fn rows(option: &str, n: u64) -> Result<usize, QueryError> {
    usize::try_from(n).map_err(|_| {
        QueryError::new(
            code::INVALID_OPTION_VALUE,
            option,
            format!("{option} {n} is too large for this machine"),
        )
    })
}

/// `$skip`, plus the offset a `$skiptoken` carries (accepted only while next links are on).
fn skip(ctx: &BindContext, skip: Option<u64>, token: Option<String>) -> Result<usize, QueryError> {
    let skip = rows("$skip", skip.unwrap_or(0))?;
    let Some(token) = token else {
        return Ok(skip);
    };
    if !ctx.next_link {
        return Err(QueryError::new(
            code::SKIP_TOKEN_NOT_SUPPORTED,
            "$skiptoken",
            "$skiptoken is not accepted because next links are off, as in the real API; page with $skip, e.g. $skip=100",
        ));
    }
    let malformed = || {
        QueryError::new(
            code::INVALID_OPTION_VALUE,
            "$skiptoken",
            format!(
                "invalid $skiptoken \"{}\"; follow @odata.nextLink as the service gave it",
                shorten(&token)
            ),
        )
    };
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let offset: usize = token.parse().map_err(|_| malformed())?;
    skip.checked_add(offset).ok_or_else(malformed)
}
