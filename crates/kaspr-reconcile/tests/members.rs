//! The members' web API as the operator reads it (`GET /status/`, `POST /signal/rebalance`,
//! against a local stand-in), what the status makes of it (members, their transition times,
//! `rebalancingMembers`, `kasprVersion`, `rolloutInProgress`), the `kaspr.io/rebalance`
//! annotation, and when a member counts as hung.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::jiff::Timestamp;
use kaspr_reconcile::HungMembers;
use kaspr_reconcile::member_actions::hung_members;
use kaspr_reconcile::members::{MemberCheck, MemberReport, Members};
use kaspr_reconcile::status::{Observed, compute};
use kaspr_test_support::app::AppBuilder;
use kaspr_types::{KasprApp, KasprAppStatus};
use serde_json::json;
use support::members::{Answers, serve};

fn answers() -> Answers {
    Answers::from([
        (
            0,
            (
                200,
                r#"{"leader": true, "rebalancing": false, "recovering": false, "assignment": {}}"#
                    .to_owned(),
            ),
        ),
        (
            1,
            (
                200,
                r#"{"leader": false, "rebalancing": true, "recovering": false}"#.to_owned(),
            ),
        ),
        (2, (500, "boom".to_owned())),
    ])
}

fn check(address: &str) -> MemberCheck {
    MemberCheck {
        enabled: true,
        timeout: Duration::from_secs(5),
        address: address.to_owned(),
    }
}

fn app() -> KasprApp {
    AppBuilder::new("orders").replicas(3).build()
}

#[tokio::test]
async fn every_available_member_is_asked_and_those_that_answer_are_kept() {
    let api = serve(answers()).await;
    let members = Members::new(check(&api.address));
    let reports = members.statuses(&app(), 3).await;
    assert_eq!(
        reports,
        [
            MemberReport {
                id: 0,
                leader: Some(true),
                rebalancing: Some(false),
                recovering: Some(false)
            },
            MemberReport {
                id: 1,
                leader: Some(false),
                rebalancing: Some(true),
                recovering: Some(false)
            },
        ],
        "member 2 answered 500 and is left out"
    );
    let mut seen = api.seen.lock().expect("seen").clone();
    seen.sort();
    assert_eq!(seen, ["GET /0/status/", "GET /1/status/", "GET /2/status/"]);

    members.rebalance(&app(), 0).await.expect("rebalance");
    assert!(
        api.seen
            .lock()
            .expect("seen")
            .contains(&"POST /0/signal/rebalance".to_owned())
    );

    let off = Members::new(MemberCheck {
        enabled: false,
        ..check(&api.address)
    });
    assert!(off.statuses(&app(), 3).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_member_api_costs_at_most_the_timeout() {
    // A port nothing listens on after bind+drop: refused at once, and a black hole is cut by the
    // timeout.
    let members = Members::new(MemberCheck {
        timeout: Duration::from_millis(300),
        ..check("http://10.255.255.1:9/{index}")
    });
    let started = std::time::Instant::now();
    assert!(members.statuses(&app(), 2).await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(3));
}

fn statefulset() -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": "orders-app"},
        "spec": {"selector": {}, "serviceName": "orders-app", "template": {"spec": {"containers": [
            {"name": "kaspr", "image": "registry.example.com/kasprio/kaspr:0.11.19"}]}}},
        "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                   "currentReplicas": 2, "updatedReplicas": 3}
    }))
    .expect("sts")
}

fn status_of(app: &KasprApp, reports: &[MemberReport], at: &str) -> KasprAppStatus {
    let sts = statefulset();
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at.parse().expect("time"));
    compute(
        &Observed {
            hpa: None,
            members: reports,
            linked: None,
            app,
            hash: None,
            statefulset: Some(&sts),
            pods: &[],
            blocked: None,
        },
        now,
    )
}

#[test]
fn members_keep_their_transition_time_until_their_state_changes() {
    let mut app = app();
    let reports = [
        MemberReport {
            id: 0,
            leader: Some(true),
            rebalancing: Some(false),
            recovering: Some(false),
        },
        MemberReport {
            id: 1,
            leader: Some(false),
            rebalancing: Some(true),
            recovering: Some(false),
        },
    ];
    let first = status_of(&app, &reports, "2026-11-30T10:00:00Z");
    assert_eq!(first.kaspr_version.as_deref(), Some("0.11.19"));
    assert_eq!(first.rollout_in_progress, Some(true));
    assert_eq!(first.rebalancing_members.as_deref(), Some("1/3"));
    assert_eq!(first.members.len(), 2);
    assert_eq!(
        first.members[1].last_transition_time.as_deref(),
        Some("2026-11-30T10:00:00Z")
    );

    app.status = Some(first);
    let mut later = reports.clone();
    later[0].leader = Some(false);
    let second = status_of(&app, &later, "2026-11-30T10:05:00Z");
    assert_eq!(
        second.members[0].last_transition_time.as_deref(),
        Some("2026-11-30T10:05:00Z"),
        "member 0 lost the lead: its time moves"
    );
    assert_eq!(
        second.members[1].last_transition_time.as_deref(),
        Some("2026-11-30T10:00:00Z"),
        "member 1 is still rebalancing: its time stays"
    );
    let none = status_of(&app, &[], "2026-11-30T10:06:00Z");
    assert!(none.members.is_empty() && none.rebalancing_members.is_none());
}

#[test]
fn a_member_rebalancing_past_the_threshold_outside_a_rollout_is_hung() {
    let mut app = app();
    let reports = [MemberReport {
        id: 1,
        leader: Some(false),
        rebalancing: Some(true),
        recovering: Some(false),
    }];
    let mut status = status_of(&app, &reports, "2026-11-30T10:00:00Z");
    // No rollout: Progressing=False.
    for c in &mut status.conditions {
        if c.type_ == "Progressing" {
            c.status = "False".into();
        }
    }
    let settings = HungMembers {
        enabled: true,
        threshold: Duration::from_secs(300),
    };
    let at = |t: &str| t.parse::<Timestamp>().expect("time");
    assert!(hung_members(&app, &status, settings, at("2026-11-30T10:04:00Z")).is_empty());
    assert_eq!(
        hung_members(&app, &status, settings, at("2026-11-30T10:06:00Z")),
        [1]
    );
    // The app's own threshold and switch win over the operator's.
    app.metadata.annotations = Some(
        [(
            "kaspr.io/hung-rebalancing-threshold-seconds".to_owned(),
            "600".to_owned(),
        )]
        .into(),
    );
    assert!(hung_members(&app, &status, settings, at("2026-11-30T10:06:00Z")).is_empty());
    app.metadata.annotations = Some(
        [(
            "kaspr.io/hung-member-detection-enabled".to_owned(),
            "False".to_owned(),
        )]
        .into(),
    );
    assert!(hung_members(&app, &status, settings, at("2026-11-30T11:00:00Z")).is_empty());
    // Mid-rollout nothing is hung.
    app.metadata.annotations = None;
    for c in &mut status.conditions {
        if c.type_ == "Progressing" {
            c.status = "True".into();
        }
    }
    assert!(hung_members(&app, &status, settings, at("2026-11-30T11:00:00Z")).is_empty());
}

#[tokio::test]
async fn the_rebalance_annotation_asks_the_leader_and_is_removed() {
    let member_api = serve(answers()).await;
    let settings = kaspr_reconcile::Settings {
        members: check(&member_api.address),
        ..Default::default()
    };
    let (ctx, mut api, mut cluster) = support::context_with_settings(
        kaspr_reconcile::metrics::prometheus().expect("metrics").0,
        settings,
    );
    let mut sts = serde_json::to_value(statefulset()).expect("json");
    sts["metadata"]["namespace"] = json!("default");
    cluster.statefulsets(json!([sts]));
    let mut app = app();
    app.metadata.annotations = Some([("kaspr.io/rebalance".to_owned(), "".to_owned())].into());
    let task = support::start(&app, &ctx);
    api.applies_without_packages().await;
    let status = api.status(&app).await;
    assert_eq!(status["rebalancingMembers"], "1/3");
    let event = api.event().await;
    assert_eq!(event["reason"], "RebalanceRequested");
    let patch = api
        .patch("/apis/kaspr.io/v1alpha1/namespaces/default/kasprapps/orders")
        .await;
    assert_eq!(
        patch,
        json!({"metadata": {"annotations": {"kaspr.io/rebalance": null}}})
    );
    api.nothing_more().await;
    support::finished(task).await;
    assert!(
        member_api
            .seen
            .lock()
            .expect("seen")
            .contains(&"POST /0/signal/rebalance".to_owned())
    );
}
