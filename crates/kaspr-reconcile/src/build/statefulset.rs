//! The app's StatefulSet: the kaspr container, table storage and, with pythonPackages, the
//! install init container.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kaspr_script::InstallScript;
use kaspr_types::{KasprApp, PodTemplate, PythonPackagesSpec};

use super::components::{self, Attached};
use super::{config, metadata, packages, storage};
use crate::names::{self, HASH_ANNOTATION, MAIN_CONTAINER};

/// What pythonPackages contributes.
pub struct Packages<'a> {
    pub spec: &'a PythonPackagesSpec,
    pub hash: &'a str,
    pub script: &'a InstallScript,
}

pub fn statefulset(
    app: &KasprApp,
    existing: Option<&StatefulSet>,
    image: &str,
    cm: &ConfigMap,
    attached: &[Attached],
    pkgs: Option<Packages<'_>>,
) -> StatefulSet {
    let template = app.spec.template.as_ref();
    let pod = template.and_then(|t| t.pod.as_ref());
    let (storage_volume, claim_template) = storage::table_storage(app, existing);

    let mut volumes: Vec<Volume> = storage_volume.into_iter().collect();
    volumes.extend(components::volumes(attached));
    volumes.extend(pod.map(|p| p.volumes.clone()).unwrap_or_default());
    let mut init_containers = Vec::new();
    let mut main = kaspr_container(app, attached, image);
    let mut annotations = pod_annotations(pod);
    if let Some(p) = &pkgs {
        volumes.extend(packages::volumes(app, p.spec));
        init_containers.push(packages::init_container(
            app,
            image,
            p.spec,
            p.script,
            template.and_then(|t| t.python_packages_init_container.as_ref()),
        ));
        main.volume_mounts
            .get_or_insert_default()
            .extend(packages::main_mounts());
        annotations.insert(HASH_ANNOTATION.to_owned(), p.hash.to_owned());
    }
    main.env = Some(main_env(app, cm, attached, pkgs.as_ref()));

    let mut pod_labels: BTreeMap<String, String> = pod
        .and_then(|p| p.metadata.as_ref())
        .map(|m| m.labels.clone())
        .unwrap_or_default();
    pod_labels.extend(names::labels(app));
    StatefulSet {
        metadata: metadata(app, names::component(app)),
        spec: Some(StatefulSetSpec {
            // The HorizontalPodAutoscaler owns replicas (as upstream), but it cannot scale to or
            // from zero.
            replicas: (app.spec.replicas == Some(0)).then_some(0),
            service_name: Some(names::component(app)),
            pod_management_policy: Some("Parallel".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: None,
            }),
            selector: LabelSelector {
                match_labels: Some(names::selector_labels(app)),
                match_expressions: None,
            },
            persistent_volume_claim_retention_policy: claim_template
                .as_ref()
                .map(|_| retention(app)),
            volume_claim_templates: claim_template.map(|c| vec![c]),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec(app, pod, init_containers, main, volumes)),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn pod_annotations(pod: Option<&PodTemplate>) -> BTreeMap<String, String> {
    pod.and_then(|p| p.metadata.as_ref())
        .map(|m| m.annotations.clone())
        .unwrap_or_default()
}

fn pod_spec(
    app: &KasprApp,
    pod: Option<&PodTemplate>,
    init: Vec<Container>,
    main: Container,
    volumes: Vec<Volume>,
) -> PodSpec {
    let p = pod.cloned().unwrap_or_default();
    PodSpec {
        service_account_name: Some(names::component(app)),
        init_containers: non_empty(init),
        containers: vec![main],
        volumes: non_empty(volumes),
        image_pull_secrets: non_empty(p.image_pull_secrets),
        security_context: p.security_context,
        termination_grace_period_seconds: p.termination_grace_period_seconds,
        node_selector: (!p.node_selector.is_empty()).then_some(p.node_selector),
        affinity: p.affinity,
        tolerations: non_empty(p.tolerations),
        topology_spread_constraints: non_empty(p.topology_spread_constraints),
        priority_class_name: p.priority_class_name,
        scheduler_name: p.scheduler_name,
        host_aliases: non_empty(p.host_aliases),
        enable_service_links: p.enable_service_links,
        ..Default::default()
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn kaspr_container(app: &KasprApp, attached: &[Attached], image: &str) -> Container {
    let t = app
        .spec
        .template
        .as_ref()
        .and_then(|t| t.kaspr_container.as_ref());
    let mut mounts = vec![VolumeMount {
        name: names::table_volume(app),
        mount_path: config::table_dir(app),
        ..Default::default()
    }];
    mounts.extend(components::mounts(attached));
    mounts.extend(t.map(|t| t.volume_mounts.clone()).unwrap_or_default());
    Container {
        name: MAIN_CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: config::web_port(app),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        resources: app.spec.resources.clone(),
        security_context: t.and_then(|t| t.security_context.clone()),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

/// Operator variables in upstream's order (so a taken-over pod template is unchanged), then the
/// user's (minus those we own).
fn main_env(
    app: &KasprApp,
    cm: &ConfigMap,
    attached: &[Attached],
    pkgs: Option<&Packages<'_>>,
) -> Vec<EnvVar> {
    let user = app
        .spec
        .template
        .as_ref()
        .and_then(|t| t.kaspr_container.as_ref())
        .map(|t| t.env.clone())
        .unwrap_or_default();
    let mut env = config::settings_env(app);
    if pkgs.is_some() {
        env.push(packages::pythonpath(&user));
    }
    env.extend(config::identity_env(app, cm));
    env.extend(components::hash_env(attached));
    if let Some(p) = pkgs {
        env.push(EnvVar {
            name: "PACKAGES_HASH".into(),
            value: Some(p.hash.to_owned()),
            ..Default::default()
        });
    }
    // As upstream, the user's entry wins over the operator's of the same name (e.g. to set
    // `K_WEB_HOST`), but without a duplicate name; PYTHONPATH is joined above instead, and
    // PACKAGES_HASH stays the operator's (it rolls the pods).
    let kept = |e: &EnvVar| e.name != "PYTHONPATH" && e.name != "PACKAGES_HASH";
    let overrides: Vec<String> = user
        .iter()
        .filter(|e| kept(e))
        .map(|e| e.name.clone())
        .collect();
    env.retain(|e| !overrides.contains(&e.name));
    let ours: Vec<String> = env.iter().map(|e| e.name.clone()).collect();
    env.extend(user.into_iter().filter(|e| !ours.contains(&e.name)));
    env
}

/// Table storage: a claim template for `persistent-claim`, an emptyDir otherwise.
fn retention(app: &KasprApp) -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    let delete = app
        .spec
        .storage
        .as_ref()
        .and_then(|s| s.delete_claim)
        .unwrap_or(false);
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some(if delete { "Delete" } else { "Retain" }.to_owned()),
        when_scaled: Some("Retain".to_owned()),
    }
}
