//! The data sources as the generated data sees them: their contacts and activity tables.

use crate::ids::SourceKeyCodec;
use crate::tenant::spec::ActivityKind;

/// A data source as the data layer sees it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub name: String,
    /// `PoS_Contacts`
    pub contacts_entity: String,
    /// `ContactId`
    pub contacts_key: String,
    /// `PoS_Contacts_ContactId`
    pub alt_key_column: String,
    pub key_codec: SourceKeyCodec,
    pub coverage: f64,
    pub activity: Option<ActivitySource>,
}

#[derive(Debug, Clone)]
pub struct ActivitySource {
    /// `PoS_Purchases`
    pub entity: String,
    /// `PurchaseId`
    pub key: String,
    pub kind: ActivityKind,
    pub per_customer: f64,
    /// The activity definition name (`PoSPurchases`).
    pub activity_name: String,
}
