//! `kaspr-operator run --namespaces a` against a real API server: apps in the watched namespace
//! are reconciled (their status is written), apps elsewhere are not touched.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kaspr_apiserver_tests::{FIELD_MANAGER, KUBECONFIG_ENV, client_with_crd, operator_binary};
use kaspr_test_support::net::free_port;
use kaspr_test_support::process::GroupChild;
use kaspr_types::KasprApp;
use kube::api::{Api, Patch, PatchParams};

async fn app_in(client: &kube::Client, ns: &str, name: &str) -> Api<KasprApp> {
    let apps: Api<KasprApp> = Api::namespaced(client.clone(), ns);
    let app = serde_json::json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"bootstrapServers": "kafka:9092"}
    });
    apps.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&app),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {ns}/{name}: {e}"));
    apps
}

#[tokio::test]
async fn only_the_watched_namespaces_are_reconciled() {
    let client = client_with_crd().await;
    let id = std::process::id();
    let (watched, other) = (format!("scope-a-{id}"), format!("scope-b-{id}"));
    let in_watched = app_in(&client, &watched, "app").await;
    let in_other = app_in(&client, &other, "app").await;
    let kubeconfig = std::env::var(KUBECONFIG_ENV).expect("set by client_with_crd's contract");
    let _operator = GroupChild::spawn(
        Command::new(operator_binary())
            .args(["run", "--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--leader-election", "false", "--namespaces", &watched])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("starts");
    // On crdserver every reconcile fails to read the StatefulSet and says so in the status.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let app = in_watched.get("app").await.expect("app");
        if app.status.is_some_and(|s| !s.conditions.is_empty()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watched namespace's app got no status"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Given as long again, the other namespace's app is never touched.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let untouched = in_other.get("app").await.expect("app");
    assert!(untouched.status.is_none(), "{:?}", untouched.status);
    assert!(
        untouched
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .all(|m| m.manager.as_deref() != Some("kaspr-operator")),
        "the operator wrote to an app outside its namespaces"
    );
}
