//! Evaluating a bound [`Filter`] against one row.
//!
//! Semantics, chosen to match OData v4 (section 5.1.1.1 of the URL conventions) where it speaks:
//!
//! - Strings compare case-sensitively, by ordinal (UTF-8 byte) order: `'B' lt 'a'` holds.
//! - Numbers compare by value across `Edm.Int64` and `Edm.Decimal`, exactly (an `i64` is not
//!   rounded to `f64` first, so `9223372036854775807 lt 9223372036854775807.0` holds, since the
//!   decimal is 2^63). A NaN compares with nothing.
//! - Date-times compare as instants; booleans order `false` before `true` (binding rejects
//!   ordering operators on booleans, so only `eq`/`ne` reach here in practice).
//! - `null`: `eq` holds when both sides are null, and `ne` is always the negation of `eq`, so
//!   `X ne 'a'` holds for a row whose `X` is null, and `X ne null` only when `X` has a value.
//!   `gt`, `ge`, `lt` and `le` are false when either side is null. (SQL's three-valued logic
//!   would make `X ne 'a'` false for a null `X`; OData does not.)
//! - A value and a literal of kinds that never meet after binding (a string attribute holding a
//!   number, say) are unequal and unordered: only `ne` holds.
//! - `in` is a disjunction of `eq`s; `not` negates; `and` and `or` short-circuit.

use std::cmp::Ordering;

use crate::schema::{AttrId, Value};

use super::{CmpOp, Filter, Literal};

/// Read access to one row, as [`eval`] needs it.
pub trait RowAccess {
    /// The value of attribute `attr` (an index into the schema the filter was bound to).
    fn value(&self, attr: AttrId) -> Value<'_>;
    /// Whether the row's customer is a member of the segment with this index in
    /// [`BindContext::segments`](super::BindContext).
    fn is_member(&self, segment: usize) -> bool;
}

/// Whether `row` satisfies `filter` (see the module docs for the semantics).
///
/// It recurses into left operands and `not`, and loops along right operands, so the
/// right-leaning chains that [`bind()`](super::bind()) builds cost no stack however long they are.
pub fn eval<R: RowAccess + ?Sized>(filter: &Filter, row: &R) -> bool {
    let mut filter = filter;
    loop {
        match filter {
            Filter::And(a, b) => {
                if !eval(a, row) {
                    return false;
                }
                filter = b;
            }
            Filter::Or(a, b) => {
                if eval(a, row) {
                    return true;
                }
                filter = b;
            }
            Filter::Not(a) => return !eval(a, row),
            Filter::Compare { attr, op, value } => return compare(&row.value(*attr), *op, value),
            Filter::In { attr, values } => {
                let v = row.value(*attr);
                return values.iter().any(|l| compare(&v, CmpOp::Eq, l));
            }
            Filter::Member(segment) => return row.is_member(*segment),
        }
    }
}

/// `value op literal`.
fn compare(value: &Value<'_>, op: CmpOp, literal: &Literal) -> bool {
    let ordering = match (value, literal) {
        (Value::Null, _) | (_, Literal::Null) => {
            let equal = value.is_null() && *literal == Literal::Null;
            return match op {
                CmpOp::Eq => equal,
                CmpOp::Ne => !equal,
                CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le => false,
            };
        }
        (Value::Str(a), Literal::String(b)) => Some(a.as_ref().cmp(b.as_str())),
        (Value::Int(a), Literal::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Literal::Decimal(b)) => cmp_int_decimal(*a, *b),
        (Value::Decimal(a), Literal::Int(b)) => cmp_int_decimal(*b, *a).map(Ordering::reverse),
        (Value::Decimal(a), Literal::Decimal(b)) => a.partial_cmp(b),
        (Value::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (Value::DateTime(a), Literal::DateTime(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match ordering {
        None => op == CmpOp::Ne,
        Some(o) => match op {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
        },
    }
}

/// Compares an integer with a decimal exactly, without rounding the integer to `f64`.
fn cmp_int_decimal(i: i64, d: f64) -> Option<Ordering> {
    /// 2^63, exactly representable: every `i64` is below it and at or above its negation.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() {
        return None;
    }
    if d >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if d < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    // In range, the integral part converts to i64 exactly; the fraction breaks a tie.
    let whole = d.trunc();
    let fraction = d - whole;
    Some(
        i.cmp(&(whole as i64))
            .then(0.0f64.partial_cmp(&fraction).unwrap_or(Ordering::Equal)),
    )
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::*;
    use crate::time::SimTime;

    /// A row of five attributes: 0 string, 1 integer, 2 decimal, 3 boolean, 4 date-time; and
    /// membership of three segments.
    #[derive(Debug, Clone)]
    struct Row {
        values: Vec<Value<'static>>,
        members: Vec<bool>,
    }

    impl RowAccess for Row {
        fn value(&self, attr: AttrId) -> Value<'_> {
            self.values[attr].clone()
        }

        fn is_member(&self, segment: usize) -> bool {
            self.members[segment]
        }
    }

    fn row(values: Vec<Value<'static>>) -> Row {
        Row {
            values,
            members: vec![true, false, false],
        }
    }

    fn check(value: Value<'static>, op: CmpOp, literal: Literal, expected: bool) {
        let r = row(vec![value.clone()]);
        let filter = Filter::Compare {
            attr: 0,
            op,
            value: literal.clone(),
        };
        assert_eq!(eval(&filter, &r), expected, "{value:?} {op} {literal}");
    }

    fn s(text: &str) -> Value<'static> {
        Value::Str(Cow::Owned(text.to_owned()))
    }

    fn ls(text: &str) -> Literal {
        Literal::String(text.to_owned())
    }

    #[test]
    fn compares_strings_case_sensitively_by_byte_order() {
        check(s("abc"), CmpOp::Eq, ls("abc"), true);
        check(s("abc"), CmpOp::Eq, ls("ABC"), false);
        check(s("B"), CmpOp::Lt, ls("a"), true);
        check(s("é"), CmpOp::Gt, ls("z"), true);
        check(s("ab"), CmpOp::Ge, ls("a"), true);
        check(s("ab"), CmpOp::Le, ls("a"), false);
    }

    #[test]
    fn compares_numbers_by_value_across_integer_and_decimal() {
        check(Value::Int(2), CmpOp::Eq, Literal::Decimal(2.0), true);
        check(Value::Int(2), CmpOp::Lt, Literal::Decimal(2.5), true);
        check(Value::Int(-2), CmpOp::Gt, Literal::Decimal(-2.5), true);
        check(Value::Decimal(2.5), CmpOp::Gt, Literal::Int(2), true);
        check(Value::Decimal(-0.0), CmpOp::Eq, Literal::Int(0), true);
        check(Value::Decimal(1.5), CmpOp::Le, Literal::Decimal(1.5), true);
        check(
            Value::Int(i64::MAX),
            CmpOp::Lt,
            Literal::Decimal(9_223_372_036_854_775_807.0),
            true,
        );
        check(
            Value::Int(i64::MIN),
            CmpOp::Eq,
            Literal::Decimal(-9_223_372_036_854_775_808.0),
            true,
        );
        check(
            Value::Int(i64::MIN),
            CmpOp::Gt,
            Literal::Decimal(-1e300),
            true,
        );
        check(Value::Decimal(f64::NAN), CmpOp::Eq, Literal::Int(0), false);
        check(Value::Decimal(f64::NAN), CmpOp::Ne, Literal::Int(0), true);
    }

    #[test]
    fn compares_date_times_and_booleans() {
        check(
            Value::DateTime(SimTime(5)),
            CmpOp::Gt,
            Literal::DateTime(SimTime(4)),
            true,
        );
        check(
            Value::DateTime(SimTime(5)),
            CmpOp::Le,
            Literal::DateTime(SimTime(4)),
            false,
        );
        check(Value::Bool(true), CmpOp::Eq, Literal::Bool(true), true);
        check(Value::Bool(true), CmpOp::Ne, Literal::Bool(false), true);
    }

    #[test]
    fn null_is_equal_only_to_null_and_unordered() {
        check(Value::Null, CmpOp::Eq, Literal::Null, true);
        check(Value::Null, CmpOp::Ne, Literal::Null, false);
        check(s("a"), CmpOp::Eq, Literal::Null, false);
        check(s("a"), CmpOp::Ne, Literal::Null, true);
        check(Value::Null, CmpOp::Eq, ls("a"), false);
        check(Value::Null, CmpOp::Ne, ls("a"), true);
        for op in [CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le] {
            check(Value::Null, op, Literal::Int(1), false);
            check(Value::Int(1), op, Literal::Null, false);
            check(Value::Null, op, Literal::Null, false);
        }
    }

    #[test]
    fn mismatched_kinds_are_only_unequal() {
        check(s("1"), CmpOp::Eq, Literal::Int(1), false);
        check(s("1"), CmpOp::Ne, Literal::Int(1), true);
        check(s("1"), CmpOp::Ge, Literal::Int(1), false);
    }

    #[test]
    fn evaluates_in_not_and_membership() {
        let r = row(vec![s("b")]);
        let within = |values: Vec<Literal>| Filter::In { attr: 0, values };
        assert!(eval(&within(vec![ls("a"), ls("b")]), &r));
        assert!(!eval(&within(vec![ls("a"), Literal::Null]), &r));
        assert!(eval(&within(vec![Literal::Null]), &row(vec![Value::Null])));
        assert!(!eval(&Filter::Not(Box::new(within(vec![ls("b")]))), &r));
        assert!(eval(&Filter::Member(0), &r));
        assert!(!eval(&Filter::Member(1), &r));
    }

    #[test]
    fn works_through_a_trait_object() {
        let r = row(vec![s("b")]);
        let dyn_row: &dyn RowAccess = &r;
        assert!(eval(&Filter::Member(0), dyn_row));
    }

    /// The value domains are small so that equal values are common.
    fn text() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "a", "b", "A", "ab", "é"])
    }

    fn decimal() -> impl Strategy<Value = f64> {
        prop::sample::select(vec![-1.5, -0.0, 0.0, 0.5, 2.0, 3.0])
    }

    fn value(attr: AttrId) -> BoxedStrategy<Value<'static>> {
        let some = match attr {
            0 => text().prop_map(|t| Value::Str(Cow::Borrowed(t))).boxed(),
            1 => (-3i64..=3).prop_map(Value::Int).boxed(),
            2 => decimal().prop_map(Value::Decimal).boxed(),
            3 => any::<bool>().prop_map(Value::Bool).boxed(),
            _ => (0i64..4).prop_map(|t| Value::DateTime(SimTime(t))).boxed(),
        };
        prop_oneof![1 => Just(Value::Null), 4 => some].boxed()
    }

    /// A literal that binding accepts for the attribute.
    fn literal(attr: AttrId) -> BoxedStrategy<Literal> {
        let some = match attr {
            0 => text().prop_map(|t| Literal::String(t.to_owned())).boxed(),
            1 | 2 => prop_oneof![
                (-3i64..=3).prop_map(Literal::Int),
                decimal().prop_map(Literal::Decimal)
            ]
            .boxed(),
            3 => any::<bool>().prop_map(Literal::Bool).boxed(),
            _ => (0i64..4)
                .prop_map(|t| Literal::DateTime(SimTime(t)))
                .boxed(),
        };
        prop_oneof![1 => Just(Literal::Null), 4 => some].boxed()
    }

    fn row_strategy() -> impl Strategy<Value = Row> {
        (
            (0..5).map(value).collect::<Vec<_>>(),
            prop::collection::vec(any::<bool>(), 3),
        )
            .prop_map(|(values, members)| Row { values, members })
    }

    /// A filter as binding produces it: literals fit their attribute, `null` and booleans only
    /// with `eq`/`ne`.
    fn filter() -> impl Strategy<Value = Filter> {
        let compare = (0usize..5)
            .prop_flat_map(|attr| (Just(attr), super::super::testgen::op(), literal(attr)))
            .prop_map(|(attr, op, value)| {
                let op = if (attr == 3 || value == Literal::Null)
                    && !matches!(op, CmpOp::Eq | CmpOp::Ne)
                {
                    CmpOp::Eq
                } else {
                    op
                };
                Filter::Compare { attr, op, value }
            });
        let within = (0usize..5)
            .prop_flat_map(|attr| (Just(attr), prop::collection::vec(literal(attr), 1..4)))
            .prop_map(|(attr, values)| Filter::In { attr, values });
        let leaf =
            prop_oneof![3 => compare, 1 => within, 1 => (0usize..3).prop_map(Filter::Member)];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    /// The reference model's view of a value: numbers as `f64` (exact for the small domains
    /// generated here), everything else as itself.
    #[derive(Debug, PartialEq, PartialOrd)]
    enum Plain {
        Null,
        Text(Vec<u8>),
        Number(f64),
        Flag(bool),
        Instant(i64),
    }

    fn plain_value(v: &Value<'_>) -> Plain {
        match v {
            Value::Null => Plain::Null,
            Value::Str(s) => Plain::Text(s.as_bytes().to_vec()),
            Value::Int(i) => Plain::Number(*i as f64),
            Value::Decimal(d) => Plain::Number(*d),
            Value::Bool(b) => Plain::Flag(*b),
            Value::DateTime(t) => Plain::Instant(t.0),
        }
    }

    fn plain_literal(l: &Literal) -> Plain {
        match l {
            Literal::Null => Plain::Null,
            Literal::String(s) => Plain::Text(s.as_bytes().to_vec()),
            Literal::Int(i) => Plain::Number(*i as f64),
            Literal::Decimal(d) => Plain::Number(*d),
            Literal::Bool(b) => Plain::Flag(*b),
            Literal::DateTime(t) => Plain::Instant(t.0),
        }
    }

    /// The naive reference: `eq` is equality with null equal to null, `ne` its negation, and
    /// the ordering operators compare two non-null values of one kind.
    fn reference(filter: &Filter, row: &Row) -> bool {
        match filter {
            Filter::Compare { attr, op, value } => {
                let (a, b) = (plain_value(&row.values[*attr]), plain_literal(value));
                let ordered = a != Plain::Null && b != Plain::Null;
                match op {
                    CmpOp::Eq => a == b,
                    CmpOp::Ne => a != b,
                    CmpOp::Gt => ordered && a > b,
                    CmpOp::Ge => ordered && a >= b,
                    CmpOp::Lt => ordered && a < b,
                    CmpOp::Le => ordered && a <= b,
                }
            }
            Filter::In { attr, values } => values
                .iter()
                .any(|v| plain_value(&row.values[*attr]) == plain_literal(v)),
            Filter::And(a, b) => reference(a, row) && reference(b, row),
            Filter::Or(a, b) => reference(a, row) || reference(b, row),
            Filter::Not(a) => !reference(a, row),
            Filter::Member(i) => row.members[*i],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Model check: on bound filters, `eval` agrees with the naive reference evaluator on
        /// every row.
        #[test]
        fn eval_agrees_with_the_reference_evaluator(
            f in filter(),
            rows in prop::collection::vec(row_strategy(), 1..8),
        ) {
            for r in &rows {
                prop_assert_eq!(eval(&f, r), reference(&f, r), "{:?}", r);
            }
        }

        /// `ne` is the negation of `eq` for every value and literal, null included.
        #[test]
        fn ne_is_the_negation_of_eq(attr in 0usize..5, r in row_strategy(), seed in any::<u64>()) {
            let literals = [Literal::Null, Literal::Int((seed % 7) as i64 - 3), Literal::Decimal(0.5), Literal::String("a".into()), Literal::Bool(seed % 2 == 0), Literal::DateTime(SimTime((seed % 4) as i64))];
            for value in literals {
                let eq = Filter::Compare { attr, op: CmpOp::Eq, value: value.clone() };
                let ne = Filter::Compare { attr, op: CmpOp::Ne, value };
                prop_assert_eq!(eval(&ne, &r), !eval(&eq, &r));
            }
        }
    }
}
