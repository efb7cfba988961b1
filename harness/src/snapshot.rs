//! Transcript snapshots, stored in insta's file format so that `cargo insta review` and
//! `cargo insta accept` work on them.
//!
//! A snapshot of case `segment/fires-once-per-upward-crossing` run against flow
//! `email-on-segment-threshold` is
//! `snapshots/email-on-segment-threshold__segment__fires-once-per-upward-crossing.snap` (see
//! [`name_for`]):
//!
//! ```text
//! ---
//! source: insightsim run
//! expression: transcript
//! input_file: scenarios/segment/fires-once-per-upward-crossing.toml
//! ---
//! +0s          call      POST triggers/segment-threshold-crossed/subscriptions -> 201
//! +0s          step      evaluate_segment HighValueCustomers entity_count=900
//! +1d          step      evaluate_segment HighValueCustomers entity_count=1100
//! ```
//!
//! The header is insta's YAML metadata (`source`, `expression`, `input_file`), written with
//! insta's quoting rules, so a file insta writes and a file this module writes are the same
//! bytes for the same metadata and content. A pending change sits next to the snapshot as
//! `<name>.snap.new`, which is what insta writes and `cargo insta review` looks for.
//!
//! Contents are compared as insta compares them: `\r\n` becomes `\n` and trailing whitespace is
//! ignored; the file holds the content followed by exactly one newline.
//!
//! # Why not insta's API
//!
//! `insightsim run` compares and records snapshots outside `cargo test`: against a user's flow,
//! from an installed binary, in their CI. insta 1.x has no API for that:
//!
//! - its assertions (`assert_snapshot!`) panic on a mismatch, and decide inside the assertion
//!   what to write, from `INSTA_UPDATE`, `CI` and `INSTA_FORCE_PASS`; the run needs a
//!   [`SnapshotStatus`] per case, to grade it and report the diff;
//! - they find the workspace from the crate that was compiled (`CARGO_MANIFEST_DIR` at build
//!   time, else `cargo metadata`), which is not where an installed `insightsim` runs;
//! - `insta::Snapshot::from_file` reads a file, but building a snapshot with this metadata and
//!   saving it needs insta's crate-private constructors, and comparing contents goes through
//!   `insta::internals`, which insta documents as having no stability guarantee.
//!
//! So this module reads and writes the format itself (the reader, the writer with insta's YAML
//! quoting, and insta's update modes in [`Mode`]), and insta stays a dev-dependency that holds
//! it to insta's own bytes: `insta_reads_what_the_store_writes` and
//! `the_store_reads_what_insta_writes` in the tests below.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::outcome::SnapshotStatus;

/// What [`SnapshotStore::check`] may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Never write; a missing or different snapshot is a mismatch (`CI=true`, `INSTA_UPDATE=no`).
    Check,
    /// Write `<name>.snap.new` for a missing or different snapshot, for review (the default
    /// outside CI, `INSTA_UPDATE=new`).
    Pending,
    /// Write `<name>.snap` and remove `<name>.snap.new` (`--accept`, `INSTA_UPDATE=always`).
    Accept,
    /// Write a missing snapshot as `<name>.snap`, and a different one as `<name>.snap.new`
    /// (`INSTA_UPDATE=unseen`).
    Unseen,
}

impl Mode {
    /// The mode from `--accept` and the environment, as insta decides it: `--accept` wins; then
    /// `INSTA_UPDATE` (`always`/`1`/`force` accept, `new` and `auto` on a developer machine
    /// write pending files, `unseen` accepts only new snapshots, `no` writes nothing); unset or
    /// `auto` means [`Mode::Check`] on CI (`CI` set to anything but `false`, `0` or empty, or
    /// `TF_BUILD` set) and [`Mode::Pending`] elsewhere.
    pub fn from_env(accept: bool) -> Result<Mode, SnapshotError> {
        let var = |name: &str| std::env::var(name).ok();
        Mode::from_vars(
            accept,
            var("INSTA_UPDATE").as_deref(),
            var("CI").as_deref(),
            std::env::var_os("TF_BUILD").is_some(),
        )
    }

    /// [`Mode::from_env`] on given values (for tests, and for a CLI that reads them itself).
    pub fn from_vars(
        accept: bool,
        insta_update: Option<&str>,
        ci: Option<&str>,
        tf_build: bool,
    ) -> Result<Mode, SnapshotError> {
        if accept {
            return Ok(Mode::Accept);
        }
        let is_ci = match ci {
            Some("false" | "0" | "") => false,
            Some(_) => true,
            None => tf_build,
        };
        match insta_update.unwrap_or("") {
            "" | "auto" if is_ci => Ok(Mode::Check),
            "" | "auto" | "new" => Ok(Mode::Pending),
            "always" | "1" | "force" => Ok(Mode::Accept),
            "unseen" => Ok(Mode::Unseen),
            "no" => Ok(Mode::Check),
            other => Err(SnapshotError::Env {
                var: "INSTA_UPDATE",
                value: other.to_owned(),
            }),
        }
    }
}

impl Mode {
    /// The mode of `insightsim run` against a user's flow (insta's model, adapted to a first run
    /// that should not fail): `--accept` accepts everything; an explicit `INSTA_UPDATE` is
    /// obeyed as insta would; on CI ([`Mode::from_vars`]'s rule) nothing is written and a
    /// missing snapshot fails; with `--strict` a missing snapshot fails and is written as
    /// `.snap.new`; otherwise a missing snapshot is recorded as the `.snap` (reported `new`,
    /// not a failure) and a changed one fails and is written as `.snap.new` ([`Mode::Unseen`]).
    pub fn for_run(accept: bool, strict: bool) -> Result<Mode, SnapshotError> {
        let var = |name: &str| std::env::var(name).ok();
        Mode::for_run_from_vars(
            accept,
            strict,
            var("INSTA_UPDATE").as_deref(),
            var("CI").as_deref(),
            std::env::var_os("TF_BUILD").is_some(),
        )
    }

    /// [`Mode::for_run`] on given values.
    pub fn for_run_from_vars(
        accept: bool,
        strict: bool,
        insta_update: Option<&str>,
        ci: Option<&str>,
        tf_build: bool,
    ) -> Result<Mode, SnapshotError> {
        let explicit = insta_update.is_some_and(|v| !v.is_empty() && v != "auto");
        let mode = Mode::from_vars(accept, insta_update, ci, tf_build)?;
        Ok(match mode {
            Mode::Pending if !explicit && !strict => Mode::Unseen,
            other => other,
        })
    }
}

/// The `.snap` a pending `.snap.new` would replace, or `None` when `path` is not a `.snap.new`.
pub fn snap_of_pending(path: &str) -> Option<String> {
    path.strip_suffix(".new")
        .filter(|p| p.ends_with(".snap"))
        .map(str::to_owned)
}

/// A snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write snapshot {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "snapshot {} has no closing `---` after its header; fix it or delete it to record it anew",
        path.display()
    )]
    Malformed { path: PathBuf },
    #[error(
        "unknown {var} value {value:?}; use auto, always, new, unseen, no or force (as insta does)"
    )]
    Env { var: &'static str, value: String },
}

/// The file stem of the snapshot of case `case_id` run against flow `flow`:
/// `email-on-segment-threshold__segment__fires-once-per-upward-crossing`.
///
/// The rule is insta's for a snapshot named `{flow}/{case_id}`: `/` and `\` become `__`. On top
/// of that, any character other than an ASCII letter, digit, `-`, `_` or `.` becomes `_`, so the
/// stem is a valid file name everywhere (`:` is not allowed on Windows, and `@` is insta's
/// separator for glob suffixes). Case ids are paths of lowercase words, so in practice only the
/// `/` rule applies.
pub fn name_for(flow: &str, case_id: &str) -> String {
    let mut name = String::with_capacity(flow.len() + case_id.len() + 2);
    for part in [flow, "/", case_id] {
        for c in part.chars() {
            match c {
                '/' | '\\' => name.push_str("__"),
                c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => name.push(c),
                _ => name.push('_'),
            }
        }
    }
    name
}

/// Whether a path in a [`SnapshotStatus`] is a pending change (`.snap.new`) rather than an
/// accepted snapshot.
pub fn is_pending_path(path: &str) -> bool {
    path.ends_with(".snap.new")
}

/// Whether a snapshot status fails a case: a mismatch, or a new snapshot that is only pending
/// review (as insta fails an assertion that wrote a `.snap.new`). A snapshot that matched, or
/// was written or accepted as the `.snap` itself, does not.
pub fn fails_case(status: &SnapshotStatus) -> bool {
    match status {
        SnapshotStatus::Matched | SnapshotStatus::Accepted { .. } => false,
        SnapshotStatus::New { path } => is_pending_path(path),
        SnapshotStatus::Mismatch { .. } => true,
    }
}

/// A directory of snapshots (the workspace's `snapshots/`) and what checking may write to it.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    mode: Mode,
    source: String,
}

impl SnapshotStore {
    pub fn new(dir: impl Into<PathBuf>, mode: Mode) -> Self {
        SnapshotStore {
            dir: dir.into(),
            mode,
            source: "insightsim run".into(),
        }
    }

    /// The `source:` written in the header (`insightsim run` unless set): insta records the
    /// test file there; `cargo insta review` only displays it.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// `<dir>/<name>.snap`.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.snap"))
    }

    /// `<dir>/<name>.snap.new`.
    pub fn pending_path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.snap.new"))
    }

    /// Compares `content` with snapshot `name` and, as the mode allows, records it.
    /// `input_file` is the scenario file, relative to the workspace root
    /// (`scenarios/segment/fires-once-per-upward-crossing.toml`).
    ///
    /// | snapshot  | `Check`              | `Pending`                 | `Accept`               | `Unseen`                  |
    /// |-----------|----------------------|---------------------------|------------------------|---------------------------|
    /// | same      | `Matched`            | `Matched`¹                | `Matched`¹             | `Matched`¹                |
    /// | different | `Mismatch` (`.snap`) | `Mismatch` (`.snap.new`)  | `Accepted` (`.snap`)   | `Mismatch` (`.snap.new`)  |
    /// | missing   | `Mismatch`² (`.snap`)| `New` (`.snap.new`)       | `New` (`.snap`)        | `New` (`.snap`)           |
    ///
    /// The path in the status is the file written, or the `.snap` compared with when nothing was
    /// written. ¹ A stale `.snap.new` is removed, as insta does. ² The diff is against an empty
    /// snapshot and its header says the file is missing. `Accept` also removes a `.snap.new`.
    pub fn check(
        &self,
        name: &str,
        content: &str,
        input_file: Option<&str>,
    ) -> Result<SnapshotStatus, SnapshotError> {
        let snap = self.path_of(name);
        let pending = self.pending_path_of(name);
        let new = normalize(content);
        let old = read_snapshot(&snap)?;
        let display = |p: &Path| p.display().to_string();
        match old {
            Some(old) if old == new => {
                if self.mode != Mode::Check {
                    remove_if_exists(&pending)?;
                }
                Ok(SnapshotStatus::Matched)
            }
            Some(old) => {
                let diff = diff(&old, &new, "old snapshot");
                match self.mode {
                    Mode::Check => Ok(SnapshotStatus::Mismatch {
                        path: display(&snap),
                        diff,
                    }),
                    Mode::Pending | Mode::Unseen => {
                        self.write(&pending, &new, input_file)?;
                        Ok(SnapshotStatus::Mismatch {
                            path: display(&pending),
                            diff,
                        })
                    }
                    Mode::Accept => {
                        self.write(&snap, &new, input_file)?;
                        remove_if_exists(&pending)?;
                        Ok(SnapshotStatus::Accepted {
                            path: display(&snap),
                        })
                    }
                }
            }
            None => match self.mode {
                Mode::Check => Ok(SnapshotStatus::Mismatch {
                    path: display(&snap),
                    diff: diff("", &new, "no snapshot (file missing)"),
                }),
                Mode::Pending => {
                    self.write(&pending, &new, input_file)?;
                    Ok(SnapshotStatus::New {
                        path: display(&pending),
                    })
                }
                Mode::Accept | Mode::Unseen => {
                    self.write(&snap, &new, input_file)?;
                    remove_if_exists(&pending)?;
                    Ok(SnapshotStatus::New {
                        path: display(&snap),
                    })
                }
            },
        }
    }

    fn write(
        &self,
        path: &Path,
        content: &str,
        input_file: Option<&str>,
    ) -> Result<(), SnapshotError> {
        let text = render(&self.source, "transcript", input_file, content);
        let err = |source| SnapshotError::Write {
            path: path.to_owned(),
            source,
        };
        fs::create_dir_all(&self.dir).map_err(err)?;
        fs::write(path, text).map_err(err)
    }
}

/// The text of a snapshot file: insta's YAML header, `---`, the content and one newline.
pub fn render(source: &str, expression: &str, input_file: Option<&str>, content: &str) -> String {
    let mut out = String::from("---\n");
    let mut field = |key: &str, value: &str| {
        let _ = writeln!(out, "{key}: {}", yaml_scalar(value));
    };
    field("source", source);
    field("expression", expression);
    if let Some(input_file) = input_file {
        field("input_file", input_file);
    }
    out.push_str("---\n");
    out.push_str(&normalize(content));
    out.push('\n');
    out
}

/// The content of a snapshot file, normalized, or `None` when there is no file. Reads insta's
/// format (a YAML header between `---` lines) and its legacy one (`key: value` lines up to a
/// blank line).
pub fn read_snapshot(path: &Path) -> Result<Option<String>, SnapshotError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let text = text.replace("\r\n", "\n");
    let mut lines = text.split_inclusive('\n');
    let mut consumed = 0;
    let first = lines.next().unwrap_or("");
    consumed += first.len();
    if first.trim_end() == "---" {
        loop {
            let Some(line) = lines.next() else {
                return Err(SnapshotError::Malformed {
                    path: path.to_owned(),
                });
            };
            consumed += line.len();
            if line.trim_end() == "---" {
                break;
            }
        }
    } else if !first.trim_end().is_empty() {
        for line in lines.by_ref() {
            consumed += line.len();
            if line.trim_end().is_empty() {
                break;
            }
        }
    }
    Ok(Some(normalize(&text[consumed..])))
}

/// Insta's normalization of text snapshot contents: `\r\n` to `\n`, trailing whitespace off.
pub fn normalize(content: &str) -> String {
    content.trim_end().replace("\r\n", "\n")
}

/// A unified diff from `old` to `new`, with both ending in a newline so that the last line
/// does not show as changed.
fn diff(old: &str, new: &str, old_header: &str) -> String {
    let old = with_newline(old);
    let new = with_newline(new);
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(old_header, "new transcript")
        .to_string()
}

fn with_newline(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("{s}\n")
    }
}

fn remove_if_exists(path: &Path) -> Result<(), SnapshotError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(SnapshotError::Write {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// A YAML scalar as insta's emitter writes it: plain when that reads back as the same string,
/// else double-quoted with escapes (`need_quotes` and `escape_str` in insta's vendored
/// `yaml-rust` emitter).
fn yaml_scalar(s: &str) -> String {
    let needs_quotes = s.is_empty()
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        || s.contains(|c: char| {
            matches!(
                c,
                ':' | '{'
                    | '}'
                    | '['
                    | ']'
                    | ','
                    | '#'
                    | '`'
                    | '"'
                    | '\''
                    | '\\'
                    | '\0'..='\x06'
                    | '\t'
                    | '\n'
                    | '\r'
                    | '\x0e'..='\x1a'
                    | '\x1c'..='\x1f'
            )
        })
        || [
            "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE",
            "false", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ]
        .contains(&s)
        || s.starts_with('.')
        || s.starts_with("0x")
        || s.parse::<i64>().is_ok()
        || s.parse::<f64>().is_ok();
    if !needs_quotes {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' || c == '\x7f' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "email-on-segment-threshold__segment__fires-once-per-upward-crossing";
    const INPUT: &str = "scenarios/segment/fires-once-per-upward-crossing.toml";
    const TRANSCRIPT: &str = "+0s          step      evaluate_segment HighValueCustomers entity_count=900\n\
                              +1d          step      evaluate_segment HighValueCustomers entity_count=1100\n";

    fn store(dir: &Path, mode: Mode) -> SnapshotStore {
        SnapshotStore::new(dir.join("snapshots"), mode)
    }

    /// Runs `check` in `mode` on a directory prepared with an optional `.snap` and `.snap.new`,
    /// and returns the status with the files left afterwards.
    fn check(
        mode: Mode,
        existing: Option<&str>,
        stale_pending: bool,
        content: &str,
    ) -> (SnapshotStatus, Option<String>, Option<String>) {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path(), mode);
        fs::create_dir_all(s.dir()).unwrap();
        if let Some(existing) = existing {
            fs::write(
                s.path_of(NAME),
                render("insightsim run", "transcript", Some(INPUT), existing),
            )
            .unwrap();
        }
        if stale_pending {
            fs::write(s.pending_path_of(NAME), "stale").unwrap();
        }
        let status = s.check(NAME, content, Some(INPUT)).unwrap();
        let status = relative(status, tmp.path());
        let snap = fs::read_to_string(s.path_of(NAME)).ok();
        let pending = fs::read_to_string(s.pending_path_of(NAME)).ok();
        (status, snap, pending)
    }

    /// The status with paths relative to `base`, so tests can spell them.
    fn relative(status: SnapshotStatus, base: &Path) -> SnapshotStatus {
        let rel = |p: String| {
            Path::new(&p)
                .strip_prefix(base)
                .unwrap()
                .display()
                .to_string()
        };
        match status {
            SnapshotStatus::Matched => SnapshotStatus::Matched,
            SnapshotStatus::New { path } => SnapshotStatus::New { path: rel(path) },
            SnapshotStatus::Accepted { path } => SnapshotStatus::Accepted { path: rel(path) },
            SnapshotStatus::Mismatch { path, diff } => SnapshotStatus::Mismatch {
                path: rel(path),
                diff,
            },
        }
    }

    fn file(content: &str) -> String {
        render("insightsim run", "transcript", Some(INPUT), content)
    }

    #[test]
    fn a_snapshot_file_is_insta_header_then_content() {
        insta::assert_snapshot!(file(TRANSCRIPT), @r"
        ---
        source: insightsim run
        expression: transcript
        input_file: scenarios/segment/fires-once-per-upward-crossing.toml
        ---
        +0s          step      evaluate_segment HighValueCustomers entity_count=900
        +1d          step      evaluate_segment HighValueCustomers entity_count=1100
        ");
        assert!(file(TRANSCRIPT).ends_with("entity_count=1100\n"));
    }

    #[test]
    fn names_replace_slashes_as_insta_does_and_keep_file_names_portable() {
        assert_eq!(
            name_for(
                "email-on-segment-threshold",
                "segment/fires-once-per-upward-crossing"
            ),
            NAME
        );
        assert_eq!(name_for("my flow", "a\\b/c:d@e"), "my_flow__a__b__c_d_e");
    }

    #[test]
    fn check_mode_never_writes() {
        let (status, snap, pending) = check(Mode::Check, None, false, TRANSCRIPT);
        let SnapshotStatus::Mismatch { path, diff } = status else {
            panic!("{status:?}")
        };
        assert_eq!(path, format!("snapshots/{NAME}.snap"));
        assert!(diff.starts_with("--- no snapshot (file missing)\n+++ new transcript\n"));
        assert!(diff.contains("\n++1d          step"), "{diff}");
        assert_eq!((snap, pending), (None, None));

        let (status, snap, pending) = check(Mode::Check, Some("other\n"), true, TRANSCRIPT);
        assert!(matches!(status, SnapshotStatus::Mismatch { .. }));
        assert_eq!(snap, Some(file("other")));
        assert_eq!(pending.as_deref(), Some("stale"));
    }

    #[test]
    fn check_mode_matches_an_equal_snapshot() {
        let (status, ..) = check(Mode::Check, Some(TRANSCRIPT), true, TRANSCRIPT);
        assert_eq!(status, SnapshotStatus::Matched);
    }

    #[test]
    fn pending_mode_writes_a_snap_new_for_a_missing_or_different_snapshot() {
        let (status, snap, pending) = check(Mode::Pending, None, false, TRANSCRIPT);
        assert_eq!(
            status,
            SnapshotStatus::New {
                path: format!("snapshots/{NAME}.snap.new")
            }
        );
        assert_eq!((snap, pending), (None, Some(file(TRANSCRIPT))));

        let (status, snap, pending) = check(Mode::Pending, Some("old\n"), false, TRANSCRIPT);
        assert!(
            matches!(&status, SnapshotStatus::Mismatch { path, .. } if path == &format!("snapshots/{NAME}.snap.new")),
            "{status:?}"
        );
        assert_eq!((snap, pending), (Some(file("old")), Some(file(TRANSCRIPT))));
    }

    #[test]
    fn pending_mode_removes_a_stale_snap_new_when_the_snapshot_matches() {
        let (status, snap, pending) = check(Mode::Pending, Some(TRANSCRIPT), true, TRANSCRIPT);
        assert_eq!(status, SnapshotStatus::Matched);
        assert_eq!((snap, pending), (Some(file(TRANSCRIPT)), None));
    }

    #[test]
    fn accept_mode_writes_the_snap_and_removes_the_snap_new() {
        let (status, snap, pending) = check(Mode::Accept, Some("old\n"), true, TRANSCRIPT);
        assert_eq!(
            status,
            SnapshotStatus::Accepted {
                path: format!("snapshots/{NAME}.snap")
            }
        );
        assert_eq!((snap, pending), (Some(file(TRANSCRIPT)), None));

        let (status, snap, pending) = check(Mode::Accept, None, true, TRANSCRIPT);
        assert_eq!(
            status,
            SnapshotStatus::New {
                path: format!("snapshots/{NAME}.snap")
            }
        );
        assert_eq!((snap, pending), (Some(file(TRANSCRIPT)), None));
    }

    #[test]
    fn unseen_mode_accepts_new_snapshots_and_holds_changes_for_review() {
        let (status, ..) = check(Mode::Unseen, None, false, TRANSCRIPT);
        assert_eq!(
            status,
            SnapshotStatus::New {
                path: format!("snapshots/{NAME}.snap")
            }
        );
        let (_, snap, pending) = check(Mode::Unseen, Some("old\n"), false, TRANSCRIPT);
        assert_eq!((snap, pending), (Some(file("old")), Some(file(TRANSCRIPT))));
    }

    #[test]
    fn a_mismatch_carries_a_unified_diff() {
        let (status, ..) = check(
            Mode::Check,
            Some("t=+0s  a\nt=+1s  b\nt=+2s  c\n"),
            false,
            "t=+0s  a\nt=+1s  B\nt=+2s  c\n",
        );
        let SnapshotStatus::Mismatch { diff, .. } = status else {
            panic!("{status:?}")
        };
        insta::assert_snapshot!(diff, @r"
        --- old snapshot
        +++ new transcript
        @@ -1,3 +1,3 @@
         t=+0s  a
        -t=+1s  b
        +t=+1s  B
         t=+2s  c
        ");
    }

    #[test]
    fn line_endings_and_trailing_whitespace_do_not_count() {
        let (status, ..) = check(Mode::Check, Some("a\r\nb\r\n"), false, "a\nb\n\n  ");
        assert_eq!(status, SnapshotStatus::Matched);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("crlf.snap");
        fs::write(&path, "---\r\nsource: x\r\n---\r\na\r\nb\r\n").unwrap();
        assert_eq!(read_snapshot(&path).unwrap().as_deref(), Some("a\nb"));
    }

    #[test]
    fn legacy_and_malformed_files_are_read_or_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let legacy = tmp.path().join("legacy.snap");
        fs::write(&legacy, "Created: 2019\nSource: x\n\na\nb\n").unwrap();
        assert_eq!(read_snapshot(&legacy).unwrap().as_deref(), Some("a\nb"));
        let broken = tmp.path().join("broken.snap");
        fs::write(&broken, "---\nsource: x\n").unwrap();
        let err = read_snapshot(&broken).unwrap_err();
        assert!(err.to_string().contains("has no closing `---`"), "{err}");
    }

    #[test]
    fn header_values_are_quoted_as_insta_quotes_them() {
        assert_eq!(yaml_scalar("transcript"), "transcript");
        assert_eq!(yaml_scalar("scenarios/a/b-c.toml"), "scenarios/a/b-c.toml");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("12"), "\"12\"");
        assert_eq!(yaml_scalar("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(yaml_scalar(""), "\"\"");
    }

    #[test]
    fn the_mode_follows_accept_then_insta_update_then_ci() {
        let m = |accept, update, ci, tf| Mode::from_vars(accept, update, ci, tf).unwrap();
        assert_eq!(m(true, Some("no"), Some("true"), false), Mode::Accept);
        assert_eq!(m(false, None, None, false), Mode::Pending);
        assert_eq!(m(false, None, Some("true"), false), Mode::Check);
        assert_eq!(m(false, None, Some("false"), true), Mode::Pending);
        assert_eq!(m(false, None, None, true), Mode::Check);
        assert_eq!(m(false, Some("auto"), Some("1"), false), Mode::Check);
        assert_eq!(m(false, Some("always"), Some("true"), false), Mode::Accept);
        assert_eq!(m(false, Some("force"), None, false), Mode::Accept);
        assert_eq!(m(false, Some("new"), Some("true"), false), Mode::Pending);
        assert_eq!(m(false, Some("no"), None, false), Mode::Check);
        assert_eq!(m(false, Some("unseen"), None, false), Mode::Unseen);
        let err = Mode::from_vars(false, Some("sometimes"), None, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown INSTA_UPDATE value \"sometimes\"; use auto, always, new, unseen, no or force (as insta does)"
        );
    }

    #[test]
    fn a_status_fails_a_case_unless_the_snap_now_holds_the_content() {
        assert!(!fails_case(&SnapshotStatus::Matched));
        assert!(!fails_case(&SnapshotStatus::Accepted {
            path: "a.snap".into()
        }));
        assert!(!fails_case(&SnapshotStatus::New {
            path: "a.snap".into()
        }));
        assert!(fails_case(&SnapshotStatus::New {
            path: "a.snap.new".into()
        }));
        assert!(fails_case(&SnapshotStatus::Mismatch {
            path: "a.snap".into(),
            diff: String::new()
        }));
    }

    /// Insta itself accepts a snapshot written by [`SnapshotStore::check`].
    #[test]
    fn insta_reads_what_the_store_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let s = SnapshotStore::new(tmp.path(), Mode::Accept);
        let status = s.check(NAME, TRANSCRIPT, Some(INPUT)).unwrap();
        assert!(matches!(status, SnapshotStatus::New { .. }), "{status:?}");
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(tmp.path());
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!(NAME, TRANSCRIPT));
        // Insta wrote nothing (a mismatch would leave a `.snap.new` outside CI, or panic).
        assert!(!s.pending_path_of(NAME).exists());
    }

    /// `run`'s modes: a first run records, `--strict` and CI fail a missing snapshot, and an
    /// explicit `INSTA_UPDATE` is obeyed.
    #[test]
    fn a_run_records_new_snapshots_unless_strict_or_on_ci() {
        let mode = |accept, strict, update, ci| {
            Mode::for_run_from_vars(accept, strict, update, ci, false).unwrap()
        };
        assert_eq!(mode(false, false, None, None), Mode::Unseen);
        assert_eq!(mode(false, true, None, None), Mode::Pending);
        assert_eq!(mode(false, false, None, Some("true")), Mode::Check);
        assert_eq!(mode(false, true, None, Some("true")), Mode::Check);
        assert_eq!(mode(true, true, None, Some("true")), Mode::Accept);
        assert_eq!(mode(false, false, Some("new"), None), Mode::Pending);
        assert_eq!(mode(false, false, Some("no"), None), Mode::Check);
        assert_eq!(snap_of_pending("s/a.snap.new").as_deref(), Some("s/a.snap"));
        assert_eq!(snap_of_pending("s/a.snap"), None);
    }

    const INSTA_DIR_VAR: &str = "HARNESS_TEST_INSTA_SNAPSHOT_DIR";

    /// Writes a snapshot with insta into the directory named by the environment, when
    /// [`the_store_reads_what_insta_writes`] runs this test binary again for it (insta only writes
    /// a `.snap` with `INSTA_UPDATE=always`, and this crate cannot set the environment of its
    /// own process safely). Run on its own, it does nothing.
    #[test]
    fn insta_writes_a_snapshot_when_asked_by_the_other_test() {
        let Some(dir) = std::env::var_os(INSTA_DIR_VAR) else {
            return;
        };
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(PathBuf::from(dir));
        settings.set_prepend_module_to_snapshot(false);
        // Insta records an input file only if it exists, relative to the workspace root.
        settings.set_input_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        let transcript = TRANSCRIPT;
        settings.bind(|| insta::assert_snapshot!(NAME, transcript));
    }

    /// [`SnapshotStore::check`] matches a snapshot written by insta, and insta's file is the
    /// same bytes as the store's.
    #[test]
    fn the_store_reads_what_insta_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "snapshot::tests::insta_writes_a_snapshot_when_asked_by_the_other_test",
                "--exact",
                "--test-threads=1",
            ])
            .env(INSTA_DIR_VAR, tmp.path())
            .env("INSTA_UPDATE", "always")
            // So that insta does not ask `cargo metadata` where the workspace is.
            .env(
                "INSTA_WORKSPACE_ROOT",
                Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap(),
            )
            .env_remove("INSTA_FORCE_PASS")
            .output()
            .unwrap();
        assert!(
            child.status.success(),
            "{}{}",
            String::from_utf8_lossy(&child.stdout),
            String::from_utf8_lossy(&child.stderr)
        );
        let s = SnapshotStore::new(tmp.path(), Mode::Check);
        let written = fs::read_to_string(s.path_of(NAME)).unwrap();
        assert_eq!(
            s.check(NAME, TRANSCRIPT, Some(INPUT)).unwrap(),
            SnapshotStatus::Matched
        );
        // Byte for byte what the store writes with the same header values.
        let ours = render(
            "harness/src/snapshot.rs",
            "transcript",
            Some("harness/Cargo.toml"),
            TRANSCRIPT,
        );
        assert_eq!(written, ours);
    }
}
