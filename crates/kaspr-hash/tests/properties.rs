//! What the hash depends on and what it does not: its shape, order and spelling, each hashed
//! field, the fields left out, and the error for a spec that was not validated.

mod support;

use kaspr_hash::packages_hash;
use kaspr_test_support::app::python_packages as spec;
use support::hash;

#[test]
fn hash_is_sixteen_lowercase_hex() {
    let h = hash("packages: [flask]");
    assert_eq!(h.len(), 16);
    assert!(
        h.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{h}"
    );
}

#[test]
fn order_and_spelling_do_not_matter() {
    let base = hash("packages: [requests==2.31.0, pandas>=2.0]");
    assert_eq!(
        hash("packages: [pandas>=2.0, requests==2.31.0]"),
        base,
        "list order"
    );
    assert_eq!(
        hash("packages: ['Requests == 2.31.0', 'pandas >= 2.0']"),
        base,
        "PEP 508 canonical form"
    );
    assert_eq!(
        hash("packages: [requests==2.31.0, pandas>=2.0, requests==2.31.0]"),
        base,
        "duplicates"
    );
    assert_eq!(
        hash("packages: [requests==2.31.0, Pandas>=2.0]\ninstaller: pip"),
        base,
        "explicit default installer"
    );
    // Field order in the manifest.
    let a = hash("indexUrl: https://i.example/simple\npackages: [x]\ntrustedHosts: [b, a]");
    let b = hash("trustedHosts: [a, B]\npackages: [x]\nindexUrl: https://i.example/simple");
    assert_eq!(a, b, "field order, host order and host case");
    let c = hash("packages: [x]\nextraIndexUrls: [https://b.example/s, https://a.example/s]");
    let d = hash("extraIndexUrls: [https://a.example/s, https://b.example/s]\npackages: [x]");
    assert_eq!(c, d, "extra index order");
}

#[test]
fn every_hashed_field_changes_the_hash() {
    let base = "packages: [requests==2.31.0]\nindexUrl: https://i.example/simple\n";
    let h = hash(base);
    for changed in [
        "packages: [requests==2.32.0]\nindexUrl: https://i.example/simple\n",
        "packages: [requests==2.31.0, six]\nindexUrl: https://i.example/simple\n",
        "packages: [requests]\nindexUrl: https://i.example/simple\n",
        "packages: ['requests[socks]==2.31.0']\nindexUrl: https://i.example/simple\n",
        "packages: [requests==2.31.0]\nindexUrl: https://j.example/simple\n",
        "packages: [requests==2.31.0]\n",
        &format!("{base}extraIndexUrls: [https://e.example/simple]\n"),
        &format!("{base}trustedHosts: [i.example]\n"),
        &format!("{base}installer: uv\n"),
    ] {
        assert_ne!(hash(changed), h, "no change for:\n{changed}");
    }
}

#[test]
fn credentials_policy_cache_and_resources_do_not_change_the_hash() {
    let base = "packages: [requests==2.31.0]\nindexUrl: https://i.example/simple\n";
    let h = hash(base);
    for same in [
        "credentials: {secretRef: {name: creds}}",
        "credentials: {secretRef: {name: other-creds, usernameKey: u, passwordKey: p}}",
        "installPolicy: {retries: 0, timeout: 60, onFailure: allow}",
        "cache: {enabled: true, size: 9Gi, accessMode: ReadWriteOnce, deleteClaim: false, keepEnvs: 7, storageClass: nfs}",
        "resources: {limits: {memory: 2Gi}}",
    ] {
        assert_eq!(hash(&format!("{base}{same}\n")), h, "changed by: {same}");
    }
}

#[test]
fn invalid_requirement_is_an_error_naming_its_index() {
    let err = packages_hash(&spec("packages: [ok, '-e .']")).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "spec.pythonPackages.packages[1] is not a PEP 508 requirement"
    );
}
