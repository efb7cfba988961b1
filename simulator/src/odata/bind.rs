//! Binding parsed options to an entity's schema: resolving names, checking the connector's
//! filter rules and literal types, and settling paging.

use crate::schema::{AttrId, AttrType, Attribute, EntityKind, Schema};

use super::lexer::parse_date_time;
use super::words::{did_you_mean, join, shorten};
use super::{CmpOp, Expr, Filter, Literal, Query, QueryError, RawOptions, code};

/// What binding needs to know beyond the entity's schema.
#[derive(Debug, Clone, Copy)]
pub struct BindContext<'a> {
    /// Rows per page when `$top` is absent.
    pub page_size_default: usize,
    /// The largest page; a larger `$top` is clamped to it.
    pub page_size_max: usize,
    /// The instance's segment names; [`Filter::Member`] holds an index into this list.
    pub segments: &'a [&'a str],
    /// Whether responses carry `@odata.nextLink`, and so whether `$skiptoken` is accepted.
    pub next_link: bool,
}

/// Checks `raw` against `schema` and the connector's rules (see the [module docs](super)),
/// giving a [`Query`] whose attributes are ids and whose literals fit their fields.
pub fn bind(raw: RawOptions, schema: &Schema, ctx: &BindContext) -> Result<Query, QueryError> {
    let binder = Binder { schema, ctx };
    let filter = raw.filter.map(|e| binder.filter_root(e)).transpose()?;
    let select = binder.select(raw.select)?;
    let orderby = raw
        .orderby
        .into_iter()
        .map(|(name, direction)| Ok((binder.any_field(&name, "$orderby")?, direction)))
        .collect::<Result<Vec<_>, QueryError>>()?;
    let top = match raw.top {
        None => ctx.page_size_default,
        Some(top) => rows("$top", top)?,
    }
    .min(ctx.page_size_max);
    let skip = binder.skip(raw.skip, raw.skiptoken)?;
    if raw.search.is_some() && !schema.attributes.iter().any(|a| a.searchable) {
        return Err(QueryError::new(
            code::SEARCH_NOT_SUPPORTED,
            "$search",
            format!(
                "$search is not supported on {}, which has no searchable fields",
                schema.name
            ),
        ));
    }
    let expand = binder.expand(raw.expand, raw.search.is_some(), select.is_some())?;
    Ok(Query {
        filter,
        select,
        orderby,
        top,
        skip,
        search: raw.search,
        expand,
        count: raw.count,
    })
}

fn rows(option: &str, n: u64) -> Result<usize, QueryError> {
    usize::try_from(n).map_err(|_| {
        QueryError::new(
            code::INVALID_OPTION_VALUE,
            option,
            format!("{option} {n} is too large for this machine"),
        )
    })
}

struct Binder<'a> {
    schema: &'a Schema,
    ctx: &'a BindContext<'a>,
}

impl Binder<'_> {
    fn names(&self) -> impl Iterator<Item = &str> {
        self.schema.attributes.iter().map(|a| a.name.as_str())
    }

    /// A field of `$select` or `$orderby`, where every attribute is allowed.
    fn any_field(&self, name: &str, option: &str) -> Result<AttrId, QueryError> {
        self.schema.attr(name).ok_or_else(|| {
            let names: Vec<&str> = self.names().collect();
            QueryError::new(
                code::UNKNOWN_FIELD,
                option,
                format!(
                    "unknown field \"{}\" in {option}; fields of {} are {}{}",
                    shorten(name),
                    self.schema.name,
                    join(&names),
                    did_you_mean(name, names.iter().copied())
                ),
            )
        })
    }

    /// `, filterable fields of X are A, B` or `; X has no filterable fields`.
    fn filterable_list(&self) -> String {
        let filterable = self.schema.filterable_names();
        if filterable.is_empty() {
            format!("; {} has no filterable fields", self.schema.name)
        } else {
            format!(
                "; filterable fields of {} are {}",
                self.schema.name,
                join(&filterable)
            )
        }
    }

    /// A field of `$filter`: it must exist and be filterable.
    fn filter_field(&self, name: &str) -> Result<(AttrId, &Attribute), QueryError> {
        let Some(id) = self.schema.attr(name) else {
            return Err(QueryError::new(
                code::UNKNOWN_FIELD,
                "$filter",
                format!(
                    "unknown field \"{}\" in $filter{}{}",
                    shorten(name),
                    self.filterable_list(),
                    did_you_mean(name, self.names())
                ),
            ));
        };
        let attr = &self.schema.attributes[id];
        if !attr.filterable {
            return Err(QueryError::new(
                code::FIELD_NOT_FILTERABLE,
                "$filter",
                format!(
                    "field \"{}\" of {} is not filterable{}",
                    attr.name,
                    self.schema.name,
                    self.filterable_list()
                ),
            ));
        }
        Ok((id, attr))
    }

    fn filter_root(&self, expr: Expr) -> Result<Filter, QueryError> {
        if self.schema.kind == EntityKind::SourceTable {
            return Err(QueryError::new(
                code::ENTITY_NOT_FILTERABLE,
                "$filter",
                format!(
                    "$filter is not supported on the ingested source table {}; $filter works only on the tables Customer Insights creates (Customer, UnifiedActivity, Customer_Measure, segments), not on ingested source tables like PoS_Contacts",
                    self.schema.name
                ),
            ));
        }
        self.filter(expr)
    }

    /// Binds a filter. A chain of one connective (`a or b or c`, which parses left-leaning,
    /// as a tree as deep as the chain is long) is walked in a loop and bound right-leaning,
    /// `Or(a, Or(b, c))`: the same meaning and evaluation order, but [`eval`](super::eval)
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
        if self.schema.kind != EntityKind::Profile {
            return Err(QueryError::new(
                code::MEMBERSHIP_NOT_SUPPORTED,
                "$filter",
                format!(
                    "IsMemberOfSegment works only on the unified customer profile (Customer), not on {}",
                    self.schema.name
                ),
            ));
        }
        let segments = self.ctx.segments;
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

    fn select(&self, select: Option<Vec<String>>) -> Result<Option<Vec<AttrId>>, QueryError> {
        let Some(names) = select else {
            return Ok(None);
        };
        if names.iter().any(|n| n == "*") {
            return Ok(None);
        }
        let mut ids = Vec::with_capacity(names.len());
        for name in &names {
            let id = self.any_field(name, "$select")?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(Some(ids))
    }

    fn skip(&self, skip: Option<u64>, token: Option<String>) -> Result<usize, QueryError> {
        let skip = rows("$skip", skip.unwrap_or(0))?;
        let Some(token) = token else {
            return Ok(skip);
        };
        if !self.ctx.next_link {
            return Err(QueryError::new(
                code::SKIP_TOKEN_NOT_SUPPORTED,
                "$skiptoken",
                "$skiptoken is not accepted because next links are off, as in the real API; page with $skip, e.g. $skip=100",
            ));
        }
        let malformed = || {
            QueryError::new(
                code::INVALID_OPTION_VALUE,
                "$skiptoken",
                format!(
                    "invalid $skiptoken \"{}\"; follow @odata.nextLink as the service gave it",
                    shorten(&token)
                ),
            )
        };
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let offset: usize = token.parse().map_err(|_| malformed())?;
        skip.checked_add(offset).ok_or_else(malformed)
    }

    fn expand(
        &self,
        names: Vec<String>,
        search: bool,
        partial_select: bool,
    ) -> Result<Vec<String>, QueryError> {
        if names.is_empty() {
            return Ok(names);
        }
        let supported = &self.schema.expandable;
        if supported.is_empty() {
            return Err(QueryError::new(
                code::EXPAND_NOT_SUPPORTED,
                "$expand",
                format!(
                    "$expand is not supported on {}, which has no navigation properties; $expand works on the unified customer profile",
                    self.schema.name
                ),
            ));
        }
        let mut expand: Vec<String> = Vec::with_capacity(names.len());
        for name in &names {
            let found = supported
                .iter()
                .find(|s| *s == name)
                .or_else(|| supported.iter().find(|s| s.eq_ignore_ascii_case(name)));
            let Some(canonical) = found else {
                return Err(QueryError::new(
                    code::UNKNOWN_NAVIGATION,
                    "$expand",
                    format!(
                        "unknown navigation property \"{}\" in $expand; {} supports {}{}",
                        shorten(name),
                        self.schema.name,
                        join(supported),
                        did_you_mean(name, supported.iter().map(String::as_str))
                    ),
                ));
            };
            if !expand.contains(canonical) {
                expand.push(canonical.clone());
            }
        }
        let combination = |other: &str, fix: &str| {
            QueryError::new(
                code::UNSUPPORTED_COMBINATION,
                "$expand",
                format!(
                    "$expand cannot be combined with {other}, a documented limitation of the API; {fix}"
                ),
            )
        };
        if search {
            return Err(combination("$search", "drop one of them"));
        }
        if partial_select {
            return Err(combination(
                "a $select of some fields",
                "use $select=* or leave $select out",
            ));
        }
        Ok(expand)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Direction, parse_options};
    use super::*;
    use crate::time::SimTime;

    const SEGMENTS: &[&str] = &["HighValueCustomers", "ChurnRisk"];

    fn ctx() -> BindContext<'static> {
        BindContext {
            page_size_default: 100,
            page_size_max: 100,
            segments: SEGMENTS,
            next_link: false,
        }
    }

    fn schema(name: &str, kind: EntityKind, attributes: Vec<Attribute>) -> Schema {
        Schema {
            name: name.into(),
            kind,
            attributes,
            key: Some(0),
            expandable: Vec::new(),
            data_source: None,
        }
    }

    /// Attribute ids: 0 CustomerId, 1 FirstName (not filterable), 2 FullName, 3 EMail, 4 Age,
    /// 5 Balance, 6 IsActive, 7 CreatedOn.
    fn customer() -> Schema {
        let mut s = schema(
            "Customer",
            EntityKind::Profile,
            vec![
                Attribute::new("CustomerId", AttrType::String).filterable(),
                Attribute::new("FirstName", AttrType::String).searchable(),
                Attribute::new("FullName", AttrType::String)
                    .filterable()
                    .searchable(),
                Attribute::new("EMail", AttrType::String)
                    .filterable()
                    .searchable(),
                Attribute::new("Age", AttrType::Int64).filterable(),
                Attribute::new("Balance", AttrType::Decimal).filterable(),
                Attribute::new("IsActive", AttrType::Boolean).filterable(),
                Attribute::new("CreatedOn", AttrType::DateTime).filterable(),
            ],
        );
        s.expandable = vec!["UnifiedActivity".into(), "Customer_Measure".into()];
        s
    }

    fn activity() -> Schema {
        schema(
            "UnifiedActivity",
            EntityKind::UnifiedActivity,
            vec![
                Attribute::new("ActivityId", AttrType::String).filterable(),
                Attribute::new("CustomerId", AttrType::String).filterable(),
                Attribute::new("ActivityTime", AttrType::DateTime).filterable(),
                Attribute::new("Title", AttrType::String).searchable(),
            ],
        )
    }

    fn source_table() -> Schema {
        schema(
            "PoS_Contacts",
            EntityKind::SourceTable,
            vec![
                Attribute::new("ContactId", AttrType::String),
                Attribute::new("Name", AttrType::String),
            ],
        )
    }

    fn measure() -> Schema {
        schema(
            "TotalRevenue",
            EntityKind::BusinessMeasure,
            vec![Attribute::new("Value", AttrType::Decimal)],
        )
    }

    fn bound(query: &str, schema: &Schema, ctx: &BindContext) -> Result<Query, QueryError> {
        bind(parse_options(query)?, schema, ctx)
    }

    fn check(query: &str, schema: &Schema, expected: Query) {
        assert_eq!(bound(query, schema, &ctx()), Ok(expected), "{query}");
    }

    fn check_err(query: &str, schema: &Schema, code: &str, target: &str, message: &str) {
        let err = bound(query, schema, &ctx()).expect_err(query);
        assert_eq!(
            (err.code, err.target.as_str()),
            (code, target),
            "{query}: {}",
            err.message
        );
        assert_eq!(err.message, message, "{query}");
    }

    fn query() -> Query {
        Query {
            filter: None,
            select: None,
            orderby: Vec::new(),
            top: 100,
            skip: 0,
            search: None,
            expand: Vec::new(),
            count: false,
        }
    }

    fn filtered(filter: Filter) -> Query {
        Query {
            filter: Some(filter),
            ..query()
        }
    }

    fn cmp(attr: AttrId, op: CmpOp, value: Literal) -> Filter {
        Filter::Compare { attr, op, value }
    }

    fn filter_of(text: &str, schema: &Schema) -> Result<Filter, QueryError> {
        let encoded = text
            .replace('%', "%25")
            .replace('&', "%26")
            .replace('+', "%2B");
        bound(&format!("$filter={encoded}"), schema, &ctx()).map(|q| q.filter.expect("a filter"))
    }

    #[test]
    fn an_empty_query_gets_the_default_page() {
        check("", &customer(), query());
    }

    #[test]
    fn resolves_filter_fields_exactly_then_ignoring_case() {
        let expected = cmp(0, CmpOp::Eq, Literal::String("1".into()));
        check(
            "$filter=CustomerId eq '1'",
            &customer(),
            filtered(expected.clone()),
        );
        check("$filter=customerid eq '1'", &customer(), filtered(expected));
    }

    #[test]
    fn binds_every_connective_and_in() {
        let f = filter_of(
            "not (Age gt 5 and Age lt 9) or EMail in ('a','b')",
            &customer(),
        )
        .unwrap();
        let expected = Filter::Or(
            Box::new(Filter::Not(Box::new(Filter::And(
                Box::new(cmp(4, CmpOp::Gt, Literal::Int(5))),
                Box::new(cmp(4, CmpOp::Lt, Literal::Int(9))),
            )))),
            Box::new(Filter::In {
                attr: 3,
                values: vec![Literal::String("a".into()), Literal::String("b".into())],
            }),
        );
        assert_eq!(f, expected);
    }

    #[test]
    fn binds_a_chain_right_leaning_in_the_order_written() {
        let age = |n| Box::new(cmp(4, CmpOp::Eq, Literal::Int(n)));
        assert_eq!(
            filter_of("Age eq 1 or Age eq 2 or Age eq 3 or Age eq 4", &customer()),
            Ok(Filter::Or(
                age(1),
                Box::new(Filter::Or(age(2), Box::new(Filter::Or(age(3), age(4)))))
            ))
        );
        assert_eq!(
            filter_of(
                "Age eq 1 and Age eq 2 and Age eq 3 or Age eq 4",
                &customer()
            ),
            Ok(Filter::Or(
                Box::new(Filter::And(age(1), Box::new(Filter::And(age(2), age(3))))),
                age(4)
            ))
        );
    }

    #[test]
    fn reports_the_leftmost_error_of_a_chain() {
        let err = filter_of("Age eq 1 or Nope eq 1 or Age eq 'x'", &customer()).unwrap_err();
        assert_eq!(err.code, code::UNKNOWN_FIELD);
        let err = filter_of("Age eq 'x' and (Nope eq 1 or Age eq 2)", &customer()).unwrap_err();
        assert_eq!(err.code, code::TYPE_MISMATCH);
    }

    #[test]
    fn accepts_literals_of_the_fields_type() {
        let ok =
            |text: &str| filter_of(text, &customer()).unwrap_or_else(|e| panic!("{text}: {e}"));
        ok("FullName eq 'x' or FullName gt 'a' or FullName eq null or FullName ne null");
        ok("Age eq 5 or Age gt 1.5 or Balance le 3 or Balance ge -2.5e3 or Age eq null");
        ok("IsActive eq true or IsActive ne false or IsActive eq null");
        ok("CreatedOn gt 2017-01-01 or CreatedOn lt 2017-01-01T00:00:00Z");
        ok("EMail in ('a', null)");
    }

    #[test]
    fn converts_a_quoted_rfc3339_string_for_a_date_time_field() {
        let t = SimTime(1_483_228_800_000);
        assert_eq!(
            filter_of("CreatedOn gt '2017-01-01T01:00:00+01:00'", &customer()),
            Ok(cmp(7, CmpOp::Gt, Literal::DateTime(t)))
        );
        assert_eq!(
            filter_of("CreatedOn in ('2017-01-01')", &customer()),
            Ok(Filter::In {
                attr: 7,
                values: vec![Literal::DateTime(t)]
            })
        );
    }

    #[test]
    fn rejects_literals_of_another_type_naming_field_type_and_literal() {
        let check_type = |text: &str, message: &str| {
            check_err(
                &format!("$filter={text}"),
                &customer(),
                code::TYPE_MISMATCH,
                "$filter",
                message,
            )
        };
        check_type(
            "FullName eq 5",
            "field \"FullName\" is Edm.String and cannot be compared with 5; write a quoted string such as '5'",
        );
        check_type(
            "FullName eq true",
            "field \"FullName\" is Edm.String and cannot be compared with true; write a quoted string such as 'true'",
        );
        check_type(
            "Age eq '5'",
            "field \"Age\" is Edm.Int64 and cannot be compared with '5'; write a number such as 42 or 1.5",
        );
        check_type(
            "Balance in (1, 'x')",
            "field \"Balance\" is Edm.Decimal and cannot be compared with 'x'; write a number such as 42 or 1.5",
        );
        check_type(
            "IsActive eq 1",
            "field \"IsActive\" is Edm.Boolean and cannot be compared with 1; write true or false",
        );
        check_type(
            "CreatedOn gt 'yesterday'",
            "field \"CreatedOn\" is Edm.DateTimeOffset and cannot be compared with 'yesterday'; write a date-time such as 2017-01-01T00:00:00Z or 2017-01-01",
        );
        check_type(
            "CreatedOn gt '2017-01-01T00:00:00'",
            "field \"CreatedOn\" is Edm.DateTimeOffset and cannot be compared with '2017-01-01T00:00:00'; write a date-time such as 2017-01-01T00:00:00Z or 2017-01-01",
        );
        check_type(
            "CreatedOn gt 5",
            "field \"CreatedOn\" is Edm.DateTimeOffset and cannot be compared with 5; write a date-time such as 2017-01-01T00:00:00Z or 2017-01-01",
        );
        check_type(
            "FullName eq 2017-01-01",
            "field \"FullName\" is Edm.String and cannot be compared with 2017-01-01T00:00:00Z; write a quoted string such as '2017-01-01T00:00:00Z'",
        );
    }

    #[test]
    fn rejects_null_with_ordering_operators_and_ordering_on_booleans() {
        check_err(
            "$filter=Age gt null",
            &customer(),
            code::TYPE_MISMATCH,
            "$filter",
            "\"Age gt null\" is not supported; null works only with eq and ne",
        );
        check_err(
            "$filter=IsActive lt true",
            &customer(),
            code::TYPE_MISMATCH,
            "$filter",
            "field \"IsActive\" is Edm.Boolean, which has no order, so lt does not apply; compare it with eq or ne",
        );
    }

    #[test]
    fn rejects_unknown_filter_fields_listing_the_filterable_ones() {
        let filterable = "filterable fields of Customer are CustomerId, FullName, EMail, Age, Balance, IsActive, CreatedOn";
        check_err(
            "$filter=Emial eq 'a'",
            &customer(),
            code::UNKNOWN_FIELD,
            "$filter",
            &format!("unknown field \"Emial\" in $filter; {filterable}; did you mean \"EMail\"?"),
        );
        check_err(
            "$filter=Phone eq 'a'",
            &customer(),
            code::UNKNOWN_FIELD,
            "$filter",
            &format!("unknown field \"Phone\" in $filter; {filterable}"),
        );
        check_err(
            "$filter=Age gt 1 and Nope eq 1",
            &customer(),
            code::UNKNOWN_FIELD,
            "$filter",
            &format!("unknown field \"Nope\" in $filter; {filterable}"),
        );
    }

    #[test]
    fn rejects_fields_that_are_not_filterable() {
        check_err(
            "$filter=FirstName eq 'Ann'",
            &customer(),
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            "field \"FirstName\" of Customer is not filterable; filterable fields of Customer are CustomerId, FullName, EMail, Age, Balance, IsActive, CreatedOn",
        );
        check_err(
            "$filter=Value gt 1",
            &measure(),
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            "field \"Value\" of TotalRevenue is not filterable; TotalRevenue has no filterable fields",
        );
        check_err(
            "$filter=Title eq 'x'",
            &activity(),
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            "field \"Title\" of UnifiedActivity is not filterable; filterable fields of UnifiedActivity are ActivityId, CustomerId, ActivityTime",
        );
    }

    #[test]
    fn rejects_any_filter_on_an_ingested_source_table() {
        check_err(
            "$filter=ContactId eq '1'",
            &source_table(),
            code::ENTITY_NOT_FILTERABLE,
            "$filter",
            "$filter is not supported on the ingested source table PoS_Contacts; $filter works only on the tables Customer Insights creates (Customer, UnifiedActivity, Customer_Measure, segments), not on ingested source tables like PoS_Contacts",
        );
    }

    #[test]
    fn resolves_segments_exactly_then_ignoring_case() {
        check(
            "$filter=IsMemberOfSegment('ChurnRisk')",
            &customer(),
            filtered(Filter::Member(1)),
        );
        check(
            "$filter=IsMemberOfSegment('highvaluecustomers')",
            &customer(),
            filtered(Filter::Member(0)),
        );
    }

    #[test]
    fn rejects_unknown_segments_listing_the_known_ones() {
        check_err(
            "$filter=IsMemberOfSegment('ChurnRsk')",
            &customer(),
            code::UNKNOWN_SEGMENT,
            "$filter",
            "unknown segment \"ChurnRsk\" in IsMemberOfSegment; segments of this instance are HighValueCustomers, ChurnRisk; did you mean \"ChurnRisk\"?",
        );
        let none = BindContext {
            segments: &[],
            ..ctx()
        };
        let err = bound("$filter=IsMemberOfSegment('X')", &customer(), &none).unwrap_err();
        assert_eq!(
            err.message,
            "unknown segment \"X\" in IsMemberOfSegment; the instance has no segments"
        );
    }

    #[test]
    fn rejects_segment_membership_outside_the_profile() {
        check_err(
            "$filter=IsMemberOfSegment('ChurnRisk')",
            &activity(),
            code::MEMBERSHIP_NOT_SUPPORTED,
            "$filter",
            "IsMemberOfSegment works only on the unified customer profile (Customer), not on UnifiedActivity",
        );
    }

    #[test]
    fn binds_select_in_order_without_duplicates() {
        check(
            "$select=EMail,customerid,EMail",
            &customer(),
            Query {
                select: Some(vec![3, 0]),
                ..query()
            },
        );
        check("$select=*", &customer(), query());
        check("$select=*,EMail", &customer(), query());
        check_err(
            "$select=CustomerId,Emial",
            &customer(),
            code::UNKNOWN_FIELD,
            "$select",
            "unknown field \"Emial\" in $select; fields of Customer are CustomerId, FirstName, FullName, EMail, Age, Balance, IsActive, CreatedOn; did you mean \"EMail\"?",
        );
    }

    #[test]
    fn binds_orderby_on_any_field() {
        check(
            "$orderby=FirstName desc,Age",
            &customer(),
            Query {
                orderby: vec![(1, Direction::Desc), (4, Direction::Asc)],
                ..query()
            },
        );
        check_err(
            "$orderby=Nope",
            &source_table(),
            code::UNKNOWN_FIELD,
            "$orderby",
            "unknown field \"Nope\" in $orderby; fields of PoS_Contacts are ContactId, Name",
        );
    }

    #[test]
    fn defaults_and_clamps_top_and_skip() {
        check(
            "$top=7&$skip=30",
            &customer(),
            Query {
                top: 7,
                skip: 30,
                ..query()
            },
        );
        check("$top=0", &customer(), Query { top: 0, ..query() });
        check("$top=5000", &customer(), query());
        let wide = BindContext {
            page_size_default: 10,
            page_size_max: 1000,
            ..ctx()
        };
        assert_eq!(bound("", &customer(), &wide).map(|q| q.top), Ok(10));
        assert_eq!(
            bound("$top=500", &customer(), &wide).map(|q| q.top),
            Ok(500)
        );
        let odd = BindContext {
            page_size_default: 200,
            page_size_max: 50,
            ..ctx()
        };
        assert_eq!(bound("", &customer(), &odd).map(|q| q.top), Ok(50));
    }

    #[test]
    fn rejects_skiptoken_while_next_links_are_off() {
        check_err(
            "$skiptoken=100",
            &customer(),
            code::SKIP_TOKEN_NOT_SUPPORTED,
            "$skiptoken",
            "$skiptoken is not accepted because next links are off, as in the real API; page with $skip, e.g. $skip=100",
        );
    }

    #[test]
    fn adds_the_skiptoken_offset_to_skip_when_next_links_are_on() {
        let on = BindContext {
            next_link: true,
            ..ctx()
        };
        assert_eq!(
            bound("$skiptoken=200", &customer(), &on).map(|q| q.skip),
            Ok(200)
        );
        assert_eq!(
            bound("$skiptoken=200&$skip=5", &customer(), &on).map(|q| q.skip),
            Ok(205)
        );
        for bad in ["", "abc", "-1", "1.5", "99999999999999999999999"] {
            let err = bound(&format!("$skiptoken={bad}"), &customer(), &on).expect_err(bad);
            assert_eq!(
                (err.code, err.target.as_str()),
                (code::INVALID_OPTION_VALUE, "$skiptoken")
            );
            assert_eq!(
                err.message,
                format!(
                    "invalid $skiptoken \"{bad}\"; follow @odata.nextLink as the service gave it"
                )
            );
        }
        let err = bound(
            &format!("$skiptoken={}&$skip=1", usize::MAX),
            &customer(),
            &on,
        )
        .unwrap_err();
        assert_eq!(err.code, code::INVALID_OPTION_VALUE);
    }

    #[test]
    fn binds_expand_to_canonical_names_without_duplicates() {
        check(
            "$expand=unifiedactivity,Customer_Measure,UnifiedActivity&$select=*",
            &customer(),
            Query {
                expand: vec!["UnifiedActivity".into(), "Customer_Measure".into()],
                ..query()
            },
        );
    }

    #[test]
    fn rejects_expand_where_it_does_not_apply() {
        check_err(
            "$expand=UnifiedActivity",
            &activity(),
            code::EXPAND_NOT_SUPPORTED,
            "$expand",
            "$expand is not supported on UnifiedActivity, which has no navigation properties; $expand works on the unified customer profile",
        );
        check_err(
            "$expand=BrandShareOfVoiceFromMicrosoft",
            &customer(),
            code::UNKNOWN_NAVIGATION,
            "$expand",
            "unknown navigation property \"BrandShareOfVoiceFromMicrosoft\" in $expand; Customer supports UnifiedActivity, Customer_Measure",
        );
        check_err(
            "$expand=UnifiedActivty",
            &customer(),
            code::UNKNOWN_NAVIGATION,
            "$expand",
            "unknown navigation property \"UnifiedActivty\" in $expand; Customer supports UnifiedActivity, Customer_Measure; did you mean \"UnifiedActivity\"?",
        );
    }

    #[test]
    fn rejects_the_documented_unsupported_combinations() {
        check_err(
            "$expand=UnifiedActivity&$top=10&$skip=0&$search=%22corey%22",
            &customer(),
            code::UNSUPPORTED_COMBINATION,
            "$expand",
            "$expand cannot be combined with $search, a documented limitation of the API; drop one of them",
        );
        check_err(
            "$expand=UnifiedActivity&$select=CustomerId,FullName",
            &customer(),
            code::UNSUPPORTED_COMBINATION,
            "$expand",
            "$expand cannot be combined with a $select of some fields, a documented limitation of the API; use $select=* or leave $select out",
        );
    }

    #[test]
    fn accepts_search_only_where_a_field_is_searchable() {
        check(
            "$search=%22corey%22",
            &customer(),
            Query {
                search: Some("corey".into()),
                ..query()
            },
        );
        check(
            "$search=%22corey%22",
            &activity(),
            Query {
                search: Some("corey".into()),
                ..query()
            },
        );
        check_err(
            "$search=%22x%22",
            &measure(),
            code::SEARCH_NOT_SUPPORTED,
            "$search",
            "$search is not supported on TotalRevenue, which has no searchable fields",
        );
    }

    /// A flat chain has no nesting limit, only the length limit; with the shortest condition
    /// (`A eq''`) it builds a tree about a thousand levels deep, which every recursive pass
    /// (parse, print, bind, evaluate, drop) must survive on a default 2 MiB thread stack.
    #[test]
    fn survives_the_longest_flat_chain_the_length_limit_allows() {
        struct Row;
        impl super::super::RowAccess for Row {
            fn value(&self, _: AttrId) -> crate::schema::Value<'_> {
                crate::schema::Value::Str("x".into())
            }
            fn is_member(&self, _: usize) -> bool {
                false
            }
        }
        let tiny = schema(
            "T",
            EntityKind::Segment,
            vec![Attribute::new("A", AttrType::String).filterable()],
        );
        for connective in ["or", "and"] {
            let unit = format!("A eq''{connective} ");
            let n = super::super::FILTER_LEN_MAX / unit.len();
            let text = format!("{}A eq''", unit.repeat(n - 1));
            let expr = super::super::parse_filter(&text).expect("parses");
            let printed = expr.to_string();
            assert!(printed.len() <= super::super::FILTER_LEN_MAX + 2 * n);
            let filter = bind(
                RawOptions {
                    filter: Some(expr),
                    ..RawOptions::default()
                },
                &tiny,
                &ctx(),
            )
            .expect("binds")
            .filter
            .expect("a filter");
            assert!(!super::super::eval(&filter, &Row));
        }
    }

    #[test]
    fn binds_the_documented_examples() {
        let ok = |q: &str, schema: &Schema| {
            bound(q, schema, &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"))
        };
        ok(
            "$select=CustomerId,FullName&$filter=customerid%20eq%20'1'",
            &customer(),
        );
        ok("$top=10&$skip=0&$search=%22string%22", &customer());
        ok(
            "select=*&$filter=IsMemberOfSegment('ChurnRisk')&$top=10",
            &customer(),
        );
        ok(
            "$expand=UnifiedActivity,Customer_Measure&$filter=CustomerId%20in%20('a','b')",
            &customer(),
        );
        ok(
            "$filter=CustomerId%20eq%20'c'%20and%20ActivityTime%20gt%202017-01-01T00:00:00.000Z%20and%20ActivityTime%20lt%202020-01-01T00:00:00.000Z&$orderby=ActivityTime%20asc",
            &activity(),
        );
        ok("$skip=0&$top=100&$select=*", &source_table());
    }
}
