//! Shared fixtures for the tests that need a real API server.
//!
//! The server comes from `KASPR_TEST_KUBECONFIG`: `cargo xtask test` starts
//! `../shared/tools/crdserver` and sets it; against a real cluster (kind, k3d) point it at that
//! cluster's kubeconfig. Without it every test here fails, saying so: it never passes silently.

pub mod standin;

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The environment variable naming the kubeconfig of the API server under test.
pub const KUBECONFIG_ENV: &str = "KASPR_TEST_KUBECONFIG";

/// The field manager these tests write with.
pub const FIELD_MANAGER: &str = "kaspr-apiserver-tests";

/// A client for the API server under test, with the KasprApp CRD installed and Established.
pub async fn client_with_crd() -> Client {
    let client = client().await;
    install_crd(&client).await;
    client
}

async fn client() -> Client {
    client_as(None).await
}

/// A client for the API server under test that sends `user_agent` (the API server names the
/// field manager of a non-apply write after it: `OpenAPI-Generator/33.3.0/python` writes as
/// `OpenAPI-Generator`, as the Python operator's client did).
pub async fn client_with_user_agent(user_agent: &'static str) -> Client {
    client_as(Some(user_agent)).await
}

async fn client_as(user_agent: Option<&'static str>) -> Client {
    let path = std::env::var(KUBECONFIG_ENV).unwrap_or_else(|_| {
        panic!(
            "{KUBECONFIG_ENV} is not set. These tests need a real API server: run `cargo xtask test` \
             (it starts ../shared/tools/crdserver), or start one yourself with \
             `../shared/tools/crdserver/start target/crdserver` and export {KUBECONFIG_ENV} to the \
             kubeconfig path it prints, or point it at a kind/k3d cluster's kubeconfig."
        )
    });
    let kubeconfig = Kubeconfig::read_from(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("kubeconfig {path}: {e}"));
    if let Some(agent) = user_agent {
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static(agent),
        ));
    }
    Client::try_from(config).unwrap_or_else(|e| panic!("client for {path}: {e}"))
}

/// A client for the API server under test, with the KasprApp CRD and every component CRD
/// (KasprAgent, KasprTable, KasprWebView, KasprTask, KasprJoin) installed and Established.
pub async fn client_with_component_crds() -> Client {
    let client = client_with_crd().await;
    for (_, crd) in kaspr_components::crds() {
        install(&client, crd).await;
    }
    client
}

/// Server-side applies the generated CRD and waits until the server reports it Established.
async fn install_crd(client: &Client) {
    install(client, kaspr_types::crd()).await;
}

/// Server-side applies `crd` and waits until the server reports it Established.
pub async fn install(client: &Client, crd: CustomResourceDefinition) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap_or_else(|e| panic!("the API server refused the generated CRD: {e}"));
    for _ in 0..100 {
        let current = crds
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("reading CRD back: {e}"));
        let established = current
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("CRD {name} did not become Established within 10 s");
}

/// The operator binary beside the test binary (`target/<profile>/`); `cargo xtask test` builds it
/// first, so it is current.
pub fn operator_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("kaspr-operator");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo xtask test`, or `cargo build -p kaspr-operator` first",
        bin.display()
    );
    bin
}

/// The `events.k8s.io/v1` Events of namespace `ns` (crdserver serves them as a stand-in).
pub fn events_api(client: &Client, ns: &str) -> Api<kube::api::DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        ns,
        &kube::api::ApiResource {
            group: "events.k8s.io".into(),
            version: "v1".into(),
            api_version: "events.k8s.io/v1".into(),
            kind: "Event".into(),
            plural: "events".into(),
        },
    )
}
