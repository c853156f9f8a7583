//! Status from recorded pod JSON: a pure function, no client. The states and conditions.

mod support;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kaspr_reconcile::status::{
    Blocked, Observed, compute, human_duration, with_blocked_ready, with_hung_members,
};
use kaspr_types::{CacheMode, InstallErrorType, PackagesState, condition};
use support::pods;
use support::status::{
    HASH, app, assert_warning, cond, now, packages, statefulset, status_from, status_of,
};

#[test]
fn installing() {
    let s = status_from("installing.json", Some(0));
    let p = packages(&s);
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
fn installing_another_hash_than_the_one_installed_is_packages_updating_until_it_is_done() {
    let mut a = app("");
    // Ready on another hash: the packages changed.
    let mut before = status_of(&a, &pods("installed.json"), Some(&statefulset(3)), None);
    if let Some(p) = before.python_packages.as_mut() {
        p.hash = Some("0123456789abcdef".into());
    }
    a.status = Some(before);
    let updating = status_of(&a, &pods("installing.json"), Some(&statefulset(0)), None);
    assert_eq!(
        cond(&updating, condition::PYTHON_PACKAGES_READY).reason,
        "PackagesUpdating"
    );
    // Still updating at the next look, then installed.
    a.status = Some(updating);
    let still = status_of(&a, &pods("installing.json"), Some(&statefulset(0)), None);
    assert_eq!(
        cond(&still, condition::PYTHON_PACKAGES_READY).reason,
        "PackagesUpdating"
    );
    a.status = Some(still);
    let done = status_of(&a, &pods("installed.json"), Some(&statefulset(3)), None);
    assert_eq!(
        cond(&done, condition::PYTHON_PACKAGES_READY).reason,
        "PackagesInstalled"
    );
    // A first install is Installing (see `installing`).
}

#[test]
fn installed_by_app_0_in_45s_and_cached_on_the_others() {
    let s = status_from("installed.json", Some(3));
    let p = packages(&s);
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
    let s = status_from("failed-auth.json", Some(0));
    let p = packages(&s);
    assert_eq!(
        (p.state, p.error_type),
        (
            Some(PackagesState::Failed),
            Some(InstallErrorType::Authentication)
        )
    );
    // The catalogue's message, then the script's detail line.
    let expected = "Authentication failed. Check credentials in referenced Secret. \
                    ERROR: HTTP error 401 while getting https://pypi.example.com/simple/pandas/";
    assert_eq!(p.error.as_deref(), Some(expected));
    let c = cond(&s, condition::PYTHON_PACKAGES_READY);
    let with_link = format!(
        "{expected} Troubleshooting: {}#authentication",
        kaspr_reconcile::status::USER_GUIDE
    );
    assert_eq!(
        (c.status.as_str(), c.reason.as_str(), c.message.as_str()),
        ("False", "InstallationFailed", with_link.as_str())
    );
}

#[test]
fn allow_failure_runs_pods_but_reports_failed_with_a_warning() {
    let a = app("    installPolicy: {onFailure: allow}\n");
    let s = status_of(&a, &pods("allow-failure.json"), Some(&statefulset(1)), None);
    let p = packages(&s);
    assert_eq!(p.state, Some(PackagesState::Failed));
    assert_eq!(p.error_type, Some(InstallErrorType::Network));
    assert_eq!(
        p.error.as_deref(),
        Some(InstallErrorType::Network.message()),
        "no detail line: the message alone"
    );
    assert_warning(p, |w| w.contains("started without its packages"));
}

#[test]
fn cache_85_percent_full_warns() {
    let s = status_from("cache-85.json", Some(3));
    let p = packages(&s);
    assert_eq!(p.cache_usage.as_ref().map(|c| c.usage_percent), Some(85.0));
    assert_warning(p, |w| w.starts_with("Package cache 85.0% full"));
}

#[test]
fn no_pods_yet_is_pending_without_error() {
    let a = app("");
    let s = status_of(&a, &[], None, None);
    let p = packages(&s);
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
        field: "spec.pythonPackages.credentials.secretRef",
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
            hpa: None,
            members: &[],
            linked: None,
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
fn pods_still_on_the_old_hash_neither_fail_nor_finish_the_install() {
    // The status only follows the desired hash: pods on the old one neither fail nor finish it.
    let s = status_from("rolling-update.json", None);
    let p = packages(&s);
    assert_eq!(p.state, Some(PackagesState::Installing));
}

#[test]
fn transition_time_is_kept_while_status_is_unchanged() {
    let mut a = app("");
    let first = status_of(&a, &pods("installed.json"), Some(&statefulset(3)), None);
    a.status = Some(first.clone());
    let later = compute(
        &Observed {
            hpa: None,
            members: &[],
            linked: None,
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
fn a_failed_read_replaces_only_ready_and_keeps_what_was_known() {
    let mut a = app("");
    a.status = Some(status_of(
        &a,
        &pods("installed.json"),
        Some(&statefulset(3)),
        None,
    ));
    let known = a.status.clone().expect("status");
    assert_eq!(cond(&known, condition::READY).status, "True");
    let blocked = Blocked::ReadFailed {
        what: "StatefulSet orders-app".into(),
        message: "the server is currently unable to handle the request".into(),
    };
    let status = with_blocked_ready(&a, &blocked, now());
    let ready = cond(&status, condition::READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "ReadFailed")
    );
    assert_eq!(
        ready.message,
        "Reading StatefulSet orders-app failed: the server is currently unable to handle the request"
    );
    assert_eq!(
        status
            .conditions
            .iter()
            .filter(|c| c.type_ == condition::READY)
            .count(),
        1
    );
    assert_eq!(
        status.python_packages, known.python_packages,
        "packages status kept"
    );
    assert_eq!(status.available_members, known.available_members);
}

#[test]
fn restarting_hung_members_is_ready_false_hung_members_as_upstream_says_it() {
    let a = app("");
    let written = status_of(&a, &pods("installed.json"), Some(&statefulset(3)), None);
    assert_eq!(cond(&written, condition::READY).status, "True");
    let status = with_hung_members(&a, &written, &[1, 2], now());
    let ready = cond(&status, condition::READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "HungMembers")
    );
    assert!(
        ready.message.starts_with("members 1, 2 were rebalancing"),
        "{}",
        ready.message
    );
    assert_eq!(status.conditions[0].type_, condition::READY);
    assert_eq!(status.conditions.len(), written.conditions.len());
    assert_eq!(
        cond(&status, condition::PROGRESSING),
        cond(&written, condition::PROGRESSING),
        "only Ready changes"
    );
    assert_eq!(status.python_packages, written.python_packages);
}

#[test]
fn warnings_of_the_env_such_as_shadowed_image_packages_show_once() {
    let shadow = "certifi 2026.5.20 from the image is shadowed by 2026.10.19 from pythonPackages \
                  (imagePackages: override)";
    // Every pod's report carries the env's warning (from its marker).
    let mut pods: serde_json::Value = serde_json::to_value(pods("installed.json")).expect("json");
    for pod in pods.as_array_mut().into_iter().flatten() {
        for c in pod["status"]["initContainerStatuses"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let terminated = &mut c["state"]["terminated"];
            let mut report: serde_json::Value =
                serde_json::from_str(terminated["message"].as_str().unwrap_or("{}"))
                    .expect("report");
            report["warnings"] = serde_json::json!([shadow]);
            terminated["message"] = report.to_string().into();
        }
    }
    let pods: Vec<Pod> = serde_json::from_value(pods).expect("pods");
    let a = app("");
    let s = status_of(&a, &pods, Some(&statefulset(3)), None);
    let p = packages(&s);
    assert_eq!(p.warnings, [shadow]);
}

#[test]
fn human_durations() {
    assert_eq!(human_duration(45.1), "45s");
    assert_eq!(human_duration(150.0), "2m30s");
    assert_eq!(human_duration(3723.0), "1h2m3s");
    assert_eq!(human_duration(0.02), "0s");
}

#[test]
fn an_autoscaler_without_metrics_is_named_as_why_the_app_is_not_ready() {
    let a = app("");
    let hpa: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "orders-app-hpa"},
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "orders-app"}, "maxReplicas": 3},
            "status": {"desiredReplicas": 1, "conditions": [{
                "type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                "message": "the HPA was unable to compute the replica count: unable to get metrics for resource memory"
            }]}
        }))
        .expect("hpa");
    let observed = |hpa| Observed {
        hpa,
        members: &[],
        linked: None,
        app: &a,
        hash: None,
        statefulset: None,
        pods: &[],
        blocked: None,
    };
    let s = compute(&observed(Some(&hpa)), now());
    let ready = cond(&s, condition::READY);
    assert_eq!(ready.reason, "ScalingInactive");
    assert!(
        ready.message.contains("FailedGetResourceMetric")
            && ready.message.contains("metrics-server"),
        "{}",
        ready.message
    );
    let s = compute(&observed(None), now());
    assert_eq!(cond(&s, condition::READY).reason, "NotReady");
}
