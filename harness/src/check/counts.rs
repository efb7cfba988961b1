//! Counted expectations: events delivered per trigger, sink calls (filtered by text or JSON),
//! and the worst call-limit grade.

use std::collections::BTreeSet;

/// How many sink calls a failed sink expectation lists.
const SINK_CALLS_LISTED: usize = 5;

use simulator::engine::DeliveryStatus;
use simulator::rate_limit::Grade;

use super::words::sink_name;
use crate::outcome::Failure;
use crate::replay::CaseRun;
use crate::replay::sinks::SinkCall;
use crate::scenario::{Expect, GradeExpect, SinkExpect, SinkKind};
use crate::text::cut;

pub(super) fn check(expect: &Expect, run: &CaseRun) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (i, d) in expect.deliveries.iter().enumerate() {
        let delivered: BTreeSet<&str> = run
            .deliveries
            .iter()
            .filter(|v| v.trigger.id() == d.trigger && v.status == DeliveryStatus::Delivered)
            .map(|v| v.event_id.as_str())
            .collect();
        let occurred = run
            .events
            .iter()
            .filter(|e| e.trigger.id() == d.trigger)
            .count();
        let n = delivered.len() as u64;
        if !d.bounds().admits(n) {
            failures.push(Failure {
                check: format!("expect.deliveries[{i}]"),
                expected: format!("{} {} event(s) delivered", d.bounds().describe(), d.trigger),
                actual: format!("{n} delivered ({occurred} occurred)"),
            });
        }
    }
    for (i, s) in expect.sinks.iter().enumerate() {
        let matching = run.sink_calls.iter().filter(|c| sink_matches(s, c)).count() as u64;
        if !s.bounds().admits(matching) {
            // A few calls say what the flow posted; an export's thousands would bury the report.
            let mut all: Vec<String> = run
                .sink_calls
                .iter()
                .take(SINK_CALLS_LISTED)
                .map(|c| format!("{:?} {}", c.sink, cut(&c.body, 120)))
                .collect();
            if run.sink_calls.len() > SINK_CALLS_LISTED {
                all.push(format!(
                    "and {} more",
                    run.sink_calls.len() - SINK_CALLS_LISTED
                ));
            }
            failures.push(Failure {
                check: format!("expect.sinks[{i}]"),
                expected: format!(
                    "{} matching {} call(s){}",
                    s.bounds().describe(),
                    sink_name(s.sink),
                    sink_filter(s)
                ),
                actual: if all.is_empty() {
                    "no sink call".to_owned()
                } else {
                    format!(
                        "{matching} matching of {}; calls: {}",
                        run.sink_calls.len(),
                        all.join(" | ")
                    )
                },
            });
        }
    }
    if let Some(want) = expect.rate_limit_grade {
        failures.extend(grade(want, run));
    }
    failures
}

fn grade(want: GradeExpect, run: &CaseRun) -> Option<Failure> {
    let worst = run
        .grades
        .iter()
        .map(|g| g.grade)
        .max_by_key(|g| grade_rank(*g));
    let limit = match want {
        GradeExpect::Ok => 0,
        GradeExpect::NonStrict => 1,
    };
    let g = worst?;
    (grade_rank(g) > limit).then(|| {
        let reasons: Vec<String> = run
            .grades
            .iter()
            .filter(|r| grade_rank(r.grade) > limit)
            .map(|r| format!("{}: {}", r.connection, r.reason))
            .collect();
        Failure {
            check: "expect.rate_limit_grade".to_owned(),
            expected: format!(
                "call-limit grade {}",
                if limit == 0 { "ok" } else { "ok or non-strict" }
            ),
            actual: reasons.join("; "),
        }
    })
}

fn grade_rank(g: Grade) -> u8 {
    match g {
        Grade::Ok => 0,
        Grade::NonStrict => 1,
        Grade::Fail => 2,
    }
}

fn sink_filter(s: &SinkExpect) -> String {
    let mut parts = Vec::new();
    if let Some(text) = &s.body_contains {
        parts.push(format!("whose body contains \"{text}\""));
    }
    for (pointer, value) in &s.json {
        parts.push(format!("with {pointer} = {value}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {}", parts.join(" and "))
    }
}

fn sink_matches(s: &SinkExpect, c: &SinkCall) -> bool {
    (s.sink == SinkKind::Any || s.sink == c.sink)
        && s.body_contains
            .as_ref()
            .is_none_or(|t| c.body.contains(t.as_str()))
        && s.json.iter().all(|(pointer, want)| {
            c.json
                .as_ref()
                .and_then(|j| j.pointer(pointer))
                .is_some_and(|got| {
                    got == want || (got.as_f64().is_some() && got.as_f64() == want.as_f64())
                })
        })
}
