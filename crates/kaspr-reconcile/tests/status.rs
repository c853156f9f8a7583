//! Status from recorded pod JSON: a pure function, no client.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kaspr_reconcile::status::{Blocked, Observed, compute, human_duration};
use kaspr_types::{
    CacheMode, InstallErrorType, KasprApp, KasprAppStatus, PackagesState, condition,
};

const HASH: &str = "a38d296f011adb6e";

fn app(extra: &str) -> KasprApp {
    serde_yaml::from_str(&format!(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: orders, namespace: default, generation: 3}}\nspec:\n  bootstrapServers: k:9092\n  replicas: 3\n  pythonPackages:\n    packages: [pandas==2.1.0]\n    cache: {{enabled: true}}\n{extra}"
    ))
    .expect("app")
}

fn pods(fixture: &str) -> Vec<Pod> {
    let path = format!(
        "{}/tests/fixtures/pods/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("pod JSON")
}

fn statefulset(ready: i32) -> StatefulSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "orders-app", "generation": 2},
        "spec": {"replicas": 3, "serviceName": "orders-app", "selector": {}, "template": {}},
        "status": {"replicas": 3, "readyReplicas": ready, "updatedReplicas": 3, "observedGeneration": 2,
                   "currentRevision": "r1", "updateRevision": "r1"}
    }))
    .expect("sts")
}

fn now() -> Time {
    Time("2026-11-26T10:31:00Z".parse().expect("time"))
}

fn status_of(
    app: &KasprApp,
    pods: &[Pod],
    sts: Option<&StatefulSet>,
    blocked: Option<Blocked>,
) -> KasprAppStatus {
    compute(
        &Observed {
            app,
            hash: Some(HASH),
            statefulset: sts,
            pods,
            blocked,
        },
        now(),
    )
}

fn cond<'a>(
    s: &'a KasprAppStatus,
    t: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("no {t} condition"))
}

#[test]
fn installing() {
    let a = app("");
    let s = status_of(&a, &pods("installing.json"), Some(&statefulset(0)), None);
    let p = s.python_packages.as_ref().expect("packages status");
    assert_eq!(p.state, Some(PackagesState::Installing));
    assert_eq!(cond(&s, condition::PYTHON_PACKAGES_READY).status, "False");
    assert_eq!(
        cond(&s, condition::PYTHON_PACKAGES_READY).reason,
        "Installing"
    );
    assert_eq!(cond(&s, condition::READY).status, "False");
    assert_eq!(s.observed_generation, Some(3));
    assert!(
        s.conditions
            .iter()
            .all(|c| c.observed_generation == Some(3))
    );
}

#[test]
fn installed_by_app_0_in_45s_and_cached_on_the_others() {
    let a = app("");
    let s = status_of(&a, &pods("installed.json"), Some(&statefulset(3)), None);
    let p = s.python_packages.as_ref().expect("packages status");
    assert_eq!(p.state, Some(PackagesState::Ready));
    assert_eq!(p.hash.as_deref(), Some(HASH));
    assert_eq!(p.installed_by.as_deref(), Some("orders-app-0"));
    assert_eq!(p.install_duration.as_deref(), Some("45s"));
    assert_eq!(p.last_install_time.as_deref(), Some("2026-11-26T10:30:45Z"));
    assert_eq!(
        p.installed,
        ["pandas==2.1.0", "numpy==1.26.4", "requests==2.31.0"]
    );
    assert_eq!(p.cache_mode, Some(CacheMode::SharedPvc));
    assert_eq!(p.cache_usage.as_ref().map(|c| c.usage_percent), Some(20.0));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(p.error.is_none() && p.error_type.is_none());
    assert_eq!(cond(&s, condition::PYTHON_PACKAGES_READY).status, "True");
    assert_eq!(cond(&s, condition::READY).status, "True");
    assert_eq!(cond(&s, condition::PROGRESSING).status, "False");
    assert_eq!(s.available_members.as_deref(), Some("3/3"));
}

#[test]
fn failed_with_authentication() {
    let a = app("");
    let s = status_of(&a, &pods("failed-auth.json"), Some(&statefulset(0)), None);
    let p = s.python_packages.as_ref().expect("packages status");
    assert_eq!(p.state, Some(PackagesState::Failed));
    assert_eq!(p.error_type, Some(InstallErrorType::Authentication));
    assert!(
        p.error
            .as_deref()
            .unwrap_or_default()
            .starts_with("Authentication failed. Check credentials")
    );
    let c = cond(&s, condition::PYTHON_PACKAGES_READY);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "InstallFailed")
    );
}

#[test]
fn allow_failure_runs_pods_but_reports_failed_with_a_warning() {
    let a = app("    installPolicy: {onFailure: allow}\n");
    let s = status_of(&a, &pods("allow-failure.json"), Some(&statefulset(1)), None);
    let p = s.python_packages.as_ref().expect("packages status");
    assert_eq!(p.state, Some(PackagesState::Failed));
    assert_eq!(p.error_type, Some(InstallErrorType::Network));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("started without its packages")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn cache_85_percent_full_warns() {
    let a = app("");
    let s = status_of(&a, &pods("cache-85.json"), Some(&statefulset(3)), None);
    let p = s.python_packages.as_ref().expect("packages status");
    assert_eq!(p.cache_usage.as_ref().map(|c| c.usage_percent), Some(85.0));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("Package cache 85.0% full")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn no_pods_yet_is_pending_without_error() {
    let a = app("");
    let s = status_of(&a, &[], None, None);
    let p = s.python_packages.as_ref().expect("packages status");
    assert_eq!(p.state, Some(PackagesState::Pending));
    assert!(p.error.is_none());
    assert_eq!(s.available_members.as_deref(), Some("0/3"));
}

#[test]
fn missing_secret_names_secret_and_key_never_data() {
    let a = app("");
    let blocked = Blocked::SecretKeyMissing {
        secret: "pypi-creds".into(),
        key: "password".into(),
    };
    let s = status_of(&a, &[], None, Some(blocked));
    let c = cond(&s, condition::PYTHON_PACKAGES_READY);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "SecretKeyNotFound")
    );
    assert!(
        c.message.contains("\"pypi-creds\"") && c.message.contains("\"password\""),
        "{}",
        c.message
    );
}

#[test]
fn reports_of_an_older_hash_are_ignored() {
    let a = app("");
    let s = compute(
        &Observed {
            app: &a,
            hash: Some("0000000000000000"),
            statefulset: None,
            pods: &pods("failed-auth.json"),
            blocked: None,
        },
        now(),
    );
    assert_eq!(
        s.python_packages.as_ref().and_then(|p| p.state),
        Some(PackagesState::Pending)
    );
}

#[test]
fn transition_time_is_kept_while_status_is_unchanged() {
    let mut a = app("");
    let first = status_of(&a, &pods("installed.json"), Some(&statefulset(3)), None);
    a.status = Some(first.clone());
    let later = compute(
        &Observed {
            app: &a,
            hash: Some(HASH),
            statefulset: Some(&statefulset(3)),
            pods: &pods("installed.json"),
            blocked: None,
        },
        Time("2026-11-26T11:00:00Z".parse().expect("time")),
    );
    assert_eq!(
        cond(&later, condition::READY).last_transition_time,
        cond(&first, condition::READY).last_transition_time
    );
}

#[test]
fn human_durations() {
    assert_eq!(human_duration(45.1), "45s");
    assert_eq!(human_duration(150.0), "2m30s");
    assert_eq!(human_duration(3723.0), "1h2m3s");
    assert_eq!(human_duration(0.02), "0s");
}
