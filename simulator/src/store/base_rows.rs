//! Reading the generated rows of every entity straight from the population's columns, and
//! converting between stored values and JSON.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::entity::{TableKind, kind_names};
use super::live::Live;
use super::population::{Activity, CustomerField, Population};
use crate::json::{push_cents, push_f64, push_i64, push_json_str};
use crate::schema::{AttrId, AttrType, Value};
use crate::tenant::spec::ActivityKind;

/// The generated rows of each data source's tables, found once per source on first use (a
/// source table lists only the customers the source covers).
#[derive(Debug)]
pub(crate) struct SourceRows {
    contacts: Vec<OnceLock<Vec<u32>>>,
    activity_prefix: Vec<OnceLock<Vec<u64>>>,
}

impl SourceRows {
    pub(crate) fn new(sources: usize) -> SourceRows {
        SourceRows {
            contacts: (0..sources).map(|_| OnceLock::new()).collect(),
            activity_prefix: (0..sources).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The customers source `s` has a contact row for, ascending.
    pub(crate) fn contacts(&self, population: &Population, s: usize) -> &[u32] {
        self.contacts[s].get_or_init(|| {
            (0..population.n)
                .filter(|&r| population.has_source(r, s))
                .collect()
        })
    }

    /// Where each customer's activities start in source `s`'s activity table (one more entry
    /// than customers: the last is the table's length).
    pub(crate) fn activity_prefix(&self, population: &Population, s: usize) -> &[u64] {
        self.activity_prefix[s].get_or_init(|| {
            let mut prefix = Vec::with_capacity(population.n as usize + 1);
            let mut total = 0u64;
            prefix.push(0);
            for row in 0..population.n {
                total += u64::from(population.activity_count(row, s));
                prefix.push(total);
            }
            prefix
        })
    }
}

/// Reads generated (base) rows. Every method takes a base row number (`< base_len`).
pub(crate) struct BaseRows<'a> {
    pub(crate) population: &'a Population,
    pub(crate) live: &'a Live,
    pub(crate) sources: &'a SourceRows,
}

impl BaseRows<'_> {
    fn pop(&self) -> &Population {
        self.population
    }

    fn live(&self) -> &Live {
        self.live
    }

    fn source_contacts(&self, s: usize) -> &[u32] {
        self.sources.contacts(self.population, s)
    }

    fn source_activity_prefix(&self, s: usize) -> &[u64] {
        self.sources.activity_prefix(self.population, s)
    }

    pub fn len(&self, kind: TableKind) -> u64 {
        let pop = self.pop();
        match kind {
            TableKind::Customer | TableKind::CustomerMeasure => u64::from(pop.n),
            TableKind::UnifiedActivity => pop.activity_total(),
            TableKind::Segment(i) => self.live().segments[i].members.len() as u64,
            TableKind::Measure(i) => self.live().measures[i].values.len() as u64,
            TableKind::SourceContacts(s) => self.source_contacts(s).len() as u64,
            TableKind::SourceActivities(s) => {
                self.source_activity_prefix(s).last().copied().unwrap_or(0)
            }
        }
    }

    /// The customer a row belongs to.
    pub fn customer_of(&self, kind: TableKind, row: u64) -> Option<u32> {
        match kind {
            TableKind::Customer | TableKind::CustomerMeasure => u32::try_from(row).ok(),
            TableKind::UnifiedActivity => self.pop().activity_at(row).map(|a| a.customer),
            TableKind::Segment(i) => self.live().segments[i].members.get(row as usize).copied(),
            TableKind::SourceContacts(s) => self.source_contacts(s).get(row as usize).copied(),
            TableKind::SourceActivities(s) => self.source_activity(s, row).map(|a| a.customer),
            TableKind::Measure(_) => None,
        }
    }

    fn source_activity(&self, s: usize, row: u64) -> Option<Activity> {
        let prefix = self.source_activity_prefix(s);
        if row >= prefix.last().copied().unwrap_or(0) {
            return None;
        }
        let customer = prefix.partition_point(|&p| p <= row) - 1;
        let ordinal = (row - prefix[customer]) as u32;
        Some(self.pop().activity(customer as u32, s, ordinal))
    }

    /// Appends the JSON value of one attribute of a base row.
    pub fn write_json(&self, kind: TableKind, row: u64, attr: AttrId, out: &mut Vec<u8>) {
        let pop = self.pop();
        match kind {
            TableKind::Customer => {
                pop.write_customer_field(row as u32, CustomerField::from_attr(attr), false, out);
            }
            TableKind::UnifiedActivity => match pop.activity_at(row) {
                Some(a) => self.write_activity(&a, attr, out),
                None => out.extend_from_slice(b"null"),
            },
            TableKind::CustomerMeasure => self.write_customer_measure(row as u32, attr, out),
            TableKind::Segment(i) => {
                let Some(&c) = self.live().segments[i].members.get(row as usize) else {
                    out.extend_from_slice(b"null");
                    return;
                };
                let field = [
                    CustomerField::CustomerId,
                    CustomerField::FullName,
                    CustomerField::EMail,
                ][attr.min(2)];
                pop.write_customer_field(c, field, false, out);
            }
            TableKind::Measure(i) => {
                let m = &self.live().measures[i];
                match m.values.get(row as usize) {
                    Some((Some(dim), _)) if attr == 0 && m.dimension.is_some() => {
                        push_json_str(dim, out);
                    }
                    Some((_, v)) => push_f64(*v, out),
                    None => out.extend_from_slice(b"null"),
                }
            }
            TableKind::SourceContacts(s) => {
                let Some(&c) = self.source_contacts(s).get(row as usize) else {
                    out.extend_from_slice(b"null");
                    return;
                };
                let field = [
                    CustomerField::AltKey(s),
                    CustomerField::FirstName,
                    CustomerField::LastName,
                    CustomerField::EMail,
                    CustomerField::Telephone,
                    CustomerField::City,
                    CustomerField::Country,
                    CustomerField::PostCode,
                ][attr.min(7)];
                pop.write_customer_field(c, field, false, out);
            }
            TableKind::SourceActivities(s) => match self.source_activity(s, row) {
                Some(a) => match attr {
                    0 => {
                        out.push(b'"');
                        pop.activity_ids.write(Population::activity_code(&a), out);
                        out.push(b'"');
                    }
                    1 => pop.write_customer_field(a.customer, CustomerField::AltKey(s), false, out),
                    2 => {
                        out.push(b'"');
                        a.time.write_rfc3339(out);
                        out.push(b'"');
                    }
                    3 => {
                        out.push(b'"');
                        pop.write_activity_title(&a, out);
                        out.push(b'"');
                    }
                    _ => match a.amount_cents {
                        Some(c) => push_cents(c, out),
                        None => push_i64(i64::from(a.points), out),
                    },
                },
                None => out.extend_from_slice(b"null"),
            },
        }
    }

    fn write_activity(&self, a: &Activity, attr: AttrId, out: &mut Vec<u8>) {
        let pop = self.pop();
        let src = &pop.sources[a.source];
        let kind = src
            .activity
            .as_ref()
            .map_or(ActivityKind::WebVisit, |s| s.kind);
        let (type_name, display) = kind_names(kind);
        let text = |t: &str, out: &mut Vec<u8>| push_json_str(t, out);
        match attr {
            0 => {
                out.push(b'"');
                pop.activity_ids.write(Population::activity_code(a), out);
                out.push(b'"');
            }
            1 => pop.write_customer_field(a.customer, CustomerField::CustomerId, false, out),
            2 => {
                out.push(b'"');
                a.time.write_rfc3339(out);
                out.push(b'"');
            }
            3 => text(type_name, out),
            4 => text(display, out),
            5 => text(
                src.activity
                    .as_ref()
                    .map_or("", |s| s.activity_name.as_str()),
                out,
            ),
            6 => {
                out.push(b'"');
                pop.write_activity_title(a, out);
                out.push(b'"');
            }
            7 => text(src.activity.as_ref().map_or("", |s| s.entity.as_str()), out),
            8 => text(&src.name, out),
            _ => match a.amount_cents {
                Some(c) => push_cents(c, out),
                None => out.extend_from_slice(b"null"),
            },
        }
    }

    fn write_customer_measure(&self, row: u32, attr: AttrId, out: &mut Vec<u8>) {
        let pop = self.pop();
        match attr {
            0 => pop.write_customer_field(row, CustomerField::CustomerId, false, out),
            1 => push_cents(pop.total_spend_cents(row), out),
            2 => push_i64(i64::from(pop.purchase_count(row)), out),
            3 => match pop.purchase_count(row) {
                0 => out.extend_from_slice(b"null"),
                n => push_cents(
                    (pop.total_spend_cents(row) as f64 / f64::from(n)).round() as i64,
                    out,
                ),
            },
            4 => match pop.last_purchase(row) {
                Some(t) => {
                    out.push(b'"');
                    t.write_rfc3339(out);
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            },
            _ => push_i64(i64::from(pop.loyalty_points(row)), out),
        }
    }

    /// The value of one attribute of a base row (allocates for strings; off the page hot path).
    pub fn value(&self, kind: TableKind, ty: AttrType, row: u64, attr: AttrId) -> Value<'static> {
        if kind == TableKind::Customer
            && let Some(text) = self.customer_text(row, attr)
        {
            return text;
        }
        let mut out = Vec::with_capacity(48);
        self.write_json(kind, row, attr, &mut out);
        json_to_value(&out, ty)
    }

    fn customer_text(&self, row: u64, attr: AttrId) -> Option<Value<'static>> {
        let field = CustomerField::from_attr(attr);
        if !field.is_string() {
            return None;
        }
        Some(match self.pop().customer_text(row as u32, field) {
            Some(text) => Value::Str(Cow::Owned(text)),
            None => Value::Null,
        })
    }
}

/// Turns a JSON value written by [`BaseRows::write_json`] back into a [`Value`] of type `ty`.
fn json_to_value(json: &[u8], ty: AttrType) -> Value<'static> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return Value::Null;
    };
    json_value_as(&v, ty)
}

/// Converts a JSON value to a [`Value`] of type `ty` (`Null` when it does not fit).
pub fn json_value_as(v: &serde_json::Value, ty: AttrType) -> Value<'static> {
    use serde_json::Value as J;
    match (ty, v) {
        (_, J::Null) => Value::Null,
        (AttrType::String, J::String(s)) => Value::Str(Cow::Owned(s.clone())),
        (AttrType::Int64, J::Number(n)) => n.as_i64().map_or(Value::Null, Value::Int),
        (AttrType::Decimal, J::Number(n)) => n.as_f64().map_or(Value::Null, Value::Decimal),
        (AttrType::Boolean, J::Bool(b)) => Value::Bool(*b),
        (AttrType::DateTime, J::String(s)) => {
            crate::time::SimTime::parse_rfc3339(s).map_or(Value::Null, Value::DateTime)
        }
        _ => Value::Null,
    }
}

/// Appends a [`Value`] as JSON.
pub fn write_value_json(v: &Value<'_>, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Str(s) => push_json_str(s, out),
        Value::Int(i) => push_i64(*i, out),
        Value::Decimal(d) => push_f64(*d, out),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::DateTime(t) => {
            out.push(b'"');
            t.write_rfc3339(out);
            out.push(b'"');
        }
    }
}
