//! The live set as built: the desired hash and every pod's, in a ConfigMap only the init
//! container mounts; and what the main container sees of the packages volume.

mod support;

use kaspr_reconcile::build::{
    Desired, Existing, LIVE_HASHES_KEY, LIVE_MOUNT, SITE_LINK, live_hashes, script_paths,
};
use support::build::{
    NONE, build, env_value, main_container, mounts, pod_spec, pod_with_hash, volume, with_packages,
};
use support::pods;

/// pythonPackages blocks without and with the shared cache.
const CACHE_OFF_AND_ON: [&str; 2] = [
    "    packages: [requests]\n",
    "    packages: [requests]\n    cache: {enabled: true}\n",
];

fn live_hashes_of(d: &Desired) -> &str {
    let cm = d.live_set.as_ref().expect("live-set ConfigMap");
    cm.data
        .as_ref()
        .and_then(|data| data.get(LIVE_HASHES_KEY))
        .map(String::as_str)
        .expect("live-hashes key")
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
            pods: &running,
            ..NONE
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
    for pp in CACHE_OFF_AND_ON {
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
    let source = volume(pod, "python-packages-live")
        .config_map
        .as_ref()
        .expect("a ConfigMap volume");
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
    for pp in CACHE_OFF_AND_ON {
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
