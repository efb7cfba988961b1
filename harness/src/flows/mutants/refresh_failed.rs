//! Broken variants of `teams-on-refresh-failure` (`datasource-refresh-failed`).

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use simulator::SimDuration;

use super::adapt::{
    Gate, Gated, IoMistake, Misused, Resubscribed, Rewrite, Rewritten, as_requested,
};
use super::{CaseRef, Catch, Check, MistakeClass, Mutant, NewCheck};
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
                    case: CaseRef::Existing("datasource/refresh-failed-once-per-failure"),
                    check: Check::Expect("expect.sinks[0]"),
                    sees: "2 sink calls instead of 3: PoS's second failure, a day later, is swallowed",
                },
                Catch {
                    case: CaseRef::Existing("datasource/refresh-failed-once-per-failure"),
                    check: Check::Law("property/one-effect-per-permanent-failure"),
                    sees: "a timeline where one source fails twice gets one effect (seed 42, 24 timelines)",
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
                case: CaseRef::New("datasource/two-failures-in-one-refresh-are-each-reported"),
                check: Check::Expect("expect.sinks[0]"),
                sees: "1 sink call instead of 2 (PoS and Loyalty fail in one scheduled refresh)",
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
            caught_by: &[Catch {
                case: CaseRef::New("delivery/late-replay-after-a-newer-event-has-no-second-effect"),
                check: Check::Expect("expect.sinks[0]"),
                sees: "4 sink calls instead of 2: both late replays (each after the other event) are posted",
            }],
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
                case: CaseRef::New("delivery/out-of-order-events-are-all-handled"),
                check: Check::Expect("expect.sinks[0]"),
                sees: "2 sink calls instead of 3: the event held back and delivered after a newer one is dropped (the reorder fault must really invert the order: reorder = 1.0 with first = 1)",
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
                    case: CaseRef::Existing("datasource/refresh-failed-not-on-transient-failure"),
                    check: Check::Expect("expect.sinks[0]"),
                    sees: "1 sink call instead of 0: a warning about eCommerce's retried attempt",
                },
                Catch {
                    case: CaseRef::Existing("datasource/refresh-failed-not-on-transient-failure"),
                    check: Check::Law("property/one-effect-per-permanent-failure"),
                    sees: "a timeline with one transient failure gets one effect instead of none",
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
                case: CaseRef::Existing("datasource/refresh-failed-filtered-by-data-source"),
                check: Check::Expect("expect.deliveries[0]"),
                sees: "2 events delivered instead of 1 (PoS's failure too), and 2 Teams messages; the case's only sink expectation counts messages naming Loyalty (1), so it needs { sink = \"any\", count = 1 } to catch the extra message; the subscriptions precondition also fails, but must not be the only catch",
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
                case: CaseRef::Existing("datasource/refresh-failed-fires-on-permanent-failure"),
                check: Check::New(NewCheck::EffectDestination),
                sees: "one e-mail and no Teams message, where the flow declares Teams",
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
                    case: CaseRef::Existing("datasource/refresh-failed-fires-on-timeout"),
                    check: Check::New(NewCheck::EffectEcho),
                    sees: "the message names Point of Sale (PoS) where the event names Loyalty Program (Loyalty); body_contains = \"Loyalty\" passes today only because the error text quoted in the message names the source",
                },
                Catch {
                    case: CaseRef::Existing("datasource/failure-in-full-refresh-propagates"),
                    check: Check::New(NewCheck::EffectEcho),
                    sees: "the message names Point of Sale (PoS) where the event names Newsletter Platform (Newsletter)",
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
            caught_by: &[Catch {
                case: CaseRef::Existing("datasource/refresh-failed-fires-on-permanent-failure"),
                check: Check::New(NewCheck::DeclaredTrigger),
                sees: "declared datasource-refresh-failed, subscribed datasource-refresh-succeeded: every refresh failed case fails instead of being skipped",
            }],
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

/// How often [`WarnsOnRetrying`] looks at the jobs. A retried attempt shows its error in the
/// jobs API only between the failed attempt and the next one (`task_retry_delay` plus the next
/// attempt, about 10 s on the demo tenant), so a slower poll would miss it.
const POLL_EVERY: SimDuration = SimDuration::from_secs(5);

/// `teams-warns-on-retrying-ingestion`: the reference flow, plus a loop in `start` that polls
/// `GET workflows/main/jobs?top=3&includeTasks=true` and posts a warning, once per task, for a
/// running ingestion task that shows an error (of a data source its subscription watches).
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
            loop {
                ctx.io.sleep(POLL_EVERY).await;
                let reply = ctx
                    .io
                    .api("GET", "workflows/main/jobs?top=3&includeTasks=true", None)
                    .await;
                let Some(jobs) = reply.body.as_array() else {
                    continue; // Throttled or failed: look again next time.
                };
                let mut tasks: Vec<Value> = Vec::new();
                for job in jobs {
                    tasks.extend(job["tasks"].as_array().cloned().unwrap_or_default());
                }
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
