//! The run history of a flow that keeps one (a flow definition) in the reports: its findings
//! (what a flow maker should read first) and its runs as Power Automate's run view lists them.

use crate::outcome::CaseResult;

/// Each run's findings, prefixed with the run and its event:
/// `run1 (ev1): action 'Until_every_page' (Until): stopped after 60 iterations, ...`.
pub(crate) fn findings(r: &CaseResult) -> Vec<String> {
    r.runs
        .iter()
        .flat_map(|run| {
            let event = run.event.as_deref().unwrap_or("-");
            run.findings
                .iter()
                .map(move |f| format!("{} ({event}): {f}", run.id))
        })
        .collect()
}

/// Every run of the case, one after the other, each action's inputs and outputs cut to
/// `value_chars` characters.
pub(crate) fn history(r: &CaseResult, value_chars: usize) -> String {
    r.runs.iter().map(|run| run.render(value_chars)).collect()
}
