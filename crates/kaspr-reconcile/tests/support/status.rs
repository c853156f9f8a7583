//! Helpers of the status tests: an app, recorded pods, a StatefulSet, a fixed clock.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kaspr_reconcile::status::{Blocked, Observed, compute};
use kaspr_types::{KasprApp, KasprAppStatus};

pub const HASH: &str = "a38d296f011adb6e";

pub fn app(extra: &str) -> KasprApp {
    serde_yaml::from_str(&format!(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: orders, namespace: default, generation: 3}}\nspec:\n  bootstrapServers: k:9092\n  replicas: 3\n  pythonPackages:\n    packages: [pandas==2.1.0]\n    cache: {{enabled: true}}\n{extra}"
    ))
    .expect("app")
}

pub fn pods(fixture: &str) -> Vec<Pod> {
    let path = format!(
        "{}/tests/fixtures/pods/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("pod JSON")
}

pub fn statefulset(ready: i32) -> StatefulSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "orders-app", "generation": 2},
        "spec": {"replicas": 3, "serviceName": "orders-app", "selector": {}, "template": {}},
        "status": {"replicas": 3, "readyReplicas": ready, "updatedReplicas": 3, "observedGeneration": 2,
                   "currentRevision": "r1", "updateRevision": "r1"}
    }))
    .expect("sts")
}

pub fn now() -> Time {
    Time("2026-11-26T10:31:00Z".parse().expect("time"))
}

pub fn status_of(
    app: &KasprApp,
    pods: &[Pod],
    sts: Option<&StatefulSet>,
    blocked: Option<Blocked>,
) -> KasprAppStatus {
    compute(
        &Observed {
            app,
            hash: Some(HASH),
            statefulset: sts,
            pods,
            blocked,
        },
        now(),
    )
}

pub fn cond<'a>(s: &'a KasprAppStatus, t: &str) -> &'a Condition {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("no {t} condition"))
}
