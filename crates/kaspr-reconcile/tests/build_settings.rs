//! The app's settings as built: Kafka security in the ConfigMap and the environment, table
//! storage as an emptyDir or a claim template.

mod support;

use kaspr_types::KasprApp;
use support::build::{
    NONE, app_with_spec, build, env_var, main_container, mounts, pod_spec, statefulset_spec,
    storage, volume,
};

/// The app `orders` on `k:9093` with the spec lines `spec` (indented by two).
fn kafka_app(spec: &str) -> KasprApp {
    app_with_spec("orders", &format!("  bootstrapServers: k:9093\n{spec}"))
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

#[test]
fn ephemeral_storage_is_an_empty_dir_and_no_claim_template() {
    let d = build(&kafka_app("  storage: {type: ephemeral}\n"), &NONE).expect("builds");
    let spec = statefulset_spec(&d);
    assert!(spec.volume_claim_templates.is_none());
    assert!(spec.persistent_volume_claim_retention_policy.is_none());
    let table = volume(pod_spec(&d), "orders-app-pv");
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

#[test]
fn every_pod_template_field_reaches_the_pod_spec() {
    let a = kafka_app(
        "  template:\n    pod:\n      enableServiceLinks: false\n      priorityClassName: high\n      schedulerName: custom\n      terminationGracePeriodSeconds: 45\n      nodeSelector: {disk: ssd}\n      imagePullSecrets: [{name: regcred}]\n      hostAliases: [{ip: 10.0.0.1, hostnames: [kafka.local]}]\n      tolerations: [{key: dedicated, operator: Exists}]\n      securityContext: {runAsNonRoot: true}\n",
    );
    let d = build(&a, &NONE).expect("builds");
    let pod = pod_spec(&d);
    assert_eq!(pod.enable_service_links, Some(false));
    assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
    assert_eq!(pod.scheduler_name.as_deref(), Some("custom"));
    assert_eq!(pod.termination_grace_period_seconds, Some(45));
    assert_eq!(
        pod.node_selector.as_ref().map(|n| n["disk"].as_str()),
        Some("ssd")
    );
    assert_eq!(pod.image_pull_secrets.as_ref().map(Vec::len), Some(1));
    assert_eq!(pod.host_aliases.as_ref().map(Vec::len), Some(1));
    assert_eq!(pod.tolerations.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        pod.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root),
        Some(true)
    );
    let plain = build(&kafka_app(""), &NONE).expect("builds");
    assert_eq!(
        pod_spec(&plain).enable_service_links,
        None,
        "unset: the Kubernetes default"
    );
}

#[test]
fn a_template_env_entry_overrides_the_operators_of_that_name_once() {
    let a = app_with_spec(
        "orders",
        "  bootstrapServers: k:9092\n  pythonPackages:\n    packages: [requests]\n  template:\n    kasprContainer:\n      env:\n      - {name: K_WEB_HOST, value: orders.example.com}\n      - {name: PACKAGES_HASH, value: mine}\n      - {name: EXTRA, value: x}\n",
    );
    let d = build(&a, &NONE).expect("builds");
    let main = main_container(&d);
    let env = main.env.as_deref().unwrap_or_default();
    let named = |n: &str| env.iter().filter(|e| e.name == n).collect::<Vec<_>>();
    assert_eq!(named("K_WEB_HOST").len(), 1, "no duplicate name");
    assert_eq!(
        env_var(main, "K_WEB_HOST").and_then(|e| e.value.as_deref()),
        Some("orders.example.com")
    );
    assert_ne!(
        env_var(main, "PACKAGES_HASH").and_then(|e| e.value.as_deref()),
        Some("mine"),
        "the packages hash stays the operator's: it rolls the pods"
    );
    assert_eq!(named("PACKAGES_HASH").len(), 1);
    assert_eq!(
        env_var(main, "EXTRA").and_then(|e| e.value.as_deref()),
        Some("x")
    );
}
