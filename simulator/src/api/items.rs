//! Reading data: "Get items from an entity" (the OData read), the partition list of `?proxy=true`
//! and "Retrieve data from a partition" (CSV).
//!
//! Each read works on a snapshot of the data and holds no lock. A light read (one that examines
//! few rows: a page, an indexed lookup) is answered at once; a heavy one (a scan, a sort, a
//! search, a partition) is handed back as [`Routed::Later`], work that the server runs off its
//! I/O threads within the query budget (`limits.server_query_time_max`), and that stops when the
//! budget runs out.

use std::sync::Arc;

use super::error::ApiError;
use super::limits;
use super::request::{ApiRequest, query_param};
use super::response::{ApiResponse, CSV, ODATA_JSON};
use super::staged::Routed;
use crate::clock::Deadline;
use crate::metadata::{PARTITION_ROWS, partition_url};
use crate::odata::{BindContext, Query, bind, parse_options};
use crate::query::{LIGHT_ROWS_MAX, PageFrame, Stopped, examined_rows, execute, write_page};
use crate::schema::Value;
use crate::sim::Simulator;
use crate::store::Store;
use crate::tenant::spec::ActivityFilter;
use crate::time::SimTime;

/// `GET .../data/{entity}`.
pub(super) fn get(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    name: &str,
    now: SimTime,
) -> Result<Routed, ApiError> {
    let store = sim.store();
    let e = entity_index(&store, name)?;
    if query_param(req.query, "proxy").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(Routed::Now(partition_requests(
            sim,
            &store,
            e,
            req.base_url,
        )));
    }
    let raw = parse_options(req.query.unwrap_or(""))?;
    let limits = &sim.spec.limits;
    let segment_names = store.segment_names();
    let ctx = BindContext {
        page_size_default: limits.page_size_default,
        page_size_max: limits.page_size_max,
        segments: &segment_names,
        keyed_filters: sim.spec.activity_filter == ActivityFilter::WithKey,
    };
    let schema = &store.entity(e).schema;
    let query = bind(raw, schema, &ctx)?;
    let data_url = [req.base_url, "/v1/instances/", &sim.instance_id, "/data"].concat();
    let mut context = [&data_url, "/$metadata#", &schema.name].concat();
    if let Some(select) = &query.select {
        context.push('(');
        for (i, &a) in select.iter().enumerate() {
            if i > 0 {
                context.push(',');
            }
            context.push_str(&schema.attributes[a].name);
        }
        context.push(')');
    }
    let next_link = next_link_base(limits.next_link, req.query, &data_url, &schema.name);
    drop(segment_names);
    let read = Read {
        store,
        entity: e,
        query,
        now,
        context,
        next_link,
    };
    if examined_rows(&read.store, e, &read.query, now) <= LIGHT_ROWS_MAX {
        return read.answer(sim, &Deadline::unbounded()).map(Routed::Now);
    }
    Ok(Routed::Later(Box::new(move |sim: &Simulator, deadline| {
        read.answer(sim, deadline)
    })))
}

/// A bound read on a snapshot: everything needed to answer it, on any thread.
struct Read {
    store: Arc<Store>,
    entity: usize,
    query: Query,
    now: SimTime,
    context: String,
    /// The next link without its `$skiptoken` (when next links are on).
    next_link: Option<String>,
}

impl Read {
    fn answer(&self, sim: &Simulator, deadline: &Deadline) -> Result<ApiResponse, ApiError> {
        let (store, e, query) = (&self.store, self.entity, &self.query);
        let page =
            execute(store, e, query, self.now, deadline).map_err(|Stopped| query_stopped(sim))?;
        let next_link = self
            .next_link
            .as_ref()
            .filter(|_| page.more)
            .map(|base| format!("{base}$skiptoken={}", query.skip + page.rows.len()));
        let body = write_page(
            store,
            e,
            query,
            &page,
            &PageFrame {
                context: &self.context,
                next_link: next_link.as_deref(),
            },
            self.now,
        );
        let mut response = ApiResponse::json(200, body);
        response.content_type = ODATA_JSON;
        Ok(response)
    }
}

/// The refusal of a query whose budget ran out.
pub(super) fn query_stopped(sim: &Simulator) -> ApiError {
    let budget = sim.spec.limits.server_query_time_max;
    limits::refusal(
        503,
        "server_query_time_max",
        &budget.to_string(),
        format!("the query ran longer than {budget} and was stopped"),
        "narrow it with an indexed $filter (CustomerId, the alternate keys or an indexed field) or a smaller $skip",
    )
    .retry_after(budget.as_secs_ceil().max(1) as u64)
}

/// The next link of a page, up to its `$skiptoken`: the request's own query without `$skip`.
fn next_link_base(on: bool, query: Option<&str>, data_url: &str, entity: &str) -> Option<String> {
    if !on {
        return None;
    }
    let mut link = format!("{data_url}/{entity}?");
    for p in query.unwrap_or("").split('&').filter(|p| {
        let k = p.split('=').next().unwrap_or("");
        !p.is_empty() && !matches!(k, "$skip" | "$skiptoken" | "%24skip" | "%24skiptoken")
    }) {
        link.push_str(p);
        link.push('&');
    }
    Some(link)
}

pub(super) fn entity_index(store: &Store, name: &str) -> Result<usize, ApiError> {
    store.entity_index(name).ok_or_else(|| {
        let names: Vec<&str> = store
            .entities
            .iter()
            .map(|e| e.schema.name.as_str())
            .collect();
        ApiError::not_found(
            "UnknownEntity",
            format!(
                "entity \"{name}\" does not exist; entities are {}",
                names.join(", ")
            ),
        )
        .with_target(name.to_owned())
    })
}

/// `?proxy=true`: where to download the entity's data from (the Power BI connector's path).
fn partition_requests(sim: &Simulator, store: &Store, e: usize, base_url: &str) -> ApiResponse {
    let entity = store.entity(e);
    let parts = store.base_len(entity).div_ceil(PARTITION_ROWS).max(1);
    let requests: Vec<_> = (0..parts)
        .map(|n| {
            serde_json::json!({
                "uri": partition_url(base_url, &sim.instance_id, &entity.schema.name, n),
                "headers": {"Accept": "text/csv"},
            })
        })
        .collect();
    ApiResponse::json_value(200, &serde_json::json!({ "httpRequests": requests }))
}

/// "Retrieve data from a partition": one partition of an entity as CSV, always heavy work (a
/// partition is up to [`PARTITION_ROWS`] rows).
pub(super) fn partition(
    sim: &Simulator,
    name: &str,
    file: &str,
    now: SimTime,
) -> Result<Routed, ApiError> {
    let store = sim.store();
    let e = entity_index(&store, name)?;
    let rows = store.base_len(store.entity(e));
    let parts = rows.div_ceil(PARTITION_ROWS).max(1);
    let n: u64 = file
        .strip_suffix(".csv")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n < parts)
        .ok_or_else(|| {
            ApiError::not_found(
                "UnknownPartition",
                format!(
                    "partition \"{file}\" of {name} does not exist; it has partitions 0.csv to {}.csv",
                    parts - 1
                ),
            )
        })?;
    Ok(Routed::Later(Box::new(move |sim: &Simulator, deadline| {
        partition_csv(&store, e, n, now, deadline).map_err(|Stopped| query_stopped(sim))
    })))
}

fn partition_csv(
    store: &Store,
    e: usize,
    n: u64,
    now: SimTime,
    deadline: &Deadline,
) -> Result<ApiResponse, Stopped> {
    let entity = store.entity(e);
    let rows = store.base_len(entity);
    let attrs = entity.schema.attributes.len();
    let mut out = Vec::new();
    if entity.schema.kind == crate::schema::EntityKind::Segment {
        let header: Vec<&str> = entity
            .schema
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        out.extend_from_slice(header.join(",").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for row in n * PARTITION_ROWS..((n + 1) * PARTITION_ROWS).min(rows) {
        if row % 1024 == 0 && deadline.expired() {
            return Err(Stopped);
        }
        for attr in 0..attrs {
            if attr > 0 {
                out.push(b',');
            }
            write_csv_field(&store.value(entity, row, attr, now), &mut out);
        }
        out.extend_from_slice(b"\r\n");
    }
    let mut response = ApiResponse::json(200, out);
    response.content_type = CSV;
    Ok(response)
}

fn write_csv_field(v: &Value<'_>, out: &mut Vec<u8>) {
    let text = match v {
        Value::Null => return,
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::DateTime(t) => t.to_rfc3339(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}
