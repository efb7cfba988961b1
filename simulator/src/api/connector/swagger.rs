//! JSON Schema 2020-12 (the OpenAPI document's dialect) down to Swagger 2.0's schema objects.

use serde_json::{Map, Value, json};

/// A JSON Schema 2020-12 schema of the OpenAPI document as a Swagger 2.0 schema: references
/// into `#/definitions`, nullable types as `x-nullable`, `const` as a one-value `enum`, and of
/// an `anyOf` the first non-null branch, unsigned formats as signed ones.
pub fn swagger2(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    map.remove("$schema");
    let mut nullable = false;
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.remove(key) {
            nullable |= branches.iter().any(|b| b["type"] == "null");
            if let Some(Value::Object(first)) = branches.into_iter().find(|b| b["type"] != "null") {
                for (k, v) in first {
                    map.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(Value::Array(types)) = map.get("type").cloned() {
        nullable |= types.iter().any(|t| t == "null");
        let rest: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
        if rest.len() == 1 {
            map.insert("type".into(), rest[0].clone());
        } else {
            map.remove("type");
        }
    }
    // Swagger 2.0 knows signed formats only (schemars writes `uint64` for a `u64`).
    if let Some(Value::String(format)) = map.get("format") {
        let signed = match format.as_str() {
            "uint64" => Some("int64"),
            "uint32" | "uint16" | "uint8" | "int16" | "int8" => Some("int32"),
            _ => None,
        };
        if let Some(f) = signed {
            map.insert("format".into(), f.into());
        }
    }
    if let Some(v) = map.remove("const") {
        map.insert("enum".into(), json!([v]));
    }
    if let Some(Value::String(r)) = map.get("$ref") {
        let name = r.rsplit('/').next().unwrap_or_default().to_owned();
        map.insert("$ref".into(), json!(format!("#/definitions/{name}")));
    }
    if nullable {
        map.insert("x-nullable".into(), true.into());
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = map.remove(key) {
            map.insert(key.into(), swagger2(v));
        }
    }
    if let Some(Value::Object(props)) = map.remove("properties") {
        let props: Map<String, Value> = props.into_iter().map(|(k, v)| (k, swagger2(v))).collect();
        map.insert("properties".into(), Value::Object(props));
    }
    Value::Object(map)
}
