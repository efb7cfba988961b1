//! The subscriptions owner: the platform's webhook contract (SPEC 3.4). It validates what a
//! client POSTs, keeps subscriptions (deleted ones stay listed), and says which subscriptions an
//! occurrence of a trigger reaches. What deleting one does to its deliveries is the deliveries
//! owner's business.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{EngineError, list};
use super::names::Names;
use super::trigger::{Trigger, crosses};
use crate::ids;
use crate::tenant::TenantSpec;
use crate::time::SimTime;

/// A subscription, as the subscriptions endpoint and the control API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// No such trigger.
    #[error("unknown trigger \"{trigger}\"; the triggers are {}", Trigger::ids())]
    UnknownTrigger { trigger: String },
    /// A bad body or input, naming the `field` at fault.
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
}

fn invalid(field: &str, message: impl Into<String>) -> SubscribeError {
    SubscribeError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Which occurrences of its trigger a subscription receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Filter {
    /// Whether a data source trigger of source `i` reaches this subscription.
    pub(super) fn takes_source(&self, i: usize) -> bool {
        matches!(self, Filter::DataSource(None)) || *self == Filter::DataSource(Some(i))
    }

    /// The threshold, as the subscriber wrote it, if this subscription watches segment `i` and
    /// the move from `previous` to `count` crosses it upward.
    pub(super) fn segment_crossed(
        &self,
        i: usize,
        previous: u64,
        count: u64,
    ) -> Option<&serde_json::Number> {
        match self {
            Filter::Segment {
                index,
                threshold,
                threshold_json,
            } if *index == i && crosses(previous as f64, count as f64, *threshold) => {
                Some(threshold_json)
            }
            _ => None,
        }
    }

    /// The same for measure `i` moving from `previous` to `value`.
    pub(super) fn measure_crossed(
        &self,
        i: usize,
        previous: f64,
        value: f64,
    ) -> Option<&serde_json::Number> {
        match self {
            Filter::Measure {
                index,
                threshold,
                threshold_json,
            } if *index == i && crosses(previous, value, *threshold) => Some(threshold_json),
            _ => None,
        }
    }
}

/// A subscription as the owner keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubscriptionState {
    public: Subscription,
    filter: Filter,
}

impl SubscriptionState {
    fn is_active(&self) -> bool {
        self.public.deleted_at.is_none()
    }
}

/// Every subscription of the tenant, deleted ones included, in creation order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Subscriptions {
    list: Vec<SubscriptionState>,
    /// Subscriptions numbered so far (their ids).
    count: u64,
    /// Hosts besides loopback that a notification URL may name (`"*"`: any).
    allowed_hosts: Vec<String>,
}

const URL_KEY: &str = "NotificationUrl";

/// Trigger inputs under their canonical names, in the order given.
type Inputs = Vec<(&'static str, Value)>;

impl Subscriptions {
    pub(super) fn new(spec: &TenantSpec) -> Subscriptions {
        Subscriptions {
            list: Vec::new(),
            count: 0,
            allowed_hosts: spec.delivery.allowed_hosts.clone(),
        }
    }

    /// Registers a subscription from the JSON body a client POSTed to
    /// `.../triggers/{trigger}/subscriptions`: `{"NotificationUrl": "...", ...inputs}`.
    /// Keys are matched case-insensitively and stored under their canonical names.
    pub(super) fn subscribe(
        &mut self,
        now: SimTime,
        trigger: &str,
        body: &Value,
        catalog: &dyn Names,
        id_seed: u64,
    ) -> Result<Subscription, SubscribeError> {
        let trigger = Trigger::parse(trigger).ok_or_else(|| SubscribeError::UnknownTrigger {
            trigger: trigger.to_owned(),
        })?;
        let (url, inputs) = self.split_body(trigger, body)?;
        let url = self.check_url(&url)?;
        let (filter, inputs) = check_inputs(trigger, inputs, catalog)?;
        let n = self.count;
        self.count += 1;
        let public = Subscription {
            id: ids::uuid_n(id_seed, "subscription", n),
            trigger,
            notification_url: url,
            inputs,
            created_at: now,
            deleted_at: None,
        };
        self.list.push(SubscriptionState {
            public: public.clone(),
            filter,
        });
        Ok(public)
    }

    /// Marks a subscription deleted at `now`: it gets no new events. Its index, or `None` if
    /// the id is unknown or already deleted.
    pub(super) fn unsubscribe(&mut self, now: SimTime, id: &str) -> Option<usize> {
        let s = self.find(id)?;
        if !self.list[s].is_active() {
            return None;
        }
        self.list[s].public.deleted_at = Some(now);
        Some(s)
    }

    /// Every subscription, deleted ones included, in creation order.
    pub(super) fn views(&self) -> Vec<Subscription> {
        self.list.iter().map(|s| s.public.clone()).collect()
    }

    pub(super) fn view(&self, id: &str) -> Option<Subscription> {
        self.find(id).map(|s| self.list[s].public.clone())
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.list
            .iter()
            .position(|s| s.public.id.eq_ignore_ascii_case(id.trim()))
    }

    /// Subscription `s` as a client sees it.
    pub(super) fn get(&self, s: usize) -> &Subscription {
        &self.list[s].public
    }

    pub(super) fn is_active(&self, s: usize) -> bool {
        self.list[s].is_active()
    }

    /// `Ok` while subscription `s` is active; its events can no longer be delivered once it is
    /// deleted.
    pub(super) fn check_active(&self, s: usize) -> Result<(), EngineError> {
        if self.is_active(s) {
            Ok(())
        } else {
            Err(EngineError::SubscriptionDeleted {
                id: self.list[s].public.id.clone(),
            })
        }
    }

    /// The active subscriptions of `trigger` whose filter `reach` accepts, in creation order,
    /// with what `reach` says of each.
    pub(super) fn targets<T>(
        &self,
        trigger: Trigger,
        reach: impl Fn(&Filter) -> Option<T>,
    ) -> Vec<(usize, T)> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_active() && s.public.trigger == trigger)
            .filter_map(|(i, s)| reach(&s.filter).map(|r| (i, r)))
            .collect()
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
        let allowed = self.allowed_hosts.iter().any(|h| {
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
}

/// Checks a trigger's inputs against the catalog: the filter it subscribes with, and the inputs
/// under their canonical names.
fn check_inputs(
    trigger: Trigger,
    inputs: Inputs,
    catalog: &dyn Names,
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
                    let i = catalog.find_source(s.trim()).ok_or_else(|| {
                        invalid(
                            "dataSourceName",
                            format!(
                                "unknown data source \"{s}\"; the data sources are {}",
                                list(&catalog.names_of("data source"))
                            ),
                        )
                    })?;
                    stored.insert(
                        "dataSourceName".into(),
                        Value::String(catalog.source_name(i).to_owned()),
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
            let index = catalog.find_segment(&name).ok_or_else(|| {
                invalid(
                    "segmentName",
                    format!(
                        "unknown segment \"{name}\"; the segments are {}",
                        list(&catalog.names_of("segment"))
                    ),
                )
            })?;
            let (threshold, threshold_json) = required_threshold(get("threshold"), true)?;
            stored.insert(
                "segmentName".into(),
                Value::String(catalog.segment_names(index).0.to_owned()),
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
            if let Some(customer) = catalog.find_customer_measure(&name) {
                return Err(invalid(
                    "measureName",
                    format!(
                        "measure {customer} is a customer measure (one value per customer, a column of Customer_Measure); the threshold trigger supports only business measures without a dimension: {}",
                        list(&catalog.names_of("scalar measure"))
                    ),
                ));
            }
            let index = catalog.find_measure(&name).ok_or_else(|| {
                invalid(
                    "measureName",
                    format!(
                        "unknown measure \"{name}\"; the measures are {}",
                        list(&catalog.names_of("measure"))
                    ),
                )
            })?;
            let (measure, _, dimension) = catalog.measure_names(index);
            if let Some(dimension) = dimension {
                return Err(invalid(
                    "measureName",
                    format!(
                        "measure {measure} has a dimension ({dimension}); the threshold trigger supports only business measures without a dimension"
                    ),
                ));
            }
            let (threshold, threshold_json) = required_threshold(get("threshold"), false)?;
            stored.insert("measureName".into(), Value::String(measure.to_owned()));
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
