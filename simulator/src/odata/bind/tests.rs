//! Binding tests: every case goes through [`check`], a query string against a schema.

use proptest::prelude::*;

use super::{BindContext, bind};
use crate::odata::{
    CmpOp, Direction, Expr, FILTER_LEN_MAX, Filter, Literal, Query, RawOptions, code, eval,
    parse_filter, parse_options, testgen,
};
use crate::schema::{AttrId, AttrType, Attribute, EntityKind, Schema};
use crate::time::SimTime;

const SEGMENTS: &[&str] = &["HighValueCustomers", "ChurnRisk"];

fn ctx() -> BindContext<'static> {
    BindContext {
        page_size_default: 100,
        page_size_max: 100,
        segments: SEGMENTS,
        keyed_filters: true,
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

/// Attribute ids: 0 ActivityId, 1 CustomerId (filterable), 2 ActivityTime, 3 ActivityType
/// (filterable next to a key condition), 4 Title (not filterable).
fn activity() -> Schema {
    schema(
        "UnifiedActivity",
        EntityKind::UnifiedActivity,
        vec![
            Attribute::new("ActivityId", AttrType::String).filterable(),
            Attribute::new("CustomerId", AttrType::String).filterable(),
            Attribute::new("ActivityTime", AttrType::DateTime).filterable_with_key(),
            Attribute::new("ActivityType", AttrType::String).filterable_with_key(),
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

/// How a query fails: its error's code, target and message.
type Failure = (&'static str, String, String);

/// Parses and binds `query` against `schema` in `ctx`.
fn check_in(ctx: &BindContext, query: &str, schema: &Schema) -> Result<Query, Failure> {
    parse_options(query)
        .and_then(|raw| bind(raw, schema, ctx))
        .map_err(|e| (e.code, e.target, e.message))
}

/// Parses and binds `query` against `schema` with the usual page sizes and segments: the one
/// helper every test goes through.
fn check(query: &str, schema: &Schema) -> Result<Query, Failure> {
    check_in(&ctx(), query, schema)
}

/// A failure with `code` at `target` and exactly `message`.
fn failure(code: &'static str, target: &str, message: &str) -> Result<Query, Failure> {
    Err((code, target.to_owned(), message.to_owned()))
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

/// The filter of `$filter=text` (with `%`, `&` and `+` escaped).
fn filter_of(text: &str, schema: &Schema) -> Result<Filter, Failure> {
    let encoded = text
        .replace('%', "%25")
        .replace('&', "%26")
        .replace('+', "%2B");
    check(&format!("$filter={encoded}"), schema).map(|q| q.filter.expect("a filter"))
}

#[test]
fn an_empty_query_gets_the_default_page() {
    assert_eq!(check("", &customer()), Ok(query()));
}

#[test]
fn resolves_filter_fields_exactly_then_ignoring_case() {
    let expected = cmp(0, CmpOp::Eq, Literal::String("1".into()));
    assert_eq!(
        check("$filter=CustomerId eq '1'", &customer()),
        Ok(filtered(expected.clone()))
    );
    assert_eq!(
        check("$filter=customerid eq '1'", &customer()),
        Ok(filtered(expected))
    );
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
    let (got, _, _) = filter_of("Age eq 1 or Nope eq 1 or Age eq 'x'", &customer()).unwrap_err();
    assert_eq!(got, code::UNKNOWN_FIELD);
    let (got, _, _) = filter_of("Age eq 'x' and (Nope eq 1 or Age eq 2)", &customer()).unwrap_err();
    assert_eq!(got, code::TYPE_MISMATCH);
}

#[test]
fn accepts_literals_of_the_fields_type() {
    let ok = |text: &str| filter_of(text, &customer()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
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
        assert_eq!(
            check(&format!("$filter={text}"), &customer()),
            failure(code::TYPE_MISMATCH, "$filter", message)
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
    assert_eq!(
        check("$filter=Age gt null", &customer()),
        failure(
            code::TYPE_MISMATCH,
            "$filter",
            "\"Age gt null\" is not supported; null works only with eq and ne"
        )
    );
    assert_eq!(
        check("$filter=IsActive lt true", &customer()),
        failure(
            code::TYPE_MISMATCH,
            "$filter",
            "field \"IsActive\" is Edm.Boolean, which has no order, so lt does not apply; compare it with eq or ne"
        )
    );
}

#[test]
fn rejects_unknown_filter_fields_listing_the_filterable_ones() {
    let filterable = "filterable fields of Customer are CustomerId, FullName, EMail, Age, Balance, IsActive, CreatedOn";
    assert_eq!(
        check("$filter=Emial eq 'a'", &customer()),
        failure(
            code::UNKNOWN_FIELD,
            "$filter",
            &format!("unknown field \"Emial\" in $filter; {filterable}; did you mean \"EMail\"?")
        )
    );
    assert_eq!(
        check("$filter=Phone eq 'a'", &customer()),
        failure(
            code::UNKNOWN_FIELD,
            "$filter",
            &format!("unknown field \"Phone\" in $filter; {filterable}")
        )
    );
    assert_eq!(
        check("$filter=Age gt 1 and Nope eq 1", &customer()),
        failure(
            code::UNKNOWN_FIELD,
            "$filter",
            &format!("unknown field \"Nope\" in $filter; {filterable}")
        )
    );
}

#[test]
fn rejects_fields_that_are_not_filterable() {
    assert_eq!(
        check("$filter=FirstName eq 'Ann'", &customer()),
        failure(
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            "field \"FirstName\" of Customer is not filterable; filterable fields of Customer are CustomerId, FullName, EMail, Age, Balance, IsActive, CreatedOn"
        )
    );
    assert_eq!(
        check("$filter=Value gt 1", &measure()),
        failure(
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            "field \"Value\" of TotalRevenue is not filterable; TotalRevenue has no filterable fields"
        )
    );
    assert_eq!(
        check("$filter=Title eq 'x'", &activity()),
        failure(
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            "field \"Title\" of UnifiedActivity is not filterable; filterable fields of UnifiedActivity are ActivityId, CustomerId, and ActivityTime, ActivityType together with an eq condition on ActivityId or CustomerId"
        )
    );
}

#[test]
fn accepts_activity_fields_next_to_a_key_condition() {
    let ok = |q: &str| {
        check(&format!("$filter={q}"), &activity()).unwrap_or_else(|e| panic!("{q}: {e:?}"))
    };
    ok("CustomerId eq 'c' and ActivityType eq 'Purchase'");
    ok("ActivityType eq 'Purchase' and customerid eq 'c'");
    ok("ActivityId eq 'a' and ActivityTime gt 2017-01-01");
    ok("(CustomerId eq 'c' and ActivityTime gt 2017-01-01) and ActivityTime lt 2020-01-01");
    ok("CustomerId eq 'c' and (ActivityType eq 'Purchase' or not (ActivityType eq 'Return'))");
    ok("'c' eq CustomerId and ActivityType in ('Purchase','Return')");
    // The filterable fields need nothing.
    ok("CustomerId in ('a','b') or ActivityId ne 'x'");
}

#[test]
fn refuses_activity_fields_without_a_key_condition_saying_which_fields_and_why() {
    let why = "field \"ActivityType\" of UnifiedActivity is filterable only together with an eq condition on ActivityId or CustomerId, joined by and: add one, e.g. $filter=CustomerId eq '…' and ActivityType …; the connector documents ActivityId and CustomerId as the filterable fields of UnifiedActivity, and the OData examples filter ActivityTime and ActivityType only next to such a condition";
    for q in [
        "ActivityType eq 'Purchase'",
        "CustomerId eq 'c' or ActivityType eq 'Purchase'",
        "CustomerId ne 'c' and ActivityType eq 'Purchase'",
        "CustomerId eq null and ActivityType eq 'Purchase'",
        "CustomerId in ('c') and ActivityType eq 'Purchase'",
        "not (CustomerId eq 'c') and ActivityType eq 'Purchase'",
        "not (CustomerId eq 'c' and ActivityType eq 'Purchase')",
    ] {
        assert_eq!(
            check(&format!("$filter={q}"), &activity()),
            failure(code::FIELD_NOT_FILTERABLE, "$filter", why),
            "{q}"
        );
    }
}

#[test]
fn the_connector_page_rule_allows_only_the_listed_fields() {
    let page = BindContext {
        keyed_filters: false,
        ..ctx()
    };
    assert_eq!(
        check_in(
            &page,
            "$filter=CustomerId eq 'c' and ActivityType eq 'Purchase'",
            &activity()
        ),
        failure(
            code::FIELD_NOT_FILTERABLE,
            "$filter",
            "field \"ActivityType\" of UnifiedActivity is not filterable; filterable fields of UnifiedActivity are ActivityId, CustomerId (this tenant filters UnifiedActivity only on the fields the connector page lists: activity_filter = \"connector_page\")"
        )
    );
    assert!(
        check_in(
            &page,
            "$filter=CustomerId eq 'c' and ActivityId eq 'a'",
            &activity()
        )
        .is_ok()
    );
}

/// Conditions on the activity schema's four filterable-somehow fields, with literals of the
/// right type (nulls only with `eq` and `ne`), field names in any case.
fn activity_atom() -> impl Strategy<Value = Expr> {
    let field = prop::sample::select(vec![
        "ActivityId",
        "CustomerId",
        "ActivityTime",
        "ActivityType",
        "customerid",
        "ACTIVITYTYPE",
    ]);
    (field, testgen::op(), any::<bool>(), 0..3usize).prop_map(|(field, op, null, n)| {
        let time = field.eq_ignore_ascii_case("ActivityTime");
        let value = |i: usize| {
            if time {
                Literal::DateTime(SimTime(1_500_000_000_000 + i as i64))
            } else {
                Literal::String(format!("v{i}"))
            }
        };
        let field = field.to_owned();
        if n == 2 {
            return Expr::In {
                field,
                values: vec![value(0), value(1)],
            };
        }
        let op_takes_null = matches!(op, CmpOp::Eq | CmpOp::Ne);
        let value = if null && op_takes_null {
            Literal::Null
        } else {
            value(n)
        };
        Expr::Compare { field, op, value }
    })
}

fn activity_expr() -> impl Strategy<Value = Expr> {
    activity_atom().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            1 => inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

/// The reference model of the rule: the conditions of the outermost `and` chain.
fn top_conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::And(a, b) => {
            let mut out = top_conjuncts(a);
            out.extend(top_conjuncts(b));
            out
        }
        other => vec![other],
    }
}

fn mentions_keyed_field(e: &Expr) -> bool {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => mentions_keyed_field(a) || mentions_keyed_field(b),
        Expr::Not(a) => mentions_keyed_field(a),
        Expr::Compare { field, .. } | Expr::In { field, .. } => {
            field.eq_ignore_ascii_case("ActivityTime") || field.eq_ignore_ascii_case("ActivityType")
        }
        Expr::IsMemberOfSegment(_) => false,
    }
}

proptest! {
    /// A filter on UnifiedActivity binds iff it names no keyed field (`ActivityTime`,
    /// `ActivityType`), or its top-level conjunction has `ActivityId eq` or `CustomerId eq`
    /// with a value; otherwise the error is `FieldNotFilterable` on `$filter`. With the
    /// connector page's rule, it binds iff it names no keyed field.
    #[test]
    fn keyed_fields_bind_exactly_next_to_a_key_condition(e in activity_expr()) {
        let anchored = top_conjuncts(&e).iter().any(|c| matches!(
            c,
            Expr::Compare { field, op: CmpOp::Eq, value }
                if *value != Literal::Null
                    && (field.eq_ignore_ascii_case("CustomerId") || field.eq_ignore_ascii_case("ActivityId"))
        ));
        let keyed = mentions_keyed_field(&e);
        let raw = || RawOptions { filter: Some(e.clone()), ..RawOptions::default() };
        for (ctx, allowed) in [(ctx(), !keyed || anchored), (BindContext { keyed_filters: false, ..ctx() }, !keyed)] {
            match bind(raw(), &activity(), &ctx) {
                Ok(_) => prop_assert!(allowed, "bound {e}"),
                Err(err) => {
                    prop_assert!(!allowed, "refused {e}: {}", err.message);
                    prop_assert_eq!((err.code, err.target.as_str()), (code::FIELD_NOT_FILTERABLE, "$filter"));
                }
            }
        }
    }
}

#[test]
fn rejects_any_filter_on_an_ingested_source_table() {
    assert_eq!(
        check("$filter=ContactId eq '1'", &source_table()),
        failure(
            code::ENTITY_NOT_FILTERABLE,
            "$filter",
            "$filter is not supported on the ingested source table PoS_Contacts; $filter works only on the tables Customer Insights creates (Customer, UnifiedActivity, Customer_Measure, segments), not on ingested source tables like PoS_Contacts"
        )
    );
}

#[test]
fn resolves_segments_exactly_then_ignoring_case() {
    assert_eq!(
        check("$filter=IsMemberOfSegment('ChurnRisk')", &customer()),
        Ok(filtered(Filter::Member(1)))
    );
    assert_eq!(
        check(
            "$filter=IsMemberOfSegment('highvaluecustomers')",
            &customer()
        ),
        Ok(filtered(Filter::Member(0)))
    );
}

#[test]
fn rejects_unknown_segments_listing_the_known_ones() {
    assert_eq!(
        check("$filter=IsMemberOfSegment('ChurnRsk')", &customer()),
        failure(
            code::UNKNOWN_SEGMENT,
            "$filter",
            "unknown segment \"ChurnRsk\" in IsMemberOfSegment; segments of this instance are HighValueCustomers, ChurnRisk; did you mean \"ChurnRisk\"?"
        )
    );
    let none = BindContext {
        segments: &[],
        ..ctx()
    };
    let (_, _, message) =
        check_in(&none, "$filter=IsMemberOfSegment('X')", &customer()).unwrap_err();
    assert_eq!(
        message,
        "unknown segment \"X\" in IsMemberOfSegment; the instance has no segments"
    );
}

#[test]
fn rejects_segment_membership_outside_the_profile() {
    assert_eq!(
        check("$filter=IsMemberOfSegment('ChurnRisk')", &activity()),
        failure(
            code::MEMBERSHIP_NOT_SUPPORTED,
            "$filter",
            "IsMemberOfSegment works only on the unified customer profile (Customer), not on UnifiedActivity"
        )
    );
}

#[test]
fn binds_select_in_order_without_duplicates() {
    assert_eq!(
        check("$select=EMail,customerid,EMail", &customer()),
        Ok(Query {
            select: Some(vec![3, 0]),
            ..query()
        })
    );
    assert_eq!(check("$select=*", &customer()), Ok(query()));
    assert_eq!(check("$select=*,EMail", &customer()), Ok(query()));
    assert_eq!(
        check("$select=CustomerId,Emial", &customer()),
        failure(
            code::UNKNOWN_FIELD,
            "$select",
            "unknown field \"Emial\" in $select; fields of Customer are CustomerId, FirstName, FullName, EMail, Age, Balance, IsActive, CreatedOn; did you mean \"EMail\"?"
        )
    );
}

#[test]
fn binds_orderby_on_any_field() {
    assert_eq!(
        check("$orderby=FirstName desc,Age", &customer()),
        Ok(Query {
            orderby: vec![(1, Direction::Desc), (4, Direction::Asc)],
            ..query()
        })
    );
    assert_eq!(
        check("$orderby=Nope", &source_table()),
        failure(
            code::UNKNOWN_FIELD,
            "$orderby",
            "unknown field \"Nope\" in $orderby; fields of PoS_Contacts are ContactId, Name"
        )
    );
}

#[test]
fn defaults_and_clamps_top_and_skip() {
    assert_eq!(
        check("$top=7&$skip=30", &customer()),
        Ok(Query {
            top: 7,
            skip: 30,
            ..query()
        })
    );
    assert_eq!(
        check("$top=0", &customer()),
        Ok(Query { top: 0, ..query() })
    );
    assert_eq!(check("$top=5000", &customer()), Ok(query()));
    let wide = BindContext {
        page_size_default: 10,
        page_size_max: 1000,
        ..ctx()
    };
    assert_eq!(check_in(&wide, "", &customer()).map(|q| q.top), Ok(10));
    assert_eq!(
        check_in(&wide, "$top=500", &customer()).map(|q| q.top),
        Ok(500)
    );
    let odd = BindContext {
        page_size_default: 200,
        page_size_max: 50,
        ..ctx()
    };
    assert_eq!(check_in(&odd, "", &customer()).map(|q| q.top), Ok(50));
}

#[test]
fn adds_the_skiptoken_offset_to_skip() {
    assert_eq!(
        check("$skiptoken=200", &customer()).map(|q| q.skip),
        Ok(200)
    );
    assert_eq!(
        check("$skiptoken=200&$skip=5", &customer()).map(|q| q.skip),
        Ok(205)
    );
    for bad in ["", "abc", "-1", "1.5", "99999999999999999999999"] {
        let message = format!(
            "invalid $skiptoken \"{bad}\"; a $skiptoken is the continuation an @odata.nextLink carries (here the row offset of the next page, e.g. $skiptoken=100): follow the link as the service gave it, or page with $skip"
        );
        assert_eq!(
            check(&format!("$skiptoken={bad}"), &customer()),
            failure(code::INVALID_OPTION_VALUE, "$skiptoken", &message)
        );
    }
    let (got, _, _) =
        check(&format!("$skiptoken={}&$skip=1", usize::MAX), &customer()).unwrap_err();
    assert_eq!(got, code::INVALID_OPTION_VALUE);
}

#[test]
fn binds_expand_to_canonical_names_without_duplicates() {
    assert_eq!(
        check(
            "$expand=unifiedactivity,Customer_Measure,UnifiedActivity&$select=*",
            &customer()
        ),
        Ok(Query {
            expand: vec!["UnifiedActivity".into(), "Customer_Measure".into()],
            ..query()
        })
    );
}

#[test]
fn rejects_expand_where_it_does_not_apply() {
    assert_eq!(
        check("$expand=UnifiedActivity", &activity()),
        failure(
            code::EXPAND_NOT_SUPPORTED,
            "$expand",
            "$expand is not supported on UnifiedActivity, which has no navigation properties; $expand works on the unified customer profile"
        )
    );
    assert_eq!(
        check("$expand=BrandShareOfVoiceFromMicrosoft", &customer()),
        failure(
            code::UNKNOWN_NAVIGATION,
            "$expand",
            "unknown navigation property \"BrandShareOfVoiceFromMicrosoft\" in $expand; Customer supports UnifiedActivity, Customer_Measure"
        )
    );
    assert_eq!(
        check("$expand=UnifiedActivty", &customer()),
        failure(
            code::UNKNOWN_NAVIGATION,
            "$expand",
            "unknown navigation property \"UnifiedActivty\" in $expand; Customer supports UnifiedActivity, Customer_Measure; did you mean \"UnifiedActivity\"?"
        )
    );
}

#[test]
fn rejects_the_documented_unsupported_combinations() {
    assert_eq!(
        check(
            "$expand=UnifiedActivity&$top=10&$skip=0&$search=%22corey%22",
            &customer()
        ),
        failure(
            code::UNSUPPORTED_COMBINATION,
            "$expand",
            "$expand cannot be combined with $search, a documented limitation of the API; drop one of them"
        )
    );
    assert_eq!(
        check(
            "$expand=UnifiedActivity&$select=CustomerId,FullName",
            &customer()
        ),
        failure(
            code::UNSUPPORTED_COMBINATION,
            "$expand",
            "$expand cannot be combined with a $select of some fields, a documented limitation of the API; use $select=* or leave $select out"
        )
    );
}

#[test]
fn accepts_search_only_where_a_field_is_searchable() {
    assert_eq!(
        check("$search=%22corey%22", &customer()),
        Ok(Query {
            search: Some("corey".into()),
            ..query()
        })
    );
    assert_eq!(
        check("$search=%22corey%22", &activity()),
        Ok(Query {
            search: Some("corey".into()),
            ..query()
        })
    );
    assert_eq!(
        check("$search=%22x%22", &measure()),
        failure(
            code::SEARCH_NOT_SUPPORTED,
            "$search",
            "$search is not supported on TotalRevenue, which has no searchable fields"
        )
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
        let n = FILTER_LEN_MAX / unit.len();
        let text = format!("{}A eq''", unit.repeat(n - 1));
        let expr = parse_filter(&text).expect("parses");
        let printed = expr.to_string();
        assert!(printed.len() <= FILTER_LEN_MAX + 2 * n);
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
        assert!(!eval(&filter, &Row));
    }
}

#[test]
fn binds_the_documented_examples() {
    let ok = |q: &str, schema: &Schema| check(q, schema).unwrap_or_else(|e| panic!("{q}: {e:?}"));
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
