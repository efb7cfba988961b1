//! Times the API's work per page request in-process (no sockets):
//! `cargo run --release -p simulator --example handle_cost`.
use std::time::Instant;

use simulator::api::{ApiRequest, handle};
use simulator::odata::{BindContext, bind, parse_options};
use simulator::query::{PageFrame, execute, write_page};
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

fn main() {
    let mut spec = TenantSpec::demo();
    spec.customers = 100_000;
    spec.limits.rate_limit = "off".into();
    let sim = Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(SimTime::DEFAULT_EPOCH),
    ));
    let path = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    let n = 20_000u64;
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        let q = format!("$top=100&$skip={}", (i * 7919) % 99_900);
        let r = handle(
            &sim,
            &ApiRequest {
                method: "GET",
                path: &path,
                query: Some(&q),
                authorization: Some("Bearer x"),
                subscription_key: None,
                admin_token: None,
                body: b"",
                base_url: "http://127.0.0.1:8080",
                peer_loopback: true,
            },
        );
        bytes += r.body.len();
    }
    let per = start.elapsed().as_secs_f64() / n as f64 * 1e6;
    println!(
        "api::handle: {per:.1} us per request ({} bytes avg)",
        bytes / n as usize
    );

    let world = sim.read();
    let store = &world.store;
    let e = store.entity_index("Customer").unwrap();
    let segs = store.segment_names();
    let ctx = BindContext {
        page_size_default: 100,
        page_size_max: 100,
        segments: &segs,
        next_link: false,
    };
    let start = Instant::now();
    for i in 0..n {
        let q = format!("$top=100&$skip={}", (i * 7919) % 99_900);
        let query = bind(parse_options(&q).unwrap(), &store.entity(e).schema, &ctx).unwrap();
        let page = execute(store, e, &query, SimTime::DEFAULT_EPOCH);
        let body = write_page(
            store,
            e,
            &query,
            &page,
            &PageFrame {
                context: "x",
                next_link: None,
            },
            SimTime::DEFAULT_EPOCH,
        );
        bytes += body.len();
    }
    println!(
        "parse+bind+execute+write: {:.1} us",
        start.elapsed().as_secs_f64() / n as f64 * 1e6
    );
    let query = bind(
        parse_options("$top=100&$skip=500").unwrap(),
        &store.entity(e).schema,
        &ctx,
    )
    .unwrap();
    let page = execute(store, e, &query, SimTime::DEFAULT_EPOCH);
    let start = Instant::now();
    for _ in 0..n {
        let body = write_page(
            store,
            e,
            &query,
            &page,
            &PageFrame {
                context: "x",
                next_link: None,
            },
            SimTime::DEFAULT_EPOCH,
        );
        bytes += body.len();
    }
    println!(
        "write_page only: {:.1} us",
        start.elapsed().as_secs_f64() / n as f64 * 1e6
    );
}
