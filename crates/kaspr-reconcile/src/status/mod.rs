//! Status as a pure function of what was observed: the app, its StatefulSet, its pods and the
//! install reports they carry. No client, no clock (the time is passed in).
//!
//! This file holds the conditions; `packages` the `pythonPackages` block, `reports` the install
//! reports read from pods, `blocked` why a rollout is held.

mod blocked;
pub mod component;
pub mod linked;
mod members;
mod notices;
mod packages;
mod reports;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kaspr_types::LinkedResources;
use kaspr_types::{KasprApp, KasprAppStatus, PackagesState, condition};

use crate::members::MemberReport;

pub use blocked::Blocked;
pub use notices::{Notice, notices};
pub use packages::{USER_GUIDE, error_text, human_duration, troubleshooting};
use packages::{packages_condition, packages_status};
pub use reports::{PodReport, pod_reports};

/// Everything the status depends on.
pub struct Observed<'a> {
    pub app: &'a KasprApp,
    /// The hash the desired pods carry (None without pythonPackages or when the spec is invalid).
    pub hash: Option<&'a str>,
    pub statefulset: Option<&'a StatefulSet>,
    /// The app's HorizontalPodAutoscaler, which owns the replicas.
    pub hpa: Option<&'a HorizontalPodAutoscaler>,
    pub pods: &'a [Pod],
    /// What the members' web API said this round (empty when not asked).
    pub members: &'a [MemberReport],
    /// The app's components as the caches hold them (None: not tracked, e.g. a failed read).
    pub linked: Option<&'a LinkedResources>,
    pub blocked: Option<Blocked>,
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
    let status = app.status.clone().unwrap_or_default();
    with_not_ready(
        status,
        blocked.reason(),
        &blocked.message(),
        app.metadata.generation,
        now,
    )
}

/// `written` (this reconcile's status) with `Ready=False` reason `HungMembers`, as upstream says
/// it while the pods of members stuck in a rebalance are restarted.
pub fn with_hung_members(
    app: &KasprApp,
    written: &KasprAppStatus,
    restarted: &[u32],
    now: Time,
) -> KasprAppStatus {
    let ids: Vec<String> = restarted.iter().map(u32::to_string).collect();
    let message = format!(
        "members {} were rebalancing, not recovering, for longer than the threshold: their pods \
         are being restarted (kaspr.io/hung-rebalancing-threshold-seconds)",
        ids.join(", ")
    );
    with_not_ready(
        written.clone(),
        "HungMembers",
        &message,
        app.metadata.generation,
        now,
    )
}

/// `status` with only its `Ready` condition replaced (False, `reason`, `message`), first.
fn with_not_ready(
    mut status: KasprAppStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Time,
) -> KasprAppStatus {
    let ready = make_condition(
        condition::READY,
        false,
        reason,
        message,
        generation,
        &status.conditions,
        &now,
    );
    status.conditions.retain(|c| c.type_ != condition::READY);
    status.conditions.insert(0, ready);
    status
}

/// The app's last written status with the `ReconciliationPaused` condition set: a paused app's
/// children are not observed, so every other field stays as it was last known.
pub fn with_paused(app: &KasprApp, now: Time) -> KasprAppStatus {
    let mut status = app.status.clone().unwrap_or_default();
    let paused = make_condition(
        condition::RECONCILIATION_PAUSED,
        true,
        "AnnotationSet",
        "kaspr.io/pause-reconciliation is \"true\": the operator changes nothing of this app \
         until the annotation is removed",
        app.metadata.generation,
        &status.conditions,
        &now,
    );
    status
        .conditions
        .retain(|c| c.type_ != condition::RECONCILIATION_PAUSED);
    status.conditions.push(paused);
    status
}

/// Why the app's HorizontalPodAutoscaler cannot scale, when it says so (`ScalingActive=False`,
/// e.g. no memory metrics without metrics-server).
fn scaling_inactive(observed: &Observed<'_>) -> Option<String> {
    observed
        .hpa?
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "ScalingActive" && c.status == "False")
        .map(|c| {
            let reason = c.reason.as_deref().unwrap_or("ScalingActive=False");
            match c.message.as_deref() {
                Some(m) if !m.is_empty() => format!("{reason}: {m}"),
                _ => reason.to_owned(),
            }
        })
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
            "Healthy",
            format!("{ready_replicas}/{replicas} replicas ready"),
        ),
        None => match scaling_inactive(observed) {
            Some(why) => (
                false,
                "ScalingInactive",
                format!(
                    "{ready_replicas}/{replicas} replicas ready, and the HorizontalPodAutoscaler \
                     that scales the app to spec.replicas cannot act: {why}. It needs the \
                     cluster's resource metrics (install metrics-server)"
                ),
            ),
            None => (
                false,
                "NotReady",
                format!("{ready_replicas}/{replicas} replicas ready"),
            ),
        },
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
        if progressing {
            "RollingOut"
        } else {
            "ReconcileComplete"
        },
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
        let was = app.status.as_ref().and_then(|s| s.python_packages.as_ref());
        let was_reason = previous
            .iter()
            .find(|c| c.type_ == condition::PYTHON_PACKAGES_READY)
            .map(|c| c.reason.as_str());
        let (ok, reason, message) = packages_condition(
            p,
            packages::updating(p, was, was_reason),
            observed.blocked.as_ref(),
            packages::installing(observed, &now),
        );
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
    let members = members::members(
        observed.members,
        observed.pods,
        &crate::names::component(app),
        app.status.as_ref(),
        &now,
    );
    let available = observed
        .statefulset
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    KasprAppStatus {
        observed_generation: generation,
        available_members: Some(format!("{ready_replicas}/{replicas}")),
        kaspr_version: observed.statefulset.and_then(members::kaspr_version),
        rollout_in_progress: observed.statefulset.and_then(members::rollout_in_progress),
        rebalancing_members: (!observed.members.is_empty())
            .then(|| members::rebalancing_members(&members, available)),
        members,
        conditions,
        python_packages: packages,
        // As upstream: tracked only while members keep their static group membership (without
        // it a restart rebalances anyway).
        linked_resources: observed
            .linked
            .filter(|_| crate::names::static_group_membership(app))
            .cloned(),
        rebalance_required: observed
            .linked
            .filter(|_| crate::names::static_group_membership(app))
            .map(|l| linked::rebalance_required(app.status.as_ref(), l)),
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

/// A condition that keeps its lastTransitionTime while its status does not change.
pub(crate) fn make_condition(
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
