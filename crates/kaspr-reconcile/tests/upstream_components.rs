//! Components as upstream's own code builds them (`tests/upstream/fixtures`): each component's
//! ConfigMap (name, labels, owner, data key) and what the app's StatefulSet mounts of them
//! (volumes, mount paths, hash variables), so a takeover changes nothing the pods see but the
//! hash values.

mod support;

use std::path::Path;

use kaspr_components::Component;
use kaspr_reconcile::build::Existing;
use kaspr_reconcile::build::components::{Attached, config_map};
use kaspr_test_support::upstream::{self, RecordedComponent, recorded_components};
use kaspr_types::KasprApp;
use serde_json::{Value, json};

fn component(r: &RecordedComponent) -> Component {
    Component::parse(r.input.clone()).unwrap_or_else(|e| panic!("{}: {e}", r.meta_file.display()))
}

#[test]
fn every_component_config_map_is_named_labelled_and_owned_as_upstreams() {
    let recorded = recorded_components();
    assert!(recorded.len() >= 13, "{} recorded", recorded.len());
    // Those that do not parse are refused on purpose (kaspr-components' definitions test lists
    // them with the reasons).
    for r in recorded
        .iter()
        .filter(|r| Component::parse(r.input.clone()).is_ok())
    {
        let ours = serde_json::to_value(config_map(&component(r))).expect("json");
        let theirs = &r.config_map;
        let at = r.meta_file.display();
        for field in ["name", "namespace", "labels", "ownerReferences"] {
            assert_eq!(
                ours["metadata"][field], theirs["metadata"][field],
                "{at}: metadata.{field}"
            );
        }
        let keys = |v: &Value| {
            v["data"]
                .as_object()
                .map(|d| d.keys().cloned().collect::<Vec<_>>())
        };
        assert_eq!(keys(&ours), keys(theirs), "{at}: data keys");
        assert!(
            ours["metadata"]["annotations"]["kaspr.io/resource-hash"]
                .as_str()
                .is_some_and(|h| h.len() == 16),
            "{at}: the definition's hash"
        );
    }
}

/// The recorded component of `kind` and `name`.
fn find<'a>(recorded: &'a [RecordedComponent], kind: &str, name: &str) -> &'a RecordedComponent {
    recorded
        .iter()
        .find(|r| r.input["kind"] == kind && r.input["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no recorded {kind} {name}"))
}

fn our_statefulset(dir: &Path, attached: &[Attached]) -> Value {
    let app: KasprApp = serde_json::from_value(upstream::input_app(dir)).expect("app");
    let validated = kaspr_reconcile::validate(&app, None, &kaspr_reconcile::Settings::default())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let existing = Existing {
        components: attached,
        ..support::build::NONE
    };
    let desired = kaspr_reconcile::build::build(&validated, &existing).expect("builds");
    serde_json::to_value(&desired.statefulset).expect("json")
}

/// The entries of `list` whose `field` starts with `prefix` (the components' part).
fn components_part(list: &Value, field: &str, prefix: &str) -> Vec<Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e[field].as_str().is_some_and(|v| v.starts_with(prefix)))
        .cloned()
        .collect()
}

#[test]
fn the_app_mounts_its_components_where_and_as_upstream_does() {
    let recorded = recorded_components();
    let mut checked = 0;
    for dir in upstream::app_dirs() {
        let wc = dir.join("with-components");
        if !wc.is_dir() {
            continue;
        }
        let listed = upstream::json(wc.join("_components.json"));
        let attached = Attached::in_mount_order(
            listed
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let kind = c["kind"].as_str().unwrap_or_default();
                    let name = c["name"].as_str().unwrap_or_default();
                    component(find(&recorded, kind, name))
                })
                .filter_map(|c| Attached::of_component(&c))
                .collect(),
        );
        let ours = our_statefulset(&dir, &attached);
        let theirs = upstream::object(&wc, "StatefulSet");
        let pod = |v: &Value| v["spec"]["template"]["spec"].clone();
        let (our_pod, their_pod) = (pod(&ours), pod(&theirs));
        let at = wc.display();
        let definitions = "/var/lib/data/definitions/";
        assert_eq!(
            components_part(
                &our_pod["containers"][0]["volumeMounts"],
                "mountPath",
                definitions
            ),
            components_part(
                &their_pod["containers"][0]["volumeMounts"],
                "mountPath",
                definitions
            ),
            "{at}: mounts"
        );
        let cm_volumes = |p: &Value| -> Vec<Value> {
            p["volumes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v.get("configMap").is_some())
                .cloned()
                .collect()
        };
        assert_eq!(
            cm_volumes(&our_pod),
            cm_volumes(&their_pod),
            "{at}: volumes"
        );
        let hash_vars = |p: &Value| -> Vec<Value> {
            p["containers"][0]["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    ["AGENTS_HASH", "WEBVIEWS_HASH", "TABLES_HASH", "TASKS_HASH"]
                        .contains(&e["name"].as_str().unwrap_or_default())
                })
                .map(|e| e["name"].clone())
                .collect()
        };
        assert_eq!(
            hash_vars(&our_pod),
            hash_vars(&their_pod),
            "{at}: hash variables"
        );
        assert!(!hash_vars(&our_pod).is_empty(), "{at}: nothing mounted");
        checked += 1;
    }
    assert!(checked >= 3, "{checked} apps with components");
}

#[test]
fn a_changed_definition_changes_only_its_kinds_hash() {
    let recorded = recorded_components();
    let agent = component(find(&recorded, "KasprAgent", "counter-processor"));
    let table = component(find(&recorded, "KasprTable", "event-counters"));
    let dir = upstream::fixtures_dir().join("apps/app-analytics");
    let env = |attached: Vec<Attached>| -> Value {
        let sts = our_statefulset(&dir, &Attached::in_mount_order(attached));
        let env = sts["spec"]["template"]["spec"]["containers"][0]["env"].clone();
        let pick = |name: &str| {
            env.as_array()
                .into_iter()
                .flatten()
                .find(|e| e["name"] == name)
                .map(|e| e["value"].clone())
        };
        json!({"agents": pick("AGENTS_HASH"), "tables": pick("TABLES_HASH")})
    };
    let of = |c: &Component| Attached::of_component(c).expect("mounted kind");
    let before = env(vec![of(&agent), of(&table)]);
    let mut edited = agent.clone();
    if let Component::Agent(a) = &mut edited {
        a.spec.description = Some("edited".into());
    }
    let after = env(vec![of(&edited), of(&table)]);
    assert_ne!(before["agents"], after["agents"]);
    assert_eq!(before["tables"], after["tables"]);
    // Without tables, no TABLES_HASH (as upstream: only the kinds attached).
    assert_eq!(env(vec![of(&agent)])["tables"], Value::Null);
}
