//! The HorizontalPodAutoscaler `<name>-app-hpa`, as upstream builds it: it owns the StatefulSet's
//! `replicas` and ramps a new or grown app up to `spec.replicas` (at most 4 pods, or double, a
//! minute), because its target — 1 MiB of memory per pod — is always exceeded. It needs the
//! cluster's resource metrics (metrics-server); without them the app stays at its current size,
//! which the status reports (see `status`). None with `replicas: 0`.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kaspr_types::KasprApp;

use super::metadata;
use crate::names;

/// Pods added at most per minute while ramping up (upstream's `HPA_SCALE_UP_POLICY_PODS_PER_STEP`).
const SCALE_UP_PODS: i32 = 4;
/// Seconds per ramp step (upstream's `HPA_SCALE_UP_POLICY_PERIOD_SECONDS`).
const SCALE_UP_PERIOD_SECONDS: i32 = 60;

pub fn hpa(app: &KasprApp) -> Option<HorizontalPodAutoscaler> {
    let replicas = app.spec.replicas.unwrap_or(1);
    if replicas == 0 {
        return None;
    }
    let policy = |type_: &str, value: i32, period_seconds: i32| HPAScalingPolicy {
        type_: type_.to_owned(),
        value,
        period_seconds,
    };
    let rules = |policies: Vec<HPAScalingPolicy>| HPAScalingRules {
        policies: Some(policies),
        select_policy: Some("Max".to_owned()),
        stabilization_window_seconds: Some(0),
        ..Default::default()
    };
    Some(HorizontalPodAutoscaler {
        metadata: metadata(app, names::hpa(app)),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "StatefulSet".to_owned(),
                name: names::component(app),
            },
            min_replicas: Some(1),
            max_replicas: replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "memory".to_owned(),
                    target: MetricTarget {
                        type_: "AverageValue".to_owned(),
                        average_value: Some(Quantity("1Mi".to_owned())),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(rules(vec![
                    policy("Percent", 100, SCALE_UP_PERIOD_SECONDS),
                    policy("Pods", SCALE_UP_PODS, SCALE_UP_PERIOD_SECONDS),
                ])),
                scale_down: Some(rules(vec![policy("Percent", 100, 1)])),
            }),
        }),
        status: None,
    })
}
