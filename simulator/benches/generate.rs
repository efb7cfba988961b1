//! Data generation and start-up: `cargo bench -p simulator --bench generate`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use simulator::store::Population;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

fn generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    let mut spec = TenantSpec::demo();
    spec.customers = 1_000_000;
    group.bench_function("population_1m_customers", |b| {
        b.iter(|| black_box(Population::generate(&spec, 42).activity_total()))
    });
    group.bench_function("demo_tenant_startup", |b| {
        b.iter(|| {
            let sim = Simulator::new(SimConfig::new(
                TenantSpec::demo(),
                Clock::frozen_at(SimTime::DEFAULT_EPOCH),
            ));
            black_box(sim.instance_id.len())
        })
    });
    group.finish();
}

criterion_group!(benches, generation);
criterion_main!(benches);
