//! Server-side apply through reconcile, against the mock API server: how every apply is sent,
//! the shared-cache PVC beside an existing StatefulSet, and what a refused apply shows.

mod support;

use std::sync::Arc;

use http::{Method, StatusCode};
use kaspr_reconcile::controller::reconcile;
use kaspr_reconcile::error::Error;
use serde_json::{Value, json};
use support::{PLAIN, Verifier, app, condition, context, context_with};

const STS_PATH: &str = "/apis/apps/v1/namespaces/default/statefulsets/orders-app";
const SHARED_CACHE: &str =
    "    packages: [requests==2.31.0]\n    cache: {enabled: true, size: 1Gi}\n";

/// A StatefulSet the operator applied earlier, with one ready replica.
fn existing_statefulset() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "orders-app", "namespace": "default", "generation": 3,
            "ownerReferences": [{"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "name": "orders",
                "uid": "6b0d8a36-4f0e-4d35-a0f4-42c1b1b9e0a1", "controller": true}]},
        "spec": {"replicas": 1, "serviceName": "orders-app",
            "selector": {"matchLabels": {"kaspr.io/cluster": "orders"}},
            "template": {"metadata": {"labels": {"kaspr.io/cluster": "orders"}},
                "spec": {"containers": [{"name": "kaspr", "image": "kasprio/kaspr:0.11.5"}]}}},
        "status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "observedGeneration": 3,
            "currentRevision": "r1", "updateRevision": "r1"}
    })
}

/// The packages PVC, expanded by hand to 5Gi (the spec asks for 1Gi).
fn expanded_pvc() -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "orders-app-python-packages", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "5Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}}
    })
}

#[tokio::test]
async fn shared_cache_applies_keep_the_expanded_pvc_and_use_forced_apply_patches() {
    let (ctx, handle, mut cluster) = context();
    let app = app(SHARED_CACHE);
    cluster.statefulsets(json!([existing_statefulset()]));
    cluster.pvcs(json!([expanded_pvc()]));
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    let applied = api.applies_of(true, true).await;
    let status = api.status(&app).await;
    api.nothing_more().await;
    task.await.expect("joins").expect("reconcile ok");

    let pvc = applied.pvc.expect("the packages PVC is applied");
    assert_eq!(
        pvc["spec"]["resources"]["requests"]["storage"], "5Gi",
        "the observed larger size is kept, never shrunk to cache.size"
    );
    assert_eq!(pvc["kind"], "PersistentVolumeClaim");
    let sts = applied.statefulset.expect("statefulset applied");
    let claim = sts["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "python-packages")
        .map(|v| v["persistentVolumeClaim"]["claimName"].clone());
    assert_eq!(claim, Some(json!("orders-app-python-packages")));
    // The cached StatefulSet was read: its ready replica is in the status.
    assert_eq!(status["availableMembers"], "1/1");
    assert_eq!(status["pythonPackages"]["cacheMode"], "shared-pvc");

    let applies = api.apply_requests();
    assert_eq!(applies.len(), 8, "7 children and the status: {applies:#?}");
    for seen in applies {
        let query: Vec<&str> = seen.query.split('&').collect();
        assert!(
            query.contains(&"fieldManager=kaspr-operator") && query.contains(&"force=true"),
            "{}: {}",
            seen.path,
            seen.query
        );
        assert_eq!(
            seen.content_type, "application/apply-patch+yaml",
            "{}",
            seen.path
        );
    }
}

/// The API server's answer to an invalid object.
fn invalid(message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": "Invalid", "code": 422})
}

const VOLUMES_422: &str = "StatefulSet.apps \"orders-app\" is invalid: spec.template.spec.volumes[2].name: Required value";

#[tokio::test]
async fn a_refused_statefulset_apply_sets_apply_failed_emits_a_warning_and_returns_the_error() {
    let (metrics, export) = kaspr_reconcile::metrics::prometheus().expect("exporter");
    let (ctx, handle, _cluster) = context_with(metrics);
    let app = app(PLAIN);
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    for path in [
        "/api/v1/namespaces/default/serviceaccounts/orders-app",
        "/api/v1/namespaces/default/configmaps/orders-app-config",
        "/api/v1/namespaces/default/services/orders-app",
        "/api/v1/namespaces/default/services/orders-app-api",
        "/api/v1/namespaces/default/configmaps/orders-app-python-packages",
    ] {
        api.expect(Method::PATCH, path, StatusCode::OK, Value::Null)
            .await;
    }
    api.expect(
        Method::PATCH,
        STS_PATH,
        StatusCode::UNPROCESSABLE_ENTITY,
        invalid(VOLUMES_422),
    )
    .await;

    let event = api.event().await;
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "ApplyFailed");
    let note = event["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("StatefulSet orders-app") && note.contains(VOLUMES_422),
        "{note}"
    );
    let status = api.status(&app).await;
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("ApplyFailed"))
    );
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("StatefulSet orders-app") && message.contains(VOLUMES_422),
        "{message}"
    );
    api.nothing_more().await;

    let err = task
        .await
        .expect("joins")
        .expect_err("the error reaches the error policy");
    assert!(
        matches!(&err, Error::Apply { kind: "StatefulSet", name, .. } if name == "orders-app"),
        "{err:?}"
    );
    assert_eq!(err.metric_label(), "apply");
    assert!(
        export.render().contains(
            "kasprop_reconcile_errors_total{app_name=\"orders\",error=\"apply\",namespace=\"default\"} 1"
        ),
        "{}",
        export.render()
    );
}

#[tokio::test]
async fn a_kind_the_api_does_not_serve_is_named_in_the_status() {
    let (ctx, handle, _cluster) = context();
    let app = app(PLAIN);
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    let not_served = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404});
    api.expect(
        Method::PATCH,
        "/api/v1/namespaces/default/serviceaccounts/orders-app",
        StatusCode::NOT_FOUND,
        not_served,
    )
    .await;
    // Nothing after the refused child is applied: the event and the status come next.
    let event = api.event().await;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Warning"), Some("ApplyFailed"))
    );
    let status = api.status(&app).await;
    let ready = condition(&status, "Ready");
    assert_eq!(ready["reason"], "ApplyFailed");
    assert_eq!(
        ready["message"],
        "Applying ServiceAccount orders-app failed: the server could not find the requested resource"
    );
    // A refused apply is not a packages problem: that condition still reads the pods.
    assert_eq!(
        condition(&status, "PythonPackagesReady")["reason"],
        "Pending"
    );
    api.nothing_more().await;
    let err = task.await.expect("joins").expect_err("fails");
    assert!(
        matches!(
            &err,
            Error::Apply {
                kind: "ServiceAccount",
                ..
            }
        ),
        "{err:?}"
    );
}
