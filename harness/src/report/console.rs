//! The console report of `insightsim run`: one line per case, a block of detail under a
//! failure (h2spec style: the requirement, then each expectation as `expected:` / `actual:`),
//! and a closing summary line.
//!
//! ```text
//! PASS  segment/fires-once-per-upward-crossing  [reference-email]  0.03s
//! FAIL  export/pages-with-skip  [broken-first-page]  1.20s
//!     requirement: An export MUST fetch every page exactly once.
//!     expect.api.pages_complete
//!       expected: every page fetched exactly once
//!       actual:   pages 2..10 never fetched
//!     transcript (last 15 of 40 lines):
//!       ...
//!     reproduce: insightsim run --flow broken-first-page --filter export/pages-with-skip --seed 42
//!
//! skipped 2: the flow does not handle measure-threshold-crossed (--verbose lists them)
//! failed:
//!     export/pages-with-skip  [broken-first-page]
//! 1 passed, 1 failed, 2 skipped
//! ```
//!
//! Skipped cases are one line per reason at the end (each on its own line with `--verbose`).
//! Every line of a failure is cut at [`LINE_CHARS_MAX`] characters and a block at
//! [`LABELLED_LINES_MAX`] lines; the whole transcript of a failed case is written to a file
//! (with [`Console::transcripts_to`]) whose path is printed. How cases count is defined in
//! [`super::tally`].

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anstyle::{AnsiColor, Style};

use super::runs;
use super::tally::{Tally, Verdict};
use crate::outcome::{CaseResult, Outcome, SnapshotStatus};
use crate::snapshot::{is_pending_path, name_for};

/// How many lines of the transcript a failure shows (its end, where the flow went wrong or
/// stopped).
pub const TRANSCRIPT_TAIL_LINES: usize = 15;
/// How many findings of a flow's run history a failure shows (see [`crate::history`]).
pub const FINDINGS_MAX: usize = 12;
/// How many lines of a flow's run history a failure shows (its end).
pub const RUN_HISTORY_TAIL_LINES: usize = 30;
/// How much of an action's inputs or outputs the run history of a failure shows.
pub const RUN_VALUE_CHARS_MAX: usize = 100;
/// How many lines of the flow's standard error a failure shows.
pub const STDERR_TAIL_LINES: usize = 20;
/// How many lines of a snapshot diff a failure shows.
pub const DIFF_LINES_MAX: usize = 80;
/// The longest line a failure shows (longer ones are cut, saying by how much).
pub const LINE_CHARS_MAX: usize = 300;
/// The most lines an `expected:` or `actual:` block shows.
pub const LABELLED_LINES_MAX: usize = 20;

const INDENT: &str = "    ";
const INDENT2: &str = "      ";

/// Writes the console report to any writer (stdout in the CLI, a `Vec<u8>` in tests).
pub struct Console<W: Write> {
    out: W,
    color: bool,
    strict: bool,
    verbose: bool,
    reproduce: String,
    transcripts: Option<PathBuf>,
}

impl<W: Write> Console<W> {
    /// A console without colors, for a run without `--strict`, reproducing with `insightsim run`.
    pub fn new(out: W) -> Self {
        Console {
            out,
            color: false,
            strict: false,
            verbose: false,
            reproduce: "insightsim run".into(),
            transcripts: None,
        }
    }

    /// Whether every skipped case gets its own line (else one line per reason, at the end).
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// Writes the whole transcript of every failed case into `dir` (as
    /// `<flow>__<case>.transcript`) and prints its path under the failure.
    pub fn transcripts_to(mut self, dir: impl Into<PathBuf>) -> Self {
        self.transcripts = Some(dir.into());
        self
    }

    /// Colors on or off (see [`color_for_stdout`]).
    pub fn color(mut self, on: bool) -> Self {
        self.color = on;
        self
    }

    /// Whether the run is `--strict` (a missed `SHOULD` is then a `FAIL`).
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// The command a failure's `reproduce:` line starts with; `--filter <case> --seed N`
    /// follows it (for a law, the scenario file its minimal failing timeline was written to).
    /// Give it every flag of the run that matters: `insightsim run --flow reference-email
    /// --strict`.
    pub fn reproduce_with(mut self, command_prefix: impl Into<String>) -> Self {
        self.reproduce = command_prefix.into();
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// One line for the case, and a block of detail when it failed, missed a `SHOULD` or passed
    /// unexpectedly.
    pub fn case(&mut self, r: &CaseResult) -> io::Result<()> {
        let verdict = Verdict::of(r, self.strict);
        if verdict == Verdict::Skipped && !self.verbose {
            return Ok(());
        }
        let label = self.paint(label_style(verdict), verdict.label());
        write!(self.out, "{label}  {}  [{}]", r.id, r.flow)?;
        match verdict {
            Verdict::Skipped => {
                let reason = r.skip_reason.as_deref().unwrap_or("no reason given");
                writeln!(self.out, "  ({reason})")?;
            }
            _ => writeln!(self.out, "  {:.2}s", r.duration.as_secs_f64())?,
        }
        for note in &r.notes {
            writeln!(self.out, "{INDENT}note: {}", cut_line(note))?;
        }
        match verdict {
            Verdict::Fail => {
                self.requirement(r)?;
                if r.outcome == crate::outcome::Outcome::NonStrict {
                    writeln!(
                        self.out,
                        "{INDENT}(a missed SHOULD fails the run under --strict)"
                    )?;
                }
                self.failures(r)?;
                self.runs(r)?;
                self.transcript(r)?;
                self.stderr(r)?;
                self.snapshot(r)?;
                self.reproduce(r)?;
            }
            Verdict::UnexpectedPass => {
                self.requirement(r)?;
                writeln!(
                    self.out,
                    "{INDENT}listed as an expected failure, but it did not fail: \
                     remove it from the expected-failure list"
                )?;
                self.snapshot(r)?;
                self.reproduce(r)?;
            }
            Verdict::NonStrict => {
                self.requirement(r)?;
                self.failures(r)?;
                self.snapshot(r)?;
                self.reproduce(r)?;
            }
            Verdict::Pass | Verdict::ExpectedFailure | Verdict::Skipped => self.snapshot(r)?,
        }
        Ok(())
    }

    /// The list of cases that failed the run, then the closing line
    /// (`12 passed, 1 failed, 3 skipped, 1 non-strict`), which is always the last line.
    pub fn summary(&mut self, results: &[CaseResult], strict: bool) -> io::Result<()> {
        let failed: Vec<&CaseResult> = results.iter().filter(|r| r.fails_run(strict)).collect();
        writeln!(self.out)?;
        if !self.verbose {
            for (reason, n) in skip_reasons(results) {
                writeln!(self.out, "skipped {n}: {reason} (--verbose lists them)")?;
            }
        }
        if !failed.is_empty() {
            writeln!(self.out, "failed:")?;
            for r in failed {
                let note = match Verdict::of(r, strict) {
                    Verdict::UnexpectedPass => "  (unexpected pass)",
                    _ => "",
                };
                writeln!(self.out, "{INDENT}{}  [{}]{note}", r.id, r.flow)?;
            }
        }
        writeln!(self.out, "{}", Tally::of(results, strict))
    }

    fn requirement(&mut self, r: &CaseResult) -> io::Result<()> {
        writeln!(self.out, "{INDENT}requirement: {}", r.requirement)
    }

    fn failures(&mut self, r: &CaseResult) -> io::Result<()> {
        if r.outcome == Outcome::Skipped {
            return Ok(());
        }
        for f in &r.failures {
            writeln!(self.out, "{INDENT}{}", f.check)?;
            write_labelled(&mut self.out, "expected: ", &f.expected)?;
            write_labelled(&mut self.out, "actual:   ", &f.actual)?;
        }
        Ok(())
    }

    /// For a flow that keeps a run history (a flow definition): what a flow maker should read
    /// first (each run's findings), then the end of the run history.
    fn runs(&mut self, r: &CaseResult) -> io::Result<()> {
        if r.runs.is_empty() {
            return Ok(());
        }
        let findings = runs::findings(r);
        if !findings.is_empty() {
            writeln!(self.out, "{INDENT}what the flow did:")?;
            for f in findings.iter().take(FINDINGS_MAX) {
                writeln!(self.out, "{INDENT2}{f}")?;
            }
            if findings.len() > FINDINGS_MAX {
                writeln!(
                    self.out,
                    "{INDENT2}... and {} more",
                    findings.len() - FINDINGS_MAX
                )?;
            }
        }
        let history = runs::history(r, RUN_VALUE_CHARS_MAX);
        let (lines, total) = tail(&history, RUN_HISTORY_TAIL_LINES);
        writeln!(
            self.out,
            "{INDENT}run history, {} run(s){}:",
            r.runs.len(),
            shown_of(lines.len(), total)
        )?;
        for line in lines {
            writeln!(self.out, "{INDENT2}{line}")?;
        }
        Ok(())
    }

    fn transcript(&mut self, r: &CaseResult) -> io::Result<()> {
        let (lines, total) = tail(&r.transcript, TRANSCRIPT_TAIL_LINES);
        if total == 0 {
            return writeln!(
                self.out,
                "{INDENT}transcript: (empty: the flow did nothing visible)"
            );
        }
        writeln!(
            self.out,
            "{INDENT}transcript{}:",
            shown_of(lines.len(), total)
        )?;
        for line in lines {
            writeln!(self.out, "{INDENT2}{}", cut_line(line))?;
        }
        if let Some(dir) = &self.transcripts {
            let path = dir.join(format!("{}.transcript", name_for(&r.flow, &r.id)));
            let written =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &r.transcript));
            match written {
                Ok(()) => writeln!(self.out, "{INDENT}full transcript: {}", path.display())?,
                Err(e) => writeln!(
                    self.out,
                    "{INDENT}(the full transcript could not be written to {}: {e})",
                    path.display()
                )?,
            }
        }
        Ok(())
    }

    fn stderr(&mut self, r: &CaseResult) -> io::Result<()> {
        let Some(stderr) = r.flow_stderr.as_deref() else {
            return Ok(());
        };
        let (lines, total) = tail(stderr, STDERR_TAIL_LINES);
        if total == 0 {
            return Ok(());
        }
        writeln!(
            self.out,
            "{INDENT}flow stderr{}:",
            shown_of(lines.len(), total)
        )?;
        for line in lines {
            writeln!(self.out, "{INDENT2}{}", cut_line(line))?;
        }
        Ok(())
    }

    fn snapshot(&mut self, r: &CaseResult) -> io::Result<()> {
        match &r.snapshot {
            None | Some(SnapshotStatus::Matched) => Ok(()),
            Some(SnapshotStatus::New { path }) if is_pending_path(path) => writeln!(
                self.out,
                "{INDENT}snapshot: new, pending review at {path} \
                 (accept with --accept or `cargo insta review`)"
            ),
            Some(SnapshotStatus::New { path }) => {
                writeln!(self.out, "{INDENT}snapshot: new, written to {path}")
            }
            Some(SnapshotStatus::Accepted { path }) => {
                writeln!(self.out, "{INDENT}snapshot: changed, accepted into {path}")
            }
            Some(SnapshotStatus::Mismatch { path, diff }) => {
                if is_pending_path(path) {
                    writeln!(
                        self.out,
                        "{INDENT}snapshot: differs; the new one is pending review at {path} \
                         (accept with --accept or `cargo insta review`)"
                    )?;
                } else {
                    writeln!(
                        self.out,
                        "{INDENT}snapshot: differs from {path} (nothing written)"
                    )?;
                }
                let total = diff.lines().count();
                for line in diff.lines().take(DIFF_LINES_MAX) {
                    let style = diff_style(line);
                    let line = self.paint(style, &cut_line(line));
                    writeln!(self.out, "{INDENT2}{line}")?;
                }
                if total > DIFF_LINES_MAX {
                    writeln!(
                        self.out,
                        "{INDENT2}... {} more diff lines",
                        total - DIFF_LINES_MAX
                    )?;
                }
                Ok(())
            }
        }
    }

    fn reproduce(&mut self, r: &CaseResult) -> io::Result<()> {
        match &r.replay_file {
            Some(file) => writeln!(
                self.out,
                "{INDENT}reproduce: {} {}",
                self.reproduce,
                shell_word(file)
            ),
            None => writeln!(
                self.out,
                "{INDENT}reproduce: {} --filter {} --seed {}",
                self.reproduce, r.id, r.seed
            ),
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }
}

/// Whether the console should use colors on standard output: when it is a terminal and
/// `NO_COLOR` is unset or empty (<https://no-color.org>).
pub fn color_for_stdout() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The message of the progress bar of a long run: `[3/40] segment/fires-once-per-upward-crossing`.
pub fn progress_message(done: usize, total: usize, current: &str) -> String {
    format!("[{done}/{total}] {current}")
}

/// The last `n` lines of `text` (trailing blank lines dropped), and how many lines it has.
pub(crate) fn tail(text: &str, n: usize) -> (Vec<&str>, usize) {
    let text = text.trim_end_matches(['\n', '\r']);
    if text.is_empty() {
        return (Vec::new(), 0);
    }
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    (lines[total.saturating_sub(n)..].to_vec(), total)
}

/// ` (last 15 of 40 lines)` when lines were left out, else nothing.
pub(crate) fn shown_of(shown: usize, total: usize) -> String {
    if shown < total {
        format!(" (last {shown} of {total} lines)")
    } else {
        String::new()
    }
}

/// `      expected: first line`, continuation lines aligned under the first; each line cut at
/// [`LINE_CHARS_MAX`], the block at [`LABELLED_LINES_MAX`] lines.
fn write_labelled(out: &mut impl Write, label: &str, text: &str) -> io::Result<()> {
    let mut lines = text.lines();
    writeln!(
        out,
        "{INDENT2}{label}{}",
        cut_line(lines.next().unwrap_or(""))
    )?;
    let pad = " ".repeat(label.len());
    let rest: Vec<&str> = lines.collect();
    for line in rest.iter().take(LABELLED_LINES_MAX - 1) {
        writeln!(out, "{INDENT2}{pad}{}", cut_line(line))?;
    }
    if rest.len() >= LABELLED_LINES_MAX {
        writeln!(
            out,
            "{INDENT2}{pad}... {} more lines",
            rest.len() + 1 - LABELLED_LINES_MAX
        )?;
    }
    Ok(())
}

/// `line`, or its first [`LINE_CHARS_MAX`] characters and how many were left out.
pub(crate) fn cut_line(line: &str) -> String {
    match line.char_indices().nth(LINE_CHARS_MAX) {
        Some((cut, _)) => format!(
            "{}… ({} more characters)",
            &line[..cut],
            line[cut..].chars().count()
        ),
        None => line.to_owned(),
    }
}

/// `text` as one word of a POSIX shell command line (quoted when it needs to be).
pub fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The reasons cases were skipped, each with how many, in order of first appearance.
fn skip_reasons(results: &[CaseResult]) -> Vec<(String, usize)> {
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for r in results.iter().filter(|r| r.outcome == Outcome::Skipped) {
        let reason = r
            .skip_reason
            .clone()
            .unwrap_or_else(|| "no reason given".into());
        match reasons.iter_mut().find(|(k, _)| *k == reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((reason, 1)),
        }
    }
    reasons
}

fn label_style(v: Verdict) -> Style {
    match v {
        Verdict::Pass => AnsiColor::Green.on_default(),
        Verdict::NonStrict | Verdict::ExpectedFailure => AnsiColor::Yellow.on_default(),
        Verdict::Fail | Verdict::UnexpectedPass => AnsiColor::Red.on_default().bold(),
        Verdict::Skipped => Style::new().dimmed(),
    }
}

fn diff_style(line: &str) -> Style {
    if line.starts_with("+++") || line.starts_with("---") {
        Style::new().bold()
    } else if line.starts_with('+') {
        AnsiColor::Green.on_default()
    } else if line.starts_with('-') {
        AnsiColor::Red.on_default()
    } else if line.starts_with("@@") {
        AnsiColor::Cyan.on_default()
    } else {
        Style::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::report::tally::tests::result;

    fn check(r: &CaseResult, strict: bool, expected: &str) {
        let mut console = Console::new(Vec::new())
            .strict(strict)
            .reproduce_with("insightsim run --flow reference-email");
        console.case(r).unwrap();
        let text = String::from_utf8(console.into_inner()).unwrap();
        assert_eq!(text, expected, "\n{text}");
    }

    fn transcript(n: usize) -> String {
        (0..n)
            .map(|i| format!("t=+{i}s  delivery segment-threshold-crossed #{i}\n"))
            .collect()
    }

    #[test]
    fn a_pass_is_one_line() {
        check(
            &result(
                "segment/fires-once-per-upward-crossing",
                Outcome::Pass,
                false,
            ),
            false,
            "PASS  segment/fires-once-per-upward-crossing  [reference-email]  0.03s\n",
        );
    }

    #[test]
    fn a_skip_is_one_line_with_its_reason_only_when_verbose() {
        let r = result("measure/fires", Outcome::Skipped, false);
        check(&r, false, "");
        let mut console = Console::new(Vec::new()).verbose(true);
        console.case(&r).unwrap();
        assert_eq!(
            String::from_utf8(console.into_inner()).unwrap(),
            "SKIP  measure/fires  [reference-email]  \
             (the flow does not handle measure-threshold-crossed)\n"
        );
    }

    #[test]
    fn skipped_cases_are_one_summary_line_per_reason() {
        let results: Vec<CaseResult> = (0..22)
            .map(|i| result(&format!("m/{i}"), Outcome::Skipped, false))
            .chain([result("a/pass", Outcome::Pass, false)])
            .collect();
        let mut console = Console::new(Vec::new());
        for r in &results {
            console.case(r).unwrap();
        }
        console.summary(&results, false).unwrap();
        assert_eq!(
            String::from_utf8(console.into_inner()).unwrap(),
            "PASS  a/pass  [reference-email]  0.03s\n\n\
             skipped 22: the flow does not handle measure-threshold-crossed (--verbose lists them)\n\
             1 passed, 0 failed, 22 skipped\n"
        );
    }

    #[test]
    fn long_failure_lines_are_cut_and_the_full_transcript_goes_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = result("segment/fires-once", Outcome::Fail, false);
        r.failures[0].actual = "x".repeat(388_251);
        r.transcript = format!("{}\n", "y".repeat(10_000));
        let mut console = Console::new(Vec::new()).transcripts_to(dir.path());
        console.case(&r).unwrap();
        let text = String::from_utf8(console.into_inner()).unwrap();
        let longest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(longest < LINE_CHARS_MAX + 60, "{longest}");
        assert!(text.contains("… (387951 more characters)"), "{text}");
        let file = dir
            .path()
            .join("reference-email__segment__fires-once.transcript");
        assert!(
            text.contains(&format!("full transcript: {}", file.display())),
            "{text}"
        );
        assert_eq!(std::fs::read_to_string(file).unwrap(), r.transcript);
    }

    #[test]
    fn a_law_is_reproduced_by_replaying_its_written_file() {
        let mut r = result("property/every-page-fetched-once", Outcome::Fail, false);
        r.replay_file = Some("property-failures/every page.toml".into());
        let text = render(&r, false);
        assert!(
            text.contains(
                "reproduce: insightsim run --flow reference-email 'property-failures/every page.toml'\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn notes_follow_the_case_line() {
        let mut r = result("a/pass", Outcome::Pass, false);
        r.notes.push("the flow acted late".into());
        check(
            &r,
            false,
            "PASS  a/pass  [reference-email]  0.03s\n    note: the flow acted late\n",
        );
    }

    #[test]
    fn a_failure_shows_requirement_expectations_transcript_stderr_and_how_to_reproduce() {
        let mut r = result("segment/fires-once", Outcome::Fail, false);
        r.transcript = transcript(20);
        r.flow_stderr = Some("starting\nlistening on 127.0.0.1:4000\n\n".into());
        r.failures.push(crate::outcome::Failure {
            check: "expect.sinks[0]".into(),
            expected: "1 call to email\nwith body containing \"HighValueCustomers\"".into(),
            actual: "0 calls".into(),
        });
        insta::assert_snapshot!(render(&r, false), @r#"
        FAIL  segment/fires-once  [reference-email]  0.03s
            requirement: A segment threshold trigger MUST fire once per upward crossing.
            expect.deliveries[0]
              expected: exactly 1 delivery of segment-threshold-crossed
              actual:   2 deliveries
            expect.sinks[0]
              expected: 1 call to email
                        with body containing "HighValueCustomers"
              actual:   0 calls
            transcript (last 15 of 20 lines):
              t=+5s  delivery segment-threshold-crossed #5
              t=+6s  delivery segment-threshold-crossed #6
              t=+7s  delivery segment-threshold-crossed #7
              t=+8s  delivery segment-threshold-crossed #8
              t=+9s  delivery segment-threshold-crossed #9
              t=+10s  delivery segment-threshold-crossed #10
              t=+11s  delivery segment-threshold-crossed #11
              t=+12s  delivery segment-threshold-crossed #12
              t=+13s  delivery segment-threshold-crossed #13
              t=+14s  delivery segment-threshold-crossed #14
              t=+15s  delivery segment-threshold-crossed #15
              t=+16s  delivery segment-threshold-crossed #16
              t=+17s  delivery segment-threshold-crossed #17
              t=+18s  delivery segment-threshold-crossed #18
              t=+19s  delivery segment-threshold-crossed #19
            flow stderr:
              starting
              listening on 127.0.0.1:4000
            reproduce: insightsim run --flow reference-email --filter segment/fires-once --seed 42
        "#);
    }

    fn render(r: &CaseResult, strict: bool) -> String {
        let mut console = Console::new(Vec::new())
            .strict(strict)
            .reproduce_with("insightsim run --flow reference-email");
        console.case(r).unwrap();
        String::from_utf8(console.into_inner()).unwrap()
    }

    #[test]
    fn a_failure_with_an_empty_transcript_says_the_flow_did_nothing() {
        let r = result("export/all-pages", Outcome::Fail, false);
        assert!(
            render(&r, false).contains("    transcript: (empty: the flow did nothing visible)\n")
        );
    }

    #[test]
    fn a_snapshot_mismatch_shows_the_diff() {
        let mut r = result("segment/fires-once", Outcome::Fail, false);
        r.transcript = transcript(2);
        r.snapshot = Some(SnapshotStatus::Mismatch {
            path: "snapshots/reference-email__segment__fires-once.snap.new".into(),
            diff: "--- old snapshot\n+++ new transcript\n@@ -1,2 +1,2 @@\n t=+0s  a\n-t=+1s  b\n+t=+1s  c\n".into(),
        });
        insta::assert_snapshot!(render(&r, false), @r"
        FAIL  segment/fires-once  [reference-email]  0.03s
            requirement: A segment threshold trigger MUST fire once per upward crossing.
            expect.deliveries[0]
              expected: exactly 1 delivery of segment-threshold-crossed
              actual:   2 deliveries
            transcript:
              t=+0s  delivery segment-threshold-crossed #0
              t=+1s  delivery segment-threshold-crossed #1
            snapshot: differs; the new one is pending review at snapshots/reference-email__segment__fires-once.snap.new (accept with --accept or `cargo insta review`)
              --- old snapshot
              +++ new transcript
              @@ -1,2 +1,2 @@
               t=+0s  a
              -t=+1s  b
              +t=+1s  c
            reproduce: insightsim run --flow reference-email --filter segment/fires-once --seed 42
        ");
    }

    #[test]
    fn a_missed_should_is_non_strict_without_strict_and_a_failure_with_it() {
        let r = result("export/batches-calls", Outcome::NonStrict, false);
        insta::assert_snapshot!(render(&r, false), @r"
        NON-STRICT  export/batches-calls  [reference-email]  0.03s
            requirement: A flow SHOULD batch its calls.
            expect.deliveries[0]
              expected: exactly 1 delivery of segment-threshold-crossed
              actual:   2 deliveries
            reproduce: insightsim run --flow reference-email --filter export/batches-calls --seed 42
        ");
        let strict = render(&r, true);
        assert!(strict.starts_with("FAIL  export/batches-calls  [reference-email]  0.03s\n"));
        assert!(strict.contains("(a missed SHOULD fails the run under --strict)"));
        assert!(strict.contains("    transcript: "));
    }

    #[test]
    fn an_expected_failure_is_one_line() {
        check(
            &result("export/pages-with-skip", Outcome::Fail, true),
            false,
            "XFAIL  export/pages-with-skip  [reference-email]  0.03s\n",
        );
    }

    #[test]
    fn an_unexpected_pass_says_to_shrink_the_list() {
        let r = result("export/pages-with-skip", Outcome::Pass, true);
        insta::assert_snapshot!(render(&r, false), @r"
        XPASS  export/pages-with-skip  [reference-email]  0.03s
            requirement: A segment threshold trigger MUST fire once per upward crossing.
            listed as an expected failure, but it did not fail: remove it from the expected-failure list
            reproduce: insightsim run --flow reference-email --filter export/pages-with-skip --seed 42
        ");
    }

    #[test]
    fn a_pass_that_wrote_a_snapshot_says_where() {
        let mut r = result("segment/fires-once", Outcome::Pass, false);
        r.snapshot = Some(SnapshotStatus::New {
            path: "snapshots/a.snap.new".into(),
        });
        assert!(render(&r, false).ends_with(
            "    snapshot: new, pending review at snapshots/a.snap.new \
             (accept with --accept or `cargo insta review`)\n"
        ));
        r.snapshot = Some(SnapshotStatus::Accepted {
            path: "snapshots/a.snap".into(),
        });
        assert!(
            render(&r, false).ends_with("    snapshot: changed, accepted into snapshots/a.snap\n")
        );
    }

    #[test]
    fn colors_wrap_the_label_only_when_asked() {
        let r = result("segment/fires-once", Outcome::Pass, false);
        let mut console = Console::new(Vec::new()).color(true);
        console.case(&r).unwrap();
        let text = String::from_utf8(console.into_inner()).unwrap();
        assert_eq!(
            text,
            "\u{1b}[32mPASS\u{1b}[0m  segment/fires-once  [reference-email]  0.03s\n"
        );
    }

    #[test]
    fn the_summary_lists_failures_and_ends_with_the_counts() {
        let results = vec![
            result("a/pass", Outcome::Pass, false),
            result("a/fail", Outcome::Fail, false),
            result("a/xpass", Outcome::Pass, true),
            result("a/xfail", Outcome::Fail, true),
            result("a/should", Outcome::NonStrict, false),
            result("a/skip", Outcome::Skipped, false),
        ];
        let mut console = Console::new(Vec::new());
        console.summary(&results, false).unwrap();
        let text = String::from_utf8(console.into_inner()).unwrap();
        let text = text.strip_prefix('\n').unwrap();
        insta::assert_snapshot!(text, @r"
        skipped 1: the flow does not handle measure-threshold-crossed (--verbose lists them)
        failed:
            a/fail  [reference-email]
            a/xpass  [reference-email]  (unexpected pass)
        2 passed, 2 failed, 1 skipped, 1 non-strict, 1 expected failure, 1 unexpected pass
        ");
    }

    #[test]
    fn a_clean_summary_is_a_blank_line_and_the_counts() {
        let mut console = Console::new(Vec::new());
        console
            .summary(&[result("a/pass", Outcome::Pass, false)], true)
            .unwrap();
        assert_eq!(
            String::from_utf8(console.into_inner()).unwrap(),
            "\n1 passed, 0 failed, 0 skipped\n"
        );
    }

    #[test]
    fn progress_names_the_current_case() {
        assert_eq!(
            progress_message(3, 40, "segment/fires-once"),
            "[3/40] segment/fires-once"
        );
    }

    #[test]
    fn tail_drops_trailing_blank_lines() {
        assert_eq!(tail("a\nb\nc\n\n", 2), (vec!["b", "c"], 3));
        assert_eq!(tail("\n\n", 2), (vec![], 0));
    }
}
