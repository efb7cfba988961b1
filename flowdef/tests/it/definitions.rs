//! Every shipped definition loads, in every format, and `check` finds nothing to report.

use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/definitions")
}

fn json_files(d: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") && !p.ends_with("connections.json") {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_definition_checks_clean() {
    let mut files = Vec::new();
    json_files(&dir(), &mut files);
    assert!(files.len() >= 10, "{files:?}");
    let mut failures = String::new();
    for f in &files {
        let report = flowdef::check(f);
        if !report.is_ok() {
            failures += &report.to_string();
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
