//! The troubleshooting section of the user guide has an entry for every install error type, each
//! quoting the message the status shows for it: the catalogue and the guide cannot drift apart.

use kaspr_test_support::schema::allowed_strings;
use kaspr_test_support::workspace_root;
use kaspr_types::InstallErrorType;
use serde_json::Value;

/// Every `InstallErrorType`, from the strings its schema allows (`enum` or `const` per variant).
fn error_types() -> Vec<InstallErrorType> {
    allowed_strings::<InstallErrorType>()
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
