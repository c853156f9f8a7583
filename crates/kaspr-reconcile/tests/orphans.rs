//! Children the spec no longer asks for: the packages PVC once the shared cache is turned off
//! (or pythonPackages removed), the live-set ConfigMap once pythonPackages is removed. Built as
//! orphans by the pure builder, deleted after the rollout against the mock API server — and
//! never one that is not this app's, nor a claim `deleteClaim: false` keeps.

mod support;

use http::{Method, StatusCode};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_reconcile::error::Error;
use kaspr_test_support::app::AppBuilder;
use kaspr_types::KasprApp;
use serde_json::{Value, json};
use support::build::{NONE, build, with_packages};
use support::{
    APP_UID, LIVE_SET_PATH, PLAIN, PVC_PATH, Task, Verifier, WITH_SECRET, app, context, failed,
    finished, start,
};

const PVC_UID: &str = "5d7e0c1a-4a47-4a5e-9a52-0c0b5f6f9d01";
const LIVE_SET_UID: &str = "0f3c9a63-1f1e-4f2e-8f5d-3b8f4d2b7c02";
/// The uid of another app.
const OTHER_UID: &str = "6b0d8a36-4f0e-4d35-a0f4-42c1b1b9e0a1";

fn owner(uid: &str) -> Value {
    json!([{"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "name": "orders", "uid": uid,
            "controller": true, "blockOwnerDeletion": true}])
}

/// The packages PVC as the cache holds it, owned by the app of `owner_uid` (or by no one).
fn packages_pvc(owner_uid: Option<&str>) -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "orders-app-python-packages", "namespace": "default", "uid": PVC_UID,
                     "ownerReferences": owner_uid.map(owner).unwrap_or(json!([]))},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}
    })
}

/// The live-set ConfigMap's metadata as the cache holds it, owned by the app.
fn live_set() -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
        "metadata": {"name": "orders-app-python-packages", "namespace": "default",
                     "uid": LIVE_SET_UID, "ownerReferences": owner(APP_UID)}
    })
}

/// The app once pythonPackages is removed from its spec.
fn without_packages() -> KasprApp {
    AppBuilder::new("orders").generation(2).build()
}

/// A reconcile of `app` started on a fresh context whose cache holds `pvc` (the packages PVC).
fn reconcile_with(app: &KasprApp, pvc: Value) -> (Task, Verifier) {
    let (ctx, api, mut cluster) = context();
    cluster.pvcs(json!([pvc]));
    (start(app, &ctx), api)
}

fn pvc_owned_by(uid: Option<&str>) -> PersistentVolumeClaim {
    serde_json::from_value(packages_pvc(uid)).expect("pvc")
}

fn orphan_names(
    app: &KasprApp,
    pvc: Option<&PersistentVolumeClaim>,
    live: Option<&ObjectMeta>,
) -> Vec<String> {
    let existing = kaspr_reconcile::build::Existing {
        packages_pvc: pvc,
        live_set: live,
        ..NONE
    };
    let desired = build(app, &existing).expect("builds");
    desired
        .orphans
        .iter()
        .map(|o| format!("{} {} {}", o.kind, o.name, o.uid.as_deref().unwrap_or("-")))
        .collect()
}

#[test]
fn build_names_our_packages_pvc_an_orphan_once_the_cache_is_off() {
    let ours = pvc_owned_by(Some(APP_UID));
    let off = with_packages("    packages: [requests]\n    cache: {enabled: false}\n");
    assert_eq!(
        orphan_names(&off, Some(&ours), None),
        [format!(
            "PersistentVolumeClaim orders-app-python-packages {PVC_UID}"
        )]
    );
    let on = with_packages("    packages: [requests]\n    cache: {enabled: true}\n");
    assert!(
        orphan_names(&on, Some(&ours), None).is_empty(),
        "still wanted"
    );
    // Already being deleted (its pods still mount it): not asked again.
    let mut going = ours.clone();
    going.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-11-26T10:31:00Z".parse().expect("time"),
    ));
    assert!(orphan_names(&off, Some(&going), None).is_empty());
}

#[test]
fn build_never_names_a_pvc_not_ours_or_one_delete_claim_false_keeps() {
    let off = with_packages("    packages: [requests]\n");
    for pvc in [pvc_owned_by(None), pvc_owned_by(Some(OTHER_UID))] {
        assert!(
            orphan_names(&off, Some(&pvc), None).is_empty(),
            "{:?}",
            pvc.metadata.owner_references
        );
    }
    let kept = with_packages(
        "    packages: [requests]\n    cache: {enabled: false, deleteClaim: false}\n",
    );
    assert!(orphan_names(&kept, Some(&pvc_owned_by(Some(APP_UID))), None).is_empty());
}

#[test]
fn build_names_the_live_set_an_orphan_only_once_python_packages_is_gone() {
    let mut live: ObjectMeta =
        serde_json::from_value(live_set()["metadata"].clone()).expect("meta");
    live.owner_references = serde_json::from_value(owner(APP_UID)).expect("owners");
    let with = with_packages("    packages: [requests]\n");
    assert!(orphan_names(&with, None, Some(&live)).is_empty());
    let mut gone = with.clone();
    gone.spec.python_packages = None;
    assert_eq!(
        orphan_names(&gone, Some(&pvc_owned_by(Some(APP_UID))), Some(&live)),
        [
            format!("PersistentVolumeClaim orders-app-python-packages {PVC_UID}"),
            format!("ConfigMap orders-app-python-packages {LIVE_SET_UID}"),
        ]
    );
    let mut theirs = live.clone();
    theirs.owner_references = None;
    assert!(orphan_names(&gone, None, Some(&theirs)).is_empty());
}

#[tokio::test]
async fn turning_the_cache_off_deletes_our_packages_pvc_after_the_rollout() {
    let app = app(PLAIN);
    let (task, mut api) = reconcile_with(&app, packages_pvc(Some(APP_UID)));
    let applied = api.applies(true).await;
    assert!(applied.pvc.is_none() && applied.statefulset.is_some());
    let options = api.delete(PVC_PATH).await;
    assert_eq!(
        options["preconditions"]["uid"], PVC_UID,
        "only the claim that was seen: {options}"
    );
    let status = api.status(&app).await;
    assert_eq!(status["pythonPackages"]["cacheMode"], "per-pod");
    api.nothing_more().await;
    finished(task).await;
}

#[tokio::test]
async fn removing_python_packages_deletes_the_pvc_and_the_live_set() {
    // Its status still has pythonPackages: the live set may be an orphan, so it is read by name
    // (ConfigMaps are not watched).
    let mut app = without_packages();
    app.status = Some(
        serde_json::from_value(json!({"pythonPackages": {"state": "Ready"}})).expect("status"),
    );
    let (task, mut api) = reconcile_with(&app, packages_pvc(Some(APP_UID)));
    api.expect(Method::GET, LIVE_SET_PATH, StatusCode::OK, live_set())
        .await;
    api.applies_without_packages().await;
    let pvc = api.delete(PVC_PATH).await;
    let live = api.delete(LIVE_SET_PATH).await;
    assert_eq!(pvc["preconditions"]["uid"], PVC_UID);
    assert_eq!(live["preconditions"]["uid"], LIVE_SET_UID);
    let status = api.status(&app).await;
    assert!(status["pythonPackages"].is_null(), "{status}");
    api.nothing_more().await;
    finished(task).await;
    assert_eq!(api.deletes(), [PVC_PATH, LIVE_SET_PATH]);
}

#[tokio::test]
async fn a_pvc_without_our_owner_reference_is_never_deleted() {
    for (name, pvc) in [
        ("no owner", packages_pvc(None)),
        ("another app's", packages_pvc(Some(OTHER_UID))),
    ] {
        for app in [app(PLAIN), without_packages()] {
            let (task, mut api) = reconcile_with(&app, pvc.clone());
            if app.spec.python_packages.is_some() {
                api.applies(true).await;
            } else {
                api.applies_without_packages().await;
            }
            // Straight to the status: no DELETE.
            api.status(&app).await;
            api.nothing_more().await;
            finished(task).await;
            assert!(api.deletes().is_empty(), "{name}: {:?}", api.seen);
        }
    }
}

#[tokio::test]
async fn a_held_rollout_deletes_nothing() {
    // The cache is off but the new spec's Secret is missing: the StatefulSet keeps mounting the
    // claim, so it stays.
    let app = app(WITH_SECRET);
    let (task, mut api) = reconcile_with(&app, packages_pvc(Some(APP_UID)));
    api.secret_missing().await;
    api.held(&app).await;
    finished(task).await;
    assert!(api.deletes().is_empty());
}

#[tokio::test]
async fn a_refused_delete_sets_delete_failed_and_returns_the_error() {
    let app = app(PLAIN);
    let (task, mut api) = reconcile_with(&app, packages_pvc(Some(APP_UID)));
    api.applies(true).await;
    let forbidden =
        "persistentvolumeclaims \"orders-app-python-packages\" is forbidden: User cannot delete";
    let refusal = (StatusCode::FORBIDDEN, "Forbidden", forbidden);
    let request = (Method::DELETE, PVC_PATH);
    let shown = api.refused(&app, request, refusal, "DeleteFailed").await;
    let message = shown.message();
    assert!(
        message.contains("PersistentVolumeClaim orders-app-python-packages")
            && message.contains("User cannot delete"),
        "{message}"
    );
    let err = failed(task).await;
    assert!(
        matches!(&err, Error::Delete { kind, .. } if *kind == "PersistentVolumeClaim"),
        "{err:?}"
    );
    assert_eq!(err.metric_label(), "delete");
}

#[test]
fn the_autoscaler_goes_at_zero_replicas_and_only_when_it_is_this_apps() {
    let hpa = |uid: &str| -> k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler {
        serde_json::from_value(json!({
            "metadata": {"name": "orders-app-hpa", "namespace": "default", "uid": "hpa-uid",
                         "ownerReferences": owner(uid)},
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "orders-app"}, "maxReplicas": 3}
        }))
        .expect("hpa")
    };
    let names = |replicas: i32,
                 hpa: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler| {
        let app = AppBuilder::new("orders").replicas(replicas).build();
        let existing = kaspr_reconcile::build::Existing {
            hpa: Some(hpa),
            ..NONE
        };
        let desired = build(&app, &existing).expect("builds");
        assert_eq!(desired.hpa.is_some(), replicas > 0);
        desired
            .orphans
            .iter()
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(0, &hpa(APP_UID)),
        ["HorizontalPodAutoscaler orders-app-hpa"]
    );
    assert!(names(3, &hpa(APP_UID)).is_empty());
    assert!(
        names(0, &hpa(OTHER_UID)).is_empty(),
        "another app's autoscaler is never deleted"
    );
}
