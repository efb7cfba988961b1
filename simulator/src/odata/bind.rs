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
    /// Whether attributes marked [`filterable_with_key`](crate::schema::Attribute::filterable_with_key)
    /// may be filtered inside a conjunction with an `eq` condition on a filterable attribute
    /// (`CustomerId eq '…' and ActivityType eq 'Purchase'`); when false only the filterable
    /// attributes may be named, as the connector page lists them (the tenant's
    /// `activity_filter = "connector_page"`).
    pub keyed_filters: bool,
}

/// Checks `raw` against `schema` and the connector's rules (see the [module docs](super)),
/// giving a [`Query`] whose attributes are ids and whose literals fit their fields.
pub fn bind(raw: RawOptions, schema: &Schema, ctx: &BindContext) -> Result<Query, QueryError> {
    let fields = Fields { schema };
    let filter = raw
        .filter
        .map(|e| filter::bind_filter(&fields, ctx.segments, ctx.keyed_filters, e))
        .transpose()?;
    let select = select::bind_select(&fields, raw.select)?;
    let orderby = orderby::bind_orderby(&fields, raw.orderby)?;
    let top = match raw.top {
        None => ctx.page_size_default,
        Some(top) => rows("$top", top)?,
    }
    .min(ctx.page_size_max);
    let skip = skip(raw.skip, raw.skiptoken)?;
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

/// `$skip`, plus the offset a `$skiptoken` carries.
///
/// The API model declares `$skiptoken` on the data read, but not what its tokens look like: the
/// simulator's are the row offset of the next page, as its `@odata.nextLink` writes them (when
/// the tenant turns next links on). A token is accepted whether or not next links are on, so a
/// client that keeps a link from an earlier answer still gets its page.
fn skip(skip: Option<u64>, token: Option<String>) -> Result<usize, QueryError> {
    let skip = rows("$skip", skip.unwrap_or(0))?;
    let Some(token) = token else {
        return Ok(skip);
    };
    let malformed = || {
        QueryError::new(
            code::INVALID_OPTION_VALUE,
            "$skiptoken",
            format!(
                "invalid $skiptoken \"{}\"; a $skiptoken is the continuation an @odata.nextLink carries (here the row offset of the next page, e.g. $skiptoken=100): follow the link as the service gave it, or page with $skip",
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
