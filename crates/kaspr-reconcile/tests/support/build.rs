//! Helpers of the pure builders' tests: apps from YAML, the parts of the built objects they look
//! at, and `build` behind the same validation `render` does (offline).

use k8s_openapi::api::apps::v1::StatefulSetSpec;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, Pod, PodSpec, VolumeMount,
};
use kaspr_reconcile::build::{Desired, Existing};
use kaspr_reconcile::names::HASH_ANNOTATION;
use kaspr_types::KasprApp;

/// Validates `app` offline (no Secret read, as `render`) and builds its children.
pub fn build(app: &KasprApp, existing: &Existing<'_>) -> Result<Desired, kaspr_reconcile::Error> {
    let validated =
        kaspr_reconcile::validate(app, None).unwrap_or_else(|e| panic!("invalid app: {e}"));
    kaspr_reconcile::build::build(&validated, existing)
}

/// Nothing exists yet: no packages PVC, no live set, no pods.
pub const NONE: Existing<'static> = Existing {
    packages_pvc: None,
    live_set: None,
    pods: &[],
};

pub fn with_pvc(pvc: &PersistentVolumeClaim) -> Existing<'_> {
    Existing {
        packages_pvc: Some(pvc),
        live_set: None,
        pods: &[],
    }
}

pub fn app(yaml: &str) -> KasprApp {
    let mut app: KasprApp = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    app.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    app.metadata
        .uid
        .get_or_insert_with(|| "0b6f2a58-6d1c-4bb1-a1d5-3f1f2b6f0c11".into());
    app
}

pub fn with_packages(pp: &str) -> KasprApp {
    app(&format!(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: orders}}\nspec:\n  bootstrapServers: k:9092\n  replicas: 2\n  pythonPackages:\n{pp}"
    ))
}

pub fn pod_spec(d: &Desired) -> &PodSpec {
    d.statefulset
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec")
}

pub fn main_container(d: &Desired) -> &Container {
    &pod_spec(d).containers[0]
}

pub fn env_value<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

pub fn env_var<'a>(c: &'a Container, name: &str) -> Option<&'a EnvVar> {
    c.env.iter().flatten().find(|e| e.name == name)
}

pub fn mounts<'a>(c: &'a Container, volume: &str) -> Vec<&'a VolumeMount> {
    c.volume_mounts
        .iter()
        .flatten()
        .filter(|m| m.name == volume)
        .collect()
}

pub fn storage(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .map(|r| r["storage"].0.as_str())
        .unwrap_or_default()
}

pub fn statefulset_spec(d: &Desired) -> &StatefulSetSpec {
    d.statefulset.spec.as_ref().expect("statefulset spec")
}

pub fn pods(fixture: &str) -> Vec<Pod> {
    let path = format!(
        "{}/tests/fixtures/pods/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("pod JSON")
}

/// A pod of the app carrying `annotation` as its packages hash.
pub fn pod_with_hash(name: &str, annotation: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "annotations": {HASH_ANNOTATION: annotation}}
    }))
    .expect("pod")
}
