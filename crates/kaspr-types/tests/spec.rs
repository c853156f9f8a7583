//! The spec as a whole: what parsing refuses, the defaults, every error at once, warnings and
//! unknown fields.

use kaspr_test_support::app::spec_with_python_packages as spec_with;
use kaspr_test_support::check::errors;
use kaspr_types::KasprAppSpec;

#[test]
fn enums_and_unknown_fields_are_refused_when_parsing() {
    for (yaml, needle) in [
        (
            "  packages: [a]\n  installPolicy: {onFailure: warn}\n",
            "warn",
        ),
        ("  packages: [a]\n  installer: conda\n", "conda"),
        (
            "  packages: [a]\n  cache: {accessMode: ReadOnlyMany}\n",
            "ReadOnlyMany",
        ),
        ("  packages: [a]\n  bogus: 1\n", "bogus"),
        ("  packages: [a]\n  installPolicy: {retries: -1}\n", "-1"),
    ] {
        let text = format!("bootstrapServers: k:9092\npythonPackages:\n{yaml}");
        let err = serde_yaml::from_str::<KasprAppSpec>(&text)
            .expect_err(yaml)
            .to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn defaults_are_applied() {
    let spec = spec_with("  packages: [requests]\n  credentials: {secretRef: {name: s}}\n");
    let pp = spec.python_packages.expect("pythonPackages");
    assert_eq!(
        pp.install_policy.retries,
        kaspr_types::defaults::INSTALL_RETRIES
    );
    assert_eq!(pp.install_policy.attempts(), 4);
    assert_eq!(pp.install_policy.timeout, 600);
    assert_eq!(pp.install_policy.on_failure, kaspr_types::OnFailure::Block);
    assert_eq!(pp.installer, kaspr_types::Installer::Pip);
    assert!(!pp.cache.enabled);
    assert_eq!(pp.cache.size, "256Mi");
    assert_eq!(
        pp.cache.access_mode,
        kaspr_types::CacheAccessMode::ReadWriteMany
    );
    assert!(pp.cache.delete_claim);
    assert_eq!(pp.cache.keep_envs, 2);
    let creds = pp.credentials.expect("credentials");
    assert_eq!(creds.secret_ref.username_key, "username");
    assert_eq!(creds.secret_ref.password_key, "password");
}

#[test]
fn several_errors_are_all_reported_sorted_by_path() {
    let errs = errors(
        "  packages: [\"-e .\"]\n  indexUrl: ftp://x\n  trustedHosts: [\"a b\"]\n  installPolicy: {retries: 99}\n",
    );
    let paths: Vec<&str> = errs.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.pythonPackages.indexUrl",
            "spec.pythonPackages.installPolicy.retries",
            "spec.pythonPackages.packages[0]",
            "spec.pythonPackages.trustedHosts[0]",
        ]
    );
    assert_eq!(errs.to_string().lines().count(), 4);
}

#[test]
fn warnings() {
    let mut spec =
        spec_with("  packages: [a]\n  cache: {enabled: true, accessMode: ReadWriteOnce}\n");
    spec.replicas = Some(3);
    spec.image = Some("registry.example/kaspr:custom".into());
    let w = spec.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("spec.image"));
    assert!(w[1].contains("ReadWriteOnce with 3 replicas"));
    spec.replicas = Some(1);
    spec.image = None;
    assert!(spec.warnings().is_empty());
}

#[test]
fn unknown_spec_fields_are_kept_accepted_and_named_in_a_warning() {
    let spec: KasprAppSpec =
        serde_yaml::from_str("bootstrapServers: k:9092\npythonPackage: {a: 1}\n").expect("parses");
    spec.check().expect("accepted, as upstream accepts it");
    assert_eq!(
        spec.warnings(),
        [
            "spec.pythonPackage is not a KasprApp field and is ignored; check its spelling \
          (`kubectl explain kasprapp.spec`)"
        ]
    );
    let back = serde_json::to_value(&spec).expect("serialises");
    assert_eq!(back["pythonPackage"]["a"], 1, "kept, not lost");
}

#[test]
fn default_values_are_the_apis_defaults() {
    // `Default` in Rust and the serde defaults of an omitted field agree, so code that builds a
    // spec gets what a manifest that leaves the fields out gets.
    let parsed: kaspr_types::PythonPackagesSpec =
        serde_yaml::from_str("packages: []").expect("parses");
    assert_eq!(parsed, kaspr_types::PythonPackagesSpec::default());
    let parsed: KasprAppSpec = serde_yaml::from_str("bootstrapServers: ''").expect("parses");
    assert_eq!(parsed, KasprAppSpec::default());
    let parsed: kaspr_types::InstallPolicy = serde_yaml::from_str("{}").expect("parses");
    assert_eq!(parsed, kaspr_types::InstallPolicy::default());
    let parsed: kaspr_types::PackagesCache = serde_yaml::from_str("{}").expect("parses");
    assert_eq!(parsed, kaspr_types::PackagesCache::default());
}

#[test]
fn a_default_app_is_an_empty_kasprapp() {
    let app = kaspr_types::KasprApp::default();
    assert_eq!(app.spec, KasprAppSpec::default());
    assert!(app.status.is_none());
    assert!(app.metadata.name.is_none());
}
