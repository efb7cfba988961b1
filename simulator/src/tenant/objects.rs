//! The objects of a tenant file: data sources and their tables, segments and business measures.

use serde::{Deserialize, Serialize};

/// One data source: a contacts table (feeding unification) and optionally an activity table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSourceSpec {
    pub name: String,
    pub friendly_name: String,
    /// The API model's `kind` (`powerQuery`, `attachCdm`, `dynamics365`, ...).
    #[serde(default = "default_ds_kind")]
    pub kind: String,
    pub contacts: ContactTableSpec,
    #[serde(default)]
    pub activities: Option<ActivityTableSpec>,
    /// Overrides the tenant's failure rates for this source's ingestion.
    #[serde(default)]
    pub failures: Option<FailureRates>,
}

fn default_ds_kind() -> String {
    "powerQuery".to_owned()
}

/// A source table of contacts; its key becomes an alternate-key column of `Customer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactTableSpec {
    /// Table name without the data source prefix (`Contacts` gives `PoS_Contacts`).
    pub table: String,
    /// Primary key column (`ContactId` gives the alternate key `PoS_Contacts_ContactId`).
    pub key: String,
    /// Prefix of the key values (`POS-` gives `POS-0012345678`).
    pub key_prefix: String,
    /// Share of customers that have a record in this source (0..=1).
    pub coverage: f64,
}

/// A source table of activities, unified into `UnifiedActivity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityTableSpec {
    pub table: String,
    pub key: String,
    /// What the rows are: `purchase`, `web_visit`, `loyalty_points`, `email_open`, `return`.
    pub activity: ActivityKind,
    /// Average rows per customer who has a record in this source.
    pub per_customer: f64,
}

/// The kinds of activity the generator knows how to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    Purchase,
    WebVisit,
    LoyaltyPoints,
    EmailOpen,
    Return,
}

/// A segment and how its members are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    pub name: String,
    pub friendly_name: String,
    #[serde(default)]
    pub description: String,
    /// Which customers join first as the count grows: `total_spend` (highest first),
    /// `purchase_count`, `recency` (longest since the last purchase first), `newest` (most
    /// recently created first) or `random`.
    pub rank_by: SegmentRank,
    /// Members at the first evaluation, as a share of customers.
    pub initial_share: f64,
    /// Relative standard deviation of the count's change per refresh.
    #[serde(default = "default_volatility")]
    pub volatility: f64,
    /// `active` (the default) or `inactive`: an inactive segment is never evaluated, so it never
    /// fires a threshold event.
    #[serde(default, skip_serializing_if = "SegmentState::is_active")]
    pub state: SegmentState,
    /// `dynamic` (the default): every refresh of segments evaluates it; `static`: only a
    /// segmentation job that names it (a manual refresh).
    #[serde(default, skip_serializing_if = "SegmentRefresh::is_dynamic")]
    pub refresh: SegmentRefresh,
}

fn default_volatility() -> f64 {
    0.05
}

/// See [`SegmentSpec::state`] (the API model's `SegmentMetadata.state`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SegmentState {
    #[default]
    Active,
    Inactive,
}

impl SegmentState {
    fn is_active(&self) -> bool {
        *self == SegmentState::Active
    }
}

/// See [`SegmentSpec::refresh`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SegmentRefresh {
    #[default]
    Dynamic,
    Static,
}

impl SegmentRefresh {
    fn is_dynamic(&self) -> bool {
        *self == SegmentRefresh::Dynamic
    }
}

/// A customer measure: one value per customer, a column of the `Customer_Measure` table. The
/// API lists it among the measures, with `definition.kind = attribute` and `isProfile = true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerMeasureSpec {
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
}

/// The customer measures of every tenant: the columns of `Customer_Measure` besides
/// `CustomerId`, computed from the generated data.
pub const CUSTOMER_MEASURES: [CustomerMeasureSpec; 5] = [
    CustomerMeasureSpec {
        name: "TotalSpend",
        display_name: "Total spend",
        description: "Sum of the customer's purchase amounts",
    },
    CustomerMeasureSpec {
        name: "PurchaseCount",
        display_name: "Purchase count",
        description: "Number of the customer's purchases",
    },
    CustomerMeasureSpec {
        name: "AveragePurchaseAmount",
        display_name: "Average purchase amount",
        description: "The customer's average purchase amount",
    },
    CustomerMeasureSpec {
        name: "LastPurchaseDate",
        display_name: "Last purchase date",
        description: "When the customer last purchased",
    },
    CustomerMeasureSpec {
        name: "LoyaltyPoints",
        display_name: "Loyalty points",
        description: "The customer's loyalty points",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentRank {
    TotalSpend,
    PurchaseCount,
    Recency,
    Newest,
    Random,
}

/// A business measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    pub name: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    /// What its first value is computed from: `total_revenue`, `active_customers`,
    /// `customer_count`, `average_order_value`.
    pub source: MeasureSource,
    /// A dimension (only `Country` is known); a measure with a dimension cannot be used by the
    /// threshold trigger.
    #[serde(default)]
    pub dimension: Option<String>,
    #[serde(default = "default_volatility")]
    pub volatility: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasureSource {
    TotalRevenue,
    ActiveCustomers,
    CustomerCount,
    AverageOrderValue,
}

/// Per-attempt probabilities that a task fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FailureRates {
    /// Fails, and is retried (up to `task_retries_max`).
    pub transient: f64,
    /// Fails for good at once.
    pub permanent: f64,
    /// Runs past `task_timeout` and ends `timedOut`.
    pub timeout: f64,
}
