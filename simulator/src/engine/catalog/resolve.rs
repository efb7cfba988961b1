//! Resolving requests against the catalog: the objects a job runs, forced outcomes, counts and
//! values by name, each checked, with errors that list the valid names.

use super::Catalog;
use crate::engine::error::EngineError;
use crate::engine::request::{
    ForcedMeasure, Forcing, OperationType, Pick, ResolvedForcing, Selection,
};
use crate::engine::value::MeasureValue;

fn pick(index: usize, name: &str, friendly_name: &str) -> Pick {
    Pick {
        index,
        name: name.to_owned(),
        friendly_name: friendly_name.to_owned(),
    }
}

impl Catalog {
    /// The data source with this name or id (any case), and its canonical name.
    pub(in crate::engine) fn source_named(&self, name: &str) -> Result<(usize, &str), EngineError> {
        let i = self.find_source(name).ok_or_else(|| {
            EngineError::unknown(
                "data source",
                vec![name.to_owned()],
                self.names_of("data source"),
            )
        })?;
        Ok((i, &self.sources[i].name))
    }

    /// The segment with this name (any case), to evaluate: refused when it is inactive.
    pub(in crate::engine) fn segment_named(&self, name: &str) -> Result<usize, EngineError> {
        let i = self.find_segment(name).ok_or_else(|| {
            EngineError::unknown("segment", vec![name.to_owned()], self.names_of("segment"))
        })?;
        self.check_active(i, "segment")?;
        Ok(i)
    }

    /// Refuses to evaluate an inactive segment (`field` names where the request named it).
    fn check_active(&self, i: usize, field: &str) -> Result<(), EngineError> {
        if self.segment_active(i) {
            return Ok(());
        }
        Err(EngineError::invalid(
            field,
            format!(
                "segment {} is inactive (state = \"inactive\" in the tenant file), and inactive segments are not evaluated; make it active to evaluate it",
                self.segment_names(i).0
            ),
        ))
    }

    /// The measure with this name (any case).
    pub(in crate::engine) fn measure_named(&self, name: &str) -> Result<usize, EngineError> {
        self.find_measure(name).ok_or_else(|| {
            EngineError::unknown("measure", vec![name.to_owned()], self.names_of("measure"))
        })
    }

    /// A member count for `segment`, refused when it exceeds the tenant's customers.
    pub(in crate::engine) fn check_count(
        &self,
        segment: &str,
        count: u64,
    ) -> Result<u64, EngineError> {
        let customers = self.customers;
        if count > customers {
            return Err(EngineError::invalid(
                "entityCount",
                format!(
                    "segment {segment} cannot have {count} members; the tenant has {customers} customers"
                ),
            ));
        }
        Ok(count)
    }

    /// A forced value for measure `i`, checked against its shape (scalar or by dimension).
    pub(in crate::engine) fn forced_measure_value(
        &self,
        i: usize,
        forced: &ForcedMeasure,
    ) -> Result<MeasureValue, EngineError> {
        let m = &self.measures[i];
        let finite = |v: f64| {
            if v.is_finite() {
                Ok(v)
            } else {
                Err(EngineError::invalid(
                    "value",
                    "a measure value must be a finite number",
                ))
            }
        };
        match (forced, &m.value) {
            (ForcedMeasure::Value(v), MeasureValue::Scalar(_)) => {
                Ok(MeasureValue::Scalar(finite(*v)?))
            }
            (ForcedMeasure::Values(map), MeasureValue::ByDimension(current)) => {
                let mut next = current.clone();
                for (key, v) in map {
                    let v = finite(*v)?;
                    match next.iter_mut().find(|(k, _)| k == key) {
                        Some(slot) => slot.1 = v,
                        None => next.push((key.clone(), v)),
                    }
                }
                Ok(MeasureValue::ByDimension(next))
            }
            (ForcedMeasure::Value(_), MeasureValue::ByDimension(_)) => Err(EngineError::invalid(
                "value",
                format!(
                    "measure {} has a dimension ({}); give an object of dimension value to number",
                    m.name,
                    m.dimension.as_deref().unwrap_or("?")
                ),
            )),
            (ForcedMeasure::Values(_), MeasureValue::Scalar(_)) => Err(EngineError::invalid(
                "value",
                format!("measure {} has no dimension; give a number", m.name),
            )),
        }
    }

    /// What a job of `op` with `identifiers` runs:
    ///
    /// - `all`: everything (every data source, the unification chain, every business measure,
    ///   the active dynamic segments, the exports); no identifiers;
    /// - `ingestion`: the named data sources (all when none are named);
    /// - `map`, `match`, `merge`: that stage and the stages after it up to `merge` (each consumes
    ///   the one before), with no ingestion and nothing downstream of merge; no identifiers;
    /// - `measures`, `entityMeasures`: the named business measures (all when none are named);
    /// - `segmentation`, `segmentMembership`: the named segments (an inactive one is refused), or
    ///   when none are named the active dynamic ones (a static segment is refreshed only by name,
    ///   an inactive one never);
    /// - `export`: the export task; no identifiers;
    /// - any other value of the model: nothing (the tenant has no enrichments, predictions,
    ///   hierarchies, ...), so the job ends at once.
    pub(in crate::engine) fn select(
        &self,
        op: OperationType,
        identifiers: &[String],
    ) -> Result<Selection, EngineError> {
        let names: Vec<String> = identifiers
            .iter()
            .map(|s| s.trim().trim_matches('\'').trim_matches('"').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let all = |n: usize| (0..n).collect::<Vec<_>>();
        let no_identifiers = |what: &str| {
            if names.is_empty() {
                Ok(())
            } else {
                Err(EngineError::invalid(
                    "identifiers",
                    format!(
                        "operationType {op} {what} and takes no identifiers; use ingestion, segmentation or measures to refresh named objects"
                    ),
                ))
            }
        };
        let (mut sources, mut measures, mut segments) = (Vec::new(), Vec::new(), Vec::new());
        let mut stages = Vec::new();
        let mut export = false;
        let chain = [
            OperationType::Map,
            OperationType::Match,
            OperationType::Merge,
        ];
        match op {
            OperationType::All => {
                no_identifiers("refreshes everything")?;
                sources = all(self.sources.len());
                stages = chain.to_vec();
                measures = all(self.measures.len());
                segments = self.segments_refreshed_with_all();
                export = true;
            }
            OperationType::Ingestion => {
                sources = if names.is_empty() {
                    all(self.sources.len())
                } else {
                    self.find_all(&names, "data source", |e, n| e.find_source(n))?
                };
            }
            OperationType::Map | OperationType::Match | OperationType::Merge => {
                no_identifiers("runs the unification of the customer profiles")?;
                stages = chain.into_iter().skip_while(|&s| s != op).collect();
            }
            OperationType::Segmentation | OperationType::SegmentMembership => {
                segments = if names.is_empty() {
                    self.segments_refreshed_with_all()
                } else {
                    let named = self.find_all(&names, "segment", |e, n| e.find_segment(n))?;
                    for &i in &named {
                        self.check_active(i, "identifiers")?;
                    }
                    named
                };
            }
            OperationType::Measures | OperationType::EntityMeasures => {
                measures = if names.is_empty() {
                    all(self.measures.len())
                } else {
                    self.find_all(&names, "measure", |e, n| e.find_measure(n))?
                };
            }
            OperationType::Export => {
                no_identifiers("runs the tenant's exports")?;
                export = true;
            }
            _ => {}
        }
        Ok(Selection {
            sources: sources
                .into_iter()
                .map(|i| pick(i, &self.sources[i].name, &self.sources[i].friendly_name))
                .collect(),
            stages,
            measures: measures
                .into_iter()
                .map(|i| pick(i, &self.measures[i].name, &self.measures[i].display_name))
                .collect(),
            segments: segments
                .into_iter()
                .map(|i| pick(i, &self.segments[i].name, &self.segments[i].friendly_name))
                .collect(),
            export,
        })
    }

    /// The segments a refresh evaluates when it names none: the active dynamic ones.
    fn segments_refreshed_with_all(&self) -> Vec<usize> {
        (0..self.segments.len())
            .filter(|&i| self.refreshes_with_all(i))
            .collect()
    }

    fn find_all(
        &self,
        names: &[String],
        kind: &'static str,
        find: impl Fn(&Catalog, &str) -> Option<usize>,
    ) -> Result<Vec<usize>, EngineError> {
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for name in names {
            match find(self, name) {
                Some(i) if !found.contains(&i) => found.push(i),
                Some(_) => {}
                None => unknown.push(name.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(EngineError::unknown(kind, unknown, self.names_of(kind)));
        }
        found.sort_unstable();
        Ok(found)
    }

    pub(in crate::engine) fn resolve_forcing(
        &self,
        forcing: &Forcing,
    ) -> Result<ResolvedForcing, EngineError> {
        let mut out = ResolvedForcing::default();
        let mut unknown = Vec::new();
        for (name, &outcome) in &forcing.data_sources {
            match self.find_source(name) {
                Some(i) => {
                    out.sources.insert(i, outcome);
                }
                None => unknown.push(name.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(EngineError::unknown(
                "data source",
                unknown,
                self.names_of("data source"),
            ));
        }
        for (name, &outcome) in &forcing.stages {
            let op = OperationType::parse(name)
                .ok()
                .filter(|op| {
                    matches!(
                        op,
                        OperationType::Map
                            | OperationType::Match
                            | OperationType::Merge
                            | OperationType::Export
                    )
                })
                .ok_or_else(|| {
                    EngineError::unknown("stage", vec![name.clone()], self.names_of("stage"))
                })?;
            out.stages.insert(op, outcome);
        }
        for (name, &outcome) in &forcing.evaluations {
            if let Some(i) = self.find_segment(name) {
                out.segments.insert(i, outcome);
            } else if let Some(i) = self.find_measure(name) {
                out.measures.insert(i, outcome);
            } else {
                unknown.push(name.clone());
            }
        }
        if !unknown.is_empty() {
            return Err(EngineError::unknown(
                "segment or measure",
                unknown,
                self.names_of("segment or measure"),
            ));
        }
        for (name, &count) in &forcing.segments {
            let i = self.find_segment(name).ok_or_else(|| {
                EngineError::unknown("segment", vec![name.clone()], self.names_of("segment"))
            })?;
            out.counts
                .insert(i, self.check_count(&self.segments[i].name, count)?);
        }
        for (name, forced) in &forcing.measures {
            let i = self.find_measure(name).ok_or_else(|| {
                EngineError::unknown("measure", vec![name.clone()], self.names_of("measure"))
            })?;
            out.values.insert(i, self.forced_measure_value(i, forced)?);
        }
        Ok(out)
    }
}
