//! The control API, `/_sim`: inspect and steer the simulation. Plain JSON, loopback only by
//! default, guarded by the admin token when one is set, never counted against the call limit.

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::request::{ApiRequest, query_param, segments};
use super::response::ApiResponse;
use crate::engine::{DeliveryFaults, ForcedMeasure, Outcome, RefreshRequest};
use crate::faults::RouteFaultConfig;
use crate::sim::Simulator;
use crate::time::{SimDuration, SimTime};

pub fn handle(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
    if let Err(e) = access(sim, req) {
        return e.into();
    }
    route(sim, req).unwrap_or_else(ApiResponse::from)
}

fn access(sim: &Simulator, req: &ApiRequest<'_>) -> Result<(), ApiError> {
    if sim.control_loopback_only && !req.peer_loopback {
        return Err(ApiError::new(
            403,
            "LoopbackOnly",
            "the control API answers loopback clients only",
        ));
    }
    if let Some(token) = &sim.admin_token {
        let bearer = req
            .authorization
            .and_then(|h| h.trim().strip_prefix("Bearer "))
            .map(str::trim);
        if req.admin_token != Some(token.as_str()) && bearer != Some(token.as_str()) {
            return Err(ApiError::new(
                401,
                "Unauthorized",
                "the control API needs the admin token: send X-Insightsim-Admin-Token: <token> (or Authorization: Bearer <token>)",
            ));
        }
    }
    Ok(())
}

fn body<T: for<'de> Deserialize<'de> + Default>(req: &ApiRequest<'_>) -> Result<T, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(req.body)
        .map_err(|e| ApiError::bad_request("InvalidBody", format!("invalid JSON body: {e}")))
}

fn ok(value: &Value) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::json_value(200, value))
}

fn route(sim: &Simulator, req: &ApiRequest<'_>) -> Result<ApiResponse, ApiError> {
    let segs = segments(req.path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method;
    match (m, segs.as_slice()) {
        ("GET", ["_sim", "health"]) => ok(&json!({
            "status": "ok",
            "instanceId": sim.instance_id,
            "now": sim.now(),
        })),
        ("GET", ["_sim", "state"]) => ok(&state(sim)),
        ("POST", ["_sim", "reset"]) => {
            sim.reset();
            ok(&json!({ "status": "reset", "now": sim.now() }))
        }
        ("GET", ["_sim", "clock"]) => ok(&clock(sim)),
        ("POST", ["_sim", "clock", "advance"]) => {
            let b: Advance = body(req)?;
            match (b.by, b.to) {
                (Some(by), None) => {
                    sim.clock.advance(by);
                }
                (None, Some(to)) => {
                    if to < sim.now() {
                        return Err(ApiError::bad_request(
                            "InvalidBody",
                            format!(
                                "\"to\": {to} is in the past (now is {}); the clock never goes back",
                                sim.now()
                            ),
                        ));
                    }
                    sim.clock.advance_to(to);
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "InvalidBody",
                        "give either {\"by\": \"1h\"} or {\"to\": \"2026-01-02T00:00:00Z\"}",
                    ));
                }
            }
            sim.clock_moved();
            ok(&clock(sim))
        }
        ("POST", ["_sim", "refresh"]) => {
            let r: RefreshRequest = body(req)?;
            let job = sim
                .with_engine(|e, now| (e.refresh(now, r), Vec::new()))
                .map_err(ApiError::from)?;
            Ok(ApiResponse::json_value(
                202,
                &serde_json::to_value(job).unwrap_or(Value::Null),
            ))
        }
        ("POST", ["_sim", "datasources", name, "refresh"]) => {
            let b: DataSourceRefresh = body(req)?;
            let outcome = b.outcome.unwrap_or(Outcome::Success);
            let job = sim
                .with_engine(|e, now| (e.refresh_datasource(now, name, outcome), Vec::new()))
                .map_err(ApiError::from)?;
            Ok(ApiResponse::json_value(
                202,
                &serde_json::to_value(job).unwrap_or(Value::Null),
            ))
        }
        ("POST", ["_sim", "segments", name, "evaluate"]) => {
            let b: SegmentEvaluate = body(req)?;
            let count = b.entity_count.ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidBody",
                    "give the new member count: {\"entityCount\": 1200}",
                )
                .with_target("entityCount")
            })?;
            sim.try_with_engine(|e, now| e.evaluate_segment(now, name, count))
                .map_err(ApiError::from)?;
            let view = sim
                .read()
                .engine
                .segments()
                .into_iter()
                .find(|s| s.name.eq_ignore_ascii_case(name));
            ok(&serde_json::to_value(view).unwrap_or(Value::Null))
        }
        ("POST", ["_sim", "measures", name, "evaluate"]) => {
            let b: MeasureEvaluate = body(req)?;
            let forced = match (b.value, b.values) {
                (Some(v), None) => ForcedMeasure::Value(v),
                (None, Some(vs)) => ForcedMeasure::Values(vs),
                _ => {
                    return Err(ApiError::bad_request(
                        "InvalidBody",
                        "give {\"value\": 1250000} (or {\"values\": {\"Germany\": 1.5e5}} for a measure with a dimension)",
                    )
                    .with_target("value"));
                }
            };
            sim.try_with_engine(|e, now| e.evaluate_measure_with(now, name, forced))
                .map_err(ApiError::from)?;
            let view = sim
                .read()
                .engine
                .measures()
                .into_iter()
                .find(|m| m.name.eq_ignore_ascii_case(name));
            ok(&serde_json::to_value(view).unwrap_or(Value::Null))
        }
        ("GET", ["_sim", "journal"]) => {
            let after = query_param(req.query, "after")
                .and_then(|a| a.parse().ok())
                .unwrap_or(0);
            let connection = query_param(req.query, "connection");
            let entries: Vec<_> = sim
                .journal
                .since(after)
                .into_iter()
                .filter(|e| {
                    connection
                        .as_deref()
                        .is_none_or(|c| e.connection.as_deref() == Some(c))
                })
                .collect();
            ok(&json!({ "dropped": sim.journal.dropped(), "value": entries }))
        }
        ("GET", ["_sim", "deliveries"]) => ok(&json!({ "value": sim.read().engine.deliveries() })),
        ("GET", ["_sim", "events"]) => ok(&json!({ "value": sim.read().engine.events() })),
        ("POST", ["_sim", "deliveries", id, "redeliver"]) => {
            sim.try_with_engine(|e, now| e.redeliver(now, id))
                .map_err(ApiError::from)?;
            let view = sim.read().engine.delivery(id);
            Ok(ApiResponse::json_value(
                202,
                &serde_json::to_value(view).unwrap_or(Value::Null),
            ))
        }
        ("GET", ["_sim", "ratelimit"]) => ok(&json!({
            "limit": sim.limiter.setting().to_string(),
            "connections": sim.limiter.report(sim.now()),
        })),
        ("GET", ["_sim", "faults"]) => ok(&json!({
            "routes": sim.faults.config().routes,
            "deliveries": sim.read().engine.delivery_faults(),
        })),
        ("PUT", ["_sim", "faults"]) => {
            let b: Faults = body(req)?;
            sim.faults
                .set(RouteFaultConfig { routes: b.routes })
                .map_err(ApiError::from)?;
            sim.with_engine(|e, _| (e.set_delivery_faults(b.deliveries), Vec::new()))
                .map_err(|e| ApiError::from(e).with_target("deliveries"))?;
            ok(&json!({ "status": "set" }))
        }
        ("GET", ["_sim", "reports"]) => ok(&json!({ "value": sim.read().status_reports })),
        (_, ["_sim", ..]) => Err(ApiError::not_found(
            "UnknownPath",
            format!(
                "no control route {m} {}; see GET /_sim/state, /_sim/clock, /_sim/journal, /_sim/deliveries, /_sim/ratelimit, and POST /_sim/refresh, /_sim/reset",
                req.path
            ),
        )),
        _ => Err(ApiError::not_found("UnknownPath", "not a control route")),
    }
}

fn clock(sim: &Simulator) -> Value {
    json!({
        "now": sim.now(),
        "running": sim.clock.is_running(),
        "speed": sim.clock.speed(),
        "nextDue": sim.next_due(),
    })
}

fn state(sim: &Simulator) -> Value {
    let now = sim.now();
    let world = sim.read();
    let store = &world.store;
    let entities: Vec<Value> = store
        .entities
        .iter()
        .map(|e| json!({ "name": e.schema.name, "rows": store.visible_len(e, now) }))
        .collect();
    let engine = &world.engine;
    let deliveries = engine.deliveries();
    let count = |status: &str| {
        deliveries
            .iter()
            .filter(|d| {
                serde_json::to_value(d.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref()
                    == Some(status)
            })
            .count()
    };
    json!({
        "name": sim.spec.name,
        "instanceId": sim.instance_id,
        "seed": sim.seed(),
        "customers": sim.spec.customers,
        "clock": { "now": now, "running": sim.clock.is_running(), "speed": sim.clock.speed(), "startedAt": sim.started_at },
        "rateLimit": sim.limiter.setting().to_string(),
        "entities": entities,
        "dataSources": engine.data_sources().iter().map(|d| json!({
            "name": d.name, "refreshState": d.refresh_state, "lastRefresh": d.last_refresh,
        })).collect::<Vec<_>>(),
        "segments": engine.segments().iter().map(|s| json!({
            "name": s.name, "entityCount": s.evaluation_status.entity_count,
        })).collect::<Vec<_>>(),
        "measures": engine.measures().iter().map(|m| json!({
            "name": m.name, "values": m.output.as_ref().map(|o| &o.values),
        })).collect::<Vec<_>>(),
        "schedule": engine.schedule(),
        "jobs": engine.jobs().iter().take(10).map(|j| json!({
            "jobId": j.job_id, "jobStatus": j.job_status, "jobSubmissionKind": j.job_submission_kind,
            "operationType": j.operation_type, "submittedTimestamp": j.submitted_timestamp,
        })).collect::<Vec<_>>(),
        "subscriptions": engine.subscriptions().iter().filter(|s| s.deleted_at.is_none()).collect::<Vec<_>>(),
        "deliveries": {
            "total": deliveries.len(),
            "pending": count("pending") + count("inFlight"),
            "delivered": count("delivered"),
            "dead": count("dead"),
            "cancelled": count("cancelled"),
        },
        "journal": { "entries": sim.journal.len(), "dropped": sim.journal.dropped() },
        "rowCacheBytes": store.row_cache_bytes(),
        "dataBytes": sim.data_bytes(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    by: Option<SimDuration>,
    to: Option<SimTime>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataSourceRefresh {
    outcome: Option<Outcome>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SegmentEvaluate {
    entity_count: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasureEvaluate {
    value: Option<f64>,
    values: Option<std::collections::BTreeMap<String, f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Faults {
    routes: Vec<crate::faults::RouteFaultRule>,
    deliveries: DeliveryFaults,
}
