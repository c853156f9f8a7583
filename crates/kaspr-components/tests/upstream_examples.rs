//! Upstream's own component examples, unchanged: every document of the five kinds parses, passes
//! `check()`, and loses no field (serialised back it is the document, plus the defaults the CRD
//! sets, as the API server would store it).

use kaspr_components::Component;
use kaspr_test_support::upstream;
use serde_json::{Value, json};

/// The document with the defaults our CRD (like upstream's) sets on admission.
fn with_defaults(mut doc: Value) -> Value {
    let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
    let spec = doc["spec"].as_object_mut().expect("a spec");
    match kind.as_str() {
        "KasprAgent" => {
            spec.entry("isolatedPartitions").or_insert(json!(false));
        }
        "KasprTask" => {
            spec.entry("onLeader").or_insert(json!(false));
        }
        "KasprJoin" => {
            spec.entry("type").or_insert(json!("inner"));
        }
        _ => {}
    }
    doc
}

#[test]
fn every_upstream_component_example_parses_and_passes_check() {
    let docs = upstream::component_documents();
    let mut kinds: Vec<&str> = docs
        .iter()
        .map(|(_, d)| d["kind"].as_str().unwrap_or_default())
        .collect();
    kinds.sort();
    kinds.dedup();
    // Upstream ships no KasprTask example; `example_task` stands in for one.
    assert_eq!(
        kinds,
        ["KasprAgent", "KasprJoin", "KasprTable", "KasprWebView"]
    );
    assert_eq!(docs.len(), 13, "upstream's component examples");
    for (path, doc) in docs {
        let what = format!("{} {}", path.display(), doc["metadata"]["name"]);
        let component = Component::parse(doc.clone())
            .unwrap_or_else(|e| panic!("{what}: does not parse:\n{e}"));
        if let Err(e) = component.check() {
            panic!("{what}: refused:\n{e}");
        }
        // One upstream example misspells extraTopicConfigs: accepted and ignored, as upstream
        // ignores it, with a warning.
        let expected: Vec<String> = if component.name() == "user-preferences" {
            vec![
                "spec.extraTopicConfig is ignored (as upstream ignores it): it is a misspelling \
                 of extraTopicConfigs; rename it for the configuration to apply"
                    .to_owned(),
            ]
        } else {
            Vec::new()
        };
        assert_eq!(component.warnings(), expected, "{what}");
        let back = component_object(&component);
        assert_eq!(
            back,
            with_defaults(doc),
            "{what}: a field was lost or changed"
        );
    }
}

#[test]
fn the_example_task_parses_and_passes_check() {
    let doc = upstream::example_task();
    let task = Component::parse(doc.clone()).expect("parses");
    task.check().expect("valid");
    assert_eq!(task.warnings(), Vec::<String>::new());
    assert_eq!(
        serde_json::to_value(component_object(&task)).expect("json"),
        doc
    );
    let uses = task.table_uses();
    assert_eq!(uses.len(), 1);
    assert_eq!(
        uses[0].field,
        "spec.processors.operations[0].tables[0].name"
    );
    assert_eq!(uses[0].name, "event-counters");
}

/// What upstream's API server admitted (after its CRD pruned and defaulted) also parses and
/// passes: an object upstream stored can be read by this operator.
#[test]
fn what_upstream_stored_is_read_unchanged() {
    let dir = upstream::fixtures_dir().join("components");
    let mut read = 0;
    for set in std::fs::read_dir(&dir).expect("components fixtures") {
        let set = set.expect("entry").path();
        for file in std::fs::read_dir(&set).expect("a set") {
            let file = file.expect("entry").path();
            if !file.to_string_lossy().ends_with(".meta.json") {
                continue;
            }
            let meta: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).expect("readable"))
                    .expect("json");
            let input = meta["input"].clone();
            let component =
                Component::parse(input).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            component
                .check()
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            read += 1;
        }
    }
    assert_eq!(read, 13);
}

#[test]
fn table_config_values_keep_their_types() {
    let (_, doc) = upstream::component_documents()
        .into_iter()
        .find(|(_, d)| d["metadata"]["name"] == "user-profiles")
        .expect("the user-profiles table");
    let Component::Table(table) = Component::parse(doc).expect("parses") else {
        panic!("a table");
    };
    let retention = &table.spec.extra_topic_configs["retention.ms"];
    assert_eq!(*retention, kaspr_components::ConfigValue::Int(-1));
    assert_eq!(retention.to_config_string(), "-1");
}

#[test]
fn join_defaults_and_output_channel() {
    let (_, mut doc) = upstream::component_documents()
        .into_iter()
        .find(|(_, d)| d["kind"] == "KasprJoin")
        .expect("the join");
    let Component::Join(join) = Component::parse(doc.clone()).expect("parses") else {
        panic!("a join");
    };
    assert_eq!(
        join.spec.output_channel("orders-products-join"),
        "orders-products-joined"
    );
    doc["spec"].as_object_mut().expect("spec").remove("type");
    doc["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("outputChannel");
    let Component::Join(join) = Component::parse(doc).expect("parses") else {
        panic!("a join");
    };
    assert_eq!(join.spec.join_type, kaspr_components::JoinType::Inner);
    assert_eq!(
        join.spec.output_channel("orders-products-join"),
        "orders-products-join-channel"
    );
    let uses: Vec<(String, String)> = Component::Join(join)
        .table_uses()
        .into_iter()
        .map(|u| (u.field, u.name))
        .collect();
    assert_eq!(
        uses,
        [
            ("spec.leftTable".to_owned(), "orders".to_owned()),
            ("spec.rightTable".to_owned(), "products".to_owned())
        ]
    );
}

fn component_object(c: &Component) -> Value {
    match c {
        Component::Agent(x) => serde_json::to_value(x),
        Component::Table(x) => serde_json::to_value(x),
        Component::WebView(x) => serde_json::to_value(x),
        Component::Task(x) => serde_json::to_value(x),
        Component::Join(x) => serde_json::to_value(x),
    }
    .expect("serialises")
}
