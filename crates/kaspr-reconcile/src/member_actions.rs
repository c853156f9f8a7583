//! What the operator does to members, as upstream does it: a rebalance when the app asks for
//! one (`kaspr.io/rebalance`), and a restart of members stuck in a rebalance.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kaspr_types::{KasprApp, KasprAppStatus, condition};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::controller::{Context, event};
use crate::members::MemberReport;
use crate::names;
use crate::settings::{HungMembers, truthy};

/// The annotation that asks for one rebalance; removed once handled.
pub const REBALANCE_ANNOTATION: &str = "kaspr.io/rebalance";
/// Per-app override of hung-member detection (`true`/`1`/`yes` enables).
pub const HUNG_DETECTION_ANNOTATION: &str = "kaspr.io/hung-member-detection-enabled";
/// Per-app threshold in seconds.
pub const HUNG_THRESHOLD_ANNOTATION: &str = "kaspr.io/hung-rebalancing-threshold-seconds";
/// Consecutive checks a member must be seen hung before it is restarted (upstream's).
const HUNG_CHECKS: u32 = 3;
/// Most members restarted in one round, so the group is not emptied at once.
const MAX_RESTARTS: usize = 5;
/// The grace period of a restarted member's pod.
const RESTART_GRACE_SECONDS: u32 = 10;

/// Per-app override of automatic rebalancing (`true`/`1`/`yes` enables, anything else disables).
pub const AUTO_REBALANCE_ANNOTATION: &str = "kaspr.io/auto-rebalance";

/// Why an app that needs a rebalance is not rebalanced now (None: ask the leader `id`).
pub fn auto_rebalance_blocker(
    status: &KasprAppStatus,
    app: &KasprApp,
    enabled_by_default: bool,
    checks_on: bool,
    leader: Option<u32>,
    available: i32,
) -> Option<String> {
    let enabled = app
        .annotations()
        .get(AUTO_REBALANCE_ANNOTATION)
        .map_or(enabled_by_default, |v| truthy(v));
    let desired = app.spec.replicas.unwrap_or(1);
    if status.rebalance_required != Some(true) {
        Some("no rebalance is required".into())
    } else if !enabled {
        Some("automatic rebalance is off (AUTO_REBALANCE_ENABLED, kaspr.io/auto-rebalance)".into())
    } else if !checks_on {
        Some("member status checks are off (CLIENT_STATUS_CHECK_ENABLED)".into())
    } else if status.rollout_in_progress == Some(true) {
        Some("a rollout is in progress".into())
    } else if available != desired {
        Some(format!(
            "not every member is available ({available}/{desired})"
        ))
    } else if leader.is_none() {
        Some("no member reports itself as the leader".into())
    } else {
        None
    }
}

/// With `status.rebalanceRequired` (the topics or tables changed): asks the leader to rebalance
/// once every member is available and the rollout is done, then clears the flag (a Normal
/// event says so). Until then the flag stays and each reconcile tries again.
pub(crate) async fn auto_rebalance(
    ctx: &Context,
    app: &KasprApp,
    status: &KasprAppStatus,
    reports: &[MemberReport],
    available: i32,
) {
    let leader = reports
        .iter()
        .find(|r| r.leader == Some(true))
        .map(|r| r.id);
    let enabled = ctx.settings().auto_rebalance;
    let checks_on = ctx.members().enabled();
    if let Some(why) = auto_rebalance_blocker(status, app, enabled, checks_on, leader, available) {
        if status.rebalance_required == Some(true) {
            tracing::debug!("rebalance required, not asked yet: {why}");
        }
        return;
    }
    let Some(id) = leader else {
        return;
    };
    match ctx.members().rebalance(app, id).await {
        Ok(()) => {
            let mut cleared = status.clone();
            cleared.rebalance_required = Some(false);
            let mut with_status = app.clone();
            with_status.status = Some(status.clone());
            if let Err(e) = ctx.write_status(&with_status, &cleared).await {
                tracing::warn!(error = %e, "clearing rebalanceRequired failed; it is asked again");
            }
            event(
                ctx,
                app,
                EventType::Normal,
                "RebalanceRequested",
                &format!(
                    "the agents' topics or the tables changed: asked member {id} (the leader) \
                     to rebalance the group"
                ),
            )
            .await;
        }
        Err(why) => tracing::warn!("asking member {id} to rebalance failed: {why}"),
    }
}

/// How often each member has been seen hung in a row, per app.
#[derive(Default)]
pub struct HungCounts(Mutex<HashMap<(ObjectRef<KasprApp>, u32), u32>>);

/// With `kaspr.io/rebalance` on the app: asks the leader to rebalance when every member is
/// available, then removes the annotation either way; what happened is an event.
pub(crate) async fn rebalance_if_asked(
    ctx: &Context,
    app: &KasprApp,
    reports: &[MemberReport],
    available: i32,
) {
    if !app.annotations().contains_key(REBALANCE_ANNOTATION) {
        return;
    }
    let desired = app.spec.replicas.unwrap_or(1);
    let leader = reports
        .iter()
        .find(|r| r.leader == Some(true))
        .map(|r| r.id);
    let outcome = match leader {
        _ if !ctx.members().enabled() => {
            Err("member status checks are off (CLIENT_STATUS_CHECK_ENABLED)".to_owned())
        }
        _ if available != desired => Err(format!(
            "not every member is available ({available}/{desired})"
        )),
        None => Err("no member reports itself as the leader".to_owned()),
        Some(id) => ctx.members().rebalance(app, id).await.map(|()| id),
    };
    match &outcome {
        Ok(id) => {
            event(
                ctx,
                app,
                EventType::Normal,
                "RebalanceRequested",
                &format!("asked member {id} (the leader) to rebalance the group"),
            )
            .await;
        }
        Err(why) => {
            event(
                ctx,
                app,
                EventType::Warning,
                "RebalanceRequestFailed",
                &format!(
                    "kaspr.io/rebalance: {why}; the annotation is removed, set it again to retry"
                ),
            )
            .await;
        }
    }
    if let Err(e) = remove_annotation(ctx.client(), app, REBALANCE_ANNOTATION).await {
        tracing::warn!(error = %e, "removing {REBALANCE_ANNOTATION} failed");
    }
}

async fn remove_annotation(client: &Client, app: &KasprApp, key: &str) -> Result<(), kube::Error> {
    let ns = app.namespace().unwrap_or_default();
    let patch = json!({"metadata": {"annotations": {key: null}}});
    Api::<KasprApp>::namespaced(client.clone(), &ns)
        .patch(
            &app.name_any(),
            &PatchParams {
                field_manager: Some(names::FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
}

/// Restarts members that have been rebalancing (and not recovering) for longer than the
/// threshold in `HUNG_CHECKS` checks in a row, while no rollout is going on. Returns the
/// members whose pods were deleted.
pub(crate) async fn restart_hung_members(
    ctx: &Context,
    app: &KasprApp,
    status: &KasprAppStatus,
    now: Timestamp,
) -> Vec<u32> {
    let hung = hung_members(app, status, ctx.settings().hung_members, now);
    let due = ctx.hung().count(app, &hung);
    let mut restarted = Vec::new();
    for id in due.into_iter().take(MAX_RESTARTS) {
        let pod = format!("{}-{id}", names::component(app));
        let params = DeleteParams {
            grace_period_seconds: Some(RESTART_GRACE_SECONDS),
            ..DeleteParams::default()
        };
        let ns = app.namespace().unwrap_or_default();
        match Api::<Pod>::namespaced(ctx.client().clone(), &ns)
            .delete(&pod, &params)
            .await
        {
            Ok(_) => {
                event(ctx, app, EventType::Warning, "HungMemberRestarted", &format!("member {id} was rebalancing, not recovering, for longer than the threshold in {HUNG_CHECKS} checks in a row: pod {pod} deleted")).await;
                restarted.push(id);
            }
            Err(e) => tracing::warn!(%pod, error = %e, "restarting a hung member failed"),
        }
    }
    restarted
}

/// The members that look hung now (one check).
pub fn hung_members(
    app: &KasprApp,
    status: &KasprAppStatus,
    settings: HungMembers,
    now: Timestamp,
) -> Vec<u32> {
    let annotations = app.annotations();
    let enabled = annotations
        .get(HUNG_DETECTION_ANNOTATION)
        .map_or(settings.enabled, |v| truthy(v));
    let threshold = annotations
        .get(HUNG_THRESHOLD_ANNOTATION)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(i64::try_from(settings.threshold.as_secs()).unwrap_or(i64::MAX));
    let rolling_out = status
        .conditions
        .iter()
        .any(|c| c.type_ == condition::PROGRESSING && c.status == "True");
    if !enabled || rolling_out {
        return Vec::new();
    }
    status
        .members
        .iter()
        .filter(|m| m.rebalancing == Some(true) && m.recovering == Some(false))
        .filter(|m| {
            m.last_transition_time
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .is_some_and(|since| now.as_second() - since.as_second() > threshold)
        })
        .map(|m| m.id)
        .collect()
}

impl HungCounts {
    /// Counts this check; returns the members seen hung `HUNG_CHECKS` times in a row (their
    /// count starts over). Members not hung now are forgotten.
    fn count(&self, app: &KasprApp, hung: &[u32]) -> Vec<u32> {
        let Ok(mut counts) = self.0.lock() else {
            return Vec::new();
        };
        let key = ObjectRef::from_obj(app);
        counts.retain(|(a, id), _| *a != key || hung.contains(id));
        let mut due = Vec::new();
        for id in hung {
            let n = counts.entry((key.clone(), *id)).or_insert(0);
            *n += 1;
            if *n >= HUNG_CHECKS {
                *n = 0;
                due.push(*id);
            }
        }
        due
    }
}

#[cfg(test)]
mod auto_rebalance_tests {
    use super::*;

    fn app(annotation: Option<&str>) -> KasprApp {
        let mut app: KasprApp = serde_json::from_value(json!({
            "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
            "metadata": {"name": "orders", "namespace": "default"},
            "spec": {"bootstrapServers": "k:9092", "replicas": 3}
        }))
        .expect("app");
        if let Some(v) = annotation {
            app.metadata.annotations =
                Some([(AUTO_REBALANCE_ANNOTATION.to_owned(), v.to_owned())].into());
        }
        app
    }

    fn required(rollout: bool) -> KasprAppStatus {
        KasprAppStatus {
            rebalance_required: Some(true),
            rollout_in_progress: Some(rollout),
            ..Default::default()
        }
    }

    #[test]
    fn the_leader_is_asked_only_when_everything_is_in_place() {
        let a = app(None);
        assert_eq!(
            auto_rebalance_blocker(&required(false), &a, true, true, Some(0), 3),
            None
        );
        let blocked = |s: &KasprAppStatus, app: &KasprApp, on: bool, checks: bool, leader, n| {
            auto_rebalance_blocker(s, app, on, checks, leader, n).expect("blocked")
        };
        assert!(
            blocked(&KasprAppStatus::default(), &a, true, true, Some(0), 3)
                .contains("no rebalance")
        );
        assert!(blocked(&required(false), &a, false, true, Some(0), 3).contains("off"));
        assert!(blocked(&required(false), &a, true, false, Some(0), 3).contains("checks are off"));
        assert!(blocked(&required(true), &a, true, true, Some(0), 3).contains("rollout"));
        assert!(blocked(&required(false), &a, true, true, Some(0), 2).contains("2/3"));
        assert!(blocked(&required(false), &a, true, true, None, 3).contains("leader"));
        // The app's annotation overrides the operator's setting, both ways.
        assert_eq!(
            auto_rebalance_blocker(&required(false), &app(Some("YES")), false, true, Some(0), 3),
            None
        );
        assert!(
            auto_rebalance_blocker(
                &required(false),
                &app(Some("false")),
                true,
                true,
                Some(0),
                3
            )
            .is_some()
        );
    }
}
