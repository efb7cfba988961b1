//! The `/v1` surface: instances, entity metadata, data (the OData read and the preview write
//! actions), partitions and status reports.

use serde_json::json;

use std::sync::Arc;

use super::error::{ApiError, ErrorShape, allow};
use super::items::{self, entity_index};
use super::limits;
use super::request::{ApiRequest, Segments, query_param, segments};
use super::response::ApiResponse;
use super::staged::{Heavy, Routed, Staged};
use super::{auth, lifecycle};
use crate::journal::Target;
use crate::metadata::{entity_metadata, instance_info, partitions};
use crate::rate_limit::{Decision, throttle_body};
use crate::sim::{Simulator, StatusReport};
use crate::store::VALID_UNTIL_MAX;
use crate::time::SimTime;

/// Answers a `/v1` request: authenticate, route, and journal the call (a heavy read is
/// journalled when its work has answered).
pub fn stage(sim: &Simulator, req: &ApiRequest<'_>) -> Staged {
    Staged::Ready(match stage_inner(sim, req) {
        Ok(staged) => return staged,
        Err(response) => response,
    })
}

fn stage_inner(sim: &Simulator, req: &ApiRequest<'_>) -> Result<Staged, ApiResponse> {
    let now = sim.now();
    let target = Target {
        path: req.path,
        query: req.query,
    };
    let shape = ErrorShape::of_path(req.path);
    let connection = match auth::connection(&sim.spec.auth, req.authorization, req.subscription_key)
    {
        Ok(token) => token,
        Err(refusal) => {
            sim.journal.record(now, None, req.method, target, 401, None);
            return Err(refusal.response(req.base_url));
        }
    };
    if let Decision::Throttle { retry_after_s } = sim.limiter.check(connection, now) {
        sim.journal.record(
            now,
            Some(connection),
            req.method,
            target,
            429,
            Some(retry_after_s),
        );
        sim.throttled(connection);
        return Err(ApiResponse::json(429, throttle_body(retry_after_s))
            .with_header("Retry-After", retry_after_s.to_string()));
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
            .record(now, Some(connection), req.method, target, status, None);
        let r = ApiError::new(
            status.max(100),
            "InjectedFault",
            format!("insightsim injected fault: status {status} (set with PUT /_sim/faults)"),
        );
        let mut r = ApiResponse::error(&r, shape);
        r.delay = f.latency;
        r.drop_connection = f.drop;
        return Err(r);
    }
    let delay = injected.and_then(|f| f.latency);
    let mut response = match route(sim, req, connection, now) {
        Ok(Routed::Now(response)) => response,
        Err(e) => ApiResponse::error(&e, shape),
        Ok(Routed::Later(work)) => {
            let (connection, method) = (Arc::<str>::from(connection), req.method.to_owned());
            let target = match req.query {
                Some(q) => format!("{}?{q}", req.path),
                None => req.path.to_owned(),
            };
            return Ok(Staged::Query(Heavy::new(move |sim, deadline| {
                sim.query_started();
                let mut response =
                    work(sim, deadline).unwrap_or_else(|e| ApiResponse::error(&e, shape));
                response.delay = delay;
                journal_answer(
                    sim,
                    now,
                    &connection,
                    &method,
                    target.as_str().into(),
                    &response,
                );
                response
            })));
        }
    };
    response.delay = delay;
    journal_answer(sim, now, connection, req.method, target, &response);
    Err(response)
}

/// Journals an answered call; a refused one (a `4xx`) with the error message it got.
fn journal_answer(
    sim: &Simulator,
    now: SimTime,
    connection: &str,
    method: &str,
    target: Target<'_>,
    response: &ApiResponse,
) {
    if (400..500).contains(&response.status) {
        let error = String::from_utf8_lossy(&response.bytes()).into_owned();
        sim.journal.record_refused(
            now,
            Some(connection),
            method,
            target,
            response.status,
            &error,
        );
    } else {
        sim.journal
            .record(now, Some(connection), method, target, response.status, None);
    }
}

fn route(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    connection: &str,
    now: SimTime,
) -> Result<Routed, ApiError> {
    let segs = Segments::of(req.path);
    let strs = segs.strs();
    let m = req.method;
    match &strs[..segs.len()] {
        ["v1"] => Err(ApiError::not_found(
            "UnknownPath",
            "the API root has no resource; start with GET /v1/instances",
        )),
        ["v1", "instances"] => {
            allow(m, &["GET"])?;
            Ok(Routed::Now(ApiResponse::json_value(
                200,
                &json!([instance(sim)]),
            )))
        }
        ["v1", "instances", id, rest @ ..] => {
            check_instance(sim, id)?;
            match (m, rest) {
                ("GET", ["data", name]) => items::get(sim, req, name, now),
                ("GET", ["partitions", name, file]) => items::partition(sim, name, file, now),
                _ => instance_route(sim, req, connection, now, rest).map(Routed::Now),
            }
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
            let store = sim.store();
            let entities: Vec<_> = (0..store.entities.len())
                .map(|i| {
                    entity_metadata(
                        &store,
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
            let store = sim.store();
            let e = entity_index(&store, name)?;
            Ok(ApiResponse::json_value(
                200,
                &entity_metadata(
                    &store,
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
            let store = sim.store();
            let e = entity_index(&store, name)?;
            let entity = store.entity(e);
            let rows = store.visible_len(entity, now);
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
            "POST" => create_item(sim, req, name, now),
            _ => Err(ApiError::method_not_allowed(m, &["GET", "POST"])),
        },
        ["data", name, key] => {
            allow(m, &["PATCH"])?;
            update_item(sim, req, name, key, now)
        }
        ["partitions", name] => {
            allow(m, &["GET"])?;
            let world = sim.read();
            let e = entity_index(&world.store, name)?;
            let list = partitions(
                &world.store,
                e,
                req.base_url,
                &sim.instance_id,
                sim.started_at,
            );
            Ok(ApiResponse::json_value(200, &json!({ "partitions": list })))
        }
        ["partitions", ..] => Err(ApiError::method_not_allowed(m, &["GET"])),
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
                    "no resource at {}; instance resources are manage/entities, manage/datasources, manage/segments, manage/measures, data/{{entity}}, partitions/{{entity}}, statusreport, workflows/main/jobs and triggers/{{trigger}}/subscriptions",
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

/// What a created or changed item costs the tenant's memory (its body), or the refusal when the
/// items kept would pass `limits.items_bytes_max`. Items are kept until a reset (an expired one
/// is hidden, not freed), so the budget counts every item since.
fn item_cost(sim: &Simulator, used: usize, req: &ApiRequest<'_>) -> Result<usize, ApiError> {
    let max = sim.spec.limits.items_bytes_max;
    let cost = req.body.len();
    if used + cost <= max {
        return Ok(cost);
    }
    Err(limits::refusal(
        507,
        "items_bytes_max",
        &max.to_string(),
        format!(
            "the items created and changed so far hold {used} of {max} bytes, too few for this one ({cost} bytes)"
        ),
        "reset the simulator (POST /_sim/reset) to drop them",
    ))
}

/// Refuses an item with a field larger than `limits.item_field_bytes_max` (as JSON).
fn check_field_sizes(sim: &Simulator, body: &serde_json::Value) -> Result<(), ApiError> {
    let max = sim.spec.limits.item_field_bytes_max;
    let Some(fields) = body.as_object() else {
        return Ok(());
    };
    for (name, value) in fields {
        let bytes = match value {
            serde_json::Value::String(s) => s.len() + 2,
            other => other.to_string().len(),
        };
        if bytes > max {
            return Err(limits::refusal(
                413,
                "item_field_bytes_max",
                &max.to_string(),
                format!("field \"{name}\" is {bytes} bytes of JSON, more than {max}"),
                "send a shorter value",
            )
            .with_target(name.clone()));
        }
    }
    Ok(())
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
    check_field_sizes(sim, &body)?;
    let until = valid_until(req, now)?;
    let mut world = sim.write();
    let e = entity_index(&world.store, name)?;
    let cost = item_cost(sim, world.items_bytes, req)?;
    let created = Arc::make_mut(&mut world.store).create_item(e, &body, until, now)?;
    world.items_bytes += cost;
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
    check_field_sizes(sim, &body)?;
    let until = valid_until(req, now)?;
    let mut world = sim.write();
    let e = entity_index(&world.store, name)?;
    let cost = item_cost(sim, world.items_bytes, req)?;
    Arc::make_mut(&mut world.store).update_item(e, key, &body, until, now)?;
    world.items_bytes += cost;
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
