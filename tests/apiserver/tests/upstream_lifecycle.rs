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

/// Fields only the Python operator wrote (without server-side apply, so owned by the manager
/// named after its client, `OpenAPI-Generator`) survive a plain server-side apply; after the
/// takeover this operator applies with, they are gone and what the system owns stays.
#[tokio::test]
async fn fields_only_upstream_wrote_are_removed_after_the_takeover() {
    use kube::api::{DynamicObject, PostParams};
    use kube::core::ApiResource;
    let ours = client_with_crd().await;
    let upstream =
        kaspr_apiserver_tests::client_with_user_agent("OpenAPI-Generator/33.3.0/python").await;
    let name = "taken-over";
    let theirs: Api<KasprApp> = Api::namespaced(upstream, "default");
    let _ = theirs.delete(name, &DeleteParams::default()).await;
    let written: KasprApp = serde_json::from_value(json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": name, "namespace": "default",
                     "annotations": {"kaspr.io/resource-hash": "07b964e9f90eb69e", "team": "orders"}},
        "spec": {"bootstrapServers": "kafka:9092", "replicas": 3}
    }))
    .expect("app");
    theirs
        .create(&PostParams::default(), &written)
        .await
        .expect("created as upstream");

    let resource = ApiResource::erase::<KasprApp>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(ours.clone(), "default", &resource);
    let desired = json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": name, "annotations": {"team": "orders"}},
        "spec": {"bootstrapServers": "kafka:9092", "replicas": 3}
    });
    // A plain server-side apply leaves upstream's annotation: the hazard is real.
    let plain = api
        .patch(
            name,
            &PatchParams::apply("kaspr-operator").force(),
            &Patch::Apply(&desired),
        )
        .await
        .expect("applied");
    assert!(plain.annotations().contains_key("kaspr.io/resource-hash"));

    let taken = kaspr_reconcile::takeover::apply(&api, name, &desired)
        .await
        .expect("taken over");
    assert!(
        !taken.annotations().contains_key("kaspr.io/resource-hash"),
        "{:?}",
        taken.annotations()
    );
    assert_eq!(
        taken.annotations().get("team").map(String::as_str),
        Some("orders")
    );
    let managers: Vec<String> = taken
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|e| e.manager.clone())
        .collect();
    assert!(
        !managers.iter().any(|m| m == "OpenAPI-Generator"),
        "{managers:?}"
    );
    // Applying again changes nothing and takes nothing over.
    let again = kaspr_reconcile::takeover::apply(&api, name, &desired)
        .await
        .expect("again");
    assert_eq!(
        again.metadata.resource_version,
        taken.metadata.resource_version
    );
    Api::<KasprApp>::namespaced(ours, "default")
        .delete(name, &DeleteParams::default())
        .await
        .expect("cleanup");
}
