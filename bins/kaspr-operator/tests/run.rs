//! `kaspr-operator run` against a real API server (crdserver from `cargo xtask test`, or a
//! cluster through KASPR_TEST_KUBECONFIG): it becomes ready, reconciles, and serves metrics.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kaspr_types::KasprApp;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

const KUBECONFIG_ENV: &str = "KASPR_TEST_KUBECONFIG";

struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP GET on loopback: (status code, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        code,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    ))
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test]
async fn operator_run_becomes_ready_reconciles_and_serves_metrics() {
    let path = std::env::var(KUBECONFIG_ENV).unwrap_or_else(|_| {
        panic!("{KUBECONFIG_ENV} is not set: run `cargo xtask test` (it starts ../shared/tools/crdserver) or point it at a kind/k3d kubeconfig")
    });
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(&path).expect("kubeconfig"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    let apply = PatchParams::apply("kaspr-operator-tests").force();
    crds.patch(
        "kasprapps.kaspr.io",
        &apply,
        &Patch::Apply(kaspr_types::crd()),
    )
    .await
    .expect("CRD applied");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let app = serde_json::json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": "smoke", "namespace": "default"},
        "spec": {"bootstrapServers": "kafka:9092", "pythonPackages": {"packages": ["requests"]}}
    });
    Api::<KasprApp>::namespaced(client, "default")
        .patch("smoke", &apply, &Patch::Apply(&app))
        .await
        .expect("app applied");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let _operator = Operator(
        Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .env("KUBECONFIG", &path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    wait_for("/healthz", || {
        get(port, "/healthz").is_some_and(|(c, _)| c == 200)
    });
    wait_for("/readyz", || {
        get(port, "/readyz").is_some_and(|(c, _)| c == 200)
    });
    // The app is reconciled (crdserver has no apps API, so the reconcile itself errors and is
    // retried; either way it is counted).
    wait_for("a reconcile of the app in /metrics", || {
        get(port, "/metrics").is_some_and(|(_, body)| {
            body.contains("kasprop_reconcile_total{app_name=\"smoke\",namespace=\"default\"}")
        })
    });
    let (_, metrics) = get(port, "/metrics").expect("metrics");
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
