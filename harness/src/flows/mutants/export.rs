//! Broken variants of `export-on-full-refresh` (`full-refresh-completed`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};
use simulator::SimDuration;

use super::adapt::{IoMistake, Misused, Resubscribed, Rewrite, Rewritten, as_requested};
use super::{Catch, MistakeClass, Mutant};
use crate::flow::{ApiReply, BoxFuture, Flow, FlowContext, FlowFactory};
use crate::flows::ExportOnFullRefresh;
use crate::flows::api::{OnThrottled, Retry};
use crate::flows::event::{SeenEvents, parse_event};
use crate::flows::export::{PAGE_SIZE, Stopped, THROTTLED_MAX, failure_note, post_page};
use crate::scenario::SinkKind;

const OF: &str = "export-on-full-refresh";
const TRIGGER: &str = "full-refresh-completed";

/// `429`s in a row the variants that wait too little put up with for one page: waiting 1 s
/// where the API asks for up to a minute takes many tries.
const IMPATIENT_MAX: u32 = 100;

pub(super) fn mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            flow: FlowFactory {
                name: "export-drops-the-last-row-of-each-page",
                description: "export-on-full-refresh, slicing each page with an off-by-one before posting",
                broken: Some(
                    "slices each page to length - 1 before posting it: every row is fetched, but the last row of each page never reaches the target",
                ),
                make: || Arc::new(Misused::new(DropsLastRow, ExportOnFullRefresh::new())),
            },
            of: OF,
            class: MistakeClass::LosesRows,
            caught_by: &[Catch {
                case: "paging/export-visits-every-customer-once",
                check: "export.rows-downstream-once",
                sees: "24 rows (one per page: 99, 199, …) were fetched but never reached the HTTP sink",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-dedupes-by-last-name",
                description: "export-on-full-refresh, with a 'remove duplicates' step keyed on LastName",
                broken: Some(
                    "removes duplicate customers by LastName before posting: every customer who shares a last name with one already exported is lost",
                ),
                make: || {
                    Arc::new(Misused::new(
                        DedupesByLastName::default(),
                        ExportOnFullRefresh::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::LosesRows,
            caught_by: &[Catch {
                case: "paging/export-visits-every-customer-once",
                check: "export.rows-downstream-once",
                sees: "the customers whose last name repeats an earlier one were fetched but never reached the HTTP sink",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-restarts-its-batch-after-a-429",
                description: "export-on-full-refresh, collecting every row in one array posted at the end",
                broken: Some(
                    "collects the rows in one array and posts it at the end, but initialises the array again in its throttling branch: the rows fetched before the last 429 are lost",
                ),
                make: || {
                    Arc::new(Misused::new(
                        BatchResetOn429::default(),
                        ExportOnFullRefresh::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::LosesRows,
            caught_by: &[Catch {
                case: "paging/export-survives-a-tight-limit",
                check: "export.rows-downstream-once",
                sees: "the rows fetched before the last 429 never reach the HTTP sink (pages_complete passes: every page is fetched once)",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-retries-after-a-fixed-second",
                description: "export-on-full-refresh, waiting one second after a 429 whatever Retry-After says",
                broken: Some(
                    "waits a fixed 1 s after a 429 instead of the Retry-After it was given: it calls again while the limit still refuses it",
                ),
                make: || {
                    Arc::new(ExportOnFullRefresh::with_retry(Retry {
                        on_throttled: OnThrottled::WaitFixed(SimDuration::from_secs(1)),
                        throttled_max: IMPATIENT_MAX,
                        failures_max: 5,
                    }))
                },
            },
            of: OF,
            class: MistakeClass::CallLimit,
            caught_by: &[
                Catch {
                    case: "call-limit/no-call-before-retry-after",
                    check: "expect.api.no_early_retries",
                    sees: "early retries: it calls again 1 s after a 429 whose Retry-After is 2 s",
                },
                Catch {
                    case: "call-limit/fixed-window-is-respected-too",
                    check: "expect.api.no_early_retries",
                    sees: "early retries under the fixed window as well",
                },
                Catch {
                    case: "property/every-page-fetched-once",
                    check: "property",
                    sees: "a generated export under a call limit calls before a Retry-After has passed",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-waits-one-second-less",
                description: "export-on-full-refresh, waiting Retry-After minus one second",
                broken: Some(
                    "waits Retry-After minus 1 s (\"it is rounded up anyway\"): every retry comes a second early",
                ),
                make: || {
                    Arc::new(ExportOnFullRefresh::with_retry(Retry {
                        on_throttled: OnThrottled::WaitLess(SimDuration::from_secs(1)),
                        throttled_max: IMPATIENT_MAX,
                        failures_max: 5,
                    }))
                },
            },
            of: OF,
            class: MistakeClass::CallLimit,
            caught_by: &[
                Catch {
                    case: "call-limit/no-call-before-retry-after",
                    check: "expect.api.no_early_retries",
                    sees: "every retry comes a second before its Retry-After",
                },
                Catch {
                    case: "paging/export-survives-the-call-limit",
                    check: "expect.api.no_early_retries",
                    sees: "early retries under the documented limit of 100 calls per 60 s",
                },
                Catch {
                    case: "property/every-page-fetched-once",
                    check: "property",
                    sees: "a generated export under a call limit calls before a Retry-After has passed",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-fetches-pages-in-parallel",
                description: "export-on-full-refresh, fetching 8 pages at a time (a parallel 'apply to each')",
                broken: Some(
                    "fetches 8 pages at once: the requests after the first 429 of a burst call while the connection is throttled, and a throttled burst goes again all together",
                ),
                make: || Arc::new(ParallelExport::default()),
            },
            of: OF,
            class: MistakeClass::CallLimit,
            caught_by: &[
                Catch {
                    case: "call-limit/no-call-before-retry-after",
                    check: "expect.api.no_early_retries",
                    sees: "calls of a burst made after another call of it got a 429",
                },
                Catch {
                    case: "call-limit/documented-fixed-window-is-respected",
                    check: "expect.api.no_early_retries",
                    sees: "the same under the documented limit in fixed windows",
                },
                Catch {
                    case: "property/every-page-fetched-once",
                    check: "property",
                    sees: "a generated export under a call limit calls before a Retry-After has passed",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-stops-at-the-first-429",
                description: "export-on-full-refresh, treating a 429 as a failure",
                broken: Some(
                    "treats a 429 as an error and stops the export: under the call limit only the first pages are exported",
                ),
                make: || {
                    Arc::new(ExportOnFullRefresh::with_retry(Retry {
                        on_throttled: OnThrottled::WaitRetryAfter,
                        throttled_max: 0,
                        failures_max: 5,
                    }))
                },
            },
            of: OF,
            class: MistakeClass::CallLimit,
            caught_by: &[
                Catch {
                    case: "paging/export-survives-a-tight-limit",
                    check: "expect.api.pages_complete",
                    sees: "rows from the first throttled page on were never fetched",
                },
                Catch {
                    case: "paging/export-survives-a-tight-limit",
                    check: "export.rows-downstream-once",
                    sees: "those rows never reach the HTTP sink either",
                },
                Catch {
                    case: "property/every-page-fetched-once",
                    check: "property",
                    sees: "a generated export under a call limit stops early",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-after-a-failed-refresh",
                description: "export-on-full-refresh, without the condition on jobStatus",
                broken: Some(
                    "exports whatever the job status: after a failed refresh it sends stale customers downstream",
                ),
                make: || {
                    Arc::new(Rewritten::new(
                        Rewrite::Edit(|e| e["jobStatus"] = json!("successful")),
                        ExportOnFullRefresh::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongOutcome,
            caught_by: &[Catch {
                case: "full-refresh/failed-refresh-is-reported-not-exported",
                check: "expect.sinks[0]",
                sees: "3 HTTP calls instead of none: it exports after a refresh that failed",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-not-idempotent",
                description: "export-on-full-refresh, without remembering handled events",
                broken: Some(
                    "keeps no memory of handled events: a redelivered refresh event exports every customer again",
                ),
                make: || Arc::new(ExportOnFullRefresh::not_idempotent()),
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[
                Catch {
                    case: "full-refresh/redelivered-event-exports-once",
                    check: "export.rows-downstream-once",
                    sees: "every customer reaches the HTTP sink twice: the redelivered event is exported again",
                },
                Catch {
                    case: "full-refresh/lost-answer-does-not-export-twice",
                    check: "export.rows-downstream-once",
                    sees: "every customer reaches the HTTP sink twice: the retry after the lost answer is exported again",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-wired-to-unification-completed",
                description: "export-on-full-refresh, on the unification completed trigger",
                broken: Some(
                    "is wired to the unification completed trigger instead of full refresh completed: it exports before segments and measures are refreshed, and for on-demand refreshes too",
                ),
                make: || {
                    Arc::new(Resubscribed::new(
                        "unification-completed",
                        as_requested,
                        Rewritten::new(
                            Rewrite::Edit(|e| {
                                e["eventType"] = json!(TRIGGER);
                                e["jobStatus"] = e["taskStatus"].clone();
                            }),
                            ExportOnFullRefresh::new(),
                        ),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongTrigger,
            caught_by: &[
                Catch {
                    case: "full-refresh/not-for-on-demand-refresh",
                    check: "expect.effects",
                    sees: "HTTP calls where none are expected: it exports after an on-demand refresh's unification",
                },
                Catch {
                    case: "full-refresh/completed-fires-for-scheduled-refresh",
                    check: "manifest.declared-trigger",
                    sees: "declared full-refresh-completed, subscribed unification-completed: the flow is wired to the wrong trigger",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "export-never-flushes-its-last-batch",
                description: "export-on-full-refresh, sending rows downstream in batches of 100 and never sending the last, partial one",
                broken: Some(
                    "buffers rows into batches of 100 for the target and never flushes the last, partial batch: the last rows of every export are lost",
                ),
                make: || Arc::new(Misused::new(KeepsPartialBatch, ExportOnFullRefresh::new())),
            },
            of: OF,
            class: MistakeClass::LosesRows,
            caught_by: &[Catch {
                case: "paging/export-visits-every-customer-once",
                check: "export.rows-downstream-once",
                sees: "rows 2,300..2,344 were fetched but never reached the HTTP sink",
            }],
        },
    ]
}

/// The customer ids of an export page posted to the `Http` sink.
fn page_ids(body: &mut Value) -> Option<&mut Vec<Value>> {
    body.get_mut("customerIds").and_then(Value::as_array_mut)
}

/// Posts each page without its last row.
struct DropsLastRow;

impl IoMistake for DropsLastRow {
    fn sink(&self, sink: SinkKind, mut body: Value) -> Option<(SinkKind, Value)> {
        if sink == SinkKind::Http
            && let Some(ids) = page_ids(&mut body)
        {
            ids.pop();
            body["rows"] = json!(ids.len());
        }
        Some((sink, body))
    }
}

/// Keeps back a page shorter than a full batch (the export's last page).
struct KeepsPartialBatch;

impl IoMistake for KeepsPartialBatch {
    fn sink(&self, sink: SinkKind, mut body: Value) -> Option<(SinkKind, Value)> {
        let partial =
            sink == SinkKind::Http && page_ids(&mut body).is_some_and(|ids| ids.len() < PAGE_SIZE);
        (!partial).then_some((sink, body))
    }
}

/// Removes rows whose `LastName` was already exported (the export posts ids; the last names
/// come from the pages it fetched).
#[derive(Default)]
struct DedupesByLastName {
    last_names: Mutex<HashMap<String, String>>,
    exported: Mutex<HashSet<String>>,
}

impl IoMistake for DedupesByLastName {
    fn reply(&self, reply: ApiReply) -> ApiReply {
        if let Some(rows) = reply.body["value"].as_array() {
            let mut names = self.last_names.lock();
            for row in rows {
                if let (Some(id), Some(last)) =
                    (row["CustomerId"].as_str(), row["LastName"].as_str())
                {
                    names.insert(id.to_owned(), last.to_owned());
                }
            }
        }
        reply
    }

    fn sink(&self, sink: SinkKind, mut body: Value) -> Option<(SinkKind, Value)> {
        if sink == SinkKind::Http
            && let Some(ids) = page_ids(&mut body)
        {
            let names = self.last_names.lock();
            let mut exported = self.exported.lock();
            ids.retain(|id| {
                let last = id.as_str().and_then(|id| names.get(id));
                last.is_none_or(|last| exported.insert(last.clone()))
            });
            body["rows"] = json!(ids.len());
        }
        Some((sink, body))
    }

    fn after_event(&self) -> Vec<(SinkKind, Value)> {
        self.exported.lock().clear();
        Vec::new()
    }
}

/// Keeps the pages' ids in one batch, posted once the export ends; a `429` empties the batch.
#[derive(Default)]
struct BatchResetOn429 {
    batch: Mutex<Vec<Value>>,
}

impl IoMistake for BatchResetOn429 {
    fn reply(&self, reply: ApiReply) -> ApiReply {
        if reply.status == 429 {
            self.batch.lock().clear();
        }
        reply
    }

    fn sink(&self, sink: SinkKind, mut body: Value) -> Option<(SinkKind, Value)> {
        if sink != SinkKind::Http {
            return Some((sink, body));
        }
        if let Some(ids) = page_ids(&mut body) {
            self.batch.lock().append(ids);
        }
        None
    }

    fn after_event(&self) -> Vec<(SinkKind, Value)> {
        let ids = std::mem::take(&mut *self.batch.lock());
        if ids.is_empty() {
            return Vec::new();
        }
        vec![(
            SinkKind::Http,
            json!({"rows": ids.len(), "customerIds": ids}),
        )]
    }
}

/// Pages fetched at once by [`ParallelExport`].
const PARALLEL_PAGES: usize = 8;

/// The fields of a `full-refresh-completed` delivery [`ParallelExport`] uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshCompleted {
    event_id: String,
    job_id: String,
    job_status: String,
}

/// `export-fetches-pages-in-parallel`: requests `$skip` = 0, 100, ... 700 at once, waits for
/// the throttled ones to be let through, posts the eight pages in order, and goes on with the
/// next eight until a page is short.
///
/// "At once" is a burst of calls at the same simulated instant, one after the other: the
/// in-process harness counts one running task per delivery, so a flow cannot sleep in several
/// tasks of its own; on virtual time a burst is what parallel requests look like to the API.
/// The throttled requests of a burst all got about the same `Retry-After`, so they wait the
/// longest of them together and go again as the next burst.
#[derive(Default)]
struct ParallelExport {
    seen: SeenEvents,
}

/// One page's outcome in a burst.
enum PageCall {
    Rows(Vec<Value>),
    Throttled(u64),
    Failed(String),
}

async fn call_page(ctx: &FlowContext, skip: usize) -> PageCall {
    let path = format!("data/Customer?$top={PAGE_SIZE}&$skip={skip}");
    let reply = ctx.io.api("GET", &path, None).await;
    match (reply.status, reply.body["value"].as_array()) {
        (200, Some(rows)) => PageCall::Rows(rows.clone()),
        (429, _) => PageCall::Throttled(reply.retry_after_s.unwrap_or(1)),
        (status, _) => PageCall::Failed(format!("the API answered {status}")),
    }
}

impl ParallelExport {
    /// Fetches the pages `first..first + 8` (their 0-based numbers), in bursts.
    async fn fetch_batch(
        &self,
        ctx: &FlowContext,
        first: usize,
    ) -> Vec<Result<Vec<Value>, String>> {
        let mut pages: Vec<Option<Result<Vec<Value>, String>>> = vec![None; PARALLEL_PAGES];
        for _ in 0..=THROTTLED_MAX {
            let mut wait_s = 0;
            for (i, page) in pages.iter_mut().enumerate().filter(|(_, p)| p.is_none()) {
                match call_page(ctx, (first + i) * PAGE_SIZE).await {
                    PageCall::Rows(rows) => *page = Some(Ok(rows)),
                    PageCall::Failed(reason) => *page = Some(Err(reason)),
                    PageCall::Throttled(retry_after_s) => wait_s = wait_s.max(retry_after_s),
                }
            }
            if wait_s == 0 {
                break;
            }
            let wait = SimDuration::from_secs(i64::try_from(wait_s).unwrap_or(i64::MAX));
            ctx.io.sleep(wait).await;
        }
        pages
            .into_iter()
            .map(|p| p.unwrap_or_else(|| Err("the API kept answering 429".to_owned())))
            .collect()
    }

    async fn export(&self, ctx: &FlowContext) -> Result<(), Stopped> {
        let mut first = 0;
        loop {
            let pages = self.fetch_batch(ctx, first).await;
            for (i, rows) in pages.into_iter().enumerate() {
                let (page, skip) = (first + i + 1, (first + i) * PAGE_SIZE);
                let rows = rows.map_err(|reason| Stopped { page, skip, reason })?;
                post_page(&*ctx.io, page, skip, &rows)
                    .await
                    .map_err(|reason| Stopped { page, skip, reason })?;
                if rows.len() < PAGE_SIZE {
                    return Ok(());
                }
            }
            first += PARALLEL_PAGES;
        }
    }
}

impl Flow for ParallelExport {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let Some(event) = parse_event::<RefreshCompleted>(event, TRIGGER) else {
                return 400;
            };
            if !self.seen.first_time(&event.event_id) || event.job_status != "successful" {
                return 202;
            }
            if let Err(stopped) = self.export(ctx).await {
                let note = failure_note(&event.job_id, &event.event_id, &stopped);
                ctx.io.sink(SinkKind::Teams, note).await;
            }
            202
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{FakeIo, customer_id, customer_page, reply, throttled};

    fn completed() -> Value {
        json!({
            "eventId": "e1",
            "eventType": "full-refresh-completed",
            "jobId": "j1",
            "jobStatus": "successful",
        })
    }

    /// Runs `flow` on one successful refresh with `replies`; the ids posted to the HTTP sink, per
    /// call.
    async fn exported(flow: &dyn Flow, replies: Vec<ApiReply>) -> (Vec<Vec<String>>, Arc<FakeIo>) {
        let io = FakeIo::new(replies);
        let ctx = io.context(Vec::new());
        assert_eq!(flow.on_event(&ctx, completed()).await, 202);
        let posted = io
            .sink_calls(SinkKind::Http)
            .iter()
            .map(|p| {
                p["customerIds"]
                    .as_array()
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|i| i.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        (posted, io)
    }

    fn ids(rows: std::ops::Range<usize>) -> Vec<String> {
        rows.map(customer_id).collect()
    }

    #[tokio::test]
    async fn dropping_the_last_row_posts_every_page_one_row_short() {
        let flow = Misused::new(DropsLastRow, ExportOnFullRefresh::new());
        let (posted, _) = exported(&flow, vec![customer_page(0, 100), customer_page(100, 3)]).await;
        assert_eq!(posted, [ids(0..99), ids(100..102)]);
    }

    #[tokio::test]
    async fn deduping_by_last_name_loses_everyone_sharing_one_across_pages() {
        let page = |rows: &[(&str, &str)]| {
            let value: Vec<Value> = rows
                .iter()
                .map(|(id, last)| json!({"CustomerId": id, "LastName": last}))
                .collect();
            reply(200, json!({"value": value}))
        };
        let flow = Misused::new(DedupesByLastName::default(), ExportOnFullRefresh::new());
        let (posted, _) = exported(
            &flow,
            vec![page(&[("a", "Smith"), ("b", "Jones"), ("c", "Smith")])],
        )
        .await;
        assert_eq!(posted, [vec!["a".to_owned(), "b".to_owned()]]);
    }

    #[tokio::test]
    async fn a_batch_reset_by_a_429_posts_only_the_rows_fetched_after_it() {
        let flow = Misused::new(BatchResetOn429::default(), ExportOnFullRefresh::new());
        let (posted, io) = exported(
            &flow,
            vec![
                customer_page(0, 100),
                throttled(2),
                customer_page(100, 100),
                customer_page(200, 5),
            ],
        )
        .await;
        assert_eq!(posted, [[ids(100..200), ids(200..205)].concat()]);
        assert_eq!(
            io.sleeps(),
            [SimDuration::from_secs(2)],
            "it waits correctly"
        );
    }

    #[tokio::test]
    async fn the_parallel_export_bursts_eight_pages_and_retries_the_throttled_together() {
        let mut replies: Vec<ApiReply> = (0..5).map(|p| customer_page(p * 100, 100)).collect();
        replies.extend([throttled(2), throttled(3), throttled(2)]);
        replies.extend([
            customer_page(500, 100),
            customer_page(600, 100),
            customer_page(700, 40),
        ]);
        let (posted, io) = exported(&ParallelExport::default(), replies).await;
        let skips: Vec<String> = io.api_calls();
        let page = |skip: usize| format!("GET data/Customer?$top=100&$skip={skip}");
        let expected: Vec<String> = (0..8).chain(5..8).map(|p| page(p * 100)).collect();
        assert_eq!(skips, expected);
        assert_eq!(
            io.sleeps(),
            [SimDuration::from_secs(3)],
            "the longest Retry-After"
        );
        assert_eq!(posted.concat(), ids(0..740), "every row once, in order");
    }
}
