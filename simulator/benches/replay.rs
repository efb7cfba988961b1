//! Replays 30 simulated days of the demo tenant through the event engine on a virtual clock:
//! a scheduled full refresh every day, one subscription per trigger, every delivery answered
//! 200 at once. Run with `cargo bench -p simulator --bench replay`.

use std::collections::VecDeque;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use simulator::engine::{AttemptResult, Effect, Engine, Initial, MeasureValue};
use simulator::tenant::TenantSpec;
use simulator::time::{SimDuration, SimTime};

fn replay(every: SimDuration) -> Engine {
    let mut spec = TenantSpec::demo();
    spec.refresh.schedule_every = every;
    let t0 = SimTime::DEFAULT_EPOCH;
    let initial = Initial {
        measure_values: spec
            .measures
            .iter()
            .map(|m| match m.dimension {
                None => MeasureValue::Scalar(5_000_000.0),
                Some(_) => MeasureValue::ByDimension(vec![
                    ("Germany".to_owned(), 2_000_000.0),
                    ("France".to_owned(), 1_500_000.0),
                ]),
            })
            .collect(),
    };
    let mut engine = Engine::new(&spec, spec.seed, t0, initial);
    let url = "http://127.0.0.1:9000/hook";
    // Thresholds at the initial values, so that the random walks cross them now and then.
    let high_value = engine.segment_count(0);
    for (trigger, inputs) in [
        ("datasource-refresh-failed", json!({})),
        ("datasource-refresh-succeeded", json!({})),
        (
            "segment-threshold-crossed",
            json!({"segmentName": "HighValueCustomers", "threshold": high_value}),
        ),
        (
            "measure-threshold-crossed",
            json!({"measureName": "TotalRevenue", "threshold": 5_000_000}),
        ),
        ("full-refresh-completed", json!({})),
        ("unification-completed", json!({})),
    ] {
        let mut body = inputs;
        body["NotificationUrl"] = json!(url);
        if let Err(e) = engine.subscribe(t0, trigger, &body) {
            panic!("subscribe {trigger}: {e}");
        }
    }
    let end = t0 + SimDuration::from_days(30);
    let mut pending: VecDeque<Effect> = VecDeque::new();
    while let Some(at) = engine.next_due().filter(|&at| at <= end) {
        pending.extend(engine.run_until(at));
        while let Some(effect) = pending.pop_front() {
            if let Effect::Deliver(attempt) = effect {
                pending.extend(engine.delivery_result(
                    at,
                    attempt.attempt_id,
                    AttemptResult::Status(200),
                ));
            }
        }
    }
    engine
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    for (name, every, samples) in [
        ("30d_daily", SimDuration::from_days(1), 100),
        ("30d_every_5m", SimDuration::from_mins(5), 10),
    ] {
        let engine = replay(every);
        eprintln!(
            "replay/{name}: {} jobs, {} events, {} deliveries",
            engine.jobs().len(),
            engine.events().len(),
            engine.deliveries().len()
        );
        group.sample_size(samples);
        // The engine is returned and dropped outside the measurement.
        group.bench_function(name, |b| {
            b.iter_with_large_drop(|| replay(black_box(every)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
