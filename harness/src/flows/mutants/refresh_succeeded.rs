//! Broken variants of `email-on-refresh-success` (`datasource-refresh-succeeded`).

use std::sync::Arc;

use serde_json::json;

use super::adapt::{Gate, Gated, Misused, Resubscribed, Rewrite, Rewritten, as_requested};
use super::refresh_failed::Redirect;
use super::{CaseRef, Catch, Check, MistakeClass, Mutant, NewCheck};
use crate::flow::FlowFactory;
use crate::flows::EmailOnRefreshSuccess;
use crate::scenario::SinkKind;

const OF: &str = "email-on-refresh-success";
const TRIGGER: &str = "datasource-refresh-succeeded";

pub(super) fn mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            flow: FlowFactory {
                name: "email-success-ignores-the-data-source-filter",
                description: "email-on-refresh-success, subscribing without its dataSourceName",
                broken: Some(
                    "drops the dataSourceName input when it subscribes: the owners of one source get an e-mail for every source",
                ),
                make: || {
                    Arc::new(Resubscribed::new(
                        TRIGGER,
                        |inputs| {
                            inputs.remove("dataSourceName");
                        },
                        EmailOnRefreshSuccess::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongOutcome,
            caught_by: &[Catch {
                case: CaseRef::Existing("datasource/refresh-succeeded-filtered-by-data-source"),
                check: Check::Expect("expect.sinks[0]"),
                sees: "4 sink calls instead of 1; the subscriptions precondition also fails, but must not be the only catch",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-success-dedupes-on-job-id",
                description: "email-on-refresh-success, remembering the refresh jobs it reported instead of the events",
                broken: Some(
                    "keys its idempotency on jobId: of the sources ingested by one full refresh, only the first is reported",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["jobId"]),
                        EmailOnRefreshSuccess::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: CaseRef::Existing("datasource/refresh-succeeded-acts-once-per-source"),
                check: Check::Expect("expect.sinks[0]"),
                sees: "1 sink call instead of 4",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-success-wired-to-refresh-failed",
                description: "email-on-refresh-success, on the refresh failed trigger",
                broken: Some(
                    "is wired to the refresh failed trigger instead of refresh succeeded: it tells the owners a source refreshed when it failed, and nothing when it did",
                ),
                make: || {
                    Arc::new(Resubscribed::new(
                        "datasource-refresh-failed",
                        as_requested,
                        Rewritten::new(
                            Rewrite::Edit(|e| e["eventType"] = json!(TRIGGER)),
                            EmailOnRefreshSuccess::new(),
                        ),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongTrigger,
            caught_by: &[Catch {
                case: CaseRef::Existing("datasource/refresh-succeeded-acts-once-per-source"),
                check: Check::New(NewCheck::DeclaredTrigger),
                sees: "declared datasource-refresh-succeeded, subscribed datasource-refresh-failed: every refresh succeeded case fails instead of being skipped",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-on-refresh-success",
                description: "email-on-refresh-success, with the Teams action where the e-mail one should be",
                broken: Some(
                    "posts to Teams instead of e-mailing the data owners: it reaches the wrong people",
                ),
                make: || {
                    Arc::new(Misused::new(
                        Redirect(SinkKind::Email, SinkKind::Teams),
                        EmailOnRefreshSuccess::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongDestination,
            caught_by: &[Catch {
                case: CaseRef::Existing("datasource/refresh-succeeded-acts-once-per-source"),
                check: Check::New(NewCheck::EffectDestination),
                sees: "four Teams messages and no e-mail, where the flow declares e-mail",
            }],
        },
    ]
}
