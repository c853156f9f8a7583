//! Apps the upstream (Python) operator handled, against the real API server: its kopf finalizer
//! does not hold a deleted app forever, and its pause annotation holds ours.

use std::sync::Arc;

use kaspr_apiserver_tests::{FIELD_MANAGER, client_with_crd};
use kaspr_reconcile::controller::{Context, reconcile};
use kaspr_reconcile::observe::Stores;
use kaspr_reconcile::{Settings, metrics};
use kaspr_types::{KasprApp, condition};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const KOPF_FINALIZER: &str = "kopf.zalando.org/KopfFinalizerMarker";

fn context(client: &Client) -> Arc<Context> {
    let (metrics, _export) = metrics::prometheus().expect("metrics");
    let (stores, _writers) = Stores::new();
    Arc::new(Context::new(
        client.clone(),
        metrics,
        stores,
        Settings::default(),
    ))
}

/// Creates `name` with `metadata` merged in (finalizers, annotations) as upstream left it.
async fn created(api: &Api<KasprApp>, name: &str, metadata: Value) -> KasprApp {
    let mut object = json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"bootstrapServers": "kafka:9092"}
    });
    if let (Some(m), Some(extra)) = (object["metadata"].as_object_mut(), metadata.as_object()) {
        m.extend(extra.clone());
    }
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("creating {name}: {e}"))
}

#[tokio::test]
async fn a_deleted_app_with_upstreams_finalizer_goes_and_other_finalizers_stay() {
    let client = client_with_crd().await;
    let api: Api<KasprApp> = Api::namespaced(client.clone(), "default");
    let ctx = context(&client);
    let name = "upstream-finalized";
    created(
        &api,
        name,
        json!({"finalizers": [KOPF_FINALIZER, "example.com/keep"],
               "annotations": {"kopf.zalando.org/last-handled-configuration": "{}"}}),
    )
    .await;
    api.delete(name, &DeleteParams::default())
        .await
        .expect("delete accepted");
    let deleting = api.get(name).await.expect("held by its finalizers");
    assert!(deleting.metadata.deletion_timestamp.is_some());

    let action = reconcile(Arc::new(deleting), ctx.clone())
        .await
        .expect("reconcile of a deleted app");
    assert_eq!(action, Action::await_change());
    let after = api
        .get(name)
        .await
        .expect("still held by the other finalizer");
    assert_eq!(after.finalizers(), ["example.com/keep"], "only kopf's went");

    // The other controller lets go: the app is gone.
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("finalizer removed");
    assert!(api.get_opt(name).await.expect("read").is_none());
}

#[tokio::test]
async fn a_stale_read_does_not_remove_a_finalizer_added_since() {
    let client = client_with_crd().await;
    let api: Api<KasprApp> = Api::namespaced(client.clone(), "default");
    let name = "upstream-finalized-race";
    created(&api, name, json!({"finalizers": [KOPF_FINALIZER]})).await;
    api.delete(name, &DeleteParams::default())
        .await
        .expect("delete accepted");
    let stale = api.get(name).await.expect("held");
    // The object changes after our read (the API refuses new finalizers on a deleting object,
    // so another writer's change stands in for the race).
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"x": "y"}}})),
    )
    .await
    .expect("changed");
    let err = kaspr_reconcile::controller::release_upstream_finalizer(&client, &stale)
        .await
        .expect_err("a stale resourceVersion is refused");
    assert_eq!(err.metric_label(), "patch_finalizers");
    let fresh = api.get(name).await.expect("held");
    kaspr_reconcile::controller::release_upstream_finalizer(&client, &fresh)
        .await
        .expect("released on the fresh read");
    assert!(api.get_opt(name).await.expect("read").is_none());
}

#[tokio::test]
async fn a_paused_app_is_left_alone_and_says_so() {
    let client = client_with_crd().await;
    let api: Api<KasprApp> = Api::namespaced(client.clone(), "default");
    let ctx = context(&client);
    let name = "upstream-paused";
    let app = created(
        &api,
        name,
        json!({"annotations": {"kaspr.io/pause-reconciliation": "True"}}),
    )
    .await;
    // No cache is filled here: a reconcile that observed anything would fail.
    let action = reconcile(Arc::new(app), ctx.clone())
        .await
        .expect("a paused reconcile reads nothing");
    assert_eq!(action, Action::await_change());
    let status = api.get(name).await.expect("read").status.expect("status");
    let paused = status
        .conditions
        .iter()
        .find(|c| c.type_ == condition::RECONCILIATION_PAUSED)
        .expect("ReconciliationPaused condition");
    assert_eq!(paused.status, "True");
    assert!(paused.message.contains("kaspr.io/pause-reconciliation"));
    api.delete(name, &DeleteParams::default())
        .await
        .expect("cleanup");
}
