//! The definition document of every component upstream's own code reconciled (its example sets
//! and the recorder's edge cases, `tests/upstream/fixtures/components`) equals the one upstream
//! wrote into the component's ConfigMap: same keys (snake_case), same defaults, same values.
//! The YAML text may differ (PyYAML and serde_yaml quote and fold differently); what the
//! runtime reads is the parsed document, which is compared.

use kaspr_components::Component;
use kaspr_test_support::upstream::{RecordedComponent, recorded_components};
use serde_json::Value;

/// Where ours deliberately differs from upstream's document (docs/components.md): the window
/// selector upstream's schema read under another name than its CRD's, so it wrote `null`.
fn upstream_view(mut ours: Value) -> Value {
    let tables = ours.get_mut("tables").and_then(Value::as_array_mut);
    for table in tables.into_iter().flatten() {
        if let Some(window) = table.get_mut("window").and_then(Value::as_object_mut) {
            window.insert("relative_to_field_selector".into(), Value::Null);
        }
    }
    ours
}

fn upstream_document(recorded: &RecordedComponent) -> (String, Value) {
    let data = recorded.config_map["data"]
        .as_object()
        .expect("the ConfigMap has data");
    assert_eq!(data.len(), 1, "{}", recorded.meta_file.display());
    let (key, text) = data.iter().next().expect("one key");
    let doc: Value = serde_yaml::from_str(text.as_str().expect("text")).expect("upstream's YAML");
    (key.clone(), doc)
}

#[test]
fn every_recorded_definition_matches_upstreams() {
    let recorded = recorded_components();
    assert!(
        recorded.len() >= 13,
        "{} recorded components",
        recorded.len()
    );
    for r in &recorded {
        let component = Component::parse(r.input.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", r.meta_file.display()));
        let (key, theirs) = upstream_document(r);
        assert_eq!(
            key,
            component.definition_file(),
            "{}",
            r.meta_file.display()
        );
        assert_eq!(
            r.config_map["metadata"]["name"],
            component.config_map_name().as_str(),
            "{}",
            r.meta_file.display()
        );
        let ours = upstream_view(component.definition());
        let mut differences = Vec::new();
        diff("", &ours, &theirs, &mut differences);
        assert!(
            differences.is_empty(),
            "{}: differs from upstream's at\n{}",
            r.meta_file.display(),
            differences.join("\n")
        );
        // The text is YAML that reads back as the document.
        let reread: Value = serde_yaml::from_str(&component.definition_yaml()).expect("our YAML");
        assert_eq!(reread, component.definition(), "{}", r.meta_file.display());
    }
}

/// The paths where `ours` and `theirs` differ, with both values (short).
fn diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (a.get(k), b.get(k));
                match (x, y) {
                    (Some(x), Some(y)) => diff(&format!("{path}.{k}"), x, y, out),
                    _ => out.push(format!("  {path}.{k}: ours {x:?}, upstream's {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if ours != theirs => out.push(format!("  {path}: ours {ours}, upstream's {theirs}")),
        _ => {}
    }
}
