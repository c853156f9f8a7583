//! The install reports the init containers leave on their pods (termination messages), and the
//! `out_of_memory` report made up for a run the kubelet killed.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use kaspr_script::{InstallReport, InstallResult};
use kaspr_types::{InstallErrorType, Installer};
use kube::ResourceExt;

use crate::names::{HASH_ANNOTATION, INIT_CONTAINER};

/// The reason the kubelet gives a container it killed for its memory limit.
const OOM_KILLED: &str = "OOMKilled";

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
        gcs: None,
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

pub(crate) fn init_running(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == INIT_CONTAINER))
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some())
}
