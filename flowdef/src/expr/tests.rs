use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn scope() -> FixedScope {
    let mut s = FixedScope::with_trigger_body(json!({
        "segmentName": "HighValueCustomers",
        "entityCount": 1042,
        "threshold": 1000,
        "errors": [{"errorCode": "E1", "message": "boom"}],
    }));
    s.actions.insert(
        "Get_items".into(),
        json!({"name": "Get_items", "status": "Succeeded", "outputs": {"statusCode": 200, "body": {"value": [{"CustomerId": "a"}, {"CustomerId": "b"}]}}}),
    );
    s.actions.insert(
        "Compose".into(),
        json!({"name": "Compose", "status": "Succeeded", "outputs": {"n": 1}}),
    );
    s.variables.insert("skip".into(), json!(200));
    s.parameters.insert("Threshold".into(), json!("1000"));
    s.loops
        .push(("Apply_to_each".into(), json!({"CustomerId": "a"})));
    s.now_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    s
}

/// Evaluates `text` (a definition's string value) against the fixed scope.
fn check(text: &str, expected: Value) {
    let t = parse_template(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let got = eval_template(&t, &scope()).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(got, expected, "{text}");
}

fn check_err(text: &str, contains: &str) {
    let t = parse_template(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let err = eval_template(&t, &scope()).unwrap_err();
    assert!(err.to_string().contains(contains), "{text}: {err}");
}

#[test]
fn workflow_functions_read_the_run() {
    check(
        "@triggerBody()?['segmentName']",
        json!("HighValueCustomers"),
    );
    check("@triggerBody().entityCount", json!(1042));
    check("@triggerBody()?['missing']?['deeper']", Value::Null);
    check("@triggerOutputs()['body']['threshold']", json!(1000));
    check("@length(body('Get_items')?['value'])", json!(2));
    check("@outputs('Get_items')?['statusCode']", json!(200));
    check("@outputs('Compose')", json!({"n": 1}));
    check("@actions('Get_items')['status']", json!("Succeeded"));
    check("@variables('skip')", json!(200));
    check("@parameters('Threshold')", json!("1000"));
    check("@item()?['CustomerId']", json!("a"));
    check("@items('Apply_to_each')?['CustomerId']", json!("a"));
    check(
        "@first(triggerBody()?['errors'])?['message']",
        json!("boom"),
    );
    check_err("@body('Compose')", "use outputs('Compose')");
    check_err("@body('Nope')", "the action 'Nope' does not exist");
    check_err("@triggerBody()['missing']", "use ?['missing']");
    check_err("@variables('nope')", "the variable 'nope' does not exist");
}

#[test]
fn interpolation_writes_values_as_text() {
    check(
        "@{triggerBody()?['segmentName']} now has @{triggerBody()?['entityCount']} members",
        json!("HighValueCustomers now has 1042 members"),
    );
    check("@{true}", json!("True"));
    check("@{createArray(1, 'a')}", json!("[1,\"a\"]"));
    check("x@{null}y", json!("xy"));
    check("@@{not an expression}", json!("@{not an expression}"));
}

#[test]
fn string_functions() {
    check("@concat('a', 1, true)", json!("a1True"));
    check("@substring('hello', 1, 3)", json!("ell"));
    check("@substring('hello', 2)", json!("llo"));
    check_err("@substring('hello', 4, 3)", "do not fit");
    check("@slice('hello', -3)", json!("llo"));
    check("@replace('a-b-c', '-', '+')", json!("a+b+c"));
    check("@toUpper('abc')", json!("ABC"));
    check("@trim('  x ')", json!("x"));
    check("@indexOf('Hello', 'L')", json!(2));
    check("@lastIndexOf('hello', 'l')", json!(3));
    check("@nthIndexOf('a-b-c', '-', 2)", json!(3));
    check("@startsWith('Hello', 'he')", json!(true));
    check("@split('a,b', ',')", json!(["a", "b"]));
    check("@encodeUriComponent('a b&c')", json!("a%20b%26c"));
    check("@decodeUriComponent('a%20b')", json!("a b"));
    check("@base64('hi there')", json!("aGkgdGhlcmU="));
    check("@base64ToString('aGkgdGhlcmU=')", json!("hi there"));
    check("@formatNumber(1234.5, 'N2')", json!("1,234.50"));
    check("@length(guid())", json!(36));
    check("@guid('N')", json!(guid_n()));
}

fn guid_n() -> String {
    let t = parse_template("@guid('N')").unwrap();
    eval_template(&t, &scope())
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn collection_functions() {
    check("@contains(createArray(1, 2), 2)", json!(true));
    check("@contains('abc', 'b')", json!(true));
    check("@contains(triggerBody(), 'threshold')", json!(true));
    check("@empty(createArray())", json!(true));
    check("@empty('')", json!(true));
    check("@last(createArray(1, 2, 3))", json!(3));
    check("@join(createArray('a', 'b'), '; ')", json!("a; b"));
    check("@skip(createArray(1, 2, 3), 1)", json!([2, 3]));
    check("@take('abc', 2)", json!("ab"));
    check(
        "@union(createArray(1, 2), createArray(2, 3))",
        json!([1, 2, 3]),
    );
    check(
        "@intersection(createArray(1, 2), createArray(2, 3))",
        json!([2]),
    );
    check("@range(3, 3)", json!([3, 4, 5]));
    check("@reverse(range(0, 3))", json!([2, 1, 0]));
    check(
        "@sort(createArray(json('{\"n\": 2}'), json('{\"n\": 1}')), 'n')",
        json!([{"n": 1}, {"n": 2}]),
    );
    check(
        "@setProperty(json('{\"a\": 1}'), 'b', 2)",
        json!({"a": 1, "b": 2}),
    );
    check_err("@addProperty(json('{\"a\": 1}'), 'a', 2)", "already exists");
}

#[test]
fn logical_and_conversion_functions() {
    check("@equals('ABC', 'abc')", json!(true));
    check("@equals(1, 1.0)", json!(true));
    check("@greater(triggerBody()?['entityCount'], 1000)", json!(true));
    check("@lessOrEquals('900', '1000')", json!(false));
    check_err("@greater('1100', 1000)", "two numbers or two strings");
    check("@and(true, 'true', not(false))", json!(true));
    check("@or(false, false)", json!(false));
    check("@if(empty(createArray()), 'none', 'some')", json!("none"));
    check("@if(false, createArray()[0], 'safe')", json!("safe"));
    check("@coalesce(null, null, 3)", json!(3));
    check("@int('42')", json!(42));
    check("@float('1.5')", json!(1.5));
    check("@string(1.0)", json!("1"));
    check("@bool('TRUE')", json!(true));
    check("@json('{\"a\": [1]}')?['a'][0]", json!(1));
    check("@array('x')", json!(["x"]));
    check_err("@int('4x')", "cannot convert the string '4x'");
}

#[test]
fn math_functions_keep_integers_integral() {
    check("@add(1, 2)", json!(3));
    check("@add(1, 2.5)", json!(3.5));
    check("@div(7, 2)", json!(3));
    check("@div(7, 2.0)", json!(3.5));
    check("@mod(-7, 3)", json!(-1));
    check("@mul(variables('skip'), 2)", json!(400));
    check("@min(3, 1, 2)", json!(1));
    check("@max(createArray(3, 9, 2))", json!(9));
    check_err("@div(1, 0)", "divides by zero");
    check_err("@add(9223372036854775807, 1)", "overflows");
    let t = parse_template("@rand(5, 10)").unwrap();
    let r = eval_template(&t, &scope()).unwrap().as_i64().unwrap();
    assert!((5..10).contains(&r));
}

#[test]
fn date_functions_use_the_host_clock() {
    check("@utcNow()", json!("2026-01-01T00:00:00.0000000Z"));
    check("@utcNow('yyyy-MM-dd')", json!("2026-01-01"));
    check("@addDays(utcNow(), -1, 'yyyy-MM-dd')", json!("2025-12-31"));
    check(
        "@addHours('2026-01-01T10:00:00Z', 5)",
        json!("2026-01-01T15:00:00.0000000Z"),
    );
    check(
        "@addToTime('2026-01-31T00:00:00Z', 1, 'Month', 'yyyy-MM-dd')",
        json!("2026-02-28"),
    );
    check("@getPastTime(1, 'Day', 'yyyy-MM-dd')", json!("2025-12-31"));
    check(
        "@formatDateTime('2026-03-07T09:05:03Z', 'dd MMM yyyy HH:mm')",
        json!("07 Mar 2026 09:05"),
    );
    check("@dayOfWeek('2026-03-07')", json!(6));
    check("@dayOfYear('2026-03-07')", json!(66));
    check(
        "@startOfDay('2026-03-07T09:05:03Z')",
        json!("2026-03-07T00:00:00.0000000Z"),
    );
    check(
        "@dateDifference('2026-01-01', '2026-01-02T01:00:00Z')",
        json!("1.01:00:00"),
    );
    check_err(
        "@convertFromUtc(utcNow(), 'Pacific Standard Time')",
        "only UTC",
    );
}

#[test]
fn unknown_and_misused_functions_are_named() {
    let err = check_call("triggerBodyy", 0).unwrap_err();
    assert_eq!(
        err,
        "unknown function triggerBodyy(); did you mean triggerBody()?"
    );
    let err = check_call("frobnicate", 1).unwrap_err();
    assert!(err.starts_with("unknown function frobnicate();"), "{err}");
    let err = check_call("xpath", 2).unwrap_err();
    assert!(err.contains("not supported by insightsim"), "{err}");
    let err = check_call("add", 3).unwrap_err();
    assert_eq!(err, "add() takes 2 argument(s), not 3");
    let err = check_call("concat", 0).unwrap_err();
    assert_eq!(err, "concat() takes at least 1 argument(s), not 0");
    assert_eq!(check_call("TRIGGERBODY", 0), Ok(()));
}

// ---------------------------------------------------------------------------------------------
// Properties, each against a simple reference model.

fn eval_str(text: &str) -> Result<Value, String> {
    let t = parse_template(text).map_err(|e| e.to_string())?;
    eval_template(&t, &scope()).map_err(|e| e.to_string())
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

proptest! {
    /// Integer arithmetic is Rust's checked arithmetic; division truncates; overflow and
    /// division by zero are errors, never a wrong number.
    #[test]
    fn integer_arithmetic_matches_rust(a in any::<i64>(), b in any::<i64>()) {
        let cases: [(&str, Option<i64>); 5] = [
            ("add", a.checked_add(b)),
            ("sub", a.checked_sub(b)),
            ("mul", a.checked_mul(b)),
            ("div", a.checked_div(b)),
            ("mod", a.checked_rem(b)),
        ];
        for (f, want) in cases {
            let got = eval_str(&format!("@{f}({a}, {b})"));
            match want {
                Some(w) => prop_assert_eq!(got, Ok(json!(w)), "{}", f),
                None => prop_assert!(got.is_err(), "{} gave {:?}", f, got),
            }
        }
    }

    /// Float arithmetic is Rust's f64 arithmetic.
    #[test]
    fn float_arithmetic_matches_rust(a in -1e12f64..1e12, b in -1e12f64..1e12) {
        prop_assume!(b != 0.0);
        let (ta, tb) = (format!("{a:?}"), format!("{b:?}"));
        for (f, want) in [("add", a + b), ("sub", a - b), ("mul", a * b), ("div", a / b)] {
            let got = eval_str(&format!("@{f}({ta}, {tb})")).unwrap();
            let got = got.as_f64().unwrap();
            prop_assert!((got - want).abs() <= want.abs() * 1e-12, "{} {} {}", f, got, want);
        }
    }

    /// Comparisons of numbers and of strings agree with Rust's ordering.
    #[test]
    fn comparisons_match_rust(a in any::<i32>(), b in any::<i32>(), s in "[a-z0-9]{0,6}", t in "[a-z0-9]{0,6}") {
        let table = [
            ("greater", a > b, s > t),
            ("greaterOrEquals", a >= b, s >= t),
            ("less", a < b, s < t),
            ("lessOrEquals", a <= b, s <= t),
            ("equals", a == b, s == t),
        ];
        for (f, num, text) in table {
            prop_assert_eq!(eval_str(&format!("@{f}({a}, {b})")), Ok(json!(num)), "{}", f);
            prop_assert_eq!(
                eval_str(&format!("@{f}({}, {})", lit(&s), lit(&t))),
                Ok(json!(text)),
                "{}", f
            );
        }
    }

    /// String functions agree with Rust's on any text (quotes included).
    #[test]
    fn string_functions_match_rust(s in "\\PC{0,12}", t in "\\PC{0,4}") {
        let (ls, lt) = (lit(&s), lit(&t));
        prop_assert_eq!(eval_str(&format!("@toLower({ls})")), Ok(json!(s.to_lowercase())));
        prop_assert_eq!(eval_str(&format!("@toUpper({ls})")), Ok(json!(s.to_uppercase())));
        prop_assert_eq!(eval_str(&format!("@trim({ls})")), Ok(json!(s.trim())));
        prop_assert_eq!(eval_str(&format!("@concat({ls}, {lt})")), Ok(json!(format!("{s}{t}"))));
        prop_assert_eq!(eval_str(&format!("@length({ls})")), Ok(json!(s.chars().count())));
        prop_assert_eq!(
            eval_str(&format!("@contains({ls}, {lt})")),
            Ok(json!(s.contains(t.as_str())))
        );
        if !t.is_empty() {
            prop_assert_eq!(
                eval_str(&format!("@replace({ls}, {lt}, 'X')")),
                Ok(json!(s.replace(t.as_str(), "X")))
            );
            let parts: Vec<&str> = s.split(t.as_str()).collect();
            prop_assert_eq!(eval_str(&format!("@split({ls}, {lt})")), Ok(json!(parts)));
        }
        let n = s.chars().count();
        for start in 0..=n {
            let want: String = s.chars().skip(start).collect();
            prop_assert_eq!(eval_str(&format!("@substring({ls}, {start})")), Ok(json!(want)));
        }
    }

    /// Interpolation round-trips: text pieces (with `@{` escaped as `@@{`) and quoted values in
    /// `@{...}` evaluate to the pieces and values concatenated.
    #[test]
    fn interpolation_round_trips(pieces in proptest::collection::vec(("[^@]{0,6}", "\\PC{0,6}"), 1..5)) {
        let mut template = String::from("x");
        let mut want = String::from("x");
        for (text, value) in &pieces {
            template += &text.replace("@{", "@@{");
            template += &format!("@{{{}}}", lit(value));
            want += text;
            want += value;
        }
        prop_assert_eq!(eval_str(&template), Ok(json!(want)));
    }

    /// The parser never panics, whatever the text; what it accepts prints back to itself.
    #[test]
    fn parser_never_panics_and_prints_back(text in "\\PC{0,40}") {
        if let Ok(Template::Expr(e)) = parse_template(&format!("@{text}")) {
            let printed = e.to_string();
            prop_assert_eq!(parse_expr(&printed), Ok(e));
        }
        let _ = parse_template(&text);
    }

    /// Neither does the evaluator, on any parsed expression made of the known functions.
    #[test]
    fn evaluator_never_panics(
        calls in proptest::collection::vec((0..FUNCTIONS.len(), proptest::collection::vec(arg(), 0..4)), 1..4)
    ) {
        for (f, args) in calls {
            let text = format!("@{}({})", FUNCTIONS[f].0, args.join(", "));
            let _ = eval_str(&text);
        }
    }
}

fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        (-1e6f64..1e6).prop_map(|x| format!("{x:?}")),
        "\\PC{0,8}".prop_map(|s| lit(&s)),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("createArray(1, 'a', null)".to_owned()),
        Just("json('{\"a\": 1}')".to_owned()),
        Just("'2026-01-01T00:00:00Z'".to_owned()),
        Just("'Day'".to_owned()),
    ]
}
