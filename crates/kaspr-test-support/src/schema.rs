//! What a schema allows, for tests that must cover every variant of an enum.

use schemars::JsonSchema;
use serde_json::Value;

/// Every string the JSON schema of `T` allows (`enum` lists and `const`s, at any depth), sorted
/// and deduplicated: for an enum, all its variants by their serde names.
pub fn allowed_strings<T: JsonSchema>() -> Vec<String> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).expect("the schema serialises");
    let mut names = Vec::new();
    collect(&schema, &mut names);
    names.sort();
    names.dedup();
    names
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(s)) = map.get("const") {
                out.push(s.clone());
            }
            if let Some(Value::Array(values)) = map.get("enum") {
                out.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
            map.values().for_each(|v| collect(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}
