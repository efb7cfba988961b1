//! Broken variants of `teams-on-refresh-failure` (`datasource-refresh-failed`).

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use simulator::SimDuration;

use super::adapt::{
    Gate, Gated, IoMistake, Misused, Resubscribed, Rewrite, Rewritten, as_requested,
};
use super::{Catch, MistakeClass, Mutant};
use crate::flow::{BoxFuture, Flow, FlowContext, FlowFactory};
use crate::flows::TeamsOnRefreshFailure;
use crate::scenario::SinkKind;

const OF: &str = "teams-on-refresh-failure";
const TRIGGER: &str = "datasource-refresh-failed";

pub(super) fn mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            flow: FlowFactory {
                name: "teams-dedupes-on-data-source-name",
                description: "teams-on-refresh-failure, remembering the data sources it reported instead of the events",
                broken: Some(
                    "keys its idempotency on dataSourceName: a data source that fails again later is never reported again",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["dataSourceName"]),
                        TeamsOnRefreshFailure::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[
                Catch {
                    case: "datasource/refresh-failed-once-per-failure",
                    check: "expect.effects",
                    sees: "2 Teams messages instead of 3: PoS's second failure, a day later, is swallowed",
                },
                Catch {
                    case: "property/one-effect-per-permanent-failure",
                    check: "property",
                    sees: "a timeline where one source fails twice gets one effect",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-dedupes-on-job-id",
                description: "teams-on-refresh-failure, remembering the refresh jobs it reported instead of the events",
                broken: Some(
                    "keys its idempotency on jobId: when two data sources fail in the same refresh, only the first is reported",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["jobId"]),
                        TeamsOnRefreshFailure::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: "datasource/two-failures-in-one-refresh-are-each-reported",
                check: "expect.effects",
                sees: "1 Teams message instead of 2: PoS and Loyalty fail in one scheduled refresh (one jobId)",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-remembers-only-the-last-event",
                description: "teams-on-refresh-failure, keeping only the last eventId in a variable",
                broken: Some(
                    "remembers only the last eventId: an older event redelivered after a newer one is posted again",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::LastEventOnly,
                        TeamsOnRefreshFailure::not_idempotent(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[
                Catch {
                    case: "delivery/redelivered-older-event-has-no-second-effect",
                    check: "expect.effects",
                    sees: "3 Teams messages instead of 2: PoS's event, re-sent after Loyalty's, is posted again",
                },
                Catch {
                    case: "delivery/late-replay-after-a-newer-event-has-no-second-effect",
                    check: "expect.effects",
                    sees: "4 Teams messages instead of 2: each late replay comes after the other event",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-drops-older-events",
                description: "teams-on-refresh-failure, skipping events that occurred before the newest one handled",
                broken: Some(
                    "takes an event older than the newest it handled for a stale replay and drops it: a failure delivered out of order is never reported",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::NewestOnly("occurredAt"),
                        TeamsOnRefreshFailure::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::DeliveryOrder,
            caught_by: &[Catch {
                case: "delivery/reordered-events-are-all-handled",
                check: "expect.effects",
                sees: "2 Teams messages instead of 3: PoS's failure, delivered after eCommerce's newer one, is dropped",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-warns-on-retrying-ingestion",
                description: "teams-on-refresh-failure, plus an early warning when the jobs API shows an ingestion task retrying",
                broken: Some(
                    "polls the jobs API and warns about an ingestion task that failed and is being retried: the platform absorbs transient failures, so the channel gets alerts for refreshes that succeed",
                ),
                make: || Arc::new(WarnsOnRetrying::default()),
            },
            of: OF,
            class: MistakeClass::WrongOutcome,
            caught_by: &[
                Catch {
                    case: "datasource/refresh-failed-not-on-transient-failure",
                    check: "expect.effects",
                    sees: "1 Teams message instead of none: a warning about eCommerce's retried attempt",
                },
                Catch {
                    case: "property/one-effect-per-permanent-failure",
                    check: "property",
                    sees: "a timeline with a transient failure gets an effect",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-ignores-the-data-source-filter",
                description: "teams-on-refresh-failure, subscribing without its dataSourceName",
                broken: Some(
                    "drops the dataSourceName input when it subscribes: it reports every data source's failures, not the one it watches",
                ),
                make: || {
                    Arc::new(Resubscribed::new(
                        TRIGGER,
                        |inputs| {
                            inputs.remove("dataSourceName");
                        },
                        TeamsOnRefreshFailure::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongOutcome,
            caught_by: &[Catch {
                case: "datasource/refresh-failed-filtered-by-data-source",
                check: "expect.effects",
                sees: "2 Teams messages instead of 1: PoS's failure is reported too",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-on-refresh-failure",
                description: "teams-on-refresh-failure, with the e-mail action where the Teams one should be",
                broken: Some(
                    "sends the failure with the e-mail connector instead of posting to Teams: it reaches the wrong channel",
                ),
                make: || {
                    Arc::new(Misused::new(
                        Redirect(SinkKind::Teams, SinkKind::Email),
                        TeamsOnRefreshFailure::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongDestination,
            caught_by: &[Catch {
                case: "datasource/refresh-failed-fires-on-permanent-failure",
                check: "effect.destination",
                sees: "1 e-mail and 0 Teams messages: the effect goes to e-mail, the manifest says Teams",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-names-the-first-data-source",
                description: "teams-on-refresh-failure, naming the first data source of 'Get data sources'",
                broken: Some(
                    "looks the data source up and takes the first item of the list instead of the event's dataSourceName: every failure is reported as PoS's",
                ),
                make: || {
                    Arc::new(Rewritten::new(
                        Rewrite::LookUp(first_data_source),
                        TeamsOnRefreshFailure::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongContent,
            caught_by: &[
                Catch {
                    case: "datasource/refresh-failed-fires-on-timeout",
                    check: "effect.echo",
                    sees: "the message for Loyalty's failure lacks friendlyName \"Loyalty Program\" (it names Point of Sale); body_contains = \"Loyalty\" passes, as the quoted error names the source",
                },
                Catch {
                    case: "datasource/failure-in-full-refresh-propagates",
                    check: "effect.echo",
                    sees: "the message for Newsletter's failure lacks friendlyName \"Newsletter Platform\"",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-wired-to-refresh-succeeded",
                description: "teams-on-refresh-failure, on the refresh succeeded trigger",
                broken: Some(
                    "is wired to the refresh succeeded trigger instead of refresh failed: it posts a failure message for every successful refresh and nothing when one fails",
                ),
                make: || {
                    Arc::new(Resubscribed::new(
                        "datasource-refresh-succeeded",
                        as_requested,
                        Rewritten::new(
                            Rewrite::Edit(|e| e["eventType"] = json!(TRIGGER)),
                            TeamsOnRefreshFailure::new(),
                        ),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongTrigger,
            caught_by: &[
                Catch {
                    case: "datasource/refresh-failed-fires-on-permanent-failure",
                    check: "expect.effects",
                    sees: "0 Teams messages instead of 1: it never hears of the failure",
                },
                Catch {
                    case: "datasource/refresh-failed-not-on-success",
                    check: "expect.effects",
                    sees: "4 Teams messages instead of none: a failure message for each successful refresh",
                },
                Catch {
                    case: "datasource/refresh-failed-fires-on-permanent-failure",
                    check: "manifest.declared-trigger",
                    sees: "declared datasource-refresh-failed, subscribed datasource-refresh-succeeded: the flow is wired to the wrong trigger",
                },
            ],
        },
    ]
}

/// Sends what goes to one connector to another.
pub(super) struct Redirect(pub(super) SinkKind, pub(super) SinkKind);

impl IoMistake for Redirect {
    fn sink(&self, sink: SinkKind, body: Value) -> Option<(SinkKind, Value)> {
        Some((if sink == self.0 { self.1 } else { sink }, body))
    }
}

/// `GET manage/datasources`, and the first item's name in place of the event's.
fn first_data_source<'a>(ctx: &'a FlowContext, mut event: Value) -> BoxFuture<'a, Value> {
    Box::pin(async move {
        let reply = ctx.io.api("GET", "manage/datasources", None).await;
        let list = reply.body.as_array().or(reply.body["value"].as_array());
        if let Some(first) = list.and_then(|l| l.first()) {
            event["dataSourceName"] = first["name"].clone();
            event["friendlyName"] = first["friendlyName"].clone();
        }
        event
    })
}

/// How often [`WarnsOnRetrying`] looks at the jobs while an ingestion task is queued or
/// running. A retried attempt shows its error in the jobs API only between the failed attempt
/// and the next one (`task_retry_delay` plus the next attempt, about 10 s on the demo tenant), so
/// a slower poll would miss it.
const POLL_EVERY: SimDuration = SimDuration::from_secs(5);

/// How often it looks while no ingestion is under way (as a recurrence that speeds up during
/// refreshes would): a refresh started in between is noticed at most this late.
const POLL_IDLE_EVERY: SimDuration = SimDuration::from_mins(10);

/// `teams-warns-on-retrying-ingestion`: the reference flow, plus a loop in `start` that polls
/// `GET workflows/main/jobs?top=3&includeTasks=true` (every 5 s while an ingestion is under way,
/// every 10 min otherwise) and posts a warning, once per task, for a running ingestion task that
/// shows an error (of a data source its subscription watches).
#[derive(Default)]
struct WarnsOnRetrying {
    inner: TeamsOnRefreshFailure,
    warned: Mutex<HashSet<String>>,
}

impl Flow for WarnsOnRetrying {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.inner.start(ctx).await;
            let watched: Vec<Option<String>> = ctx
                .requested
                .iter()
                .filter(|s| s.trigger == TRIGGER)
                .map(|s| {
                    s.inputs
                        .get("dataSourceName")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect();
            if watched.is_empty() {
                return;
            }
            let mut every = POLL_EVERY;
            loop {
                ctx.io.sleep(every).await;
                let reply = ctx
                    .io
                    .api("GET", "workflows/main/jobs?top=3&includeTasks=true", None)
                    .await;
                let Some(jobs) = reply.body.as_array() else {
                    every = POLL_EVERY;
                    continue; // Throttled or failed: look again soon.
                };
                let mut tasks: Vec<Value> = Vec::new();
                for job in jobs {
                    tasks.extend(job["tasks"].as_array().cloned().unwrap_or_default());
                }
                let ingesting = tasks.iter().any(|t| {
                    t["operationType"] == "ingestion"
                        && (t["taskStatus"] == "running" || t["taskStatus"] == "queued")
                });
                every = if ingesting {
                    POLL_EVERY
                } else {
                    POLL_IDLE_EVERY
                };
                for task in tasks {
                    let source = task["identifier"].as_str().unwrap_or_default();
                    let retrying = task["operationType"] == "ingestion"
                        && task["taskStatus"] == "running"
                        && task["ciErrors"].as_array().is_some_and(|e| !e.is_empty());
                    let watches = watched.iter().any(|w| {
                        w.as_deref()
                            .is_none_or(|name| name.eq_ignore_ascii_case(source))
                    });
                    let id = task["taskId"].as_str().unwrap_or_default().to_owned();
                    if retrying && watches && self.warned.lock().insert(id) {
                        let message = json!({
                            "title": "Data source refresh is failing",
                            "text": format!(
                                "{} ({source}) failed and is being retried: {}",
                                task["friendlyName"].as_str().unwrap_or(source),
                                task["ciError"]["message"].as_str().unwrap_or("no details"),
                            ),
                            "dataSourceName": source,
                        });
                        ctx.io.sink(SinkKind::Teams, message).await;
                    }
                }
            }
        })
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        self.inner.on_event(ctx, event)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{FakeIo, reply, subscription};

    fn jobs(task_status: &str, errors: Value) -> crate::flow::ApiReply {
        reply(
            200,
            json!([{"jobId": "j1", "tasks": [
                {"taskId": "t1", "operationType": "ingestion", "identifier": "eCommerce",
                 "friendlyName": "eCommerce Web Shop", "taskStatus": task_status,
                 "ciError": errors.get(0).cloned().unwrap_or(Value::Null), "ciErrors": errors},
                {"taskId": "t2", "operationType": "map", "identifier": "Customer",
                 "taskStatus": "queued", "ciErrors": [{"message": "not an ingestion"}]},
            ]}]),
        )
    }

    #[tokio::test]
    async fn the_retry_warner_posts_once_per_task_seen_retrying() {
        let retrying = || {
            jobs(
                "running",
                json!([{"errorCode": "TransientFailure", "message": "503"}]),
            )
        };
        let io = FakeIo::new([
            reply(201, json!({})),
            jobs("running", json!([])),
            retrying(),
            retrying(),
            jobs("successful", json!([])),
        ]);
        io.park_after_sleeps(4);
        let ctx = io.context(vec![subscription(TRIGGER, json!({}))]);
        let flow = WarnsOnRetrying::default();
        tokio::select! {
            () = flow.start(&ctx) => panic!("the polling loop ended on its own"),
            () = io.parked() => {}
        }
        let posted = io.sink_calls(SinkKind::Teams);
        assert_eq!(posted.len(), 1, "{posted:?}");
        assert_eq!(
            posted[0]["text"],
            "eCommerce Web Shop (eCommerce) failed and is being retried: 503"
        );
    }

    #[tokio::test]
    async fn the_retry_warner_leaves_alone_a_source_its_subscription_filters_out() {
        let io = FakeIo::new([
            reply(201, json!({})),
            jobs(
                "running",
                json!([{"errorCode": "TransientFailure", "message": "503"}]),
            ),
        ]);
        io.park_after_sleeps(1);
        let ctx = io.context(vec![subscription(
            TRIGGER,
            json!({"dataSourceName": "PoS"}),
        )]);
        let flow = WarnsOnRetrying::default();
        tokio::select! {
            () = flow.start(&ctx) => panic!("the polling loop ended on its own"),
            () = io.parked() => {}
        }
        assert!(io.sink_calls(SinkKind::Teams).is_empty());
    }

    #[tokio::test]
    async fn the_first_item_look_up_names_the_first_data_source() {
        let io = FakeIo::new([reply(
            200,
            json!([{"name": "PoS", "friendlyName": "Point of Sale"}, {"name": "Loyalty"}]),
        )]);
        let ctx = io.context(Vec::new());
        let event = first_data_source(
            &ctx,
            json!({"dataSourceName": "Loyalty", "friendlyName": "Loyalty Program"}),
        )
        .await;
        assert_eq!(
            event,
            json!({"dataSourceName": "PoS", "friendlyName": "Point of Sale"})
        );
    }
}
