//! Subscribing: validating bodies and inputs, canonical names, ids, deleting.

use serde_json::{Value, json};

use crate::engine::testkit::{self, T0};
use crate::engine::{Engine, SubscribeError};

/// Subscribes with `body`; `expected` is `Ok(())` or `Err((field, fragment of the message))`.
fn check(trigger: &str, body: Value, expected: Result<(), (&str, &str)>) {
    let mut engine = testkit::engine();
    let got = engine.subscribe(T0, trigger, &body);
    match (got, expected) {
        (Ok(_), Ok(())) => {}
        (Err(e), Err((field, fragment))) => {
            assert_eq!(e.field(), Some(field), "{e}");
            assert!(
                e.to_string().contains(fragment),
                "{e} should contain {fragment}"
            );
            assert!(matches!(e, SubscribeError::Invalid { .. }), "{e:?}");
        }
        (got, expected) => panic!("got {got:?}, expected {expected:?}"),
    }
}

const URL: &str = "http://127.0.0.1:9000/hook";

#[test]
fn accepts_valid_bodies_for_every_trigger() {
    check(
        "datasource-refresh-failed",
        json!({"NotificationUrl": URL}),
        Ok(()),
    );
    check(
        "datasource-refresh-succeeded",
        json!({"NotificationUrl": URL, "dataSourceName": "pos"}),
        Ok(()),
    );
    check(
        "datasource-refresh-failed",
        json!({"NotificationUrl": URL, "dataSourceName": ""}),
        Ok(()),
    );
    check(
        "segment-threshold-crossed",
        json!({"NotificationUrl": URL, "segmentName": "ChurnRisk", "threshold": 10}),
        Ok(()),
    );
    check(
        "measure-threshold-crossed",
        json!({"notificationUrl": URL, "MeasureName": "TotalRevenue", "threshold": -1.5}),
        Ok(()),
    );
    check(
        "full-refresh-completed",
        json!({"NotificationUrl": "http://localhost/x"}),
        Ok(()),
    );
    check(
        "unification-completed",
        json!({"NotificationUrl": "https://[::1]:8443/x"}),
        Ok(()),
    );
}

#[test]
fn an_unknown_trigger_is_a_distinct_error_listing_the_six() {
    let mut engine = testkit::engine();
    let err = engine
        .subscribe(T0, "segment-crossed", &json!({"NotificationUrl": URL}))
        .unwrap_err();
    assert!(
        matches!(err, SubscribeError::UnknownTrigger { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("datasource-refresh-failed, datasource-refresh-succeeded"),
        "{err}"
    );
}

#[test]
fn the_notification_url_must_be_present_absolute_and_loopback() {
    check(
        "full-refresh-completed",
        json!({}),
        Err(("NotificationUrl", "missing")),
    );
    check(
        "full-refresh-completed",
        json!({"NotificationUrl": 5}),
        Err(("NotificationUrl", "string")),
    );
    check(
        "full-refresh-completed",
        json!({"NotificationUrl": "/hook"}),
        Err(("NotificationUrl", "absolute")),
    );
    check(
        "full-refresh-completed",
        json!({"NotificationUrl": "ftp://127.0.0.1/x"}),
        Err(("NotificationUrl", "http")),
    );
    check(
        "full-refresh-completed",
        json!({"NotificationUrl": "http://example.com/x"}),
        Err(("NotificationUrl", "allowed_hosts")),
    );
    check(
        "full-refresh-completed",
        json!(["x"]),
        Err(("body", "JSON object")),
    );
}

#[test]
fn allowed_hosts_open_other_targets() {
    let mut spec = testkit::tenant();
    spec.delivery.allowed_hosts = vec!["flows.internal".into()];
    let mut engine = Engine::new(&spec, 1, T0, testkit::initial());
    assert!(
        engine
            .subscribe(
                T0,
                "full-refresh-completed",
                &json!({"NotificationUrl": "http://flows.internal:80/x"})
            )
            .is_ok()
    );
    assert!(
        engine
            .subscribe(
                T0,
                "full-refresh-completed",
                &json!({"NotificationUrl": "http://other/x"})
            )
            .is_err()
    );
}

#[test]
fn unknown_inputs_are_named() {
    check(
        "full-refresh-completed",
        json!({"NotificationUrl": URL, "segmentName": "x", "foo": 1}),
        Err(("foo, segmentName", "its inputs are NotificationUrl")),
    );
    check(
        "segment-threshold-crossed",
        json!({"NotificationUrl": URL, "segmentName": "ChurnRisk", "threshold": 1, "measureName": "x"}),
        Err(("measureName", "segmentName, threshold")),
    );
}

#[test]
fn segment_inputs_are_checked() {
    let sub = |extra: Value| {
        let mut body = json!({"NotificationUrl": URL});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    check(
        "segment-threshold-crossed",
        sub(json!({"threshold": 1})),
        Err(("segmentName", "missing")),
    );
    check(
        "segment-threshold-crossed",
        sub(json!({"segmentName": "Nope", "threshold": 1})),
        Err(("segmentName", "the segments are HighValueCustomers")),
    );
    check(
        "segment-threshold-crossed",
        sub(json!({"segmentName": "ChurnRisk"})),
        Err(("threshold", "missing")),
    );
    check(
        "segment-threshold-crossed",
        sub(json!({"segmentName": "ChurnRisk", "threshold": "10"})),
        Err(("threshold", "without quotes")),
    );
    check(
        "segment-threshold-crossed",
        sub(json!({"segmentName": "ChurnRisk", "threshold": -1})),
        Err(("threshold", "negative")),
    );
    check(
        "measure-threshold-crossed",
        sub(json!({"measureName": "Nope", "threshold": 1})),
        Err(("measureName", "TotalRevenue")),
    );
    check(
        "datasource-refresh-failed",
        sub(json!({"dataSourceName": "Nope"})),
        Err(("dataSourceName", "PoS, eCommerce")),
    );
}

#[test]
fn a_measure_with_a_dimension_is_rejected() {
    check(
        "measure-threshold-crossed",
        json!({"NotificationUrl": URL, "measureName": "RevenueByCountry", "threshold": 1}),
        Err((
            "measureName",
            "measure RevenueByCountry has a dimension (Country); the threshold trigger supports only business measures without a dimension",
        )),
    );
}

#[test]
fn a_customer_measure_is_rejected_naming_the_business_measures() {
    check(
        "measure-threshold-crossed",
        json!({"NotificationUrl": URL, "measureName": "totalspend", "threshold": 5}),
        Err((
            "measureName",
            "measure TotalSpend is a customer measure (one value per customer, a column of Customer_Measure); the threshold trigger supports only business measures without a dimension: TotalRevenue, ActiveCustomers, AverageOrderValue",
        )),
    );
}

#[test]
fn inputs_are_stored_under_canonical_names() {
    let mut engine = testkit::engine();
    let sub = engine
        .subscribe(
            T0,
            "segment-threshold-crossed",
            &json!({"notificationurl": URL, "SEGMENTNAME": "churnrisk", "Threshold": 7}),
        )
        .unwrap();
    assert_eq!(
        serde_json::to_value(&sub.inputs).unwrap(),
        json!({"segmentName": "ChurnRisk", "threshold": 7})
    );
    let json = serde_json::to_value(&sub).unwrap();
    assert_eq!(json["trigger"], "segment-threshold-crossed");
    assert_eq!(json["notificationUrl"], URL);
    assert_eq!(json["deletedAt"], Value::Null);
}

#[test]
fn subscription_ids_are_deterministic() {
    let mut a = testkit::engine();
    let mut b = testkit::engine();
    let body = json!({"NotificationUrl": URL});
    assert_eq!(
        a.subscribe(T0, "full-refresh-completed", &body).unwrap().id,
        b.subscribe(T0, "full-refresh-completed", &body).unwrap().id
    );
}

#[test]
fn unsubscribing_twice_answers_false_the_second_time() {
    let mut engine = testkit::engine();
    let sub = engine
        .subscribe(
            T0,
            "full-refresh-completed",
            &json!({"NotificationUrl": URL}),
        )
        .unwrap();
    assert!(engine.unsubscribe(T0, &sub.id));
    assert!(!engine.unsubscribe(T0, &sub.id));
    assert!(!engine.unsubscribe(T0, "unknown"));
    let listed = engine.subscriptions();
    assert_eq!(listed.len(), 1, "deleted subscriptions stay listed");
    assert_eq!(listed[0].deleted_at, Some(T0));
}
