//! Taking over StatefulSets the upstream operator created, against objects recorded by running
//! its own code (`tests/upstream`): the fields a StatefulSet cannot change must come out exactly
//! as upstream stored them, or the API server refuses every apply of a taken-over app.

mod support;

use std::path::Path;

use k8s_openapi::api::apps::v1::StatefulSet;
use kaspr_reconcile::Settings;
use kaspr_reconcile::build::Existing;
use kaspr_test_support::upstream;
use kaspr_types::KasprApp;
use serde_json::{Value, json};

/// Apps upstream accepts and this operator refuses on purpose, with the field that says why.
const REFUSED_ON_PURPOSE: &[(&str, &str)] = &[
    // A one-letter bucket name: Cloud Storage refuses it, so the install would only fail later.
    (
        "python-packages-gcs-defaults",
        "spec.pythonPackages.cache.gcs.bucket",
    ),
];

/// Our StatefulSet for the app upstream was given in `dir`, with `existing` in the cluster.
fn ours(dir: &Path, existing: Option<&StatefulSet>) -> Option<Value> {
    let app: KasprApp = serde_json::from_value(upstream::input_app(dir))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let validated = match kaspr_reconcile::validate(&app, None, &Settings::default()) {
        Ok(v) => v,
        Err(errors) => {
            let (_, field) = REFUSED_ON_PURPOSE
                .iter()
                .find(|(case, _)| *case == name)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: upstream accepts it, we refuse it: {errors}",
                        dir.display()
                    )
                });
            assert!(errors.0.iter().any(|e| e.path == *field), "{errors}");
            return None;
        }
    };
    let existing = Existing {
        statefulset: existing,
        ..support::build::NONE
    };
    let desired = kaspr_reconcile::build::build(&validated, &existing).expect("builds");
    Some(serde_json::to_value(&desired.statefulset).expect("json"))
}

/// `value` without the `apiVersion`/`kind` of embedded claim templates. k8s-openapi always
/// writes them; the API server converts a StatefulSet to its internal types before comparing
/// the immutable fields, and that conversion drops an embedded object's type fields, so they
/// are no change (upstream's Python client leaves them out).
fn without_type_meta(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(templates) = value.as_array_mut() {
        for t in templates.iter_mut().filter_map(Value::as_object_mut) {
            t.remove("apiVersion");
            t.remove("kind");
        }
    }
    value
}

const IMMUTABLE: [&str; 4] = [
    "selector",
    "serviceName",
    "podManagementPolicy",
    "volumeClaimTemplates",
];

#[test]
fn every_upstream_statefulset_is_taken_over_without_changing_an_immutable_field() {
    let dirs = upstream::app_dirs();
    assert!(
        dirs.len() >= 25,
        "the recording has its apps: {}",
        dirs.len()
    );
    let mut compared = 0;
    for dir in dirs {
        let theirs = upstream::object(&dir, "StatefulSet");
        let stored: StatefulSet = serde_json::from_value(theirs.clone()).expect("a StatefulSet");
        let Some(ours) = ours(&dir, Some(&stored)) else {
            continue;
        };
        for field in IMMUTABLE {
            assert_eq!(
                without_type_meta(&ours["spec"][field]),
                theirs["spec"][field],
                "{}: spec.{field}",
                dir.display()
            );
        }
        compared += 1;
    }
    assert!(compared >= 25, "{compared} apps compared");
}

#[test]
fn a_new_app_gets_upstreams_immutable_fields_but_its_own_claim_metadata() {
    for dir in upstream::app_dirs() {
        let theirs = upstream::object(&dir, "StatefulSet");
        let Some(ours) = ours(&dir, None) else {
            continue;
        };
        for field in ["selector", "serviceName", "podManagementPolicy"] {
            assert_eq!(
                ours["spec"][field],
                theirs["spec"][field],
                "{}: {field}",
                dir.display()
            );
        }
        let claim = &ours["spec"]["volumeClaimTemplates"][0];
        if claim.is_null() {
            // ephemeral storage: an emptyDir (upstream made a claim it never needed)
            continue;
        }
        let upstream_claim = &theirs["spec"]["volumeClaimTemplates"][0];
        assert_eq!(claim["spec"], upstream_claim["spec"], "{}", dir.display());
        assert_eq!(
            claim["metadata"]["name"],
            upstream_claim["metadata"]["name"]
        );
    }
}

#[test]
fn a_changed_claim_is_not_kept_and_an_ephemeral_app_keeps_upstreams_claim() {
    let dir = upstream::fixtures_dir().join("edge-cases/baseline");
    let mut stored: StatefulSet =
        serde_json::from_value(upstream::object(&dir, "StatefulSet")).expect("sts");
    // The stored template asks for 5Gi; the spec asks for 1Gi: ours is the spec's.
    let mut changed = serde_json::to_value(&stored).expect("json");
    changed["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
        json!("5Gi");
    stored = serde_json::from_value(changed).expect("sts");
    let built = ours(&dir, Some(&stored)).expect("valid");
    assert_eq!(
        built["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "1Gi"
    );
    assert!(built["spec"]["volumeClaimTemplates"][0]["metadata"]["annotations"].is_null());

    let dir = upstream::fixtures_dir().join("edge-cases/storage-ephemeral");
    let theirs = upstream::object(&dir, "StatefulSet");
    let stored: StatefulSet = serde_json::from_value(theirs.clone()).expect("sts");
    let built = ours(&dir, Some(&stored)).expect("valid");
    let volumes = built["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        volumes.iter().all(|v| v["name"] != "edge-app-pv"),
        "the taken-over pods keep mounting their claim, not an emptyDir: {volumes:?}"
    );
}

/// Our children for the app upstream was given in `dir` (None: refused on purpose).
fn desired(dir: &Path) -> Option<kaspr_reconcile::build::Desired> {
    let app: KasprApp = serde_json::from_value(upstream::input_app(dir)).expect("app");
    let validated = kaspr_reconcile::validate(&app, None, &Settings::default()).ok()?;
    Some(kaspr_reconcile::build::build(&validated, &support::build::NONE).expect("builds"))
}

#[test]
fn the_autoscaler_and_the_replicas_are_upstreams() {
    let mut compared = 0;
    for dir in upstream::app_dirs() {
        let Some(d) = desired(&dir) else { continue };
        let theirs = upstream::object(&dir, "StatefulSet");
        let ours = serde_json::to_value(&d.statefulset).expect("json");
        assert_eq!(
            ours["spec"]["replicas"],
            theirs["spec"]["replicas"],
            "{}: replicas (omitted: the autoscaler owns them)",
            dir.display()
        );
        let has_hpa = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("HorizontalPodAutoscaler-")
            });
        match (&d.hpa, has_hpa) {
            (Some(hpa), true) => {
                let theirs = upstream::object(&dir, "HorizontalPodAutoscaler");
                let ours = serde_json::to_value(hpa).expect("json");
                assert_eq!(ours["metadata"]["name"], theirs["metadata"]["name"]);
                assert_eq!(ours["spec"], theirs["spec"], "{}", dir.display());
                assert_eq!(ours["apiVersion"], theirs["apiVersion"]);
                compared += 1;
            }
            (None, false) => {}
            (ours, theirs) => panic!(
                "{}: an autoscaler here: {}, upstream: {theirs}",
                dir.display(),
                ours.is_some()
            ),
        }
    }
    assert!(compared >= 25, "{compared} autoscalers compared");
    let zero = desired(&upstream::fixtures_dir().join("edge-cases/replicas-zero")).expect("valid");
    assert!(zero.hpa.is_none());
    assert_eq!(
        zero.statefulset.spec.as_ref().and_then(|s| s.replicas),
        Some(0)
    );
}

/// Every label upstream puts on a child, ours puts there too with the same value (ours may add
/// the default labels where upstream leaves them out), so selectors written for upstream's
/// objects keep matching.
#[test]
fn every_label_upstream_sets_on_a_child_is_ours_too() {
    let kinds = [
        "ServiceAccount",
        "ConfigMap",
        "StatefulSet",
        "HorizontalPodAutoscaler",
    ];
    for dir in upstream::app_dirs() {
        let Some(d) = desired(&dir) else { continue };
        let ours: Vec<Value> = d.objects();
        for kind in kinds {
            let present = std::fs::read_dir(&dir)
                .expect("dir")
                .filter_map(Result::ok)
                .any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{kind}-"))
                });
            if !present {
                continue;
            }
            let theirs = upstream::object(&dir, kind);
            let mine = ours
                .iter()
                .find(|o| o["kind"] == kind && o["metadata"]["name"] == theirs["metadata"]["name"])
                .unwrap_or_else(|| {
                    panic!(
                        "{}: no {kind} {}",
                        dir.display(),
                        theirs["metadata"]["name"]
                    )
                });
            for (k, v) in theirs["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
            {
                assert_eq!(
                    &mine["metadata"]["labels"][k],
                    v,
                    "{}: {kind} label {k}",
                    dir.display()
                );
            }
        }
        // Services: ours holds both; the pod template's labels too.
        let sts = upstream::object(&dir, "StatefulSet");
        let mine = serde_json::to_value(&d.statefulset).expect("json");
        for (k, v) in sts["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert_eq!(
                &mine["spec"]["template"]["metadata"]["labels"][k],
                v,
                "{}: pod label {k}",
                dir.display()
            );
        }
    }
}

/// The settings ConfigMap: the same keys and values as upstream's, but where a row of
/// docs/upstream-parity.md says otherwise (5.5 key names of unknown config keys, 5.6 float
/// formatting), listed here.
#[test]
fn the_settings_config_map_holds_upstreams_keys_and_values() {
    for dir in upstream::app_dirs() {
        let Some(d) = desired(&dir) else { continue };
        let theirs = upstream::object(&dir, "ConfigMap");
        let ours = serde_json::to_value(&d.config_map).expect("json");
        assert_eq!(ours["metadata"]["name"], theirs["metadata"]["name"]);
        let (ours, theirs) = (&ours["data"], &theirs["data"]);
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let differences: Vec<String> = theirs
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| &ours[k.as_str()] != *v)
            .map(|(k, v)| format!("{k}: upstream {v}, ours {}", ours[k.as_str()]))
            .collect();
        let extra: Vec<&String> = ours
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| theirs.get(k.as_str()).is_none())
            .collect();
        assert!(
            differences.is_empty() && extra.is_empty(),
            "{name}: {differences:?}, only ours: {extra:?}"
        );
    }
}

/// The packages PVC of every recorded app: the same name, labels upstream sets, access modes,
/// size (the default is upstream's 256Mi) and class, so a takeover never resizes it.
#[test]
fn the_packages_pvc_is_upstreams() {
    let mut compared = 0;
    for dir in upstream::app_dirs() {
        let has_pvc = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("PersistentVolumeClaim-")
            });
        let Some(d) = desired(&dir) else { continue };
        assert_eq!(d.packages_pvc.is_some(), has_pvc, "{}", dir.display());
        let Some(pvc) = &d.packages_pvc else { continue };
        let theirs = upstream::object(&dir, "PersistentVolumeClaim");
        let ours = serde_json::to_value(pvc).expect("json");
        assert_eq!(ours["metadata"]["name"], theirs["metadata"]["name"]);
        assert_eq!(ours["spec"], theirs["spec"], "{}", dir.display());
        for (k, v) in theirs["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert_eq!(
                &ours["metadata"]["labels"][k],
                v,
                "{}: label {k}",
                dir.display()
            );
        }
        assert_eq!(
            ours["metadata"]["ownerReferences"].is_array(),
            theirs["metadata"]["ownerReferences"].is_array(),
            "{}: owned exactly when upstream owns it",
            dir.display()
        );
        compared += 1;
    }
    assert!(compared >= 8, "{compared} PVCs compared");
}

/// Apps whose pod template upstream does not keep from one of its runs to the next: with two
/// config keys its schema does not know, their variables come in Python's `set` order, which
/// changes with every process. Their variables are compared as a set.
const UNORDERED_ENV: &[&str] = &["config-overrides"];

/// `template` as the API server stores it: empty lists and maps dropped, and the defaults it
/// fills in (a field reference's `apiVersion`, a port's `protocol`) filled in.
fn as_stored(template: &Value) -> Value {
    fn walk(value: &mut Value, key: &str) {
        match value {
            Value::Object(map) => {
                if key == "fieldRef" {
                    map.entry("apiVersion").or_insert_with(|| json!("v1"));
                }
                if key == "ports" {
                    map.entry("protocol").or_insert_with(|| json!("TCP"));
                }
                for (k, v) in map.iter_mut() {
                    walk(v, k);
                }
                map.retain(|_, v| !is_empty(v));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, key)),
            _ => {}
        }
    }
    fn is_empty(v: &Value) -> bool {
        v.is_null()
            || v.as_array().is_some_and(Vec::is_empty)
            || v.as_object().is_some_and(|m| m.is_empty())
    }
    let mut template = template.clone();
    walk(&mut template, "");
    template
}

fn sorted_env(template: &mut Value) {
    if let Some(env) = template["spec"]["containers"][0]["env"].as_array_mut() {
        env.sort_by_key(|e| e["name"].as_str().unwrap_or_default().to_owned());
    }
}

#[test]
fn an_app_without_packages_keeps_upstreams_pod_template_so_its_pods_do_not_roll() {
    let mut compared = 0;
    for dir in upstream::app_dirs() {
        if upstream::input_app(&dir)["spec"]["pythonPackages"].is_object() {
            continue;
        }
        let theirs = upstream::object(&dir, "StatefulSet");
        let stored: StatefulSet = serde_json::from_value(theirs.clone()).expect("a StatefulSet");
        let Some(ours) = ours(&dir, Some(&stored)) else {
            continue;
        };
        let (mut ours, mut theirs) = (
            as_stored(&ours["spec"]["template"]),
            as_stored(&theirs["spec"]["template"]),
        );
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if UNORDERED_ENV.contains(&name) {
            sorted_env(&mut ours);
            sorted_env(&mut theirs);
        }
        assert_eq!(ours, theirs, "{}", dir.display());
        compared += 1;
    }
    assert!(compared >= 10, "{compared} apps compared");
}
