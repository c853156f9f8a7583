//! `kaspr-operator run` against a real API server (crdserver from `cargo xtask test`, or a
//! cluster through KASPR_TEST_KUBECONFIG): it becomes ready, reconciles, says in the app's
//! status and in an event what the API server refused, and serves metrics.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kaspr_apiserver_tests::{FIELD_MANAGER, KUBECONFIG_ENV, client_with_crd, operator_binary};
use kaspr_test_support::net::{free_port, http_get};
use kaspr_test_support::process::GroupChild;
use kaspr_types::KasprApp;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Ready condition of the app, as the API server holds it: (status, reason, message).
async fn ready_condition(api: &Api<KasprApp>, name: &str) -> Option<(String, String, String)> {
    let app = api.get(name).await.ok()?;
    let conditions = app.status?.conditions;
    let ready = conditions.into_iter().find(|c| c.type_ == "Ready")?;
    Some((ready.status, ready.reason, ready.message))
}

/// crdserver serves no apps or core API: reading the StatefulSet fails. A working operator says
/// so in the app's status, with the API server's answer, and in a Warning event.
async fn crdserver_failure_is_visible(client: &kube::Client, apps: &Api<KasprApp>) {
    // The first attempt may report only that the watch has not listed yet (it waits 10 s for
    // it); a retry carries the watch's own error. Either way it names what it could not read.
    wait_for(
        "Ready=False, reason ReadFailed, naming the StatefulSet and the API's 404",
        || async {
            ready_condition(apps, "smoke")
                .await
                .is_some_and(|(status, reason, message)| {
                    status == "False"
                        && reason == "ReadFailed"
                        && message.contains("StatefulSet smoke-app")
                        && message.contains("404")
                })
        },
    )
    .await;
    let events: Api<DynamicObject> = kaspr_apiserver_tests::events_api(client, "default");
    wait_for("a Warning event ReadFailed", || async {
        events
            .list(&ListParams::default())
            .await
            .map(|list| {
                list.items.iter().any(|e| {
                    e.data.get("type").and_then(|t| t.as_str()) == Some("Warning")
                        && e.data.get("reason").and_then(|r| r.as_str()) == Some("ReadFailed")
                })
            })
            .unwrap_or(false)
    })
    .await;
}

#[tokio::test]
async fn operator_run_says_in_status_and_events_what_failed_and_serves_metrics() {
    let client = client_with_crd().await;
    let kubeconfig = std::env::var(KUBECONFIG_ENV).expect("set by client_with_crd's contract");
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let app = serde_json::json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": "smoke", "namespace": "default"},
        "spec": {"bootstrapServers": "kafka:9092", "pythonPackages": {"packages": ["requests"]}}
    });
    let apps = Api::<KasprApp>::namespaced(client.clone(), "default");
    // A fresh app: a status left by an earlier run on the same server must not pass for this
    // operator's.
    if apps.get_opt("smoke").await.ok().flatten().is_some() {
        let _ = apps.delete("smoke", &Default::default()).await;
        wait_for("the old smoke app to go", || async {
            apps.get_opt("smoke").await.ok().flatten().is_none()
        })
        .await;
    }
    apps.patch("smoke", &apply, &Patch::Apply(&app))
        .await
        .expect("app applied");

    let port = free_port();
    // Killed (with anything it started) when the test ends, passed or failed.
    let _operator = GroupChild::spawn(
        Command::new(operator_binary())
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            // One operator here; leader election has its own test (leader_election.rs).
            .args(["--leader-election", "false"])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("starts");
    wait_for("/healthz", || async {
        http_get(port, "/healthz").is_some_and(|(c, _)| c == 200)
    })
    .await;
    if client.list_api_group_resources("apps/v1").await.is_ok() {
        wait_for("/readyz", || async {
            http_get(port, "/readyz").is_some_and(|(c, _)| c == 200)
        })
        .await;
        // A real cluster: the operator creates the StatefulSet.
        let sts: Api<k8s_openapi::api::apps::v1::StatefulSet> =
            Api::namespaced(client.clone(), "default");
        wait_for("the StatefulSet smoke-app", || async {
            sts.get_opt("smoke-app").await.ok().flatten().is_some()
        })
        .await;
    } else {
        crdserver_failure_is_visible(&client, &apps).await;
        // Not ready while a watch the reconciles need fails, and /readyz says which.
        wait_for("/readyz naming the failing StatefulSet watch", || async {
            http_get(port, "/readyz").is_some_and(|(code, body)| {
                code == 503 && body.contains("the watch of StatefulSet fails")
            })
        })
        .await;
    }
    let (_, metrics) = http_get(port, "/metrics").expect("metrics");
    assert!(
        metrics.contains("kasprop_reconcile_total{app_name=\"smoke\",namespace=\"default\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE kasprop_reconcile_duration_seconds histogram"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "kasprop_package_custom_index_enabled{app_name=\"smoke\",namespace=\"default\"} 0"
        ),
        "{metrics}"
    );
}
