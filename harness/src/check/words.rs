//! How checks name things: sinks as a flow maker says them, times as the transcript writes
//! them, events by their transcript alias (`ev2`), numbers with thousands separators, rows as
//! ranges.

use simulator::SimTime;

use crate::replay::CaseRun;
use crate::scenario::SinkKind;

pub(super) fn sink_name(kind: SinkKind) -> &'static str {
    match kind {
        SinkKind::Teams => "teams",
        SinkKind::Email => "email",
        SinkKind::Http => "http",
        SinkKind::Any => "sink",
    }
}

/// `1 Teams message`, `2 e-mails`, `0 HTTP calls`, `3 sink calls`.
pub(super) fn effects(kind: SinkKind, n: usize) -> String {
    let (one, many) = match kind {
        SinkKind::Teams => ("Teams message", "Teams messages"),
        SinkKind::Email => ("e-mail", "e-mails"),
        SinkKind::Http => ("HTTP call", "HTTP calls"),
        SinkKind::Any => ("sink call", "sink calls"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a Teams message`, `an e-mail`, `an HTTP call`.
pub(super) fn an_effect(kind: SinkKind) -> &'static str {
    match kind {
        SinkKind::Teams => "the Teams message",
        SinkKind::Email => "the e-mail",
        SinkKind::Http => "the HTTP call",
        SinkKind::Any => "the sink call",
    }
}

/// `Teams`, `e-mail`, `HTTP`: a destination.
pub(super) fn destination(kind: SinkKind) -> &'static str {
    match kind {
        SinkKind::Teams => "Teams",
        SinkKind::Email => "e-mail",
        SinkKind::Http => "HTTP",
        SinkKind::Any => "any sink",
    }
}

/// The time since the case started, as the transcript writes it (`+1d`).
pub(super) fn at(run: &CaseRun, t: SimTime) -> String {
    format!("+{}", t - run.start)
}

/// An event's transcript alias (`ev2`: the second event of the case), or its id.
pub(super) fn event_alias(run: &CaseRun, event_id: &str) -> String {
    run.events
        .iter()
        .position(|e| e.event_id == event_id)
        .map_or_else(|| event_id.to_owned(), |i| format!("ev{}", i + 1))
}

/// `12,345`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How many row ranges a message lists.
const SHOWN: usize = 3;

/// Sorted row indices as inclusive ranges: `7,300..7,399, 8,000 and 3 more ranges`.
pub(super) fn row_ranges(rows: &[u64]) -> String {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &r in rows {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == r => *end = r,
            _ => ranges.push((r, r)),
        }
    }
    let mut parts: Vec<String> = ranges
        .iter()
        .take(SHOWN)
        .map(|&(a, b)| {
            if a == b {
                thousands(a)
            } else {
                format!("{}..{}", thousands(a), thousands(b))
            }
        })
        .collect();
    if ranges.len() > SHOWN {
        let more = ranges.len() - SHOWN;
        parts.push(format!(
            "{more} more range{}",
            if more == 1 { "" } else { "s" }
        ));
    }
    match parts.as_slice() {
        [] => "none".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_as_ranges_with_thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(12_000), "12,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(row_ranges(&[]), "none");
        assert_eq!(row_ranges(&[5]), "5");
        assert_eq!(
            row_ranges(&(7300..7400).collect::<Vec<_>>()),
            "7,300..7,399"
        );
        assert_eq!(
            row_ranges(&[1, 2, 4, 9, 10, 20]),
            "1..2, 4, 9..10 and 1 more range"
        );
    }
}
