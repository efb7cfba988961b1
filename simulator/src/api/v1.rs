//! The `/v1` surface: instances, entity metadata, data (the OData read and the preview write
//! actions), partitions and status reports.

use serde_json::json;

use super::error::{ApiError, allow};
use super::request::{ApiRequest, query_param, segments};
use super::response::{ApiResponse, CSV, ODATA_JSON};
use super::{auth, lifecycle};
use crate::metadata::{PARTITION_ROWS, entity_metadata, instance_info, partition_url};
use crate::odata::{BindContext, bind, parse_options};
use crate::query::{PageFrame, execute, write_page};
use crate::rate_limit::{Decision, throttle_body};
use crate::schema::Value;
use crate::sim::{Simulator, StatusReport};
use crate::store::{Store, VALID_UNTIL_MAX};
use crate::time::SimTime;

/// Answers a `/v1` request: authenticate, route, and journal the call.
pub fn handle(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
    let now = sim.now();
    let target = match req.query {
        Some(q) => format!("{}?{q}", req.path),
        None => req.path.to_owned(),
    };
    let connection = match auth::connection(&sim.spec.auth, req.authorization, req.subscription_key)
    {
        Ok(token) => token,
        Err(e) => {
            sim.journal
                .record(now, None, req.method, &target, e.status, None);
            return e.into();
        }
    };
    if let Decision::Throttle { retry_after_s } = sim.limiter.check(connection, now) {
        sim.journal.record(
            now,
            Some(connection),
            req.method,
            &target,
            429,
            Some(retry_after_s),
        );
        sim.throttled(connection);
        return ApiResponse::json(429, throttle_body(retry_after_s))
            .with_header("Retry-After", retry_after_s.to_string());
    }
    let injected = if sim.faults.is_active() {
        let below = segments(req.path)
            .get(3..)
            .map(|r| r.join("/"))
            .unwrap_or_default();
        sim.faults.decide(req.method, &below)
    } else {
        None
    };
    if let Some(f) = injected
        && (f.drop || f.status.is_some())
    {
        let status = f.status.unwrap_or(0);
        sim.journal
            .record(now, Some(connection), req.method, &target, status, None);
        let mut r: ApiResponse = ApiError::new(
            status.max(100),
            "InjectedFault",
            format!("insightsim injected fault: status {status} (set with PUT /_sim/faults)"),
        )
        .into();
        r.delay = f.latency;
        r.drop_connection = f.drop;
        return r;
    }
    let mut response = route(sim, req, connection, now).unwrap_or_else(ApiResponse::from);
    response.delay = injected.and_then(|f| f.latency);
    if (400..500).contains(&response.status) {
        sim.journal.record_refused(
            now,
            Some(connection),
            req.method,
            &target,
            response.status,
            &String::from_utf8_lossy(&response.bytes()),
        );
    } else {
        sim.journal.record(
            now,
            Some(connection),
            req.method,
            &target,
            response.status,
            None,
        );
    }
    response
}

fn route(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    connection: &str,
    now: SimTime,
) -> Result<ApiResponse, ApiError> {
    let segs = segments(req.path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method;
    match segs.as_slice() {
        ["v1"] => Err(ApiError::not_found(
            "UnknownPath",
            "the API root has no resource; start with GET /v1/instances",
        )),
        ["v1", "instances"] => {
            allow(m, &["GET"])?;
            Ok(ApiResponse::json_value(200, &json!([instance(sim)])))
        }
        ["v1", "instances", id, rest @ ..] => {
            check_instance(sim, id)?;
            instance_route(sim, req, connection, now, rest)
        }
        _ => Err(ApiError::not_found(
            "UnknownPath",
            format!("no resource at {}; see GET /v1/instances", req.path),
        )),
    }
}

fn instance_route(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    connection: &str,
    now: SimTime,
    rest: &[&str],
) -> Result<ApiResponse, ApiError> {
    let m = req.method;
    match rest {
        [] => {
            allow(m, &["GET"])?;
            Ok(ApiResponse::json_value(200, &instance(sim)))
        }
        ["manage", "entities"] => {
            allow(m, &["GET"])?;
            let world = sim.read();
            let entities: Vec<_> = (0..world.store.entities.len())
                .map(|i| {
                    entity_metadata(
                        &world.store,
                        i,
                        req.base_url,
                        &sim.instance_id,
                        sim.seed(),
                        sim.started_at,
                    )
                })
                .collect();
            Ok(ApiResponse::json_value(
                200,
                &json!({"instanceId": sim.instance_id, "entities": entities}),
            ))
        }
        ["manage", "entities", name] => {
            allow(m, &["GET"])?;
            let world = sim.read();
            let e = entity_index(&world.store, name)?;
            Ok(ApiResponse::json_value(
                200,
                &entity_metadata(
                    &world.store,
                    e,
                    req.base_url,
                    &sim.instance_id,
                    sim.seed(),
                    sim.started_at,
                ),
            ))
        }
        ["manage", "entities", name, "entitysize"] => {
            allow(m, &["GET"])?;
            let world = sim.read();
            let e = entity_index(&world.store, name)?;
            let entity = world.store.entity(e);
            let rows = world.store.visible_len(entity, now);
            Ok(ApiResponse::json_value(
                200,
                &json!({
                    "qualifiedEntityName": entity.schema.name,
                    "rowCount": rows,
                    "size": rows * 64 * entity.schema.attributes.len() as u64,
                }),
            ))
        }
        ["data", name] => match m {
            "GET" => get_items(sim, req, name, now),
            "POST" => create_item(sim, req, name, now),
            _ => Err(ApiError::method_not_allowed(m, &["GET", "POST"])),
        },
        ["data", name, key] => {
            allow(m, &["PATCH"])?;
            update_item(sim, req, name, key, now)
        }
        ["partitions", name, file] => {
            allow(m, &["GET"])?;
            partition_csv(sim, name, file)
        }
        ["statusreport"] => {
            allow(m, &["POST"])?;
            status_report(sim, req, connection, 1, now)
        }
        ["statusreport", "v2"] => {
            allow(m, &["POST"])?;
            status_report(sim, req, connection, 2, now)
        }
        _ => {
            if let Some(answer) = lifecycle::route(sim, req, rest) {
                return answer;
            }
            Err(ApiError::not_found(
                "UnknownPath",
                format!(
                    "no resource at {}; instance resources are manage/entities, manage/datasources, manage/segments, manage/measures, data/{{entity}}, partitions, statusreport, workflows/main/jobs and triggers/{{trigger}}/subscriptions",
                    req.path
                ),
            ))
        }
    }
}

fn instance(sim: &Simulator) -> serde_json::Value {
    instance_info(&sim.instance_id, &sim.spec.name, sim.started_at)
}

fn check_instance(sim: &Simulator, id: &str) -> Result<(), ApiError> {
    if id.eq_ignore_ascii_case(&sim.instance_id) {
        return Ok(());
    }
    Err(ApiError::not_found(
        "UnknownInstance",
        format!(
            "instance \"{id}\" does not exist; this simulator serves instance {} ({})",
            sim.instance_id, sim.spec.name
        ),
    )
    .with_target("instanceId"))
}

fn entity_index(store: &Store, name: &str) -> Result<usize, ApiError> {
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

fn get_items(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    name: &str,
    now: SimTime,
) -> Result<ApiResponse, ApiError> {
    let world = sim.read();
    let store = &world.store;
    let e = entity_index(store, name)?;
    let schema = &store.entity(e).schema;
    if query_param(req.query, "proxy").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(partition_requests(sim, store, e, req.base_url));
    }
    let raw = parse_options(req.query.unwrap_or(""))?;
    let limits = &sim.spec.limits;
    let segment_names = store.segment_names();
    let ctx = BindContext {
        page_size_default: limits.page_size_default,
        page_size_max: limits.page_size_max,
        segments: &segment_names,
        next_link: limits.next_link,
    };
    let query = bind(raw, schema, &ctx)?;
    let page = execute(store, e, &query, now);
    let data_url = format!("{}/v1/instances/{}/data", req.base_url, sim.instance_id);
    let mut context = format!("{data_url}/$metadata#{}", schema.name);
    if let Some(select) = &query.select {
        let names: Vec<&str> = select
            .iter()
            .map(|&a| schema.attributes[a].name.as_str())
            .collect();
        context.push_str(&format!("({})", names.join(",")));
    }
    let next_link = (limits.next_link && page.more).then(|| {
        let kept: Vec<&str> = req
            .query
            .unwrap_or("")
            .split('&')
            .filter(|p| {
                let k = p.split('=').next().unwrap_or("");
                !p.is_empty()
                    && k != "$skip"
                    && k != "$skiptoken"
                    && k != "%24skip"
                    && k != "%24skiptoken"
            })
            .collect();
        let mut link = format!("{data_url}/{}?", schema.name);
        for p in kept {
            link.push_str(p);
            link.push('&');
        }
        link.push_str(&format!("$skiptoken={}", query.skip + page.rows.len()));
        link
    });
    let body = write_page(
        store,
        e,
        &query,
        &page,
        &PageFrame {
            context: &context,
            next_link: next_link.as_deref(),
        },
        now,
    );
    let mut response = ApiResponse::json(200, body);
    response.content_type = ODATA_JSON;
    Ok(response)
}

/// `?proxy=true`: where to download the entity's data from (the Power BI connector's path).
fn partition_requests(sim: &Simulator, store: &Store, e: usize, base_url: &str) -> ApiResponse {
    let entity = store.entity(e);
    let parts = store.base_len(entity).div_ceil(PARTITION_ROWS).max(1);
    let requests: Vec<_> = (0..parts)
        .map(|n| {
            json!({
                "uri": partition_url(base_url, &sim.instance_id, &entity.schema.name, n),
                "headers": {"Accept": "text/csv"},
            })
        })
        .collect();
    ApiResponse::json_value(200, &json!({ "httpRequests": requests }))
}

/// "Retrieve data from a partition": one partition of an entity as CSV.
fn partition_csv(sim: &Simulator, name: &str, file: &str) -> Result<ApiResponse, ApiError> {
    let world = sim.read();
    let store = &world.store;
    let e = entity_index(store, name)?;
    let entity = store.entity(e);
    let rows = store.base_len(entity);
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
    let now = sim.now();
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

fn json_body(req: &ApiRequest<'_>) -> Result<serde_json::Value, ApiError> {
    if req.body.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidBody",
            "the request has no body; send a JSON object",
        ));
    }
    serde_json::from_slice(req.body).map_err(|e| {
        ApiError::bad_request("InvalidBody", format!("the body is not valid JSON: {e}"))
    })
}

/// `validUntil`: when a created or changed item disappears (at most 30 days ahead; default 30).
fn valid_until(req: &ApiRequest<'_>, now: SimTime) -> Result<SimTime, ApiError> {
    let Some(text) = query_param(req.query, "validUntil") else {
        return Ok(now + VALID_UNTIL_MAX);
    };
    let bad =
        |why: String| ApiError::bad_request("InvalidValidUntil", why).with_target("validUntil");
    let t = SimTime::parse_rfc3339(&text).ok_or_else(|| {
        bad(format!(
            "validUntil \"{text}\" is not an RFC 3339 date-time (e.g. 2026-01-15T00:00:00Z)"
        ))
    })?;
    if t <= now {
        return Err(bad(format!(
            "validUntil {t} is not in the future (now is {now})"
        )));
    }
    if t > now + VALID_UNTIL_MAX {
        return Err(bad(format!(
            "validUntil {t} is more than 30 days ahead; the latest allowed now is {}",
            now + VALID_UNTIL_MAX
        )));
    }
    Ok(t)
}

fn create_item(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    name: &str,
    now: SimTime,
) -> Result<ApiResponse, ApiError> {
    let body = json_body(req)?;
    let until = valid_until(req, now)?;
    let mut world = sim.write();
    let e = entity_index(&world.store, name)?;
    let created = world.store.create_item(e, &body, until, now)?;
    let schema = &world.store.entity(e).schema;
    let mut response = ApiResponse::json_value(201, &created);
    if let Some(key) = schema
        .key
        .and_then(|k| created.get(&schema.attributes[k].name))
        .and_then(|v| v.as_str())
    {
        let key_name = schema
            .key
            .map(|k| schema.attributes[k].name.as_str())
            .unwrap_or("");
        let filter = format!("{key_name} eq '{}'", key.replace('\'', "''"));
        let encoded =
            percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC);
        response = response.with_header(
            "Location",
            format!(
                "{}/v1/instances/{}/data/{}?$filter={encoded}",
                req.base_url, sim.instance_id, schema.name
            ),
        );
    }
    Ok(response)
}

fn update_item(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    name: &str,
    key: &str,
    now: SimTime,
) -> Result<ApiResponse, ApiError> {
    let body = json_body(req)?;
    let until = valid_until(req, now)?;
    let mut world = sim.write();
    let e = entity_index(&world.store, name)?;
    world.store.update_item(e, key, &body, until, now)?;
    Ok(ApiResponse::empty(204))
}

/// "Sends the status report" (V1 and V2): accepted and recorded (modelled; the real semantics
/// are not public).
fn status_report(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    connection: &str,
    version: u8,
    now: SimTime,
) -> Result<ApiResponse, ApiError> {
    let body = json_body(req)?;
    let report_type = body
        .get("reportType")
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "InvalidBody",
                "the status report needs a non-empty string \"reportType\"",
            )
            .with_target("reportType")
        })?
        .to_owned();
    let report = StatusReport {
        report_id: sim.next_report_id(),
        version,
        report_type,
        received_at: now,
        connection: connection.to_owned(),
        body,
    };
    let answer = json!({
        "reportId": report.report_id,
        "status": "Accepted",
        "version": version,
        "receivedAt": now.to_rfc3339(),
    });
    sim.record_status_report(report);
    Ok(ApiResponse::json_value(202, &answer))
}
