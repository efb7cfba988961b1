//! The control API is safe by default: it shows no bearer token to a caller without the admin
//! token, and it knows an IPv4 loopback client of a `[::]` listener: reproductions 7 and 11.

use simulator::journal::fingerprint;

use super::*;
use crate::support::{get, json, request as call, request_as};

/// Reproduction 11: any local process could read full bearer tokens from `/_sim/journal` and
/// `/_sim/ratelimit` when no admin token was set.
#[test]
fn the_control_api_shows_fingerprints_instead_of_tokens() {
    let sim = tenant(20, |_| {});
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOi.secret-part";
    assert_eq!(
        request_as(
            &sim,
            "GET",
            "/v1/instances",
            "",
            Some(&format!("Bearer {token}"))
        )
        .status,
        200
    );
    let report = r#"{"reportType":"x"}"#;
    let status = request_as(
        &sim,
        "POST",
        &format!("/v1/instances/{}/statusreport", sim.instance_id),
        report,
        Some(&format!("Bearer {token}")),
    )
    .status;
    assert_eq!(status, 202);
    let print = fingerprint(token);
    for path in [
        "/_sim/journal",
        "/_sim/ratelimit",
        "/_sim/reports",
        "/_sim/state",
    ] {
        let body = String::from_utf8(call(&sim, "GET", path, "").bytes().to_vec()).unwrap();
        assert!(
            !body.contains("secret-part"),
            "{path} shows the token: {body}"
        );
        if path != "/_sim/state" {
            assert!(body.contains(&print), "{path} has no fingerprint: {body}");
        }
    }
    // The journal can still be filtered by the token (the caller knows it) or its fingerprint.
    for by in [token, print.as_str()] {
        let entries = json(&call(
            &sim,
            "GET",
            &format!("/_sim/journal?connection={by}"),
            "",
        ));
        assert_eq!(entries["value"].as_array().unwrap().len(), 2, "{by}");
    }
    // Two connections stay distinguishable.
    assert_eq!(get(&sim, "manage/entities").status, 200);
    let connections = json(&call(&sim, "GET", "/_sim/ratelimit", ""))["connections"].clone();
    let names: Vec<&str> = connections
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connection"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1]);
}

#[test]
fn the_admin_sees_the_tokens() {
    let mut spec = TenantSpec::demo();
    spec.customers = 20;
    let mut config = SimConfig::new(spec, Clock::frozen_at(SimTime::DEFAULT_EPOCH));
    config.admin_token = Some("admin".into());
    let sim = Simulator::new(config);
    assert_eq!(
        request_as(&sim, "GET", "/v1/instances", "", Some("Bearer flow-token")).status,
        200
    );
    let journal = request_as(&sim, "GET", "/_sim/journal", "", Some("Bearer admin"));
    assert_eq!(journal.status, 200);
    assert_eq!(json(&journal)["value"][0]["connection"], "flow-token");
}

/// Reproduction 7: bound to `[::]:P`, a loopback client of `/_sim` over IPv4 got `403`.
#[tokio::test]
async fn a_dual_stack_listener_knows_its_ipv4_loopback_clients() {
    let sim = Arc::new(tenant(20, |_| {}));
    let handle = server::start(sim.clone(), "[::]:0".parse().unwrap())
        .await
        .unwrap();
    let v4 = SocketAddr::from(([127, 0, 0, 1], handle.local_addr.port()));
    let answer = request(v4, "GET", "/_sim/health", "", "").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    handle.shutdown(Duration::from_secs(1)).await;
}
