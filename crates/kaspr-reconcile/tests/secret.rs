//! The credentials Secret through reconcile, against the mock API server: read by name, a
//! missing Secret or key holds the rollout (everything but the StatefulSet is applied) and says
//! why; the requeue that re-reads it resumes the rollout.

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use kaspr_reconcile::controller::reconcile;
use kube::runtime::controller::Action;
use serde_json::json;
use support::{Verifier, WITH_SECRET, app, condition, context};

#[tokio::test]
async fn missing_secret_holds_the_rollout() {
    let (ctx, handle, _cluster) = context();
    let app = app(WITH_SECRET);
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    api.not_found("/api/v1/namespaces/default/secrets/pypi-creds")
        .await;
    assert!(api.applies(false).await.statefulset.is_none());
    let event = api.event().await;
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "SecretNotFound");
    assert!(
        event["note"]
            .as_str()
            .unwrap_or_default()
            .contains("pypi-creds")
    );
    let status = api.status(&app).await;
    let c = condition(&status, "PythonPackagesReady");
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("False"), Some("SecretNotFound"))
    );
    api.nothing_more().await;
    assert_eq!(
        task.await.expect("joins").expect("reconcile ok"),
        Action::requeue(Duration::from_secs(15)),
        "a blocked app is checked again soon"
    );
}

#[tokio::test]
async fn secret_without_the_key_holds_the_rollout_and_names_the_key() {
    let (ctx, handle, _cluster) = context();
    let app = app(WITH_SECRET);
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pypi-creds"}, "data": {"username": "dXNlcg=="}});
    api.expect(
        Method::GET,
        "/api/v1/namespaces/default/secrets/pypi-creds",
        StatusCode::OK,
        secret,
    )
    .await;
    assert!(api.applies(false).await.statefulset.is_none());
    let event = api.event().await;
    assert_eq!(event["reason"], "SecretKeyNotFound");
    let status = api.status(&app).await;
    let message = condition(&status, "PythonPackagesReady")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("\"password\""), "{message}");
    assert!(
        !serde_json::to_string(&status)
            .expect("json")
            .contains("dXNlcg"),
        "secret data leaked into status"
    );
    assert_eq!(
        task.await.expect("joins").expect("reconcile ok"),
        Action::requeue(Duration::from_secs(15)),
        "a blocked app is checked again soon"
    );
}

#[tokio::test]
async fn secret_present_rolls_out() {
    let (ctx, handle, _cluster) = context();
    let app = app(WITH_SECRET);
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pypi-creds"}, "data": {"username": "dXNlcg==", "password": "cHc="}});
    api.expect(
        Method::GET,
        "/api/v1/namespaces/default/secrets/pypi-creds",
        StatusCode::OK,
        secret,
    )
    .await;
    let sts = api
        .applies(true)
        .await
        .statefulset
        .expect("statefulset applied");
    let env = sts["spec"]["template"]["spec"]["initContainers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let password = env
        .iter()
        .find(|e| e["name"] == "PYPI_PASSWORD")
        .expect("password env");
    assert_eq!(
        password["valueFrom"]["secretKeyRef"],
        json!({"name": "pypi-creds", "key": "password"})
    );
    assert!(
        !sts.to_string().contains("cHc="),
        "secret data in the StatefulSet"
    );
    api.status(&app).await;
    api.nothing_more().await;
    task.await.expect("joins").expect("reconcile ok");
}

#[tokio::test]
async fn a_blocked_app_is_requeued_soon_and_rolls_out_once_the_secret_exists() {
    let (ctx, handle, _cluster) = context();
    let app = app(WITH_SECRET);
    let mut api = Verifier::new(handle);
    // First pass: no Secret, so no StatefulSet apply (the next request after the live set is
    // the event, not a StatefulSet PATCH), and a short requeue.
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx.clone()));
    api.not_found("/api/v1/namespaces/default/secrets/pypi-creds")
        .await;
    assert!(api.applies(false).await.statefulset.is_none());
    api.event().await;
    api.status(&app).await;
    api.nothing_more().await;
    assert_eq!(
        task.await.expect("joins").expect("reconcile ok"),
        Action::requeue(Duration::from_secs(15)),
        "the requeue is what re-checks the Secret (it is read by name, not listed)"
    );
    assert!(
        !api.seen
            .iter()
            .any(|s| s.path.contains("statefulsets") && s.method == Method::PATCH),
        "the rollout is held"
    );
    // The Secret is created; the requeued pass reads it and rolls out.
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pypi-creds"}, "data": {"username": "dQ==", "password": "cA=="}});
    api.expect(
        Method::GET,
        "/api/v1/namespaces/default/secrets/pypi-creds",
        StatusCode::OK,
        secret,
    )
    .await;
    assert!(
        api.applies(true).await.statefulset.is_some(),
        "the StatefulSet is applied once the Secret exists"
    );
    let status = api.status(&app).await;
    assert_eq!(
        condition(&status, "PythonPackagesReady")["reason"],
        "Pending"
    );
    api.nothing_more().await;
    assert_eq!(
        task.await.expect("joins").expect("reconcile ok"),
        Action::requeue(Duration::from_secs(30)),
        "unblocked: back to the install-pending requeue"
    );
}
