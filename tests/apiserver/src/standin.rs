//! The operator binary against the API-server stand-in, without a cluster.
//!
//! [`StandIn`] starts `xtask/assets/apistandin.py --simulate` in front of the crdserver of
//! `KASPR_TEST_KUBECONFIG`: custom resources, Leases and Events go on to crdserver; ConfigMaps,
//! Secrets, StatefulSets, Services, Pods, PVCs and HPAs are served by the stand-in from memory,
//! and it plays the StatefulSet controller (pods Ready). It records every request with its RBAC
//! verb, group and resource ([`StandIn::calls`]). [`Operator`] runs `kaspr-operator run` against
//! it. Both are killed with their process group when dropped, passed or failed; a failing test
//! prints the tail of both logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kaspr_components::{KasprAgent, KasprJoin, KasprTable, KasprTask, KasprWebView};
use kaspr_test_support::net::{free_port, http_get};
use kaspr_test_support::process::GroupChild;
use kaspr_types::KasprApp;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use serde_json::Value;

use crate::KUBECONFIG_ENV;

/// How long a test waits for anything the operator does.
pub const WAIT: Duration = Duration::from_secs(90);

/// The checkout (tests/apiserver is two levels down).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The kubeconfig of the crdserver under test, or a panic saying how to get one.
pub fn crdserver_kubeconfig() -> PathBuf {
    std::env::var_os(KUBECONFIG_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "{KUBECONFIG_ENV} is not set. These tests need crdserver: run `cargo xtask test` \
             (it starts ../shared/tools/crdserver), or start it yourself with \
             `../shared/tools/crdserver/start target/crdserver` and export {KUBECONFIG_ENV} to \
             the kubeconfig path it prints."
            )
        })
}

/// A fresh private directory (for one stand-in's or operator's files), under the system temp
/// dir.
pub fn scratch_dir(what: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kaspr-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// The last `lines` lines of a log file (for failure messages).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

/// The User-Agent of the tests' own requests: the stand-in records the calls per agent, and the
/// operator's are `kaspr-operator/<version>`.
pub const TEST_USER_AGENT: &str = "kaspr-apiserver-tests";

/// A kube client for the API server of the kubeconfig at `path`, sending [`TEST_USER_AGENT`].
pub async fn client_for(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("reading kubeconfig {}: {e}", path.display()));
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("kubeconfig {}: {e}", path.display()));
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(TEST_USER_AGENT),
    ));
    Client::try_from(config).unwrap_or_else(|e| panic!("client for {}: {e}", path.display()))
}

/// apistandin.py running with `--simulate` in front of a crdserver.
pub struct StandIn {
    // Dropped first: the process group is killed before the files go.
    child: GroupChild,
    port: u16,
    dir: PathBuf,
}

impl StandIn {
    /// Starts the stand-in in front of the crdserver of `crd_kubeconfig` and waits until it
    /// answers. Panics, saying what is missing, without python3 or the script.
    pub fn start(crd_kubeconfig: &Path) -> Self {
        let script = workspace_root().join("xtask/assets/apistandin.py");
        assert!(
            script.is_file(),
            "{} is missing: the stand-in ships with the checkout",
            script.display()
        );
        let python = Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            python.is_ok_and(|s| s.success()),
            "python3 is not on PATH: it runs the API-server stand-in {} (standard library \
             only; on Debian: apt-get install python3)",
            script.display()
        );
        let dir = scratch_dir("standin");
        let port_file = dir.join("port");
        let log = dir.join("standin.log");
        let child = GroupChild::spawn(
            Command::new("python3")
                .arg(&script)
                .arg("--crd-kubeconfig")
                .arg(crd_kubeconfig)
                .args(["--port", "0", "--port-file"])
                .arg(&port_file)
                .arg("--kubeconfig-out")
                .arg(dir.join("kubeconfig"))
                .arg("--simulate")
                .stdin(Stdio::null())
                .stdout(log_file(&log))
                .stderr(log_file(&log)),
        )
        .unwrap_or_else(|e| panic!("starting python3 {}: {e}", script.display()));
        let mut standin = Self {
            child,
            port: 0,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|p| p.trim().parse().ok())
                && http_get(port, "/_standin/healthz").is_some_and(|(c, _)| c == 200)
            {
                standin.port = port;
                return standin;
            }
            if let Ok(Some(status)) = standin.child.child_mut().try_wait() {
                panic!(
                    "apistandin.py exited ({status}) before it answered:\n{}",
                    log_tail(&log, 40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "apistandin.py did not answer within 30 s:\n{}",
                log_tail(&log, 40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The kubeconfig that points at the stand-in (plain HTTP on 127.0.0.1, anonymous).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// A client for the stand-in (core and apps kinds from memory, custom resources through).
    pub async fn client(&self) -> Client {
        client_for(&self.kubeconfig()).await
    }

    /// The stand-in's summary of every request so far (`GET /_standin/calls`): `by_agent`,
    /// `routes`, and `rbac`: one entry per (verb, apiGroup, resource, subresource, namespaced)
    /// with the `agents` (first word of the User-Agent, before `/`) that made it.
    pub fn calls(&self) -> Value {
        let (code, body) = http_get(self.port, "/_standin/calls")
            .unwrap_or_else(|| panic!("the stand-in on port {} does not answer", self.port));
        assert_eq!(code, 200, "GET /_standin/calls: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET /_standin/calls: {e}: {body}"))
    }

    /// The last lines of the stand-in's log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.dir.join("standin.log"), lines)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- apistandin.py log (tail; all of it in {}):\n{}",
                self.dir.display(),
                self.log_tail(30)
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `kaspr-operator run` against a kubeconfig, logging at info to a file of its own.
pub struct Operator {
    child: GroupChild,
    port: u16,
    dir: PathBuf,
}

impl Operator {
    /// Starts the operator with `KUBECONFIG=kubeconfig` and `env` (e.g.
    /// `CLIENT_STATUS_CHECK_ENABLED=false`: members cannot be reached without cluster DNS) and
    /// waits until `/readyz` answers 200.
    pub async fn start(kubeconfig: &Path, env: &[(&str, &str)]) -> Self {
        let dir = scratch_dir("operator");
        let log = dir.join("operator.log");
        let port = free_port();
        let mut command = Command::new(crate::operator_binary());
        command
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log));
        for (k, v) in env {
            command.env(k, v);
        }
        let child = GroupChild::spawn(&mut command).expect("the operator starts");
        let mut operator = Self { child, port, dir };
        let deadline = Instant::now() + WAIT;
        loop {
            if http_get(port, "/readyz").is_some_and(|(c, _)| c == 200) {
                return operator;
            }
            if let Ok(Some(status)) = operator.child.child_mut().try_wait() {
                panic!(
                    "the operator exited ({status}) before it was ready:\n{}",
                    log_tail(&log, 40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the operator was not ready within {WAIT:?}; /readyz says {:?}:\n{}",
                http_get(port, "/readyz"),
                log_tail(&log, 40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.child_mut().try_wait(), Ok(None))
    }

    /// Stops it as Kubernetes stops a pod (SIGTERM) and waits up to `within` for it to exit:
    /// its exit status, None when it is still running then (it is killed when dropped).
    pub async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.child_mut().try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The port of its /metrics, /healthz and /readyz.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The last lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.dir.join("operator.log"), lines)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- kaspr-operator log (tail; all of it in {}):\n{}",
                self.dir.display(),
                self.log_tail(60)
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Polls `check` every 200 ms until it returns `Some`, for at most [`WAIT`]; the panic names
/// `what` and `context()` (e.g. the last state seen and the operator's log).
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F, context: impl Fn() -> String) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}\n{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kind `K` in namespace `ns`, as dynamic objects (the tests apply manifests as JSON).
pub fn api<K: Resource<DynamicType = ()>>(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &ApiResource::erase::<K>(&()))
}

/// Server-side applies `doc` through `api` as the tests' field manager.
pub async fn apply(api: &Api<DynamicObject>, doc: &Value) {
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    api.patch(
        name,
        &PatchParams::apply(crate::FIELD_MANAGER).force(),
        &Patch::Apply(doc),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {} {name}: {e}", doc["kind"]));
}

/// Deletes every KasprApp and component in `ns` (an earlier run against the same crdserver may
/// have left some) and waits until they are gone.
pub async fn clear_namespace(client: &Client, ns: &str) {
    let apis = [
        api::<KasprApp>(client, ns),
        api::<KasprAgent>(client, ns),
        api::<KasprTable>(client, ns),
        api::<KasprWebView>(client, ns),
        api::<KasprTask>(client, ns),
        api::<KasprJoin>(client, ns),
    ];
    for api in &apis {
        let _ = api
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
    }
    for api in &apis {
        wait_for(
            "the objects an earlier run left to go",
            || async {
                api.list(&ListParams::default())
                    .await
                    .ok()
                    .filter(|l| l.items.is_empty())
            },
            || format!("objects left in namespace {ns} cannot be deleted"),
        )
        .await;
    }
}
