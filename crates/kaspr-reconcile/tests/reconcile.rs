//! Reconcile flows against a mock API server that asserts each request (method, path, body), in
//! the kube-rs `ApiServerVerifier` style: one scenario per API interaction sequence. What the
//! watches cache (pods, StatefulSet, PVC) is put into the caches; the Secret is the only read.

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use kaspr_reconcile::controller::reconcile;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use support::{
    PLAIN, Verifier, WITH_SECRET, app, condition, context, context_with, desired_hash,
    fixture_with_hash,
};

#[tokio::test]
async fn first_reconcile_creates_everything() {
    let (ctx, handle, _cluster) = context();
    let app = app(PLAIN);
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    let sts = api
        .applies(true)
        .await
        .statefulset
        .expect("statefulset applied");
    assert_eq!(
        sts["spec"]["template"]["spec"]["initContainers"][0]["name"],
        "install-packages"
    );
    assert_eq!(
        sts["metadata"]["ownerReferences"][0]["uid"],
        "6b0d8a36-4f0e-4d35-a0f4-42c1b1b9e0a1"
    );
    let status = api.status(&app).await;
    assert_eq!(status["pythonPackages"]["state"], "Pending");
    assert_eq!(condition(&status, "PythonPackagesReady")["status"], "False");
    api.nothing_more().await;
    let action = task.await.expect("joins").expect("reconcile ok");
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(30)),
        "pending installs are checked again soon"
    );
}

#[tokio::test]
async fn reports_on_pods_reach_the_status() {
    let (ctx, handle, mut cluster) = context();
    let app = app(PLAIN);
    let hash = kaspr_hash::packages_hash(app.spec.python_packages.as_ref().expect("pp"))
        .expect("hash")
        .to_string();
    let fixture = std::fs::read_to_string(format!(
        "{}/tests/fixtures/pods/installed.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let pods = fixture.replace("a38d296f011adb6e", &hash);
    cluster.pods(serde_json::from_str(&pods).expect("pods"));
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    api.applies(true).await;
    let status = api.status(&app).await;
    let pp = &status["pythonPackages"];
    assert_eq!(pp["state"], "Ready");
    assert_eq!(pp["hash"], hash.as_str());
    assert_eq!(pp["installedBy"], "orders-app-0");
    assert_eq!(pp["installDuration"], "45s");
    assert_eq!(
        pp["installed"],
        json!(["pandas==2.1.0", "numpy==1.26.4", "requests==2.31.0"])
    );
    assert_eq!(condition(&status, "PythonPackagesReady")["status"], "True");
    task.await.expect("joins").expect("reconcile ok");
}

#[tokio::test]
async fn invalid_spec_applies_nothing_and_waits_for_a_change() {
    let (ctx, handle, _cluster) = context();
    let app = app("    packages: ['-e git+https://evil.example/x']\n");
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx));
    let mut api = Verifier::new(handle);
    let event = api.event().await;
    assert_eq!(event["reason"], "InvalidSpec");
    assert!(
        event["note"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.pythonPackages.packages[0]")
    );
    let status = api.status(&app).await;
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("InvalidSpec"))
    );
    api.nothing_more().await;
    assert_eq!(
        task.await.expect("joins").expect("reconcile ok"),
        Action::await_change()
    );
}

#[tokio::test]
async fn api_errors_are_returned_for_the_error_policy() {
    let (ctx, handle, _cluster) = context();
    let app = app(WITH_SECRET);
    let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx.clone()));
    let mut api = Verifier::new(handle);
    let boom = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "InternalError", "code": 500, "message": "etcd is down"});
    api.expect(
        Method::GET,
        "/api/v1/namespaces/default/secrets/pypi-creds",
        StatusCode::INTERNAL_SERVER_ERROR,
        boom,
    )
    .await;
    // What could not be read is said where users look, with the API's message.
    let event = api.event().await;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Warning"), Some("ReadFailed"))
    );
    let status = api.status(&app).await;
    let ready = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("ReadFailed"))
    );
    assert_eq!(
        ready["message"],
        "Reading Secret pypi-creds failed: etcd is down"
    );
    api.nothing_more().await;
    let err = task.await.expect("joins").expect_err("fails");
    assert!(err.to_string().contains("etcd is down"), "{err}");
    let a = Arc::new(self::app(PLAIN));
    let first = kaspr_reconcile::controller::error_policy(a.clone(), &err, ctx.clone());
    let second = kaspr_reconcile::controller::error_policy(a, &err, ctx);
    assert_eq!(first, Action::requeue(Duration::from_secs(5)));
    assert_eq!(
        second,
        Action::requeue(Duration::from_secs(10)),
        "backoff doubles"
    );
}

#[tokio::test]
async fn install_reports_are_counted_once_however_often_we_reconcile() {
    let (metrics, export) = kaspr_reconcile::metrics::prometheus().expect("exporter");
    let app = app(PLAIN);
    let hash = kaspr_hash::packages_hash(app.spec.python_packages.as_ref().expect("pp"))
        .expect("hash")
        .to_string();
    let fixture = std::fs::read_to_string(format!(
        "{}/tests/fixtures/pods/installed.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let pods: Value =
        serde_json::from_str(&fixture.replace("a38d296f011adb6e", &hash)).expect("pods");
    let (ctx, handle, mut cluster) = context_with(metrics);
    let mut api = Verifier::new(handle);
    for _ in 0..3 {
        cluster.pods(pods.clone());
        let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx.clone()));
        api.applies(true).await;
        api.status(&app).await;
        task.await.expect("joins").expect("reconcile ok");
    }
    let text = export.render();
    let installed = text
        .lines()
        .find(|l| {
            l.starts_with("kasprop_package_install_total") && l.contains("result=\"installed\"")
        })
        .unwrap_or_default();
    let cached = text
        .lines()
        .find(|l| l.starts_with("kasprop_package_install_total") && l.contains("result=\"cached\""))
        .unwrap_or_default();
    assert!(
        installed.ends_with(" 1"),
        "installed counted once: {installed:?}\n{text}"
    );
    assert!(cached.ends_with(" 2"), "two cached reports: {cached:?}");
    assert!(
        installed.contains("app_name=\"orders\"") && installed.contains("namespace=\"default\""),
        "{installed}"
    );
    assert!(
        text.contains("kasprop_reconcile_total{app_name=\"orders\",namespace=\"default\"} 3"),
        "{text}"
    );
    assert!(text.contains("kasprop_package_cache_usage_bytes{app_name=\"orders\",namespace=\"default\",type=\"used\"} 1073741824"), "{text}");
    assert!(
        text.contains("kasprop_package_auth_enabled{app_name=\"orders\",namespace=\"default\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn an_oom_killed_install_fails_as_out_of_memory_and_is_counted_once() {
    let (metrics, export) = kaspr_reconcile::metrics::prometheus().expect("exporter");
    let app = app(PLAIN);
    let pods = fixture_with_hash("oom-killed.json", &desired_hash(&app));
    let (ctx, handle, mut cluster) = context_with(metrics);
    let mut api = Verifier::new(handle);
    for _ in 0..2 {
        cluster.pods(pods.clone());
        let task = tokio::spawn(reconcile(Arc::new(app.clone()), ctx.clone()));
        api.applies(true).await;
        let status = api.status(&app).await;
        let pp = &status["pythonPackages"];
        assert_eq!(pp["state"], "Failed");
        assert_eq!(pp["errorType"], "out_of_memory");
        let error = pp["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with(kaspr_types::InstallErrorType::OutOfMemory.message()),
            "{error}"
        );
        task.await.expect("joins").expect("reconcile ok");
    }
    let text = export.render();
    let errors = text
        .lines()
        .find(|l| l.starts_with("kasprop_package_install_errors_total"))
        .unwrap_or_default();
    assert_eq!(
        errors,
        "kasprop_package_install_errors_total{app_name=\"orders\",error_type=\"out_of_memory\",namespace=\"default\"} 1",
        "{text}"
    );
}
