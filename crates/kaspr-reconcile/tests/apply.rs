//! Server-side apply through reconcile, against the mock API server: how every apply is sent,
//! the shared-cache PVC beside an existing StatefulSet, and what a refused apply shows.

mod support;

use http::{Method, StatusCode};
use kaspr_reconcile::error::Error;
use serde_json::{Value, json};
use support::{
    APP_UID, FIRST_CHILDREN, LIVE_SET_PATH, PLAIN, SERVICE_ACCOUNT_PATH, STS_PATH, app, condition,
    context, context_with, failed, finished, start, started, volume,
};

const SHARED_CACHE: &str =
    "    packages: [requests==2.31.0]\n    cache: {enabled: true, size: 1Gi}\n";

/// A StatefulSet the operator applied earlier, with one ready replica.
fn existing_statefulset() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "orders-app", "namespace": "default", "generation": 3,
            "ownerReferences": [{"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "name": "orders",
                "uid": APP_UID, "controller": true}]},
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
    let (ctx, mut api, mut cluster) = context();
    let app = app(SHARED_CACHE);
    cluster.statefulsets(json!([existing_statefulset()]));
    cluster.pvcs(json!([expanded_pvc()]));
    let task = start(&app, &ctx);
    let applied = api.applies_of(true, true).await;
    let status = api.status(&app).await;
    api.nothing_more().await;
    finished(task).await;

    let pvc = applied.pvc.expect("the packages PVC is applied");
    assert_eq!(
        pvc["spec"]["resources"]["requests"]["storage"], "5Gi",
        "the observed larger size is kept, never shrunk to cache.size"
    );
    assert_eq!(pvc["kind"], "PersistentVolumeClaim");
    let sts = applied.statefulset.expect("statefulset applied");
    assert_eq!(
        volume(&sts, "python-packages")["persistentVolumeClaim"]["claimName"],
        "orders-app-python-packages"
    );
    // The cached StatefulSet was read: its ready replica is in the status.
    assert_eq!(status["availableMembers"], "1/1");
    assert_eq!(status["pythonPackages"]["cacheMode"], "shared-pvc");

    let applies = api.apply_requests();
    assert_eq!(applies.len(), 9, "8 children and the status: {applies:#?}");
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

/// Every child of `app(PLAIN)`, in apply order.
fn all_children() -> Vec<&'static str> {
    let mut paths = FIRST_CHILDREN.to_vec();
    paths.extend([LIVE_SET_PATH, support::HPA_PATH, STS_PATH]);
    paths
}

const VOLUMES_422: &str = "StatefulSet.apps \"orders-app\" is invalid: spec.template.spec.volumes[2].name: Required value";

#[tokio::test]
async fn a_refused_statefulset_apply_sets_apply_failed_emits_a_warning_and_returns_the_error() {
    let (metrics, export) = kaspr_reconcile::metrics::prometheus().expect("exporter");
    let (ctx, mut api, _cluster) = context_with(metrics);
    let app = app(PLAIN);
    let task = start(&app, &ctx);
    api.checks(&all_children()).await;
    api.patches(&FIRST_CHILDREN).await;
    api.patch(LIVE_SET_PATH).await;
    api.patch(support::HPA_PATH).await;
    let refusal = (StatusCode::UNPROCESSABLE_ENTITY, "Invalid", VOLUMES_422);
    let request = (Method::PATCH, STS_PATH);
    let shown = api.refused(&app, request, refusal, "ApplyFailed").await;

    let note = shown.event["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("StatefulSet orders-app") && note.contains(VOLUMES_422),
        "{note}"
    );
    let message = shown.message();
    assert!(
        message.contains("StatefulSet orders-app") && message.contains(VOLUMES_422),
        "{message}"
    );

    // The error reaches the error policy.
    let err = failed(task).await;
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
    let app = app(PLAIN);
    let (task, mut api) = started(&app);
    let not_served = "the server could not find the requested resource";
    api.checks(&all_children()).await;
    let request = (Method::PATCH, SERVICE_ACCOUNT_PATH);
    let refusal = (StatusCode::NOT_FOUND, "NotFound", not_served);
    // Nothing after the refused child is applied: the event and the status come next.
    let shown = api.refused(&app, request, refusal, "ApplyFailed").await;
    assert_eq!(
        shown.message(),
        "Applying ServiceAccount orders-app failed: the server could not find the requested resource"
    );
    // A refused apply is not a packages problem: that condition still reads the pods.
    assert_eq!(
        condition(&shown.status, "PythonPackagesReady")["reason"],
        "Installing"
    );
    let err = failed(task).await;
    assert!(
        matches!(&err, Error::Apply { kind, .. } if *kind == "ServiceAccount"),
        "{err:?}"
    );
}

/// The ServiceAccount's metadata as the API server answers a metadata read.
fn service_account_meta(metadata: Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": metadata})
}

#[tokio::test]
async fn an_object_of_a_childs_name_that_is_someone_elses_is_refused_and_nothing_is_written() {
    let app = app(PLAIN);
    let (task, mut api) = started(&app);
    let theirs = service_account_meta(json!({"name": "orders-app", "namespace": "default",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                             "uid": "other", "controller": true}]}));
    api.expect(Method::GET, SERVICE_ACCOUNT_PATH, StatusCode::OK, theirs)
        .await;
    let shown = api.failure_shown(&app, "NameConflict").await;
    assert!(
        shown.message().contains("ServiceAccount orders-app")
            && shown.message().contains("owned by Deployment web"),
        "{}",
        shown.message()
    );
    assert!(
        shown.event["note"]
            .as_str()
            .unwrap_or_default()
            .contains("ServiceAccount orders-app"),
        "the event names the object"
    );
    assert!(
        api.apply_requests()
            .iter()
            .all(|r| r.path.ends_with("/status")),
        "nothing but the status was written"
    );
    let err = failed(task).await;
    assert_eq!(err.metric_label(), "name_conflict");
}

#[tokio::test]
async fn an_object_the_python_operator_made_for_this_app_is_adopted() {
    let app = app(PLAIN);
    let (task, mut api) = started(&app);
    // Upstream's labels, no owner reference (e.g. recreated by hand from its manifest).
    let upstreams = service_account_meta(json!({"name": "orders-app", "namespace": "default",
        "labels": {"kaspr.io/app": "orders", "app.kubernetes.io/managed-by": "kaspr-operator"}}));
    api.expect(Method::GET, SERVICE_ACCOUNT_PATH, StatusCode::OK, upstreams)
        .await;
    let mut rest = all_children();
    rest.remove(0);
    api.checks(&rest).await;
    api.patches(&FIRST_CHILDREN).await;
    api.patch(LIVE_SET_PATH).await;
    api.patch(support::HPA_PATH).await;
    api.patch(STS_PATH).await;
    api.status(&app).await;
    api.nothing_more().await;
    finished(task).await;
}

/// A new shared cache whose default StorageClass is not known to offer ReadWriteMany: the
/// classes are listed once, after the applies, and a Warning event says so (upstream's check).
#[tokio::test]
async fn a_new_shared_cache_on_a_class_without_rwx_is_a_warning_event() {
    let (ctx, mut api, mut cluster) = context();
    let app = app(SHARED_CACHE);
    cluster.statefulsets(json!([existing_statefulset()]));
    let task = start(&app, &ctx);
    api.applies_of(true, true).await;
    let classes = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClassList",
        "metadata": {}, "items": [
            {"metadata": {"name": "gp3", "annotations":
                {"storageclass.kubernetes.io/is-default-class": "true"}},
             "provisioner": "ebs.csi.aws.com"}]});
    api.expect(
        http::Method::GET,
        "/apis/storage.k8s.io/v1/storageclasses",
        http::StatusCode::OK,
        classes,
    )
    .await;
    let event = api.event().await;
    assert_eq!(event["reason"], "CacheStorageClass");
    assert_eq!(event["type"], "Warning");
    let note = event["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with(
            "the StorageClass \"gp3\" (provisioner \"ebs.csi.aws.com\") may not offer ReadWriteMany"
        ),
        "{note}"
    );
    api.status(&app).await;
    api.nothing_more().await;
    finished(task).await;
}
