//! How results count: the verdict of one case, the totals of a run, and the exit code.
//!
//! Every report (console, JUnit, JSON) and the exit code take their numbers from here, so they
//! always agree. The rules:
//!
//! | outcome      | on the expected-failure list? | without `--strict` | with `--strict` |
//! |--------------|-------------------------------|--------------------|-----------------|
//! | `pass`       | no                            | passed             | passed          |
//! | `non-strict` | no                            | non-strict         | **failed**      |
//! | `fail`       | no                            | failed             | failed          |
//! | `skipped`    | either                        | skipped            | skipped         |
//! | `fail`       | yes                           | passed, expected failure (XFAIL) | same |
//! | `non-strict` | yes                           | **failed**, unexpected pass (XPASS) | passed, expected failure |
//! | `pass`       | yes                           | **failed**, unexpected pass (XPASS) | same |
//!
//! So `passed + non-strict + failed + skipped` is the number of cases: a missed `SHOULD` is
//! counted on its own, never as passed (it did not pass; it only does not fail the run without
//! `--strict`). `expected failures` are a part of `passed`, and `unexpected passes` a part of
//! `failed`. A run fails (exit code
//! 1) exactly when `failed` is not zero, which is when some result [`CaseResult::fails_run`].

use std::fmt;

use serde::Serialize;

use crate::outcome::{CaseResult, Outcome};

/// How one case counts in a run, given `--strict` and the expected-failure list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// A missed `SHOULD`, without `--strict`: counted on its own; does not fail the run.
    NonStrict,
    /// A missed `MUST`, or a missed `SHOULD` under `--strict`.
    Fail,
    Skipped,
    /// On the expected-failure list, and it failed: counts as passed.
    ExpectedFailure,
    /// On the expected-failure list, and it did not fail: counts as failed, so the list only
    /// shrinks.
    UnexpectedPass,
}

impl Verdict {
    /// The verdict of `result` in a run with or without `--strict`.
    pub fn of(result: &CaseResult, strict: bool) -> Verdict {
        let failed = match result.outcome {
            Outcome::Pass => false,
            Outcome::NonStrict => strict,
            Outcome::Fail => true,
            Outcome::Skipped => return Verdict::Skipped,
        };
        match (result.expected_failure, failed) {
            (true, true) => Verdict::ExpectedFailure,
            (true, false) => Verdict::UnexpectedPass,
            (false, true) => Verdict::Fail,
            (false, false) if result.outcome == Outcome::NonStrict => Verdict::NonStrict,
            (false, false) => Verdict::Pass,
        }
    }

    /// Whether the verdict fails the run.
    pub fn fails_run(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::UnexpectedPass)
    }

    /// The name in the JSON and JUnit reports: `pass`, `non-strict`, `fail`, `skipped`,
    /// `expected-failure`, `unexpected-pass`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NonStrict => "non-strict",
            Verdict::Fail => "fail",
            Verdict::Skipped => "skipped",
            Verdict::ExpectedFailure => "expected-failure",
            Verdict::UnexpectedPass => "unexpected-pass",
        }
    }

    /// The console label: `PASS`, `NON-STRICT`, `FAIL`, `SKIP`, `XFAIL`, `XPASS`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Fail => "FAIL",
            Verdict::Skipped => "SKIP",
            Verdict::ExpectedFailure => "XFAIL",
            Verdict::UnexpectedPass => "XPASS",
        }
    }
}

/// The totals of a run (see the module docs for what counts where).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Missed `SHOULD`s, which do not fail the run (always 0 under `--strict`).
    pub non_strict: usize,
    /// Listed cases that failed, counted as passed.
    pub expected_failures: usize,
    /// Listed cases that did not fail, counted as failed.
    pub unexpected_passes: usize,
}

impl Tally {
    pub fn of(results: &[CaseResult], strict: bool) -> Tally {
        let mut t = Tally::default();
        for r in results {
            match Verdict::of(r, strict) {
                Verdict::Pass => t.passed += 1,
                Verdict::NonStrict => t.non_strict += 1,
                Verdict::Fail => t.failed += 1,
                Verdict::Skipped => t.skipped += 1,
                Verdict::ExpectedFailure => {
                    t.passed += 1;
                    t.expected_failures += 1;
                }
                Verdict::UnexpectedPass => {
                    t.failed += 1;
                    t.unexpected_passes += 1;
                }
            }
        }
        t
    }

    pub fn total(&self) -> usize {
        self.passed + self.non_strict + self.failed + self.skipped
    }
}

/// The summary line: `12 passed, 1 failed, 3 skipped`, then `, N non-strict`,
/// `, N expected failures` and `, N unexpected passes` when they are not zero.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )?;
        if self.non_strict > 0 {
            write!(f, ", {} non-strict", self.non_strict)?;
        }
        if self.expected_failures > 0 {
            let s = plural(
                self.expected_failures,
                "expected failure",
                "expected failures",
            );
            write!(f, ", {} {s}", self.expected_failures)?;
        }
        if self.unexpected_passes > 0 {
            let s = plural(
                self.unexpected_passes,
                "unexpected pass",
                "unexpected passes",
            );
            write!(f, ", {} {s}", self.unexpected_passes)?;
        }
        Ok(())
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// The exit code of `insightsim run` for these results: 0 when no result fails the run, else 1.
/// (2, for usage errors, is the CLI's.)
pub fn exit_code(results: &[CaseResult], strict: bool) -> u8 {
    u8::from(results.iter().any(|r| r.fails_run(strict)))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::outcome::Failure;
    use crate::scenario::Level;

    /// A result for tests: `outcome` of case `id` of flow `reference-email`, listed as an expected
    /// failure when `xfail`.
    pub(crate) fn result(id: &str, outcome: Outcome, xfail: bool) -> CaseResult {
        let failures = match outcome {
            Outcome::Fail | Outcome::NonStrict => vec![Failure {
                check: "expect.deliveries[0]".into(),
                expected: "exactly 1 delivery of segment-threshold-crossed".into(),
                actual: "2 deliveries".into(),
            }],
            Outcome::Pass | Outcome::Skipped => vec![],
        };
        CaseResult {
            id: id.into(),
            flow: "reference-email".into(),
            requirement: match outcome {
                Outcome::NonStrict => "A flow SHOULD batch its calls.".into(),
                _ => "A segment threshold trigger MUST fire once per upward crossing.".into(),
            },
            level: match outcome {
                Outcome::NonStrict => Level::Should,
                _ => Level::Must,
            },
            seed: 42,
            outcome,
            skip_reason: (outcome == Outcome::Skipped)
                .then(|| "the flow does not handle measure-threshold-crossed".into()),
            failures,
            duration: Duration::from_millis(30),
            transcript: String::new(),
            snapshot: None,
            flow_stderr: None,
            expected_failure: xfail,
            calls: Default::default(),
            notes: Vec::new(),
            deliveries: Vec::new(),
            replay_file: None,
            runs: Vec::new(),
        }
    }

    const OUTCOMES: [Outcome; 4] = [
        Outcome::Pass,
        Outcome::NonStrict,
        Outcome::Fail,
        Outcome::Skipped,
    ];

    fn check(outcomes: &[(Outcome, bool)], strict: bool, summary: &str, exit: u8) {
        let results: Vec<CaseResult> = outcomes
            .iter()
            .enumerate()
            .map(|(i, &(o, x))| result(&format!("f/{i}"), o, x))
            .collect();
        let tally = Tally::of(&results, strict);
        assert_eq!(tally.to_string(), summary);
        assert_eq!(tally.total(), results.len());
        assert_eq!(exit_code(&results, strict), exit);
    }

    #[test]
    fn verdicts_fail_the_run_exactly_when_the_case_result_says_so() {
        for outcome in OUTCOMES {
            for xfail in [false, true] {
                for strict in [false, true] {
                    let r = result("f/x", outcome, xfail);
                    let v = Verdict::of(&r, strict);
                    assert_eq!(
                        v.fails_run(),
                        r.fails_run(strict),
                        "{outcome:?} {xfail} {strict}"
                    );
                }
            }
        }
    }

    #[test]
    fn summary_counts_every_case_once() {
        use Outcome::*;
        check(&[], false, "0 passed, 0 failed, 0 skipped", 0);
        check(
            &[
                (Pass, false),
                (Pass, false),
                (Fail, false),
                (Skipped, false),
            ],
            false,
            "2 passed, 1 failed, 1 skipped",
            1,
        );
    }

    #[test]
    fn non_strict_counts_on_its_own_without_strict_and_as_failed_with_it() {
        use Outcome::*;
        let cases = [(Pass, false), (NonStrict, false)];
        check(
            &cases,
            false,
            "1 passed, 0 failed, 0 skipped, 1 non-strict",
            0,
        );
        check(&cases, true, "1 passed, 1 failed, 0 skipped", 1);
    }

    #[test]
    fn an_expected_failure_counts_as_passed_and_an_unexpected_pass_as_failed() {
        use Outcome::*;
        check(
            &[(Fail, true), (Fail, true), (Pass, false)],
            false,
            "3 passed, 0 failed, 0 skipped, 2 expected failures",
            0,
        );
        check(
            &[(Pass, true), (Fail, true)],
            false,
            "1 passed, 1 failed, 0 skipped, 1 expected failure, 1 unexpected pass",
            1,
        );
        check(
            &[(Pass, true), (Pass, true)],
            true,
            "0 passed, 2 failed, 0 skipped, 2 unexpected passes",
            1,
        );
    }

    #[test]
    fn a_listed_non_strict_case_is_an_unexpected_pass_unless_strict() {
        use Outcome::*;
        check(
            &[(NonStrict, true)],
            false,
            "0 passed, 1 failed, 0 skipped, 1 unexpected pass",
            1,
        );
        check(
            &[(NonStrict, true)],
            true,
            "1 passed, 0 failed, 0 skipped, 1 expected failure",
            0,
        );
    }

    #[test]
    fn a_listed_case_that_was_skipped_is_just_skipped() {
        check(
            &[(Outcome::Skipped, true)],
            true,
            "0 passed, 0 failed, 1 skipped",
            0,
        );
    }
}
