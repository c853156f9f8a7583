//! Broken variants of upstream's examples (one field each: a missing input or processors, a bad
//! cron expression or interval, empty Python, an unknown enum value, a cross-field rule) are
//! refused offline, by parsing or by `check()`, naming the field at fault. The API server
//! refuses the same documents (`tests/apiserver/tests/components_crd.rs`).

use kaspr_components::{Component, ValidationErrors};
use kaspr_test_support::upstream::{BrokenComponent, broken_components};

/// What refuses `doc` offline: parsing or `check()`.
fn refusal(doc: &serde_json::Value) -> Option<ValidationErrors> {
    match Component::parse(doc.clone()) {
        Err(e) => Some(e),
        Ok(c) => c.check().err(),
    }
}

/// `path` itself or a field below it.
fn under(path: &str, expected: &str) -> bool {
    path == expected
        || path
            .strip_prefix(expected)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

#[test]
fn every_broken_variant_is_refused_at_its_field() {
    let cases = broken_components();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for BrokenComponent {
        case,
        document,
        path,
    } in cases
    {
        let errors = refusal(&document).unwrap_or_else(|| panic!("{case}: accepted"));
        assert!(
            errors.0.iter().all(|e| under(&e.path, path)),
            "{case}: expected errors at {path} only, got:\n{errors}"
        );
        assert!(
            errors.0.iter().all(|e| !e.message.is_empty()),
            "{case}: {errors}"
        );
    }
}

#[test]
fn messages_say_what_is_accepted() {
    let message = |case: &str| {
        let c = broken_components()
            .into_iter()
            .find(|c| c.case == case)
            .unwrap_or_else(|| panic!("no case {case}"));
        refusal(&c.document)
            .unwrap_or_else(|| panic!("{case}: accepted"))
            .to_string()
    };
    let m = message("task bad cron minute");
    assert!(m.contains("minute 61 is out of range 0-59"), "{m}");
    let m = message("task cron words");
    assert!(m.contains("3 fields") && m.contains("@daily"), "{m}");
    let m = message("task interval without unit");
    assert!(m.contains("\"30s\""), "{m}");
    let m = message("agent without input");
    assert_eq!(m, "spec.input: missing; this field is required");
    let m = message("agent unknown serializer");
    assert!(
        m.starts_with("spec.input.topic.keySerializer: unknown variant `avro`"),
        "{m}"
    );
    assert!(m.contains("`raw`, `json`, `pickle`, `binary`"), "{m}");
    let m = message("agent pipeline names a missing operation");
    assert!(
        m.contains(
            "spec.processors.pipeline[0]: \"lookup-profiles\" is not the name of an operation"
        ),
        "{m}"
    );
    assert!(m.contains("lookup-user-profile"), "{m}");
    let m = message("agent empty python");
    assert!(m.contains("empty; write the Python code"), "{m}");
    let m = message("join table not an object name");
    assert!(m.contains("KasprTable's metadata.name"), "{m}");
}

#[test]
fn metadata_must_name_the_app() {
    let doc = kaspr_test_support::upstream::example_task();
    let mut unlabelled = doc.clone();
    unlabelled["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("labels");
    let task = Component::parse(unlabelled).expect("parses");
    let errors = task.check().expect_err("no app label");
    assert_eq!(errors.0[0].path, "metadata.labels[kaspr.io/app]");
    assert!(
        errors.0[0].message.contains("kaspr.io/app: my-app"),
        "{errors}"
    );

    let mut bad = doc;
    bad["metadata"]["labels"]["kaspr.io/app"] = "Analytics Counter".into();
    let errors = Component::parse(bad)
        .expect("parses")
        .check()
        .expect_err("bad name");
    assert_eq!(errors.0[0].path, "metadata.labels[kaspr.io/app]");
}

#[test]
fn parse_refuses_other_kinds_and_versions() {
    let mut doc = kaspr_test_support::upstream::example_task();
    doc["apiVersion"] = "kaspr.io/v1".into();
    let e = Component::parse(doc.clone()).expect_err("v1 is not served");
    assert_eq!(e.0[0].path, "apiVersion");
    doc["apiVersion"] = "kaspr.io/v1alpha1".into();
    doc["kind"] = "KasprApp".into();
    let e = Component::parse(doc).expect_err("not a component");
    assert_eq!(e.0[0].path, "kind");
}

#[test]
fn warnings_for_what_is_probably_a_mistake() {
    let mut doc = kaspr_test_support::upstream::example_task();
    doc["spec"]["name"] = "report".into();
    doc["spec"]["processors"]["pipeline"] = serde_json::json!(["count"]);
    doc["spec"]["processors"]["operations"][0]["map"]["entrypoint"] = "counts".into();
    let task = Component::parse(doc).expect("parses");
    task.check().expect("warnings are no errors");
    let warnings = task.warnings();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(
        warnings[0].contains("spec.name \"report\" is ignored"),
        "{warnings:#?}"
    );
    assert!(
        warnings[1].contains(
            "spec.processors.operations[1] (\"publish\") is not in spec.processors.pipeline"
        ),
        "{warnings:#?}"
    );
    assert!(
        warnings[2]
            .contains("spec.processors.operations[0].map.entrypoint \"counts\" does not appear"),
        "{warnings:#?}"
    );
}

#[test]
fn duplicate_names_are_refused() {
    let mut doc = kaspr_test_support::upstream::example_task();
    doc["spec"]["processors"]["operations"][1]["name"] = "count".into();
    doc["spec"]["processors"]["pipeline"] = serde_json::json!(["count"]);
    let errors = Component::parse(doc.clone())
        .expect("parses")
        .check()
        .expect_err("dup");
    assert_eq!(errors.0[0].path, "spec.processors.operations[1].name");

    let mut doc = kaspr_test_support::upstream::example_task();
    doc["spec"]["processors"]["operations"][0]["tables"] = serde_json::json!([
        {"name": "a", "paramName": "t"},
        {"name": "b", "paramName": "t"}
    ]);
    let errors = Component::parse(doc)
        .expect("parses")
        .check()
        .expect_err("dup");
    assert_eq!(
        errors.0[0].path,
        "spec.processors.operations[0].tables[1].paramName"
    );
}
