//! Generated valid scenarios for property tests: every kind of step, subscription and
//! expectation, with names from the demo tenant.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde_json::{Map, Value};
use simulator::engine::{DeliveryFaultRule, DeliveryFaults, Trigger};
use simulator::faults::RouteFaultRule;
use simulator::{SimDuration, SimTime};

use super::model::*;

const DATA_SOURCES: [&str; 4] = ["PoS", "eCommerce", "Loyalty", "Newsletter"];
const SEGMENTS: [&str; 4] = [
    "HighValueCustomers",
    "ChurnRisk",
    "NewsletterSubscribers",
    "NewCustomers",
];
const SCALAR_MEASURES: [&str; 3] = ["TotalRevenue", "ActiveCustomers", "AverageOrderValue"];
const WRITABLE: [&str; 4] = [
    "Customer",
    "UnifiedActivity",
    "PoS_Contacts",
    "Loyalty_Members",
];
const READABLE: [&str; 5] = [
    "Customer",
    "Customer_Measure",
    "ChurnRisk",
    "RevenueByCountry",
    "eCommerce_WebOrders",
];

fn pick<const N: usize>(names: [&'static str; N]) -> impl Strategy<Value = String> {
    proptest::sample::select(names.to_vec()).prop_map(String::from)
}

fn trigger_id() -> impl Strategy<Value = String> {
    proptest::sample::select(Trigger::ALL.to_vec()).prop_map(|t| t.id().to_owned())
}

/// Numbers TOML writes and reads back exactly (TOML integers are `i64`).
fn small_u64() -> impl Strategy<Value = u64> {
    prop_oneof![0..100u64, 0..=i64::MAX as u64]
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![-1e12..1e12f64, (-1000..1000i64).prop_map(|n| n as f64)]
}

fn duration() -> impl Strategy<Value = SimDuration> {
    prop_oneof![
        (0..100_000i64).prop_map(SimDuration::from_secs),
        (0..1_000_000_000i64).prop_map(SimDuration::from_millis),
    ]
}

fn text() -> impl Strategy<Value = String> {
    "[\\PC\n\t\"'\\\\]{0,24}"
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Fail),
        Just(Outcome::Transient),
        Just(Outcome::Timeout),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        finite().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            json_map(inner).prop_map(Value::Object),
        ]
    })
}

fn json_map(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Map<String, Value>> {
    btree_map("[A-Za-z_][A-Za-z0-9_ ./-]{0,8}", values, 0..3).prop_map(|m| m.into_iter().collect())
}

fn bounds() -> impl Strategy<Value = Count> {
    prop_oneof![
        small_u64().prop_map(|c| Count {
            count: Some(c),
            min: None,
            max: None
        }),
        (option::of(0..50u64), option::of(0..50u64)).prop_map(|(a, b)| {
            let (min, max) = match (a, b) {
                (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                other => other,
            };
            Count {
                count: None,
                min,
                max,
            }
        }),
    ]
}

fn tenant() -> impl Strategy<Value = toml::Table> {
    prop_oneof![
        Just(toml::Table::new()),
        (1..100_000i64)
            .prop_map(|n| toml::Table::from_iter([("customers".to_owned(), toml::Value::from(n))])),
        (1..100i64).prop_map(|n| {
            let limits = toml::Table::from_iter([
                ("page_size_max".to_owned(), toml::Value::from(n)),
                ("page_size_default".to_owned(), toml::Value::from(n)),
            ]);
            toml::Table::from_iter([("limits".to_owned(), toml::Value::Table(limits))])
        }),
    ]
}

fn subscription() -> impl Strategy<Value = ExpectedSubscription> {
    let with = |trigger: Trigger, inputs: Vec<(&str, Value)>| ExpectedSubscription {
        trigger: trigger.id().to_owned(),
        inputs: inputs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    };
    prop_oneof![
        (any::<bool>(), option::of(pick(DATA_SOURCES))).prop_map(move |(failed, ds)| {
            let t = if failed {
                Trigger::DataSourceRefreshFailed
            } else {
                Trigger::DataSourceRefreshSucceeded
            };
            with(
                t,
                ds.map(|d| ("dataSourceName", Value::from(d)))
                    .into_iter()
                    .collect(),
            )
        }),
        (pick(SEGMENTS), 0..1_000_000u64).prop_map(move |(s, n)| with(
            Trigger::SegmentThresholdCrossed,
            vec![
                ("segmentName", Value::from(s)),
                ("threshold", Value::from(n))
            ]
        )),
        (pick(SCALAR_MEASURES), finite()).prop_map(move |(m, v)| with(
            Trigger::MeasureThresholdCrossed,
            vec![
                ("measureName", Value::from(m)),
                ("threshold", Value::from(v))
            ]
        )),
        Just(with(Trigger::FullRefreshCompleted, vec![])),
        Just(with(Trigger::UnificationCompleted, vec![])),
    ]
}

fn refresh() -> impl Strategy<Value = RefreshStep> {
    let kind = option::of(prop_oneof![
        Just(RefreshKind::Scheduled),
        Just(RefreshKind::OnDemand)
    ]);
    let evaluated = prop_oneof![pick(SEGMENTS), pick(SCALAR_MEASURES)];
    (
        kind,
        btree_map(pick(DATA_SOURCES), outcome(), 0..3),
        btree_map(pick(["map", "match", "merge", "export"]), outcome(), 0..2),
        btree_map(evaluated, outcome(), 0..2),
        btree_map(pick(SEGMENTS), 0..10_000_000u64, 0..3),
        btree_map(pick(SCALAR_MEASURES), finite(), 0..2),
    )
        .prop_map(
            |(kind, data_sources, stages, evaluations, segments, measures)| RefreshStep {
                kind,
                data_sources,
                stages,
                evaluations,
                segments,
                measures,
            },
        )
}

fn faults() -> impl Strategy<Value = FaultsStep> {
    let route = (
        pick(["", "*", "data/Customer", "manage/segments", "triggers"]),
        option::of(pick(["GET", "POST"])),
        option::of(duration()),
        option::of(100..=599u16),
        any::<bool>(),
        option::of(0.0..=1.0f64),
        option::of(0..10u64),
    )
        .prop_map(
            |(route, method, latency, status, drop, probability, first)| RouteFaultRule {
                route,
                method,
                latency,
                status,
                // A rule must do something.
                drop: drop || (latency.is_none() && status.is_none()),
                probability,
                first,
            },
        );
    let delivery = (
        option::of(prop_oneof![Just("*".to_owned()), trigger_id()]),
        (0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64),
        (duration(), duration()),
        option::of(0..10u32),
        (0.0..=1.0f64, 0.0..=1.0f64, 100u16..600, 0.0..=1.0f64),
    )
        .prop_map(
            |(
                trigger,
                (duplicate, reorder, late_replay),
                (late_after, hold_max),
                first,
                (refuse, answer_lost, answer_lost_status, timeout_after_send),
            )| {
                DeliveryFaultRule {
                    trigger,
                    duplicate,
                    reorder,
                    late_replay,
                    late_after,
                    hold_max,
                    refuse,
                    answer_lost,
                    answer_lost_status,
                    timeout_after_send,
                    first,
                }
            },
        );
    (vec(route, 0..3), vec(delivery, 0..3)).prop_map(|(routes, rules)| FaultsStep {
        routes,
        deliveries: DeliveryFaults { rules },
    })
}

/// A step with one action or none; `at` is filled in by [`scenario`].
fn step() -> impl Strategy<Value = Step> {
    let item = || json_map(json_value());
    prop_oneof![
        Just(Step::default()),
        refresh().prop_map(|r| Step {
            refresh: Some(r),
            ..Step::default()
        }),
        (pick(DATA_SOURCES), outcome()).prop_map(|(name, outcome)| Step {
            refresh_datasource: Some(DataSourceStep { name, outcome }),
            ..Step::default()
        }),
        (pick(SEGMENTS), small_u64()).prop_map(|(name, entity_count)| Step {
            evaluate_segment: Some(SegmentStep { name, entity_count }),
            ..Step::default()
        }),
        (pick(SCALAR_MEASURES), finite()).prop_map(|(name, value)| Step {
            evaluate_measure: Some(MeasureStep { name, value }),
            ..Step::default()
        }),
        faults().prop_map(|f| Step {
            faults: Some(f),
            ..Step::default()
        }),
        (pick(WRITABLE), item()).prop_map(|(entity, item)| Step {
            create_item: Some(CreateItemStep { entity, item }),
            ..Step::default()
        }),
        (pick(WRITABLE), text(), item()).prop_map(|(entity, key, changes)| Step {
            update_item: Some(UpdateItemStep {
                entity,
                key,
                changes
            }),
            ..Step::default()
        }),
        (trigger_id(), option::of(1u32..5)).prop_map(|(trigger, event)| Step {
            redeliver: Some(RedeliverStep { trigger, event }),
            ..Step::default()
        }),
        (
            pick(["all", "merge", "Match", "ingestion", "export"]),
            vec(pick(SEGMENTS), 0..2)
        )
            .prop_map(|(operation_type, identifiers)| Step {
                submit_job: Some(SubmitJobStep {
                    operation_type,
                    identifiers,
                }),
                ..Step::default()
            }),
    ]
}

fn expect() -> impl Strategy<Value = Expect> {
    let delivery = (trigger_id(), bounds()).prop_map(|(trigger, b)| DeliveryExpect {
        trigger,
        count: b.count,
        min: b.min,
        max: b.max,
    });
    let sink_kind = prop_oneof![
        Just(SinkKind::Teams),
        Just(SinkKind::Email),
        Just(SinkKind::Http),
        Just(SinkKind::Any),
    ];
    let pointers = btree_map("/[a-z0-9/~]{0,10}", json_value(), 0..3);
    let sink = (sink_kind, bounds(), option::of(text()), pointers).prop_map(
        |(sink, b, body_contains, json)| SinkExpect {
            sink,
            count: b.count,
            min: b.min,
            max: b.max,
            body_contains,
            json: json.into_iter().collect::<BTreeMap<_, _>>(),
        },
    );
    let api = (
        option::of(pick(READABLE)),
        option::of(bounds()),
        option::of(small_u64()),
        any::<bool>(),
    )
        .prop_map(
            |(pages_complete, calls, max_calls_in_window, no_early_retries)| ApiExpect {
                pages_complete,
                calls,
                max_calls_in_window,
                no_early_retries,
            },
        );
    let grade = option::of(prop_oneof![
        Just(GradeExpect::Ok),
        Just(GradeExpect::NonStrict)
    ]);
    (
        vec(delivery, 0..3),
        vec(sink, 0..3),
        option::of(api),
        grade,
        any::<bool>(),
        (
            option::of(bounds()),
            any::<bool>(),
            option::of(pick(READABLE)),
        ),
    )
        .prop_map(
            |(deliveries, sinks, api, rate_limit_grade, snapshot, (effects, echo, rows))| Expect {
                deliveries,
                sinks,
                api,
                rate_limit_grade,
                effects,
                echo,
                rows_downstream: rows,
                snapshot,
            },
        )
}

/// A valid scenario: `parse(write(s))` must give it back.
pub(crate) fn scenario() -> impl Strategy<Value = Scenario> {
    let header = (
        "[a-z0-9][a-z0-9_-]{0,8}(/[a-z0-9_-]{1,8}){0,2}",
        prop_oneof![Just(String::new()), text()],
        (text(), prop_oneof![Just("MUST"), Just("SHOULD")], text()),
        option::of(small_u64()),
        option::of((0..4_102_444_800_000i64).prop_map(SimTime)),
        option::of(duration()),
    );
    let steps = vec((duration(), step()), 0..6).prop_map(|steps| {
        // Offsets from deltas, so that time never goes back.
        let mut at = SimDuration::ZERO;
        steps
            .into_iter()
            .map(|(delta, step)| {
                at = at + delta;
                Step { at, ..step }
            })
            .collect::<Vec<_>>()
    });
    (header, tenant(), vec(subscription(), 0..4), steps, expect()).prop_map(
        |(
            (id, description, (a, level, b), seed, start, run_for),
            tenant,
            subscriptions,
            steps,
            expect,
        )| Scenario {
            format: 1,
            id,
            description,
            requirement: format!("{a} {level} {b}"),
            seed,
            start,
            tenant,
            subscriptions,
            steps,
            run_for,
            expect,
        },
    )
}
