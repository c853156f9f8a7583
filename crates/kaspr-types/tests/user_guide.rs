//! The troubleshooting section of the user guide has an entry for every install error type, each
//! quoting the message the status shows for it: the catalogue and the guide cannot drift apart.

use kaspr_test_support::workspace_root;
use kaspr_types::InstallErrorType;
use serde_json::Value;

/// Every `InstallErrorType`, from the strings its schema allows (`enum` or `const` per variant).
fn error_types() -> Vec<InstallErrorType> {
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
    let schema =
        serde_json::to_value(schemars::schema_for!(InstallErrorType)).expect("schema serialises");
    let mut names = Vec::new();
    collect(&schema, &mut names);
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| serde_json::from_value(Value::from(n)).expect("a variant"))
        .collect()
}

#[test]
fn every_error_type_has_a_troubleshooting_entry_quoting_its_message() {
    let path = workspace_root().join("docs/user-guide/python-packages.md");
    let guide = std::fs::read_to_string(&path).expect("docs/user-guide/python-packages.md");
    let troubleshooting = guide
        .split("\n## Troubleshooting")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Troubleshooting section");
    let types = error_types();
    assert_eq!(types.len(), 11, "{types:?}");
    for error_type in types {
        let heading = format!("\n### `{}`\n", error_type.as_str());
        let entry = troubleshooting
            .split(&heading)
            .nth(1)
            .and_then(|s| s.split("\n### ").next())
            .unwrap_or_else(|| panic!("no entry {heading:?} in the guide's Troubleshooting"));
        assert!(
            entry.contains(&format!("> {}", error_type.message())),
            "the entry for {error_type} quotes its message {:?}",
            error_type.message()
        );
    }
}
