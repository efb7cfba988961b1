//! Query benchmarks over a large tenant: `cargo bench -p simulator --bench query`.
//!
//! Each measures the whole server-side handling of one request (auth, call limit, journal, OData
//! parsing and binding, execution, writing the page), in-process without sockets.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use simulator::api::{ApiRequest, handle};
use simulator::store::CustomerField;
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

fn tenant(customers: usize) -> Simulator {
    let mut spec = TenantSpec::demo();
    spec.customers = customers;
    spec.limits.rate_limit = "off".into();
    let mut config = SimConfig::new(spec, Clock::frozen_at(SimTime::DEFAULT_EPOCH));
    config.journal_capacity = 10_000;
    Simulator::new(config)
}

fn get(sim: &Simulator, path: &str, query: &str) -> usize {
    handle(
        sim,
        &ApiRequest {
            method: "GET",
            path,
            query: Some(query),
            authorization: Some("Bearer bench"),
            subscription_key: None,
            admin_token: None,
            body: b"",
            base_url: "http://127.0.0.1:8080",
            peer_loopback: true,
        },
    )
    .body
    .len()
}

fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn queries(c: &mut Criterion) {
    let customers = std::env::var("BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let sim = tenant(customers);
    let path = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    let emails: Vec<String> = {
        let store = sim.store();
        (0..1000u32)
            .map(|i| {
                let row = (u64::from(i) * 7919 % customers as u64) as u32;
                let email = store
                    .population()
                    .customer_text(row, CustomerField::EMail)
                    .unwrap_or_default();
                format!("$filter={}", enc(&format!("EMail eq '{email}'")))
            })
            .collect()
    };
    let mut group = c.benchmark_group(format!("customers_{customers}"));
    let mut i = 0;
    group.bench_function("filter_email_eq", |b| {
        b.iter(|| {
            i = (i + 1) % emails.len();
            black_box(get(&sim, &path, &emails[i]))
        })
    });
    let ids: Vec<String> = {
        let store = sim.store();
        (0..1000u32)
            .map(|i| {
                let row = (u64::from(i) * 104_729 % customers as u64) as u32;
                let id = store
                    .population()
                    .customer_text(row, CustomerField::CustomerId)
                    .unwrap_or_default();
                format!("$filter={}", enc(&format!("CustomerId eq '{id}'")))
            })
            .collect()
    };
    group.bench_function("filter_customer_id_eq", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            black_box(get(&sim, &path, &ids[i]))
        })
    });
    let city = format!("$filter={}&$top=100", enc("City eq 'Berlin'"));
    group.bench_function("filter_city_eq_top_100", |b| {
        b.iter(|| black_box(get(&sim, &path, &city)))
    });
    let member = format!(
        "$filter={}&$top=100&$skip=500",
        enc("IsMemberOfSegment('HighValueCustomers')")
    );
    group.bench_function("is_member_of_segment_top_100", |b| {
        b.iter(|| black_box(get(&sim, &path, &member)))
    });
    let mut skip = 0u64;
    group.bench_function("page_top_100_random_skip", |b| {
        b.iter(|| {
            skip = (skip + 791_900) % (customers as u64 - 100);
            black_box(get(&sim, &path, &format!("$top=100&$skip={skip}")))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = queries
}
criterion_main!(benches);
