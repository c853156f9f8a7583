//! Status as a pure function of what was observed: the app, its StatefulSet, its pods and the
//! install reports they carry. No client, no clock (the time is passed in).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kaspr_script::{InstallReport, InstallResult};
use kaspr_types::{
    CacheMode, CacheUsage, InstallErrorType, Installer, KasprApp, KasprAppStatus, OnFailure,
    PackagesState, PythonPackagesStatus, condition,
};
use kube::ResourceExt;

use crate::names::{HASH_ANNOTATION, INIT_CONTAINER};

/// The reason the kubelet gives a container it killed for its memory limit.
const OOM_KILLED: &str = "OOMKilled";

/// Share of the cache above which the status warns.
pub const CACHE_WARN_PERCENT: f64 = 80.0;

/// Why the operator held the rollout, if it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// The spec failed validation; the message lists every field error.
    InvalidSpec(String),
    /// The credentials Secret does not exist.
    SecretMissing { secret: String },
    /// The Secret exists but lacks a key.
    SecretKeyMissing { secret: String, key: String },
    /// The API server refused a server-side apply of a child; `message` is the API's own.
    ApplyFailed {
        kind: String,
        name: String,
        message: String,
    },
    /// Reading what the app depends on failed (e.g. `StatefulSet orders-app`); `message` is the
    /// API's own.
    ReadFailed { what: String, message: String },
}

impl Blocked {
    pub fn reason(&self) -> &'static str {
        match self {
            Blocked::InvalidSpec(_) => "InvalidSpec",
            Blocked::SecretMissing { .. } => "SecretNotFound",
            Blocked::SecretKeyMissing { .. } => "SecretKeyNotFound",
            Blocked::ApplyFailed { .. } => "ApplyFailed",
            Blocked::ReadFailed { .. } => "ReadFailed",
        }
    }

    /// Whether the block is about the packages (spec or Secret). A refused apply is not: the
    /// packages status still reads what the pods report.
    fn concerns_packages(&self) -> bool {
        !matches!(
            self,
            Blocked::ApplyFailed { .. } | Blocked::ReadFailed { .. }
        )
    }

    pub fn message(&self) -> String {
        match self {
            Blocked::InvalidSpec(errors) => {
                format!("The spec is invalid; fix it to continue: {errors}")
            }
            Blocked::SecretMissing { secret } => format!(
                "Secret {secret:?} referenced by spec.pythonPackages.credentials.secretRef does not exist; \
                 create it in the app's namespace (the rollout resumes when it appears)"
            ),
            Blocked::SecretKeyMissing { secret, key } => format!(
                "Secret {secret:?} has no key {key:?} (spec.pythonPackages.credentials.secretRef); \
                 add the key or point usernameKey/passwordKey at an existing one"
            ),
            Blocked::ApplyFailed {
                kind,
                name,
                message,
            } => format!("Applying {kind} {name} failed: {message}"),
            Blocked::ReadFailed { what, message } => format!("Reading {what} failed: {message}"),
        }
    }
}

/// Everything the status depends on.
pub struct Observed<'a> {
    pub app: &'a KasprApp,
    /// The hash the desired pods carry (None without pythonPackages or when the spec is invalid).
    pub hash: Option<&'a str>,
    pub statefulset: Option<&'a StatefulSet>,
    pub pods: &'a [Pod],
    pub blocked: Option<Blocked>,
}

/// One install report found on a pod, with the key that makes it countable once.
#[derive(Clone, Debug, PartialEq)]
pub struct PodReport {
    /// `<pod uid>/<restart count>`: a new report only when the init container ran again.
    pub key: String,
    pub pod: String,
    pub hash: Option<String>,
    pub report: Option<InstallReport>,
    /// Exit code of the init container run that left this report.
    pub exit_code: i32,
}

/// The reports on `pods`: from the init container's current state, or from its last state while
/// it runs again after a failure.
pub fn pod_reports(pods: &[Pod]) -> Vec<PodReport> {
    pods.iter().filter_map(pod_report).collect()
}

fn pod_report(pod: &Pod) -> Option<PodReport> {
    let status = pod.status.as_ref()?;
    let init = status
        .init_container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == INIT_CONTAINER)?;
    let (terminated, restarts): (&ContainerStateTerminated, i32) =
        match init.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            Some(t) => (t, init.restart_count),
            None => (
                init.last_state.as_ref()?.terminated.as_ref()?,
                init.restart_count - 1,
            ),
        };
    let uid = pod.metadata.uid.clone().unwrap_or_else(|| pod.name_any());
    Some(PodReport {
        key: format!("{uid}/{restarts}"),
        pod: pod.name_any(),
        hash: pod.annotations().get(HASH_ANNOTATION).cloned(),
        report: run_report(pod, terminated),
        exit_code: terminated.exit_code,
    })
}

/// The report one run of the init container left. A run the kubelet killed for its memory limit
/// (`OOMKilled`) is a failed `out_of_memory` install, whether the script wrote a failed report
/// first (its details are kept) or nothing valid at all (one is made up from the pod); a success
/// it reported stands.
fn run_report(pod: &Pod, terminated: &ContainerStateTerminated) -> Option<InstallReport> {
    let parsed = terminated
        .message
        .as_deref()
        .and_then(|m| InstallReport::parse(m).ok());
    if terminated.reason.as_deref() != Some(OOM_KILLED) {
        return parsed;
    }
    Some(match parsed {
        Some(r) if r.result != InstallResult::Failed => r,
        Some(r) => InstallReport {
            error_type: Some(InstallErrorType::OutOfMemory),
            ..r
        },
        None => oom_report(pod, terminated),
    })
}

/// A failed `out_of_memory` report for an `OOMKilled` run that left none. What only the script
/// knows (pythonTag, installer, cache usage) is left empty or default: status and metrics do not
/// read it from a failure.
fn oom_report(pod: &Pod, terminated: &ContainerStateTerminated) -> InstallReport {
    let started = terminated.started_at.as_ref().map(|t| t.0);
    let finished = terminated.finished_at.as_ref().map(|t| t.0);
    let duration = match (started, finished) {
        (Some(s), Some(f)) => (f.as_second() - s.as_second()).max(0) as f64,
        _ => 0.0,
    };
    InstallReport {
        v: 1, // kaspr_script::report::REPORT_VERSION (not exported)
        result: InstallResult::Failed,
        hash: pod
            .annotations()
            .get(HASH_ANNOTATION)
            .cloned()
            .unwrap_or_default(),
        python_tag: String::new(),
        abi_tag: None,
        env_key: None,
        installer: Installer::default(),
        pod: pod.name_any(),
        cache_mode: None,
        started_at: started.map(|t| t.to_string()).unwrap_or_default(),
        finished_at: finished.map(|t| t.to_string()).unwrap_or_default(),
        duration_seconds: duration,
        attempts: 1,
        installed_by: None,
        installed_at: None,
        install_duration_seconds: None,
        installed: Vec::new(),
        installed_truncated: false,
        env_bytes: None,
        cache: None,
        warnings: Vec::new(),
        error_type: Some(InstallErrorType::OutOfMemory),
        error: Some(oom_detail(pod, terminated)),
        stale_lock_recovered: false,
    }
}

/// The detail line of a synthesized `out_of_memory` report: the kill and the limit it hit.
fn oom_detail(pod: &Pod, terminated: &ContainerStateTerminated) -> String {
    let limit = init_memory_limit(pod).map_or_else(String::new, |l| format!("; memory limit {l}"));
    format!(
        "{INIT_CONTAINER} was {OOM_KILLED} (exit code {}{limit})",
        terminated.exit_code
    )
}

/// The memory limit of the pod's `install-packages` container, as written in its spec.
fn init_memory_limit(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .init_containers
        .as_ref()?
        .iter()
        .find(|c| c.name == INIT_CONTAINER)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| q.0.as_str())
}

fn init_running(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == INIT_CONTAINER))
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some())
}

/// The current time at the precision the API server stores (seconds), so a written condition
/// reads back unchanged.
pub fn now() -> Time {
    let now = k8s_openapi::jiff::Timestamp::now();
    Time(k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// The app's last written status with only `Ready` replaced by `blocked`: for a reconcile that
/// could not observe the cluster, so every other field stays as it was last known.
pub fn with_blocked_ready(app: &KasprApp, blocked: &Blocked, now: Time) -> KasprAppStatus {
    let mut status = app.status.clone().unwrap_or_default();
    let ready = make_condition(
        condition::READY,
        false,
        blocked.reason(),
        &blocked.message(),
        app.metadata.generation,
        &status.conditions,
        &now,
    );
    status.conditions.retain(|c| c.type_ != condition::READY);
    status.conditions.insert(0, ready);
    status
}

/// The whole status, given the current time for condition transitions.
pub fn compute(observed: &Observed<'_>, now: Time) -> KasprAppStatus {
    let app = observed.app;
    let generation = app.metadata.generation;
    let previous = app
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let packages = app
        .spec
        .python_packages
        .as_ref()
        .map(|_| packages_status(observed));

    let (ready_replicas, replicas) = replica_counts(observed);
    let rolled_out = observed.statefulset.is_some_and(statefulset_rolled_out);
    let packages_ok = packages
        .as_ref()
        .is_none_or(|p| p.state == Some(PackagesState::Ready));

    let mut conditions = Vec::new();
    let ready = match &observed.blocked {
        Some(b) => (false, b.reason(), b.message()),
        None if ready_replicas >= replicas && rolled_out && packages_ok => (
            true,
            "AllReplicasReady",
            format!("{ready_replicas}/{replicas} replicas ready"),
        ),
        None => (
            false,
            "NotReady",
            format!("{ready_replicas}/{replicas} replicas ready"),
        ),
    };
    conditions.push(make_condition(
        condition::READY,
        ready.0,
        ready.1,
        &ready.2,
        generation,
        previous,
        &now,
    ));
    let progressing = observed.blocked.is_none() && !rolled_out;
    conditions.push(make_condition(
        condition::PROGRESSING,
        progressing,
        if progressing { "RollingOut" } else { "Stable" },
        if progressing {
            "The StatefulSet is rolling out"
        } else {
            "No rollout in progress"
        },
        generation,
        previous,
        &now,
    ));
    if let Some(p) = &packages {
        let (ok, reason, message) = packages_condition(p, observed.blocked.as_ref());
        conditions.push(make_condition(
            condition::PYTHON_PACKAGES_READY,
            ok,
            reason,
            &message,
            generation,
            previous,
            &now,
        ));
    }
    KasprAppStatus {
        observed_generation: generation,
        available_members: Some(format!("{ready_replicas}/{replicas}")),
        conditions,
        python_packages: packages,
    }
}

fn replica_counts(observed: &Observed<'_>) -> (i32, i32) {
    let replicas = observed.app.spec.replicas.unwrap_or(1);
    let ready = observed
        .statefulset
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    (ready, replicas)
}

fn statefulset_rolled_out(sts: &StatefulSet) -> bool {
    let Some(status) = sts.status.as_ref() else {
        return false;
    };
    let wanted = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    status.observed_generation >= sts.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.current_revision.is_some()
        && status.current_revision == status.update_revision
}

fn packages_condition(
    p: &PythonPackagesStatus,
    blocked: Option<&Blocked>,
) -> (bool, &'static str, String) {
    if let Some(b) = blocked.filter(|b| b.concerns_packages()) {
        return (false, b.reason(), b.message());
    }
    match p.state {
        Some(PackagesState::Ready) => (true, "Installed", ready_message(p)),
        Some(PackagesState::Failed) => (
            false,
            "InstallFailed",
            p.error
                .clone()
                .unwrap_or_else(|| InstallErrorType::Unknown.message().to_owned()),
        ),
        Some(PackagesState::Installing) => (
            false,
            "Installing",
            "An init container is installing the packages".into(),
        ),
        _ => (
            false,
            "Pending",
            "Waiting for a pod to install or find the packages".into(),
        ),
    }
}

fn ready_message(p: &PythonPackagesStatus) -> String {
    match (&p.installed_by, &p.install_duration) {
        (Some(by), Some(d)) => format!("{} packages installed by {by} in {d}", p.installed.len()),
        _ => format!("{} packages installed", p.installed.len()),
    }
}

/// The pythonPackages block: state from the reports of pods that run the desired hash.
fn packages_status(observed: &Observed<'_>) -> PythonPackagesStatus {
    let spec = observed.app.spec.python_packages.as_ref();
    let mut status = PythonPackagesStatus {
        hash: observed.hash.map(str::to_owned),
        cache_mode: spec.map(|s| {
            if s.cache.enabled {
                CacheMode::SharedPvc
            } else {
                CacheMode::PerPod
            }
        }),
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
            "Package cache {percent:.1}% full ({:.2}GiB / {:.2}GiB); increase cache.size or lower cache.keepEnvs",
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

/// A condition that keeps its lastTransitionTime while its status does not change.
fn make_condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    previous: &[Condition],
    now: &Time,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time,
    }
}
