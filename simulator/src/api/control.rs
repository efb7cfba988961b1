//! The control API, `/_sim`: inspect and steer the simulation. Plain JSON, loopback only by
//! default, guarded by the admin token when one is set, never counted against the call limit.
//!
//! Bearer tokens (of the journal, the call-limit report and the status reports) are shown only
//! to a caller that presents the admin token; anyone else sees a stable fingerprint
//! ([`crate::journal::fingerprint`]), so that a local process cannot collect other clients'
//! tokens.

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::limits;
use super::request::{ApiRequest, query_param, segments};
use super::response::ApiResponse;
use crate::engine::{DeliveryFaults, ForcedMeasure, Outcome, RefreshRequest};
use crate::faults::RouteFaultConfig;
use crate::journal::fingerprint;
use crate::sim::Simulator;
use crate::time::{SimDuration, SimTime};

pub fn handle(sim: &Simulator, req: &ApiRequest<'_>) -> ApiResponse {
    let tokens = match access(sim, req) {
        Ok(admin) => Tokens { shown: admin },
        Err(e) => return e.into(),
    };
    route(sim, req, tokens).unwrap_or_else(ApiResponse::from)
}

/// Whether a control call may take a while (it moves the lifecycle, rebuilds the data or copies
/// a journal), so that the server runs it off its I/O threads.
pub(super) fn is_blocking(req: &ApiRequest<'_>) -> bool {
    !(req.method == "GET" && matches!(req.path, "/_sim/health" | "/_sim/clock"))
}

/// How the answer shows bearer tokens: in full to the admin, as fingerprints to anyone else.
#[derive(Debug, Clone, Copy)]
struct Tokens {
    shown: bool,
}

impl Tokens {
    fn show(self, token: &str) -> String {
        if self.shown {
            token.to_owned()
        } else {
            fingerprint(token)
        }
    }
}

/// Whether the caller may use the control API; `Ok(true)` when it presented the admin token.
fn access(sim: &Simulator, req: &ApiRequest<'_>) -> Result<bool, ApiError> {
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
        return Ok(true);
    }
    Ok(false)
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

fn route(sim: &Simulator, req: &ApiRequest<'_>, tokens: Tokens) -> Result<ApiResponse, ApiError> {
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
            let now = sim.now();
            match (b.by, b.to) {
                (Some(by), None) => {
                    advance_within_limit(sim, by)?;
                    sim.clock.advance(by);
                }
                (None, Some(to)) => {
                    if to < now {
                        return Err(ApiError::bad_request(
                            "InvalidBody",
                            format!(
                                "\"to\": {to} is in the past (now is {now}); the clock never goes back"
                            ),
                        ));
                    }
                    advance_within_limit(sim, SimDuration(to.0 - now.0))?;
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
            // A connection is named by its token or by its fingerprint.
            let connection = query_param(req.query, "connection");
            let entries: Vec<_> = sim
                .journal
                .since(after)
                .into_iter()
                .filter(|e| {
                    connection.as_deref().is_none_or(|c| {
                        e.connection
                            .as_deref()
                            .is_some_and(|t| t == c || fingerprint(t) == c)
                    })
                })
                .map(|mut e| {
                    e.connection = e.connection.map(|t| tokens.show(&t));
                    e
                })
                .collect();
            ok(&json!({
                "dropped": sim.journal.dropped(),
                "bytes": sim.journal.bytes(),
                "value": entries,
            }))
        }
        ("GET", ["_sim", "deliveries"]) => ok(&json!({ "value": sim.read().engine.deliveries() })),
        ("GET", ["_sim", "events"]) => {
            let events = sim.events();
            let cut = events.iter().filter(|e| e.delivery_cut.is_some()).count();
            ok(&json!({
                "value": events,
                "deliveryCut": {
                    "events": cut,
                    "limit": "limits.deliveries_per_subscription_max",
                    "max": sim.spec.limits.deliveries_per_subscription_max,
                    "window": sim.spec.limits.deliveries_window,
                },
            }))
        }
        ("POST", ["_sim", "deliveries", id, "redeliver"]) => {
            sim.try_with_engine(|e, now| e.redeliver(now, id))
                .map_err(ApiError::from)?;
            let view = sim.read().engine.delivery(id);
            Ok(ApiResponse::json_value(
                202,
                &serde_json::to_value(view).unwrap_or(Value::Null),
            ))
        }
        ("GET", ["_sim", "ratelimit"]) => {
            let mut connections = sim.limiter.report(sim.now());
            for c in &mut connections {
                if !tokens.shown {
                    c.connection = fingerprint(&c.connection);
                    c.connection_display.clone_from(&c.connection);
                }
            }
            ok(&json!({
                "limit": sim.limiter.setting().to_string(),
                "connections": connections,
            }))
        }
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
        ("GET", ["_sim", "reports"]) => {
            let mut reports = sim.status_reports();
            for r in &mut reports {
                r.connection = tokens.show(&r.connection);
            }
            ok(&json!({ "value": reports }))
        }
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

/// Refuses a clock move longer than `limits.clock_advance_max`.
fn advance_within_limit(sim: &Simulator, by: SimDuration) -> Result<(), ApiError> {
    let max = sim.spec.limits.clock_advance_max;
    if by <= max {
        return Ok(());
    }
    Err(limits::refusal(
        400,
        "clock_advance_max",
        &max.to_string(),
        format!("a clock move of {by} is longer than {max}"),
        "move the clock in several steps",
    )
    .with_target("by"))
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
    let store = sim.store();
    let world = sim.read();
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
        "journal": {
            "entries": sim.journal.len(),
            "dropped": sim.journal.dropped(),
            "bytes": sim.journal.bytes(),
            "bytesMax": sim.spec.limits.journal_bytes_max,
        },
        "items": {
            "bytes": world.items_bytes,
            "bytesMax": sim.spec.limits.items_bytes_max,
        },
        "statusReports": {
            "kept": world.status_reports.len(),
            "dropped": world.status_reports_dropped,
        },
        "historiesDropped": engine.history_drops(),
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
