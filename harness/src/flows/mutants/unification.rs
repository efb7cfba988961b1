//! Broken variants of `sync-on-unification-success` (`unification-completed`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::adapt::{Gate, Gated, Misused, Resubscribed, Rewrite, Rewritten, as_requested};
use super::refresh_failed::Redirect;
use super::{Catch, MistakeClass, Mutant};
use crate::flow::{BoxFuture, FlowContext, FlowFactory};
use crate::flows::SyncOnUnificationSuccess;
use crate::scenario::SinkKind;

const OF: &str = "sync-on-unification-success";
const TRIGGER: &str = "unification-completed";

pub(super) fn mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            flow: FlowFactory {
                name: "sync-on-any-unification-result",
                description: "sync-on-unification-success, without the condition on taskStatus",
                broken: Some(
                    "syncs whenever unification completes, successfully or not: after a failed unification the downstream system reloads profiles that did not change",
                ),
                make: || Arc::new(SyncOnUnificationSuccess::acting_on(|_| true)),
            },
            of: OF,
            class: MistakeClass::WrongOutcome,
            caught_by: &[Catch {
                case: "unification/failed-unification-does-not-act",
                check: "expect.effects",
                sees: "1 HTTP call instead of none: it syncs after a failed unification",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "sync-unless-failed",
                description: "sync-on-unification-success, with the condition written as taskStatus is not 'failed'",
                broken: Some(
                    "tests taskStatus != \"failed\" instead of == \"successful\": a timed-out, skipped or aborted unification is synced as a success",
                ),
                make: || Arc::new(SyncOnUnificationSuccess::acting_on(|s| s != "failed")),
            },
            of: OF,
            class: MistakeClass::WrongOutcome,
            caught_by: &[
                Catch {
                    case: "unification/timed-out-merge-does-not-act",
                    check: "expect.effects",
                    sees: "1 HTTP call instead of none: a timed-out merge is synced as a success",
                },
                Catch {
                    case: "unification/skipped-unification-does-not-act",
                    check: "expect.effects",
                    sees: "1 HTTP call instead of none: a skipped unification is synced as a success",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "sync-counts-the-first-page",
                description: "sync-on-unification-success, counting the customers of one 'Get items' call",
                broken: Some(
                    "counts the customers as the length of one 'Get items' result instead of reading unifiedCustomerCount: it reports at most one page, 100",
                ),
                make: || {
                    Arc::new(Rewritten::new(
                        Rewrite::LookUp(count_first_page),
                        SyncOnUnificationSuccess::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongContent,
            caught_by: &[Catch {
                case: "unification/flow-acts-once-per-successful-unification",
                check: "effect.echo",
                sees: "the sync requests lack unifiedCustomerCount 1357 (they say 100)",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "sync-wired-to-full-refresh-completed",
                description: "sync-on-unification-success, on the full refresh completed trigger",
                broken: Some(
                    "is wired to the full refresh completed trigger instead of unification completed: it syncs only after scheduled refreshes whose every task succeeded, and misses the rest",
                ),
                make: || {
                    Arc::new(Resubscribed::new(
                        "full-refresh-completed",
                        as_requested,
                        Rewritten::new(
                            Rewrite::LookUp(as_unification),
                            SyncOnUnificationSuccess::new(),
                        ),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongTrigger,
            caught_by: &[
                Catch {
                    case: "unification/acts-on-an-on-demand-refresh",
                    check: "expect.effects",
                    sees: "0 HTTP calls instead of 1: an on-demand refresh fires no full refresh completed event",
                },
                Catch {
                    case: "unification/acts-when-a-later-stage-fails",
                    check: "expect.effects",
                    sees: "0 HTTP calls instead of 1: the refresh failed after a successful unification",
                },
                Catch {
                    case: "unification/flow-acts-once-per-successful-unification",
                    check: "manifest.declared-trigger",
                    sees: "declared unification-completed, subscribed full-refresh-completed: the flow is wired to the wrong trigger",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "sync-not-idempotent",
                description: "sync-on-unification-success, without remembering handled events",
                broken: Some(
                    "keeps no memory of handled events: a duplicate delivery triggers a second sync",
                ),
                make: || Arc::new(SyncOnUnificationSuccess::not_idempotent()),
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[
                Catch {
                    case: "unification/duplicate-delivery-has-no-second-effect",
                    check: "expect.effects",
                    sees: "2 HTTP calls instead of 1: the duplicate triggers a second sync",
                },
                Catch {
                    case: "unification/lost-answer-is-retried-without-a-second-effect",
                    check: "expect.effects",
                    sees: "2 HTTP calls instead of 1: the retry after the lost answer triggers a second sync",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "sync-dedupes-on-unified-count",
                description: "sync-on-unification-success, skipping a sync when the unified customer count has not changed",
                broken: Some(
                    "skips the sync when the unified customer count is one it has synced before: profiles that changed without changing the count are never refreshed downstream",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["unifiedCustomerCount"]),
                        SyncOnUnificationSuccess::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: "unification/flow-acts-once-per-successful-unification",
                check: "expect.effects",
                sees: "1 HTTP call instead of 2: the second unification has the same count (1,357)",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "sync-posts-to-teams",
                description: "sync-on-unification-success, with the Teams action where the HTTP one should be",
                broken: Some(
                    "posts the sync request to a Teams channel instead of calling the downstream system: nothing is synced",
                ),
                make: || {
                    Arc::new(Misused::new(
                        Redirect(SinkKind::Http, SinkKind::Teams),
                        SyncOnUnificationSuccess::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongDestination,
            caught_by: &[Catch {
                case: "unification/flow-acts-once-per-successful-unification",
                check: "effect.destination",
                sees: "2 Teams messages and 0 HTTP calls: the effect goes to Teams, the manifest says HTTP",
            }],
        },
    ]
}

/// `GET data/Customer` (one page), and its length as the unified customer count.
fn count_first_page<'a>(ctx: &'a FlowContext, mut event: Value) -> BoxFuture<'a, Value> {
    Box::pin(async move {
        let reply = ctx.io.api("GET", "data/Customer", None).await;
        if let Some(rows) = reply.body["value"].as_array() {
            event["unifiedCustomerCount"] = json!(rows.len());
        }
        event
    })
}

/// A `full-refresh-completed` payload read as the unification flow reads its own: the job's
/// status as the unification's, and the customer count from `GET data/Customer?$count=true`.
fn as_unification<'a>(ctx: &'a FlowContext, mut event: Value) -> BoxFuture<'a, Value> {
    Box::pin(async move {
        event["eventType"] = json!(TRIGGER);
        event["taskStatus"] = event["jobStatus"].clone();
        let reply = ctx
            .io
            .api("GET", "data/Customer?$top=1&$count=true", None)
            .await;
        event["unifiedCustomerCount"] = reply.body["@odata.count"].clone();
        event
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{FakeIo, customer_page, reply};

    #[tokio::test]
    async fn counting_one_page_finds_at_most_a_hundred_customers() {
        let io = FakeIo::new([customer_page(0, 100)]);
        let ctx = io.context(Vec::new());
        let event = count_first_page(&ctx, json!({"unifiedCustomerCount": 1357})).await;
        assert_eq!(event["unifiedCustomerCount"], 100);
        assert_eq!(io.api_calls(), ["GET data/Customer"]);
    }

    #[tokio::test]
    async fn a_full_refresh_event_is_read_as_a_unification_with_the_counted_customers() {
        let io = FakeIo::new([reply(200, json!({"@odata.count": 1357, "value": []}))]);
        let ctx = io.context(Vec::new());
        let event = as_unification(
            &ctx,
            json!({"eventType": "full-refresh-completed", "jobStatus": "failed"}),
        )
        .await;
        assert_eq!(
            event,
            json!({"eventType": "unification-completed", "jobStatus": "failed", "taskStatus": "failed", "unifiedCustomerCount": 1357})
        );
    }
}
