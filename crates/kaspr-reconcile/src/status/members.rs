//! The members part of the status: `kasprVersion`, `rolloutInProgress`, `members` and
//! `rebalancingMembers`, as upstream writes them. A member's `lastTransitionTime` moves only when
//! its leader/rebalancing/recovering state or its pod changes, which is what hung-member
//! detection measures.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kaspr_types::{KasprAppStatus, MemberStatus};
use kube::ResourceExt;

use crate::members::MemberReport;

/// The tag of the `kaspr` container's image (upstream: the text after the last `:`).
pub fn kaspr_version(sts: &StatefulSet) -> Option<String> {
    let spec = sts.spec.as_ref()?.template.spec.as_ref()?;
    let image = spec
        .containers
        .iter()
        .find(|c| c.name == "kaspr")?
        .image
        .as_deref()?;
    image.rsplit_once(':').map(|(_, tag)| tag.to_owned())
}

/// Whether pods of an older revision remain (`currentReplicas != updatedReplicas`).
pub fn rollout_in_progress(sts: &StatefulSet) -> Option<bool> {
    let status = sts.status.as_ref()?;
    Some(status.current_replicas != status.updated_replicas)
}

/// Each member that answered, with its pod's identity and the time its state last changed.
pub fn members(
    reports: &[MemberReport],
    pods: &[Pod],
    service: &str,
    previous: Option<&KasprAppStatus>,
    now: &Time,
) -> Vec<MemberStatus> {
    let before: &[MemberStatus] = previous.map(|s| s.members.as_slice()).unwrap_or_default();
    let mut out: Vec<MemberStatus> = reports
        .iter()
        .map(|r| {
            let pod = pods
                .iter()
                .find(|p| p.name_any() == format!("{service}-{}", r.id));
            let mut m = MemberStatus {
                id: r.id,
                leader: r.leader,
                rebalancing: r.rebalancing,
                recovering: r.recovering,
                pod_uid: pod.and_then(|p| p.metadata.uid.clone()),
                pod_creation_time: pod
                    .and_then(|p| p.metadata.creation_timestamp.as_ref())
                    .map(|t| t.0.to_string()),
                last_transition_time: None,
            };
            let old = before.iter().find(|b| b.id == r.id);
            m.last_transition_time = match old {
                Some(o) if same_state(o, &m) && o.last_transition_time.is_some() => {
                    o.last_transition_time.clone()
                }
                _ => Some(now.0.to_string()),
            };
            m
        })
        .collect();
    out.sort_by_key(|m| m.id);
    out
}

/// Same leader/rebalancing/recovering, and the same pod when both know it.
fn same_state(old: &MemberStatus, new: &MemberStatus) -> bool {
    let same_pod = |a: &Option<String>, b: &Option<String>| b.is_none() || a == b;
    old.leader == new.leader
        && old.rebalancing == new.rebalancing
        && old.recovering == new.recovering
        && same_pod(&old.pod_uid, &new.pod_uid)
        && same_pod(&old.pod_creation_time, &new.pod_creation_time)
}

/// `<members rebalancing>/<available replicas>`, as upstream counts it.
pub fn rebalancing_members(members: &[MemberStatus], available: i32) -> String {
    let rebalancing = members
        .iter()
        .filter(|m| m.rebalancing == Some(true))
        .count();
    format!("{rebalancing}/{available}")
}
