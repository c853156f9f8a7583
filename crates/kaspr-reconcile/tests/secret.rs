//! The credentials Secret through reconcile, against the mock API server: read by name, a
//! missing Secret or key holds the rollout (everything but the StatefulSet is applied) and says
//! why; the requeue that re-reads it resumes the rollout.

mod support;

use std::time::Duration;

use http::Method;
use kube::runtime::controller::Action;
use serde_json::json;
use support::{Task, WITH_SECRET, app, condition, context, find, finished, start, started};

/// How soon an app held by its Secret is reconciled again.
const HELD_REQUEUE: Action = Action::requeue(Duration::from_secs(15));

/// Asserts that the reconcile ended and asked to run again soon, as for a held app.
async fn assert_requeued_soon(task: Task) {
    assert_eq!(
        finished(task).await,
        HELD_REQUEUE,
        "a blocked app is checked again soon"
    );
}

#[tokio::test]
async fn missing_secret_holds_the_rollout() {
    let app = app(WITH_SECRET);
    let (task, mut api) = started(&app);
    api.secret_missing().await;
    let held = api.held(&app).await;
    assert_eq!(held.event["type"], "Warning");
    assert_eq!(held.event["reason"], "SecretNotFound");
    assert!(
        held.event["note"]
            .as_str()
            .unwrap_or_default()
            .contains("pypi-creds")
    );
    let c = condition(&held.status, "PythonPackagesReady");
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("False"), Some("SecretNotFound"))
    );
    assert_requeued_soon(task).await;
}

#[tokio::test]
async fn secret_without_the_key_holds_the_rollout_and_names_the_key() {
    let app = app(WITH_SECRET);
    let (task, mut api) = started(&app);
    api.secret(json!({"username": "dXNlcg=="})).await;
    let held = api.held(&app).await;
    assert_eq!(held.event["reason"], "SecretKeyNotFound");
    let message = condition(&held.status, "PythonPackagesReady")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("\"password\""), "{message}");
    assert!(
        !serde_json::to_string(&held.status)
            .expect("json")
            .contains("dXNlcg"),
        "secret data leaked into status"
    );
    assert_requeued_soon(task).await;
}

#[tokio::test]
async fn secret_present_rolls_out() {
    let app = app(WITH_SECRET);
    let (task, mut api) = started(&app);
    api.secret(json!({"username": "dXNlcg==", "password": "cHc="}))
        .await;
    let sts = api
        .applies(true)
        .await
        .statefulset
        .expect("statefulset applied");
    let init = &sts["spec"]["template"]["spec"]["initContainers"][0];
    let password = find(&init["env"], "name", "PYPI_PASSWORD");
    assert!(!password.is_null(), "password env");
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
    finished(task).await;
}

#[tokio::test]
async fn a_blocked_app_is_requeued_soon_and_rolls_out_once_the_secret_exists() {
    let (ctx, mut api, _cluster) = context();
    let app = app(WITH_SECRET);
    // First pass: no Secret, so no StatefulSet apply (the next request after the live set is
    // the event, not a StatefulSet PATCH), and a short requeue.
    let task = start(&app, &ctx);
    api.secret_missing().await;
    api.held(&app).await;
    assert_eq!(
        finished(task).await,
        HELD_REQUEUE,
        "the requeue is what re-checks the Secret (it is read by name, not listed)"
    );
    assert!(
        !api.seen
            .iter()
            .any(|s| s.path.contains("statefulsets") && s.method == Method::PATCH),
        "the rollout is held"
    );
    // The Secret is created; the requeued pass reads it and rolls out.
    let task = start(&app, &ctx);
    api.secret(json!({"username": "dQ==", "password": "cA=="}))
        .await;
    assert!(
        api.applies(true).await.statefulset.is_some(),
        "the StatefulSet is applied once the Secret exists"
    );
    let status = api.status(&app).await;
    assert_eq!(
        condition(&status, "PythonPackagesReady")["reason"],
        "Installing"
    );
    api.nothing_more().await;
    assert_eq!(
        finished(task).await,
        Action::requeue(Duration::from_secs(30)),
        "unblocked: back to the install-pending requeue"
    );
}

#[tokio::test]
async fn a_missing_kafka_password_secret_holds_the_rollout_and_names_its_field() {
    let app = kaspr_test_support::app::AppBuilder::new("orders")
        .python_packages(support::PLAIN)
        .spec(|s| {
            s.authentication = Some(kaspr_types::KafkaAuthentication {
                kind: kaspr_types::KafkaAuthenticationType::ScramSha512,
                username: Some("orders".into()),
                password_secret: Some(kaspr_types::PasswordSecret {
                    secret_name: "kafka-orders".into(),
                    password_key: "password".into(),
                }),
            });
        })
        .build();
    let (task, mut api) = started(&app);
    api.not_found("/api/v1/namespaces/default/secrets/kafka-orders")
        .await;
    let held = api.held(&app).await;
    assert_eq!(held.event["reason"], "SecretNotFound");
    let ready = condition(&held.status, "Ready");
    assert_eq!(ready["reason"], "SecretNotFound");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("kafka-orders") && message.contains("spec.authentication.passwordSecret"),
        "{message}"
    );
    assert_ne!(
        condition(&held.status, "PythonPackagesReady")["reason"],
        "SecretNotFound",
        "the packages are not what is blocked"
    );
    assert_requeued_soon(task).await;
}
