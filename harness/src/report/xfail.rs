//! Expected-failure lists (`expected-failures.toml`): the cases a flow is known to fail.
//!
//! ```toml
//! format = 1          # optional
//!
//! [[case]]
//! id = "export/pages-with-skip"
//! flow = "my-flow"    # optional: without it, the entry applies to every flow
//! reason = "pages with $skip are not supported yet (#12)"
//! ```
//!
//! A listed case that fails counts as passed (`XFAIL`); a listed case that does not fail counts
//! as failed (`XPASS`), so the list can only shrink (wasmtime's `should_fail`). Ids that name no
//! case in the suite are for the caller to warn about ([`XfailList::unknown_ids`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// An expected-failure file could not be read or is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct XfailError {
    pub path: PathBuf,
    /// 1-based line, when the error is at a place in the file.
    pub line: Option<usize>,
    pub message: String,
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XfailEntry {
    pub id: String,
    /// The flow it applies to; every flow when `None`.
    pub flow: Option<String>,
    pub reason: String,
    /// 1-based line of the entry's `id`.
    pub line: usize,
}

/// A loaded expected-failure list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XfailList {
    entries: Vec<XfailEntry>,
}

/// An expected-failure file: the cases a flow is known to fail.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct File {
    /// The format of the file: 1.
    #[schemars(with = "Option<u32>", range(min = 1, max = 1))]
    format: Option<Spanned<u32>>,
    /// The expected failures.
    #[serde(default)]
    case: Vec<RawEntry>,
}

/// One known failure.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    /// The case id (its path under `scenarios/` without `.toml`), e.g. `paging/export-visits-every-customer-once`.
    #[schemars(with = "String")]
    id: Spanned<String>,
    /// The flow it applies to (as `run` names it); every flow when absent.
    #[schemars(with = "Option<String>")]
    flow: Option<Spanned<String>>,
    /// Why it fails (an issue link, say): printed with the case.
    #[schemars(with = "String")]
    reason: Spanned<String>,
}

/// The `$id` of the expected-failure list's schema: a name, not a location.
pub const XFAIL_SCHEMA_ID: &str = "urn:insightsim:expected-failures:format-1";

/// The JSON Schema (draft 2020-12, pretty JSON) of an expected-failure file read as JSON, for
/// editors and `insightsim schema expected-failures`.
pub fn xfail_schema() -> String {
    let mut schema = schemars::schema_for!(File);
    schema.insert("$id".to_owned(), XFAIL_SCHEMA_ID.into());
    schema.insert(
        "title".to_owned(),
        "insightsim expected failures, format 1".into(),
    );
    // Serializing a `serde_json::Value` cannot fail.
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// Reads an expected-failure file.
pub fn load_xfail(path: impl AsRef<Path>) -> Result<XfailList, XfailError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| XfailError {
        path: path.to_owned(),
        line: None,
        message: format!("cannot read the expected-failure list: {e}"),
    })?;
    parse_xfail(path, &text)
}

/// Parses the text of an expected-failure file; `path` is for error messages.
pub fn parse_xfail(path: &Path, text: &str) -> Result<XfailList, XfailError> {
    let error = |span: Option<std::ops::Range<usize>>, message: String| XfailError {
        path: path.to_owned(),
        line: span.map(|s| line_of(text, s.start)),
        message,
    };
    let file: File = toml::from_str(text).map_err(|e| error(e.span(), e.message().to_owned()))?;
    if let Some(format) = &file.format
        && *format.get_ref() != 1
    {
        return Err(error(
            Some(format.span()),
            format!(
                "unknown format {}; only format = 1 exists",
                format.get_ref()
            ),
        ));
    }
    let mut entries = Vec::with_capacity(file.case.len());
    let mut seen: HashMap<(String, Option<String>), usize> = HashMap::new();
    for raw in file.case {
        let line = line_of(text, raw.id.span().start);
        let id = raw.id.get_ref().trim();
        if id.is_empty() || id.starts_with('/') || id.ends_with('/') || id.ends_with(".toml") {
            return Err(error(
                Some(raw.id.span()),
                format!(
                    "bad case id {:?}; write the scenario's path below the suite without \
                     `.toml`, like \"export/pages-with-skip\"",
                    raw.id.get_ref()
                ),
            ));
        }
        if raw.reason.get_ref().trim().is_empty() {
            return Err(error(
                Some(raw.reason.span()),
                format!("empty reason for {id:?}; say why the case is expected to fail"),
            ));
        }
        let flow = match &raw.flow {
            Some(f) if f.get_ref().trim().is_empty() => {
                return Err(error(
                    Some(f.span()),
                    "empty flow; leave `flow` out to list the case for every flow".into(),
                ));
            }
            Some(f) => Some(f.get_ref().trim().to_owned()),
            None => None,
        };
        if let Some(first) = seen.insert((id.to_owned(), flow.clone()), line) {
            return Err(error(
                Some(raw.id.span()),
                format!("{id:?} is already listed at line {first} for the same flow"),
            ));
        }
        entries.push(XfailEntry {
            id: id.to_owned(),
            flow,
            reason: raw.reason.into_inner().trim().to_owned(),
            line,
        });
    }
    Ok(XfailList { entries })
}

impl XfailList {
    /// The reason case `id` is expected to fail against `flow`, if it is listed: an entry for
    /// the flow wins over one for every flow.
    pub fn expects(&self, flow: &str, id: &str) -> Option<&str> {
        let mut any_flow = None;
        for e in self.entries.iter().filter(|e| e.id == id) {
            match e.flow.as_deref() {
                Some(f) if f == flow => return Some(&e.reason),
                Some(_) => {}
                None => any_flow = any_flow.or(Some(e.reason.as_str())),
            }
        }
        any_flow
    }

    /// The listed ids that are not among `known` (the suite's case ids), in file order, each
    /// once: the caller warns about them, since they most likely name a renamed case.
    pub fn unknown_ids(&self, known: &[&str]) -> Vec<String> {
        let mut unknown: Vec<String> = Vec::new();
        for e in &self.entries {
            if !known.contains(&e.id.as_str()) && !unknown.contains(&e.id) {
                unknown.push(e.id.clone());
            }
        }
        unknown
    }

    pub fn entries(&self) -> &[XfailEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<XfailList, XfailError> {
        parse_xfail(Path::new("expected-failures.toml"), text)
    }

    /// Parses `text`; `expected` is `Ok(ids)` or `Err(the error message)`.
    fn check(text: &str, expected: Result<&[&str], &str>) {
        match (parse(text), expected) {
            (Ok(list), Ok(ids)) => {
                let got: Vec<&str> = list.entries().iter().map(|e| e.id.as_str()).collect();
                assert_eq!(got, ids);
            }
            (Err(e), Err(msg)) => assert_eq!(e.to_string(), msg),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    const LIST: &str = r#"
format = 1

[[case]]
id = "export/pages-with-skip"
reason = "no $skip support"

[[case]]
id = "export/pages-with-skip"
flow = "my-flow"
reason = "my-flow stops after page 1"

[[case]]
id = "segment/fires-once"
flow = "other-flow"
reason = "fires on downward crossings"
"#;

    /// The schema's verdict on a file: `ok`, or the first violation.
    fn schema_check(toml_text: &str) -> String {
        let schema: serde_json::Value = serde_json::from_str(&xfail_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let table: toml::Table = toml_text.parse().unwrap();
        let instance = serde_json::to_value(table).unwrap();
        validator.iter_errors(&instance).next().map_or_else(
            || "ok".to_owned(),
            |e| format!("{}: {e}", e.instance_path()),
        )
    }

    #[test]
    fn the_schema_accepts_what_the_parser_accepts_and_refuses_unknown_keys() {
        let good = "format = 1\n[[case]]\nid = \"a/b\"\nflow = \"f\"\nreason = \"r\"\n";
        assert!(parse(good).is_ok());
        assert_eq!(schema_check(good), "ok");
        let typo = "[[case]]\nid = \"a/b\"\nreson = \"r\"\n";
        assert!(parse(typo).is_err());
        assert_ne!(schema_check(typo), "ok");
        assert_ne!(schema_check("format = 2\n"), "ok");
    }

    #[test]
    fn a_list_reads_and_answers_per_flow() {
        let list = parse(LIST).unwrap();
        assert_eq!(list.entries().len(), 3);
        assert_eq!(list.entries()[1].line, 9);
        assert_eq!(
            list.expects("my-flow", "export/pages-with-skip"),
            Some("my-flow stops after page 1")
        );
        assert_eq!(
            list.expects("reference-email", "export/pages-with-skip"),
            Some("no $skip support")
        );
        assert_eq!(
            list.expects("other-flow", "segment/fires-once"),
            Some("fires on downward crossings")
        );
        assert_eq!(list.expects("my-flow", "segment/fires-once"), None);
        assert_eq!(list.expects("my-flow", "export/other"), None);
    }

    #[test]
    fn unknown_ids_are_listed_once_in_file_order() {
        let list = parse(LIST).unwrap();
        assert_eq!(
            list.unknown_ids(&["segment/fires-once"]),
            vec!["export/pages-with-skip".to_owned()]
        );
        assert!(
            list.unknown_ids(&["segment/fires-once", "export/pages-with-skip"])
                .is_empty()
        );
    }

    #[test]
    fn an_empty_file_is_an_empty_list() {
        check("", Ok(&[]));
        check("format = 1\n", Ok(&[]));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        check(
            "[[case]]\nid = \"a/b\"\nreason = \"x\"\nflw = \"typo\"\n",
            Err(
                "expected-failures.toml:4: unknown field `flw`, expected one of `id`, `flow`, `reason`",
            ),
        );
        check(
            "[[case]]\nid = \"a/b\"\n",
            Err("expected-failures.toml:1: missing field `reason`"),
        );
        check(
            "[[case]]\nid = \"a/b\"\nreason = \"x\"\n\n[[case]]\nid = \"a/b\"\nreason = \"y\"\n",
            Err("expected-failures.toml:6: \"a/b\" is already listed at line 2 for the same flow"),
        );
        check(
            "[[case]]\nid = \"scenarios/a/b.toml\"\nreason = \"x\"\n",
            Err(
                "expected-failures.toml:2: bad case id \"scenarios/a/b.toml\"; write the \
                 scenario's path below the suite without `.toml`, like \"export/pages-with-skip\"",
            ),
        );
        check(
            "[[case]]\nid = \"a/b\"\nreason = \" \"\n",
            Err(
                "expected-failures.toml:3: empty reason for \"a/b\"; say why the case is expected to fail",
            ),
        );
        check(
            "format = 2\n",
            Err("expected-failures.toml:1: unknown format 2; only format = 1 exists"),
        );
        check(
            "[[case]\n",
            Err("expected-failures.toml:1: unclosed array table, expected `]`"),
        );
    }

    #[test]
    fn a_missing_file_is_an_error_without_a_line() {
        let err = load_xfail("/nonexistent/expected-failures.toml").unwrap_err();
        assert_eq!(err.line, None);
        assert!(
            err.to_string().starts_with(
                "/nonexistent/expected-failures.toml: cannot read the expected-failure list: "
            ),
            "{err}"
        );
    }
}
