//! Which cases a run takes.

use std::path::PathBuf;

use crate::scenario::{PartitionError, ScenarioError, Suite, load_suite, parse_partition};

/// The cases of a run: scenario files or directories below a suite root, then an id filter,
/// then one partition (in that order, so that the partitions of a filtered run stay balanced).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The suite's root directory: case ids are paths below it (`scenarios`).
    pub suite: PathBuf,
    /// Scenario files or directories; none means the whole suite.
    pub paths: Vec<PathBuf>,
    /// Only cases whose id starts with one of these prefixes (`*` matches any run of
    /// characters); none means every case.
    pub filter: Vec<String>,
    /// Only partition `K/N` (1-based), as `--partition` takes it.
    pub partition: Option<String>,
}

/// Why the cases could not be selected.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// Scenario files that could not be read or are invalid: every one of them, sorted by path.
    #[error("{} scenario file(s) have errors; nothing was run", .0.len())]
    Scenarios(Vec<ScenarioError>),
    #[error("--partition {text}")]
    Partition {
        text: String,
        #[source]
        source: PartitionError,
    },
}

impl Selection {
    /// Loads the selected cases, sorted by id.
    pub fn load(&self) -> Result<Suite, SelectionError> {
        let paths = if self.paths.is_empty() {
            vec![self.suite.clone()]
        } else {
            self.paths.clone()
        };
        let mut suite = load_suite(&self.suite, &paths).map_err(SelectionError::Scenarios)?;
        if !self.filter.is_empty() {
            suite = suite.filter(&self.filter);
        }
        if let Some(text) = &self.partition {
            let partition_error = |source| SelectionError::Partition {
                text: text.clone(),
                source,
            };
            let (k, n) = parse_partition(text).map_err(partition_error)?;
            suite = suite.partition(k, n).map_err(partition_error)?;
        }
        Ok(suite)
    }
}

/// The case ids (and law ids) nearest to the prefixes of a filter that matched nothing, best
/// first, at most `n`: for "did you mean" in the error.
pub fn nearest_ids<'a>(filter: &[String], ids: &[&'a str], n: usize) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = ids
        .iter()
        .map(|id| {
            let best = filter
                .iter()
                .map(|f| {
                    let f = f.trim_end_matches('*');
                    // A prefix is compared with the same length of the id, and with the whole id.
                    let head: String = id.chars().take(f.chars().count()).collect();
                    strsim::jaro_winkler(f, &head).max(strsim::jaro_winkler(f, id))
                })
                .fold(0.0, f64::max);
            (best, *id)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(n).map(|(_, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_ids_to_a_misspelt_filter_come_first() {
        let ids = [
            "segment/fires-once-per-upward-crossing",
            "measure/fires-once-per-upward-crossing",
            "paging/export-visits-every-customer-once",
        ];
        let near = nearest_ids(&["segmnet/".to_owned()], &ids, 2);
        assert_eq!(near[0], "segment/fires-once-per-upward-crossing");
    }
}
