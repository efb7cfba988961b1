//! The `/v1` surface in-process: each endpoint, auth, and the error shapes.

use simulator::api::{self, ApiRequest};

use crate::support::*;

#[test]
fn lists_the_instance_and_its_metadata() {
    let sim = sim(50);
    let r = request(&sim, "GET", "/v1/instances", "");
    assert_eq!(r.status, 200);
    let list = json(&r);
    assert_eq!(list[0]["instanceId"], sim.instance_id.as_str());
    assert_eq!(list[0]["name"], "Contoso Retail");
    let one = get(&sim, "");
    assert_eq!(json(&one)["instanceId"], sim.instance_id.as_str());
}

#[test]
fn entity_metadata_lists_attributes_types_and_filterable_fields() {
    let sim = sim(50);
    let all = json(&get(&sim, "manage/entities"));
    let names: Vec<&str> = all["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for expected in [
        "Customer",
        "UnifiedActivity",
        "Customer_Measure",
        "HighValueCustomers",
        "TotalRevenue",
        "PoS_Contacts",
        "PoS_Purchases",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let customer = json(&get(&sim, "manage/entities/Customer"));
    assert_eq!(customer["entityType"], "profile");
    let email = customer["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "EMail")
        .unwrap();
    assert_eq!(email["dataType"], "Edm.String");
    assert_eq!(email["searchProperties"]["isFilterable"], true);
    let size = json(&get(&sim, "manage/entities/Customer/entitysize"));
    assert_eq!(size["rowCount"], 50);
}

#[test]
fn pages_default_to_100_rows_and_top_is_clamped() {
    let sim = sim(250);
    let page = json(&get(&sim, "data/Customer"));
    assert_eq!(page["value"].as_array().unwrap().len(), 100);
    assert!(
        page["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/$metadata#Customer")
    );
    assert!(page.get("@odata.nextLink").is_none());
    let clamped = json(&get(&sim, "data/Customer?$top=5000&$skip=200"));
    assert_eq!(clamped["value"].as_array().unwrap().len(), 50);
    let counted = json(&get(&sim, "data/Customer?$top=1&$count=true"));
    assert_eq!(counted["@odata.count"], 250);
}

#[test]
fn filters_by_key_alternate_key_indexed_field_and_in() {
    let sim = sim(300);
    let first = json(&get(&sim, "data/Customer?$top=3"));
    let rows = first["value"].as_array().unwrap();
    let id = rows[0]["CustomerId"].as_str().unwrap();
    let by_id = json(&get(
        &sim,
        &format!(
            "data/Customer?$filter={}",
            enc(&format!("CustomerId eq '{id}'"))
        ),
    ));
    assert_eq!(by_id["value"].as_array().unwrap().len(), 1);
    assert_eq!(by_id["value"][0]["CustomerId"], id);

    let alt = rows
        .iter()
        .find_map(|r| r["PoS_Contacts_ContactId"].as_str())
        .unwrap();
    let by_alt = json(&get(
        &sim,
        &format!(
            "data/Customer?$filter={}",
            enc(&format!("PoS_Contacts_ContactId eq '{alt}'"))
        ),
    ));
    assert_eq!(by_alt["value"][0]["PoS_Contacts_ContactId"], alt);

    let email = rows[1]["EMail"].as_str().unwrap();
    let by_email = json(&get(
        &sim,
        &format!(
            "data/Customer?$filter={}",
            enc(&format!("EMail eq '{email}'"))
        ),
    ));
    assert!(
        by_email["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["EMail"] == email)
    );
    assert!(!by_email["value"].as_array().unwrap().is_empty());

    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["CustomerId"].as_str().unwrap())
        .collect();
    let in_filter = format!("CustomerId in ('{}','{}','{}')", ids[0], ids[1], ids[2]);
    let by_in = json(&get(
        &sim,
        &format!("data/Customer?$filter={}", enc(&in_filter)),
    ));
    assert_eq!(by_in["value"].as_array().unwrap().len(), 3);
}

#[test]
fn selects_orders_and_searches() {
    let sim = sim(200);
    let selected = json(&get(
        &sim,
        "data/Customer?$select=CustomerId,FullName&$top=2",
    ));
    let row = selected["value"][0].as_object().unwrap();
    assert_eq!(row.keys().collect::<Vec<_>>(), ["CustomerId", "FullName"]);
    assert!(
        selected["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#Customer(CustomerId,FullName)")
    );

    let ordered = json(&get(
        &sim,
        "data/Customer?$orderby=FullName desc&$top=100&$select=FullName"
            .replace(' ', "%20")
            .as_str(),
    ));
    let names: Vec<&str> = ordered["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["FullName"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);

    let any = json(&get(&sim, "data/Customer?$top=1&$select=LastName"));
    let last = any["value"][0]["LastName"].as_str().unwrap().to_lowercase();
    let found = json(&get(
        &sim,
        &format!("data/Customer?$search={}", enc(&format!("\"{last}\""))),
    ));
    let hits = found["value"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|r| r.to_string().to_lowercase().contains(&last))
    );
}

#[test]
fn expands_activities_and_measures_of_a_customer() {
    let sim = sim(100);
    let page = json(&get(
        &sim,
        "data/Customer?$top=1&$expand=UnifiedActivity,Customer_Measure",
    ));
    let customer = &page["value"][0];
    let id = customer["CustomerId"].as_str().unwrap();
    let acts = customer["UnifiedActivity"].as_array().unwrap();
    assert!(acts.iter().all(|a| a["CustomerId"] == id));
    assert_eq!(customer["Customer_Measure"]["CustomerId"], id);
    let direct = json(&get(
        &sim,
        &format!(
            "data/UnifiedActivity?$filter={}&$top=100",
            enc(&format!("CustomerId eq '{id}'"))
        ),
    ));
    assert_eq!(direct["value"].as_array().unwrap().len(), acts.len());
}

#[test]
fn rejects_the_documented_unsupported_queries() {
    let sim = sim(50);
    for (query, code) in [
        (
            "data/PoS_Contacts?$filter=ContactId%20eq%20'x'",
            "EntityNotFilterable",
        ),
        (
            "data/Customer?$expand=UnifiedActivity&$search=%22corey%22",
            "UnsupportedCombination",
        ),
        (
            "data/Customer?$expand=UnifiedActivity&$select=CustomerId",
            "UnsupportedCombination",
        ),
        (
            "data/Customer?$filter=FirstName%20eq%20'x'",
            "FieldNotFilterable",
        ),
        ("data/Customer?$top=-1", "InvalidOptionValue"),
        ("data/Customer?$filter=EMail%20eqq%20'x'", "InvalidFilter"),
        ("data/Customer?$skiptoken=x", "InvalidOptionValue"),
        (
            "data/UnifiedActivity?$filter=ActivityType%20eq%20'Purchase'",
            "FieldNotFilterable",
        ),
        ("data/Customer?$format=json", "UnknownOption"),
    ] {
        let r = get(&sim, query);
        assert_eq!(r.status, 400, "{query}");
        let (got, message) = error_of(&r);
        assert_eq!(got, code, "{query}: {message}");
        assert!(!message.is_empty());
    }
}

#[test]
fn unknown_instance_entity_and_path_are_404_with_the_familys_errors() {
    let sim = sim(20);
    let r = request(
        &sim,
        "GET",
        "/v1/instances/00000000-0000-0000-0000-000000000000/data/Customer",
        "",
    );
    assert_eq!(
        (r.status, error_of(&r).0.as_str()),
        (404, "UnknownInstance")
    );
    let r = get(&sim, "data/Cusotmer");
    assert_eq!(r.status, 404);
    let (code, message) = error_of(&r);
    assert_eq!(code, "UnknownEntity");
    assert!(message.contains("Customer"), "{message}");
    let r = request(&sim, "GET", "/nope", "");
    assert_eq!(r.status, 404);
}

#[test]
fn requires_a_bearer_token() {
    let sim = sim(20);
    let path = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    for (header, challenge) in [
        (
            None,
            "Bearer error_description=\"missing Authorization header; send Authorization: Bearer <token> (any non-empty token identifies a connection)\"",
        ),
        (
            Some("Basic abc"),
            "Bearer error=\"invalid_request\", error_description=\"malformed Authorization header 'Basic abc'; use the Bearer scheme: Authorization: Bearer <token>\"",
        ),
        (
            Some("Bearer "),
            "Bearer error=\"invalid_request\", error_description=\"malformed Authorization header 'Bearer'; use the Bearer scheme: Authorization: Bearer <token>\"",
        ),
    ] {
        let r = request_as(&sim, "GET", &path, "", header);
        assert_eq!(r.status, 401, "{header:?}");
        assert_eq!(r.header("WWW-Authenticate"), Some(challenge));
        assert!(r.bytes().is_empty(), "the API model's 401 has no body");
    }
}

/// API Management checks the subscription key before the API sees the token, and answers with
/// its own body.
#[test]
fn a_missing_subscription_key_gets_api_managements_401() {
    let sim = sim_with(20, |s| {
        s.auth.require_subscription_key = true;
        s.auth.subscription_keys = vec!["k1".into()];
    });
    let path = format!("/v1/instances/{}/manage/segments", sim.instance_id);
    let call = |key: Option<&str>, auth: Option<&str>| {
        api::handle(
            &sim,
            &ApiRequest {
                method: "GET",
                path: &path,
                query: None,
                authorization: auth,
                subscription_key: key,
                admin_token: None,
                body: b"",
                base_url: BASE,
                peer_loopback: true,
            },
        )
    };
    for (key, message) in [
        (
            None,
            "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
        ),
        (
            Some("k2"),
            "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
        ),
    ] {
        let r = call(key, None);
        assert_eq!(r.status, 401);
        assert_eq!(
            json(&r),
            serde_json::json!({"statusCode": 401, "message": message})
        );
        assert!(
            r.header("WWW-Authenticate")
                .unwrap()
                .starts_with("AzureApiManagementKey realm="),
            "{:?}",
            r.header("WWW-Authenticate")
        );
    }
    let r = call(Some("k1"), None);
    assert_eq!((r.status, r.bytes().len()), (401, 0));
    assert_eq!(call(Some("k1"), Some("Bearer t")).status, 200);
}

#[test]
fn creates_and_updates_items_visibly() {
    let sim = sim(30);
    let base = format!("/v1/instances/{}/data", sim.instance_id);
    let body = r#"{"CustomerId":"0123456789abcdef0123456789abcdef","FullName":"Test Person","EMail":"test@example.com"}"#;
    let r = request(&sim, "POST", &format!("{base}/Customer"), body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.bytes()));
    assert!(
        r.header("Location")
            .unwrap()
            .contains("/data/Customer?$filter=")
    );
    let dup = request(&sim, "POST", &format!("{base}/Customer"), body);
    assert_eq!(dup.status, 409);
    let bad = request(
        &sim,
        "POST",
        &format!("{base}/Customer"),
        r#"{"CustomerId":"x","Emial":"a"}"#,
    );
    assert_eq!(
        (bad.status, error_of(&bad).0.as_str()),
        (400, "SchemaMismatch")
    );
    let typed = request(
        &sim,
        "POST",
        &format!("{base}/Customer"),
        r#"{"CustomerId":"y","CreatedOn":5}"#,
    );
    assert_eq!(typed.status, 400);
    let found = json(&get(
        &sim,
        &format!(
            "data/Customer?$filter={}",
            enc("EMail eq 'test@example.com'")
        ),
    ));
    assert_eq!(found["value"][0]["FullName"], "Test Person");
    assert_eq!(
        json(&get(&sim, "data/Customer?$count=true&$top=0"))["@odata.count"],
        31
    );

    let first = json(&get(&sim, "data/Customer?$top=1"));
    let id = first["value"][0]["CustomerId"].as_str().unwrap().to_owned();
    let patched = request(
        &sim,
        "PATCH",
        &format!("{base}/Customer/{id}"),
        r#"{"City":"Springfield"}"#,
    );
    assert_eq!(patched.status, 204);
    let after = json(&get(
        &sim,
        &format!(
            "data/Customer?$filter={}",
            enc(&format!("CustomerId eq '{id}'"))
        ),
    ));
    assert_eq!(after["value"][0]["City"], "Springfield");
    let by_city = json(&get(
        &sim,
        &format!("data/Customer?$filter={}", enc("City eq 'Springfield'")),
    ));
    assert_eq!(by_city["value"][0]["CustomerId"], id.as_str());
    let missing = request(
        &sim,
        "PATCH",
        &format!("{base}/Customer/ffffffffffffffffffffffffffffffff"),
        r#"{"City":"X"}"#,
    );
    assert_eq!(missing.status, 404);
    let read_only = request(
        &sim,
        "POST",
        &format!("{base}/HighValueCustomers"),
        r#"{"CustomerId":"z"}"#,
    );
    assert_eq!(
        (read_only.status, error_of(&read_only).0.as_str()),
        (400, "ReadOnlyEntity")
    );
}

#[test]
fn valid_until_is_at_most_30_days_ahead_and_expires_the_item() {
    let sim = sim(10);
    let base = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    let far = request(
        &sim,
        "POST",
        &format!("{base}?validUntil=2026-03-01T00:00:00Z"),
        r#"{"CustomerId":"a"}"#,
    );
    assert_eq!(
        (far.status, error_of(&far).0.as_str()),
        (400, "InvalidValidUntil")
    );
    let ok = request(
        &sim,
        "POST",
        &format!("{base}?validUntil=2026-01-02T00:00:00Z"),
        r#"{"CustomerId":"a"}"#,
    );
    assert_eq!(ok.status, 201);
    assert_eq!(
        json(&get(&sim, "data/Customer?$count=true&$top=0"))["@odata.count"],
        11
    );
    sim.clock.advance(simulator::SimDuration::from_days(2));
    assert_eq!(
        json(&get(&sim, "data/Customer?$count=true&$top=0"))["@odata.count"],
        10
    );
}

#[test]
fn malformed_bodies_are_400_and_change_nothing() {
    let sim = sim(10);
    let base = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    for body in ["", "{", "[1,2]", "\"text\"", "{\"CustomerId\": 5}"] {
        let r = request(&sim, "POST", &base, body);
        assert_eq!(r.status, 400, "{body:?}");
    }
    assert_eq!(
        json(&get(&sim, "data/Customer?$count=true&$top=0"))["@odata.count"],
        10
    );
}

#[test]
fn partitions_are_listed_and_served_as_csv() {
    let sim = sim(120);
    let proxied = json(&get(&sim, "data/HighValueCustomers?proxy=true"));
    let uri = proxied["httpRequests"][0]["uri"].as_str().unwrap();
    let path = uri.strip_prefix(BASE).unwrap();
    let csv = request(&sim, "GET", path, "");
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.bytes().to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("CustomerId,FullName,EMail"));
    let members = json(&get(&sim, "data/HighValueCustomers?$count=true&$top=0"))["@odata.count"]
        .as_u64()
        .unwrap();
    assert_eq!(lines.count() as u64, members);
    let missing = get(&sim, "partitions/Customer/7.csv");
    assert_eq!(missing.status, 404);
}

#[test]
fn status_reports_are_accepted_and_need_a_report_type() {
    let sim = sim(10);
    let base = format!("/v1/instances/{}/statusreport", sim.instance_id);
    let r = request(&sim, "POST", &base, r#"{"reportType":"daily"}"#);
    assert_eq!(r.status, 202);
    assert_eq!(json(&r)["status"], "Accepted");
    let v2 = request(
        &sim,
        "POST",
        &format!("{base}/v2"),
        r#"{"reportType":"weekly","details":{"a":1}}"#,
    );
    assert_eq!(json(&v2)["version"], 2);
    let bad = request(&sim, "POST", &base, r#"{}"#);
    assert_eq!(bad.status, 400);
    assert_eq!(sim.status_reports().len(), 2);
}

#[test]
fn wrong_methods_are_405() {
    let sim = sim(10);
    let r = request(
        &sim,
        "DELETE",
        &format!("/v1/instances/{}/data/Customer", sim.instance_id),
        "",
    );
    assert_eq!(r.status, 405);
    assert!(error_of(&r).1.contains("GET or POST"));
}

#[test]
fn a_skiptoken_is_accepted_with_next_links_off() {
    let sim = sim(230);
    let all = json(&get(
        &sim,
        "data/Customer?$select=CustomerId&$top=100&$skip=100",
    ));
    let token = json(&get(
        &sim,
        "data/Customer?$select=CustomerId&$skiptoken=100",
    ));
    assert_eq!(token["value"], all["value"]);
    assert!(token.get("@odata.nextLink").is_none());
}

/// The connector page lists `ActivityId` and `CustomerId` as the filterable fields of
/// `UnifiedActivity`; the OData examples add `ActivityTime`, `ActivityType` and
/// `ActivityTypeDisplay` next to `CustomerId eq`. The refusal says which fields and why.
#[test]
fn unified_activity_filters_need_a_key_condition_for_the_activity_fields() {
    let sim = sim(50);
    let customer = json(&get(&sim, "data/UnifiedActivity?$top=1"))["value"][0]["CustomerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let anchored = format!(
        "data/UnifiedActivity?$filter={}",
        enc(&format!(
            "CustomerId eq '{customer}' and ActivityType eq 'Purchase' and ActivityTime gt 2017-01-01T00:00:00.000Z"
        ))
    );
    assert_eq!(get(&sim, &anchored).status, 200);
    let alone = get(
        &sim,
        &format!(
            "data/UnifiedActivity?$filter={}",
            enc("ActivityType eq 'Purchase'")
        ),
    );
    assert_eq!(alone.status, 400);
    insta::assert_snapshot!(String::from_utf8_lossy(&alone.bytes()), @r#"{"error":{"code":"FieldNotFilterable","message":"field \"ActivityType\" of UnifiedActivity is filterable only together with an eq condition on ActivityId or CustomerId, joined by and: add one, e.g. $filter=CustomerId eq '…' and ActivityType …; the connector documents ActivityId and CustomerId as the filterable fields of UnifiedActivity, and the OData examples filter ActivityTime, ActivityType and ActivityTypeDisplay only next to such a condition","target":"$filter"}}"#);
    let title = get(
        &sim,
        &format!(
            "data/UnifiedActivity?$filter={}",
            enc(&format!("CustomerId eq '{customer}' and Title eq 'x'"))
        ),
    );
    insta::assert_snapshot!(error_of(&title).1, @"field \"Title\" of UnifiedActivity is not filterable; filterable fields of UnifiedActivity are ActivityId, CustomerId, and ActivityTime, ActivityType, ActivityTypeDisplay together with an eq condition on ActivityId or CustomerId");
    let page = sim_with(50, |s| {
        s.activity_filter = simulator::tenant::spec::ActivityFilter::ConnectorPage;
    });
    let r = get(&page, &anchored);
    assert_eq!(r.status, 400);
    insta::assert_snapshot!(error_of(&r).1, @r#"field "ActivityType" of UnifiedActivity is not filterable; filterable fields of UnifiedActivity are ActivityId, CustomerId (this tenant filters UnifiedActivity only on the fields the connector page lists: activity_filter = "connector_page")"#);
}

#[test]
fn next_links_page_with_a_skiptoken_when_switched_on() {
    let sim = sim_with(230, |s| s.limits.next_link = true);
    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{BASE}/v1/instances/{}/data/Customer?$select=CustomerId",
        sim.instance_id
    ));
    while let Some(link) = next {
        let path = link.strip_prefix(BASE).unwrap();
        let page = json(&request(&sim, "GET", path, ""));
        seen.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["CustomerId"].as_str().unwrap().to_owned()),
        );
        next = page
            .get("@odata.nextLink")
            .and_then(|l| l.as_str())
            .map(str::to_owned);
    }
    assert_eq!(seen.len(), 230);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 230);
}

#[test]
fn throttles_the_101st_call_with_the_exact_retry_after() {
    let sim = sim_with(10, |s| s.limits.rate_limit = "100/60s".into());
    for _ in 0..100 {
        assert_eq!(get(&sim, "data/Customer?$top=1").status, 200);
    }
    sim.clock
        .advance(simulator::SimDuration::from_millis(12_500));
    let r = get(&sim, "data/Customer?$top=1");
    assert_eq!(r.status, 429);
    // The first call leaves the window 60 s after it was made: 47.5 s from now, so 48.
    assert_eq!(r.header("Retry-After"), Some("48"));
    assert_eq!(
        json(&r)["message"],
        "Rate limit is exceeded. Try again in 48 seconds."
    );
    let journal = sim.journal.since(0);
    assert_eq!(journal.last().unwrap().retry_after_s, Some(48));
    sim.clock.advance(simulator::SimDuration::from_secs(48));
    assert_eq!(get(&sim, "data/Customer?$top=1").status, 200);
}

#[test]
fn injected_route_faults_fail_the_first_calls_and_still_count() {
    let sim = sim(20);
    let set = request(
        &sim,
        "PUT",
        "/_sim/faults",
        r#"{"routes":[{"route":"data/Customer","status":503,"first":2}]}"#,
    );
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.bytes()));
    let statuses: Vec<u16> = (0..3)
        .map(|_| get(&sim, "data/Customer?$top=1").status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(error_of(&get(&sim, "manage/entities")).0, "");
    let journal = sim.journal.since(0);
    assert_eq!(journal.iter().filter(|e| e.status == 503).count(), 2);
    let report = sim.limiter.report(sim.now());
    assert_eq!(
        report[0].calls, 4,
        "injected failures are connector calls too"
    );
    let bad = request(
        &sim,
        "PUT",
        "/_sim/faults",
        r#"{"routes":[{"route":"data"}]}"#,
    );
    assert_eq!(
        (bad.status, error_of(&bad).1.contains("does nothing")),
        (400, true)
    );
}
