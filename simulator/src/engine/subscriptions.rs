//! Trigger subscriptions (the platform's webhook contract, SPEC 3.4): validating what a client
//! POSTs, keeping subscriptions (deleted ones stay listed), and what deleting one does to its
//! pending deliveries.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::list;
use super::state::Engine;
use super::triggers::Trigger;
use crate::ids;
use crate::time::SimTime;

/// A subscription, as the subscriptions endpoint and the control API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub trigger: Trigger,
    pub notification_url: String,
    /// The trigger inputs, under their canonical names (`dataSourceName`, `segmentName`,
    /// `measureName`, `threshold`).
    pub inputs: Map<String, Value>,
    pub created_at: SimTime,
    pub deleted_at: Option<SimTime>,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubscribeError {
    /// No such trigger: the shell answers 404.
    #[error("unknown trigger \"{trigger}\"; the triggers are {}", Trigger::ids())]
    UnknownTrigger { trigger: String },
    /// A bad body or input: the shell answers 400 naming `field`.
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
}

impl SubscribeError {
    /// The body field at fault (`NotificationUrl`, `segmentName`, ...), if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            SubscribeError::UnknownTrigger { .. } => None,
            SubscribeError::Invalid { field, .. } => Some(field),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            SubscribeError::UnknownTrigger { .. } => 404,
            SubscribeError::Invalid { .. } => 400,
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> SubscribeError {
    SubscribeError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Which occurrences of its trigger a subscription receives.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Filter {
    /// Every occurrence (full-refresh-completed, unification-completed).
    All,
    /// Data source triggers: one source, or all.
    DataSource(Option<usize>),
    Segment {
        index: usize,
        threshold: f64,
        threshold_json: serde_json::Number,
    },
    Measure {
        index: usize,
        threshold: f64,
        threshold_json: serde_json::Number,
    },
}

#[derive(Debug, Clone)]
pub(super) struct SubscriptionState {
    pub(super) public: Subscription,
    pub(super) filter: Filter,
    /// Deliveries in event order; only the head is ever in flight.
    pub(super) fifo: VecDeque<usize>,
    /// Deliveries held back by the `reorder` fault until the next event (or the hold ends).
    pub(super) held: Vec<usize>,
    /// Which hold `held` belongs to (so a stale release does nothing).
    pub(super) hold: u64,
}

impl SubscriptionState {
    pub(super) fn is_active(&self) -> bool {
        self.public.deleted_at.is_none()
    }
}

const URL_KEY: &str = "NotificationUrl";

/// Trigger inputs under their canonical names, in the order given.
type Inputs = Vec<(&'static str, Value)>;

impl Trigger {
    /// The inputs a subscription to this trigger takes (besides `NotificationUrl`).
    pub fn inputs(self) -> &'static [&'static str] {
        match self {
            Trigger::DataSourceRefreshFailed | Trigger::DataSourceRefreshSucceeded => {
                &["dataSourceName"]
            }
            Trigger::SegmentThresholdCrossed => &["segmentName", "threshold"],
            Trigger::MeasureThresholdCrossed => &["measureName", "threshold"],
            Trigger::FullRefreshCompleted | Trigger::UnificationCompleted => &[],
        }
    }
}

impl Engine {
    /// Registers a subscription from the JSON body a client POSTed to
    /// `.../triggers/{trigger}/subscriptions`: `{"NotificationUrl": "...", ...inputs}`.
    /// Keys are matched case-insensitively and stored under their canonical names.
    pub fn subscribe(
        &mut self,
        now: SimTime,
        trigger: &str,
        body: &Value,
    ) -> Result<Subscription, SubscribeError> {
        let now = self.catch_up(now);
        let trigger = Trigger::parse(trigger).ok_or_else(|| SubscribeError::UnknownTrigger {
            trigger: trigger.to_owned(),
        })?;
        let (url, inputs) = self.split_body(trigger, body)?;
        let url = self.check_url(&url)?;
        let (filter, inputs) = self.check_inputs(trigger, inputs)?;
        let n = self.counters.subscriptions;
        self.counters.subscriptions += 1;
        let public = Subscription {
            id: ids::uuid_n(self.id_seed, "subscription", n),
            trigger,
            notification_url: url,
            inputs,
            created_at: now,
            deleted_at: None,
        };
        self.subscriptions.push(SubscriptionState {
            public: public.clone(),
            filter,
            fifo: VecDeque::new(),
            held: Vec::new(),
            hold: 0,
        });
        Ok(public)
    }

    /// Deletes a subscription: it gets no new events, and its deliveries not yet sent are
    /// cancelled (recorded with reason "subscription deleted"); one in flight finishes, without
    /// retries. False if the id is unknown or already deleted.
    pub fn unsubscribe(&mut self, now: SimTime, id: &str) -> bool {
        let now = self.catch_up(now);
        let Some(s) = self.find_subscription(id) else {
            return false;
        };
        if !self.subscriptions[s].is_active() {
            return false;
        }
        self.subscriptions[s].public.deleted_at = Some(now);
        self.cancel_deliveries_of(s);
        true
    }

    /// Every subscription, deleted ones included, in creation order.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.subscriptions
            .iter()
            .map(|s| s.public.clone())
            .collect()
    }

    pub fn subscription(&self, id: &str) -> Option<Subscription> {
        self.find_subscription(id)
            .map(|s| self.subscriptions[s].public.clone())
    }

    pub(super) fn find_subscription(&self, id: &str) -> Option<usize> {
        self.subscriptions
            .iter()
            .position(|s| s.public.id.eq_ignore_ascii_case(id.trim()))
    }

    /// Splits the body into the notification URL and the other inputs (canonical keys),
    /// refusing unknown and repeated keys.
    fn split_body(
        &self,
        trigger: Trigger,
        body: &Value,
    ) -> Result<(String, Inputs), SubscribeError> {
        let Some(obj) = body.as_object() else {
            return Err(invalid(
                "body",
                format!(
                    "the body must be a JSON object such as {{\"{URL_KEY}\": \"http://127.0.0.1:9000/hook\"}}"
                ),
            ));
        };
        let allowed = trigger.inputs();
        let mut url = None;
        let mut inputs: Vec<(&'static str, Value)> = Vec::new();
        let mut unknown = Vec::new();
        for (key, value) in obj {
            let canonical = if key.eq_ignore_ascii_case(URL_KEY) {
                Some(URL_KEY)
            } else {
                allowed
                    .iter()
                    .copied()
                    .find(|a| a.eq_ignore_ascii_case(key))
            };
            match canonical {
                Some(URL_KEY) => {
                    if url.replace(value.clone()).is_some() {
                        return Err(invalid(
                            URL_KEY,
                            "it is given twice (keys are case-insensitive)",
                        ));
                    }
                }
                Some(c) => {
                    if inputs.iter().any(|(k, _)| *k == c) {
                        return Err(invalid(c, "it is given twice (keys are case-insensitive)"));
                    }
                    inputs.push((c, value.clone()));
                }
                None => unknown.push(key.clone()),
            }
        }
        if !unknown.is_empty() {
            let accepted: Vec<String> = std::iter::once(URL_KEY)
                .chain(allowed.iter().copied())
                .map(String::from)
                .collect();
            return Err(invalid(
                &unknown.join(", "),
                format!(
                    "unknown input{} {} for trigger {trigger}; its inputs are {}",
                    if unknown.len() == 1 { "" } else { "s" },
                    unknown
                        .iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    list(&accepted)
                ),
            ));
        }
        match url {
            None | Some(Value::Null) => Err(invalid(
                URL_KEY,
                format!(
                    "it is missing; send {{\"{URL_KEY}\": \"http://127.0.0.1:PORT/path\", ...}}"
                ),
            )),
            Some(Value::String(s)) => Ok((s, inputs)),
            Some(other) => Err(invalid(
                URL_KEY,
                format!("it must be a string URL, not {other}"),
            )),
        }
    }

    /// An absolute http(s) URL whose host is loopback or allowed by `delivery.allowed_hosts`
    /// (`"*"` allows any host).
    fn check_url(&self, text: &str) -> Result<String, SubscribeError> {
        let uri: http::Uri = text
            .trim()
            .parse()
            .map_err(|e| invalid(URL_KEY, format!("\"{text}\" is not a URL ({e}); write an absolute URL such as http://127.0.0.1:9000/hook")))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(invalid(
                    URL_KEY,
                    format!(
                        "\"{text}\" must be an absolute http or https URL such as http://127.0.0.1:9000/hook"
                    ),
                ));
            }
        }
        let host = uri.host().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let allowed = self.spec.delivery.allowed_hosts.iter().any(|h| {
            h == "*"
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .eq_ignore_ascii_case(bare)
        });
        if bare.is_empty() || !(loopback || allowed) {
            return Err(invalid(
                URL_KEY,
                format!(
                    "host \"{host}\" is not allowed; delivery targets must be loopback (127.0.0.1, ::1, localhost) \
                     or listed in the tenant's delivery.allowed_hosts"
                ),
            ));
        }
        Ok(text.trim().to_owned())
    }

    fn check_inputs(
        &self,
        trigger: Trigger,
        inputs: Inputs,
    ) -> Result<(Filter, Map<String, Value>), SubscribeError> {
        let get = |key: &str| inputs.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
        let mut stored = Map::new();
        let filter = match trigger {
            Trigger::DataSourceRefreshFailed | Trigger::DataSourceRefreshSucceeded => {
                match get("dataSourceName") {
                    // Absent, null or "" all mean every data source.
                    None | Some(Value::Null) => Filter::DataSource(None),
                    Some(Value::String(s)) if s.trim().is_empty() => Filter::DataSource(None),
                    Some(Value::String(s)) => {
                        let i = self.find_source(s.trim()).ok_or_else(|| {
                            invalid(
                                "dataSourceName",
                                format!(
                                    "unknown data source \"{s}\"; the data sources are {}",
                                    list(&self.names_of("data source"))
                                ),
                            )
                        })?;
                        stored.insert(
                            "dataSourceName".into(),
                            Value::String(self.sources[i].name.clone()),
                        );
                        Filter::DataSource(Some(i))
                    }
                    Some(other) => {
                        return Err(invalid(
                            "dataSourceName",
                            format!("it must be a string, not {other}"),
                        ));
                    }
                }
            }
            Trigger::SegmentThresholdCrossed => {
                let name = required_name(get("segmentName"), "segmentName")?;
                let index = self.find_segment(&name).ok_or_else(|| {
                    invalid(
                        "segmentName",
                        format!(
                            "unknown segment \"{name}\"; the segments are {}",
                            list(&self.names_of("segment"))
                        ),
                    )
                })?;
                let (threshold, threshold_json) = required_threshold(get("threshold"), true)?;
                stored.insert(
                    "segmentName".into(),
                    Value::String(self.segments[index].name.clone()),
                );
                stored.insert("threshold".into(), Value::Number(threshold_json.clone()));
                Filter::Segment {
                    index,
                    threshold,
                    threshold_json,
                }
            }
            Trigger::MeasureThresholdCrossed => {
                let name = required_name(get("measureName"), "measureName")?;
                let index = self.find_measure(&name).ok_or_else(|| {
                    invalid(
                        "measureName",
                        format!(
                            "unknown measure \"{name}\"; the measures are {}",
                            list(&self.names_of("measure"))
                        ),
                    )
                })?;
                let m = &self.measures[index];
                if let Some(dimension) = &m.dimension {
                    return Err(invalid(
                        "measureName",
                        format!(
                            "measure {} has a dimension ({dimension}); the threshold trigger supports only business measures without a dimension",
                            m.name
                        ),
                    ));
                }
                let (threshold, threshold_json) = required_threshold(get("threshold"), false)?;
                stored.insert("measureName".into(), Value::String(m.name.clone()));
                stored.insert("threshold".into(), Value::Number(threshold_json.clone()));
                Filter::Measure {
                    index,
                    threshold,
                    threshold_json,
                }
            }
            Trigger::FullRefreshCompleted | Trigger::UnificationCompleted => Filter::All,
        };
        Ok((filter, stored))
    }
}

fn required_name(value: Option<&Value>, field: &str) -> Result<String, SubscribeError> {
    match value {
        None | Some(Value::Null) => Err(invalid(field, "it is missing")),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(other) => Err(invalid(
            field,
            format!("it must be a non-empty string, not {other}"),
        )),
    }
}

/// A threshold: a finite JSON number (not a numeric string), at least 0 for segment counts.
fn required_threshold(
    value: Option<&Value>,
    non_negative: bool,
) -> Result<(f64, serde_json::Number), SubscribeError> {
    let n = match value {
        None | Some(Value::Null) => {
            return Err(invalid(
                "threshold",
                "it is missing; give a number such as 1000",
            ));
        }
        Some(Value::Number(n)) => n,
        Some(Value::String(s)) => {
            return Err(invalid(
                "threshold",
                format!(
                    "it must be a JSON number, not the string \"{s}\"; write it without quotes"
                ),
            ));
        }
        Some(other) => {
            return Err(invalid(
                "threshold",
                format!("it must be a number, not {other}"),
            ));
        }
    };
    let v = n
        .as_f64()
        .filter(|v| v.is_finite())
        .ok_or_else(|| invalid("threshold", "it must be a finite number"))?;
    if non_negative && v < 0.0 {
        return Err(invalid(
            "threshold",
            format!("{n} is negative; a member-count threshold is at least 0"),
        ));
    }
    Ok((v, n.clone()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testkit::{self, T0};
    use super::*;

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
                assert_eq!(e.status(), 400);
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
        assert_eq!(err.status(), 404);
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
}
