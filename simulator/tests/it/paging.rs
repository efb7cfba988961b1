//! Law: paging with `$skip` visits every matching row exactly once, in order, for any page size,
//! filter and ordering — checked against a naive reference that evaluates the filter on every row.

use proptest::prelude::*;
use simulator::odata::{BindContext, RowAccess, bind, eval, parse_options};
use simulator::schema::{AttrId, Value};
use simulator::{SimTime, Simulator};

use crate::support::*;

struct Row<'a> {
    sim: &'a Simulator,
    entity: usize,
    row: u64,
}

impl RowAccess for Row<'_> {
    fn value(&self, attr: AttrId) -> Value<'_> {
        let store = self.sim.store();
        let e = store.entity(self.entity);
        store.value(e, self.row, attr, SimTime::DEFAULT_EPOCH)
    }

    fn is_member(&self, segment: usize) -> bool {
        let store = self.sim.store();
        let e = store.entity(self.entity);
        store
            .customer_of(e, self.row)
            .is_some_and(|c| store.is_member(segment, c))
    }
}

/// The keys of every row matching `query`, by scanning the whole entity.
fn reference(sim: &Simulator, entity_name: &str, key: &str, query: &str) -> Vec<String> {
    let (entity, schema, rows, segments) = {
        let store = sim.store();
        let entity = store.entity_index(entity_name).unwrap();
        let e = store.entity(entity);
        let segments: Vec<String> = store
            .segment_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        (
            entity,
            e.schema.clone(),
            store.visible_len(e, SimTime::DEFAULT_EPOCH),
            segments,
        )
    };
    let names: Vec<&str> = segments.iter().map(String::as_str).collect();
    let ctx = BindContext {
        page_size_default: 100,
        page_size_max: 100,
        segments: &names,
        keyed_filters: true,
    };
    let q = bind(parse_options(query).unwrap(), &schema, &ctx).unwrap();
    let key_attr = schema.attr(key).unwrap();
    let mut matching: Vec<(Vec<Value<'static>>, u64)> = (0..rows)
        .filter(|&row| {
            q.filter
                .as_ref()
                .is_none_or(|f| eval(f, &Row { sim, entity, row }))
        })
        .map(|row| {
            let r = Row { sim, entity, row };
            (
                q.orderby
                    .iter()
                    .map(|&(a, _)| r.value(a).into_owned())
                    .collect(),
                row,
            )
        })
        .collect();
    matching.sort_by(|(a, ra), (b, rb)| {
        for (i, &(_, dir)) in q.orderby.iter().enumerate() {
            let o = a[i].sort_cmp(&b[i]);
            let o = if dir == simulator::odata::Direction::Desc {
                o.reverse()
            } else {
                o
            };
            if o.is_ne() {
                return o;
            }
        }
        ra.cmp(rb)
    });
    matching
        .into_iter()
        .map(
            |(_, row)| match (Row { sim, entity, row }).value(key_attr) {
                Value::Str(s) => s.into_owned(),
                other => format!("{other:?}"),
            },
        )
        .collect()
}

/// The keys a client collects by paging with `$top=page` and `$skip`.
fn paged(sim: &Simulator, entity: &str, key: &str, query: &str, page: usize) -> Vec<String> {
    let effective = page.min(100);
    let mut keys = Vec::new();
    let mut skip = 0;
    loop {
        let sep = if query.is_empty() { "" } else { "&" };
        let r = get(
            sim,
            &format!("data/{entity}?{query}{sep}$top={page}&$skip={skip}"),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes()));
        let body = json(&r);
        let rows = body["value"].as_array().unwrap();
        keys.extend(rows.iter().map(|row| row[key].as_str().unwrap().to_owned()));
        if rows.len() < effective {
            return keys;
        }
        skip += effective;
    }
}

fn customer_filters() -> impl Strategy<Value = String> {
    let country = prop::sample::select(vec![
        "United States",
        "Germany",
        "France",
        "Italy",
        "Brazil",
        "Atlantis",
    ]);
    let city = prop::sample::select(vec![
        "Seattle", "Berlin", "Paris", "Roma", "London", "Nowhere",
    ]);
    let segment = prop::sample::select(vec![
        "HighValueCustomers",
        "ChurnRisk",
        "NewsletterSubscribers",
        "NewCustomers",
    ]);
    prop_oneof![
        Just(String::new()),
        country.clone().prop_map(|c| format!("Country eq '{c}'")),
        (city.clone(), city.clone()).prop_map(|(a, b)| format!("City in ('{a}','{b}')")),
        segment
            .clone()
            .prop_map(|s| format!("IsMemberOfSegment('{s}')")),
        (country.clone(), segment.clone())
            .prop_map(|(c, s)| format!("Country eq '{c}' and IsMemberOfSegment('{s}')")),
        country
            .clone()
            .prop_map(|c| format!("not (Country eq '{c}')")),
        (country, city).prop_map(|(c, t)| format!("Country eq '{c}' or City eq '{t}'")),
        Just("PostCode ge '5'".to_owned()),
        segment
            .prop_map(|s| format!("not IsMemberOfSegment('{s}') and Country ne 'United States'")),
    ]
}

fn orderings() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "Country", "City desc,FullName", "FullName desc"])
}

fn query_of(filter: &str, orderby: &str) -> String {
    let mut parts = Vec::new();
    if !filter.is_empty() {
        parts.push(format!("$filter={}", enc(filter)));
    }
    if !orderby.is_empty() {
        parts.push(format!("$orderby={}", enc(orderby)));
    }
    parts.join("&")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn paging_customers_visits_every_matching_row_once(
        filter in customer_filters(),
        orderby in orderings(),
        page in 1usize..130,
    ) {
        let sim = shared_sim();
        let query = query_of(&filter, orderby);
        let expected = reference(sim, "Customer", "CustomerId", &query);
        let got = paged(sim, "Customer", "CustomerId", &query, page);
        prop_assert_eq!(got, expected, "filter {:?} orderby {:?} page {}", filter, orderby, page);
    }

    #[test]
    fn paging_activities_visits_every_matching_row_once(
        filter in prop::sample::select(vec!["", "ActivityId ne 'x'"]),
        page in 20usize..101,
    ) {
        let sim = shared_sim();
        let query = query_of(filter, "");
        let expected = reference(sim, "UnifiedActivity", "ActivityId", &query);
        let got = paged(sim, "UnifiedActivity", "ActivityId", &query, page);
        prop_assert_eq!(got, expected);
    }

    /// The activity fields filterable next to `CustomerId eq` page like any other filter (one
    /// customer's activities are few, so the pages are small).
    #[test]
    fn paging_one_customers_activities_visits_every_matching_row_once(
        filter in prop::sample::select(vec![
            "CustomerId eq '{c}'",
            "CustomerId eq '{c}' and ActivityType eq 'Purchase'",
            "ActivityTime gt 2025-06-01T00:00:00Z and CustomerId eq '{c}'",
            "CustomerId eq '{c}' and (ActivityType in ('EmailOpen','LoyaltyPoints') or ActivityTime lt 2024-01-01)",
        ]),
        orderby in prop::sample::select(vec!["", "ActivityTime desc"]),
        page in 1usize..8,
    ) {
        let sim = shared_sim();
        let query = query_of(&filter.replace("{c}", busiest_customer(sim)), orderby);
        let expected = reference(sim, "UnifiedActivity", "ActivityId", &query);
        prop_assert!(!expected.is_empty() || filter.contains(" and "));
        let got = paged(sim, "UnifiedActivity", "ActivityId", &query, page);
        prop_assert_eq!(got, expected);
    }
}

/// The customer with the most activities among the first 100 activity rows.
fn busiest_customer(sim: &Simulator) -> &'static str {
    static BUSIEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUSIEST.get_or_init(|| {
        let page = json(&get(sim, "data/UnifiedActivity?$select=CustomerId"));
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for row in page["value"].as_array().unwrap() {
            *counts
                .entry(row["CustomerId"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(c, _)| c)
            .unwrap()
    })
}

fn shared_sim() -> &'static Simulator {
    static SIM: std::sync::OnceLock<Simulator> = std::sync::OnceLock::new();
    SIM.get_or_init(|| sim(260))
}
