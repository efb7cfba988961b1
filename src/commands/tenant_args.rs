//! The tenant flags that `serve` and `load` share (`load` uses them for its in-process
//! simulator).

use std::path::PathBuf;

use clap::Args;
use simulator::tenant::TenantSpec;

/// Which tenant to simulate: a tenant file read over the demo tenant, and overrides.
#[derive(Debug, Clone, Args)]
pub struct TenantArgs {
    /// Seed for ids, data and every random choice (overrides the tenant file).
    #[arg(long, env = "INSIGHTSIM_SEED")]
    pub seed: Option<u64>,
    /// Number of customer profiles, 1 to 10000000 (overrides the tenant file).
    #[arg(long, env = "INSIGHTSIM_CUSTOMERS")]
    pub customers: Option<usize>,
    /// Tenant file (TOML) read over the demo tenant; see `insightsim tenant`.
    #[arg(long, env = "INSIGHTSIM_TENANT")]
    pub tenant: Option<PathBuf>,
    /// The connector call limit per connection: CALLS/WINDOW (e.g. 100/60s, 10/2s) or off.
    #[arg(long, env = "INSIGHTSIM_RATE_LIMIT")]
    pub rate_limit: Option<String>,
}

impl TenantArgs {
    /// Loads the tenant and applies the overrides.
    pub fn spec(&self) -> anyhow::Result<TenantSpec> {
        let mut spec = match &self.tenant {
            Some(path) => TenantSpec::from_file(path)?,
            None => TenantSpec::demo(),
        };
        if let Some(seed) = self.seed {
            spec.seed = seed;
        }
        if let Some(customers) = self.customers {
            spec.customers = customers;
        }
        if let Some(limit) = &self.rate_limit {
            spec.limits.rate_limit.clone_from(limit);
        }
        spec.validate()?;
        Ok(spec)
    }
}
