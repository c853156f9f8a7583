//! The operator's own status write, against the real API server: the status computed from
//! recorded pods, patched exactly as the controller patches it, is accepted and reads back.

use k8s_openapi::api::core::v1::Pod;
use kaspr_apiserver_tests::{FIELD_MANAGER, client_with_crd};
use kaspr_reconcile::controller::patch_status;
use kaspr_reconcile::status::{Blocked, Observed, compute};
use kaspr_types::{KasprApp, PackagesState};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../crates/kaspr-reconcile/tests/fixtures/pods"
);

async fn created(api: &Api<KasprApp>, name: &str) -> KasprApp {
    let object = json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"bootstrapServers": "kafka:9092", "replicas": 3,
                 "pythonPackages": {"packages": ["pandas==2.1.0"], "cache": {"enabled": true}}}
    });
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .expect("created")
}

fn pods(fixture: &str) -> Vec<Pod> {
    serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/{fixture}")).expect("fixture"),
    )
    .expect("pods")
}

#[tokio::test]
async fn operator_status_patches_are_accepted() {
    let client = client_with_crd().await;
    let api: Api<KasprApp> = Api::namespaced(client.clone(), "default");
    for (name, fixture, blocked, state) in [
        ("op-ready", "installed.json", None, PackagesState::Ready),
        ("op-failed", "failed-auth.json", None, PackagesState::Failed),
        (
            "op-installing",
            "installing.json",
            None,
            PackagesState::Installing,
        ),
        ("op-full", "cache-85.json", None, PackagesState::Ready),
        (
            "op-blocked",
            "installing.json",
            Some(Blocked::SecretMissing {
                secret: "pypi".into(),
                field: "spec.pythonPackages.credentials.secretRef",
            }),
            PackagesState::Pending,
        ),
    ] {
        let app = created(&api, name).await;
        let pods = pods(fixture);
        // linkedResources as the operator tracks them: the server must take them too.
        let linked: kaspr_types::LinkedResources = serde_json::from_value(serde_json::json!({
            "agents": [{"name": "counter", "hash": "0123456789abcdef", "topicName": "events"}],
            "webviews": [], "tasks": [],
            "tables": [{"name": "counts", "hash": "fedcba9876543210", "tableName": "counts"}]
        }))
        .expect("linked");
        let observed = Observed {
            hpa: None,
            members: &[],
            linked: Some(&linked),
            app: &app,
            hash: Some("a38d296f011adb6e"),
            statefulset: None,
            pods: &pods,
            blocked,
        };
        let status = compute(&observed, kaspr_reconcile::status::now());
        patch_status(&client, &app, &status)
            .await
            .unwrap_or_else(|e| panic!("{name}: the server refused the status: {e}"));
        let read = api.get_status(name).await.expect("read back");
        let got = read.status.expect("status");
        assert_eq!(
            got.python_packages.as_ref().and_then(|p| p.state),
            Some(state),
            "{name}"
        );
        assert_eq!(got, status, "{name}: the status round-trips unchanged");
    }
}
