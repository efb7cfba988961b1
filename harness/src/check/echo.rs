//! Echo: each effect carries, from the event it answers, the names and numbers the flow's
//! manifest lists, wherever they sit in its body and however it is shaped. Strings match as
//! case-insensitive substrings of the body's strings; numbers match by value, as JSON numbers or
//! written in text (`1042`, `1,042`, `1234567.89`).
//!
//! An effect that names a delivered event's id answers that event and must carry its values;
//! any other effect must carry all the values of some delivered event (several effects may
//! answer one event: counting them is `expect.effects`' business).

use serde_json::Value;

use super::words::{an_effect, at, event_alias};
use crate::manifest::Manifest;
use crate::outcome::Failure;
use crate::replay::CaseRun;
use crate::replay::sinks::SinkCall;
use crate::scenario::{Scenario, SinkKind};
use crate::text::cut;

/// How many wrong effects a failure lists.
const SHOWN: usize = 3;

pub(super) fn check(scenario: &Scenario, run: &CaseRun, manifest: &Manifest) -> Vec<Failure> {
    let triggers = scenario.triggers();
    let fields_of = |trigger: &str| -> &[String] {
        manifest.handle(trigger).map_or(&[], |h| h.echo.as_slice())
    };
    let mut fields: Vec<&str> = triggers
        .iter()
        .flat_map(|t| fields_of(t).iter().map(String::as_str))
        .collect();
    fields.dedup();
    if fields.is_empty() {
        return Vec::new();
    }
    let dest = manifest.destination(&triggers).unwrap_or(SinkKind::Any);
    let candidates: Vec<Candidate> = run
        .events
        .iter()
        .filter(|e| {
            run.deliveries
                .iter()
                .any(|d| d.event_id == e.event_id && !d.attempts.is_empty())
        })
        .filter_map(|e| {
            let payload = serde_json::to_value(&e.payload).ok()?;
            let values: Vec<(String, Value)> = fields_of(e.trigger.id())
                .iter()
                .filter_map(|f| payload.get(f).map(|v| (f.clone(), v.clone())))
                .filter(|(_, v)| v.is_string() || v.is_number())
                .collect();
            let first_sent = run
                .deliveries
                .iter()
                .filter(|d| d.event_id == e.event_id)
                .flat_map(|d| d.attempts.iter().map(|a| a.at))
                .min()?;
            Some(Candidate {
                event_id: e.event_id.clone(),
                values,
                first_sent,
            })
        })
        .collect();
    let mut problems = Vec::new();
    for call in run
        .sink_calls
        .iter()
        .filter(|c| dest == SinkKind::Any || c.sink == dest)
    {
        if let Some(problem) = wrong(run, call, &candidates) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        return Vec::new();
    }
    let n = problems.len();
    let mut shown: Vec<String> = problems.into_iter().take(SHOWN).collect();
    if n > SHOWN {
        shown.push(format!("and {} more", n - SHOWN));
    }
    vec![Failure::new(
        "effect.echo",
        format!(
            "every effect carries, from the event it answers, its {} (the flow's manifest)",
            fields.join(", ")
        ),
        format!(
            "{}: the effect carries the wrong names or numbers",
            shown.join("; ")
        ),
    )]
}

/// A delivered event and the values an effect answering it must carry.
struct Candidate {
    event_id: String,
    values: Vec<(String, Value)>,
    first_sent: simulator::SimTime,
}

/// What is wrong with one effect, if anything.
fn wrong(run: &CaseRun, call: &SinkCall, candidates: &[Candidate]) -> Option<String> {
    let carried = Carried::of(call);
    let effect = format!("{} at {}", an_effect(call.sink), at(run, call.at));
    let named: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| call.body.contains(c.event_id.as_str()))
        .collect();
    if let [event] = named.as_slice() {
        let missing = carried.missing(event, call);
        return (!missing.is_empty()).then(|| {
            format!(
                "{effect} for {} lacks {}",
                event_alias(run, &event.event_id),
                missing.join(", ")
            )
        });
    }
    if candidates
        .iter()
        .any(|c| carried.missing(c, call).is_empty())
    {
        return None;
    }
    // The event it most likely answers: the latest one sent to the flow before it.
    let Some(likely) = candidates
        .iter()
        .filter(|c| c.first_sent <= call.at)
        .max_by_key(|c| c.first_sent)
        .or(candidates.first())
    else {
        return Some(format!(
            "{effect} answers no delivered event: {}",
            cut(&call.body, 80)
        ));
    };
    Some(format!(
        "{effect} carries no delivered event's values: {} (the latest sent before it) needs {}",
        event_alias(run, &likely.event_id),
        carried.missing(likely, call).join(", ")
    ))
}

/// The strings (lower-cased) and numbers found in a body.
struct Carried {
    strings: Vec<String>,
    numbers: Vec<f64>,
}

impl Carried {
    fn of(call: &SinkCall) -> Carried {
        let mut carried = Carried {
            strings: Vec::new(),
            numbers: Vec::new(),
        };
        match &call.json {
            Some(json) => carried.walk(json),
            None => carried.text(&call.body),
        }
        carried
    }

    fn walk(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Number(n) => self.numbers.extend(n.as_f64()),
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            Value::Object(map) => map.values().for_each(|i| self.walk(i)),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn text(&mut self, s: &str) {
        self.numbers.extend(numbers_in(s));
        self.strings.push(s.to_lowercase());
    }

    fn carries(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => {
                let s = s.to_lowercase();
                self.strings.iter().any(|t| t.contains(&s))
            }
            Value::Number(n) => n.as_f64().is_some_and(|want| {
                self.numbers
                    .iter()
                    .any(|got| (got - want).abs() <= 1e-9 * want.abs().max(1.0))
            }),
            _ => true,
        }
    }

    /// The values of `event` this body lacks, as `entityCount 1100 (it says 1200)`.
    fn missing(&self, event: &Candidate, call: &SinkCall) -> Vec<String> {
        event
            .values
            .iter()
            .filter(|(_, v)| !self.carries(v))
            .map(|(field, v)| {
                let says = call
                    .json
                    .as_ref()
                    .and_then(|j| field_anywhere(j, field))
                    .map_or_else(String::new, |got| format!(" (it says {})", show(got)));
                format!("{field} {}{says}", show(v))
            })
            .collect()
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{}\"", cut(s, 60)),
        other => cut(&other.to_string(), 60),
    }
}

/// The value of the first key named `field` (ignoring case) anywhere in `v`.
fn field_anywhere<'a>(v: &'a Value, field: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .map(|(_, v)| v)
            .or_else(|| map.values().find_map(|v| field_anywhere(v, field))),
        Value::Array(items) => items.iter().find_map(|v| field_anywhere(v, field)),
        _ => None,
    }
}

/// The numbers written in a text: runs of digits not joined to letters, with an optional sign,
/// `,` thousands groups and a decimal part. `1,042` gives 1042 (and 1 and 42, in case it was a
/// list).
fn numbers_in(text: &str) -> Vec<f64> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b',' || bytes[i] == b'.')
        {
            i += 1;
        }
        let mut token = &text[start..i];
        // A trailing separator ends the sentence, not the number.
        while token.ends_with([',', '.']) {
            token = &token[..token.len() - 1];
        }
        if i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            continue;
        }
        let negative = start > 0 && bytes[start - 1] == b'-';
        let sign = if negative { -1.0 } else { 1.0 };
        if let Ok(n) = token.replace(',', "").parse::<f64>() {
            out.push(sign * n);
        }
        for part in token.split(',') {
            if let Ok(n) = part.parse::<f64>() {
                out.push(sign * n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(body: Value) -> SinkCall {
        SinkCall {
            sink: SinkKind::Email,
            at: simulator::SimTime(0),
            method: "POST".into(),
            path: "/email/send".into(),
            body: body.to_string(),
            json: Some(body),
        }
    }

    #[test]
    fn numbers_are_found_in_text_by_value() {
        assert_eq!(numbers_in("now 1,042 members"), [1042.0, 1.0, 42.0]);
        assert_eq!(numbers_in("rose to 1234567.89."), [1234567.89, 1234567.89]);
        assert!(numbers_in("ev2 and 3f1100ab").is_empty());
        assert_eq!(numbers_in("fell to -5"), [-5.0, -5.0]);
    }

    #[test]
    fn a_body_carries_strings_anywhere_and_numbers_by_value() {
        let c = Carried::of(&call(json!({
            "subject": "Point of Sale (PoS) failed",
            "details": {"count": 1100.0, "text": "1,234,567.89 in revenue"}
        })));
        assert!(c.carries(&json!("point of sale")));
        assert!(c.carries(&json!(1100)));
        assert!(c.carries(&json!(1234567.89)));
        assert!(!c.carries(&json!("Loyalty Program")));
        assert!(!c.carries(&json!(1234568)));
    }

    #[test]
    fn a_missing_value_says_what_the_body_has_under_its_name() {
        let body = call(json!({"entityCount": 1200, "segmentName": "HighValueCustomers"}));
        let event = Candidate {
            event_id: "e1".into(),
            values: vec![
                ("segmentName".into(), json!("HighValueCustomers")),
                ("entityCount".into(), json!(1100)),
            ],
            first_sent: simulator::SimTime(0),
        };
        assert_eq!(
            Carried::of(&body).missing(&event, &body),
            ["entityCount 1100 (it says 1200)"]
        );
    }
}
