//! The simulator of one case: the demo tenant with the scenario's overrides, on a frozen clock.

use simulator::tenant::TenantSpec;
use simulator::tenant::spec::TenantError;
use simulator::{Clock, IdEpoch, SimConfig, SimTime, Simulator};

use crate::scenario::Scenario;

/// Why a case's simulator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CaseTenantError {
    #[error("cannot write the tenant overrides of {id} as TOML")]
    Write {
        id: String,
        #[source]
        source: toml::ser::Error,
    },
    #[error("the [tenant] table of {id} does not make a valid tenant")]
    Invalid {
        id: String,
        #[source]
        source: TenantError,
    },
}

/// Builds the case's simulator: the demo tenant, the scenario's overrides (the schedule off and
/// no random task failures, unless they say otherwise), a frozen clock.
pub fn build_simulator(
    scenario: &Scenario,
    seed: Option<u64>,
) -> Result<Simulator, CaseTenantError> {
    build_simulator_in_epoch(scenario, seed, None, None)
}

/// [`build_simulator`] with a fixed id epoch and an instance id of its own, both from `salt`
/// (which makes its ids differ from another run's; see `Runner::run` and `simulator::epoch`),
/// and deliveries allowed to `host` besides loopback (a flow behind a URL on another machine).
pub(super) fn build_simulator_in_epoch(
    scenario: &Scenario,
    seed: Option<u64>,
    salt: Option<String>,
    host: Option<String>,
) -> Result<Simulator, CaseTenantError> {
    let mut spec = case_tenant(scenario)?;
    spec.delivery.allowed_hosts.extend(host);
    spec.seed = seed.unwrap_or_else(|| scenario.seed());
    let clock = Clock::frozen_at(scenario.start.unwrap_or(SimTime::DEFAULT_EPOCH));
    let mut config = SimConfig::new(spec, clock);
    config.journal_capacity = 1_000_000;
    config.instance_salt = salt.clone();
    config.id_epoch = salt.map_or(IdEpoch::Seed, IdEpoch::Fixed);
    Ok(Simulator::new(config))
}

/// The tenant of a case: the demo tenant with the scenario's overrides (the schedule off and no
/// random task failures, unless they say otherwise).
pub fn case_tenant(scenario: &Scenario) -> Result<TenantSpec, CaseTenantError> {
    let mut tenant = scenario.tenant.clone();
    let refresh = tenant
        .entry("refresh")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = refresh {
        t.entry("schedule_enabled")
            .or_insert(toml::Value::Boolean(false));
        // A case fails only what it says to fail: no random task failures unless it sets them.
        let mut none = toml::Table::new();
        for k in ["transient", "permanent", "timeout"] {
            none.insert(k.into(), toml::Value::Float(0.0));
        }
        t.entry("failures").or_insert(toml::Value::Table(none));
    }
    let text = toml::to_string(&tenant).map_err(|source| CaseTenantError::Write {
        id: scenario.id.clone(),
        source,
    })?;
    TenantSpec::from_toml_over_demo(&text, &format!("{} (tenant)", scenario.id)).map_err(|source| {
        CaseTenantError::Invalid {
            id: scenario.id.clone(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn subscribes(sim: &Simulator, url: &str) -> bool {
        sim.with_engine(|engine, now| {
            let body = json!({"NotificationUrl": url});
            let ok = engine
                .subscribe(now, "full-refresh-completed", &body)
                .is_ok();
            (ok, Vec::new())
        })
    }

    /// A flow behind a URL on another machine (a cloud flow's callback) can be subscribed; other
    /// hosts stay refused.
    #[test]
    fn the_flow_urls_host_is_allowed_besides_loopback() {
        let scenario: Scenario = toml::from_str(
            "format = 1\nid = \"t/hosts\"\nrequirement = \"A flow MUST be reachable.\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let host = Some("prod-12.westeurope.logic.azure.com".to_owned());
        let sim =
            build_simulator_in_epoch(&scenario, None, None, host).unwrap_or_else(|e| panic!("{e}"));
        assert!(subscribes(
            &sim,
            "https://prod-12.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke"
        ));
        assert!(subscribes(&sim, "http://127.0.0.1:9000/hook"));
        assert!(!subscribes(&sim, "https://elsewhere.example/hook"));
        let plain = build_simulator(&scenario, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(!subscribes(
            &plain,
            "https://prod-12.westeurope.logic.azure.com/workflows/1"
        ));
    }
}
