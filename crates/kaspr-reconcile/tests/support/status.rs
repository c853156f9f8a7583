//! Helpers of the status tests: an app, a StatefulSet, a fixed clock.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kaspr_reconcile::status::{Blocked, Observed, compute};
use kaspr_test_support::app::AppBuilder;
use kaspr_types::{KasprApp, KasprAppStatus, PythonPackagesStatus};

use super::pods;

pub use super::fixtures::FIXTURE_HASH as HASH;

/// The app `orders` (generation 3, 3 replicas) with the shared cache and the pythonPackages
/// lines `extra` (indented by four).
pub fn app(extra: &str) -> KasprApp {
    AppBuilder::new("orders")
        .generation(3)
        .replicas(3)
        .python_packages(&format!(
            "    packages: [pandas==2.1.0]\n    cache: {{enabled: true}}\n{extra}"
        ))
        .build()
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
            hpa: None,
            members: &[],
            linked: None,
            app,
            hash: Some(HASH),
            statefulset: sts,
            pods,
            blocked,
        },
        now(),
    )
}

/// The status of `app("")` from the pods of `fixture`, with a StatefulSet of `ready` ready
/// replicas (none when `None`).
pub fn status_from(fixture: &str, ready: Option<i32>) -> KasprAppStatus {
    let sts = ready.map(statefulset);
    status_of(&app(""), &pods(fixture), sts.as_ref(), None)
}

/// The pythonPackages part of a status.
pub fn packages(s: &KasprAppStatus) -> &PythonPackagesStatus {
    s.python_packages.as_ref().expect("packages status")
}

/// Asserts that one of the warnings of `p` passes `test`.
#[track_caller]
pub fn assert_warning(p: &PythonPackagesStatus, test: impl Fn(&str) -> bool) {
    assert!(p.warnings.iter().any(|w| test(w)), "{:?}", p.warnings);
}

pub fn cond<'a>(s: &'a KasprAppStatus, t: &str) -> &'a Condition {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("no {t} condition"))
}
