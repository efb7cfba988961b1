//! Running a bound OData query against an entity, and writing the page.
//!
//! The plan is simple and exact: an index (or a decoded key, or a segment's member list) narrows
//! the rows when the filter allows it, every remaining row is checked against the whole filter,
//! and paging slices the matches in natural order (or in `$orderby` order, stable by row). The
//! unfiltered, unsorted case — paging through a table with `$top`/`$skip`, the connector's
//! documented way — touches only the rows of the page.

mod order;

use crate::body::{Body, BodyWriter};
use crate::clock::Deadline;
use crate::json::{push_json_str, push_u64};
use crate::odata::{CmpOp, Filter, Literal, Query, RowAccess, eval};
use crate::schema::{AttrId, Value};
use crate::store::{CustomerField, Entity, Store, TableKind};
use crate::time::SimTime;

/// The rows of one page, and what the response says around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<u64>,
    /// Total matching rows, when `$count=true`.
    pub count: Option<u64>,
    /// Whether rows follow this page.
    pub more: bool,
}

/// A row seen through the filter evaluator.
struct RowRef<'a> {
    store: &'a Store,
    entity: &'a Entity,
    row: u64,
    now: SimTime,
}

impl RowAccess for RowRef<'_> {
    fn value(&self, attr: AttrId) -> Value<'_> {
        self.store.value(self.entity, self.row, attr, self.now)
    }

    fn is_member(&self, segment: usize) -> bool {
        self.store
            .customer_of(self.entity, self.row)
            .is_some_and(|c| self.store.is_member(segment, c))
    }
}

/// A query stopped before it finished: its budget ran out, or its client went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Rows examined between two looks at the deadline (a look is one read of the wall clock).
const CHECK_EVERY: u64 = 1024;

/// Rows a query may examine and still count as light: it runs on the I/O thread that received
/// it. A heavier one runs off the I/O threads, within the server's budget (`server.rs`).
pub const LIGHT_ROWS_MAX: u64 = 20_000;

/// An upper bound of the rows `query` examines: the candidates an index, a decoded key or a
/// segment's member list gives, or every visible row when only a scan will do. The unfiltered,
/// unsorted page examines only its own rows.
pub fn examined_rows(store: &Store, entity: usize, query: &Query, now: SimTime) -> u64 {
    let e = store.entity(entity);
    if query.filter.is_none() && query.search.is_none() && query.orderby.is_empty() {
        return query.top as u64;
    }
    query
        .filter
        .as_ref()
        .and_then(|f| estimate(store, e, f, now))
        .unwrap_or_else(|| store.visible_len(e, now))
}

/// The size of what [`candidates`] would return (an upper bound for `or`), without building
/// any list that grows with the tenant; `None` when only a scan will do.
fn estimate(store: &Store, e: &Entity, filter: &Filter, now: SimTime) -> Option<u64> {
    match filter {
        Filter::Compare {
            op: CmpOp::Eq,
            value: Literal::String(_),
            ..
        }
        | Filter::In { .. } => candidates(store, e, filter, now).map(|c| c.len() as u64),
        Filter::And(a, b) => match (estimate(store, e, a, now), estimate(store, e, b, now)) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (Some(x), None) | (None, Some(x)) => Some(x),
            (None, None) => None,
        },
        Filter::Or(a, b) => Some(estimate(store, e, a, now)? + estimate(store, e, b, now)?),
        Filter::Member(segment) if e.kind == TableKind::Customer => {
            Some(store.segment_members(*segment).len() as u64)
        }
        _ => None,
    }
}

/// Runs `query` against the entity `entity` as of `now`, looking at `deadline` every
/// [`CHECK_EVERY`] rows (and while sorting): a query past its deadline stops there.
pub fn execute(
    store: &Store,
    entity: usize,
    query: &Query,
    now: SimTime,
    deadline: &Deadline,
) -> Result<Page, Stopped> {
    let e = store.entity(entity);
    let skip = query.skip as u64;
    let top = query.top as u64;
    if query.filter.is_none() && query.search.is_none() && query.orderby.is_empty() {
        let total = store.visible_len(e, now);
        let rows = store
            .visible_rows(e, now)
            .skip(query.skip)
            .take(query.top)
            .collect();
        return Ok(Page {
            rows,
            count: query.count.then_some(total),
            more: skip.saturating_add(top) < total,
        });
    }
    let candidates: Box<dyn Iterator<Item = u64> + '_> = match query
        .filter
        .as_ref()
        .and_then(|f| candidates(store, e, f, now))
    {
        Some(rows) => Box::new(rows.into_iter().filter(move |&r| store.visible(e, r, now))),
        None => Box::new(store.visible_rows(e, now)),
    };
    let search = query.search.as_deref().map(SearchTerm::new);
    let mut examined = 0u64;
    let mut stopped = false;
    let matching = candidates
        .take_while(|_| {
            examined += 1;
            stopped = examined.is_multiple_of(CHECK_EVERY) && deadline.expired();
            !stopped
        })
        .filter(|&row| {
            let r = RowRef {
                store,
                entity: e,
                row,
                now,
            };
            query.filter.as_ref().is_none_or(|f| eval(f, &r))
                && search
                    .as_ref()
                    .is_none_or(|s| s.matches(store, e, row, now))
        });
    if !query.orderby.is_empty() {
        let order = order::Order {
            store,
            entity: e,
            keys: &query.orderby,
            now,
        };
        let (rows, total) = order.page(matching, query.skip, query.top, deadline);
        if stopped || deadline.expired() {
            return Err(Stopped);
        }
        return Ok(Page {
            rows,
            count: query.count.then_some(total),
            more: skip.saturating_add(top) < total,
        });
    }
    let mut rows = Vec::with_capacity(query.top.min(1024));
    let mut seen = 0u64;
    let end = skip.saturating_add(top);
    for row in matching {
        if seen >= skip && seen < end {
            rows.push(row);
        }
        seen += 1;
        if seen > end && !query.count {
            break;
        }
    }
    if stopped {
        return Err(Stopped);
    }
    Ok(Page {
        rows,
        count: query.count.then_some(seen),
        more: seen > end,
    })
}

/// Rows that may match `filter` (a superset, in row order), or `None` when only a scan will do.
fn candidates(store: &Store, e: &Entity, filter: &Filter, now: SimTime) -> Option<Vec<u64>> {
    match filter {
        Filter::Compare {
            attr,
            op: CmpOp::Eq,
            value: Literal::String(s),
        } => store.eq_candidates(e, *attr, s, now),
        Filter::In { attr, values } => {
            let mut all = Vec::new();
            for v in values {
                match v {
                    Literal::String(s) => all.extend(store.eq_candidates(e, *attr, s, now)?),
                    Literal::Null => return None,
                    _ => {}
                }
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
        Filter::And(a, b) => match (candidates(store, e, a, now), candidates(store, e, b, now)) {
            (Some(x), Some(y)) => Some(intersect(&x, &y)),
            (Some(x), None) | (None, Some(x)) => Some(x),
            (None, None) => None,
        },
        Filter::Or(a, b) => {
            let mut x = candidates(store, e, a, now)?;
            x.extend(candidates(store, e, b, now)?);
            x.sort_unstable();
            x.dedup();
            Some(x)
        }
        Filter::Member(segment) if e.kind == TableKind::Customer => Some(
            store
                .segment_members(*segment)
                .iter()
                .map(|&r| u64::from(r))
                .collect(),
        ),
        _ => None,
    }
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `$search="text"`: a case-insensitive substring of any searchable attribute.
struct SearchTerm {
    lower: String,
}

impl SearchTerm {
    fn new(text: &str) -> SearchTerm {
        SearchTerm {
            lower: text.trim().to_lowercase(),
        }
    }

    fn matches(&self, store: &Store, e: &Entity, row: u64, now: SimTime) -> bool {
        if self.lower.is_empty() {
            return true;
        }
        let fast = e.kind == TableKind::Customer
            && row < store.base_len(e)
            && e.overlay.patch(row, now).is_none();
        let mut buf = Vec::with_capacity(64);
        e.schema
            .attributes
            .iter()
            .enumerate()
            .filter(|(_, a)| a.searchable)
            .any(|(attr, _)| {
                if fast {
                    buf.clear();
                    store.population.write_customer_field(
                        row as u32,
                        CustomerField::from_attr(attr),
                        true,
                        &mut buf,
                    );
                    contains_lower(&String::from_utf8_lossy(&buf), &self.lower)
                } else {
                    match store.value(e, row, attr, now) {
                        Value::Str(s) => contains_lower(&s, &self.lower),
                        _ => false,
                    }
                }
            })
    }
}

fn contains_lower(haystack: &str, needle_lower: &str) -> bool {
    if haystack.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle_lower.as_bytes());
        return n.len() <= h.len()
            && h.windows(n.len())
                .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b));
    }
    haystack.to_lowercase().contains(needle_lower)
}

/// What surrounds the rows in a response.
pub struct PageFrame<'a> {
    /// `@odata.context`, e.g. `http://127.0.0.1:8080/v1/instances/{id}/data/$metadata#Customer`.
    pub context: &'a str,
    /// `@odata.nextLink`, when next links are on and rows follow.
    pub next_link: Option<&'a str>,
}

/// Writes the JSON response body of a page.
///
/// Runs of consecutive generated Customer rows (the unfiltered `$top`/`$skip` page) are shared
/// slices of the row cache; everything else is written for this response.
pub fn write_page(
    store: &Store,
    entity: usize,
    query: &Query,
    page: &Page,
    frame: &PageFrame<'_>,
    now: SimTime,
) -> Body {
    let e = store.entity(entity);
    let attrs = query.select.as_deref();
    // Whole generated Customer rows are shared with the row cache; only other rows are written.
    let whole = attrs.is_none() && query.expand.is_empty();
    let written_rows = if whole && e.kind == TableKind::Customer {
        0
    } else {
        page.rows.len()
    };
    let width = attrs.map_or(e.schema.attributes.len(), <[AttrId]>::len);
    let mut w = BodyWriter::with_capacity(512 + written_rows * 24 * width);
    let out = w.buf();
    out.extend_from_slice(b"{\"@odata.context\":");
    push_json_str(frame.context, out);
    if let Some(count) = page.count {
        out.extend_from_slice(b",\"@odata.count\":");
        push_u64(count, out);
    }
    out.extend_from_slice(b",\"value\":[");
    let rows = &page.rows;
    let mut i = 0;
    while i < rows.len() {
        if i > 0 {
            w.buf().push(b',');
        }
        if whole && store.cached_whole(e, rows[i], now) {
            let mut j = i + 1;
            while j < rows.len()
                && rows[j] == rows[j - 1] + 1
                && store.cached_whole(e, rows[j], now)
            {
                j += 1;
            }
            for (k, slice) in store
                .cached_customer_rows(rows[i], rows[j - 1] + 1)
                .into_iter()
                .enumerate()
            {
                if k > 0 {
                    w.buf().push(b',');
                }
                w.share(slice);
            }
            i = j;
            continue;
        }
        let out = w.buf();
        store.write_row(e, rows[i], attrs, now, out);
        if !query.expand.is_empty() {
            // Replace the row's closing brace with the expanded navigation properties.
            out.pop();
            write_expansions(store, e, rows[i], &query.expand, now, out);
            out.push(b'}');
        }
        i += 1;
    }
    let out = w.buf();
    out.push(b']');
    if let Some(link) = frame.next_link {
        out.extend_from_slice(b",\"@odata.nextLink\":");
        push_json_str(link, out);
    }
    out.push(b'}');
    w.finish()
}

fn write_expansions(
    store: &Store,
    e: &Entity,
    row: u64,
    expand: &[String],
    now: SimTime,
    out: &mut Vec<u8>,
) {
    let customer = store.customer_of(e, row);
    for nav in expand {
        let Some(target) = store.entity_index(nav) else {
            continue;
        };
        let te = store.entity(target);
        out.push(b',');
        push_json_str(&te.schema.name, out);
        out.push(b':');
        match te.kind {
            TableKind::CustomerMeasure => match customer {
                Some(c) => store.write_row(te, u64::from(c), None, now, out),
                None => out.extend_from_slice(b"null"),
            },
            _ => {
                out.push(b'[');
                let mut first = true;
                let mut rows: Vec<u64> = customer
                    .map(|c| store.activities_of(c).collect())
                    .unwrap_or_default();
                // Activities created through the API for this customer follow the generated ones.
                let id = store.value(e, row, 0, now);
                let customer_attr = te.schema.attr("CustomerId");
                let base = store.base_len(te);
                if let Some(ca) = customer_attr {
                    rows.extend(
                        (0..te.overlay.created_len())
                            .map(|k| base + k)
                            .filter(|&r| {
                                store.visible(te, r, now) && store.value(te, r, ca, now) == id
                            }),
                    );
                }
                for r in rows {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    store.write_row(te, r, None, now, out);
                }
                out.push(b']');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::{BindContext, bind, parse_options};
    use crate::tenant::TenantSpec;

    /// Runs `options` on Customer with an unbounded and with a cancelled deadline: the first
    /// answers, the second stops (its scan or its sort looks at the deadline).
    fn check_stops(store: &Store, options: &str) {
        let e = store.entity_index("Customer").unwrap();
        let segments = store.segment_names();
        let ctx = BindContext {
            page_size_default: 100,
            page_size_max: 100,
            segments: &segments,
            keyed_filters: true,
        };
        let query = bind(
            parse_options(options).unwrap(),
            &store.entity(e).schema,
            &ctx,
        )
        .unwrap();
        let now = SimTime::DEFAULT_EPOCH;
        assert!(
            examined_rows(store, e, &query, now) > CHECK_EVERY,
            "{options}"
        );
        assert!(execute(store, e, &query, now, &Deadline::unbounded()).is_ok());
        let gone = Deadline::unbounded();
        gone.cancel();
        assert_eq!(
            execute(store, e, &query, now, &gone),
            Err(Stopped),
            "{options}"
        );
    }

    #[test]
    fn a_scan_a_sort_and_a_search_stop_at_their_deadline() {
        let mut spec = TenantSpec::demo();
        spec.customers = 10_000;
        let store = Store::generate(&spec, 7);
        for options in [
            "$filter=City%20gt%20'zzzz'",
            "$orderby=Telephone",
            "$orderby=City&$skip=9000&$top=100",
            "$search=%22zzzz%22&$count=true",
            "$filter=IsMemberOfSegment('NewsletterSubscribers')&$orderby=FullName",
        ] {
            check_stops(&store, options);
        }
    }

    #[test]
    fn a_page_and_an_indexed_lookup_are_light() {
        let mut spec = TenantSpec::demo();
        spec.customers = 3000;
        let store = Store::generate(&spec, 7);
        let e = store.entity_index("Customer").unwrap();
        let segments = store.segment_names();
        let ctx = BindContext {
            page_size_default: 100,
            page_size_max: 100,
            segments: &segments,
            keyed_filters: true,
        };
        let id = store
            .population()
            .customer_text(5, CustomerField::CustomerId)
            .unwrap();
        for options in [
            "$top=100&$skip=2500",
            &format!("$filter=CustomerId%20eq%20'{id}'"),
        ] {
            let query = bind(
                parse_options(options).unwrap(),
                &store.entity(e).schema,
                &ctx,
            )
            .unwrap();
            let rows = examined_rows(&store, e, &query, SimTime::DEFAULT_EPOCH);
            assert!(rows <= 100, "{options}: {rows}");
        }
    }
}
