//! The generated CRD carries the CEL rules declared with `#[x_kube(validation = ...)]`, at the
//! schema node the API server evaluates them on.

use serde_json::Value;

fn spec_schema() -> Value {
    let crd = serde_json::to_value(kaspr_types::crd()).expect("CRD serialises");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

#[test]
fn credentials_rule_is_on_python_packages() {
    let pp = &spec_schema()["properties"]["pythonPackages"];
    assert_eq!(
        pp["x-kubernetes-validations"],
        serde_json::json!([{
            "rule": "!has(self.credentials) || has(self.indexUrl)",
            "message": "credentials requires indexUrl: credentials are only ever sent to the host of indexUrl",
            "fieldPath": ".credentials"
        }])
    );
}

#[test]
fn cache_size_may_only_grow() {
    let size =
        &spec_schema()["properties"]["pythonPackages"]["properties"]["cache"]["properties"]["size"];
    assert_eq!(
        size["x-kubernetes-validations"],
        serde_json::json!([{
            "rule": "quantity(self).compareTo(quantity(oldSelf)) >= 0",
            "message": "cache.size may grow but not shrink: a PVC cannot be made smaller"
        }])
    );
    // The rest of the field's schema survives the merge of the rule.
    assert_eq!(size["default"], "256Mi");
    assert!(size["pattern"].is_string(), "{size}");
}

/// `kubectl explain` is the reference users read: the root says what a KasprApp is, and every
/// field of the schema has a description.
#[test]
fn every_field_is_described_and_the_root_says_what_a_kasprapp_is() {
    let crd = serde_json::to_value(kaspr_types::crd()).expect("json");
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let description = root["description"].as_str().unwrap_or_default();
    assert!(description.starts_with("A KasprApp runs"), "{description}");
    fn walk(schema: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        for (name, field) in schema["properties"].as_object().into_iter().flatten() {
            let p = format!("{path}.{name}");
            if field["description"].as_str().is_none_or(str::is_empty) {
                missing.push(p.clone());
            }
            walk(field, &p, missing);
        }
        if schema["items"].is_object() {
            walk(&schema["items"], &format!("{path}[]"), missing);
        }
    }
    let mut missing = Vec::new();
    walk(root, "", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
    assert_eq!(
        crd["spec"]["names"]["categories"],
        serde_json::json!(["kaspr", "all"])
    );
}
