//! The tenant file: everything that defines a simulated Customer Insights instance.
//!
//! The demo tenant that `insightsim serve` starts is the embedded `demo.toml`; a tenant file given
//! with `--tenant FILE` is read *over* it, so it only needs the keys it changes (a list such as
//! `[[segments]]`, when present, replaces the demo's list as a whole). Unknown keys are errors.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use super::limits::LimitsSpec;
pub use super::objects::{
    ActivityKind, ActivityTableSpec, CUSTOMER_MEASURES, ContactTableSpec, CustomerMeasureSpec,
    DataSourceSpec, FailureRates, MeasureSource, MeasureSpec, SegmentRank, SegmentRefresh,
    SegmentSpec, SegmentState,
};
use crate::time::{SimDuration, SimTime};

/// The embedded demo tenant ("Contoso Retail").
pub const DEMO_TENANT_TOML: &str = include_str!("demo.toml");

/// A whole tenant definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TenantSpec {
    /// The instance's display name.
    pub name: String,
    /// The seed for ids, data and every random choice (the CLI's `--seed` overrides it).
    pub seed: u64,
    /// Number of unified customer profiles (the CLI's `--customers` overrides it).
    pub customers: usize,
    /// The anchor of generated data: customers are created and act before this instant.
    pub data_epoch: SimTime,
    /// Customer attributes in the search & filter index, filterable with `$filter` besides
    /// `CustomerId` and the alternate keys.
    pub indexed_fields: Vec<String>,
    /// Which `UnifiedActivity` fields `$filter` may name: `with_key` (default) also allows
    /// `ActivityTime`, `ActivityType` and `ActivityTypeDisplay` next to a `CustomerId eq` or
    /// `ActivityId eq` condition, as the OData examples use them; `connector_page` allows only
    /// `ActivityId` and `CustomerId`, the connector page's list.
    pub activity_filter: ActivityFilter,
    pub limits: LimitsSpec,
    pub auth: AuthSpec,
    pub refresh: RefreshSpec,
    pub delivery: DeliverySpec,
    #[serde(rename = "data_sources")]
    pub data_sources: Vec<DataSourceSpec>,
    pub segments: Vec<SegmentSpec>,
    pub measures: Vec<MeasureSpec>,
}

/// See [`TenantSpec::activity_filter`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum ActivityFilter {
    /// `ActivityId`, `CustomerId`; `ActivityTime`, `ActivityType`, `ActivityTypeDisplay` inside
    /// a conjunction with `CustomerId eq` or `ActivityId eq` (modelled on the OData examples).
    #[default]
    WithKey,
    /// `ActivityId` and `CustomerId` only (the connector page, word for word).
    ConnectorPage,
}

/// Who may call the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSpec {
    /// Accepted bearer tokens; empty means any non-empty token.
    pub tokens: Vec<String>,
    /// Whether `Ocp-Apim-Subscription-Key` is mandatory.
    pub require_subscription_key: bool,
    /// Accepted subscription keys; empty means any non-empty key.
    pub subscription_keys: Vec<String>,
}

/// The refresh lifecycle: schedule, task durations and failure rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshSpec {
    /// Whether scheduled full refreshes run.
    pub schedule_enabled: bool,
    /// Delay from start to the first scheduled full refresh.
    pub schedule_first_after: SimDuration,
    /// Interval between scheduled full refreshes.
    pub schedule_every: SimDuration,
    /// Retries of a transiently failed task before it fails for good.
    pub task_retries_max: u32,
    /// Wait before a transiently failed task is retried.
    pub task_retry_delay: SimDuration,
    /// A task attempt that would run longer than this ends `timedOut`.
    pub task_timeout: SimDuration,
    pub durations: StageDurations,
    /// Per-attempt failure probabilities of every task (a data source can override them).
    pub failures: FailureRates,
    /// Whether segment counts and measure values drift between refreshes (seeded random walks).
    pub random_walk: bool,
    /// Which full refreshes fire `full-refresh-completed`: `scheduled` (the default, as the
    /// Power Automate page says since 2022: "doesn't work for manually started refreshes") or
    /// `any` (scheduled and on-demand, the 2021 page's wording, which has no such qualifier).
    pub full_refresh_trigger: FullRefreshTrigger,
}

/// See [`RefreshSpec::full_refresh_trigger`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum FullRefreshTrigger {
    /// Scheduled full refreshes only.
    #[default]
    Scheduled,
    /// Every full refresh, scheduled or started on demand.
    Any,
}

/// How long each stage's tasks take, as `MIN..MAX` ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StageDurations {
    pub ingestion: DurationRange,
    pub map: DurationRange,
    #[serde(rename = "match")]
    pub match_: DurationRange,
    pub merge: DurationRange,
    pub measures: DurationRange,
    pub segmentation: DurationRange,
    pub export: DurationRange,
}

/// A `MIN..MAX` range of durations (`"2m..5m"`, or a single `"3m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurationRange {
    pub min: SimDuration,
    pub max: SimDuration,
}

/// Webhook delivery: the retry policy (modelled: how Customer Insights retries is not public; the
/// default is the Logic Apps default policy) and the allowed targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySpec {
    /// `exponential` (the default, borrowed from Logic Apps), `fixed` or `none`.
    pub retry_policy: String,
    /// Retries after the first attempt.
    pub retry_count: u32,
    /// The policy's interval (exponential: the scale of the back-off).
    pub retry_interval: SimDuration,
    pub retry_interval_min: SimDuration,
    pub retry_interval_max: SimDuration,
    /// How long one delivery attempt may take before it counts as a timeout.
    pub attempt_timeout: SimDuration,
    /// Hosts a `NotificationUrl` may point at; loopback only unless listed here.
    pub allowed_hosts: Vec<String>,
    /// Whether a `NotificationUrl` may point at the simulator itself (any of its listen
    /// addresses, on any path). Off: such a subscription is refused and such a delivery is not
    /// sent, so that a webhook cannot call the control API or feed a delivery loop.
    pub allow_self: bool,
}

/// A segment's member count at its initial evaluation: `round(initial_share × customers)`, the
/// share clamped to `[0, 1]` (an unknown index has 0 members).
///
/// The one source of this number: the data layer builds the initial membership with it, the
/// event engine starts its crossing baseline there, and the harness's property laws start their
/// reference model from it.
pub fn initial_segment_count(spec: &TenantSpec, index: usize) -> u64 {
    let customers = spec.customers.min(u32::MAX as usize) as u64;
    spec.segments.get(index).map_or(0, |s| {
        ((s.initial_share.clamp(0.0, 1.0) * customers as f64).round() as u64).min(customers)
    })
}

/// Why a tenant file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("cannot read tenant file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid tenant file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid tenant: {0}")]
    Invalid(String),
}

impl TenantSpec {
    /// The embedded demo tenant.
    ///
    /// The structs default missing keys to placeholders only so that an overlay file can be
    /// checked on its own; the demo file itself names every key (a test checks it).
    pub fn demo() -> TenantSpec {
        match toml::from_str(DEMO_TENANT_TOML) {
            Ok(spec) => spec,
            // The demo file is part of the binary and covered by tests.
            Err(err) => panic!("embedded demo tenant is invalid: {err}"),
        }
    }

    /// Reads a tenant file over the demo tenant.
    pub fn from_file(path: &Path) -> Result<TenantSpec, TenantError> {
        let text = std::fs::read_to_string(path).map_err(|source| TenantError::Read {
            path: path.display().to_string(),
            source,
        })?;
        TenantSpec::from_toml_over_demo(&text, &path.display().to_string())
    }

    /// Reads tenant TOML over the demo tenant; `origin` names the text in errors.
    pub fn from_toml_over_demo(text: &str, origin: &str) -> Result<TenantSpec, TenantError> {
        let parse_err = |message: String| TenantError::Parse {
            path: origin.to_owned(),
            message,
        };
        // First read the file alone, so that errors point at its own lines and keys (every
        // field has a placeholder default here, so missing keys are fine)...
        toml::from_str::<TenantSpec>(text).map_err(|e| parse_err(e.to_string()))?;
        // ...then lay it over the demo tenant, which supplies the real values of missing keys.
        let overlay: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| parse_err(e.to_string()))?;
        let mut base: toml::Table = DEMO_TENANT_TOML
            .parse()
            .map_err(|e: toml::de::Error| parse_err(e.to_string()))?;
        merge_tables(&mut base, overlay);
        let spec: TenantSpec = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| parse_err(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what types alone cannot: unique names, shares in range, known fields.
    pub fn validate(&self) -> Result<(), TenantError> {
        let invalid = |m: String| Err(TenantError::Invalid(m));
        if self.customers == 0 || self.customers > 10_000_000 {
            return invalid(format!(
                "customers = {} is out of range; use 1 to 10000000",
                self.customers
            ));
        }
        if self.data_sources.is_empty() {
            return invalid("a tenant needs at least one data source".to_owned());
        }
        let mut names = std::collections::BTreeSet::new();
        for ds in &self.data_sources {
            if !is_identifier(&ds.name) {
                return invalid(format!(
                    "data source name \"{}\" must be letters, digits and underscores",
                    ds.name
                ));
            }
            if !names.insert(ds.name.to_ascii_lowercase()) {
                return invalid(format!("data source \"{}\" is defined twice", ds.name));
            }
            if !(0.0..=1.0).contains(&ds.contacts.coverage) {
                return invalid(format!(
                    "data source \"{}\": contacts.coverage = {} must be between 0 and 1",
                    ds.name, ds.contacts.coverage
                ));
            }
            if let Some(act) = &ds.activities
                && !(0.0..=200.0).contains(&act.per_customer)
            {
                return invalid(format!(
                    "data source \"{}\": activities.per_customer = {} must be between 0 and 200",
                    ds.name, act.per_customer
                ));
            }
            for rates in ds
                .failures
                .iter()
                .chain(std::iter::once(&self.refresh.failures))
            {
                rates.validate(&ds.name)?;
            }
        }
        let mut entity_names = std::collections::BTreeSet::new();
        for seg in &self.segments {
            if !is_identifier(&seg.name) {
                return invalid(format!(
                    "segment name \"{}\" must be letters, digits and underscores",
                    seg.name
                ));
            }
            if !entity_names.insert(seg.name.to_ascii_lowercase()) {
                return invalid(format!(
                    "segment or measure \"{}\" is defined twice",
                    seg.name
                ));
            }
            if !(0.0..=1.0).contains(&seg.initial_share) {
                return invalid(format!(
                    "segment \"{}\": initial_share = {} must be between 0 and 1",
                    seg.name, seg.initial_share
                ));
            }
        }
        for m in &self.measures {
            if let Some(c) = CUSTOMER_MEASURES
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&m.name))
            {
                return invalid(format!(
                    "measure \"{}\" has the name of the customer measure {} (a column of Customer_Measure); give the business measure another name",
                    m.name, c.name
                ));
            }
            if !is_identifier(&m.name) {
                return invalid(format!(
                    "measure name \"{}\" must be letters, digits and underscores",
                    m.name
                ));
            }
            if !entity_names.insert(m.name.to_ascii_lowercase()) {
                return invalid(format!(
                    "segment or measure \"{}\" is defined twice",
                    m.name
                ));
            }
            if let Some(dim) = &m.dimension
                && dim != "Country"
            {
                return invalid(format!(
                    "measure \"{}\": dimension \"{dim}\" is not supported; the only dimension is Country",
                    m.name
                ));
            }
        }
        if self.limits.page_size_max == 0 || self.limits.page_size_default == 0 {
            return invalid("limits.page_size_max and page_size_default must be at least 1".into());
        }
        if self.limits.page_size_default > self.limits.page_size_max {
            return invalid(format!(
                "limits.page_size_default = {} exceeds page_size_max = {}",
                self.limits.page_size_default, self.limits.page_size_max
            ));
        }
        self.limits.validate().map_err(TenantError::Invalid)?;
        self.limits
            .rate_limit_setting()
            .map_err(TenantError::Invalid)?;
        if !matches!(
            self.limits.rate_limit_algorithm.as_str(),
            "sliding" | "fixed"
        ) {
            return invalid(format!(
                "limits.rate_limit_algorithm = \"{}\"; use \"sliding\" or \"fixed\"",
                self.limits.rate_limit_algorithm
            ));
        }
        if !matches!(
            self.delivery.retry_policy.as_str(),
            "exponential" | "fixed" | "none"
        ) {
            return invalid(format!(
                "delivery.retry_policy = \"{}\"; use \"exponential\", \"fixed\" or \"none\"",
                self.delivery.retry_policy
            ));
        }
        if self.refresh.schedule_every.as_millis() <= 0 && self.refresh.schedule_enabled {
            return invalid("refresh.schedule_every must be longer than 0s".to_owned());
        }
        Ok(())
    }

    /// The `PoS_Contacts_ContactId`-style alternate-key column names, in data source order.
    pub fn alternate_key_columns(&self) -> Vec<String> {
        self.data_sources
            .iter()
            .map(|ds| format!("{}_{}_{}", ds.name, ds.contacts.table, ds.contacts.key))
            .collect()
    }

    /// Renders the spec back to TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

impl FailureRates {
    fn validate(&self, owner: &str) -> Result<(), TenantError> {
        let sum = self.transient + self.permanent + self.timeout;
        let each_ok = [self.transient, self.permanent, self.timeout]
            .iter()
            .all(|p| (0.0..=1.0).contains(p));
        if !each_ok || sum > 1.0 {
            return Err(TenantError::Invalid(format!(
                "failure rates of \"{owner}\" must each be between 0 and 1 and sum to at most 1 \
                 (transient = {}, permanent = {}, timeout = {})",
                self.transient, self.permanent, self.timeout
            )));
        }
        Ok(())
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Merges `overlay` into `base`: tables merge key by key, anything else (arrays included)
/// replaces.
fn merge_tables(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

impl DurationRange {
    pub fn parse(text: &str) -> Result<DurationRange, String> {
        let (min, max) = match text.split_once("..") {
            Some((a, b)) => (a, b),
            None => (text, text),
        };
        let min = SimDuration::parse(min).map_err(|e| e.to_string())?;
        let max = SimDuration::parse(max).map_err(|e| e.to_string())?;
        if max < min {
            return Err(format!(
                "invalid range \"{text}\": the maximum is below the minimum"
            ));
        }
        Ok(DurationRange { min, max })
    }
}

impl std::fmt::Display for DurationRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..{}", self.min, self.max)
        }
    }
}

impl Serialize for DurationRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DurationRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DurationRange::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::{Algorithm, RateLimitSetting};

    #[test]
    fn the_demo_tenant_parses_and_validates() {
        let demo = TenantSpec::demo();
        demo.validate().unwrap();
        assert_eq!(demo.name, "Contoso Retail");
        assert_eq!(demo.seed, 42);
        assert!(demo.data_sources.len() >= 3);
        assert!(demo.segments.len() >= 3);
        assert!(
            demo.measures
                .iter()
                .filter(|m| m.dimension.is_none())
                .count()
                >= 2
        );
        assert!(demo.measures.iter().any(|m| m.dimension.is_some()));
    }

    #[test]
    fn a_tenant_file_overrides_only_what_it_names() {
        let spec = TenantSpec::from_toml_over_demo(
            "customers = 500\n[limits]\nrate_limit = \"10/2s\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(spec.customers, 500);
        assert_eq!(spec.limits.rate_limit, "10/2s");
        assert_eq!(spec.limits.page_size_max, 100);
        assert_eq!(spec.segments, TenantSpec::demo().segments);
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key_and_line() {
        let err = TenantSpec::from_toml_over_demo("customers = 5\ncustomerz = 6\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.toml"), "{err}");
        assert!(err.contains("customerz"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn rejects_out_of_range_values_with_the_fix() {
        let err = TenantSpec::from_toml_over_demo("customers = 0", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("use 1 to 10000000"), "{err}");
    }

    #[test]
    fn the_demo_tenant_round_trips_through_toml() {
        let demo = TenantSpec::demo();
        let again = TenantSpec::from_toml_over_demo(&demo.to_toml(), "again").unwrap();
        assert_eq!(again, demo);
    }

    #[test]
    fn the_demo_file_names_every_key() {
        fn keys(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
            for (k, v) in table {
                out.push(format!("{prefix}{k}"));
                if let toml::Value::Table(t) = v {
                    keys(&format!("{prefix}{k}."), t, out);
                }
            }
        }
        let (mut file, mut full) = (Vec::new(), Vec::new());
        keys("", &DEMO_TENANT_TOML.parse().unwrap(), &mut file);
        keys(
            "",
            &toml::Table::try_from(TenantSpec::demo()).unwrap(),
            &mut full,
        );
        file.sort();
        full.sort();
        assert_eq!(file, full);
    }

    #[test]
    fn an_invalid_rate_limit_is_refused_with_the_accepted_forms() {
        let err = TenantSpec::from_toml_over_demo("[limits]\nrate_limit = \"10/2\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("limits.rate_limit") && err.contains("100/60s"),
            "{err}"
        );
    }

    #[test]
    fn the_rate_limit_reads_its_algorithm_from_the_text_or_the_key() {
        let mut limits = TenantSpec::demo().limits;
        limits.rate_limit = "10/2s".into();
        limits.rate_limit_algorithm = "fixed".into();
        let RateLimitSetting::On(l) = limits.rate_limit_setting().unwrap() else {
            panic!()
        };
        assert_eq!((l.calls_max, l.algorithm), (10, Algorithm::Fixed));
        limits.rate_limit = "10/2s,sliding".into();
        let RateLimitSetting::On(l) = limits.rate_limit_setting().unwrap() else {
            panic!()
        };
        assert_eq!(l.algorithm, Algorithm::Sliding);
        limits.rate_limit = "off".into();
        assert_eq!(limits.rate_limit_setting().unwrap(), RateLimitSetting::Off);
        limits.rate_limit = "ten per minute".into();
        let err = limits.rate_limit_setting().unwrap_err();
        assert!(err.contains("limits.rate_limit"), "{err}");
    }

    #[test]
    fn duration_ranges_parse_single_values_and_ranges() {
        assert_eq!(
            DurationRange::parse("2m..5m").unwrap(),
            DurationRange {
                min: SimDuration::from_mins(2),
                max: SimDuration::from_mins(5)
            }
        );
        assert!(DurationRange::parse("5m..2m").is_err());
        assert_eq!(DurationRange::parse("3s").unwrap().to_string(), "3s");
    }
}
