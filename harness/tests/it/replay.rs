//! The replay loop with a small in-process flow.

use std::sync::Arc;

use harness::check::check;
use harness::flow::{BoxFuture, Flow, FlowContext, FlowFactory};
use harness::replay::{FlowUnderTest, RunOptions, Runner};
use harness::scenario::{
    DeliveryExpect, Expect, ExpectedSubscription, Scenario, SegmentStep, SinkExpect, SinkKind, Step,
};
use serde_json::{Value, json};
use simulator::SimDuration;

/// E-mails the first members each time the segment crosses its threshold.
struct Mailer;

impl Flow for Mailer {
    fn triggers(&self) -> Vec<&'static str> {
        vec!["segment-threshold-crossed"]
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        Box::pin(async move {
            let segment = event["segmentName"].as_str().unwrap_or_default().to_owned();
            let members = ctx
                .io
                .api("GET", &format!("data/Customer?$filter=IsMemberOfSegment(%27{segment}%27)&$top=3&$select=FullName"), None)
                .await;
            let names: Vec<Value> = members.body["value"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            ctx.io
                .sink(SinkKind::Email, json!({"subject": format!("{segment}: {}", event["entityCount"]), "first": names}))
                .await;
            202
        })
    }
}

fn factory() -> FlowFactory {
    FlowFactory {
        name: "mailer",
        description: "test flow",
        broken: None,
        make: || Arc::new(Mailer),
    }
}

fn scenario(counts: &[u64]) -> Scenario {
    let mut tenant = toml::Table::new();
    tenant.insert("customers".into(), toml::Value::Integer(2000));
    Scenario {
        format: 1,
        id: "test/crossings".into(),
        description: String::new(),
        requirement: "A segment threshold trigger MUST fire once per upward crossing.".into(),
        seed: None,
        start: None,
        tenant,
        subscriptions: vec![ExpectedSubscription {
            trigger: "segment-threshold-crossed".into(),
            inputs: json!({"segmentName": "HighValueCustomers", "threshold": 1000})
                .as_object()
                .cloned()
                .unwrap(),
        }],
        steps: counts
            .iter()
            .enumerate()
            .map(|(i, &c)| Step {
                at: SimDuration::from_days(i as i64),
                evaluate_segment: Some(SegmentStep {
                    name: "HighValueCustomers".into(),
                    entity_count: c,
                }),
                ..Step::default()
            })
            .collect(),
        run_for: None,
        expect: Expect {
            deliveries: vec![DeliveryExpect {
                trigger: "segment-threshold-crossed".into(),
                count: Some(1),
                min: None,
                max: None,
            }],
            sinks: vec![SinkExpect {
                sink: SinkKind::Email,
                count: Some(1),
                min: None,
                max: None,
                body_contains: Some("HighValueCustomers".into()),
                json: Default::default(),
            }],
            ..Expect::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upward_crossing_reaches_the_flow_which_fetches_members_and_mails() {
    let runner = Runner::new(FlowUnderTest::InProcess(factory()), RunOptions::default())
        .await
        .unwrap();
    let s = scenario(&[900, 1100, 950]);
    let run = runner.run(&s).await;
    let transcript = harness::transcript::render(&run);
    assert_eq!(check(&s, &run, None), vec![], "{transcript}");
    assert!(
        transcript
            .contains("call      POST triggers/segment-threshold-crossed/subscriptions -> 201"),
        "{transcript}"
    );
    assert!(transcript.contains("event     ev1 segment-threshold-crossed sub1 segmentName=HighValueCustomers threshold=1000 previousCount=900 entityCount=1100"), "{transcript}");
    assert!(transcript.contains("sink      email"), "{transcript}");
    // Determinism: the same case gives the same transcript.
    let again = harness::transcript::render(&runner.run(&s).await);
    assert_eq!(again, transcript);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_crossing_means_no_delivery_and_a_failed_expectation() {
    let runner = Runner::new(FlowUnderTest::InProcess(factory()), RunOptions::default())
        .await
        .unwrap();
    let s = scenario(&[900, 950]);
    let run = runner.run(&s).await;
    let failures = check(&s, &run, None);
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0].check, "expect.deliveries[0]");
    assert_eq!(failures[0].actual, "0 delivered (0 occurred)");
}
