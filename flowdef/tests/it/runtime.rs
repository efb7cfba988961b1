//! The runtime on a scripted host: retry policies, loops and their limits, concurrency,
//! runAfter, time limits, trigger conditions, splitOn, pagination, and the data actions.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};

use flowdef::model::Status;
use flowdef::{
    BoxFuture, Engine, Host, LoadedFlow, OperationMap, Reply, RunOutcome, RunRecord, Sink,
    load_bytes,
};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// Answers API calls from a script (then `200 {"value": []}`), records everything, and moves
/// its clock on each sleep.
#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    calls: Mutex<Vec<String>>,
    sinks: Mutex<Vec<(Sink, Value)>>,
    sleeps: Mutex<Vec<i64>>,
    now: AtomicI64,
}

impl Script {
    fn new(replies: Vec<Reply>) -> Arc<Script> {
        let s = Script {
            replies: Mutex::new(replies.into()),
            ..Script::default()
        };
        s.now.store(1_767_225_600_000, Ordering::SeqCst);
        Arc::new(s)
    }
}

impl Host for Script {
    fn api<'a>(
        &'a self,
        connection: &'a str,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, Reply> {
        let line = match body {
            Some(b) => format!("{connection} {method} {path} {b}"),
            None => format!("{connection} {method} {path}"),
        };
        self.calls.lock().push(line);
        let r = self.replies.lock().pop_front().unwrap_or(Reply {
            status: 200,
            retry_after_s: None,
            location: None,
            body: json!({"value": []}),
        });
        Box::pin(async move { r })
    }

    fn sink<'a>(&'a self, sink: Sink, body: Value) -> BoxFuture<'a, u16> {
        self.sinks.lock().push((sink, body));
        Box::pin(async { 202 })
    }

    fn sleep<'a>(&'a self, ms: i64) -> BoxFuture<'a, ()> {
        self.sleeps.lock().push(ms);
        self.now.fetch_add(ms, Ordering::SeqCst);
        Box::pin(async {})
    }

    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn notification_url(&self) -> String {
        "http://127.0.0.1:9/hook".to_owned()
    }
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        retry_after_s: None,
        location: None,
        body,
    }
}

fn throttled(after_s: u64) -> Reply {
    Reply {
        status: 429,
        retry_after_s: Some(after_s),
        location: None,
        body: json!({"statusCode": 429, "message": format!("Rate limit is exceeded. Try again in {after_s} seconds.")}),
    }
}

/// Polls a future whose every await is ready (the scripted host never waits).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A bare definition with the full-refresh trigger and these actions.
fn flow(actions: Value) -> LoadedFlow {
    flow_with(json!({}), actions)
}

fn flow_with(trigger_extra: Value, actions: Value) -> LoadedFlow {
    let mut trigger = json!({
        "type": "OpenApiConnectionWebhook",
        "inputs": {"host": {"connectionName": "shared_customerinsights", "operationId": "OnFullRefreshCompleted"}, "parameters": {}}
    });
    for (k, v) in trigger_extra.as_object().into_iter().flatten() {
        trigger[k] = v.clone();
    }
    let def = json!({"triggers": {"When_done": trigger}, "actions": actions});
    let bytes = serde_json::to_vec(&def).unwrap();
    let mut flows = load_bytes(&bytes, "test.json", &OperationMap::built_in(), &|_| None).unwrap();
    let f = flows.remove(0);
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    f
}

fn engine(f: LoadedFlow, host: &Arc<Script>) -> Engine {
    Engine::new(
        Arc::new(f),
        Arc::new(OperationMap::built_in()),
        host.clone(),
        Vec::new(),
    )
    .unwrap()
}

/// Runs the flow once on `event`; returns the run.
fn run(f: LoadedFlow, host: &Arc<Script>, event: Value) -> RunRecord {
    let e = engine(f, host);
    block_on(e.deliver(event));
    let mut h = e.history();
    assert_eq!(h.len(), 1, "{h:?}");
    h.remove(0)
}

fn action<'r>(r: &'r RunRecord, name: &str) -> &'r flowdef::ActionRecord {
    r.actions
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("{name} did not run:\n{}", r.render()))
}

fn get_items() -> Value {
    json!({"type": "OpenApiConnection", "inputs": {"host": {"connectionName": "shared_customerinsights", "operationId": "GetItems"},
        "parameters": {"table": "Customer", "$top": 100}}, "runAfter": {}})
}

#[test]
fn the_default_policy_waits_out_retry_after_on_429() {
    let host = Script::new(vec![throttled(30), reply(200, json!({"value": [1]}))]);
    let r = run(flow(json!({"Get": get_items()})), &host, json!({}));
    let a = action(&r, "Get");
    assert_eq!(
        (a.status, a.attempts, a.code),
        (Status::Succeeded, 2, Some(200))
    );
    assert_eq!(*host.sleeps.lock(), [30_000]);
    assert_eq!(
        *host.calls.lock(),
        ["shared_customerinsights GET data/Customer?$top=100"; 2]
    );
}

#[test]
fn the_default_policy_backs_off_exponentially_four_times_then_fails() {
    let host = Script::new(vec![reply(503, json!({"error": {"message": "busy"}})); 5]);
    let r = run(flow(json!({"Get": get_items()})), &host, json!({}));
    let a = action(&r, "Get");
    assert_eq!((a.status, a.attempts), (Status::Failed, 5));
    let sleeps = host.sleeps.lock().clone();
    let bounds = [
        (5_000, 7_500),
        (7_500, 15_000),
        (15_000, 30_000),
        (30_000, 45_000),
    ];
    assert_eq!(sleeps.len(), 4);
    for (s, (lo, hi)) in sleeps.iter().zip(bounds) {
        assert!((lo..=hi).contains(s), "{sleeps:?}");
    }
    assert!(
        a.note
            .as_deref()
            .unwrap()
            .starts_with("gave up after 5 call(s)"),
        "{:?}",
        a.note
    );
    assert_eq!(r.outcome, RunOutcome::Ran(Status::Failed));
    assert!(
        r.error.as_ref().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("503: busy")
    );
}

#[test]
fn retry_policy_none_fails_at_once_and_fixed_waits_its_interval() {
    let mut none = get_items();
    none["inputs"]["retryPolicy"] = json!({"type": "none"});
    let host = Script::new(vec![throttled(5)]);
    let r = run(flow(json!({"Get": none})), &host, json!({}));
    let a = action(&r, "Get");
    assert_eq!((a.status, a.attempts), (Status::Failed, 1));
    assert!(a.note.as_deref().unwrap().contains("retryPolicy is none"));
    assert!(host.sleeps.lock().is_empty());

    let mut fixed = get_items();
    fixed["inputs"]["retryPolicy"] = json!({"type": "fixed", "count": 2, "interval": "PT10S"});
    let host = Script::new(vec![
        reply(500, json!({})),
        reply(0, Value::Null),
        reply(200, json!({})),
    ]);
    let r = run(flow(json!({"Get": fixed})), &host, json!({}));
    assert_eq!(action(&r, "Get").status, Status::Succeeded);
    assert_eq!(*host.sleeps.lock(), [10_000, 10_000]);
}

#[test]
fn an_until_without_limits_stops_at_60_iterations_and_says_so() {
    let host = Script::new(vec![]);
    let r = run(
        flow(json!({
            "Init": {"type": "InitializeVariable", "inputs": {"variables": [{"name": "n", "type": "integer", "value": 0}]}},
            "Loop": {"type": "Until", "expression": "@equals(variables('n'), 1000)", "runAfter": {"Init": ["Succeeded"]},
                     "actions": {"Inc": {"type": "IncrementVariable", "inputs": {"name": "n", "value": 1}}}},
            "After": {"type": "Compose", "inputs": "@variables('n')", "runAfter": {"Loop": ["Succeeded"]}}
        })),
        &host,
        json!({}),
    );
    let l = action(&r, "Loop");
    assert_eq!(l.status, Status::Succeeded);
    assert_eq!(l.outputs["iterations"], 60);
    assert!(
        l.note.as_deref().unwrap().contains("60 is the default"),
        "{:?}",
        l.note
    );
    assert_eq!(action(&r, "After").outputs, 60);
}

#[test]
fn an_until_stops_when_its_timeout_runs_out() {
    let host = Script::new(vec![]);
    let r = run(
        flow(json!({
            "Loop": {"type": "Until", "expression": "@false", "limit": {"count": 5000, "timeout": "PT1H"},
                     "actions": {"Wait": {"type": "Wait", "inputs": {"interval": {"count": 10, "unit": "Minute"}}}}}
        })),
        &host,
        json!({}),
    );
    let l = action(&r, "Loop");
    assert_eq!(l.outputs["iterations"], 6);
    assert!(
        l.note.as_deref().unwrap().contains("limit.timeout of PT1H"),
        "{:?}",
        l.note
    );
}

fn shared_variable_loop(concurrency: Value) -> Value {
    let mut each = json!({"type": "Foreach", "foreach": "@createArray(1, 2, 3)", "runAfter": {"Init": ["Succeeded"]},
    "actions": {
        "Set": {"type": "SetVariable", "inputs": {"name": "v", "value": "@item()"}},
        "Read": {"type": "Compose", "inputs": "@variables('v')", "runAfter": {"Set": ["Succeeded"]}}
    }});
    for (k, v) in concurrency.as_object().into_iter().flatten() {
        each[k] = v.clone();
    }
    json!({
        "Init": {"type": "InitializeVariable", "inputs": {"variables": [{"name": "v", "type": "integer"}]}},
        "Each": each
    })
}

fn reads(r: &RunRecord) -> Vec<Value> {
    r.actions
        .iter()
        .filter(|a| a.name == "Read")
        .map(|a| a.outputs.clone())
        .collect()
}

#[test]
fn concurrent_iterations_interleave_action_by_action_and_share_variables() {
    let host = Script::new(vec![]);
    let r = run(flow(shared_variable_loop(json!({}))), &host, json!({}));
    // Default concurrency 20: every iteration sets `v`, then every one reads the last value.
    assert_eq!(reads(&r), [json!(3), json!(3), json!(3)]);
    assert!(
        action(&r, "Each")
            .note
            .as_deref()
            .unwrap()
            .contains("ran 3 iterations at once")
    );
    let r = run(
        flow(shared_variable_loop(
            json!({"operationOptions": "Sequential"}),
        )),
        &host,
        json!({}),
    );
    assert_eq!(reads(&r), [json!(1), json!(2), json!(3)]);
    let r = run(
        flow(shared_variable_loop(
            json!({"runtimeConfiguration": {"concurrency": {"repetitions": 2}}}),
        )),
        &host,
        json!({}),
    );
    assert_eq!(reads(&r), [json!(2), json!(2), json!(3)]);
}

#[test]
fn run_after_follows_failed_skipped_and_timed_out() {
    let mut slow = json!({"type": "Wait", "inputs": {"interval": {"count": 2, "unit": "Hour"}}, "limit": {"timeout": "PT1H"}});
    slow["runAfter"] = json!({});
    let host = Script::new(vec![reply(
        400,
        json!({"error": {"message": "bad $filter"}}),
    )]);
    let r = run(
        flow(json!({
            "Get": get_items(),
            "OnSuccess": {"type": "Compose", "inputs": 1, "runAfter": {"Get": ["Succeeded"]}},
            "OnFailure": {"type": "Compose", "inputs": "@actions('Get')?['status']", "runAfter": {"Get": ["Failed"]}},
            "AfterSkip": {"type": "Compose", "inputs": 3, "runAfter": {"OnSuccess": ["Skipped"]}},
            "Slow": slow,
            "AfterTimeout": {"type": "Compose", "inputs": "@actions('Slow')?['status']", "runAfter": {"Slow": ["TimedOut"]}}
        })),
        &host,
        json!({}),
    );
    assert_eq!(action(&r, "Get").status, Status::Failed);
    assert_eq!(action(&r, "OnSuccess").status, Status::Skipped);
    assert_eq!(action(&r, "OnFailure").outputs, "Failed");
    assert_eq!(action(&r, "AfterSkip").status, Status::Succeeded);
    assert_eq!(action(&r, "Slow").status, Status::TimedOut);
    assert_eq!(action(&r, "AfterTimeout").outputs, "TimedOut");
    // Every failure was handled by an action running after it.
    assert_eq!(r.outcome, RunOutcome::Ran(Status::Succeeded));
}

#[test]
fn trigger_conditions_and_split_on_decide_the_runs() {
    let host = Script::new(vec![]);
    let f = flow_with(
        json!({"splitOn": "@triggerBody()?['items']", "conditions": [{"expression": "@greater(triggerBody()?['n'], 1)"}]}),
        json!({"Echo": {"type": "Compose", "inputs": "@triggerBody()?['n']"}}),
    );
    let e = engine(f, &host);
    assert_eq!(
        block_on(e.deliver(json!({"items": [{"n": 1}, {"n": 2}, {"n": 3}]}))),
        202
    );
    let h = e.history();
    let outcomes: Vec<&RunOutcome> = h.iter().map(|r| &r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            &RunOutcome::ConditionFalse,
            &RunOutcome::Ran(Status::Succeeded),
            &RunOutcome::Ran(Status::Succeeded)
        ]
    );
    assert_eq!(action(&h[2], "Echo").outputs, 3);
    block_on(e.deliver(json!({"items": "not an array"})));
    assert!(
        matches!(&e.history()[3].outcome, RunOutcome::TriggerFailed(w) if w.contains("splitOn must give an array"))
    );
}

#[test]
fn pagination_follows_next_links_up_to_the_threshold() {
    let mut paged = get_items();
    paged["runtimeConfiguration"] = json!({"paginationPolicy": {"minimumItemCount": 250}});
    let page = |from: i64, next: Option<&str>| {
        let mut b = json!({"value": (from..from + 100).collect::<Vec<i64>>()});
        if let Some(n) = next {
            b["@odata.nextLink"] = json!(n);
        }
        reply(200, b)
    };
    let host = Script::new(vec![
        page(
            0,
            Some("http://h/v1/instances/i/data/Customer?$skiptoken=1"),
        ),
        page(
            100,
            Some("http://h/v1/instances/i/data/Customer?$skiptoken=2"),
        ),
        page(
            200,
            Some("http://h/v1/instances/i/data/Customer?$skiptoken=3"),
        ),
    ]);
    let r = run(flow(json!({"Get": paged})), &host, json!({}));
    let a = action(&r, "Get");
    assert_eq!(a.outputs["body"]["value"].as_array().unwrap().len(), 300);
    assert_eq!(a.outputs["body"].get("@odata.nextLink"), None);
    assert_eq!(host.calls.lock().len(), 3);
}

#[test]
fn terminate_ends_the_run_with_its_status_and_response_sets_the_answer() {
    let host = Script::new(vec![]);
    let f = flow(json!({
        "Answer": {"type": "Response", "inputs": {"statusCode": 200, "body": "ok"}},
        "Stop": {"type": "Terminate", "inputs": {"runStatus": "Failed", "runError": {"code": "Nope", "message": "stopped"}}, "runAfter": {"Answer": ["Succeeded"]}},
        "Never": {"type": "Compose", "inputs": 1, "runAfter": {"Stop": ["Succeeded"]}}
    }));
    let e = engine(f, &host);
    assert_eq!(block_on(e.deliver(json!({}))), 200);
    let r = &e.history()[0];
    assert_eq!(r.outcome, RunOutcome::Ran(Status::Failed));
    assert_eq!(r.error, Some(json!({"code": "Nope", "message": "stopped"})));
    assert!(r.actions.iter().all(|a| a.name != "Never"));
}

#[test]
fn data_actions_switch_and_scope() {
    let host = Script::new(vec![]);
    let r = run(
        flow(json!({
            "Rows": {"type": "Compose", "inputs": [{"n": "Ada", "a": 3}, {"n": "Bob", "a": 1}]},
            "Filter": {"type": "Query", "inputs": {"from": "@outputs('Rows')", "where": "@greater(item()?['a'], 2)"}, "runAfter": {"Rows": ["Succeeded"]}},
            "Names": {"type": "Select", "inputs": {"from": "@outputs('Rows')", "select": {"name": "@item()?['n']"}}, "runAfter": {"Rows": ["Succeeded"]}},
            "Csv": {"type": "Table", "inputs": {"from": "@outputs('Rows')", "format": "CSV"}, "runAfter": {"Rows": ["Succeeded"]}},
            "Joined": {"type": "Join", "inputs": {"from": "@createArray('a', 'b')", "joinWith": "+"}},
            "Parse": {"type": "ParseJson", "inputs": {"content": "{\"id\": 7}", "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}},
            "Choose": {"type": "Switch", "expression": "@body('Parse')?['id']", "cases": {"Seven": {"case": 7, "actions": {"InSeven": {"type": "Compose", "inputs": "seven"}}}},
                       "default": {"actions": {"InDefault": {"type": "Compose", "inputs": "other"}}}, "runAfter": {"Parse": ["Succeeded"]}},
            "Group": {"type": "Scope", "actions": {"Inner": {"type": "Compose", "inputs": "@length(body('Filter'))"}}, "runAfter": {"Filter": ["Succeeded"]}},
            "Results": {"type": "Compose", "inputs": "@result('Group')[0]['outputs']", "runAfter": {"Group": ["Succeeded"]}}
        })),
        &host,
        json!({}),
    );
    assert_eq!(
        action(&r, "Filter").outputs["body"],
        json!([{"n": "Ada", "a": 3}])
    );
    assert_eq!(
        action(&r, "Names").outputs["body"],
        json!([{"name": "Ada"}, {"name": "Bob"}])
    );
    assert_eq!(
        action(&r, "Csv").outputs["body"],
        "a,n\r\n3,Ada\r\n1,Bob\r\n"
    );
    assert_eq!(action(&r, "Joined").outputs["body"], "a+b");
    assert_eq!(action(&r, "InSeven").outputs, "seven");
    assert!(r.actions.iter().all(|a| a.name != "InDefault"));
    assert_eq!(action(&r, "Results").outputs, 1);
    assert_eq!(r.outcome, RunOutcome::Ran(Status::Succeeded));
}

#[test]
fn a_failing_expression_fails_its_action_with_the_expression_and_why() {
    let host = Script::new(vec![]);
    let r = run(
        flow(json!({"Bad": {"type": "Compose", "inputs": "@triggerBody()['missing']"}})),
        &host,
        json!({"present": 1}),
    );
    let a = action(&r, "Bad");
    assert_eq!(a.status, Status::Failed);
    let m = a.error.as_ref().unwrap()["message"].as_str().unwrap();
    assert!(
        m.contains("the property 'missing' does not exist")
            && m.contains("triggerBody()['missing']"),
        "{m}"
    );
}

#[test]
fn turning_on_subscribes_with_bound_parameters_and_off_unsubscribes() {
    let def = json!({
        "parameters": {"Segment": {"type": "String", "defaultValue": "ChurnRisk"}},
        "triggers": {"T": {"type": "OpenApiConnectionWebhook", "inputs": {
            "host": {"connectionName": "shared_customerinsights", "operationId": "OnSegmentThresholdCrossed"},
            "parameters": {"dataset": "x", "body/segmentName": "@parameters('Segment')", "body/threshold": 500}}}},
        "actions": {"Echo": {"type": "Compose", "inputs": "@parameters('Segment')"}}
    });
    let bytes = serde_json::to_vec(&def).unwrap();
    let f = load_bytes(&bytes, "t.json", &OperationMap::built_in(), &|_| None)
        .unwrap()
        .remove(0);
    let host = Script::new(vec![Reply {
        status: 201,
        retry_after_s: None,
        location: Some(
            "http://h/v1/instances/i/triggers/segment-threshold-crossed/subscriptions/s1".into(),
        ),
        body: json!({}),
    }]);
    let requested = vec![
        json!({"segmentName": "HighValueCustomers", "threshold": 1000})
            .as_object()
            .unwrap()
            .clone(),
    ];
    let e = Engine::new(
        Arc::new(f),
        Arc::new(OperationMap::built_in()),
        host.clone(),
        requested,
    )
    .unwrap();
    block_on(e.turn_on());
    block_on(e.turn_off());
    assert_eq!(
        *host.calls.lock(),
        [
            r#"shared_customerinsights POST triggers/segment-threshold-crossed/subscriptions {"NotificationUrl":"http://127.0.0.1:9/hook","segmentName":"HighValueCustomers","threshold":500}"#,
            "shared_customerinsights DELETE http://h/v1/instances/i/triggers/segment-threshold-crossed/subscriptions/s1",
        ]
    );
    block_on(e.deliver(json!({})));
    assert_eq!(
        action(&e.history()[0], "Echo").outputs,
        "HighValueCustomers"
    );
}

#[test]
fn variable_actions_loop_indexes_and_waits() {
    let host = Script::new(vec![]);
    let start = host.now_ms();
    let r = run(
        flow(json!({
            "Init": {"type": "InitializeVariable", "inputs": {"variables": [
                {"name": "list", "type": "array"}, {"name": "text", "type": "string", "value": "a"},
                {"name": "n", "type": "integer", "value": 10}]}},
            "Loop": {"type": "Until", "expression": "@equals(length(variables('list')), 3)", "runAfter": {"Init": ["Succeeded"]},
                "actions": {
                    "Push": {"type": "AppendToArrayVariable", "inputs": {"name": "list", "value": "@iterationIndexes('Loop')"}},
                    "Grow": {"type": "AppendToStringVariable", "inputs": {"name": "text", "value": "@{iterationIndexes('Loop')}"}, "runAfter": {"Push": ["Succeeded"]}},
                    "Down": {"type": "DecrementVariable", "inputs": {"name": "n", "value": 2}, "runAfter": {"Grow": ["Succeeded"]}}
                }},
            "Bad": {"type": "SetVariable", "inputs": {"name": "n", "value": "ten"}, "runAfter": {"Loop": ["Succeeded"]}},
            "Later": {"type": "Wait", "inputs": {"until": {"timestamp": "@addMinutes(utcNow(), 5)"}}, "runAfter": {"Bad": ["Failed"]}},
            "Result": {"type": "Compose", "inputs": {"list": "@variables('list')", "text": "@variables('text')", "n": "@variables('n')",
                "run": "@workflow()?['run']?['name']"}, "runAfter": {"Later": ["Succeeded"]}}
        })),
        &host,
        json!({}),
    );
    assert_eq!(
        action(&r, "Result").outputs,
        json!({"list": [0, 1, 2], "text": "a012", "n": 4, "run": "run1"})
    );
    let bad = action(&r, "Bad");
    assert_eq!(bad.status, Status::Failed);
    assert!(
        bad.error.as_ref().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("of type integer and cannot hold a string")
    );
    assert_eq!(*host.sleeps.lock(), [300_000]);
    assert_eq!(host.now_ms() - start, 300_000);
}

#[test]
fn a_time_limit_stops_retries_that_would_end_past_it() {
    let mut limited = get_items();
    limited["limit"] = json!({"timeout": "PT20S"});
    let host = Script::new(vec![throttled(15), throttled(15), reply(200, json!({}))]);
    let r = run(flow(json!({"Get": limited})), &host, json!({}));
    let a = action(&r, "Get");
    assert_eq!((a.status, a.attempts), (Status::TimedOut, 2));
    assert!(
        a.note
            .as_deref()
            .unwrap()
            .contains("limit.timeout of PT20S ran out before retry 2")
    );
    assert_eq!(*host.sleeps.lock(), [15_000]);
}

#[test]
fn the_run_history_renders_one_line_per_action() {
    let host = Script::new(vec![throttled(30)]);
    let r = run(
        flow(json!({"Get": get_items()})),
        &host,
        json!({"eventId": "ev1"}),
    );
    assert_eq!(
        r.render(),
        "run1 When_done event=ev1 Succeeded in PT30S\n  +PT0S     Succeeded Get (OpenApiConnection) 200 after 2 calls PT30S\n      note: succeeded after 2 calls, waiting PT30S between them\n"
    );
}

#[test]
fn loops_keep_what_each_iteration_reads_and_summarize_the_rest() {
    let body = |each: Value| {
        json!({"Each": {
            "type": "Foreach", "foreach": "@range(0, 3)",
            "actions": {
                "Big": {"type": "Compose", "inputs": "@range(item(), 30)"},
                "Count": {"type": "Compose", "inputs": "@first(outputs('Big'))", "runAfter": {"Big": ["Succeeded"]}}
            },
            "runtimeConfiguration": each
        }})
    };
    let host = Script::new(vec![]);
    // Concurrent: each iteration reads its own output; nothing is summarized.
    let r = run(
        flow(body(json!({"concurrency": {"repetitions": 3}}))),
        &host,
        json!({}),
    );
    let counts: Vec<&Value> = r
        .actions
        .iter()
        .filter(|a| a.name == "Count")
        .map(|a| &a.outputs)
        .collect();
    assert_eq!(counts, [&json!(0), &json!(1), &json!(2)]);
    assert!(
        r.actions
            .iter()
            .filter(|a| a.name == "Big")
            .all(|a| a.outputs.is_array())
    );
    // Sequential: the earlier iterations' large outputs are summarized, the last one kept.
    let r = run(
        flow(body(json!({"concurrency": {"repetitions": 1}}))),
        &host,
        json!({}),
    );
    let bigs: Vec<&Value> = r
        .actions
        .iter()
        .filter(|a| a.name == "Big")
        .map(|a| &a.outputs)
        .collect();
    assert_eq!(bigs[0], &json!("[30 items, not kept in the run history]"));
    assert_eq!(bigs[2].as_array().map(Vec::len), Some(30));
}

/// A host whose sleeps end only when released (to hold a run in the middle).
struct Gated {
    inner: Arc<Script>,
    open: std::sync::atomic::AtomicBool,
}

impl Host for Gated {
    fn api<'a>(
        &'a self,
        connection: &'a str,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
    ) -> BoxFuture<'a, Reply> {
        self.inner.api(connection, method, path, body)
    }
    fn sink<'a>(&'a self, sink: Sink, body: Value) -> BoxFuture<'a, u16> {
        self.inner.sink(sink, body)
    }
    fn sleep<'a>(&'a self, ms: i64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            std::future::poll_fn(|_| {
                if self.open.load(Ordering::SeqCst) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            self.inner.sleep(ms).await;
        })
    }
    fn now_ms(&self) -> i64 {
        self.inner.now_ms()
    }
    fn notification_url(&self) -> String {
        self.inner.notification_url()
    }
}

#[test]
fn a_run_concurrency_of_one_queues_the_next_delivery_behind_the_running_one() {
    let f = flow_with(
        json!({"runtimeConfiguration": {"concurrency": {"runs": 1}}}),
        json!({
            "Pause": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Minute"}}},
            "Echo": {"type": "Compose", "inputs": "@triggerBody()?['n']", "runAfter": {"Pause": ["Succeeded"]}}
        }),
    );
    let host = Arc::new(Gated {
        inner: Script::new(vec![]),
        open: std::sync::atomic::AtomicBool::new(false),
    });
    let e = Engine::new(
        Arc::new(f),
        Arc::new(OperationMap::built_in()),
        host.clone(),
        Vec::new(),
    )
    .unwrap();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut first = std::pin::pin!(e.deliver(json!({"n": 1})));
    assert!(
        first.as_mut().poll(&mut cx).is_pending(),
        "the first run waits"
    );
    // The second delivery is accepted at once and queued: no run starts beside the first.
    assert_eq!(block_on(e.deliver(json!({"n": 2}))), 202);
    assert!(e.history().is_empty());
    host.open.store(true, Ordering::SeqCst);
    assert_eq!(block_on(first), 202);
    let h = e.history();
    let echoed: Vec<&Value> = h.iter().map(|r| &action(r, "Echo").outputs).collect();
    assert_eq!(echoed, [&json!(1), &json!(2)]);
    assert!(
        h[1].start_ms >= h[0].end_ms,
        "the queued run starts after the first ends"
    );
}
