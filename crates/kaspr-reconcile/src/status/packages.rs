//! The `pythonPackages` block of the status and its condition, from the reports of the pods that
//! run the desired hash.

use kaspr_script::{InstallReport, InstallResult};
use kaspr_types::{CacheUsage, InstallErrorType, OnFailure, PackagesState, PythonPackagesStatus};
use kube::ResourceExt;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::reports::{PodReport, init_running, pod_reports};
use super::{Blocked, Observed};
use crate::names::{HASH_ANNOTATION, INIT_CONTAINER};

/// Share of the cache above which the status warns.
const CACHE_WARN_PERCENT: f64 = 80.0;

/// The `PythonPackagesReady` condition of `p`; `updating` tells an update (another hash was
/// installed) from a first install, as upstream tells them (see [`updating`]).
pub(super) fn packages_condition(
    p: &PythonPackagesStatus,
    updating: bool,
    blocked: Option<&Blocked>,
    installing: Option<String>,
) -> (bool, &'static str, String) {
    if let Some(b) = blocked.filter(|b| b.concerns_packages()) {
        return (false, b.reason(), b.message());
    }
    match p.state {
        Some(PackagesState::Ready) => (true, "PackagesInstalled", ready_message(p)),
        Some(PackagesState::Failed) => (
            false,
            "InstallationFailed",
            format!(
                "{} Troubleshooting: {}",
                p.error
                    .clone()
                    .unwrap_or_else(|| InstallErrorType::Unknown.message().to_owned()),
                troubleshooting(p.error_type)
            ),
        ),
        Some(PackagesState::Installing) => {
            let what = match installing {
                Some(which) => format!("An init container is installing the packages: {which}"),
                None => "An init container is installing the packages".into(),
            };
            (false, if updating { UPDATING } else { "Installing" }, what)
        }
        // Upstream's reason before any pod runs too; `state` says Pending.
        _ => (
            false,
            if updating { UPDATING } else { "Installing" },
            "Waiting for a pod to install or find the packages".into(),
        ),
    }
}

/// Whether `p` installs another hash than the one installed before (upstream's
/// `PackagesUpdating`): the last written status was ready on another hash, or already said so
/// for this one.
pub(super) fn updating(
    p: &PythonPackagesStatus,
    previous: Option<&PythonPackagesStatus>,
    previous_reason: Option<&str>,
) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    let same_hash = previous.hash == p.hash;
    (previous.state == Some(PackagesState::Ready) && !same_hash)
        || (previous_reason == Some(UPDATING) && same_hash)
}

const UPDATING: &str = "PackagesUpdating";

/// The user guide, where each install error type has its own troubleshooting section.
pub const USER_GUIDE: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/docs/user-guide/python-packages.md"
);

/// The troubleshooting section of `error_type` in the user guide (its heading is the error
/// type's wire name, so the anchor is that name).
pub fn troubleshooting(error_type: Option<InstallErrorType>) -> String {
    match error_type {
        Some(t) => format!("{USER_GUIDE}#{}", t.as_str()),
        None => format!("{USER_GUIDE}#without-an-error-type"),
    }
}

fn ready_message(p: &PythonPackagesStatus) -> String {
    match (&p.installed_by, &p.install_duration) {
        (Some(by), Some(d)) => format!("{} packages installed by {by} in {d}", p.installed.len()),
        _ => format!("{} packages installed", p.installed.len()),
    }
}

/// Which install runs, for the Installing condition: the first pod (by name) of the desired hash
/// whose init container runs, its attempt and since when, e.g. `pod orders-app-0, attempt 2,
/// running since 2026-11-30T18:22:05Z (4m)`. Whole minutes only, so the status changes (and is
/// written) at most once a minute while an install runs.
pub(super) fn installing(observed: &Observed<'_>, now: &Time) -> Option<String> {
    let mut pods: Vec<&Pod> = observed
        .pods
        .iter()
        .filter(|p| p.annotations().get(HASH_ANNOTATION).map(String::as_str) == observed.hash)
        .filter(|p| init_running(p))
        .collect();
    pods.sort_by_key(|p| p.name_any());
    let pod = pods.first()?;
    let init = pod
        .status
        .as_ref()?
        .init_container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == INIT_CONTAINER)?;
    let attempt = init.restart_count + 1;
    let since = init
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref());
    Some(match since {
        Some(start) => {
            let minutes = now.0.duration_since(start.0).as_secs().max(0) / 60;
            format!(
                "pod {}, attempt {attempt}, running since {} ({minutes}m)",
                pod.name_any(),
                start.0
            )
        }
        None => format!("pod {}, attempt {attempt}", pod.name_any()),
    })
}

/// The keys of `reports` that carry a report (what the metrics count), sorted.
pub(crate) fn counted(reports: &[PodReport]) -> Vec<String> {
    let mut keys: Vec<String> = reports
        .iter()
        .filter(|r| r.report.is_some())
        .map(|r| r.key.clone())
        .collect();
    keys.sort();
    keys
}

/// The pythonPackages block: state from the reports of pods that run the desired hash.
pub(super) fn packages_status(observed: &Observed<'_>) -> PythonPackagesStatus {
    let spec = observed.app.spec.python_packages.as_ref();
    let mut status = PythonPackagesStatus {
        hash: observed.hash.map(str::to_owned),
        cache_mode: spec.map(kaspr_script::cache_mode),
        warnings: observed.app.spec.warnings(),
        ..Default::default()
    };
    if let Some(blocked) = observed.blocked.as_ref().filter(|b| b.concerns_packages()) {
        status.state = Some(PackagesState::Pending);
        status.error = Some(blocked.message());
        return status;
    }
    let current: Vec<PodReport> = pod_reports(observed.pods)
        .into_iter()
        .filter(|r| r.hash.as_deref() == observed.hash)
        .collect();
    // The reconcile counts every report of the desired hash before it writes the status.
    status.counted_reports = counted(&current);
    let installing = observed
        .pods
        .iter()
        .filter(|p| p.annotations().get(HASH_ANNOTATION).map(String::as_str) == observed.hash)
        .any(init_running);
    let failed = current.iter().find(|r| report_failed(r));
    let success = current
        .iter()
        .filter_map(|r| r.report.as_ref())
        .filter(|r| r.result != InstallResult::Failed)
        .max_by_key(|r| r.result == InstallResult::Installed);
    if let Some(latest) = current
        .iter()
        .filter_map(|r| r.report.as_ref())
        .max_by(|a, b| a.finished_at.cmp(&b.finished_at))
    {
        apply_cache_usage(&mut status, latest);
        if latest.stale_lock_recovered {
            status.warnings.push(format!(
                "{}: recovered a stale install lock left by a pod that died while installing",
                latest.pod
            ));
        }
    }
    if let Some(ok) = success {
        // What the env itself warns about (e.g. image packages it shadows under
        // `imagePackages: override`), once each.
        for warning in &ok.warnings {
            if !status.warnings.contains(warning) {
                status.warnings.push(warning.clone());
            }
        }
        status.installed = ok.installed.clone();
        status.installed_by = ok.installed_by.clone();
        status.last_install_time = ok.installed_at.clone();
        status.install_duration = ok.install_duration_seconds.map(human_duration);
    }
    status.state = Some(match (failed, success, installing) {
        (Some(f), _, _) => {
            record_failure(&mut status, f);
            if spec.is_some_and(|s| s.install_policy.on_failure == OnFailure::Allow) {
                status.warnings.push(format!(
                    "{} started without its packages (installPolicy.onFailure: allow)",
                    f.pod
                ));
            }
            PackagesState::Failed
        }
        (None, _, true) => PackagesState::Installing,
        (None, Some(_), false) => PackagesState::Ready,
        (None, None, false) => PackagesState::Pending,
    });
    status
}

/// `errorType` and `error` of a failed run (`unknown` when it left no report).
fn record_failure(status: &mut PythonPackagesStatus, failed: &PodReport) {
    let report = failed.report.as_ref();
    let error_type = report
        .and_then(|r| r.error_type)
        .unwrap_or(InstallErrorType::Unknown);
    status.error_type = Some(error_type);
    status.error = Some(error_text(
        error_type,
        report.and_then(|r| r.error.as_deref()),
    ));
}

/// The status `error`: the catalogue's message for `error_type`, then the script's detail line
/// when there is one. A detail that already starts with the message (scripts from before the
/// catalogue moved to the operator wrote the whole text) is used as it is.
pub fn error_text(error_type: InstallErrorType, detail: Option<&str>) -> String {
    let message = error_type.message();
    match detail.filter(|d| !d.trim().is_empty()) {
        None => message.to_owned(),
        Some(d) if d.starts_with(message) => d.to_owned(),
        Some(d) => format!("{message} {}", d.trim()),
    }
}

fn report_failed(r: &PodReport) -> bool {
    match &r.report {
        Some(report) => report.result == InstallResult::Failed,
        None => r.exit_code != 0,
    }
}

fn apply_cache_usage(status: &mut PythonPackagesStatus, report: &InstallReport) {
    let Some(cache) = &report.cache else { return };
    let percent = (cache.usage_percent() * 10.0).round() / 10.0;
    status.cache_usage = Some(CacheUsage {
        total_bytes: cache.total_bytes,
        used_bytes: cache.used_bytes,
        available_bytes: cache.available_bytes,
        usage_percent: percent,
    });
    if percent > CACHE_WARN_PERCENT {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        status.warnings.push(format!(
            "Package cache {percent:.1}% full ({:.2}GiB / {:.2}GiB); increase cache.size or lower cache.keepEnvs (see {USER_GUIDE}#sizing-with-a-worked-example)",
            gib(cache.used_bytes),
            gib(cache.total_bytes)
        ));
    }
}

/// `45s`, `2m30s`, `1h2m3s`.
pub fn human_duration(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}
