//! Two `kaspr-operator run` processes against a real API server (crdserver serves Leases): one
//! leads and reconciles, the other only waits; killing the leader hands over within the lease
//! duration; SIGTERM releases the lease at once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kaspr_apiserver_tests::{FIELD_MANAGER, KUBECONFIG_ENV, client_with_crd, operator_binary};
use kaspr_test_support::net::{free_port, http_get};
use kaspr_test_support::process::GroupChild;
use kaspr_types::KasprApp;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};

/// Seconds a leader not heard of is replaced after (the operator's `--lease-duration`).
const LEASE_SECONDS: u64 = 5;

fn start(name: &str, lease: &str, log: &Path) -> GroupChild {
    let kubeconfig = std::env::var(KUBECONFIG_ENV).expect("set by client_with_crd's contract");
    let file = std::fs::File::create(log).expect("log file");
    let port = free_port();
    let child = GroupChild::spawn(
        Command::new(operator_binary())
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--lease-name", lease, "--lease-namespace", "default"])
            .args(["--lease-duration", &LEASE_SECONDS.to_string()])
            .env("KUBECONFIG", &kubeconfig)
            .env("POD_NAME", name)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file)),
    )
    .expect("starts");
    // Every replica serves its probes, leading or not.
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(port, "/healthz").is_none_or(|(c, _)| c != 200) {
        assert!(Instant::now() < deadline, "{name}: /healthz never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn wait_for_holder(
    leases: &Api<Lease>,
    lease: &str,
    want: Option<&str>,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let now = holder(leases, lease).await;
        if now.as_deref() == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "the lease {lease} is held by {now:?}, not {want:?}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Events a replica published about the test's app: each reconcile fails on crdserver (no
/// StatefulSet API) and says so in a Warning event, which names the replica that sent it
/// (`reportingInstance` is its POD_NAME).
async fn reconciles(events: &Api<DynamicObject>, app: &str, replica: &str) -> usize {
    let Ok(list) = events.list(&ListParams::default()).await else {
        return 0;
    };
    list.items
        .iter()
        .filter(|e| e.data["regarding"]["name"] == app && e.data["reportingInstance"] == replica)
        .count()
}

async fn wait_for_reconcile(
    events: &Api<DynamicObject>,
    app: &str,
    replica: &str,
    log_file: &Path,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while reconciles(events, app, replica).await == 0 {
        assert!(
            Instant::now() < deadline,
            "{replica} never reconciled {app}:\n{}",
            log(log_file)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn one_replica_leads_and_a_killed_leader_is_replaced_within_the_lease_duration() {
    let client = client_with_crd().await;
    let lease = format!("kaspr-leader-test-{}", std::process::id());
    let app_name = format!("leader-{}", std::process::id());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let events: Api<DynamicObject> = kaspr_apiserver_tests::events_api(&client, "default");
    let apps: Api<KasprApp> = Api::namespaced(client.clone(), "default");
    let app = serde_json::json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": app_name, "namespace": "default"},
        "spec": {"bootstrapServers": "kafka:9092"}
    });
    apps.patch(
        &app_name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&app),
    )
    .await
    .expect("app applied");
    let dir = tempfile::tempdir().expect("tempdir");
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));

    let a = start("op-a", &lease, &log_a);
    wait_for_holder(&leases, &lease, Some("op-a"), Duration::from_secs(30)).await;
    let b = start("op-b", &lease, &log_b);
    // The leader reconciles; the follower, given time, does not.
    wait_for_reconcile(&events, &app_name, "op-a", &log_a).await;
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS + 2)).await;
    assert_eq!(
        holder(&leases, &lease).await.as_deref(),
        Some("op-a"),
        "the leader renews"
    );
    assert_eq!(
        reconciles(&events, &app_name, "op-b").await,
        0,
        "the follower reconciled:\n{}",
        log(&log_b)
    );
    assert!(log(&log_b).contains("waiting to lead"), "{}", log(&log_b));

    // Killed without a chance to release: the follower takes over once the lease expires.
    a.kill();
    let handover = wait_for_holder(
        &leases,
        &lease,
        Some("op-b"),
        Duration::from_secs(LEASE_SECONDS * 3),
    )
    .await;
    assert!(
        handover <= Duration::from_secs(LEASE_SECONDS + 3),
        "handover took {handover:?} with a {LEASE_SECONDS} s lease"
    );
    wait_for_reconcile(&events, &app_name, "op-b", &log_b).await;

    // SIGTERM: the leader stops within seconds and frees the lease for the next one at once.
    let mut b = b;
    let pid = b.id();
    let stopped = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    loop {
        if let Ok(Some(_)) = b.child_mut().try_wait() {
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "SIGTERM: still running after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for_holder(&leases, &lease, None, Duration::from_secs(2)).await;
    let _ = apps.delete(&app_name, &Default::default()).await;
}
