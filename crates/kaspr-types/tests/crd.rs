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
