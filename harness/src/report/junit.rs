//! The JUnit XML report (`run --junit FILE`), written with `quick-junit`.
//!
//! - One `<testsuite>` per flow, named after it (a run usually has one flow; a run of several
//!   keeps them apart, and features are still grouped by `classname`).
//! - One `<testcase>` per case: `name` is the case id, `classname` its feature (the first path
//!   segment: `segment` for `segment/fires-once-per-upward-crossing`), `time` its duration.
//! - A case that fails the run has a `<failure>` with `type` `fail`, `non-strict` (a missed
//!   `SHOULD` under `--strict`) or `unexpected-pass`; its `message` is the first expectation
//!   that did not hold, and its text the requirement, every expectation (`expected:` /
//!   `actual:`), for a flow definition what it did and the end of its run history, the
//!   snapshot diff and the end of the transcript. So the report's failure count
//!   is the console's `failed` and the exit code agrees with it (see [`super::tally`]).
//! - A non-strict case (without `--strict`) and an expected failure pass; their property
//!   `outcome` says so, and the missed expectations go to `system-out` before the transcript.
//! - A skipped case has `<skipped message="reason">`.
//! - `system-out` is the transcript, `system-err` the flow's standard error; properties are
//!   `outcome`, `seed`, `flow`, `requirement` and `level`.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::console::{
    FINDINGS_MAX, RUN_HISTORY_TAIL_LINES, RUN_VALUE_CHARS_MAX, TRANSCRIPT_TAIL_LINES, shown_of,
    tail,
};
use super::runs;
use super::tally::Verdict;
use crate::outcome::{CaseResult, Outcome, SnapshotStatus};
use crate::scenario::Level;

pub use quick_junit::SerializeError as JunitError;

/// The JUnit XML report of a run.
pub fn junit(results: &[CaseResult], strict: bool) -> Result<String, JunitError> {
    let mut report = Report::new("insightsim");
    let mut suites: Vec<TestSuite> = Vec::new();
    for r in results {
        let index = match suites.iter().position(|s| s.name.as_str() == r.flow) {
            Some(i) => i,
            None => {
                let mut suite = TestSuite::new(r.flow.as_str());
                suite.add_property(Property::new("flow", r.flow.as_str()));
                suite.add_property(Property::new("strict", strict.to_string()));
                suites.push(suite);
                suites.len() - 1
            }
        };
        let suite = &mut suites[index];
        suite.time = Some(suite.time.unwrap_or_default() + r.duration);
        suite.add_test_case(test_case(r, strict));
    }
    report.add_test_suites(suites);
    report.set_time(results.iter().map(|r| r.duration).sum());
    report.to_string()
}

/// `segment` for `segment/fires-once-per-upward-crossing`.
pub fn feature_of(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

fn test_case(r: &CaseResult, strict: bool) -> TestCase {
    let verdict = Verdict::of(r, strict);
    let status = match verdict {
        Verdict::Pass | Verdict::NonStrict | Verdict::ExpectedFailure => TestCaseStatus::success(),
        Verdict::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(r.skip_reason.as_deref().unwrap_or("skipped"));
            s
        }
        Verdict::Fail | Verdict::UnexpectedPass => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let ty = match (verdict, r.outcome) {
                (Verdict::UnexpectedPass, _) => "unexpected-pass",
                (_, Outcome::NonStrict) => "non-strict",
                _ => "fail",
            };
            s.set_type(ty);
            s.set_message(failure_message(r, verdict));
            s.set_description(failure_text(r, verdict));
            s
        }
    };
    let mut case = TestCase::new(r.id.as_str(), status);
    case.set_classname(feature_of(&r.id));
    case.set_time(r.duration);
    case.add_properties([
        Property::new("outcome", verdict.name()),
        Property::new("seed", r.seed.to_string()),
        Property::new("flow", r.flow.as_str()),
        Property::new("requirement", r.requirement.as_str()),
        Property::new(
            "level",
            match r.level {
                Level::Must => "MUST",
                Level::Should => "SHOULD",
            },
        ),
    ]);
    let mut out = String::new();
    if matches!(verdict, Verdict::NonStrict | Verdict::ExpectedFailure) {
        let _ = writeln!(out, "{} (counted as passed)", verdict.name());
        expectations(&mut out, r);
        out.push('\n');
    }
    out.push_str(&r.transcript);
    if !out.is_empty() {
        case.set_system_out(out);
    }
    if let Some(stderr) = r.flow_stderr.as_deref().filter(|s| !s.is_empty()) {
        case.set_system_err(stderr);
    }
    case
}

fn failure_message(r: &CaseResult, verdict: Verdict) -> String {
    if verdict == Verdict::UnexpectedPass {
        return "listed as an expected failure, but it did not fail".into();
    }
    match r.failures.as_slice() {
        [] => r.requirement.clone(),
        [f, rest @ ..] => {
            let mut m = format!("{}: expected {}; actual {}", f.check, f.expected, f.actual);
            if !rest.is_empty() {
                let _ = write!(m, " (and {} more)", rest.len());
            }
            m
        }
    }
}

fn failure_text(r: &CaseResult, verdict: Verdict) -> String {
    let mut out = format!("requirement: {}\n", r.requirement);
    if verdict == Verdict::UnexpectedPass {
        out.push_str(
            "listed as an expected failure, but it did not fail: remove it from the list\n",
        );
    }
    expectations(&mut out, r);
    run_history(&mut out, r);
    if let Some(SnapshotStatus::Mismatch { path, diff }) = &r.snapshot {
        let _ = writeln!(out, "snapshot differs ({path}):\n{diff}");
    }
    let (lines, total) = tail(&r.transcript, TRANSCRIPT_TAIL_LINES);
    if total > 0 {
        let _ = writeln!(out, "transcript{}:", shown_of(lines.len(), total));
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "seed: {}", r.seed);
    out
}

/// A flow definition's findings and the end of its run history (see [`super::runs`]).
fn run_history(out: &mut String, r: &CaseResult) {
    if r.runs.is_empty() {
        return;
    }
    let findings = runs::findings(r);
    if !findings.is_empty() {
        out.push_str("what the flow did:\n");
        for f in findings.iter().take(FINDINGS_MAX) {
            let _ = writeln!(out, "  {f}");
        }
        if findings.len() > FINDINGS_MAX {
            let _ = writeln!(out, "  ... and {} more", findings.len() - FINDINGS_MAX);
        }
    }
    let history = runs::history(r, RUN_VALUE_CHARS_MAX);
    let (lines, total) = tail(&history, RUN_HISTORY_TAIL_LINES);
    let _ = writeln!(
        out,
        "run history, {} run(s){}:",
        r.runs.len(),
        shown_of(lines.len(), total)
    );
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
}

fn expectations(out: &mut String, r: &CaseResult) {
    for f in &r.failures {
        let _ = writeln!(
            out,
            "{}\n  expected: {}\n  actual:   {}",
            f.check, f.expected, f.actual
        );
    }
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;

    use super::*;
    use crate::report::tally::tests::result;

    /// Counts of elements in a parsed report, and the attributes of interest.
    #[derive(Debug, Default, PartialEq)]
    struct Parsed {
        suites: Vec<(String, String, String, String)>, // name, tests, failures, skipped
        cases: Vec<(String, String)>,                  // name, classname
        failure_types: Vec<String>,
        skipped_messages: Vec<String>,
        system_out: usize,
        system_err: usize,
        properties: usize,
    }

    /// Parses `xml` with quick-xml, checking that every element closes in order.
    fn parse(xml: &str) -> Parsed {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut open: Vec<String> = Vec::new();
        let mut p = Parsed::default();
        loop {
            let event = reader.read_event().unwrap();
            let (e, empty) = match &event {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(e) => {
                    let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                    assert_eq!(open.pop().as_deref(), Some(name.as_str()));
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let attr = |key: &str| {
                e.attributes()
                    .map(|a| a.unwrap())
                    .find(|a| a.key.as_ref() == key.as_bytes())
                    .map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned()
                    })
                    .unwrap_or_default()
            };
            match name.as_str() {
                "testsuite" => p.suites.push((
                    attr("name"),
                    attr("tests"),
                    attr("failures"),
                    attr("skipped"),
                )),
                "testcase" => p.cases.push((attr("name"), attr("classname"))),
                "failure" => p.failure_types.push(attr("type")),
                "skipped" => p.skipped_messages.push(attr("message")),
                "system-out" => p.system_out += 1,
                "system-err" => p.system_err += 1,
                "property" => p.properties += 1,
                _ => {}
            }
            if !empty {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        p
    }

    fn check(results: &[CaseResult], strict: bool, expected: Parsed) {
        let xml = junit(results, strict).unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert_eq!(parse(&xml), expected, "{xml}");
    }

    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn the_report_is_well_formed_xml_with_the_runs_counts() {
        let mut fail = result("segment/fires-once", Outcome::Fail, false);
        fail.transcript = "t=+0s  delivery <segment> & \"more\"\n".into();
        fail.flow_stderr = Some("panicked at 'boom'\u{1b}[0m\n".into());
        let mut other_flow = result("export/all-pages", Outcome::Pass, false);
        other_flow.flow = "broken-first-page".into();
        let results = vec![
            result("segment/passes", Outcome::Pass, false),
            fail,
            result("measure/fires", Outcome::Skipped, false),
            result("export/batches", Outcome::NonStrict, false),
            result("export/pages-with-skip", Outcome::Fail, true),
            result("export/xpass", Outcome::Pass, true),
            other_flow,
        ];
        check(
            &results,
            false,
            Parsed {
                suites: vec![
                    (s("reference-email"), s("6"), s("2"), s("1")),
                    (s("broken-first-page"), s("1"), s("0"), s("0")),
                ],
                cases: vec![
                    (s("segment/passes"), s("segment")),
                    (s("segment/fires-once"), s("segment")),
                    (s("measure/fires"), s("measure")),
                    (s("export/batches"), s("export")),
                    (s("export/pages-with-skip"), s("export")),
                    (s("export/xpass"), s("export")),
                    (s("export/all-pages"), s("export")),
                ],
                failure_types: vec![s("fail"), s("unexpected-pass")],
                skipped_messages: vec![s("the flow does not handle measure-threshold-crossed")],
                // the failure's transcript, and the non-strict and xfail notes
                system_out: 3,
                system_err: 1,
                // 2 per suite, 5 per case
                properties: 2 * 2 + 5 * 7,
            },
        );
    }

    #[test]
    fn a_missed_should_under_strict_is_a_non_strict_failure() {
        let r = result("export/batches", Outcome::NonStrict, false);
        check(
            &[r],
            true,
            Parsed {
                suites: vec![(s("reference-email"), s("1"), s("1"), s("0"))],
                cases: vec![(s("export/batches"), s("export"))],
                failure_types: vec![s("non-strict")],
                skipped_messages: vec![],
                system_out: 0,
                system_err: 0,
                properties: 2 + 5,
            },
        );
    }

    #[test]
    fn a_failure_carries_expected_actual_and_the_transcript() {
        let mut r = result("segment/fires-once", Outcome::Fail, false);
        r.transcript = "t=+0s  line one\nt=+1s  line two\n".into();
        let xml = junit(&[r], false).unwrap();
        assert!(
            xml.contains(
                "message=\"expect.deliveries[0]: expected exactly 1 delivery of \
                 segment-threshold-crossed; actual 2 deliveries\" type=\"fail\""
            ),
            "{xml}"
        );
        assert!(xml.contains("  expected: exactly 1 delivery"), "{xml}");
        assert!(
            xml.contains("transcript:\n  t=+0s  line one\n  t=+1s  line two\n"),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"seed\" value=\"42\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"level\" value=\"MUST\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn an_empty_run_is_an_empty_report() {
        let xml = junit(&[], false).unwrap();
        assert!(xml.contains("tests=\"0\""), "{xml}");
        assert_eq!(parse(&xml).suites, vec![]);
    }
}
