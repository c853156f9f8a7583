//! Status from recorded pod JSON: the install reports behind a failure — the error text from the
//! catalogue and the script's detail, and an init container the kubelet killed for memory.

mod support;

use k8s_openapi::api::core::v1::Pod;
use kaspr_reconcile::metrics;
use kaspr_reconcile::status::{error_text, pod_reports};
use kaspr_types::{InstallErrorType, PackagesState, condition};
use support::pods;
use support::status::{HASH, app, cond, packages, status_from, status_of};

/// The fixture with the install report's `error` replaced by `error` (removed when None).
fn failed_auth_with_error(error: Option<&str>) -> Vec<Pod> {
    let mut pods = serde_json::to_value(pods("failed-auth.json")).expect("json");
    let message =
        &mut pods[0]["status"]["initContainerStatuses"][0]["lastState"]["terminated"]["message"];
    let mut report: serde_json::Value =
        serde_json::from_str(message.as_str().expect("message")).expect("report");
    match error {
        Some(e) => report["error"] = e.into(),
        None => {
            report.as_object_mut().map(|r| r.remove("error"));
        }
    }
    *message = report.to_string().into();
    serde_json::from_value(pods).expect("pods")
}

#[test]
fn an_older_scripts_full_error_text_is_used_unchanged() {
    let a = app("");
    let old =
        "Authentication failed. Check credentials in referenced Secret. ERROR: HTTP error 401";
    let s = status_of(&a, &failed_auth_with_error(Some(old)), None, None);
    let p = packages(&s);
    assert_eq!(p.error.as_deref(), Some(old), "the message is not repeated");
    let s = status_of(&a, &failed_auth_with_error(None), None, None);
    let p = packages(&s);
    assert_eq!(
        p.error.as_deref(),
        Some(InstallErrorType::Authentication.message())
    );
}

#[test]
fn error_text_is_the_catalogue_message_then_the_detail() {
    let t = InstallErrorType::Permission;
    assert_eq!(error_text(t, None), t.message());
    assert_eq!(
        error_text(t, Some("  ")),
        t.message(),
        "a blank detail is none"
    );
    assert_eq!(
        error_text(t, Some("cannot write /packages/.locks (uid 65534)")),
        format!("{} cannot write /packages/.locks (uid 65534)", t.message())
    );
    let full = format!("{} already whole", t.message());
    assert_eq!(error_text(t, Some(&full)), full);
}

#[test]
fn oom_killed_init_container_without_a_report_is_out_of_memory() {
    let s = status_from("oom-killed.json", Some(0));
    let p = packages(&s);
    assert_eq!(p.state, Some(PackagesState::Failed));
    assert_eq!(p.error_type, Some(InstallErrorType::OutOfMemory));
    let error = p.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with(InstallErrorType::OutOfMemory.message()),
        "{error}"
    );
    assert!(
        error.contains("OOMKilled") && error.contains("256Mi"),
        "names the kill and the limit: {error}"
    );
    assert!(
        !error.contains("Downloading torch"),
        "the log tail is no report"
    );
    let c = cond(&s, condition::PYTHON_PACKAGES_READY);
    assert_eq!(c.reason, "InstallationFailed");
    assert_eq!(
        c.message,
        format!(
            "{error} Troubleshooting: {}#out_of_memory",
            kaspr_reconcile::status::USER_GUIDE
        ),
        "the error, then where to read about it"
    );
    let reports = pod_reports(&pods("oom-killed.json"));
    let r = reports[0].report.as_ref().expect("a synthesized report");
    assert_eq!(reports[0].key, "uid-0/0", "the run before the restart");
    assert_eq!((r.hash.as_str(), r.pod.as_str()), (HASH, "orders-app-0"));
    assert_eq!(r.duration_seconds, 41.0);
}

/// The OOM fixture whose killed run did write a report (e.g. the installer was killed, the
/// script reported and exited).
fn oom_with_report(result: &str, error_type: &str) -> Vec<Pod> {
    let mut pods = serde_json::to_value(pods("oom-killed.json")).expect("json");
    let report = serde_json::json!({"v": 1, "result": result, "hash": HASH, "pythonTag": "cp39",
        "installer": "pip", "pod": "orders-app-0", "startedAt": "2026-11-26T10:30:00Z",
        "finishedAt": "2026-11-26T10:30:41Z", "durationSeconds": 41.0, "attempts": 1,
        "errorType": error_type, "error": "installer killed by signal 9", "warnings": []});
    pods[0]["status"]["initContainerStatuses"][0]["lastState"]["terminated"]["message"] =
        report.to_string().into();
    serde_json::from_value(pods).expect("pods")
}

#[test]
fn oom_killed_with_a_failed_report_is_out_of_memory_and_keeps_the_detail() {
    let a = app("");
    let s = status_of(&a, &oom_with_report("failed", "unknown"), None, None);
    let p = packages(&s);
    assert_eq!(p.error_type, Some(InstallErrorType::OutOfMemory));
    assert_eq!(
        p.error.as_deref(),
        Some(
            format!(
                "{} installer killed by signal 9",
                InstallErrorType::OutOfMemory.message()
            )
            .as_str()
        )
    );
    // A success the script reported stands, whatever the kubelet says.
    let s = status_of(&a, &oom_with_report("installed", "unknown"), None, None);
    let p = packages(&s);
    assert_eq!(p.error_type, None);
    assert_ne!(p.state, Some(PackagesState::Failed));
}

#[test]
fn oom_killed_is_counted_under_out_of_memory() {
    let a = app("");
    let (m, export) = metrics::prometheus().expect("exporter");
    for r in pod_reports(&pods("oom-killed.json")) {
        m.record_report(&a, r.report.as_ref().expect("report"));
    }
    let text = export.render();
    assert!(
        text.contains("kasprop_package_install_errors_total{app_name=\"orders\",error_type=\"out_of_memory\",namespace=\"default\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("kasprop_package_install_total{app_name=\"orders\",namespace=\"default\",result=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("kasprop_package_install_timeouts_total{"),
        "{text}"
    );
}

/// Every failed install's condition links the user guide's section for its error type, and the
/// guide has that section (its heading is the error type's wire name).
#[test]
fn a_failed_install_points_at_its_troubleshooting_section() {
    use kaspr_reconcile::status::{USER_GUIDE, troubleshooting};
    let guide = std::fs::read_to_string(
        kaspr_test_support::workspace_root().join("docs/user-guide/python-packages.md"),
    )
    .expect("user guide");
    let names = kaspr_test_support::schema::allowed_strings::<InstallErrorType>();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let error_type: InstallErrorType =
            serde_json::from_value(serde_json::Value::String(name)).expect("a variant");
        let link = troubleshooting(Some(error_type));
        assert_eq!(link, format!("{USER_GUIDE}#{}", error_type.as_str()));
        assert!(
            guide.contains(&format!("### `{}`", error_type.as_str())),
            "the guide has no section for {error_type}"
        );
    }
    assert!(guide.contains("### Without an error type"));
    assert!(guide.contains("### Sizing, with a worked example"));
    assert!(USER_GUIDE.starts_with("https://"));
}
