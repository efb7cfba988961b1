//! Data operations: `Parse JSON`'s schema check and `Create CSV/HTML table`.

use serde_json::Value;

use crate::expr::value::{to_text, type_name};

/// Checks `v` against the JSON Schema subset the designer generates from a sample: `type`
/// (one or a list), `properties`, `required`, `items`. Every mismatch is listed with its path.
pub fn validate(v: &Value, schema: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    check(v, schema, "$", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        errors.truncate(10);
        Err(errors)
    }
}

fn type_fits(ty: &str, v: &Value) -> bool {
    match ty {
        "string" => v.is_string(),
        "integer" => v.as_f64().is_some_and(|x| x.fract() == 0.0),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn check(v: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        return;
    };
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_fits(t, v)) {
        errors.push(format!(
            "{path} is {}, the schema wants {}",
            type_name(v),
            types.join(" or ")
        ));
        return;
    }
    if let (Some(o), Some(req)) = (v.as_object(), s.get("required").and_then(Value::as_array)) {
        for r in req.iter().filter_map(Value::as_str) {
            if !o.contains_key(r) {
                errors.push(format!("{path} lacks the required property \"{r}\""));
            }
        }
    }
    if let (Some(o), Some(props)) = (
        v.as_object(),
        s.get("properties").and_then(Value::as_object),
    ) {
        for (k, sub) in props {
            if let Some(x) = o.get(k) {
                check(x, sub, &format!("{path}.{k}"), errors);
            }
        }
    }
    if let (Some(a), Some(items)) = (v.as_array(), s.get("items")) {
        for (i, x) in a.iter().enumerate() {
            check(x, items, &format!("{path}[{i}]"), errors);
        }
    }
}

/// A CSV (RFC 4180 quoting) or HTML table of `rows` rows.
pub fn table(columns: &[(String, Vec<Value>)], rows: usize, html: bool) -> String {
    if html {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut out = String::from("<table><thead><tr>");
        for (h, _) in columns {
            out += &format!("<th>{}</th>", esc(h));
        }
        out += "</tr></thead><tbody>";
        for r in 0..rows {
            out += "<tr>";
            for (_, cells) in columns {
                let c = cells.get(r).map(to_text).unwrap_or_default();
                out += &format!("<td>{}</td>", esc(&c));
            }
            out += "</tr>";
        }
        out += "</tbody></table>";
        return out;
    }
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut lines = vec![
        columns
            .iter()
            .map(|(h, _)| quote(h))
            .collect::<Vec<_>>()
            .join(","),
    ];
    for r in 0..rows {
        lines.push(
            columns
                .iter()
                .map(|(_, cells)| quote(&cells.get(r).map(to_text).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    lines.join("\r\n") + "\r\n"
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validates_types_required_properties_and_items() {
        let schema = json!({"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"},
            "n": {"type": ["integer", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        }});
        assert_eq!(
            validate(&json!({"id": "a", "n": null, "tags": ["x"]}), &schema),
            Ok(())
        );
        let errors = validate(&json!({"n": 1.5, "tags": ["x", 2]}), &schema).unwrap_err();
        assert_eq!(
            errors,
            [
                "$ lacks the required property \"id\"",
                "$.n is a float, the schema wants integer or null",
                "$.tags[1] is an integer, the schema wants string",
            ]
        );
    }

    #[test]
    fn tables_quote_csv_and_escape_html() {
        let cols = vec![
            ("Name".to_owned(), vec![json!("Ada, L"), json!("Bob")]),
            ("N".to_owned(), vec![json!(1), json!("<2>")]),
        ];
        assert_eq!(
            table(&cols, 2, false),
            "Name,N\r\n\"Ada, L\",1\r\nBob,<2>\r\n"
        );
        assert!(table(&cols, 2, true).contains("<td>&lt;2&gt;</td>"));
    }
}
