//! The `/v1` routes backed by the refresh lifecycle: data sources, segments, measures, workflow
//! jobs and trigger subscriptions.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::request::{ApiRequest, query_param};
use super::response::ApiResponse;
use crate::addresses::self_target;
use crate::engine::SegmentView;
use crate::engine::{
    EngineError, JobRequest, OperationType, ScheduleRequest, SubmissionKind, TIMEZONES, Trigger,
    workflow_history, workflow_status,
};
use crate::sim::Simulator;
use crate::time::{SimDuration, SimTime};

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
        ["manage", "segments"] => get(m).and_then(|()| {
            let options = SegmentOptions::of(req)?;
            let list: Vec<Value> = sim
                .read()
                .engine
                .segments()
                .into_iter()
                .take(options.count)
                .map(|s| options.apply(s, sim.now()))
                .collect();
            Ok(ok_json(&list))
        }),
        ["manage", "segments", name] => get(m).and_then(|()| {
            let options = SegmentOptions::of(req)?;
            let list = sim.read().engine.segments();
            let names: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
            list.into_iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .map(|s| ok_json(&options.apply(s, sim.now())))
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
        ["workflows", workflow, rest @ ..] => workflow_route(sim, req, workflow, rest),
        // The OData examples' prefix, for the jobs routes they use.
        ["manage", "workflows", workflow, rest @ ..] if rest.first() == Some(&"jobs") => {
            workflow_route(sim, req, workflow, rest)
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

/// The segment list's options, as the API model declares them: `includeHistoricStats`
/// (default false), `historicStatsDays` (default 10) and `numberOfSegments`.
struct SegmentOptions {
    history: bool,
    days: i64,
    count: usize,
}

impl SegmentOptions {
    fn of(req: &ApiRequest<'_>) -> Result<SegmentOptions, ApiError> {
        let bad = |name: &str, value: &str, what: &str| {
            ApiError::bad_request(
                "InvalidRequest",
                format!("{name} = \"{value}\" is not {what}"),
            )
            .with_target(name)
        };
        let history = match query_param(req.query, "includeHistoricStats") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(bad("includeHistoricStats", &v, "true or false")),
        };
        let number = |name: &str| -> Result<Option<u32>, ApiError> {
            query_param(req.query, name)
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| bad(name, &v, "a whole number"))
                })
                .transpose()
        };
        Ok(SegmentOptions {
            history,
            days: i64::from(number("historicStatsDays")?.unwrap_or(10)),
            count: number("numberOfSegments")?.map_or(usize::MAX, |n| n as usize),
        })
    }

    /// The segment as asked for: its evaluations of the last `days` days, or none.
    fn apply(&self, mut segment: SegmentView, now: SimTime) -> Value {
        let since = now - SimDuration::from_days(self.days);
        segment
            .evaluation_status_history
            .retain(|e| e.evaluation_date >= since);
        let mut v = serde_json::to_value(&segment).unwrap_or(Value::Null);
        if !self.history
            && let Some(obj) = v.as_object_mut()
        {
            obj.remove("evaluationStatusHistory");
        }
        v
    }
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
                let top = top(req)?;
                let jobs: Vec<Value> = sim
                    .read()
                    .engine
                    .jobs()
                    .iter()
                    .take(top)
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
        ["status"] => {
            get(m)?;
            let nodes = workflow_status(&sim.read().engine.jobs());
            Ok(ok_json(&nodes))
        }
        ["schedules"] => match m {
            "GET" => Ok(ok_json(&sim.read().engine.refresh_schedules())),
            "POST" => {
                let one: ScheduleRequest = schedule_body(req)?;
                let created = sim
                    .with_engine(|e, now| (e.create_refresh_schedules(now, vec![one]), Vec::new()))
                    .map_err(ApiError::from)?;
                Ok(ok_json(&created.first()))
            }
            _ => Err(ApiError::method_not_allowed(m, &["GET", "POST"])),
        },
        ["schedules", "batch"] => {
            if m != "POST" {
                return Err(ApiError::method_not_allowed(m, &["POST"]));
            }
            let many: Vec<ScheduleRequest> = schedule_body(req)?;
            let created = sim
                .with_engine(|e, now| (e.create_refresh_schedules(now, many), Vec::new()))
                .map_err(ApiError::from)?;
            Ok(ok_json(&created))
        }
        ["schedules", "supportedTimezones"] => {
            get(m)?;
            let zones: Vec<Value> = TIMEZONES
                .iter()
                .map(|(id, name)| json!({ "id": id, "name": name }))
                .collect();
            Ok(ok_json(&zones))
        }
        ["history"] => {
            get(m)?;
            let top = top(req)?;
            let tasks = workflow_history(&sim.read().engine.jobs(), top);
            Ok(ok_json(&tasks))
        }
        _ => Err(ApiError::not_found(
            "UnknownPath",
            format!(
                "no resource at {}; the workflow has jobs, jobs/{{jobId}}, jobs/{{jobId}}/cancel, status, history, schedules, schedules/batch and schedules/supportedTimezones",
                req.path
            ),
        )),
    }
}

/// A schedule body (`WorkflowRefreshSchedule`, or a list of them for `batch`).
fn schedule_body<T: serde::de::DeserializeOwned>(req: &ApiRequest<'_>) -> Result<T, ApiError> {
    serde_json::from_slice(req.body).map_err(|e| {
        ApiError::bad_request(
            "InvalidBody",
            format!(
                "the schedule body is not valid ({e}); send {{\"operationType\": \"all\", \"cronSchedules\": [\"0 2 * * *\"], \"timezoneId\": \"UTC\"}}"
            ),
        )
    })
}

/// `top`: at most this many, 10 when absent (the API model's default).
fn top(req: &ApiRequest<'_>) -> Result<usize, ApiError> {
    match query_param(req.query, "top") {
        Some(t) => t.parse::<usize>().map_err(|_| {
            ApiError::bad_request(
                "InvalidRequest",
                format!("top = \"{t}\" is not a whole number; give how many to list, e.g. top=10"),
            )
            .with_target("top")
        }),
        None => Ok(10),
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
    Ok(ApiResponse::json_value(200, &job_json(&view, true)))
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
