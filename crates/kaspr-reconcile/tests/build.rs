//! The pure builders: no client. Every child of every example must pass the upstream Kubernetes
//! schemas (`kubernetes-validate --strict`, from the venv `cargo xtask test` prepares).

mod support;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kaspr_reconcile::build::Desired;
use kaspr_reconcile::names::{HASH_ANNOTATION, INIT_CONTAINER};
use kaspr_reconcile::validate;
use kaspr_test_support::app::{AppBuilder, BOOTSTRAP_SERVERS};
use kaspr_test_support::tools::kubernetes_validate;
use kaspr_test_support::workspace_root;
use kaspr_types::KasprApp;
use support::build::{
    NONE, app_with_spec, build, env_value, example_apps, main_container, pod_spec, storage, volume,
    with_packages, with_pvc,
};

/// Runs `kubernetes-validate --strict` for Kubernetes 1.35 on `files` (from the venv
/// `cargo xtask test` prepares) and asserts that it accepts them.
#[test]
fn every_child_of_every_example_passes_kubernetes_validate_strict() {
    let mut apps = example_apps();
    // Upstream's examples, unchanged (its two `kaspr.io/v1` drafts are not KasprApps of any
    // served version, upstream's CRD included).
    for (path, mut value) in kaspr_test_support::upstream::example_documents() {
        if value["kind"] != "KasprApp" || value["apiVersion"] != "kaspr.io/v1alpha1" {
            continue;
        }
        value["metadata"]["namespace"] = "default".into();
        let app = serde_json::from_value(value)
            .unwrap_or_else(|e| panic!("{}: not a KasprApp: {e}", path.display()));
        apps.push((path, app));
    }
    assert!(apps.len() >= 24, "ours and upstream's: {}", apps.len());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (i, (path, app)) in apps.into_iter().enumerate() {
        let validated = validate(&app, None, &kaspr_reconcile::Settings::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let desired = kaspr_reconcile::build::build(&validated, &NONE).expect("builds");
        for (j, object) in desired.objects().into_iter().enumerate() {
            let file = dir.path().join(format!("{i}-{j}.yaml"));
            std::fs::write(&file, serde_yaml::to_string(&object).expect("yaml")).expect("write");
            files.push(file);
        }
    }
    assert!(
        files.len() >= 7 * 5,
        "expected the examples' objects, got {}",
        files.len()
    );
    kubernetes_validate(&files);
}

#[test]
fn deploy_manifests_pass_kubernetes_validate_strict() {
    let deploy = workspace_root().join("deploy");
    kubernetes_validate([deploy.join("rbac.yaml"), deploy.join("operator.yaml")]);
}

#[test]
fn without_python_packages_there_is_no_trace_of_them() {
    let a = AppBuilder::new("plain").build();
    let d = build(&a, &NONE).expect("builds");
    let pod = pod_spec(&d);
    assert!(pod.init_containers.is_none());
    assert!(d.packages_pvc.is_none());
    assert!(d.live_set.is_none(), "no live set without pythonPackages");
    assert!(d.hash.is_none());
    let volumes: Vec<&str> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(volumes, ["plain-app-pv"]);
    let main = main_container(&d);
    assert!(env_value(main, "PYTHONPATH").is_none() && env_value(main, "PACKAGES_HASH").is_none());
    assert_eq!(main.volume_mounts.as_ref().map(Vec::len), Some(1));
    let annotations = d
        .statefulset
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref());
    assert!(annotations.is_none_or(|a| !a.contains_key(HASH_ANNOTATION)));
}

#[test]
fn packages_add_init_container_volumes_and_pythonpath() {
    let a = with_packages(
        "    packages: [requests==2.31.0]\n    indexUrl: https://pypi.example.com/simple\n    credentials: {secretRef: {name: creds, passwordKey: pw}}\n    resources: {limits: {memory: 1Gi}}\n    cache: {enabled: true, size: 2Gi}\n",
    );
    let d = build(&a, &NONE).expect("builds");
    let pod = pod_spec(&d);
    let init = &pod.init_containers.as_ref().expect("init containers")[0];
    assert_eq!(init.name, INIT_CONTAINER);
    assert_eq!(init.image, main_container(&d).image, "runs the app's image");
    assert_eq!(
        init.command.as_ref().map(|c| &c[..2]),
        Some(&["/bin/sh".to_owned(), "-c".to_owned()][..])
    );
    assert_eq!(
        init.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError")
    );
    assert_eq!(
        init.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .map(|l| l["memory"].0.as_str()),
        Some("1Gi")
    );
    let password = init
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "PYPI_PASSWORD")
        .expect("password env");
    let secret = password
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("secretKeyRef");
    assert_eq!((secret.name.as_str(), secret.key.as_str()), ("creds", "pw"));
    assert!(password.value.is_none());
    let main = main_container(&d);
    assert_eq!(env_value(main, "PYTHONPATH"), Some("/python-env/site"));
    assert_eq!(env_value(main, "PACKAGES_HASH"), d.hash.as_deref());
    let pvc = d.packages_pvc.as_ref().expect("pvc");
    assert_eq!(
        pvc.metadata.name.as_deref(),
        Some("orders-app-python-packages")
    );
    assert_eq!(storage(pvc), "2Gi");
    assert!(
        pvc.metadata.owner_references.is_some(),
        "deleteClaim: true -> owned by the app"
    );
    let claim = volume(pod, "python-packages")
        .persistent_volume_claim
        .as_ref();
    assert_eq!(
        claim.map(|c| c.claim_name.as_str()),
        Some("orders-app-python-packages")
    );
}

#[test]
fn per_pod_cache_uses_an_empty_dir_and_no_pvc() {
    let d = build(&with_packages("    packages: [requests]\n"), &NONE).expect("builds");
    assert!(d.packages_pvc.is_none());
    assert!(volume(pod_spec(&d), "python-packages").empty_dir.is_some());
}

#[test]
fn retained_claim_is_not_owned_and_never_shrinks() {
    let a = with_packages(
        "    packages: [requests]\n    cache: {enabled: true, size: 1Gi, deleteClaim: false}\n",
    );
    let existing: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "orders-app-python-packages"},
        "spec": {"resources": {"requests": {"storage": "5Gi"}}}
    }))
    .expect("pvc");
    let d = build(&a, &with_pvc(&existing)).expect("builds");
    let pvc = d.packages_pvc.as_ref().expect("pvc");
    assert!(
        pvc.metadata.owner_references.is_none(),
        "deleteClaim: false -> the PVC outlives the app"
    );
    assert_eq!(storage(pvc), "5Gi", "an expanded claim is not shrunk back");
    let grown = build(
        &with_packages("    packages: [requests]\n    cache: {enabled: true, size: 8Gi}\n"),
        &with_pvc(&existing),
    )
    .expect("builds");
    assert_eq!(storage(grown.packages_pvc.as_ref().expect("pvc")), "8Gi");
}

#[test]
fn template_settings_reach_the_init_container_and_pythonpath_is_joined() {
    let a = app_with_spec(
        "t",
        "  bootstrapServers: k:9092\n  pythonPackages: {packages: [a]}\n  template:\n    kasprContainer:\n      env: [{name: PYTHONPATH, value: /opt/extra}, {name: LOG_LEVEL, value: debug}]\n    pythonPackagesInitContainer:\n      env: [{name: PIP_DEFAULT_TIMEOUT, value: '60'}, {name: PACKAGES, value: evil}]\n      volumeMounts: [{name: certs, mountPath: /etc/ssl/custom}]\n      securityContext: {runAsNonRoot: true}\n",
    );
    let d = build(&a, &NONE).expect("builds");
    let init = &pod_spec(&d).init_containers.as_ref().expect("init")[0];
    assert_eq!(env_value(init, "PIP_DEFAULT_TIMEOUT"), Some("60"));
    assert_eq!(
        env_value(init, "PACKAGES"),
        Some("a"),
        "the template cannot override the script's inputs"
    );
    assert_eq!(
        init.env
            .iter()
            .flatten()
            .filter(|e| e.name == "PACKAGES")
            .count(),
        1
    );
    assert!(
        init.volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path == "/etc/ssl/custom")
    );
    assert_eq!(
        init.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root),
        Some(true)
    );
    let main = main_container(&d);
    assert_eq!(
        env_value(main, "PYTHONPATH"),
        Some("/python-env/site:/opt/extra")
    );
    assert_eq!(
        main.env
            .iter()
            .flatten()
            .filter(|e| e.name == "PYTHONPATH")
            .count(),
        1
    );
    assert_eq!(env_value(main, "LOG_LEVEL"), Some("debug"));
}

#[test]
fn same_spec_builds_identical_objects() {
    for (path, a) in example_apps() {
        let once = build(&a, &NONE).expect("builds");
        let reparsed: KasprApp =
            serde_json::from_value(serde_json::to_value(&a).expect("json")).expect("parses");
        assert_eq!(
            once,
            build(&reparsed, &NONE).expect("builds"),
            "{}",
            path.display()
        );
    }
}

#[test]
fn hash_change_changes_the_pod_template_and_secret_rotation_does_not() {
    let base = "    packages: [requests==2.31.0]\n    indexUrl: https://i.example/simple\n    credentials: {secretRef: {name: creds}}\n";
    let d1 = build(&with_packages(base), &NONE).expect("builds");
    let d2 = build(&with_packages(&base.replace("2.31.0", "2.32.0")), &NONE).expect("builds");
    let template = |d: &Desired| d.statefulset.spec.as_ref().map(|s| s.template.clone());
    assert_ne!(d1.hash, d2.hash);
    assert_ne!(template(&d1), template(&d2), "a new hash rolls the pods");
    let annotation = |d: &Desired| {
        d.statefulset
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .map(|a| a[HASH_ANNOTATION].clone())
    };
    assert_eq!(annotation(&d2).as_deref(), d2.hash.as_deref());
    // Another Secret with other keys: same hash (no reinstall), though the pods pick up the new refs.
    let d3 = build(
        &with_packages(&base.replace("{name: creds}", "{name: creds-v2}")),
        &NONE,
    )
    .expect("builds");
    assert_eq!(d1.hash, d3.hash);
}

#[test]
fn names_labels_and_ports_follow_upstream() {
    let d = build(&with_packages("    packages: [a]\n"), &NONE).expect("builds");
    let names = [
        &d.statefulset.metadata,
        &d.headless_service.metadata,
        &d.api_service.metadata,
        &d.config_map.metadata,
        &d.service_account.metadata,
    ]
    .map(|m| m.name.as_deref().unwrap_or_default());
    assert_eq!(
        names,
        [
            "orders-app",
            "orders-app",
            "orders-app-api",
            "orders-app-config",
            "orders-app"
        ]
    );
    let selector = d
        .statefulset
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .expect("selector");
    assert_eq!(selector.len(), 3);
    assert_eq!(selector["kaspr.io/cluster"], "orders");
    assert_eq!(selector["kaspr.io/name"], "orders-app");
    assert_eq!(selector["kaspr.io/kind"], "KasprApp");
    let port = &d
        .api_service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http"), 6065));
    assert_eq!(
        d.headless_service
            .spec
            .as_ref()
            .and_then(|s| s.cluster_ip.as_deref()),
        Some("None")
    );
    let cm = d.config_map.data.as_ref().expect("data");
    assert_eq!(cm["K_KAFKA_BOOTSTRAP_SERVERS"], BOOTSTRAP_SERVERS);
    assert_eq!(cm["K_APP_NAME"], "orders-app");
}
