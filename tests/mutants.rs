//! The mutation score as a test: `cargo test --test mutants`.
//!
//! Every broken variant — the five of `reference_flows()` and the mutants of
//! `harness::flows::mutants` — runs against the whole suite (every case its manifest makes it
//! take, and the laws of its trigger), in-process and without snapshots.
//!
//! - `mutant::<name>`: the variant is caught by a behavioural check or law (an expectation, an
//!   effect, an export check, a law: never only by the subscription precondition, the manifest's
//!   declared trigger or a snapshot), and each catch it commits to (`caught_by`: a case and the
//!   check that fires there) does fire. A catch by another check, or none, fails the trial, as
//!   wasmtime's `should_fail` tests do.
//! - `message::<mistake>`: the three mistakes of issue 9's "done when" — a flow wired to the
//!   wrong trigger, one posting to the wrong destination, an export that drops rows downstream —
//!   each fail with a message that names the mistake.
//! - `docs::suite-md`: `docs/suite.md` — the cases, the mutation score and the catch matrix
//!   (variant × case, with the checks that fire) — is what these runs produce. `UPDATE_DOCS=1`
//!   rewrites it; otherwise a difference fails, so the page cannot drift from the suite.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use harness::check::is_behavioural;
use harness::flows::mutants::{MistakeClass, Mutant};
use harness::flows::{manifest_for, mutants, planted, reference_flows};
use harness::outcome::{CaseResult, Outcome};
use harness::replay::{Applicability, FlowUnderTest, RunOptions, applicability};
use harness::scenario::{Case, Suite};
use harness::session::{Selection, Session};
use libtest_mimic::{Arguments, Failed, Trial};
use tokio::runtime::Runtime;

/// Generated timelines per law, as in `tests/suite.rs`.
const TIMELINES: u32 = 24;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the suite did to one broken variant: per case (or law) it failed, the checks that fired.
#[derive(Debug, Clone, Default)]
struct Row {
    /// Case or law id → the checks that fired there.
    fired: BTreeMap<String, BTreeSet<String>>,
    /// Cases that ran (not skipped, not for another trigger).
    ran: usize,
    /// Why the run could not start, if it could not.
    error: Option<String>,
}

impl Row {
    fn of(results: &[CaseResult]) -> Row {
        let mut row = Row::default();
        for r in results {
            if r.outcome != Outcome::Skipped {
                row.ran += 1;
            }
            // A missed SHOULD passes a run (without --strict): it is not a catch.
            if r.outcome == Outcome::Fail {
                row.fired
                    .entry(r.id.clone())
                    .or_default()
                    .extend(r.failures.iter().map(|f| f.check.clone()));
            }
        }
        row
    }

    /// (case, behavioural checks) where a behavioural check fired.
    fn behavioural(&self) -> BTreeMap<&str, Vec<&str>> {
        self.fired
            .iter()
            .filter_map(|(case, checks)| {
                let b: Vec<&str> = checks
                    .iter()
                    .map(String::as_str)
                    .filter(|c| is_behavioural(c))
                    .collect();
                (!b.is_empty()).then_some((case.as_str(), b))
            })
            .collect()
    }

    /// How many cases fired each non-behavioural check (`manifest.declared-trigger`,
    /// `subscriptions`, ...).
    fn other(&self) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for checks in self.fired.values() {
            for c in checks.iter().filter(|c| !is_behavioural(c)) {
                *out.entry(c.as_str()).or_default() += 1;
            }
        }
        out
    }
}

/// Runs `variant` against every case and the laws of its trigger.
fn run(rt: &Runtime, variant: &Mutant, cases: &[Case]) -> Row {
    let session = Session::start(
        rt.handle(),
        FlowUnderTest::InProcess(variant.flow),
        RunOptions::default(),
    );
    let mut session = match session {
        Ok(s) => s,
        Err(e) => {
            return Row {
                error: Some(format!("cannot start the runner: {e}")),
                ..Row::default()
            };
        }
    };
    session.run_cases(cases, |_| {});
    session.check_laws(TIMELINES, None, &[], |_| {});
    Row::of(session.results())
}

/// Every broken variant: the planted ones first, then the mutants.
fn variants() -> Vec<Mutant> {
    [planted(), mutants()].concat()
}

type Rows = Arc<[OnceLock<Row>]>;

fn row<'a>(rows: &'a Rows, i: usize, rt: &Runtime, variant: &Mutant, cases: &[Case]) -> &'a Row {
    rows[i].get_or_init(|| run(rt, variant, cases))
}

fn mutant_trial(
    rt: Arc<Runtime>,
    rows: Rows,
    i: usize,
    variant: Mutant,
    cases: Arc<[Case]>,
) -> Trial {
    Trial::test(format!("mutant::{}", variant.flow.name), move || {
        let row = row(&rows, i, &rt, &variant, &cases);
        if let Some(e) = &row.error {
            return Err(e.clone().into());
        }
        let mistake = variant.flow.broken.unwrap_or_default();
        let behavioural = row.behavioural();
        if behavioural.is_empty() {
            return Err(format!(
                "{} ({mistake}) is caught by no behavioural check or law in {} cases; it fired only {:?}",
                variant.flow.name, row.ran, row.other()
            )
            .into());
        }
        let missed: Vec<String> = variant
            .caught_by
            .iter()
            .filter(|c| {
                !row.fired
                    .get(c.case)
                    .is_some_and(|checks| checks.contains(c.check))
            })
            .map(|c| {
                format!(
                    "{}: {} (should see: {}); fired there: {:?}",
                    c.case,
                    c.check,
                    c.sees,
                    row.fired.get(c.case)
                )
            })
            .collect();
        if missed.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} ({mistake}): these committed catches did not fire:\n{}\nbehavioural catches: {behavioural:#?}",
                variant.flow.name,
                missed.join("\n")
            )
            .into())
        }
    })
}

/// (trial name, variant, case, check, what its `actual` must say).
const MESSAGES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "wrong-trigger",
        "teams-wired-to-refresh-succeeded",
        "datasource/refresh-failed-fires-on-permanent-failure",
        "manifest.declared-trigger",
        "declared datasource-refresh-failed, subscribed datasource-refresh-succeeded: the flow is wired to the wrong trigger",
    ),
    (
        "wrong-destination",
        "email-on-refresh-failure",
        "datasource/refresh-failed-fires-on-permanent-failure",
        "effect.destination",
        "1 e-mail and 0 Teams messages: the flow posts to the wrong destination (e-mail, expected Teams)",
    ),
    (
        "export-drops-rows",
        "export-drops-the-last-row-of-each-page",
        "paging/export-visits-every-customer-once",
        "export.rows-downstream-once",
        "rows 99, 199, 299 and 21 more ranges (24 of 2,345 rows of Customer, by CustomerId) were fetched but never reached the HTTP sink: the export loses rows on the way to its target",
    ),
];

fn message_trial(
    rt: Arc<Runtime>,
    suite: &Suite,
    (name, variant, case, check, says): (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
) -> Trial {
    let case = suite.cases.iter().find(|c| c.id == case).cloned();
    Trial::test(format!("message::{name}"), move || {
        let case = case.ok_or_else(|| Failed::from(format!("no case in scenarios/ for {name}")))?;
        let flow = harness::flows::find_flow(variant).map_err(|e| Failed::from(e.to_string()))?;
        let mut session = Session::start(
            rt.handle(),
            FlowUnderTest::InProcess(flow),
            RunOptions::default(),
        )
        .map_err(|e| Failed::from(e.to_string()))?;
        let result = session.run_case(&case);
        match result.failures.iter().find(|f| f.check == check) {
            Some(f) if f.actual == says => Ok(()),
            Some(f) => Err(format!("{check} says:\n  {}\nexpected:\n  {says}", f.actual).into()),
            None => Err(format!("{check} did not fire; failures: {:#?}", result.failures).into()),
        }
    })
}

fn docs_trial(rt: Arc<Runtime>, rows: Rows, variants: Vec<Mutant>, suite: Suite) -> Trial {
    Trial::test("docs::suite-md", move || {
        let cases: Arc<[Case]> = suite.cases.clone().into();
        let computed: Vec<&Row> = variants
            .iter()
            .enumerate()
            .map(|(i, v)| row(&rows, i, &rt, v, &cases))
            .collect();
        let page = render(&suite, &variants, &computed);
        let path = root().join("docs/suite.md");
        if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v != "0" && !v.is_empty()) {
            std::fs::write(&path, &page)
                .map_err(|e| Failed::from(format!("cannot write {}: {e}", path.display())))?;
            return Ok(());
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == page {
            Ok(())
        } else {
            let diff = similar::TextDiff::from_lines(&committed, &page)
                .unified_diff()
                .context_radius(2)
                .header("docs/suite.md (committed)", "docs/suite.md (measured)")
                .to_string();
            Err(format!(
                "docs/suite.md is not what the suite measures; review the difference and rewrite it with UPDATE_DOCS=1 cargo test --test mutants:\n{diff}"
            )
            .into())
        }
    })
}

/// The trigger a variant is for (its manifest's first).
fn trigger_of(variant: &Mutant) -> String {
    manifest_for(variant.flow.name)
        .and_then(|m| m.triggers().first().map(|t| (*t).to_owned()))
        .unwrap_or_default()
}

/// The correct reference flows that run `case`.
fn exercised_by(case: &Case) -> Vec<&'static str> {
    reference_flows()
        .into_iter()
        .filter(|f| f.broken.is_none())
        .filter(|f| {
            let handles: Vec<String> = (f.make)()
                .triggers()
                .iter()
                .map(|t| (*t).to_owned())
                .collect();
            applicability(manifest_for(f.name).as_ref(), &handles, &case.scenario)
                == Applicability::Runs
        })
        .map(|f| f.name)
        .collect()
}

const CLASSES: &[MistakeClass] = &[
    MistakeClass::Idempotency,
    MistakeClass::DeliveryOrder,
    MistakeClass::WrongDestination,
    MistakeClass::WrongContent,
    MistakeClass::WrongTrigger,
    MistakeClass::LosesRows,
    MistakeClass::Threshold,
    MistakeClass::CallLimit,
    MistakeClass::WrongOutcome,
];

fn render(suite: &Suite, variants: &[Mutant], rows: &[&Row]) -> String {
    let mut out = String::new();
    let caught = rows.iter().filter(|r| !r.behavioural().is_empty()).count();
    let _ = writeln!(
        out,
        "# The conformance suite: its cases, and the mistakes it catches\n"
    );
    let _ = writeln!(
        out,
        "<!-- Generated by `cargo test --test mutants` (tests/mutants.rs); rewrite with `UPDATE_DOCS=1 cargo test --test mutants`. Do not edit by hand. -->\n"
    );
    let _ = writeln!(
        out,
        "**Mutation score: {caught} of {} broken variants are caught by behaviour** — an expectation on what the flow did (`expect.*`: its effects, sink calls, API use, call-limit grade), a check of its effects (`effect.*`) or exports (`export.*`), or a law (`property`). A catch only by what the flow subscribed to — the subscription precondition (`subscriptions`), the manifest's declared trigger (`manifest.declared-trigger`), the events delivered to it (`expect.deliveries[i]`) — or by a snapshot does not count (snapshots are not compared here at all), nor does a missed SHOULD.\n",
        variants.len()
    );
    let _ = writeln!(
        out,
        "Each variant is a reference flow with one realistic mistake (`harness/src/flows/mutants/`), held to its reference flow's manifest, run in-process against every case of `scenarios/` its manifest makes it take and against the laws of its trigger ({TIMELINES} generated timelines each). `tests/mutants.rs` asserts, per variant, that it is caught by behaviour and that each catch it commits to (`caught_by`) fires.\n"
    );
    let _ = writeln!(out, "## By class\n");
    let _ = writeln!(out, "| Class | Variants | Caught by behaviour |");
    let _ = writeln!(out, "|---|---:|---:|");
    for class in CLASSES {
        let of: Vec<usize> = (0..variants.len())
            .filter(|&i| variants[i].class == *class)
            .collect();
        let c = of
            .iter()
            .filter(|&&i| !rows[i].behavioural().is_empty())
            .count();
        let _ = writeln!(out, "| `{}` | {} | {c} |", class.id(), of.len());
    }
    let _ = writeln!(out, "\n## Cases ({})\n", suite.cases.len());
    let _ = writeln!(
        out,
        "Every case runs in `cargo test` against the correct reference flows listed (each must pass it, snapshot included where the case takes one); `tidy::every-case-is-exercised` fails if a case has none. *Catches* counts the broken variants the case catches by behaviour.\n"
    );
    let _ = writeln!(
        out,
        "| Case | Level | Trigger | Snapshot | Exercised by | Catches |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---:|");
    for case in &suite.cases {
        let catches = rows
            .iter()
            .filter(|r| r.behavioural().contains_key(case.id.as_str()))
            .count();
        let level = case.scenario.level().map_or("?", |l| l.as_str());
        let _ = writeln!(
            out,
            "| `{}` | {level} | {} | {} | {} | {catches} |",
            case.id,
            case.triggers().join(", "),
            if case.scenario.expect.snapshot {
                "yes"
            } else {
                "no"
            },
            exercised_by(case).join(", ")
        );
    }
    let _ = writeln!(out, "\n## Catch matrix\n");
    let _ = writeln!(
        out,
        "Per broken variant, every case (or law) where a behavioural check fired, and the checks that fired there. *Also* counts the cases where only a non-behavioural check fired besides.\n"
    );
    let mut by_trigger: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, v) in variants.iter().enumerate() {
        by_trigger.entry(trigger_of(v)).or_default().push(i);
    }
    for (trigger, indices) in &by_trigger {
        let _ = writeln!(out, "### `{trigger}`\n");
        let _ = writeln!(
            out,
            "| Variant | Class | The mistake | Caught by (case: checks) | Also |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for &i in indices {
            let v = &variants[i];
            let row = rows[i];
            let caught: Vec<String> = row
                .behavioural()
                .iter()
                .map(|(case, checks)| {
                    format!(
                        "`{case}`: {}",
                        checks
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            let other: Vec<String> = row
                .other()
                .iter()
                .map(|(check, n)| format!("`{check}` ×{n}"))
                .collect();
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} |",
                v.flow.name,
                v.class.id(),
                v.flow.broken.unwrap_or_default().replace('|', "\\|"),
                if caught.is_empty() {
                    "**not caught**".to_owned()
                } else {
                    caught.join("<br>")
                },
                other.join(", ")
            );
        }
        out.push('\n');
    }
    out
}

fn main() {
    let args = Arguments::from_args();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the runtime: {e}")),
    );
    let selection = Selection {
        suite: root().join("scenarios"),
        ..Selection::default()
    };
    let suite = selection
        .load()
        .unwrap_or_else(|e| panic!("the suite does not load: {e}"));
    let variants = variants();
    let rows: Rows = (0..variants.len()).map(|_| OnceLock::new()).collect();
    let cases: Arc<[Case]> = suite.cases.clone().into();
    let mut trials: Vec<Trial> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| mutant_trial(rt.clone(), rows.clone(), i, *v, cases.clone()))
        .collect();
    trials.extend(
        MESSAGES
            .iter()
            .map(|m| message_trial(rt.clone(), &suite, *m)),
    );
    trials.push(docs_trial(rt, rows, variants, suite));
    libtest_mimic::run(&args, trials).exit();
}
