//! Loading a suite: every scenario file under some paths, with ids checked against the paths,
//! and every error reported at once.
//!
//! Ids and paths: a file below the suite root must have the id of its path relative to the root,
//! without `.toml` (`scenarios/segment/a.toml` is `segment/a`). A file outside the root (say a
//! shrunk property-test failure written to `target/shrunk/segment/a.toml`) keeps the id it
//! declares, which must be the end of its path (`segment/a` or `a` there), so a file written to
//! `<any dir>/<id>.toml` always loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{ErrorKind, PartitionError, PartitionProblem, ScenarioError};
use super::key::KeyPath;
use super::model::{Level, Scenario};
use super::parse::parse;

/// The scenarios of one run, sorted by id.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The suite directory ids are relative to (`scenarios/`).
    pub root: PathBuf,
    pub cases: Vec<Case>,
}

/// One scenario file of a suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The scenario's id (`segment/fires-once-per-upward-crossing`).
    pub id: String,
    /// The file, as reached from the paths given to [`load_suite`].
    pub path: PathBuf,
    pub scenario: Scenario,
}

impl Case {
    /// `MUST` or `SHOULD`: loaded scenarios always have one (`MUST` wins when both occur).
    pub fn level(&self) -> Level {
        self.scenario.level().unwrap_or(Level::Must)
    }

    /// The triggers the case needs the flow to handle, sorted.
    pub fn triggers(&self) -> Vec<&str> {
        self.scenario.triggers()
    }

    pub fn requirement(&self) -> &str {
        &self.scenario.requirement
    }

    /// What `run --list` prints for the case:
    /// `segment/fires-once  MUST  segment-threshold-crossed  A segment threshold ...`
    /// (`-` when the case subscribes to nothing).
    pub fn list_line(&self) -> String {
        let triggers = self.triggers().join(",");
        let triggers = if triggers.is_empty() { "-" } else { &triggers };
        format!(
            "{}  {}  {}  {}",
            self.id,
            self.level().as_str(),
            triggers,
            self.requirement()
        )
    }
}

/// Loads every `*.toml` file under `paths` (files, or directories searched recursively; the
/// root itself when `paths` is empty) as a suite rooted at `root`, sorted by id.
///
/// All errors are collected, sorted by path: every bad file, ids that do not match their path,
/// ids used by two files, paths that do not exist. A file reached through two of the paths is
/// loaded once. Directories are searched without following symbolic links to directories.
pub fn load_suite(root: &Path, paths: &[PathBuf]) -> Result<Suite, Vec<ScenarioError>> {
    let mut errors = Vec::new();
    let error = |path: &Path, kind: ErrorKind| ScenarioError {
        path: path.to_owned(),
        line: None,
        key: None,
        kind,
    };
    let canonical_root = std::fs::canonicalize(root).ok();
    let roots = if paths.is_empty() {
        vec![root.to_owned()]
    } else {
        paths.to_vec()
    };
    // Files by canonical path, so overlapping paths load a file once.
    let mut files: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for path in &roots {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                errors.push(error(path, ErrorKind::NotFound));
            }
            Err(e) => errors.push(error(path, ErrorKind::Read { error: e })),
            Ok(meta) if meta.is_dir() => collect(path, &mut files, &mut errors),
            Ok(_) if path.extension().is_some_and(|e| e == "toml") => {
                add(path, &mut files, &mut errors);
            }
            Ok(_) => errors.push(error(path, ErrorKind::NotToml)),
        }
    }
    let mut cases = Vec::new();
    for (canonical, path) in &files {
        match load_case(canonical_root.as_deref(), canonical, path) {
            Ok(case) => cases.push(case),
            Err(e) => errors.push(e),
        }
    }
    cases.sort_by(|a, b| (&a.id, &a.path).cmp(&(&b.id, &b.path)));
    for pair in cases.windows(2) {
        if let [first, second] = pair
            && first.id == second.id
        {
            errors.push(error(
                &second.path,
                ErrorKind::DuplicateId {
                    id: second.id.clone(),
                    other: first.path.clone(),
                },
            ));
        }
    }
    if errors.is_empty() {
        Ok(Suite {
            root: root.to_owned(),
            cases,
        })
    } else {
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        Err(errors)
    }
}

/// Adds the `*.toml` files below `dir`, recursively.
fn collect(dir: &Path, files: &mut BTreeMap<PathBuf, PathBuf>, errors: &mut Vec<ScenarioError>) {
    let read_error = |error| ScenarioError {
        path: dir.to_owned(),
        line: None,
        key: None,
        kind: ErrorKind::Read { error },
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return errors.push(read_error(e)),
    };
    let mut children = Vec::new();
    for entry in entries {
        match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
            Ok(child) => children.push(child),
            Err(e) => errors.push(read_error(e)),
        }
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, file_type) in children {
        if file_type.is_dir() {
            collect(&path, files, errors);
        } else if path.extension().is_some_and(|e| e == "toml") {
            add(&path, files, errors);
        }
    }
}

fn add(path: &Path, files: &mut BTreeMap<PathBuf, PathBuf>, errors: &mut Vec<ScenarioError>) {
    match std::fs::canonicalize(path) {
        Ok(canonical) => {
            files.entry(canonical).or_insert_with(|| path.to_owned());
        }
        Err(error) => errors.push(ScenarioError {
            path: path.to_owned(),
            line: None,
            key: None,
            kind: ErrorKind::Read { error },
        }),
    }
}

fn load_case(root: Option<&Path>, canonical: &Path, path: &Path) -> Result<Case, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
        path: path.to_owned(),
        line: None,
        key: None,
        kind: ErrorKind::Read { error },
    })?;
    let scenario = parse(&text, path)?;
    let id = scenario.id.clone();
    let stem = canonical.with_extension("");
    let mismatch = match root.and_then(|r| stem.strip_prefix(r).ok()) {
        Some(relative) => {
            let expected = path_id(relative);
            (expected != id).then_some(ErrorKind::IdMismatch {
                id: id.clone(),
                expected,
            })
        }
        None => (!stem.ends_with(&id)).then_some(ErrorKind::IdNotSuffix { id: id.clone() }),
    };
    if let Some(kind) = mismatch {
        let key = KeyPath::root().key("id");
        return Err(ScenarioError {
            path: path.to_owned(),
            line: key.line_in(&text),
            key: Some(key.to_string()),
            kind,
        });
    }
    Ok(Case {
        id,
        path: path.to_owned(),
        scenario,
    })
}

/// A relative path as an id: its components joined with `/` on every platform.
fn path_id(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

impl Suite {
    /// The cases whose id starts with one of `prefixes` (all cases when there are none). A `*`
    /// in a prefix matches any run of characters, `/` included: `*/fires-` keeps
    /// `segment/fires-once` and `measure/fires-twice`.
    pub fn filter(self, prefixes: &[String]) -> Suite {
        if prefixes.is_empty() {
            return self;
        }
        let cases = self
            .cases
            .into_iter()
            .filter(|c| prefixes.iter().any(|p| matches_prefix(p, &c.id)))
            .collect();
        Suite {
            root: self.root,
            cases,
        }
    }

    /// Partition `k` of `n` (1-based): the cases whose index in id order `i` has
    /// `i % n == k - 1`. Deterministic for a given suite, and every case is in exactly one
    /// partition; filter first, so that the partitions of a filtered run stay balanced.
    pub fn partition(self, k: usize, n: usize) -> Result<Suite, PartitionError> {
        check_partition(k, n).map_err(|problem| PartitionError::Numbers { k, n, problem })?;
        let cases = self
            .cases
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, c)| c)
            .collect();
        Ok(Suite {
            root: self.root,
            cases,
        })
    }
}

/// Whether `id` starts with `pattern`, where `*` matches any run of characters.
/// Whether `id` passes an id filter (`--filter`): no prefix, or one of them matches.
pub fn matches_filter(id: &str, prefixes: &[String]) -> bool {
    prefixes.is_empty() || prefixes.iter().any(|p| matches_prefix(p, id))
}

fn matches_prefix(pattern: &str, id: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = id.strip_prefix(first) else {
        return false;
    };
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Reads `--partition K/N`: 1-based, `1 <= K <= N`.
pub fn parse_partition(text: &str) -> Result<(usize, usize), PartitionError> {
    let invalid = |problem| PartitionError::Text {
        text: text.to_owned(),
        problem,
    };
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| invalid(PartitionProblem::NoSlash))?;
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| invalid(PartitionProblem::NotANumber(s.to_owned())))
    };
    let (k, n) = (number(k)?, number(n)?);
    check_partition(k, n).map_err(invalid)?;
    Ok((k, n))
}

fn check_partition(k: usize, n: usize) -> Result<(), PartitionProblem> {
    if n == 0 {
        Err(PartitionProblem::NoPartitions)
    } else if k == 0 {
        Err(PartitionProblem::NumberedFromOne)
    } else if k > n {
        Err(PartitionProblem::OnlySome(n))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use insta::assert_snapshot;
    use proptest::prelude::*;

    use super::*;

    fn scenario(id: &str) -> String {
        format!(
            "format = 1\nid = \"{id}\"\nrequirement = \"A flow MUST act.\"\n\n[[subscriptions]]\ntrigger = \"full-refresh-completed\"\n"
        )
    }

    /// Writes `files` (path below the temp dir, content), loads `paths` (relative to the temp
    /// dir; the root is `scenarios`) and renders the result: the ids, or the errors, with the
    /// temp dir written as `$TMP`.
    fn check(files: &[(&str, &str)], paths: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let root = dir.path().join("scenarios");
        let paths: Vec<PathBuf> = paths.iter().map(|p| dir.path().join(p)).collect();
        let tmp = dir.path().display().to_string();
        match load_suite(&root, &paths) {
            Ok(suite) => suite
                .cases
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>()
                .join("\n"),
            Err(errors) => errors
                .iter()
                .map(|e| e.to_string().replace(&tmp, "$TMP"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn loads_every_file_below_the_root_sorted_by_id() {
        let files = [
            ("scenarios/segment/b.toml", scenario("segment/b")),
            ("scenarios/segment/a.toml", scenario("segment/a")),
            (
                "scenarios/datasource/fails.toml",
                scenario("datasource/fails"),
            ),
            ("scenarios/README.md", "not a scenario".to_owned()),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        assert_snapshot!(check(&files, &[]), @"
        datasource/fails
        segment/a
        segment/b
        ");
        // Subdirectories and files keep their ids relative to the root; a file reached twice
        // loads once.
        assert_snapshot!(check(&files, &["scenarios/segment", "scenarios/segment/a.toml"]), @"
        segment/a
        segment/b
        ");
    }

    #[test]
    fn reports_every_bad_file_with_its_path() {
        let files = [
            ("scenarios/segment/good.toml", scenario("segment/good")),
            (
                "scenarios/segment/typo.toml",
                scenario("segment/typo").replace("requirement", "requirment"),
            ),
            ("scenarios/segment/moved.toml", scenario("segment/old-name")),
            (
                "scenarios/segment/syntax.toml",
                "format = 1\nid = \"segment/syntax\n".to_owned(),
            ),
            ("scenarios/copy/a.toml", scenario("segment/good")),
            ("scenarios/notes.txt", "not a scenario".to_owned()),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        assert_snapshot!(check(&files, &["scenarios", "scenarios/missing", "scenarios/notes.txt"]), @r#"
        $TMP/scenarios/copy/a.toml:2: id: id "segment/good" does not match the file's path; write id = "copy/a" (the path below the suite directory, without .toml) or rename the file
        $TMP/scenarios/missing: no such file or directory; give scenario files or directories of them
        $TMP/scenarios/notes.txt: not a scenario file; scenario files end in .toml
        $TMP/scenarios/segment/moved.toml:2: id: id "segment/old-name" does not match the file's path; write id = "segment/moved" (the path below the suite directory, without .toml) or rename the file
        $TMP/scenarios/segment/syntax.toml:2: invalid TOML: invalid basic string, expected `"`
        $TMP/scenarios/segment/typo.toml:3: requirment: unknown field "requirment", expected one of "format", "id", "description", "requirement", "seed", "start", "tenant", "subscriptions", "steps", "run_for", "expect"
        "#);
    }

    #[test]
    fn two_files_with_one_id_are_reported() {
        let files = [
            ("scenarios/segment/a.toml", scenario("segment/a")),
            ("elsewhere/segment/a.toml", scenario("segment/a")),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        assert_snapshot!(check(&files, &["scenarios", "elsewhere"]), @r#"$TMP/scenarios/segment/a.toml: id "segment/a" is already the id of $TMP/elsewhere/segment/a.toml; give each scenario its own id"#);
    }

    #[test]
    fn outside_the_root_a_file_path_must_end_with_its_id() {
        let files = [
            ("shrunk/segment/a.toml", scenario("segment/a")),
            ("shrunk/b.toml", scenario("b")),
            ("shrunk/c.toml", scenario("segment/c")),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        assert_snapshot!(check(&files, &["shrunk/segment/a.toml", "shrunk/b.toml"]), @"
        b
        segment/a
        ");
        assert_snapshot!(check(&files, &["shrunk"]), @r#"$TMP/shrunk/c.toml:2: id: id "segment/c" does not match the end of the file's path; outside the suite directory a file's path must end with its id and .toml, e.g. .../segment/c.toml"#);
    }

    fn suite(ids: &[String]) -> Suite {
        let template = crate::scenario::parse(&scenario("a"), Path::new("a.toml")).unwrap();
        let cases = ids
            .iter()
            .map(|id| Case {
                id: id.clone(),
                path: PathBuf::from(format!("{id}.toml")),
                scenario: Scenario {
                    id: id.clone(),
                    ..template.clone()
                },
            })
            .collect();
        Suite {
            root: PathBuf::from("scenarios"),
            cases,
        }
    }

    fn ids(suite: &Suite) -> Vec<&str> {
        suite.cases.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn filters_by_prefix_with_optional_globs() {
        let all: Vec<String> = [
            "datasource/fails",
            "measure/fires-twice",
            "segment/fires-once",
            "segment/quiet",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(ids(&suite(&all).filter(&[])), all);
        assert_eq!(
            ids(&suite(&all).filter(&["segment/".into()])),
            ["segment/fires-once", "segment/quiet"]
        );
        assert_eq!(
            ids(&suite(&all).filter(&["*/fires-".into(), "data".into()])),
            [
                "datasource/fails",
                "measure/fires-twice",
                "segment/fires-once"
            ]
        );
        assert_eq!(
            ids(&suite(&all).filter(&["nothing".into()])),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_case_lists_its_id_level_triggers_and_requirement() {
        let s = suite(&["segment/a".to_owned()]);
        assert_snapshot!(s.cases[0].list_line(), @"segment/a  MUST  full-refresh-completed  A flow MUST act.");
    }

    #[test]
    fn partitions_are_written_k_of_n() {
        assert_eq!(parse_partition("2/4"), Ok((2, 4)));
        assert_eq!(parse_partition("1/1"), Ok((1, 1)));
        let errors = ["0/4", "5/4", "1/0", "2", "a/4", "-1/4"]
            .map(|t| parse_partition(t).unwrap_err().to_string())
            .join("\n");
        assert_snapshot!(errors, @r#"
        invalid partition "0/4": partitions are numbered from 1; write K/N with 1 <= K <= N, e.g. 2/4
        invalid partition "5/4": there are only 4 partitions; write K/N with 1 <= K <= N, e.g. 2/4
        invalid partition "1/0": there must be at least one partition; write K/N with 1 <= K <= N, e.g. 2/4
        invalid partition "2": there is no '/'; write K/N with 1 <= K <= N, e.g. 2/4
        invalid partition "a/4": "a" is not a whole number; write K/N with 1 <= K <= N, e.g. 2/4
        invalid partition "-1/4": "-1" is not a whole number; write K/N with 1 <= K <= N, e.g. 2/4
        "#);
        assert_eq!(
            suite(&[]).partition(3, 2).unwrap_err().to_string(),
            "invalid partition 3/2: there are only 2 partitions"
        );
    }

    proptest! {
        /// Law: for any N, partitions 1..=N of a suite are disjoint and together hold every
        /// case, in id order.
        #[test]
        fn partitions_are_disjoint_and_cover_the_suite(
            ids in proptest::collection::btree_set("[a-z]{1,3}(/[a-z]{1,3})?", 0..30),
            n in 1usize..8,
        ) {
            let ids: Vec<String> = ids.into_iter().collect();
            let mut seen: Vec<String> = Vec::new();
            for k in 1..=n {
                let part = suite(&ids).partition(k, n).unwrap();
                seen.extend(part.cases.into_iter().map(|c| c.id));
            }
            seen.sort();
            prop_assert_eq!(seen, ids);
        }
    }
}
