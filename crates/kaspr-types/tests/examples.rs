//! The manifests in `examples/` (our equivalents of the upstream operator's documented shapes)
//! parse into the Rust types, validate, and serialise back without losing any field.

use kaspr_test_support::examples::example_app_documents;
use kaspr_types::KasprApp;
use serde_json::Value;

/// Each leaf of `input` is present, equal, in `output` (defaults may add more).
fn assert_contained(input: &Value, output: &Value, at: &str) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                let child = o.get(k).unwrap_or_else(|| panic!("{at}.{k} was lost"));
                assert_contained(v, child, &format!("{at}.{k}"));
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            assert_eq!(i.len(), o.len(), "{at}: list length changed");
            for (n, (a, b)) in i.iter().zip(o).enumerate() {
                assert_contained(a, b, &format!("{at}[{n}]"));
            }
        }
        (i, o) => assert_eq!(i, o, "{at} changed"),
    }
}

#[test]
fn every_example_parses_validates_and_round_trips() {
    let docs = example_app_documents();
    assert!(
        docs.len() >= 7,
        "expected the examples, found {}",
        docs.len()
    );
    for (path, value) in docs {
        let app: KasprApp = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(e) = app.spec.check() {
            panic!("{}: {e}", path.display());
        }
        assert!(
            app.spec.unknown_fields.is_empty(),
            "{}: unknown fields {:?}",
            path.display(),
            app.spec.unknown_fields
        );
        let back = serde_json::to_value(&app).expect("serialises");
        assert_contained(&value, &back, &path.display().to_string());
    }
}

#[test]
fn enterprise_example_has_every_python_packages_field() {
    let docs = example_app_documents();
    let (_, value) = docs
        .iter()
        .find(|(p, _)| p.ends_with("enterprise-complete.yaml"))
        .expect("enterprise-complete.yaml exists");
    let pp = value["spec"]["pythonPackages"]
        .as_object()
        .expect("pythonPackages");
    for field in [
        "packages",
        "indexUrl",
        "extraIndexUrls",
        "trustedHosts",
        "credentials",
        "installPolicy",
        "installer",
        "cache",
        "resources",
    ] {
        assert!(pp.contains_key(field), "enterprise example lacks {field}");
    }
}
