//! The names a scenario may use: data sources, segments, measures and entities of its tenant
//! (the demo tenant with the scenario's `[tenant]` overrides laid over it).

use serde_json::{Map, Value};
use simulator::engine::Trigger;
use simulator::tenant::TenantSpec;

use super::error::{Check, ErrorKind, Failure, NameKind, list, serde_message};
use super::key::KeyPath;

/// The tenant a scenario runs on, for looking names up.
pub(crate) struct Catalog {
    spec: TenantSpec,
}

impl Catalog {
    /// Reads the `[tenant]` overrides over the demo tenant, as `insightsim serve --tenant`
    /// would; errors are reported under `tenant`.
    pub(crate) fn of(tenant: &toml::Table) -> Result<Catalog, Failure> {
        let at = KeyPath::root().key("tenant");
        if tenant.is_empty() {
            return Ok(Catalog {
                spec: TenantSpec::demo(),
            });
        }
        // The shape first, on its own, so that a wrong key is named with its full path...
        serde_path_to_error::deserialize::<_, TenantSpec>(toml::Value::Table(tenant.clone()))
            .map_err(|e| {
                let key = at.join(&KeyPath::from_serde(e.path()));
                (key, ErrorKind::Shape(serde_message(e.inner().message())))
            })?;
        // ...then the whole tenant, which checks what types cannot (ranges, unique names).
        let text =
            toml::to_string(tenant).map_err(|e| (at.clone(), ErrorKind::Tenant(e.to_string())))?;
        let spec = TenantSpec::from_toml_over_demo(&text, "tenant").map_err(|e| {
            let message = match e {
                simulator::tenant::spec::TenantError::Invalid(m) => m,
                other => other.to_string(),
            };
            (at.clone(), ErrorKind::Tenant(message))
        })?;
        Ok(Catalog { spec })
    }

    fn data_sources(&self) -> Vec<&str> {
        self.spec
            .data_sources
            .iter()
            .map(|d| d.name.as_str())
            .collect()
    }

    fn segments(&self) -> Vec<&str> {
        self.spec.segments.iter().map(|s| s.name.as_str()).collect()
    }

    fn scalar_measures(&self) -> Vec<&str> {
        let scalar = self.spec.measures.iter().filter(|m| m.dimension.is_none());
        scalar.map(|m| m.name.as_str()).collect()
    }

    /// The source tables, `{DataSource}_{Table}`.
    fn source_tables(&self) -> Vec<String> {
        let mut tables = Vec::new();
        for ds in &self.spec.data_sources {
            tables.push(format!("{}_{}", ds.name, ds.contacts.table));
            if let Some(act) = &ds.activities {
                tables.push(format!("{}_{}", ds.name, act.table));
            }
        }
        tables
    }

    /// The entities `GET .../data/{entity}` serves, in the order `manage/entities` lists them.
    fn entities(&self) -> Vec<String> {
        let fixed = ["Customer", "UnifiedActivity", "Customer_Measure"].map(String::from);
        let outputs = self.spec.segments.iter().map(|s| s.name.clone());
        let measures = self.spec.measures.iter().map(|m| m.name.clone());
        fixed
            .into_iter()
            .chain(outputs)
            .chain(measures)
            .chain(self.source_tables())
            .collect()
    }

    /// The entities that Create item and Update item accept.
    fn writable(&self) -> Vec<String> {
        let fixed = ["Customer", "UnifiedActivity"].map(String::from);
        fixed.into_iter().chain(self.source_tables()).collect()
    }

    pub(crate) fn data_source(&self, name: &str, at: &KeyPath) -> Check {
        known(NameKind::DataSource, name, &self.data_sources(), at)
    }

    pub(crate) fn segment(&self, name: &str, at: &KeyPath) -> Check {
        known(NameKind::Segment, name, &self.segments(), at)
    }

    /// A measure with a single value (no dimension): what threshold triggers and forced values
    /// take.
    pub(crate) fn scalar_measure(&self, name: &str, at: &KeyPath) -> Check {
        let scalar = self.scalar_measures();
        if let Some(m) = self.spec.measures.iter().find(|m| m.name == name)
            && m.dimension.is_some()
        {
            return Err((
                at.clone(),
                ErrorKind::MeasureWithDimension {
                    name: name.to_owned(),
                    valid: list(&scalar),
                },
            ));
        }
        known(NameKind::Measure, name, &scalar, at)
    }

    pub(crate) fn segment_or_measure(&self, name: &str, at: &KeyPath) -> Check {
        let mut names = self.segments();
        names.extend(self.spec.measures.iter().map(|m| m.name.as_str()));
        known(NameKind::SegmentOrMeasure, name, &names, at)
    }

    pub(crate) fn entity(&self, name: &str, at: &KeyPath) -> Check {
        let entities = self.entities();
        if entities.iter().any(|e| e == name) {
            return Ok(());
        }
        Err((
            at.clone(),
            ErrorKind::UnknownEntity {
                name: name.to_owned(),
                valid: list(&entities),
            },
        ))
    }

    pub(crate) fn writable_entity(&self, name: &str, at: &KeyPath) -> Check {
        self.entity(name, at)?;
        let writable = self.writable();
        if writable.iter().any(|e| e == name) {
            return Ok(());
        }
        Err((
            at.clone(),
            ErrorKind::ReadOnlyEntity {
                name: name.to_owned(),
                valid: list(&writable),
            },
        ))
    }

    /// A subscription's inputs, as the simulator will check them when the flow subscribes:
    /// only the trigger's own inputs, names that exist, thresholds that are numbers.
    pub(crate) fn inputs(
        &self,
        trigger: Trigger,
        inputs: &Map<String, Value>,
        at: &KeyPath,
    ) -> Check {
        let allowed = trigger.inputs();
        for key in inputs.keys() {
            if !allowed.contains(&key.as_str()) {
                let what = if allowed.is_empty() {
                    format!("trigger {trigger} takes no inputs; remove it")
                } else {
                    format!("the inputs of trigger {trigger} are {}", list(allowed))
                };
                return Err((
                    at.key(key),
                    ErrorKind::Input(format!("unknown input \"{key}\"; {what}")),
                ));
            }
        }
        let name = |key: &str, required: bool| -> Result<Option<&str>, Failure> {
            match inputs.get(key) {
                None if required => Err((
                    at.clone(),
                    ErrorKind::Input(format!("{key} is missing; add {key} = \"...\"")),
                )),
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err((
                    at.key(key),
                    ErrorKind::Input(format!("{key} must be a string, not {other}")),
                )),
            }
        };
        let threshold = |non_negative: bool| -> Check {
            match inputs.get("threshold") {
                None => Err((
                    at.clone(),
                    ErrorKind::Input(
                        "threshold is missing; add threshold = 1000 (a number)".to_owned(),
                    ),
                )),
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(v) if non_negative && v < 0.0 => Err((
                        at.key("threshold"),
                        ErrorKind::Input(format!(
                            "{n} is negative; a member-count threshold is at least 0"
                        )),
                    )),
                    _ => Ok(()),
                },
                Some(other) => Err((
                    at.key("threshold"),
                    ErrorKind::Input(format!(
                        "threshold must be a number written without quotes, not {other}"
                    )),
                )),
            }
        };
        match trigger {
            Trigger::DataSourceRefreshFailed | Trigger::DataSourceRefreshSucceeded => {
                match name("dataSourceName", false)? {
                    // Empty means every data source, as the simulator reads it.
                    Some(ds) if !ds.is_empty() => self.data_source(ds, &at.key("dataSourceName")),
                    _ => Ok(()),
                }
            }
            Trigger::SegmentThresholdCrossed => {
                if let Some(s) = name("segmentName", true)? {
                    self.segment(s, &at.key("segmentName"))?;
                }
                threshold(true)
            }
            Trigger::MeasureThresholdCrossed => {
                if let Some(m) = name("measureName", true)? {
                    self.scalar_measure(m, &at.key("measureName"))?;
                }
                threshold(false)
            }
            Trigger::FullRefreshCompleted | Trigger::UnificationCompleted => Ok(()),
        }
    }
}

fn known(what: NameKind, name: &str, valid: &[&str], at: &KeyPath) -> Check {
    if valid.contains(&name) {
        return Ok(());
    }
    Err((
        at.clone(),
        ErrorKind::UnknownName {
            what,
            name: name.to_owned(),
            valid: list(valid),
        },
    ))
}
