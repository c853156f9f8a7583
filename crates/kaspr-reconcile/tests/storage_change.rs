//! A changed `storage` (size, class, a claim where there was none) or a `serviceName` from before
//! upstream 0.8: the claims grow first, then
//! the StatefulSet is deleted leaving its pods running, and the next reconcile creates it anew
//! (as upstream does). Pure builder cases first, then the API calls against the mock server.

mod support;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kaspr_reconcile::build::Existing;
use kaspr_test_support::app::AppBuilder;
use kaspr_types::{KasprApp, Storage, StorageType};
use serde_json::{Value, json};
use support::build::{NONE, build};
use support::{FIRST_CHILDREN, LIVE_SET_PATH, STS_PATH, context, finished, start};

fn app_with_storage(size: &str) -> KasprApp {
    AppBuilder::new("orders")
        .packages(&["requests==2.31.0"])
        .spec(|s| {
            s.storage = Some(Storage {
                kind: StorageType::PersistentClaim,
                class: Some("standard".into()),
                size: Some(size.into()),
                delete_claim: None,
            })
        })
        .build()
}

/// The StatefulSet as the cluster holds it for `app`, with uid `sts-uid`.
fn stored(app: &KasprApp) -> StatefulSet {
    let mut sts = build(app, &NONE).expect("builds").statefulset;
    sts.metadata.uid = Some("sts-uid".into());
    sts
}

fn claim(ordinal: u32, size: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": {"name": format!("orders-app-pv-orders-app-{ordinal}"), "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                 "resources": {"requests": {"storage": size}}}
    }))
    .expect("claim")
}

#[test]
fn a_bigger_size_grows_every_claim_and_replaces_the_statefulset() {
    let old = stored(&app_with_storage("1Gi"));
    let claims = [claim(0, "1Gi"), claim(1, "3Gi")];
    let existing = Existing {
        statefulset: Some(&old),
        table_claims: &claims,
        ..NONE
    };
    let d = build(&app_with_storage("2Gi"), &existing).expect("builds");
    let change = d.replacement.expect("the claim template changed");
    assert_eq!(change.statefulset.name, "orders-app");
    assert_eq!(change.statefulset.uid.as_deref(), Some("sts-uid"));
    let resized: Vec<(Option<String>, Value)> = change
        .resizes
        .iter()
        .map(|c| {
            let v = serde_json::to_value(c).expect("json");
            (
                c.metadata.name.clone(),
                v["spec"]["resources"]["requests"]["storage"].clone(),
            )
        })
        .collect();
    assert_eq!(
        resized,
        [(Some("orders-app-pv-orders-app-0".to_owned()), json!("2Gi"))],
        "only claims smaller than the new size grow; none shrinks"
    );

    let same = build(&app_with_storage("1Gi"), &existing).expect("builds");
    assert!(same.replacement.is_none(), "nothing changed");
    assert!(
        build(&app_with_storage("2Gi"), &NONE)
            .expect("builds")
            .replacement
            .is_none()
    );
}

#[test]
fn a_claim_where_there_was_an_empty_dir_replaces_the_statefulset_without_resizes() {
    let ephemeral = AppBuilder::new("orders")
        .packages(&["requests==2.31.0"])
        .build();
    let old = stored(&ephemeral);
    let existing = Existing {
        statefulset: Some(&old),
        ..NONE
    };
    let change = build(&app_with_storage("1Gi"), &existing)
        .expect("builds")
        .replacement
        .expect("a claim template appears");
    assert!(change.resizes.is_empty());
}

#[test]
fn a_statefulset_from_before_upstream_0_8_is_replaced_for_its_service_name() {
    // Upstream before 0.8 pointed `serviceName` at the app's API Service (`orders`); the field
    // cannot change, so the StatefulSet is replaced as upstream 0.8 migrated it.
    let app = app_with_storage("1Gi");
    let mut old = stored(&app);
    if let Some(spec) = old.spec.as_mut() {
        spec.service_name = Some("orders".into());
    }
    let existing = Existing {
        statefulset: Some(&old),
        ..NONE
    };
    let change = build(&app, &existing)
        .expect("builds")
        .replacement
        .expect("the service name differs");
    assert_eq!(
        change.reason,
        kaspr_reconcile::build::ReplaceReason::ServiceName("orders".into())
    );
    assert_eq!(change.statefulset.uid.as_deref(), Some("sts-uid"));
    assert!(change.resizes.is_empty());

    let current = stored(&app);
    let same = Existing {
        statefulset: Some(&current),
        ..NONE
    };
    assert!(build(&app, &same).expect("builds").replacement.is_none());
}

#[tokio::test]
async fn the_claims_grow_before_the_statefulset_is_deleted_and_its_pods_stay() {
    let old = stored(&app_with_storage("1Gi"));
    let (ctx, mut api, mut cluster) = context();
    cluster.statefulsets(json!([old]));
    cluster.pvcs(json!([claim(0, "1Gi"), claim(1, "1Gi")]));
    let app = app_with_storage("2Gi");
    let task = start(&app, &ctx);
    let mut children = FIRST_CHILDREN.to_vec();
    children.extend([LIVE_SET_PATH, support::HPA_PATH, STS_PATH]);
    api.checks(&children).await;
    api.patches(&FIRST_CHILDREN).await;
    api.patch(LIVE_SET_PATH).await;
    api.patch(support::HPA_PATH).await;
    for ordinal in 0..2 {
        let body = api
            .patch(&format!(
                "/api/v1/namespaces/default/persistentvolumeclaims/orders-app-pv-orders-app-{ordinal}"
            ))
            .await;
        assert_eq!(body["spec"]["resources"]["requests"]["storage"], "2Gi");
    }
    let options = api.delete(STS_PATH).await;
    assert_eq!(
        options["propagationPolicy"], "Orphan",
        "the pods keep running"
    );
    assert_eq!(options["preconditions"]["uid"], "sts-uid");
    let status = api.status(&app).await;
    assert!(status.is_object());
    api.nothing_more().await;
    finished(task).await;
    assert!(
        api.apply_requests().iter().all(|r| r.path != STS_PATH),
        "the new StatefulSet waits for the next reconcile"
    );
}
