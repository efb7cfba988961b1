//! The `/v1` routes backed by the refresh lifecycle: data sources, segments, measures, workflow
//! jobs and trigger subscriptions.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::request::{ApiRequest, query_param};
use super::response::ApiResponse;
use crate::addresses::self_target;
use crate::engine::{EngineError, JobRequest, OperationType, SubmissionKind, Trigger};
use crate::sim::Simulator;

/// Answers the route if it is one of the lifecycle's, `None` otherwise.
pub(super) fn route(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    rest: &[&str],
) -> Option<Result<ApiResponse, ApiError>> {
    let m = req.method;
    let r = match rest {
        ["manage", "datasources"] | ["manage", "datasources", "v2"] => get(m).map(|()| {
            let list = sim.read().engine.data_sources();
            ok_json(&list)
        }),
        ["manage", "datasources", key] => get(m).and_then(|()| {
            let list = sim.read().engine.data_sources();
            let found = list.iter().find(|d| {
                d.data_source_id.eq_ignore_ascii_case(key) || d.name.eq_ignore_ascii_case(key)
            });
            found.map(ok_json).ok_or_else(|| {
                let names: Vec<&str> = list.iter().map(|d| d.name.as_str()).collect();
                ApiError::not_found(
                    "UnknownDataSource",
                    format!(
                        "data source \"{key}\" does not exist; the data sources are {}",
                        names.join(", ")
                    ),
                )
            })
        }),
        ["manage", "segments"] => get(m).map(|()| ok_json(&sim.read().engine.segments())),
        ["manage", "segments", name] => get(m).and_then(|()| {
            let list = sim.read().engine.segments();
            let names: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
            list.into_iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .map(|s| ok_json(&s))
                .ok_or_else(|| unknown("UnknownSegment", "segment", name, &names))
        }),
        ["manage", "measures"] => get(m).map(|()| ok_json(&sim.read().engine.measures())),
        ["manage", "measures", name] => get(m).and_then(|()| {
            let list = sim.read().engine.measures();
            let names: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
            list.into_iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .map(|s| ok_json(&s))
                .ok_or_else(|| unknown("UnknownMeasure", "measure", name, &names))
        }),
        ["workflows", workflow, jobs @ ..] | ["manage", "workflows", workflow, jobs @ ..] => {
            workflow_route(sim, req, workflow, jobs)
        }
        ["triggers", trigger, "subscriptions"] => match m {
            "POST" => subscribe(sim, req, trigger),
            "GET" => list_subscriptions(sim, trigger),
            _ => Err(ApiError::method_not_allowed(m, &["GET", "POST"])),
        },
        ["triggers", trigger, "subscriptions", id] => match m {
            "DELETE" => unsubscribe(sim, trigger, id),
            "GET" => subscription(sim, trigger, id),
            _ => Err(ApiError::method_not_allowed(m, &["GET", "DELETE"])),
        },
        _ => return None,
    };
    Some(r)
}

fn get(method: &str) -> Result<(), ApiError> {
    if method == "GET" {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(method, &["GET"]))
    }
}

fn ok_json<T: Serialize>(value: &T) -> ApiResponse {
    ApiResponse::json(200, serde_json::to_vec(value).unwrap_or_default())
}

fn unknown(code: &'static str, kind: &str, name: &str, names: &[String]) -> ApiError {
    ApiError::not_found(
        code,
        format!(
            "{kind} \"{name}\" does not exist; the {kind}s are {}",
            names.join(", ")
        ),
    )
}

fn workflow_route(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    workflow: &str,
    rest: &[&str],
) -> Result<ApiResponse, ApiError> {
    if !workflow.eq_ignore_ascii_case("main") {
        return Err(ApiError::not_found(
            "UnknownWorkflow",
            format!("workflow \"{workflow}\" does not exist; the instance's workflow is \"main\""),
        ));
    }
    let m = req.method;
    let include_tasks =
        query_param(req.query, "includeTasks").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match rest {
        ["jobs"] => match m {
            "GET" => {
                let top = match query_param(req.query, "top") {
                    Some(t) => Some(t.parse::<usize>().map_err(|_| {
                        ApiError::bad_request(
                            "InvalidRequest",
                            format!("top = \"{t}\" is not a whole number"),
                        )
                        .with_target("top")
                    })?),
                    None => None,
                };
                let jobs: Vec<Value> = sim
                    .read()
                    .engine
                    .jobs()
                    .iter()
                    .take(top.unwrap_or(usize::MAX))
                    .map(|j| job_json(j, include_tasks))
                    .collect();
                Ok(ApiResponse::json_value(200, &Value::Array(jobs)))
            }
            "POST" => submit(sim, req),
            _ => Err(ApiError::method_not_allowed(m, &["GET", "POST"])),
        },
        ["jobs", id] => {
            get(m)?;
            let job = sim.read().engine.job(id).ok_or_else(|| {
                ApiError::from(EngineError::UnknownJob {
                    id: (*id).to_owned(),
                })
            })?;
            // A single job shows its tasks unless told otherwise.
            let with_tasks = query_param(req.query, "includeTasks")
                .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
            Ok(ApiResponse::json_value(200, &job_json(&job, with_tasks)))
        }
        ["jobs", id, "cancel"] => {
            if m != "POST" {
                return Err(ApiError::method_not_allowed(m, &["POST"]));
            }
            let job = sim
                .with_engine(|engine, now| (engine.cancel_job(now, id), Vec::new()))
                .map_err(ApiError::from)?;
            Ok(ApiResponse::json_value(200, &job_json(&job, true)))
        }
        _ => Err(ApiError::not_found(
            "UnknownPath",
            format!(
                "no resource at {}; the workflow has jobs, jobs/{{jobId}} and jobs/{{jobId}}/cancel",
                req.path
            ),
        )),
    }
}

fn job_json(job: &crate::engine::JobView, include_tasks: bool) -> Value {
    let mut v = serde_json::to_value(job).unwrap_or(Value::Null);
    if !include_tasks && let Some(obj) = v.as_object_mut() {
        obj.remove("tasks");
    }
    v
}

/// `POST .../workflows/main/jobs?operationType=...&identifiers=...`: an on-demand job.
fn submit(sim: &Simulator, req: &ApiRequest<'_>) -> Result<ApiResponse, ApiError> {
    let operation = query_param(req.query, "operationType").unwrap_or_else(|| "all".to_owned());
    let operation_type = OperationType::parse(&operation).map_err(ApiError::from)?;
    let identifiers: Vec<String> = query_param(req.query, "identifiers")
        .map(|list| {
            list.split(',')
                .map(|s| s.trim().trim_matches(['\'', '"']).to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut job = JobRequest::new(operation_type);
    job.identifiers = identifiers;
    job.submission_kind = SubmissionKind::OnDemand;
    let view = sim
        .with_engine(|engine, now| (engine.submit_job(now, job), Vec::new()))
        .map_err(ApiError::from)?;
    Ok(ApiResponse::json_value(202, &job_json(&view, true)))
}

fn subscription_url(base: &str, instance: &str, trigger: &str, id: &str) -> String {
    format!("{base}/v1/instances/{instance}/triggers/{trigger}/subscriptions/{id}")
}

fn subscribe(
    sim: &Simulator,
    req: &ApiRequest<'_>,
    trigger: &str,
) -> Result<ApiResponse, ApiError> {
    let body: Value = serde_json::from_slice(req.body).map_err(|e| {
        ApiError::bad_request(
            "InvalidBody",
            format!("the subscription body is not valid JSON ({e}); send {{\"NotificationUrl\": \"http://127.0.0.1:9000/hook\", ...inputs}}"),
        )
    })?;
    refuse_self_target(sim, &body)?;
    let sub = sim
        .with_engine(|engine, now| (engine.subscribe(now, trigger, &body), Vec::new()))
        .map_err(ApiError::from)?;
    let location = subscription_url(req.base_url, &sim.instance_id, sub.trigger.id(), &sub.id);
    Ok(
        ApiResponse::json(201, serde_json::to_vec(&sub).unwrap_or_default())
            .with_header("Location", location),
    )
}

/// Refuses a `NotificationUrl` that names the simulator itself (`delivery.allow_self` off). The
/// delivery shell checks again at send time, on the addresses the host then resolves to.
fn refuse_self_target(sim: &Simulator, body: &Value) -> Result<(), ApiError> {
    if sim.spec.delivery.allow_self {
        return Ok(());
    }
    let url = body.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("NotificationUrl"))
            .and_then(|(_, v)| v.as_str())
    });
    let Some((url, uri)) = url.and_then(|u| Some((u, u.trim().parse::<http::Uri>().ok()?))) else {
        // Not a URL at all: the engine says what is wrong with it.
        return Ok(());
    };
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    if uri.host().is_some_and(|host| sim.names_self(host, port)) {
        return Err(
            ApiError::bad_request("InvalidInput", self_target(url.trim()))
                .with_target("NotificationUrl"),
        );
    }
    Ok(())
}

fn known_trigger(trigger: &str) -> Result<Trigger, ApiError> {
    Trigger::parse(trigger).ok_or_else(|| {
        let ids: Vec<&str> = Trigger::ALL.iter().map(|t| t.id()).collect();
        ApiError::not_found(
            "UnknownTrigger",
            format!(
                "unknown trigger \"{trigger}\"; the triggers are {}",
                ids.join(", ")
            ),
        )
    })
}

fn list_subscriptions(sim: &Simulator, trigger: &str) -> Result<ApiResponse, ApiError> {
    let t = known_trigger(trigger)?;
    let subs: Vec<_> = sim
        .read()
        .engine
        .subscriptions()
        .into_iter()
        .filter(|s| s.trigger == t && s.deleted_at.is_none())
        .collect();
    Ok(ok_json(&json!({ "value": subs })))
}

fn subscription(sim: &Simulator, trigger: &str, id: &str) -> Result<ApiResponse, ApiError> {
    let t = known_trigger(trigger)?;
    sim.read()
        .engine
        .subscription(id)
        .filter(|s| s.trigger == t && s.deleted_at.is_none())
        .map(|s| ok_json(&s))
        .ok_or_else(|| no_subscription(trigger, id))
}

fn no_subscription(trigger: &str, id: &str) -> ApiError {
    ApiError::not_found(
        "UnknownSubscription",
        format!(
            "trigger {trigger} has no subscription \"{id}\" (it may have been deleted already)"
        ),
    )
}

fn unsubscribe(sim: &Simulator, trigger: &str, id: &str) -> Result<ApiResponse, ApiError> {
    let t = known_trigger(trigger)?;
    let belongs = sim
        .read()
        .engine
        .subscription(id)
        .is_some_and(|s| s.trigger == t);
    if belongs && sim.with_engine(|engine, now| (engine.unsubscribe(now, id), Vec::new())) {
        Ok(ApiResponse::empty(204))
    } else {
        Err(no_subscription(trigger, id))
    }
}
