//! Broken variants of `sync-on-unification-success` (`unification-completed`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::adapt::{Resubscribed, Rewrite, Rewritten, as_requested};
use super::{CaseRef, Catch, Check, MistakeClass, Mutant, NewCheck};
use crate::flow::{BoxFuture, FlowContext, FlowFactory};
use crate::flows::SyncOnUnificationSuccess;

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
                case: CaseRef::Existing("unification/failed-unification-does-not-act"),
                check: Check::Expect("expect.sinks[0]"),
                sees: "1 sink call instead of 0",
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
                    case: CaseRef::Existing("unification/timed-out-merge-does-not-act"),
                    check: Check::Expect("expect.sinks[0]"),
                    sees: "1 sink call instead of 0",
                },
                Catch {
                    case: CaseRef::Existing("unification/skipped-unification-does-not-act"),
                    check: Check::Expect("expect.sinks[0]"),
                    sees: "1 sink call instead of 0",
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
                case: CaseRef::Existing("unification/flow-acts-once-per-successful-unification"),
                check: Check::Expect("expect.sinks[1]"),
                sees: "0 sink calls whose body contains \"1357\" instead of 2 (they say 100)",
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
            caught_by: &[Catch {
                case: CaseRef::Existing("unification/flow-acts-once-per-successful-unification"),
                check: Check::New(NewCheck::DeclaredTrigger),
                sees: "declared unification-completed, subscribed full-refresh-completed: every unification case fails instead of being skipped",
            }],
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
            caught_by: &[Catch {
                case: CaseRef::Existing("unification/duplicate-delivery-has-no-second-effect"),
                check: Check::Expect("expect.sinks[0]"),
                sees: "2 sink calls instead of 1",
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
