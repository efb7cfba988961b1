//! Broken variants of `email-on-refresh-success` (`datasource-refresh-succeeded`).

use std::sync::Arc;

use serde_json::json;

use super::adapt::{Gate, Gated, Misused, Resubscribed, Rewrite, Rewritten, as_requested};
use super::refresh_failed::Redirect;
use super::{Catch, MistakeClass, Mutant};
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
                case: "datasource/refresh-succeeded-filtered-by-data-source",
                check: "expect.effects",
                sees: "4 e-mails instead of 1: every source's success is e-mailed",
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
                case: "datasource/refresh-succeeded-acts-once-per-source",
                check: "expect.effects",
                sees: "1 e-mail instead of 4: the four successes share one jobId",
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
            caught_by: &[
                Catch {
                    case: "datasource/refresh-succeeded-acts-once-per-source",
                    check: "expect.effects",
                    sees: "0 e-mails instead of 4: it never hears of a success",
                },
                Catch {
                    case: "datasource/refresh-succeeded-not-on-failure",
                    check: "expect.effects",
                    sees: "2 e-mails instead of none: a success e-mail for each failure",
                },
                Catch {
                    case: "datasource/refresh-succeeded-acts-once-per-source",
                    check: "manifest.declared-trigger",
                    sees: "declared datasource-refresh-succeeded, subscribed datasource-refresh-failed: the flow is wired to the wrong trigger",
                },
            ],
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
                case: "datasource/refresh-succeeded-acts-once-per-source",
                check: "effect.destination",
                sees: "4 Teams messages and 0 e-mails: the effect goes to Teams, the manifest says e-mail",
            }],
        },
    ]
}
