//! The pure builders: no client. Every child of every example must pass the upstream Kubernetes
//! schemas (`kubernetes-validate --strict`, from the venv `cargo xtask test` prepares).

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::StatefulSetSpec;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, Pod, PodSpec, VolumeMount,
};
use kaspr_reconcile::build::{
    Desired, Existing, LIVE_HASHES_KEY, LIVE_MOUNT, SITE_LINK, build, live_hashes, script_paths,
};
use kaspr_reconcile::names::{HASH_ANNOTATION, INIT_CONTAINER};
use kaspr_types::KasprApp;

/// Nothing exists yet: no packages PVC, no pods.
const NONE: Existing<'static> = Existing {
    packages_pvc: None,
    pods: &[],
};

fn with_pvc(pvc: &PersistentVolumeClaim) -> Existing<'_> {
    Existing {
        packages_pvc: Some(pvc),
        pods: &[],
    }
}

fn app(yaml: &str) -> KasprApp {
    let mut app: KasprApp = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    app.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    app.metadata
        .uid
        .get_or_insert_with(|| "0b6f2a58-6d1c-4bb1-a1d5-3f1f2b6f0c11".into());
    app
}

fn with_packages(pp: &str) -> KasprApp {
    app(&format!(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: orders}}\nspec:\n  bootstrapServers: k:9092\n  replicas: 2\n  pythonPackages:\n{pp}"
    ))
}

fn pod_spec(d: &Desired) -> &PodSpec {
    d.statefulset
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec")
}

fn main_container(d: &Desired) -> &Container {
    &pod_spec(d).containers[0]
}

fn env_value<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).expect("examples").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn example_apps() -> Vec<(PathBuf, KasprApp)> {
    let mut apps = Vec::new();
    for file in examples() {
        let text = std::fs::read_to_string(&file).expect("read");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: serde_json::Value = serde::Deserialize::deserialize(doc).expect("yaml");
            if v["kind"] == "KasprApp" {
                apps.push((file.clone(), app(&serde_json::to_string(&v).expect("json"))));
            }
        }
    }
    apps
}

#[test]
fn every_child_of_every_example_passes_kubernetes_validate_strict() {
    let venv = std::env::var("KASPR_TEST_VENV").unwrap_or_else(|_| {
        panic!("KASPR_TEST_VENV is not set: run `cargo xtask test`, which installs kubernetes-validate in a venv")
    });
    let tool = Path::new(&venv).join("bin/kubernetes-validate");
    assert!(
        tool.exists(),
        "kubernetes-validate missing from {venv}: run `cargo xtask test`"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (i, (path, app)) in example_apps().into_iter().enumerate() {
        app.spec
            .check()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let desired = build(&app, &NONE).expect("builds");
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
    let out = Command::new(&tool)
        .args(["--strict", "--quiet", "-k", "1.35.0"])
        .args(&files)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "kubernetes-validate refused:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn deploy_manifests_pass_kubernetes_validate_strict() {
    let venv = std::env::var("KASPR_TEST_VENV")
        .unwrap_or_else(|_| panic!("KASPR_TEST_VENV is not set: run `cargo xtask test`"));
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let out = Command::new(Path::new(&venv).join("bin/kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", "1.35.0"])
        .arg(deploy.join("rbac.yaml"))
        .arg(deploy.join("operator.yaml"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_python_packages_there_is_no_trace_of_them() {
    let a = app(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: plain}\nspec: {bootstrapServers: 'k:9092'}\n",
    );
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
    let claim = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "python-packages")
        .and_then(|v| v.persistent_volume_claim.as_ref());
    assert_eq!(
        claim.map(|c| c.claim_name.as_str()),
        Some("orders-app-python-packages")
    );
}

fn storage(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .map(|r| r["storage"].0.as_str())
        .unwrap_or_default()
}

#[test]
fn per_pod_cache_uses_an_empty_dir_and_no_pvc() {
    let d = build(&with_packages("    packages: [requests]\n"), &NONE).expect("builds");
    assert!(d.packages_pvc.is_none());
    let vol = pod_spec(&d)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "python-packages")
        .expect("volume");
    assert!(vol.empty_dir.is_some());
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
    let a = app(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: t}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages: {packages: [a]}\n  template:\n    kasprContainer:\n      env: [{name: PYTHONPATH, value: /opt/extra}, {name: LOG_LEVEL, value: debug}]\n    pythonPackagesInitContainer:\n      env: [{name: PIP_DEFAULT_TIMEOUT, value: '60'}, {name: PACKAGES, value: evil}]\n      volumeMounts: [{name: certs, mountPath: /etc/ssl/custom}]\n      securityContext: {runAsNonRoot: true}\n",
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
    assert_eq!(d.statefulset.metadata.name.as_deref(), Some("orders-app"));
    assert_eq!(
        d.headless_service.metadata.name.as_deref(),
        Some("orders-app")
    );
    assert_eq!(
        d.api_service.metadata.name.as_deref(),
        Some("orders-app-api")
    );
    assert_eq!(
        d.config_map.metadata.name.as_deref(),
        Some("orders-app-config")
    );
    assert_eq!(
        d.service_account.metadata.name.as_deref(),
        Some("orders-app")
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
    assert_eq!(cm["K_KAFKA_BOOTSTRAP_SERVERS"], "k:9092");
    assert_eq!(cm["K_APP_NAME"], "orders-app");
}

fn pods(fixture: &str) -> Vec<Pod> {
    let path = format!(
        "{}/tests/fixtures/pods/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("pod JSON")
}

/// A pod of the app carrying `annotation` as its packages hash.
fn pod_with_hash(name: &str, annotation: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "annotations": {HASH_ANNOTATION: annotation}}
    }))
    .expect("pod")
}

fn live_hashes_of(d: &Desired) -> &str {
    let cm = d.live_set.as_ref().expect("live-set ConfigMap");
    cm.data
        .as_ref()
        .and_then(|data| data.get(LIVE_HASHES_KEY))
        .map(String::as_str)
        .expect("live-hashes key")
}

fn mounts<'a>(c: &'a Container, volume: &str) -> Vec<&'a VolumeMount> {
    c.volume_mounts
        .iter()
        .flatten()
        .filter(|m| m.name == volume)
        .collect()
}

#[test]
fn live_hashes_are_the_desired_and_every_pods_hash_sorted_once() {
    // A rolling update in flight: app-0 on the new hash, app-1 and app-2 on the old one.
    let rolling = pods("rolling-update.json");
    assert_eq!(
        live_hashes("a38d296f011adb6e", &rolling),
        "a38d296f011adb6e\nc69dac6587e76619\n"
    );
    // The desired hash is listed before any pod runs it; the order is by value, not by source.
    assert_eq!(
        live_hashes("ffffffffffffffff", &rolling),
        "a38d296f011adb6e\nc69dac6587e76619\nffffffffffffffff\n"
    );
    assert_eq!(live_hashes("0123456789abcdef", &[]), "0123456789abcdef\n");
}

#[test]
fn live_hashes_keep_only_well_formed_hashes() {
    let odd = [
        pod_with_hash("upper", "C69DAC6587E76619"),
        pod_with_hash("short", "c69dac6587e7661"),
        pod_with_hash("long", "c69dac6587e766190"),
        pod_with_hash("not-hex", "c69dac6587e7661g"),
        pod_with_hash("two-lines", "c69dac6587e76619\n0000000000000000"),
        pod_with_hash("padded", " c69dac6587e76619"),
        pod_with_hash("empty", ""),
        pod_with_hash("fine", "0000000000000000"),
    ];
    let mut all = odd.to_vec();
    all.push(
        serde_json::from_value(serde_json::json!({"metadata": {"name": "bare"}})).expect("pod"),
    );
    assert_eq!(
        live_hashes("a38d296f011adb6e", &all),
        "0000000000000000\na38d296f011adb6e\n"
    );
}

#[test]
fn build_keeps_the_live_set_config_map_from_the_pods() {
    let a = with_packages("    packages: [requests==2.31.0]\n    cache: {enabled: true}\n");
    let mut running = pods("rolling-update.json");
    running.push(pod_with_hash("orders-app-3", "not a hash"));
    let d = build(
        &a,
        &Existing {
            packages_pvc: None,
            pods: &running,
        },
    )
    .expect("builds");
    let hash = d.hash.clone().expect("hash");
    let mut expected = vec![hash.as_str(), "a38d296f011adb6e", "c69dac6587e76619"];
    expected.sort_unstable();
    expected.dedup();
    let expected: String = expected.iter().map(|h| format!("{h}\n")).collect();
    assert_eq!(live_hashes_of(&d), expected);
    let cm = d.live_set.as_ref().expect("live set");
    assert_eq!(
        cm.metadata.name.as_deref(),
        Some("orders-app-python-packages")
    );
    assert_eq!(
        cm.metadata.name,
        d.packages_pvc
            .as_ref()
            .and_then(|p| p.metadata.name.clone())
    );
    assert_eq!(cm.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(cm.metadata.labels, d.config_map.metadata.labels);
    assert_eq!(
        cm.metadata.owner_references,
        d.config_map.metadata.owner_references
    );
    assert!(cm.metadata.owner_references.is_some(), "owned by the app");
    assert_eq!(cm.data.as_ref().map(|m| m.len()), Some(1));
    // Nothing running: only the desired hash.
    let fresh = build(&a, &NONE).expect("builds");
    assert_eq!(live_hashes_of(&fresh), format!("{hash}\n"));
}

#[test]
fn the_live_set_exists_with_the_cache_on_or_off() {
    for pp in [
        "    packages: [requests]\n",
        "    packages: [requests]\n    cache: {enabled: true}\n",
    ] {
        let d = build(&with_packages(pp), &NONE).expect("builds");
        assert_eq!(
            live_hashes_of(&d),
            format!("{}\n", d.hash.as_deref().expect("hash")),
            "{pp}"
        );
    }
}

#[test]
fn only_the_init_container_mounts_the_live_set_read_only_from_an_optional_volume() {
    let d = build(
        &with_packages("    packages: [requests]\n    cache: {enabled: true}\n"),
        &NONE,
    )
    .expect("builds");
    let pod = pod_spec(&d);
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "python-packages-live")
        .expect("live-set volume");
    let source = volume.config_map.as_ref().expect("a ConfigMap volume");
    assert_eq!(source.name, "orders-app-python-packages");
    assert_eq!(
        source.optional,
        Some(true),
        "a missing ConfigMap must not keep the pod from starting"
    );
    let init = &pod.init_containers.as_ref().expect("init")[0];
    let live = mounts(init, "python-packages-live");
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].mount_path, LIVE_MOUNT);
    assert_eq!(live[0].read_only, Some(true));
    assert!(
        live[0].sub_path.is_none(),
        "a subPath mount is never refreshed"
    );
    assert_eq!(
        format!("{LIVE_MOUNT}/{LIVE_HASHES_KEY}"),
        script_paths().live_hashes,
        "the script reads the file the volume holds"
    );
    assert!(mounts(main_container(&d), "python-packages-live").is_empty());
}

#[test]
fn the_main_container_sees_only_envs_read_only() {
    for pp in [
        "    packages: [requests]\n",
        "    packages: [requests]\n    cache: {enabled: true}\n",
    ] {
        let d = build(&with_packages(pp), &NONE).expect("builds");
        let main = main_container(&d);
        let packages = mounts(main, "python-packages");
        assert_eq!(packages.len(), 1, "{pp}");
        assert_eq!(packages[0].sub_path.as_deref(), Some("envs"));
        assert_eq!(packages[0].mount_path, "/packages/envs");
        assert_eq!(packages[0].read_only, Some(true));
        assert!(
            main.volume_mounts
                .iter()
                .flatten()
                .all(|m| m.mount_path != "/packages"),
            "nothing else of the volume (caches, locks, staging)"
        );
        let env = mounts(main, "python-env");
        assert_eq!(
            (env.len(), env[0].mount_path.as_str(), env[0].read_only),
            (1, "/python-env", Some(true))
        );
        // The init container still works on the whole volume, where the site link points.
        let init = &pod_spec(&d).init_containers.as_ref().expect("init")[0];
        let root = mounts(init, "python-packages");
        assert_eq!(
            (
                root[0].mount_path.as_str(),
                root[0].sub_path.as_deref(),
                root[0].read_only
            ),
            ("/packages", None, None)
        );
        assert!(
            env_value(main, "PYTHONPATH").is_some_and(|p| p.starts_with(SITE_LINK)),
            "the site link resolves to /packages/envs/<key> in both containers"
        );
    }
}

#[test]
fn render_order_puts_the_live_set_before_the_statefulset() {
    let d = build(
        &with_packages("    packages: [requests]\n    cache: {enabled: true}\n"),
        &NONE,
    )
    .expect("builds");
    let objects = d.objects();
    let position = |kind: &str, name: &str| {
        objects
            .iter()
            .position(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let live = position("ConfigMap", "orders-app-python-packages");
    assert!(live < position("StatefulSet", "orders-app"));
    assert_eq!(
        objects[live]["data"]["live-hashes"],
        format!("{}\n", d.hash.as_deref().expect("hash"))
    );
    assert_eq!(objects[live]["apiVersion"], "v1");
}

fn kafka_app(spec: &str) -> KasprApp {
    app(&format!(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: orders}}\nspec:\n  bootstrapServers: k:9093\n{spec}"
    ))
}

fn env_var<'a>(c: &'a Container, name: &str) -> Option<&'a EnvVar> {
    c.env.iter().flatten().find(|e| e.name == name)
}

#[test]
fn kafka_sasl_and_tls_land_in_the_config_map_and_the_password_comes_from_its_secret() {
    let a = kafka_app(
        "  tls: {}\n  authentication:\n    type: scram-sha-512\n    username: orders-user\n    passwordSecret: {secretName: kafka-orders, passwordKey: user.password}\n",
    );
    let d = build(&a, &NONE).expect("builds");
    let cm = d.config_map.data.as_ref().expect("data");
    assert_eq!(cm["K_KAFKA_SECURITY_PROTOCOL"], "SASL_SSL");
    assert_eq!(cm["K_KAFKA_SASL_MECHANISM"], "SCRAM-SHA-512");
    assert_eq!(cm["K_KAFKA_AUTH_USERNAME"], "orders-user");
    assert!(
        !cm.contains_key("K_KAFKA_AUTH_PASSWORD"),
        "the password never goes into the ConfigMap"
    );
    let main = main_container(&d);
    let password = env_var(main, "K_KAFKA_AUTH_PASSWORD").expect("password env");
    assert!(password.value.is_none());
    let secret = password
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("secretKeyRef");
    assert_eq!(
        (secret.name.as_str(), secret.key.as_str()),
        ("kafka-orders", "user.password")
    );
    // As upstream: every setting reaches the container by configMapKeyRef, none by value.
    for key in [
        "K_KAFKA_SECURITY_PROTOCOL",
        "K_KAFKA_SASL_MECHANISM",
        "K_KAFKA_AUTH_USERNAME",
    ] {
        let from = env_var(main, key)
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.config_map_key_ref.as_ref())
            .unwrap_or_else(|| panic!("{key} from the ConfigMap"));
        assert_eq!(
            (from.name.as_str(), from.key.as_str()),
            ("orders-app-config", key)
        );
    }
}

#[test]
fn the_security_protocol_follows_sasl_and_tls_as_upstream() {
    let secret = "passwordSecret: {secretName: s, passwordKey: p}";
    let cases = [
        ("", "PLAINTEXT", None),
        ("  tls: {}\n", "SSL", None),
        (
            &format!("  authentication: {{type: scram-sha-256, username: u, {secret}}}\n")[..],
            "SASL_PLAINTEXT",
            Some("SCRAM-SHA-256"),
        ),
        (
            &format!("  tls: {{}}\n  authentication: {{type: plain, username: u, {secret}}}\n")[..],
            "SASL_SSL",
            Some("PLAIN"),
        ),
    ];
    for (spec, protocol, mechanism) in cases {
        let d = build(&kafka_app(spec), &NONE).expect("builds");
        let cm = d.config_map.data.as_ref().expect("data");
        assert_eq!(cm["K_KAFKA_SECURITY_PROTOCOL"], protocol, "{spec}");
        assert_eq!(
            cm.get("K_KAFKA_SASL_MECHANISM").map(String::as_str),
            mechanism,
            "{spec}"
        );
        assert_eq!(
            env_var(main_container(&d), "K_KAFKA_AUTH_PASSWORD").is_some(),
            mechanism.is_some(),
            "a password env only with SASL: {spec}"
        );
    }
}

fn statefulset_spec(d: &Desired) -> &StatefulSetSpec {
    d.statefulset.spec.as_ref().expect("statefulset spec")
}

#[test]
fn ephemeral_storage_is_an_empty_dir_and_no_claim_template() {
    let d = build(&kafka_app("  storage: {type: ephemeral}\n"), &NONE).expect("builds");
    let spec = statefulset_spec(&d);
    assert!(spec.volume_claim_templates.is_none());
    assert!(spec.persistent_volume_claim_retention_policy.is_none());
    let table = pod_spec(&d)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "orders-app-pv")
        .expect("table volume");
    assert!(table.empty_dir.is_some() && table.persistent_volume_claim.is_none());
    let mount = mounts(main_container(&d), "orders-app-pv");
    assert_eq!(mount.len(), 1);
    assert_eq!(mount[0].mount_path, "/var/lib/data/tables");
}

#[test]
fn persistent_claim_storage_is_a_claim_template_mounted_at_the_table_dir() {
    let d = build(
        &kafka_app(
            "  storage: {type: persistent-claim, size: 10Gi, class: fast, deleteClaim: true}\n",
        ),
        &NONE,
    )
    .expect("builds");
    let spec = statefulset_spec(&d);
    let templates = spec
        .volume_claim_templates
        .as_ref()
        .expect("claim template");
    assert_eq!(templates.len(), 1);
    let claim = &templates[0];
    assert_eq!(claim.metadata.name.as_deref(), Some("orders-app-pv"));
    let claim_spec = claim.spec.as_ref().expect("claim spec");
    assert_eq!(
        claim_spec.access_modes.as_deref(),
        Some(&["ReadWriteOnce".to_owned()][..])
    );
    assert_eq!(claim_spec.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(storage(claim), "10Gi");
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .expect("retention policy");
    assert_eq!(
        (
            retention.when_deleted.as_deref(),
            retention.when_scaled.as_deref()
        ),
        (Some("Delete"), Some("Retain"))
    );
    assert!(
        !pod_spec(&d)
            .volumes
            .iter()
            .flatten()
            .any(|v| v.name == "orders-app-pv"),
        "the claim template provides the volume"
    );
    let mount = mounts(main_container(&d), "orders-app-pv");
    assert_eq!(mount.len(), 1);
    assert_eq!(mount[0].mount_path, "/var/lib/data/tables");
}
