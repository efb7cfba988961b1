//! Proptest generators shared by the module's property tests.

use proptest::prelude::*;

use super::{CmpOp, Expr, Literal};
use crate::time::{SimTime, days_from_civil};

/// Words a field cannot be called, because the grammar gives them a meaning.
pub const RESERVED: [&str; 13] = [
    "and", "or", "not", "in", "eq", "ne", "gt", "ge", "lt", "le", "true", "false", "null",
];

pub fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z_][A-Za-z0-9_]{0,10}",
        1 => prop::sample::select(vec!["Größe", "名前", "Not", "IN", "Add", "IsMemberOfSegment", "True"])
            .prop_map(str::to_owned),
    ]
    .prop_filter("reserved word", |name| !RESERVED.contains(&name.as_str()))
}

pub fn op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Lt,
        CmpOp::Le,
    ])
}

/// Strings with quotes, spaces and non-ASCII text more often than `any::<String>()` gives them.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec!['\'', 'a', 'é', ' ', '(', '✓', '"']),
            0..6
        )
        .prop_map(|chars| chars.into_iter().collect()),
    ]
}

/// Every instant a date-time literal can denote: years 0000 to 9999.
pub fn date_time() -> impl Strategy<Value = SimTime> {
    let min = days_from_civil(0, 1, 1) * 86_400_000;
    let max = days_from_civil(10_000, 1, 1) * 86_400_000 - 1;
    prop_oneof![
        (min..=max).prop_map(SimTime),
        (0..=4_102_444_800i64).prop_map(|s| SimTime(s * 1000)),
    ]
}

pub fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(Literal::Decimal),
        text().prop_map(Literal::String),
        date_time().prop_map(Literal::DateTime),
    ]
}

/// A condition without `and`, `or` or `not`.
pub fn atom() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => (field(), op(), literal()).prop_map(|(field, op, value)| Expr::Compare { field, op, value }),
        1 => (field(), prop::collection::vec(literal(), 1..4))
            .prop_map(|(field, values)| Expr::In { field, values }),
        1 => text().prop_map(Expr::IsMemberOfSegment),
    ]
}

/// Any expression the parser can produce.
pub fn expr() -> impl Strategy<Value = Expr> {
    atom().prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}
