//! Binding `$filter`: fields must exist and be filterable, literals must fit their fields,
//! `IsMemberOfSegment` names a segment of the profile, and chains of one connective bind
//! right-leaning.

use super::fields::{Fields, and_list, or_list};
use crate::odata::lexer::parse_date_time;
use crate::odata::words::{did_you_mean, join, shorten};
use crate::odata::{CmpOp, Expr, Filter, Literal, QueryError, code};
use crate::schema::{AttrId, AttrType, Attribute, EntityKind};

/// Binds the `$filter` of an entity whose fields are `fields`; `segments` are the instance's
/// segment names ([`Filter::Member`] holds an index into them).
pub(super) fn bind_filter(
    fields: &Fields<'_>,
    segments: &[&str],
    keyed_filters: bool,
    expr: Expr,
) -> Result<Filter, QueryError> {
    let anchored = keyed_filters && has_key_condition(fields, &expr);
    FilterBinder {
        fields,
        segments,
        keyed_filters,
        anchored,
    }
    .filter_root(expr)
}

/// Whether the top-level conjunction of `expr` (the operands of its outermost chain of `and`,
/// through parentheses) has an `eq` condition with a non-null value on a filterable field:
/// the condition that lets fields marked `filterable_with_key` be filtered too.
fn has_key_condition(fields: &Fields<'_>, expr: &Expr) -> bool {
    // A chain of `and` parses as a left-leaning tree as deep as the chain is long: walk it with
    // a stack, not recursion.
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Expr::Compare {
                field,
                op: CmpOp::Eq,
                value,
            } if *value != Literal::Null
                && fields
                    .schema
                    .attr_named(field)
                    .is_some_and(|a| a.filterable) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

struct FilterBinder<'a> {
    fields: &'a Fields<'a>,
    segments: &'a [&'a str],
    /// Whether `filterable_with_key` fields may be filtered (next to a key condition).
    keyed_filters: bool,
    /// Whether the filter has the key condition they need.
    anchored: bool,
}

impl FilterBinder<'_> {
    /// A field of `$filter`: it must exist and be filterable (a field filterable only with a
    /// key condition needs one in the filter's top-level conjunction).
    fn filter_field(&self, name: &str) -> Result<(AttrId, &Attribute), QueryError> {
        let schema = self.fields.schema;
        let Some(id) = schema.attr(name) else {
            return Err(QueryError::new(
                code::UNKNOWN_FIELD,
                "$filter",
                format!(
                    "unknown field \"{}\" in $filter{}{}",
                    shorten(name),
                    self.fields.filterable_list(self.keyed_filters),
                    did_you_mean(name, self.fields.names())
                ),
            ));
        };
        let attr = &schema.attributes[id];
        if attr.filterable || (attr.filterable_with_key && self.keyed_filters && self.anchored) {
            return Ok((id, attr));
        }
        let message = if attr.filterable_with_key && self.keyed_filters {
            let keys = schema.filterable_names();
            let example = keys.last().copied().unwrap_or("CustomerId");
            format!(
                "field \"{}\" of {} is filterable only together with an eq condition on {}, joined by and: add one, e.g. $filter={example} eq '…' and {} …; the connector documents {} as the filterable fields of {}, and the OData examples filter {} only next to such a condition",
                attr.name,
                schema.name,
                or_list(&keys),
                attr.name,
                and_list(&keys),
                schema.name,
                and_list(&schema.keyed_filter_names()),
            )
        } else if attr.filterable_with_key {
            format!(
                "field \"{}\" of {} is not filterable{} (this tenant filters {} only on the fields the connector page lists: activity_filter = \"connector_page\")",
                attr.name,
                schema.name,
                self.fields.filterable_list(false),
                schema.name,
            )
        } else {
            format!(
                "field \"{}\" of {} is not filterable{}",
                attr.name,
                schema.name,
                self.fields.filterable_list(self.keyed_filters)
            )
        };
        Err(QueryError::new(
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            message,
        ))
    }

    fn filter_root(&self, expr: Expr) -> Result<Filter, QueryError> {
        if self.fields.schema.kind == EntityKind::SourceTable {
            return Err(QueryError::new(
                code::ENTITY_NOT_FILTERABLE,
                "$filter",
                format!(
                    "$filter is not supported on the ingested source table {}; $filter works only on the tables Customer Insights creates (Customer, UnifiedActivity, Customer_Measure, segments), not on ingested source tables like PoS_Contacts",
                    self.fields.schema.name
                ),
            ));
        }
        self.filter(expr)
    }

    /// Binds a filter. A chain of one connective (`a or b or c`, which parses left-leaning,
    /// as a tree as deep as the chain is long) is walked in a loop and bound right-leaning,
    /// `Or(a, Or(b, c))`: the same meaning and evaluation order, but [`eval()`](crate::odata::eval())
    /// loops along the right spine and recurses only into parenthesised groups, whose depth
    /// the parser limits. Recursion here is bounded the same way.
    fn filter(&self, expr: Expr) -> Result<Filter, QueryError> {
        let is_and = match expr {
            Expr::And(..) => true,
            Expr::Or(..) => false,
            Expr::Not(inner) => return Ok(Filter::Not(Box::new(self.filter(*inner)?))),
            condition => return self.condition(condition),
        };
        // Walk down the left spine, collecting right operands from the top down.
        let mut rights = Vec::new();
        let mut current = expr;
        let first = loop {
            current = match current {
                Expr::And(a, b) if is_and => {
                    rights.push(*b);
                    *a
                }
                Expr::Or(a, b) if !is_and => {
                    rights.push(*b);
                    *a
                }
                other => break other,
            };
        };
        // Bind in the order written, so that the leftmost error is the one reported.
        let first = self.filter(first)?;
        let rest = rights
            .into_iter()
            .rev()
            .map(|e| self.filter(e))
            .collect::<Result<Vec<_>, _>>()?;
        let join = |left: Filter, right: Filter| {
            if is_and {
                Filter::And(Box::new(left), Box::new(right))
            } else {
                Filter::Or(Box::new(left), Box::new(right))
            }
        };
        let mut rest = rest.into_iter().rev();
        Ok(match rest.next() {
            None => first,
            Some(last) => join(first, rest.fold(last, |chain, f| join(f, chain))),
        })
    }

    #[inline(never)]
    fn condition(&self, expr: Expr) -> Result<Filter, QueryError> {
        Ok(match expr {
            Expr::Compare { field, op, value } => {
                let (id, attr) = self.filter_field(&field)?;
                let value = self.literal(attr, op, value)?;
                Filter::Compare {
                    attr: id,
                    op,
                    value,
                }
            }
            Expr::In { field, values } => {
                let (id, attr) = self.filter_field(&field)?;
                let values = values
                    .into_iter()
                    .map(|v| self.literal(attr, CmpOp::Eq, v))
                    .collect::<Result<_, _>>()?;
                Filter::In { attr: id, values }
            }
            Expr::IsMemberOfSegment(name) => Filter::Member(self.segment(&name)?),
            Expr::And(..) | Expr::Or(..) | Expr::Not(..) => self.filter(expr)?,
        })
    }

    fn segment(&self, name: &str) -> Result<usize, QueryError> {
        if self.fields.schema.kind != EntityKind::Profile {
            return Err(QueryError::new(
                code::MEMBERSHIP_NOT_SUPPORTED,
                "$filter",
                format!(
                    "IsMemberOfSegment works only on the unified customer profile (Customer), not on {}",
                    self.fields.schema.name
                ),
            ));
        }
        let segments = self.segments;
        segments
            .iter()
            .position(|s| *s == name)
            .or_else(|| segments.iter().position(|s| s.eq_ignore_ascii_case(name)))
            .ok_or_else(|| {
                let known = if segments.is_empty() {
                    "the instance has no segments".to_owned()
                } else {
                    format!("segments of this instance are {}", join(segments))
                };
                QueryError::new(
                    code::UNKNOWN_SEGMENT,
                    "$filter",
                    format!(
                        "unknown segment \"{}\" in IsMemberOfSegment; {known}{}",
                        shorten(name),
                        did_you_mean(name, segments.iter().copied())
                    ),
                )
            })
    }

    /// Checks that `value` fits `attr` under `op`, converting a quoted RFC 3339 string for a
    /// date-time field into a date-time.
    fn literal(&self, attr: &Attribute, op: CmpOp, value: Literal) -> Result<Literal, QueryError> {
        let mismatch = |message: String| QueryError::new(code::TYPE_MISMATCH, "$filter", message);
        let shown = shorten(&value.to_string());
        if value == Literal::Null {
            return match op {
                CmpOp::Eq | CmpOp::Ne => Ok(value),
                _ => Err(mismatch(format!(
                    "\"{} {op} null\" is not supported; null works only with eq and ne",
                    attr.name
                ))),
            };
        }
        let fits = match (attr.ty, &value) {
            (AttrType::String, Literal::String(_))
            | (AttrType::Int64 | AttrType::Decimal, Literal::Int(_) | Literal::Decimal(_))
            | (AttrType::DateTime, Literal::DateTime(_))
            | (AttrType::Boolean, Literal::Bool(_)) => true,
            (AttrType::DateTime, Literal::String(s)) => {
                if let Ok(t) = parse_date_time(s) {
                    return Ok(Literal::DateTime(t));
                }
                false
            }
            _ => false,
        };
        if !fits {
            let unquoted = match &value {
                Literal::String(s) => s.clone(),
                other => other.to_string(),
            };
            let fix = match attr.ty {
                AttrType::String => format!(
                    "a quoted string such as {}",
                    shorten(&Literal::String(unquoted).to_string())
                ),
                AttrType::Int64 | AttrType::Decimal => "a number such as 42 or 1.5".to_owned(),
                AttrType::DateTime => {
                    "a date-time such as 2017-01-01T00:00:00Z or 2017-01-01".to_owned()
                }
                AttrType::Boolean => "true or false".to_owned(),
            };
            return Err(mismatch(format!(
                "field \"{}\" is {} and cannot be compared with {shown}; write {fix}",
                attr.name,
                attr.ty.edm()
            )));
        }
        if attr.ty == AttrType::Boolean && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(mismatch(format!(
                "field \"{}\" is {}, which has no order, so {op} does not apply; compare it with eq or ne",
                attr.name,
                attr.ty.edm()
            )));
        }
        Ok(value)
    }
}
