//! Values at run time are JSON values; these are the engine's conversions between them.

use serde_json::{Number, Value};

/// A number as the engine computes with it: integers stay integers until a float meets them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => Num::Int(i),
                None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
            }),
            _ => None,
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Num::Int(i) => Value::from(i),
            Num::Float(x) => float(x),
        }
    }
}

/// A float as a JSON value (`null` for NaN and infinities, which JSON cannot hold).
pub fn float(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The engine's name for a value's type, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as text, as string interpolation and `string()` write it: strings as they are,
/// numbers and booleans as .NET writes them (`True`), null as empty, arrays and objects as JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => match Num::of(v) {
            Some(Num::Int(i)) => i.to_string(),
            _ => float_text(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

/// A float the way .NET's shortest round-trip formatting writes it: `2` for 2.0, `0.1`, `1E+20`.
pub fn float_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{x}");
    if x.abs() >= 1e15 {
        let e = format!("{x:E}");
        return match e.split_once('E') {
            Some((m, exp)) if !exp.starts_with('-') => format!("{m}E+{exp}"),
            _ => e,
        };
    }
    s
}

/// Truthiness for conditions, `if`, `and`, `or`, `not`: booleans only, plus the strings
/// `"true"`/`"false"` (ignoring case), which the engine accepts where a boolean is expected.
pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Equality as `equals()` sees it: numbers by value (`1` equals `1.0`), strings ignoring case
/// (modelled: the designer's "is equal to" ignores case), arrays and objects element by element.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => match (Num::of(a), Num::of(b)) {
            (Some(Num::Int(x)), Some(Num::Int(y))) => x == y,
            (Some(x), Some(y)) => x.as_f64() == y.as_f64(),
            _ => false,
        },
        (Value::String(x), Value::String(y)) => x == y || x.to_lowercase() == y.to_lowercase(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| loose_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Looks up a property: exactly, then ignoring case (the engine's JSON access ignores case).
pub fn property<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_of_values_follows_dotnet() {
        assert_eq!(to_text(&json!(true)), "True");
        assert_eq!(to_text(&json!(2.0)), "2");
        assert_eq!(to_text(&json!(0.1)), "0.1");
        assert_eq!(to_text(&json!(1e20)), "1E+20");
        assert_eq!(to_text(&json!(null)), "");
        assert_eq!(to_text(&json!({"a": [1]})), r#"{"a":[1]}"#);
    }

    #[test]
    fn equality_is_by_value_and_ignores_case_of_strings() {
        assert!(loose_eq(&json!(1), &json!(1.0)));
        assert!(loose_eq(&json!("Abc"), &json!("aBC")));
        assert!(!loose_eq(&json!("1"), &json!(1)));
        assert!(loose_eq(&json!({"a": [1, "X"]}), &json!({"a": [1.0, "x"]})));
    }
}
