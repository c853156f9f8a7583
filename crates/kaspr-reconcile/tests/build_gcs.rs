//! `cache.type: gcs` as built: the packages volume is a per-pod emptyDir (no PVC), the Secret's
//! one key is mounted read-only into the init container and nowhere else, and the bucket
//! settings and the app's name reach the script as variables.

mod support;

use k8s_openapi::api::core::v1::KeyToPath;
use kaspr_reconcile::build::{GCS_KEY_FILE, GCS_KEY_MOUNT, GCS_KEY_VOLUME, script_paths};
use kaspr_reconcile::names::INIT_CONTAINER;
use kaspr_reconcile::status::{Observed, compute};
use kaspr_test_support::app::AppBuilder;
use kaspr_types::CacheMode;
use support::build::{
    NONE, build, env_value, env_var, main_container, mounts, pod_spec, volume, with_packages,
};
use support::status::now;

const GCS: &str = "    packages: [requests]\n    cache: {type: gcs, enabled: true, gcs: {bucket: my-cache, prefix: team/, maxArchiveSize: 512Mi, secretRef: {name: gcs-sa, key: key.json}}}\n";

fn init_of(d: &kaspr_reconcile::build::Desired) -> &k8s_openapi::api::core::v1::Container {
    let init = &pod_spec(d)
        .init_containers
        .as_ref()
        .expect("init containers")[0];
    assert_eq!(init.name, INIT_CONTAINER);
    init
}

#[test]
fn the_key_is_mounted_into_the_init_container_only_and_there_is_no_pvc() {
    let d = build(&with_packages(GCS), &NONE).expect("builds");
    assert!(d.packages_pvc.is_none(), "no PVC, even with enabled: true");
    let pod = pod_spec(&d);
    assert!(volume(pod, "python-packages").empty_dir.is_some());
    let secret = volume(pod, GCS_KEY_VOLUME)
        .secret
        .as_ref()
        .expect("a Secret volume");
    assert_eq!(secret.secret_name.as_deref(), Some("gcs-sa"));
    assert_eq!(
        secret.items.as_deref(),
        Some(
            &[KeyToPath {
                key: "key.json".into(),
                path: GCS_KEY_FILE.into(),
                mode: None,
            }][..]
        ),
        "only the key the spec names"
    );
    assert_eq!(
        secret.optional,
        Some(true),
        "a missing Secret makes the script install with a warning, not a pod stuck creating"
    );
    let init = init_of(&d);
    let key_mounts = mounts(init, GCS_KEY_VOLUME);
    assert_eq!(key_mounts.len(), 1);
    assert_eq!(key_mounts[0].mount_path, GCS_KEY_MOUNT);
    assert_eq!(key_mounts[0].read_only, Some(true));
    assert_eq!(
        script_paths().gcs_key,
        format!("{GCS_KEY_MOUNT}/{GCS_KEY_FILE}"),
        "the script reads the file where it is mounted"
    );
    let script = &init.command.as_ref().expect("command")[2];
    assert!(script.lines().any(|l| l == "KASPR_CACHE_MODE=gcs"));
    assert!(
        script
            .lines()
            .any(|l| l == format!("KASPR_GCS_KEY={GCS_KEY_MOUNT}/{GCS_KEY_FILE}"))
    );
    let main = main_container(&d);
    assert!(
        mounts(main, GCS_KEY_VOLUME).is_empty(),
        "the app never sees the key"
    );
    // Nothing of the Secret travels as a variable, in either container.
    for c in [init, main] {
        assert!(
            c.env.iter().flatten().all(|e| e
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
                .is_none_or(|s| s.name != "gcs-sa")),
            "{}: a variable from the key's Secret",
            c.name
        );
    }
}

#[test]
fn bucket_prefix_size_and_app_name_reach_the_script() {
    let d = build(&with_packages(GCS), &NONE).expect("builds");
    let init = init_of(&d);
    assert_eq!(env_value(init, "GCS_BUCKET"), Some("my-cache"));
    assert_eq!(env_value(init, "GCS_PREFIX"), Some("team/"));
    assert_eq!(env_value(init, "GCS_MAX_ARCHIVE_BYTES"), Some("536870912"));
    assert_eq!(env_value(init, "KASPR_APP_NAME"), Some("orders"));
    let main = main_container(&d);
    for name in [
        "GCS_BUCKET",
        "GCS_PREFIX",
        "GCS_MAX_ARCHIVE_BYTES",
        "KASPR_APP_NAME",
    ] {
        assert!(
            env_var(main, name).is_none(),
            "{name} in the main container"
        );
    }

    // The defaults: upstream's prefix and 1Gi.
    let d = build(
        &with_packages(
            "    packages: [requests]\n    cache: {type: gcs, gcs: {bucket: my-cache, secretRef: {name: gcs-sa}}}\n",
        ),
        &NONE,
    )
    .expect("builds");
    let init = init_of(&d);
    assert_eq!(env_value(init, "GCS_PREFIX"), Some("kaspr-packages/"));
    assert_eq!(env_value(init, "GCS_MAX_ARCHIVE_BYTES"), Some("1073741824"));
    let secret = volume(pod_spec(&d), GCS_KEY_VOLUME)
        .secret
        .as_ref()
        .expect("secret");
    assert_eq!(
        secret.items.as_ref().map(|i| i[0].key.as_str()),
        Some("sa.json")
    );
}

#[test]
fn other_caches_have_no_key_and_no_gcs_variables() {
    for pp in [
        "    packages: [requests]\n",
        "    packages: [requests]\n    cache: {enabled: true}\n",
        // A gcs block without type: gcs is not used.
        "    packages: [requests]\n    cache: {gcs: {bucket: my-cache, secretRef: {name: gcs-sa}}}\n",
    ] {
        let d = build(&with_packages(pp), &NONE).expect("builds");
        let pod = pod_spec(&d);
        assert!(
            pod.volumes
                .iter()
                .flatten()
                .all(|v| v.name != GCS_KEY_VOLUME),
            "{pp}"
        );
        let init = init_of(&d);
        assert!(mounts(init, GCS_KEY_VOLUME).is_empty(), "{pp}");
        for name in ["GCS_BUCKET", "KASPR_APP_NAME"] {
            assert!(env_var(init, name).is_none(), "{pp}: {name}");
        }
    }
}

#[test]
fn the_endpoint_may_be_set_through_the_init_container_template() {
    // Not the operator's variable: a template may point the script at another endpoint (a
    // private Cloud Storage-compatible gateway, or an emulator in a test cluster).
    let a = AppBuilder::new("orders")
        .python_packages(GCS)
        .spec(|spec| {
            spec.template = Some(
                serde_yaml::from_str(
                    "pythonPackagesInitContainer:\n  env: [{name: KASPR_GCS_ENDPOINT, value: 'http://gcs.test:9023'}, {name: GCS_BUCKET, value: evil}]\n",
                )
                .expect("template"),
            );
        })
        .build();
    let d = build(&a, &NONE).expect("builds");
    let init = init_of(&d);
    assert_eq!(
        env_value(init, "KASPR_GCS_ENDPOINT"),
        Some("http://gcs.test:9023")
    );
    assert_eq!(
        env_value(init, "GCS_BUCKET"),
        Some("my-cache"),
        "the template cannot override the operator's own variables"
    );
}

#[test]
fn the_status_says_cache_mode_gcs() {
    let app = with_packages(GCS);
    let status = compute(
        &Observed {
            hpa: None,
            members: &[],
            linked: None,
            app: &app,
            hash: Some("0123456789abcdef"),
            statefulset: None,
            pods: &[],
            blocked: None,
        },
        now(),
    );
    let p = status
        .python_packages
        .as_ref()
        .expect("pythonPackages status");
    assert_eq!(p.cache_mode, Some(CacheMode::Gcs));
}
