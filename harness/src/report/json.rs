//! The JSON report (`run --json FILE`), for tools.
//!
//! ```json
//! {
//!   "format": 2,
//!   "insightsim": "0.1.0",
//!   "flow": "reference-email",
//!   "strict": false,
//!   "seed": null,
//!   "started": "2026-01-01T00:00:00Z",
//!   "summary": { "passed": 1, "failed": 0, "skipped": 0, "nonStrict": 0,
//!                "expectedFailures": 0, "unexpectedPasses": 0, "total": 1 },
//!   "cases": [
//!     { "id": "segment/fires-once-per-upward-crossing", "flow": "reference-email",
//!       "requirement": "...", "level": "must", "seed": 42, "outcome": "pass",
//!       "verdict": "pass", "failsRun": false, "skipReason": null, "failures": [],
//!       "duration": 0.03, "transcript": "...", "snapshot": { "status": "matched" },
//!       "flowStderr": null, "expectedFailure": false }
//!   ]
//! }
//! ```
//!
//! A case is [`CaseResult`]'s fields in camelCase (`duration` in seconds; `failures` as
//! `{check, expected, actual}`; `snapshot` tagged by `status`: `matched`, `new`, `mismatch`,
//! `accepted`), plus `verdict` and `failsRun`, which say how it counted in this run (see
//! [`super::tally`]). `seed` at the top is the `--seed` that overrode every case's, or null.
//! A flow that keeps a run history (a flow definition) adds `runs`: each run as
//! [`FlowRun`](crate::history::FlowRun) in camelCase (`id`, `trigger`, `event`, `status`,
//! `reason`, `startMs`, `endMs`, `error`, `findings`, and `actions`, each with `name`, `type`,
//! `iteration`, `status`, `code`, `attempts`, `startMs`, `endMs`, `inputs`, `outputs`, `error`,
//! `note`); ids are named as in the transcript, and an input or output over 2,000 characters of
//! JSON becomes its cut text.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::tally::{Tally, Verdict};
use crate::outcome::CaseResult;

/// What the JSON report says about the run as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMeta {
    /// The flow under test (its name, `--flow-url` or `--flow-cmd`).
    pub flow: String,
    /// `run --seed`, when given.
    pub seed: Option<u64>,
    /// `--strict`. The report counts with the `strict` argument of [`json()`]; give the same.
    pub strict: bool,
    /// When the run started, RFC 3339 (`2026-01-01T00:00:00Z`).
    pub started: String,
    /// The version of insightsim (`env!("CARGO_PKG_VERSION")` of the binary).
    pub version: String,
}

/// The report format version; bumped when a field changes meaning or goes away (2: `passed`
/// no longer includes `nonStrict`, and a case may have `notes`).
pub const JSON_FORMAT: u32 = 2;

/// The JSON report of a run.
pub fn json(results: &[CaseResult], strict: bool, meta: &RunMeta) -> Value {
    let tally = Tally::of(results, strict);
    let mut summary = serde_json::to_value(tally).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut summary {
        map.insert("total".into(), json!(tally.total()));
    }
    json!({
        "format": JSON_FORMAT,
        "insightsim": meta.version,
        "flow": meta.flow,
        "strict": strict,
        "seed": meta.seed,
        "started": meta.started,
        "summary": summary,
        "cases": results.iter().map(|r| case(r, strict)).collect::<Vec<_>>(),
    })
}

fn case(r: &CaseResult, strict: bool) -> Value {
    let verdict = Verdict::of(r, strict);
    let Ok(Value::Object(fields)) = serde_json::to_value(r) else {
        // A `CaseResult` is a struct of strings, numbers and lists: it always serializes to
        // an object.
        return Value::Null;
    };
    let mut out: Map<String, Value> = fields
        .into_iter()
        .map(|(k, v)| (camel_case(&k), v))
        .collect();
    out.insert("verdict".into(), json!(verdict));
    out.insert("failsRun".into(), json!(verdict.fails_run()));
    Value::Object(out)
}

/// `skip_reason` → `skipReason`.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Outcome, SnapshotStatus};
    use crate::report::tally::tests::result;

    fn meta() -> RunMeta {
        RunMeta {
            flow: "reference-email".into(),
            seed: Some(7),
            strict: false,
            started: "2026-01-01T00:00:00Z".into(),
            version: "0.1.0".into(),
        }
    }

    fn check(results: &[CaseResult], strict: bool, expected_summary: Value) -> Value {
        let v = json(results, strict, &meta());
        assert_eq!(v["summary"], expected_summary);
        assert_eq!(v["cases"].as_array().unwrap().len(), results.len());
        v
    }

    /// Every object key in `v`, at any depth.
    fn keys(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_report_has_the_run_the_summary_and_camel_case_cases() {
        let mut pass = result("segment/fires-once", Outcome::Pass, false);
        pass.snapshot = Some(SnapshotStatus::Matched);
        pass.transcript = "t=+0s  delivery\n".into();
        let results = vec![
            pass,
            result("measure/fires", Outcome::Skipped, false),
            result("export/batches", Outcome::NonStrict, false),
        ];
        let v = check(
            &results,
            false,
            json!({"passed": 1, "failed": 0, "skipped": 1, "nonStrict": 1,
                   "expectedFailures": 0, "unexpectedPasses": 0, "total": 3}),
        );
        assert_eq!(v["format"], 2);
        assert_eq!(v["insightsim"], "0.1.0");
        assert_eq!(v["flow"], "reference-email");
        assert_eq!(v["strict"], false);
        assert_eq!(v["seed"], 7);
        assert_eq!(v["started"], "2026-01-01T00:00:00Z");
        assert_eq!(
            v["cases"][0],
            json!({
                "id": "segment/fires-once",
                "flow": "reference-email",
                "requirement": "A segment threshold trigger MUST fire once per upward crossing.",
                "level": "must",
                "seed": 42,
                "outcome": "pass",
                "verdict": "pass",
                "failsRun": false,
                "skipReason": null,
                "failures": [],
                "duration": 0.03,
                "transcript": "t=+0s  delivery\n",
                "snapshot": {"status": "matched"},
                "flowStderr": null,
                "expectedFailure": false,
            })
        );
        assert_eq!(
            v["cases"][1]["skipReason"],
            "the flow does not handle measure-threshold-crossed"
        );
        assert_eq!(v["cases"][2]["verdict"], "non-strict");
        assert_eq!(
            v["cases"][2]["failures"][0],
            json!({"check": "expect.deliveries[0]",
                   "expected": "exactly 1 delivery of segment-threshold-crossed",
                   "actual": "2 deliveries"})
        );
        let mut all = Vec::new();
        keys(&v, &mut all);
        assert!(all.iter().all(|k| !k.contains('_')), "{all:?}");
    }

    #[test]
    fn counts_follow_strict_and_the_expected_failure_list() {
        let results = vec![
            result("a/should", Outcome::NonStrict, false),
            result("a/xfail", Outcome::Fail, true),
            result("a/xpass", Outcome::Pass, true),
        ];
        let v = check(
            &results,
            true,
            json!({"passed": 1, "failed": 2, "skipped": 0, "nonStrict": 0,
                   "expectedFailures": 1, "unexpectedPasses": 1, "total": 3}),
        );
        assert_eq!(v["strict"], true);
        let verdicts: Vec<&str> = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["verdict"].as_str().unwrap())
            .collect();
        assert_eq!(verdicts, ["fail", "expected-failure", "unexpected-pass"]);
        assert_eq!(v["cases"][0]["failsRun"], true);
    }

    #[test]
    fn snake_case_becomes_camel_case() {
        assert_eq!(camel_case("flow_stderr"), "flowStderr");
        assert_eq!(camel_case("expected_failure"), "expectedFailure");
        assert_eq!(camel_case("id"), "id");
    }
}
