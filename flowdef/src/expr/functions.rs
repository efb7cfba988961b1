//! The expression functions: string, collection, logical, conversion, math, date and time, and
//! workflow functions. Names are looked up ignoring case, as the engine does.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::eval::Scope;
use super::time;
use super::value::{Num, as_bool, float, loose_eq, property, to_text, type_name};

/// Every supported function with its least and most argument counts.
pub const FUNCTIONS: &[(&str, usize, usize)] = &[
    // String
    ("concat", 1, usize::MAX),
    ("substring", 2, 3),
    ("slice", 2, 3),
    ("replace", 3, 3),
    ("toLower", 1, 1),
    ("toUpper", 1, 1),
    ("trim", 1, 1),
    ("indexOf", 2, 2),
    ("lastIndexOf", 2, 2),
    ("nthIndexOf", 3, 3),
    ("startsWith", 2, 2),
    ("endsWith", 2, 2),
    ("split", 2, 2),
    ("guid", 0, 1),
    ("formatNumber", 2, 3),
    ("encodeUriComponent", 1, 1),
    ("decodeUriComponent", 1, 1),
    ("uriComponent", 1, 1),
    ("uriComponentToString", 1, 1),
    ("base64", 1, 1),
    ("base64ToString", 1, 1),
    ("decodeBase64", 1, 1),
    ("chunk", 2, 2),
    ("isInt", 1, 1),
    ("isFloat", 1, 1),
    // Collection
    ("contains", 2, 2),
    ("empty", 1, 1),
    ("first", 1, 1),
    ("last", 1, 1),
    ("length", 1, 1),
    ("join", 2, 2),
    ("skip", 2, 2),
    ("take", 2, 2),
    ("union", 1, usize::MAX),
    ("intersection", 1, usize::MAX),
    ("createArray", 0, usize::MAX),
    ("range", 2, 2),
    ("reverse", 1, 1),
    ("sort", 1, 2),
    ("addProperty", 3, 3),
    ("setProperty", 3, 3),
    ("removeProperty", 2, 2),
    // Logical
    ("equals", 2, 2),
    ("greater", 2, 2),
    ("greaterOrEquals", 2, 2),
    ("less", 2, 2),
    ("lessOrEquals", 2, 2),
    ("and", 1, usize::MAX),
    ("or", 1, usize::MAX),
    ("not", 1, 1),
    ("if", 3, 3),
    ("coalesce", 1, usize::MAX),
    // Conversion
    ("string", 1, 1),
    ("int", 1, 1),
    ("float", 1, 1),
    ("bool", 1, 1),
    ("array", 1, 1),
    ("json", 1, 1),
    // Math
    ("add", 2, 2),
    ("sub", 2, 2),
    ("mul", 2, 2),
    ("div", 2, 2),
    ("mod", 2, 2),
    ("min", 1, usize::MAX),
    ("max", 1, usize::MAX),
    ("rand", 2, 2),
    // Date and time
    ("utcNow", 0, 1),
    ("addDays", 2, 3),
    ("addHours", 2, 3),
    ("addMinutes", 2, 3),
    ("addSeconds", 2, 3),
    ("addToTime", 3, 4),
    ("subtractFromTime", 3, 4),
    ("getPastTime", 2, 3),
    ("getFutureTime", 2, 3),
    ("formatDateTime", 1, 3),
    ("parseDateTime", 1, 3),
    ("startOfDay", 1, 2),
    ("startOfHour", 1, 2),
    ("startOfMonth", 1, 2),
    ("dayOfMonth", 1, 1),
    ("dayOfWeek", 1, 1),
    ("dayOfYear", 1, 1),
    ("ticks", 1, 1),
    ("dateDifference", 2, 2),
    ("convertFromUtc", 2, 3),
    ("convertToUtc", 2, 3),
    ("convertTimeZone", 3, 4),
    // Workflow
    ("trigger", 0, 0),
    ("triggerBody", 0, 0),
    ("triggerOutputs", 0, 0),
    ("body", 1, 1),
    ("outputs", 1, 1),
    ("actionBody", 1, 1),
    ("actionOutputs", 1, 1),
    ("actions", 1, 1),
    ("items", 1, 1),
    ("item", 0, 0),
    ("variables", 1, 1),
    ("parameters", 1, 1),
    ("iterationIndexes", 1, 1),
    ("workflow", 0, 0),
    ("result", 1, 1),
    ("listCallbackUrl", 0, 0),
];

/// Functions of the language that insightsim does not run (XML, data URIs, form data, ...).
pub const UNSUPPORTED: &[&str] = &[
    "xml",
    "xpath",
    "binary",
    "dataUri",
    "dataUriToBinary",
    "dataUriToString",
    "decodeDataUri",
    "uriHost",
    "uriPath",
    "uriPathAndQuery",
    "uriPort",
    "uriQuery",
    "uriScheme",
    "decimal",
    "triggerFormDataValue",
    "triggerFormDataMultiValues",
    "triggerMultipartBody",
    "formDataValue",
    "formDataMultiValues",
    "multipartBody",
    "appsetting",
    "action",
];

/// Why a call is refused before running: unknown, unsupported, or the wrong number of
/// arguments.
pub fn check_call(name: &str, args: usize) -> Result<(), String> {
    if let Some(&(canonical, min, max)) = FUNCTIONS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
    {
        if args < min || args > max {
            let wants = match (min, max) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(format!(
                "{canonical}() takes {wants} argument(s), not {args}"
            ));
        }
        return Ok(());
    }
    if let Some(u) = UNSUPPORTED.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "the function {u}() is not supported by insightsim (see docs/flow-definitions.md for the supported functions)"
        ));
    }
    let mut close: Vec<(f64, &str)> = FUNCTIONS
        .iter()
        .map(|(n, _, _)| {
            (
                strsim::jaro_winkler(&n.to_ascii_lowercase(), &name.to_ascii_lowercase()),
                *n,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    let hint = match close.first() {
        Some((_, n)) => format!("; did you mean {n}()?"),
        None => "; see docs/flow-definitions.md for the supported functions".to_owned(),
    };
    Err(format!("unknown function {name}(){hint}"))
}

type R = Result<Value, String>;

fn string_arg<'a>(f: &str, v: &'a Value) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{f}() expects a string, got {}", type_name(v)))
}

fn text_arg(v: &Value) -> String {
    to_text(v)
}

fn int_arg(f: &str, v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
            .ok_or_else(|| format!("{f}() expects an integer, got {n}")),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{f}() expects an integer, got the string '{s}'")),
        other => Err(format!(
            "{f}() expects an integer, got {}",
            type_name(other)
        )),
    }
}

fn num_arg(f: &str, v: &Value) -> Result<Num, String> {
    Num::of(v).ok_or_else(|| format!("{f}() expects a number, got {}", type_name(v)))
}

fn array_arg<'a>(f: &str, v: &'a Value) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{f}() expects an array, got {}", type_name(v)))
}

fn time_arg(f: &str, v: &Value) -> Result<jiff::Timestamp, String> {
    let s = string_arg(f, v)?;
    time::parse(s).map_err(|e| format!("{f}(): {e}"))
}

fn fmt_time(ts: jiff::Timestamp, fmt: Option<&Value>) -> R {
    let f = match fmt {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Null) | None => "o",
        Some(other) => {
            return Err(format!(
                "the format must be a string, got {}",
                type_name(other)
            ));
        }
    };
    time::format(ts, f).map(Value::String)
}

/// Characters of a string, as positions count them.
fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn compare(f: &str, a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => {
            let (x, y) = (num_arg(f, a)?, num_arg(f, b)?);
            Ok(match (x, y) {
                (Num::Int(x), Num::Int(y)) => x.cmp(&y),
                (x, y) => x.as_f64().total_cmp(&y.as_f64()),
            })
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "{f}() compares two numbers or two strings, got {} and {}; convert one with int(), float() or string()",
            type_name(a),
            type_name(b)
        )),
    }
}

fn arith(f: &str, a: &Value, b: &Value) -> R {
    let (x, y) = (num_arg(f, a)?, num_arg(f, b)?);
    let overflow = || format!("{f}() overflows a 64-bit integer");
    Ok(match (f, x, y) {
        ("add", Num::Int(x), Num::Int(y)) => Value::from(x.checked_add(y).ok_or_else(overflow)?),
        ("sub", Num::Int(x), Num::Int(y)) => Value::from(x.checked_sub(y).ok_or_else(overflow)?),
        ("mul", Num::Int(x), Num::Int(y)) => Value::from(x.checked_mul(y).ok_or_else(overflow)?),
        ("div" | "mod", _, Num::Int(0)) => return Err(format!("{f}() divides by zero")),
        ("div", Num::Int(x), Num::Int(y)) => Value::from(x.checked_div(y).ok_or_else(overflow)?),
        ("mod", Num::Int(x), Num::Int(y)) => Value::from(x.checked_rem(y).ok_or_else(overflow)?),
        (_, x, y) => {
            let (x, y) = (x.as_f64(), y.as_f64());
            let r = match f {
                "add" => x + y,
                "sub" => x - y,
                "mul" => x * y,
                "div" if y == 0.0 => return Err(format!("{f}() divides by zero")),
                "div" => x / y,
                _ if y == 0.0 => return Err(format!("{f}() divides by zero")),
                _ => x % y,
            };
            if !r.is_finite() {
                return Err(format!("{f}() gives a number too large for a float"));
            }
            float(r)
        }
    })
}

fn extremum(f: &str, args: &[Value], want: Ordering) -> R {
    let items: Vec<&Value> = match args {
        [Value::Array(a)] => a.iter().collect(),
        _ => args.iter().collect(),
    };
    let mut best: Option<&Value> = None;
    for v in items {
        num_arg(f, v)?;
        best = match best {
            Some(b) if compare(f, v, b)? != want => Some(b),
            _ => Some(v),
        };
    }
    best.cloned()
        .ok_or_else(|| format!("{f}() needs at least one number"))
}

fn contains(collection: &Value, v: &Value) -> Result<bool, String> {
    match collection {
        Value::String(s) => Ok(s.contains(string_arg("contains", v)?)),
        Value::Array(a) => Ok(a.iter().any(|x| loose_eq(x, v))),
        Value::Object(o) => Ok(property(o, string_arg("contains", v)?).is_some()),
        Value::Null => Ok(false),
        other => Err(format!(
            "contains() expects a string, an array or an object, got {}",
            type_name(other)
        )),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

fn decode_component(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("'{s}' has a bad percent escape at {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' does not decode to UTF-8 text"))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Result<String, String> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim().bytes().filter(|&c| c != b'=') {
        let v = B64
            .iter()
            .position(|&x| x == c)
            .ok_or_else(|| format!("'{s}' is not base64"))? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' does not decode to UTF-8 text"))
}

fn guid(scope: &dyn Scope, format: &str) -> R {
    let (a, b) = (scope.random(), scope.random());
    let hex = format!("{a:016x}{b:016x}");
    // Version 4 and the RFC 4122 variant, as a random GUID has them.
    let mut h: Vec<char> = hex.chars().collect();
    h[12] = '4';
    h[16] = ['8', '9', 'a', 'b'][(b >> 60) as usize & 3];
    let h: String = h.into_iter().collect();
    let d = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    Ok(Value::String(match format {
        "N" | "n" => h,
        "" | "D" | "d" => d,
        "B" | "b" => format!("{{{d}}}"),
        "P" | "p" => format!("({d})"),
        other => return Err(format!("guid() format '{other}' is not N, D, B or P")),
    }))
}

fn format_number(args: &[Value]) -> R {
    let n = num_arg("formatNumber", &args[0])?.as_f64();
    let fmt = string_arg("formatNumber", &args[1])?;
    let (kind, digits) = fmt.split_at(fmt.chars().next().map_or(0, char::len_utf8));
    let digits: usize = if digits.is_empty() {
        2
    } else {
        digits.parse().map_err(|_| {
            format!("formatNumber() format '{fmt}' is not supported; use N2, F2, D or C2")
        })?
    };
    let fixed = format!("{n:.digits$}");
    let grouped = |s: &str| {
        let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
        let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
        let mut g = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                g.push(',');
            }
            g.push(c);
        }
        match frac {
            Some(f) => format!("{sign}{g}.{f}"),
            None => format!("{sign}{g}"),
        }
    };
    Ok(Value::String(match kind {
        "N" | "n" => grouped(&fixed),
        "F" | "f" => fixed,
        "D" | "d" => format!(
            "{:0digits$}",
            n as i64,
            digits = if fmt.len() > 1 { digits } else { 0 }
        ),
        "C" | "c" => format!("${}", grouped(&fixed)),
        _ => {
            return Err(format!(
                "formatNumber() format '{fmt}' is not supported; use N2, F2, D or C2"
            ));
        }
    }))
}

fn with_property(f: &str, args: &[Value], must_exist: Option<bool>) -> R {
    let mut o = match &args[0] {
        Value::Object(o) => o.clone(),
        other => return Err(format!("{f}() expects an object, got {}", type_name(other))),
    };
    let key = string_arg(f, &args[1])?.to_owned();
    match must_exist {
        Some(false) if o.contains_key(&key) => {
            return Err(format!(
                "addProperty(): the property '{key}' already exists; use setProperty()"
            ));
        }
        _ => {}
    }
    o.insert(key, args[2].clone());
    Ok(Value::Object(o))
}

fn sort(args: &[Value]) -> R {
    let mut a = array_arg("sort", &args[0])?.clone();
    let key = match args.get(1) {
        Some(v) => Some(string_arg("sort", v)?.to_owned()),
        None => None,
    };
    let pick = |v: &Value| -> Value {
        match (&key, v) {
            (Some(k), Value::Object(o)) => property(o, k).cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        }
    };
    let mut err = None;
    a.sort_by(|x, y| {
        let (x, y) = (pick(x), pick(y));
        compare("sort", &x, &y).unwrap_or_else(|e| {
            err.get_or_insert(e);
            Ordering::Equal
        })
    });
    match err {
        Some(e) => Err(e),
        None => Ok(Value::Array(a)),
    }
}

fn record_part(record: Value, part: &str, name: &str) -> R {
    match record {
        Value::Object(mut o) => match (part, o.remove("outputs")) {
            ("outputs", Some(outputs)) => Ok(outputs),
            ("body", Some(Value::Object(mut outputs))) => match outputs.remove("body") {
                Some(body) => Ok(body),
                None => Err(format!(
                    "action '{name}' has no body in its outputs; use outputs('{name}')"
                )),
            },
            ("body", Some(_)) => Err(format!(
                "action '{name}' has no body; use outputs('{name}')"
            )),
            _ => Ok(Value::Null),
        },
        _ => Ok(Value::Null),
    }
}

/// Calls `name` (`lower` is its lower-case form) on evaluated arguments.
pub fn call(name: &str, lower: &str, args: Vec<Value>, scope: &dyn Scope) -> R {
    check_call(name, args.len())?;
    let a = &args;
    match lower {
        // String
        "concat" => Ok(Value::String(a.iter().map(text_arg).collect())),
        "substring" | "slice" => {
            let s = chars(string_arg(lower, &a[0])?);
            let len = s.len() as i64;
            let start = int_arg(lower, &a[1])?;
            let (from, to) = if lower == "substring" {
                let n = match a.get(2) {
                    Some(v) => int_arg(lower, v)?,
                    None => len - start,
                };
                if start < 0 || n < 0 || start + n > len {
                    return Err(format!(
                        "substring() start {start} and length {n} do not fit a string of {len} character(s)"
                    ));
                }
                (start, start + n)
            } else {
                let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
                let end = match a.get(2) {
                    Some(v) => norm(int_arg(lower, v)?),
                    None => len,
                };
                (norm(start), end.max(norm(start)))
            };
            Ok(Value::String(
                s[from as usize..to as usize].iter().collect(),
            ))
        }
        "replace" => {
            let s = string_arg(lower, &a[0])?;
            let old = string_arg(lower, &a[1])?;
            if old.is_empty() {
                return Err("replace() cannot replace an empty string".to_owned());
            }
            Ok(Value::String(s.replace(old, &text_arg(&a[2]))))
        }
        "tolower" => Ok(Value::String(string_arg(lower, &a[0])?.to_lowercase())),
        "toupper" => Ok(Value::String(string_arg(lower, &a[0])?.to_uppercase())),
        "trim" => Ok(Value::String(string_arg(lower, &a[0])?.trim().to_owned())),
        "indexof" | "lastindexof" => {
            let s = string_arg(lower, &a[0])?.to_lowercase();
            let needle = string_arg(lower, &a[1])?.to_lowercase();
            let at = if lower == "indexof" {
                s.find(&needle)
            } else {
                s.rfind(&needle)
            };
            Ok(Value::from(
                at.map_or(-1, |b| s[..b].chars().count() as i64),
            ))
        }
        "nthindexof" => {
            let s = string_arg(lower, &a[0])?;
            let needle = string_arg(lower, &a[1])?;
            let n = int_arg(lower, &a[2])?;
            let found: Vec<usize> = s.match_indices(needle).map(|(i, _)| i).collect();
            let pick = if n > 0 {
                found.get(n as usize - 1)
            } else if n < 0 {
                found
                    .len()
                    .checked_sub(n.unsigned_abs() as usize)
                    .and_then(|i| found.get(i))
            } else {
                return Err("nthIndexOf() occurrence must not be 0".to_owned());
            };
            Ok(Value::from(
                pick.map_or(-1, |&b| s[..b].chars().count() as i64),
            ))
        }
        "startswith" => Ok(Value::Bool(
            string_arg(lower, &a[0])?
                .to_lowercase()
                .starts_with(&string_arg(lower, &a[1])?.to_lowercase()),
        )),
        "endswith" => Ok(Value::Bool(
            string_arg(lower, &a[0])?
                .to_lowercase()
                .ends_with(&string_arg(lower, &a[1])?.to_lowercase()),
        )),
        "split" => {
            let s = string_arg(lower, &a[0])?;
            let sep = string_arg(lower, &a[1])?;
            if sep.is_empty() {
                return Ok(Value::Array(
                    s.chars().map(|c| Value::String(c.to_string())).collect(),
                ));
            }
            Ok(Value::Array(
                s.split(sep).map(|p| Value::String(p.to_owned())).collect(),
            ))
        }
        "guid" => {
            let f = match a.first() {
                Some(v) => string_arg(lower, v)?,
                None => "D",
            };
            guid(scope, f)
        }
        "formatnumber" => format_number(a),
        "encodeuricomponent" | "uricomponent" => {
            Ok(Value::String(encode_component(&text_arg(&a[0]))))
        }
        "decodeuricomponent" | "uricomponenttostring" => {
            decode_component(string_arg(lower, &a[0])?).map(Value::String)
        }
        "base64" => Ok(Value::String(base64_encode(text_arg(&a[0]).as_bytes()))),
        "base64tostring" | "decodebase64" => {
            base64_decode(string_arg(lower, &a[0])?).map(Value::String)
        }
        "chunk" => {
            let n = int_arg(lower, &a[1])?;
            if n <= 0 {
                return Err("chunk() length must be positive".to_owned());
            }
            let n = n as usize;
            Ok(Value::Array(match &a[0] {
                Value::String(s) => chars(s)
                    .chunks(n)
                    .map(|c| Value::String(c.iter().collect()))
                    .collect(),
                Value::Array(v) => v.chunks(n).map(|c| Value::Array(c.to_vec())).collect(),
                other => {
                    return Err(format!(
                        "chunk() expects a string or an array, got {}",
                        type_name(other)
                    ));
                }
            }))
        }
        "isint" => Ok(Value::Bool(
            a[0].as_str()
                .is_some_and(|s| s.trim().parse::<i64>().is_ok()),
        )),
        "isfloat" => Ok(Value::Bool(
            a[0].as_str()
                .is_some_and(|s| s.trim().parse::<f64>().is_ok()),
        )),

        // Collection
        "contains" => contains(&a[0], &a[1]).map(Value::Bool),
        "empty" => Ok(Value::Bool(is_empty(&a[0]))),
        "first" | "last" => Ok(match &a[0] {
            Value::Array(v) => {
                let x = if lower == "first" {
                    v.first()
                } else {
                    v.last()
                };
                x.cloned().unwrap_or(Value::Null)
            }
            Value::String(s) => {
                let c = if lower == "first" {
                    s.chars().next()
                } else {
                    s.chars().last()
                };
                c.map_or(Value::String(String::new()), |c| {
                    Value::String(c.to_string())
                })
            }
            Value::Null => Value::Null,
            other => {
                return Err(format!(
                    "{name}() expects an array or a string, got {}",
                    type_name(other)
                ));
            }
        }),
        "length" => Ok(Value::from(match &a[0] {
            Value::Array(v) => v.len(),
            Value::String(s) => s.chars().count(),
            Value::Object(o) => o.len(),
            other => {
                return Err(format!(
                    "length() expects an array or a string, got {}",
                    type_name(other)
                ));
            }
        } as i64)),
        "join" => {
            let v = array_arg(lower, &a[0])?;
            let sep = text_arg(&a[1]);
            Ok(Value::String(
                v.iter().map(text_arg).collect::<Vec<_>>().join(&sep),
            ))
        }
        "skip" | "take" => {
            let n = int_arg(lower, &a[1])?.max(0) as usize;
            match &a[0] {
                Value::Array(v) => Ok(Value::Array(if lower == "skip" {
                    v.iter().skip(n).cloned().collect()
                } else {
                    v.iter().take(n).cloned().collect()
                })),
                Value::String(s) => Ok(Value::String(if lower == "skip" {
                    s.chars().skip(n).collect()
                } else {
                    s.chars().take(n).collect()
                })),
                other => Err(format!(
                    "{name}() expects an array or a string, got {}",
                    type_name(other)
                )),
            }
        }
        "union" | "intersection" => match &a[0] {
            Value::Array(_) => {
                let lists: Vec<&Vec<Value>> = a
                    .iter()
                    .map(|v| array_arg(lower, v))
                    .collect::<Result<_, _>>()?;
                let mut out: Vec<Value> = Vec::new();
                if lower == "union" {
                    for v in lists.iter().flat_map(|l| l.iter()) {
                        if !out.contains(v) {
                            out.push(v.clone());
                        }
                    }
                } else {
                    for v in lists[0] {
                        if lists[1..].iter().all(|l| l.contains(v)) && !out.contains(v) {
                            out.push(v.clone());
                        }
                    }
                }
                Ok(Value::Array(out))
            }
            Value::Object(_) => {
                let objs: Vec<&Map<String, Value>> = a
                    .iter()
                    .map(|v| {
                        v.as_object()
                            .ok_or_else(|| format!("{name}() expects all arrays or all objects"))
                    })
                    .collect::<Result<_, _>>()?;
                let mut out = Map::new();
                if lower == "union" {
                    for o in &objs {
                        for (k, v) in *o {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                } else {
                    for (k, v) in objs[0] {
                        if objs[1..].iter().all(|o| o.get(k) == Some(v)) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                Ok(Value::Object(out))
            }
            other => Err(format!(
                "{name}() expects arrays or objects, got {}",
                type_name(other)
            )),
        },
        "createarray" => Ok(Value::Array(args)),
        "range" => {
            let start = int_arg(lower, &a[0])?;
            let count = int_arg(lower, &a[1])?;
            if !(0..=100_000).contains(&count) {
                return Err(format!(
                    "range() count must be between 0 and 100000, not {count}"
                ));
            }
            Ok(Value::Array(
                (0..count).map(|i| Value::from(start + i)).collect(),
            ))
        }
        "reverse" => {
            let mut v = array_arg(lower, &a[0])?.clone();
            v.reverse();
            Ok(Value::Array(v))
        }
        "sort" => sort(a),
        "addproperty" => with_property("addProperty", a, Some(false)),
        "setproperty" => with_property("setProperty", a, None),
        "removeproperty" => {
            let mut o = match &a[0] {
                Value::Object(o) => o.clone(),
                other => {
                    return Err(format!(
                        "removeProperty() expects an object, got {}",
                        type_name(other)
                    ));
                }
            };
            o.remove(string_arg(lower, &a[1])?);
            Ok(Value::Object(o))
        }

        // Logical
        "equals" => Ok(Value::Bool(loose_eq(&a[0], &a[1]))),
        "greater" => Ok(Value::Bool(
            compare(name, &a[0], &a[1])? == Ordering::Greater,
        )),
        "greaterorequals" => Ok(Value::Bool(compare(name, &a[0], &a[1])? != Ordering::Less)),
        "less" => Ok(Value::Bool(compare(name, &a[0], &a[1])? == Ordering::Less)),
        "lessorequals" => Ok(Value::Bool(
            compare(name, &a[0], &a[1])? != Ordering::Greater,
        )),
        "and" | "or" => {
            let mut bools = Vec::with_capacity(a.len());
            for v in a {
                bools.push(
                    as_bool(v).ok_or_else(|| {
                        format!("{name}() expects booleans, got {}", type_name(v))
                    })?,
                );
            }
            Ok(Value::Bool(if lower == "and" {
                bools.iter().all(|b| *b)
            } else {
                bools.iter().any(|b| *b)
            }))
        }
        "not" => as_bool(&a[0])
            .map(|b| Value::Bool(!b))
            .ok_or_else(|| format!("not() expects a boolean, got {}", type_name(&a[0]))),
        "if" => match as_bool(&a[0]) {
            Some(true) => Ok(a[1].clone()),
            Some(false) => Ok(a[2].clone()),
            None => Err(format!(
                "if() expects a boolean condition, got {}",
                type_name(&a[0])
            )),
        },
        "coalesce" => Ok(a
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null)),

        // Conversion
        "string" => Ok(Value::String(text_arg(&a[0]))),
        "int" => match &a[0] {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Ok(Value::from(i)),
                None => {
                    let x = n.as_f64().unwrap_or(f64::NAN);
                    if x.fract() == 0.0 && x.abs() < 9.2e18 {
                        Ok(Value::from(x as i64))
                    } else {
                        Err(format!("int() cannot convert {n} to an integer"))
                    }
                }
            },
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("int() cannot convert the string '{s}' to an integer")),
            Value::Bool(b) => Ok(Value::from(i64::from(*b))),
            other => Err(format!(
                "int() cannot convert {} to an integer",
                type_name(other)
            )),
        },
        "float" => match &a[0] {
            Value::Number(n) => Ok(float(n.as_f64().unwrap_or(f64::NAN))),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(float)
                .ok_or_else(|| format!("float() cannot convert the string '{s}' to a number")),
            other => Err(format!(
                "float() cannot convert {} to a number",
                type_name(other)
            )),
        },
        "bool" => match &a[0] {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Number(n) => Ok(Value::Bool(n.as_f64() != Some(0.0))),
            Value::String(s) => as_bool(&a[0])
                .map(Value::Bool)
                .ok_or_else(|| format!("bool() cannot convert the string '{s}'")),
            other => Err(format!("bool() cannot convert {}", type_name(other))),
        },
        "array" => Ok(match &a[0] {
            Value::Array(v) => Value::Array(v.clone()),
            other => Value::Array(vec![other.clone()]),
        }),
        "json" => match &a[0] {
            Value::String(s) => serde_json::from_str(s)
                .map_err(|e| format!("json() cannot parse its argument as JSON: {e}")),
            other => Ok(other.clone()),
        },

        // Math
        "add" | "sub" | "mul" | "div" | "mod" => arith(lower, &a[0], &a[1]),
        "min" => extremum("min", a, Ordering::Less),
        "max" => extremum("max", a, Ordering::Greater),
        "rand" => {
            let (lo, hi) = (int_arg(lower, &a[0])?, int_arg(lower, &a[1])?);
            if hi <= lo {
                return Err(format!(
                    "rand() maximum {hi} must be greater than its minimum {lo}"
                ));
            }
            let span = (hi - lo) as u64;
            Ok(Value::from(lo + (scope.random() % span) as i64))
        }

        // Date and time
        "utcnow" => fmt_time(time::from_millis(scope.now_ms()), a.first()),
        "adddays" | "addhours" | "addminutes" | "addseconds" => {
            let ts = time_arg(name, &a[0])?;
            let n = int_arg(name, &a[1])?;
            let unit = &lower[3..lower.len() - 1];
            fmt_time(time::add(ts, n, unit)?, a.get(2))
        }
        "addtotime" | "subtractfromtime" => {
            let ts = time_arg(name, &a[0])?;
            let n = int_arg(name, &a[1])?;
            let unit = string_arg(name, &a[2])?;
            let n = if lower == "addtotime" { n } else { -n };
            fmt_time(time::add(ts, n, unit)?, a.get(3))
        }
        "getpasttime" | "getfuturetime" => {
            let n = int_arg(name, &a[0])?;
            let unit = string_arg(name, &a[1])?;
            let n = if lower == "getfuturetime" { n } else { -n };
            fmt_time(
                time::add(time::from_millis(scope.now_ms()), n, unit)?,
                a.get(2),
            )
        }
        "formatdatetime" | "parsedatetime" => {
            let ts = time_arg(name, &a[0])?;
            // parseDateTime's second argument is a locale: the result is always ISO 8601.
            let fmt = if lower == "formatdatetime" {
                a.get(1)
            } else {
                None
            };
            fmt_time(ts, fmt)
        }
        "startofday" | "startofhour" | "startofmonth" => {
            let ts = time_arg(name, &a[0])?;
            fmt_time(time::truncate(ts, &lower[7..]), a.get(1))
        }
        "dayofmonth" | "dayofweek" | "dayofyear" => {
            let ts = time_arg(name, &a[0])?;
            let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
            Ok(Value::from(match lower {
                "dayofmonth" => i64::from(dt.day()),
                "dayofweek" => i64::from(dt.weekday().to_sunday_zero_offset()),
                _ => i64::from(dt.day_of_year()),
            }))
        }
        "ticks" => Ok(Value::from(time::ticks(time_arg(name, &a[0])?))),
        "datedifference" => Ok(Value::String(time::difference(
            time_arg(name, &a[0])?,
            time_arg(name, &a[1])?,
        ))),
        "convertfromutc" | "converttoutc" | "converttimezone" => {
            let ts = time_arg(name, &a[0])?;
            let zones = if lower == "converttimezone" {
                &a[1..3]
            } else {
                &a[1..2]
            };
            for z in zones {
                let z = string_arg(name, z)?;
                if !(z.eq_ignore_ascii_case("UTC")
                    || z.eq_ignore_ascii_case("Coordinated Universal Time"))
                {
                    return Err(format!(
                        "{name}(): time zone '{z}' is not supported by insightsim (only UTC)"
                    ));
                }
            }
            let fmt = if lower == "converttimezone" {
                a.get(3)
            } else {
                a.get(2)
            };
            fmt_time(ts, fmt)
        }

        // Workflow
        "trigger" => scope.trigger(),
        "triggeroutputs" => record_part(scope.trigger()?, "outputs", "trigger"),
        "triggerbody" => {
            let outputs = record_part(scope.trigger()?, "outputs", "trigger")?;
            Ok(outputs
                .as_object()
                .and_then(|o| o.get("body"))
                .cloned()
                .unwrap_or(Value::Null))
        }
        "body" | "actionbody" => scope.action_output(string_arg(name, &a[0])?, true),
        "outputs" | "actionoutputs" => scope.action_output(string_arg(name, &a[0])?, false),
        "actions" => scope.action(string_arg(name, &a[0])?),
        "items" => scope.items(string_arg(name, &a[0])?),
        "item" => scope.item(),
        "variables" => scope.variable(string_arg(name, &a[0])?),
        "parameters" => scope.parameter(string_arg(name, &a[0])?),
        "iterationindexes" => scope.iteration_index(string_arg(name, &a[0])?),
        "workflow" => Ok(scope.workflow()),
        "result" => scope.result(string_arg(name, &a[0])?),
        "listcallbackurl" => Ok(Value::String(scope.callback_url())),
        _ => Err(format!("unknown function {name}()")),
    }
}
