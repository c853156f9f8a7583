//! The start-up ramp under upstream's settings: the HorizontalPodAutoscaler's steps
//! (`HPA_SCALE_UP_POLICY_*`) and the first size after `replicas: 0` (`INITIAL_MAX_REPLICAS`).

mod support;

use k8s_openapi::api::apps::v1::StatefulSet;
use kaspr_reconcile::build::Existing;
use kaspr_reconcile::{Ramp, Settings};
use kaspr_test_support::app::AppBuilder;
use kaspr_types::KasprApp;
use serde_json::{Value, json};
use support::build::{NONE, build};
use support::{FIRST_CHILDREN, HPA_PATH, STS_PATH, finished, start};

const RAMP: Ramp = Ramp {
    initial_max_replicas: 3,
    pods_per_step: 2,
    period_seconds: 30,
};

fn app(replicas: i32) -> KasprApp {
    AppBuilder::new("orders")
        .spec(|s| s.replicas = Some(replicas))
        .build()
}

fn build_with(
    app: &KasprApp,
    ramp: Ramp,
    existing: &Existing<'_>,
) -> kaspr_reconcile::build::Desired {
    let settings = Settings {
        ramp,
        ..Settings::default()
    };
    let validated = kaspr_reconcile::validate(app, None, &settings).expect("valid");
    kaspr_reconcile::build::build(&validated, existing).expect("builds")
}

/// The StatefulSet of `app` as stored, scaled to zero.
fn stored_at_zero() -> StatefulSet {
    let mut sts = build(&app(0), &NONE).expect("builds").statefulset;
    sts.metadata.uid = Some("sts-uid".into());
    sts
}

#[test]
fn the_autoscalers_steps_follow_the_settings() {
    let hpa = build_with(&app(8), RAMP, &NONE).hpa.expect("an autoscaler");
    let up = serde_json::to_value(&hpa).expect("json")["spec"]["behavior"]["scaleUp"].clone();
    assert_eq!(
        up["policies"],
        json!([
            {"type": "Percent", "value": 100, "periodSeconds": 30},
            {"type": "Pods", "value": 2, "periodSeconds": 30},
        ])
    );
}

#[test]
fn an_app_scaled_up_from_zero_starts_with_at_most_initial_max_replicas() {
    let zero = stored_at_zero();
    let existing = Existing {
        statefulset: Some(&zero),
        ..NONE
    };
    assert_eq!(
        build_with(&app(5), RAMP, &existing).initial_replicas,
        Some(3)
    );
    assert_eq!(
        build_with(&app(2), RAMP, &existing).initial_replicas,
        Some(2)
    );
    // 1 is what the StatefulSet gets anyway once the apply leaves replicas out.
    assert_eq!(build_with(&app(1), RAMP, &existing).initial_replicas, None);
    assert_eq!(
        build_with(&app(5), Ramp::default(), &existing).initial_replicas,
        None,
        "upstream's default, 1"
    );
    // Only from zero: a running app and a new one are the autoscaler's.
    let running = build(&app(5), &NONE).expect("builds").statefulset;
    let existing = Existing {
        statefulset: Some(&running),
        ..NONE
    };
    assert_eq!(build_with(&app(5), RAMP, &existing).initial_replicas, None);
    assert_eq!(build_with(&app(5), RAMP, &NONE).initial_replicas, None);
}

#[tokio::test]
async fn the_first_size_is_a_merge_patch_after_the_apply_so_the_autoscaler_keeps_replicas() {
    let settings = Settings {
        ramp: RAMP,
        members: kaspr_reconcile::members::MemberCheck {
            enabled: false,
            ..Default::default()
        },
        ..Settings::default()
    };
    let metrics = kaspr_reconcile::metrics::prometheus().expect("metrics").0;
    let (ctx, mut api, mut cluster) = support::context_with_settings(metrics, settings);
    cluster.statefulsets(json!([stored_at_zero()]));
    let app = app(5);
    let task = start(&app, &ctx);
    let mut children = FIRST_CHILDREN.to_vec();
    children.extend([HPA_PATH, STS_PATH]);
    api.checks(&children).await;
    api.patches(&FIRST_CHILDREN).await;
    api.patch(HPA_PATH).await;
    let applied = api.patch(STS_PATH).await;
    assert_eq!(
        applied["spec"]["replicas"],
        Value::Null,
        "the apply leaves replicas out"
    );
    let scaled = api.patch(STS_PATH).await;
    assert_eq!(scaled, json!({"spec": {"replicas": 3}}));
    let last = api.apply_requests().last().cloned().expect("a patch");
    assert_eq!(last.content_type, "application/merge-patch+json");
    assert!(
        last.query.contains("fieldManager=kaspr-operator-ramp"),
        "{}",
        last.query
    );
    api.status(&app).await;
    api.nothing_more().await;
    finished(task).await;
}
