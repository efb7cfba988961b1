//! Generates a tenant and reports the time it took and the process's resident memory:
//! `cargo run --release -p simulator --example tenant_size -- 1000000`.

use std::time::Instant;

use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let customers: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let before = rss_mb();
    let mut spec = TenantSpec::demo();
    spec.customers = customers;
    let started = Instant::now();
    let sim = Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(SimTime::DEFAULT_EPOCH),
    ));
    let elapsed = started.elapsed();
    let activities = sim.store().population().activity_total();
    println!(
        "{customers} customers, {activities} activities: generated in {:.2} s; resident {:.0} MB (process before: {:.0} MB); data {:.0} MB",
        elapsed.as_secs_f64(),
        rss_mb(),
        before,
        sim.data_bytes() as f64 / 1e6
    );
}
