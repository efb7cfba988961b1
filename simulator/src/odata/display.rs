//! The canonical text of a filter: what [`parse_filter`](super::parse_filter) reads back into
//! the same [`Expr`].
//!
//! - Parentheses only where precedence or left-associativity needs them, except that the
//!   operand of `not` is always parenthesised unless it is a function call: `not (A eq 1)` is
//!   valid in strict OData too, where `not` binds tighter than `eq`.
//! - Strings in single quotes with `'` doubled; date-times as RFC 3339 in UTC
//!   (`2017-01-01T00:00:00Z`, `.mmm` only when the milliseconds are not zero).
//! - Decimals in Rust's shortest round-trip form (`{:?}`), which always has a `.` or an exponent
//!   (`1.0`, `0.1`, `1e20`, `1.5e-7`), so they read back as decimals and not integers, and to the
//!   same `f64` bit for bit. (Non-finite decimals, which the parser never produces, print as
//!   `NaN` or `inf` and do not parse.)
//! - The round trip holds for every expression the parser produces, with one caveat: printing
//!   can lengthen a filter (a bare date gains `T00:00:00Z`, `2e3` becomes `2000.0`), so a text
//!   near [`FILTER_LEN_MAX`](super::FILTER_LEN_MAX) may print longer than the limit.
//! - `in` lists without spaces, as in the documented examples: `CustomerId in ('a','b')`.

use std::fmt;

use super::{CmpOp, Expr, Literal};

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Decimal(d) => write!(f, "{d:?}"),
            Literal::String(s) => write_quoted(f, s),
            Literal::DateTime(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            f.write_str("''")?;
        }
        f.write_str(part)?;
    }
    f.write_str("'")
}

/// Writes `e`, in parentheses when `parens`.
fn child(f: &mut fmt::Formatter<'_>, e: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare { field, op, value } => write!(f, "{field} {op} {value}"),
            Expr::In { field, values } => {
                write!(f, "{field} in (")?;
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str(")")
            }
            Expr::IsMemberOfSegment(name) => {
                f.write_str("IsMemberOfSegment(")?;
                write_quoted(f, name)?;
                f.write_str(")")
            }
            Expr::Not(inner) => {
                f.write_str("not ")?;
                child(f, inner, !matches!(**inner, Expr::IsMemberOfSegment(_)))
            }
            // `and` binds tighter than `or`, and both associate to the left: only an `or` below
            // an `and`, or a right operand of the same operator, needs parentheses.
            Expr::And(a, b) => {
                child(f, a, matches!(**a, Expr::Or(..)))?;
                f.write_str(" and ")?;
                child(f, b, matches!(**b, Expr::Or(..) | Expr::And(..)))
            }
            Expr::Or(a, b) => {
                child(f, a, false)?;
                f.write_str(" or ")?;
                child(f, b, matches!(**b, Expr::Or(..)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::parse_filter;
    use super::super::testgen::expr;
    use super::*;
    use crate::time::SimTime;

    fn check(text: &str, expected: &str) {
        let parsed = parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed.to_string(), expected, "{text}");
        assert_eq!(parse_filter(expected), Ok(parsed), "{expected}");
    }

    #[test]
    fn prints_comparisons_and_lists_in_canonical_form() {
        check("customerid  eq   '1'", "customerid eq '1'");
        check("5 lt X", "X gt 5");
        check("CustomerId in ( 'a' , 'b' )", "CustomerId in ('a','b')");
        check("A eq null or B ne true", "A eq null or B ne true");
        check("ismemberofsegment('VIP')", "IsMemberOfSegment('VIP')");
    }

    #[test]
    fn prints_literals_so_they_read_back_exactly() {
        check("A eq 'it''s'", "A eq 'it''s'");
        check("A eq -3", "A eq -3");
        check("A eq 2e3", "A eq 2000.0");
        check("A eq 1e20", "A eq 1e20");
        check("A eq 0.1", "A eq 0.1");
        check("A eq -1.5e-7", "A eq -1.5e-7");
        check("A gt 2017-01-01", "A gt 2017-01-01T00:00:00Z");
        check(
            "A gt 2017-01-01T00:00:00.120+01:00",
            "A gt 2016-12-31T23:00:00.120Z",
        );
    }

    #[test]
    fn prints_only_the_parentheses_precedence_needs() {
        check("(A eq 1 or B eq 2) or C eq 3", "A eq 1 or B eq 2 or C eq 3");
        check(
            "A eq 1 or (B eq 2 or C eq 3)",
            "A eq 1 or (B eq 2 or C eq 3)",
        );
        check(
            "(A eq 1 and B eq 2) or C eq 3",
            "A eq 1 and B eq 2 or C eq 3",
        );
        check(
            "A eq 1 and (B eq 2 or C eq 3)",
            "A eq 1 and (B eq 2 or C eq 3)",
        );
        check(
            "A eq 1 and (B eq 2 and C eq 3)",
            "A eq 1 and (B eq 2 and C eq 3)",
        );
        check("not A eq 1", "not (A eq 1)");
        check(
            "not not IsMemberOfSegment('x')",
            "not (not IsMemberOfSegment('x'))",
        );
        check("not (A eq 1 or B eq 2)", "not (A eq 1 or B eq 2)");
    }

    #[test]
    fn prints_date_times_as_utc_rfc3339() {
        let e = Expr::Compare {
            field: "T".into(),
            op: CmpOp::Le,
            value: Literal::DateTime(SimTime(1_483_228_800_007)),
        };
        assert_eq!(e.to_string(), "T le 2017-01-01T00:00:00.007Z");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Round trip: printing any expression the parser can produce and parsing the text
        /// gives the same expression back.
        #[test]
        fn printed_filters_parse_back_to_the_same_expression(e in expr()) {
            let text = e.to_string();
            prop_assert_eq!(parse_filter(&text), Ok(e), "{}", text);
        }
    }
}
