//! The HorizontalPodAutoscaler `<name>-app-hpa`, as upstream builds it: it owns the StatefulSet's
//! `replicas` and ramps a new or grown app up to `spec.replicas` (by default at most 4 pods, or
//! double, a minute), because its target — 1 MiB of memory per pod — is always exceeded. It needs
//! the cluster's resource metrics (metrics-server); without them the app stays at its current
//! size, which the status reports (see `status`). None with `replicas: 0`.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kaspr_types::KasprApp;

use super::metadata;
use crate::names;
use crate::settings::Ramp;

/// The first size of an app scaled up from `replicas: 0`, as upstream starts it
/// (`prepare_statefulset_desired_replicas`): `spec.replicas`, at most `INITIAL_MAX_REPLICAS`.
/// None when that is 1, the size the StatefulSet gets anyway once the apply leaves `replicas` out.
pub fn initial_replicas(app: &KasprApp, existing: Option<&StatefulSet>, ramp: Ramp) -> Option<i32> {
    let current = existing?.spec.as_ref()?.replicas?;
    let wanted = app.spec.replicas.unwrap_or(1);
    let first = wanted.min(ramp.initial_max_replicas);
    (current == 0 && first > 1).then_some(first)
}

pub fn hpa(app: &KasprApp, ramp: Ramp) -> Option<HorizontalPodAutoscaler> {
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
                    policy("Percent", 100, ramp.period_seconds),
                    policy("Pods", ramp.pods_per_step, ramp.period_seconds),
                ])),
                scale_down: Some(rules(vec![policy("Percent", 100, 1)])),
            }),
        }),
        status: None,
    })
}
