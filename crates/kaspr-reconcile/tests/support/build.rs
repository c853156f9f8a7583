//! Helpers of the pure builders' tests: apps, the parts of the built objects they look
//! at, and `build` behind the same validation `render` does (offline).

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::StatefulSetSpec;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, Pod, PodSpec, Volume, VolumeMount,
};
use kaspr_reconcile::build::{Desired, Existing};
use kaspr_reconcile::names::HASH_ANNOTATION;
use kaspr_test_support::app::{AppBuilder, NAMESPACE, UID, from_yaml};
use kaspr_test_support::examples;
use kaspr_types::KasprApp;

/// Validates `app` offline (no Secret read, as `render`) and builds its children.
pub fn build(app: &KasprApp, existing: &Existing<'_>) -> Result<Desired, kaspr_reconcile::Error> {
    let validated = kaspr_reconcile::validate(app, None, &kaspr_reconcile::Settings::default())
        .unwrap_or_else(|e| panic!("invalid app: {e}"));
    kaspr_reconcile::build::build(&validated, existing)
}

/// Nothing exists yet: no packages PVC, no live set, no pods.
pub const NONE: Existing<'static> = Existing {
    statefulset: None,
    hpa: None,
    table_claims: &[],
    packages_pvc: None,
    live_set: None,
    pods: &[],
    components: &[],
};

pub fn with_pvc(pvc: &PersistentVolumeClaim) -> Existing<'_> {
    Existing {
        statefulset: None,
        hpa: None,
        table_claims: &[],
        packages_pvc: Some(pvc),
        live_set: None,
        pods: &[],
        components: &[],
    }
}

/// The app `name` (see [`AppBuilder`]) with the spec written as `yaml`.
pub fn app_with_spec(name: &str, yaml: &str) -> KasprApp {
    AppBuilder::new(name)
        .spec(|spec| *spec = from_yaml(yaml))
        .build()
}

/// The app `orders` with 2 replicas and the `pythonPackages` block `pp`.
pub fn with_packages(pp: &str) -> KasprApp {
    AppBuilder::new("orders")
        .replicas(2)
        .python_packages(pp)
        .build()
}

/// Every `KasprApp` under `examples/` as the API server hands it over: in a namespace (the
/// manifest's, else [`NAMESPACE`]) and with a uid ([`UID`]), so its children have owners.
pub fn example_apps() -> Vec<(PathBuf, KasprApp)> {
    examples::example_apps()
        .into_iter()
        .map(|(path, mut app)| {
            app.metadata
                .namespace
                .get_or_insert_with(|| NAMESPACE.into());
            app.metadata.uid.get_or_insert_with(|| UID.into());
            (path, app)
        })
        .collect()
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
    env_var(c, name).and_then(|e| e.value.as_deref())
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

/// The pod volume `name`.
pub fn volume<'a>(pod: &'a PodSpec, name: &str) -> &'a Volume {
    pod.volumes
        .iter()
        .flatten()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
}

pub fn statefulset_spec(d: &Desired) -> &StatefulSetSpec {
    d.statefulset.spec.as_ref().expect("statefulset spec")
}

/// A pod of the app carrying `annotation` as its packages hash.
pub fn pod_with_hash(name: &str, annotation: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "annotations": {HASH_ANNOTATION: annotation}}
    }))
    .expect("pod")
}
