//! Reconcile flows against a mock API server that asserts each request (method, path, body), in
//! the kube-rs `ApiServerVerifier` style: one scenario per API interaction sequence. What the
//! watches cache (pods, StatefulSet, PVC) is put into the caches; the Secret is the only read.

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use support::{
    APP_UID, PLAIN, SECRET_PATH, WITH_SECRET, app, condition, context, context_with, desired_hash,
    failed, finished, fixture_with_hash, start, started,
};

#[tokio::test]
async fn first_reconcile_creates_everything() {
    let app = app(PLAIN);
    let (task, mut api) = started(&app);
    let sts = api
        .applies(true)
        .await
        .statefulset
        .expect("statefulset applied");
    assert_eq!(
        sts["spec"]["template"]["spec"]["initContainers"][0]["name"],
        "install-packages"
    );
    assert_eq!(sts["metadata"]["ownerReferences"][0]["uid"], APP_UID);
    let status = api.status(&app).await;
    assert_eq!(status["pythonPackages"]["state"], "Pending");
    assert_eq!(condition(&status, "PythonPackagesReady")["status"], "False");
    api.nothing_more().await;
    assert_eq!(
        finished(task).await,
        Action::requeue(Duration::from_secs(30)),
        "pending installs are checked again soon"
    );
}

/// Reconciles `app(PLAIN)` `times` times, each time over the pods of `fixture` (on the desired
/// hash), handing the status sent (by the first round: the others change nothing) to `check`;
/// returns the metrics as scraped.
async fn reconciled_over(fixture: &str, times: usize, mut check: impl FnMut(&Value)) -> String {
    let (metrics, export) = kaspr_reconcile::metrics::prometheus().expect("exporter");
    let app = app(PLAIN);
    let pods = fixture_with_hash(fixture, &desired_hash(&app));
    let (ctx, mut api, mut cluster) = context_with(metrics);
    for round in 0..times {
        cluster.pods(pods.clone());
        let task = start(&app, &ctx);
        api.applies(true).await;
        if round == 0 {
            let status = api.status(&app).await;
            check(&status);
            // Packages of a new hash installed, or failed: an event says so.
            let expected = match status["pythonPackages"]["state"].as_str() {
                Some("Ready") => Some(("Normal", "Installed")),
                Some("Failed") => Some(("Warning", "InstallFailed")),
                _ => None,
            };
            if let Some(expected) = expected {
                let event = api.event().await;
                assert_eq!(
                    (event["type"].as_str(), event["reason"].as_str()),
                    (Some(expected.0), Some(expected.1)),
                    "{event}"
                );
            }
        }
        // Later rounds see the same cluster: the status is not written again.
        api.nothing_more().await;
        finished(task).await;
    }
    export.render()
}

#[tokio::test]
async fn reports_on_pods_reach_the_status() {
    let hash = desired_hash(&app(PLAIN));
    reconciled_over("installed.json", 1, |status| {
        let pp = &status["pythonPackages"];
        assert_eq!(pp["state"], "Ready");
        assert_eq!(pp["hash"], hash.as_str());
        assert_eq!(pp["installedBy"], "orders-app-0");
        assert_eq!(pp["installDuration"], "45s");
        assert_eq!(
            pp["installed"],
            json!(["pandas==2.1.0", "numpy==1.26.4", "requests==2.31.0"])
        );
        assert_eq!(condition(status, "PythonPackagesReady")["status"], "True");
    })
    .await;
}

#[tokio::test]
async fn invalid_spec_applies_nothing_and_waits_for_a_change() {
    let app = app("    packages: ['-e git+https://evil.example/x']\n");
    let (task, mut api) = started(&app);
    let shown = api.failure_shown(&app, "InvalidSpec").await;
    assert!(
        shown.event["note"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.pythonPackages.packages[0]")
    );
    assert_eq!(finished(task).await, Action::await_change());
}

#[tokio::test]
async fn api_errors_are_returned_for_the_error_policy() {
    let (ctx, mut api, _cluster) = context();
    let app = app(WITH_SECRET);
    let task = start(&app, &ctx);
    let request = (Method::GET, SECRET_PATH);
    let refusal = (
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "etcd is down",
    );
    // What could not be read is said where users look, with the API's message.
    let shown = api.refused(&app, request, refusal, "ReadFailed").await;
    assert_eq!(
        shown.message(),
        "Reading Secret pypi-creds failed: etcd is down"
    );
    let err = failed(task).await;
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
async fn a_restarted_operator_does_not_count_the_reports_again() {
    let mut app = app(PLAIN);
    let pods = fixture_with_hash("installed.json", &desired_hash(&app));
    // The first operator counts them and says so in the status it writes.
    let (metrics, _) = kaspr_reconcile::metrics::prometheus().expect("exporter");
    let (ctx, mut api, mut cluster) = context_with(metrics);
    cluster.pods(pods.clone());
    let task = start(&app, &ctx);
    api.applies(true).await;
    let status = api.status(&app).await;
    assert_eq!(api.event().await["reason"], "Installed");
    finished(task).await;
    let counted = status["pythonPackages"]["countedReports"].clone();
    assert_eq!(counted.as_array().map(Vec::len), Some(3), "{status}");
    // A new process (restart, new leader) sees that status: nothing is counted twice.
    app.status = Some(serde_json::from_value(status).expect("status"));
    let (metrics, export) = kaspr_reconcile::metrics::prometheus().expect("exporter");
    let (ctx, mut api, mut cluster) = context_with(metrics);
    cluster.pods(pods);
    let task = start(&app, &ctx);
    api.applies(true).await;
    api.nothing_more().await;
    finished(task).await;
    let text = export.render();
    assert!(!text.contains("kasprop_package_install_total{"), "{text}");
}

#[tokio::test]
async fn install_reports_are_counted_once_however_often_we_reconcile() {
    let text = reconciled_over("installed.json", 3, |_| {}).await;
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
    let text = reconciled_over("oom-killed.json", 2, |status| {
        let pp = &status["pythonPackages"];
        assert_eq!(pp["state"], "Failed");
        assert_eq!(pp["errorType"], "out_of_memory");
        let error = pp["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with(kaspr_types::InstallErrorType::OutOfMemory.message()),
            "{error}"
        );
    })
    .await;
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

/// The controller's copy of an app can be a status write behind. A reconcile over an unchanged
/// cluster writes no status again, and the transition times it wrote stay, whatever the stale
/// copy says (found with 1,000 apps: the times flipped and every write started a new round).
#[tokio::test]
async fn an_unchanged_status_is_not_written_again_even_from_a_stale_copy() {
    let (ctx, mut api, mut cluster) = context();
    let app = app(PLAIN);
    let pods = fixture_with_hash("installed.json", &desired_hash(&app));
    cluster.pods(pods);
    let task = start(&app, &ctx);
    api.applies(true).await;
    let first = api.status(&app).await;
    assert_eq!(api.event().await["reason"], "Installed");
    finished(task).await;
    // The same stale copy (no status) again, a second later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let task = start(&app, &ctx);
    api.applies(true).await;
    api.nothing_more().await;
    finished(task).await;
    assert!(first["conditions"].is_array());
}
