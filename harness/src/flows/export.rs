//! `export-on-full-refresh`: when a scheduled full refresh completes, export every customer page
//! by page to an HTTP endpoint, honouring the call limit's `Retry-After`; and its broken twins
//! `export-ignores-retry-after` and `export-first-page-only`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{self, OnThrottled, Retry};
use super::event::{Memory, is_success, parse_event};
use crate::flow::{ApiReply, BoxFuture, Flow, FlowContext, FlowIo};
use crate::scenario::SinkKind;

const TRIGGER: &str = "full-refresh-completed";

/// Rows asked for per page (`$top`); the API's default maximum page size.
pub(crate) const PAGE_SIZE: usize = 100;

/// `429`s in a row the correct flow waits out for one page before giving up. Waiting the exact
/// `Retry-After` is always admitted by a correct limiter, so this is only a safety net.
pub(crate) const THROTTLED_MAX: u32 = 10;

/// Immediate retries of a throttled page by `export-ignores-retry-after`. It "hammers until
/// admitted", but bounded: on the harness's virtual clock time does not pass while a flow keeps
/// calling, so an unbounded loop could spin for ever. Twenty early retries are plenty for the
/// suite to catch.
const HAMMER_MAX: u32 = 20;

/// The fields of a `full-refresh-completed` delivery this flow uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshCompleted {
    event_id: String,
    job_id: String,
    job_status: String,
}

/// Why an export stopped before the last page.
#[derive(Debug)]
pub(crate) struct Stopped {
    pub(crate) page: usize,
    pub(crate) skip: usize,
    pub(crate) reason: String,
}

/// Exports `GET data/Customer?$top=100&$skip=N` page by page to the `Http` sink as
/// `{"page", "skip", "rows", "customerIds"}`, once per event, after a `successful` full refresh
/// (a failed or cancelled refresh is acknowledged and not exported: its data is stale).
#[derive(Debug)]
pub struct ExportOnFullRefresh {
    memory: Memory,
    retry: Retry,
    /// The mistake of `export-first-page-only`: it stops after the first page.
    first_page_only: bool,
}

impl Default for ExportOnFullRefresh {
    fn default() -> Self {
        ExportOnFullRefresh::new()
    }
}

impl ExportOnFullRefresh {
    pub fn new() -> ExportOnFullRefresh {
        ExportOnFullRefresh {
            memory: Memory::event_ids(),
            retry: Retry::honouring_retry_after(THROTTLED_MAX),
            first_page_only: false,
        }
    }

    /// The mistake: retries a throttled page at once instead of waiting `Retry-After`.
    pub fn ignoring_retry_after() -> ExportOnFullRefresh {
        ExportOnFullRefresh::with_retry(Retry {
            on_throttled: OnThrottled::RetryAtOnce,
            throttled_max: HAMMER_MAX,
            failures_max: 5,
        })
    }

    /// The mistake: exports the first page only.
    pub fn first_page_only() -> ExportOnFullRefresh {
        ExportOnFullRefresh {
            first_page_only: true,
            ..ExportOnFullRefresh::new()
        }
    }

    /// The export with another retry policy (a broken variant's).
    pub(crate) fn with_retry(retry: Retry) -> ExportOnFullRefresh {
        ExportOnFullRefresh {
            retry,
            ..ExportOnFullRefresh::new()
        }
    }

    /// The mistake of a broken variant: no memory of handled events, so a redelivery exports
    /// every page again.
    pub(crate) fn not_idempotent() -> ExportOnFullRefresh {
        ExportOnFullRefresh {
            memory: Memory::nothing(),
            ..ExportOnFullRefresh::new()
        }
    }

    /// Exports every page; returns how many.
    async fn export(&self, ctx: &FlowContext) -> Result<usize, Stopped> {
        let (mut page, mut skip) = (1, 0);
        loop {
            let rows = fetch_page(&*ctx.io, skip, self.retry)
                .await
                .map_err(|reason| Stopped { page, skip, reason })?;
            post_page(&*ctx.io, page, skip, &rows)
                .await
                .map_err(|reason| Stopped { page, skip, reason })?;
            // `$skip` advances by the rows received, and a page shorter than `$top` is the last
            // one. (This takes the instance's maximum page size to be at least 100, the default:
            // a server that clamps `$top` lower would end the export after its first page.)
            skip += rows.len();
            if rows.len() < PAGE_SIZE || self.first_page_only {
                return Ok(page);
            }
            page += 1;
        }
    }
}

/// Fetches the page of customers at `skip` (retrying as `retry` says); its rows, or why not.
async fn fetch_page(io: &dyn FlowIo, skip: usize, retry: Retry) -> Result<Vec<Value>, String> {
    let path = format!("data/Customer?$top={PAGE_SIZE}&$skip={skip}");
    let reply = api::call(io, "GET", &path, retry).await;
    match reply.body.get("value").and_then(Value::as_array) {
        Some(rows) if reply.status == 200 => Ok(rows.clone()),
        _ => Err(api_failure(&reply)),
    }
}

/// Posts one page's customer ids to the `Http` sink; why not, when it answered an error.
pub(crate) async fn post_page(
    io: &dyn FlowIo,
    page: usize,
    skip: usize,
    rows: &[Value],
) -> Result<(), String> {
    let ids: Vec<&Value> = rows.iter().map(|row| &row["CustomerId"]).collect();
    let body = json!({"page": page, "skip": skip, "rows": ids.len(), "customerIds": ids});
    let status = io.sink(SinkKind::Http, body).await;
    if is_success(status) {
        Ok(())
    } else {
        Err(format!("the HTTP endpoint answered {status}"))
    }
}

/// The Teams message that reports an export stopped before its end.
pub(crate) fn failure_note(job_id: &str, event_id: &str, stopped: &Stopped) -> Value {
    let Stopped { page, skip, reason } = stopped;
    json!({
        "title": "Customer export failed",
        "text": format!(
            "The export after full refresh {job_id} stopped at page {page} ($skip={skip}): {reason}"
        ),
        "jobId": job_id,
        "eventId": event_id,
    })
}

/// "the API answered 503: Service unavailable" (the message of an OData or throttling error).
fn api_failure(reply: &ApiReply) -> String {
    let message = reply.body["error"]["message"]
        .as_str()
        .or_else(|| reply.body["message"].as_str());
    match (reply.status, message) {
        (0, _) => "the API could not be reached".to_owned(),
        (status, Some(message)) => format!("the API answered {status}: {message}"),
        (status, None) => format!("the API answered {status}"),
    }
}

impl Flow for ExportOnFullRefresh {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let Some(event) = parse_event::<RefreshCompleted>(event, TRIGGER) else {
                return 400;
            };
            if !self.memory.first_time(&event.event_id) || event.job_status != "successful" {
                return 202;
            }
            if let Err(stopped) = self.export(ctx).await {
                let note = failure_note(&event.job_id, &event.event_id, &stopped);
                ctx.io.sink(SinkKind::Teams, note).await;
            }
            // Handled either way: a redelivery would export the pages already sent again.
            202
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use simulator::SimDuration;

    use super::*;
    use crate::flows::testing::{FakeIo, customer_id, customer_page, reply, throttled};

    fn completed(event_id: &str, job_status: &str) -> Value {
        json!({
            "eventId": event_id,
            "eventType": "full-refresh-completed",
            "subscriptionId": "s1",
            "instanceId": "i1",
            "occurredAt": "2026-01-01T01:00:00Z",
            "jobId": "j1",
            "jobType": "full",
            "jobSubmissionKind": "scheduled",
            "jobStatus": job_status,
            "submittedTimestamp": "2026-01-01T00:00:00Z",
            "endTimestamp": "2026-01-01T01:00:00Z",
            "tasks": [],
        })
    }

    fn page_call(skip: usize) -> String {
        format!("GET data/Customer?$top=100&$skip={skip}")
    }

    /// Runs `flow` on one successful refresh with `replies`; checks the API calls, the sleeps
    /// and the pages posted as `(page, skip, rows)`.
    async fn check(
        flow: &ExportOnFullRefresh,
        replies: Vec<ApiReply>,
        calls: &[String],
        sleeps: &[SimDuration],
        pages: &[(u64, u64, u64)],
    ) -> FakeIoHandle {
        let io = FakeIo::new(replies);
        let ctx = io.context(Vec::new());
        assert_eq!(
            flow.on_event(&ctx, completed("e1", "successful")).await,
            202
        );
        assert_eq!(io.api_calls(), calls);
        assert_eq!(io.sleeps(), sleeps);
        let posted: Vec<(u64, u64, u64)> = io
            .sink_calls(SinkKind::Http)
            .iter()
            .map(|p| {
                let n = |k: &str| p[k].as_u64().unwrap_or(u64::MAX);
                (n("page"), n("skip"), n("rows"))
            })
            .collect();
        assert_eq!(posted, pages);
        io
    }

    type FakeIoHandle = std::sync::Arc<FakeIo>;

    #[tokio::test]
    async fn pages_with_skip_through_250_rows_in_3_pages() {
        let io = check(
            &ExportOnFullRefresh::new(),
            vec![
                customer_page(0, 100),
                customer_page(100, 100),
                customer_page(200, 50),
            ],
            &[page_call(0), page_call(100), page_call(200)],
            &[],
            &[(1, 0, 100), (2, 100, 100), (3, 200, 50)],
        )
        .await;
        let exported: Vec<Value> = io
            .sink_calls(SinkKind::Http)
            .iter()
            .flat_map(|p| p["customerIds"].as_array().cloned().unwrap_or_default())
            .collect();
        let expected: Vec<Value> = (0..250).map(|i| json!(customer_id(i))).collect();
        assert_eq!(exported, expected, "every row exactly once, in order");
        assert!(io.sink_calls(SinkKind::Teams).is_empty());
    }

    #[tokio::test]
    async fn sleeps_exactly_retry_after_and_repeats_the_same_request() {
        check(
            &ExportOnFullRefresh::new(),
            vec![
                customer_page(0, 100),
                throttled(3),
                throttled(41),
                customer_page(100, 100),
                customer_page(200, 50),
            ],
            &[
                page_call(0),
                page_call(100),
                page_call(100),
                page_call(100),
                page_call(200),
            ],
            &[SimDuration::from_secs(3), SimDuration::from_secs(41)],
            &[(1, 0, 100), (2, 100, 100), (3, 200, 50)],
        )
        .await;
    }

    #[tokio::test]
    async fn an_exact_multiple_of_the_page_size_ends_with_an_empty_page() {
        check(
            &ExportOnFullRefresh::new(),
            vec![customer_page(0, 100), customer_page(100, 0)],
            &[page_call(0), page_call(100)],
            &[],
            &[(1, 0, 100), (2, 100, 0)],
        )
        .await;
    }

    #[tokio::test]
    async fn retries_server_errors_with_back_off_then_reports_to_teams() {
        let unavailable = || {
            reply(
                503,
                json!({"error": {"code": "Unavailable", "message": "try later"}}),
            )
        };
        let io = check(
            &ExportOnFullRefresh::new(),
            vec![
                customer_page(0, 100),
                unavailable(),
                unavailable(),
                unavailable(),
                unavailable(),
                unavailable(),
                unavailable(),
            ],
            &[
                page_call(0),
                page_call(100),
                page_call(100),
                page_call(100),
                page_call(100),
                page_call(100),
                page_call(100),
            ],
            &[1, 2, 4, 8, 16].map(SimDuration::from_secs),
            &[(1, 0, 100)],
        )
        .await;
        assert_eq!(
            io.sink_calls(SinkKind::Teams),
            vec![json!({
                "title": "Customer export failed",
                "text": "The export after full refresh j1 stopped at page 2 ($skip=100): the API answered 503: try later",
                "jobId": "j1",
                "eventId": "e1",
            })]
        );
    }

    #[tokio::test]
    async fn recovers_from_a_server_error_within_its_retries() {
        check(
            &ExportOnFullRefresh::new(),
            vec![
                reply(500, json!({})),
                reply(0, Value::Null),
                customer_page(0, 10),
            ],
            &[page_call(0), page_call(0), page_call(0)],
            &[SimDuration::from_secs(1), SimDuration::from_secs(2)],
            &[(1, 0, 10)],
        )
        .await;
    }

    #[tokio::test]
    async fn exports_only_after_a_successful_refresh_and_once_per_event_id() {
        let io = FakeIo::new([customer_page(0, 5), customer_page(0, 5)]);
        let ctx = io.context(Vec::new());
        let flow = ExportOnFullRefresh::new();
        for event in [
            completed("e0", "failed"),
            completed("e1", "successful"),
            completed("e1", "successful"),
            completed("e2", "aborted"),
        ] {
            assert_eq!(flow.on_event(&ctx, event).await, 202);
        }
        assert_eq!(io.api_calls(), [page_call(0)]);
        assert_eq!(io.sink_calls(SinkKind::Http).len(), 1);
    }

    #[tokio::test]
    async fn answers_400_to_a_payload_without_a_job_status() {
        let io = FakeIo::new([]);
        let ctx = io.context(Vec::new());
        let mut event = completed("e1", "successful");
        event.as_object_mut().map(|o| o.remove("jobStatus"));
        assert_eq!(ExportOnFullRefresh::new().on_event(&ctx, event).await, 400);
        assert!(io.calls().is_empty());
    }

    #[tokio::test]
    async fn the_ignoring_variant_retries_at_once_and_never_sleeps() {
        check(
            &ExportOnFullRefresh::ignoring_retry_after(),
            vec![
                customer_page(0, 100),
                throttled(30),
                throttled(30),
                customer_page(100, 20),
            ],
            &[page_call(0), page_call(100), page_call(100), page_call(100)],
            &[],
            &[(1, 0, 100), (2, 100, 20)],
        )
        .await;
    }

    #[tokio::test]
    async fn the_ignoring_variant_gives_up_after_its_hammering() {
        let mut replies = vec![customer_page(0, 100)];
        replies.extend(std::iter::repeat_with(|| throttled(30)).take(21));
        let io = check(
            &ExportOnFullRefresh::ignoring_retry_after(),
            replies,
            &[vec![page_call(0)], vec![page_call(100); 21]].concat(),
            &[],
            &[(1, 0, 100)],
        )
        .await;
        assert_eq!(io.sink_calls(SinkKind::Teams).len(), 1);
    }

    #[tokio::test]
    async fn the_first_page_only_variant_fetches_one_page() {
        check(
            &ExportOnFullRefresh::first_page_only(),
            vec![
                customer_page(0, 100),
                customer_page(100, 100),
                customer_page(200, 50),
            ],
            &[page_call(0)],
            &[],
            &[(1, 0, 100)],
        )
        .await;
    }
}
