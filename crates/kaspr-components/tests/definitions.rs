//! The definition document of every component upstream's own code reconciled (its example sets
//! and the recorder's edge cases, `tests/upstream/fixtures/components`) equals the one upstream
//! wrote into the component's ConfigMap: same keys (snake_case), same defaults, same values.
//! The YAML text may differ (PyYAML and our writer, `src/yaml.rs`, quote and fold differently); what the
//! runtime reads is compared: both texts are loaded with PyYAML (`yaml.safe_load`, YAML 1.1, as
//! the Kaspr runtime reads them), so a string that YAML 1.1 reads as something else (`yes`,
//! `1e3`, a date) would show.

use kaspr_components::Component;
use kaspr_test_support::tools::venv_tool;
use kaspr_test_support::upstream::{self, RecordedComponent, recorded_components};

/// Components upstream's operator builds a ConfigMap for and this one refuses, each for a reason
/// docs/components.md gives ("What the runtime or upstream's operator would fail on"). Those
/// that parse are still compared (the refusal is `check()`'s); `(unparsed)` ones cannot be.
const REFUSED_ON_PURPOSE: &[&str] = &[
    // Output topic named `~`/`null`-like strings Kafka refuses; pipeline entries naming no
    // operation; an entrypoint that is a keyword.
    "components/_edge/edge-values/KasprAgent-edge-values.meta.json: spec.output,spec.processors",
    // The recorder's maximal cases set fields that exclude each other (topic and channel,
    // tumbling and hopping, cron and interval) and a table reference (`Other.Table`) that
    // cannot be a KasprTable's name.
    "components/_edge/maps-kept-agent/KasprAgent-maps-kept-agent.meta.json: spec.input,spec.processors",
    "components/_edge/maps-kept-table/KasprTable-maps-kept-table.meta.json: spec.window",
    "components/_edge/maps-kept-webview/KasprWebView-maps-kept-webview.meta.json: spec.processors",
    "components/_edge/maximal-agent/KasprAgent-maximal-agent.meta.json: spec.input,spec.processors",
    "components/_edge/maximal-agent-pattern/KasprAgent-maximal-agent-pattern.meta.json: spec.input,spec.processors",
    "components/_edge/maximal-table/KasprTable-maximal-table.meta.json: spec.window",
    "components/_edge/maximal-task/KasprTask-maximal-task.meta.json: spec.processors,spec.schedule",
    "components/_edge/maximal-webview/KasprWebView-maximal-webview.meta.json: spec.processors",
    // No processors, or an empty pipeline: the runtime has nothing to run.
    "components/_edge/minimal-agent/KasprAgent-minimal-agent.meta.json: spec.processors (unparsed)",
    "components/_edge/minimal-task/KasprTask-minimal-task.meta.json: spec.processors (unparsed)",
    "components/_edge/sparse-agent/KasprAgent-sparse-agent-2.meta.json: spec.processors",
    "components/_edge/sparse-agent/KasprAgent-sparse-agent.meta.json: spec.processors",
    "components/_edge/sparse-task/KasprTask-sparse-task.meta.json: spec.processors (unparsed)",
    "components/_edge/sparse-webview/KasprWebView-sparse-webview.meta.json: spec.processors (unparsed)",
    // Unknown spec fields are refused (upstream's CRD kept them and its operator ignored them).
    "components/_edge/unknown-spec-fields/KasprAgent-unknown-spec-fields.meta.json: spec.someUnknown (unparsed)",
];
use serde_json::{Map, Value};

/// Where ours deliberately differs from upstream's document (docs/components.md): the window
/// selector upstream's schema read under another name than its CRD's, so it wrote `null`; and
/// user maps, whose keys upstream snake-cased (`Content-Type` → `_content-_type`; only the
/// recorder's `maps-kept-*` cases show it: upstream's CRDs pruned every key).
fn upstream_view(recorded: &RecordedComponent, mut ours: Value) -> Value {
    let tables = ours.get_mut("tables").and_then(Value::as_array_mut);
    for table in tables.into_iter().flatten() {
        if let Some(window) = table.get_mut("window").and_then(Value::as_object_mut) {
            window.insert("relative_to_field_selector".into(), Value::Null);
        }
    }
    if recorded.meta_file.to_string_lossy().contains("/maps-kept-") {
        snake_case_user_maps(&mut ours);
    }
    ours
}

/// A topic's `config: {}` (what upstream's CRD left of any config) and no config at all both
/// mean no entries; the typed spec keeps no empty map, so ours writes `null` for both.
fn same_empty_config(theirs: &mut Value) {
    match theirs {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "config" && v.as_object().is_some_and(Map::is_empty) {
                    *v = Value::Null;
                } else {
                    same_empty_config(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(same_empty_config),
        _ => {}
    }
}

const USER_MAPS: [&str; 4] = ["config", "headers", "extra_topic_configs", "options"];

fn snake_case_user_maps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if let (true, Value::Object(user)) = (USER_MAPS.contains(&key.as_str()), &*v) {
                    *v = Value::Object(user.iter().map(|(k, x)| (snake(k), x.clone())).collect());
                } else {
                    snake_case_user_maps(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(snake_case_user_maps),
        _ => {}
    }
}

/// Upstream's `camel_to_snake` of one key.
fn snake(key: &str) -> String {
    key.chars()
        .flat_map(|c| {
            if c.is_ascii_uppercase() {
                vec!['_', c.to_ascii_lowercase()]
            } else {
                vec![c]
            }
        })
        .collect()
}

fn upstream_text(recorded: &RecordedComponent) -> (String, String) {
    let data = recorded.config_map["data"]
        .as_object()
        .expect("the ConfigMap has data");
    assert_eq!(data.len(), 1, "{}", recorded.meta_file.display());
    let (key, text) = data.iter().next().expect("one key");
    (key.clone(), text.as_str().expect("text").to_owned())
}

/// The fields `errors` name, two levels deep and without indices (`spec.input`,
/// `spec.processors`), each once.
fn fields(errors: &kaspr_components::ValidationErrors) -> String {
    let mut out: Vec<String> = errors
        .0
        .iter()
        .map(|e| {
            let top: Vec<&str> = e.path.split('.').take(2).collect();
            top.join(".")
                .split('[')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    out.dedup();
    out.sort();
    out.dedup();
    out.join(",")
}

/// Each YAML text as PyYAML's `safe_load` reads it, as JSON (a value JSON cannot hold, such as a
/// date, becomes `{"non-json": repr}` so it shows as a difference).
fn pyyaml_load(texts: &[String]) -> Vec<Value> {
    let script = "import sys, json, yaml\n\
        docs = [yaml.safe_load(t) for t in json.load(sys.stdin)]\n\
        print(json.dumps(docs, default=lambda o: {'non-json': repr(o)}))\n";
    let mut child = std::process::Command::new(venv_tool("python"))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let input = serde_json::to_vec(texts).expect("json");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &input).expect("writes");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("python ends");
    assert!(out.status.success(), "PyYAML failed");
    serde_json::from_slice(&out.stdout).expect("json from python")
}

#[test]
fn every_recorded_definition_reads_as_upstreams() {
    let recorded = recorded_components();
    assert!(
        recorded.len() >= 13,
        "{} recorded components",
        recorded.len()
    );
    let mut texts = Vec::new();
    let mut components = Vec::new();
    let mut compared = Vec::new();
    let mut refused = Vec::new();
    for r in &recorded {
        let case = r
            .meta_file
            .strip_prefix(upstream::fixtures_dir())
            .unwrap_or(&r.meta_file);
        let parsed = Component::parse(r.input.clone());
        if let Err(errors) = parsed.as_ref().map(Component::check).unwrap_or(Ok(())) {
            refused.push(format!("{}: {}", case.display(), fields(&errors)));
        }
        let component = match parsed {
            Ok(c) => c,
            Err(errors) => {
                refused.push(format!(
                    "{}: {} (unparsed)",
                    case.display(),
                    fields(&errors)
                ));
                continue;
            }
        };
        let (key, theirs) = upstream_text(r);
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
        texts.push(component.definition_yaml());
        texts.push(theirs);
        components.push(component);
        compared.push(r);
    }
    assert_eq!(
        refused, REFUSED_ON_PURPOSE,
        "components upstream builds that we refuse"
    );
    let loaded = pyyaml_load(&texts);
    for ((r, component), pair) in compared.iter().zip(&components).zip(loaded.chunks(2)) {
        let (ours, mut theirs) = (&pair[0], pair[1].clone());
        same_empty_config(&mut theirs);
        // Our text reads back as our document, with PyYAML too.
        assert_eq!(*ours, component.definition(), "{}", r.meta_file.display());
        let mut differences = Vec::new();
        diff(
            "",
            &upstream_view(r, ours.clone()),
            &theirs,
            &mut differences,
        );
        assert!(
            differences.is_empty(),
            "{}: differs from upstream's at\n{}",
            r.meta_file.display(),
            differences.join("\n")
        );
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
