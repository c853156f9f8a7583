//! The components of an app (KasprAgent, KasprTable, ...): each one's ConfigMap holding its
//! definition file, and what the app's StatefulSet mounts of them. Names, labels, mount paths
//! and volume order are upstream's, so a takeover changes nothing the pods see but the hashes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EnvVar, KeyToPath, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kaspr_components::Component;

use super::config::{DEFINITIONS_DIR, short_hash};
use crate::names::{self, COMPONENT_TYPE_LABEL, FIELD_MANAGER, RESOURCE_HASH_ANNOTATION};

/// The kinds mounted into the app's pods, in upstream's volume order, with the variable whose
/// change rolls the pods. KasprJoin is not among them: upstream never mounts joins (and the
/// runtime versions it ships do not read them).
pub const MOUNTED: [(&str, &str); 4] = [
    ("KasprAgent", "AGENTS_HASH"),
    ("KasprWebView", "WEBVIEWS_HASH"),
    ("KasprTable", "TABLES_HASH"),
    ("KasprTask", "TASKS_HASH"),
];

/// The ConfigMap of a component: its definition file under `<name>-<type>.yaml`, labelled as
/// upstream labels it, owned by the component.
pub fn config_map(component: &Component) -> ConfigMap {
    let name = component.config_map_name();
    let yaml = component.definition_yaml();
    let meta = component.metadata();
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: meta.namespace.clone(),
            labels: Some(labels(component)),
            annotations: Some(BTreeMap::from([(
                RESOURCE_HASH_ANNOTATION.to_owned(),
                short_hash(&yaml),
            )])),
            owner_references: owner(component).map(|o| vec![o]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(component.definition_file(), yaml)])),
        ..Default::default()
    }
}

/// Upstream's labels of a component's ConfigMap: its defaults, then the component's own labels
/// (which win, as upstream's `update`), without `kaspr.io/cluster`.
fn labels(component: &Component) -> BTreeMap<String, String> {
    let kind = component.kind().to_owned();
    let name = component.name().to_owned();
    let mut labels = BTreeMap::from([
        ("kaspr.io/name".to_owned(), component.config_map_name()),
        ("kaspr.io/kind".to_owned(), kind.clone()),
        (COMPONENT_TYPE_LABEL.to_owned(), kind.clone()),
        ("app.kubernetes.io/name".to_owned(), kind),
        (
            "app.kubernetes.io/part-of".to_owned(),
            names::label_value(&format!("kaspr-{name}")),
        ),
        ("app.kubernetes.io/instance".to_owned(), name),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            FIELD_MANAGER.to_owned(),
        ),
    ]);
    labels.extend(component.metadata().labels.clone().unwrap_or_default());
    labels.remove("kaspr.io/cluster");
    labels
}

fn owner(component: &Component) -> Option<OwnerReference> {
    let meta = component.metadata();
    Some(OwnerReference {
        api_version: kaspr_components::API_VERSION.to_owned(),
        kind: component.kind().to_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// A component of an app whose ConfigMap holds its definition: what the app's pods mount.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attached {
    /// Index into [`MOUNTED`] (the volume order).
    kind: usize,
    /// The ConfigMap's (and the volume's) name, `<name>-<type>`.
    pub config_map: String,
    /// Its `kaspr.io/resource-hash`: the definition it holds.
    pub hash: String,
}

impl Attached {
    /// A component of kind `kind` whose ConfigMap `config_map` holds the definition of `hash`
    /// (as its status says); None for a kind that is not mounted.
    pub fn applied(kind: &str, config_map: String, hash: String) -> Option<Attached> {
        let kind = MOUNTED.iter().position(|(k, _)| *k == kind)?;
        Some(Attached {
            kind,
            config_map,
            hash,
        })
    }

    /// What the app's pods mount of `component` once its ConfigMap is applied (None for a kind
    /// that is not mounted): how `render` sees a component, without a cluster.
    pub fn of_component(component: &Component) -> Option<Attached> {
        let kind = MOUNTED.iter().position(|(k, _)| *k == component.kind())?;
        Some(Attached {
            kind,
            config_map: component.config_map_name(),
            hash: short_hash(&component.definition_yaml()),
        })
    }

    /// Sorts as upstream mounts them: by kind (agents, web views, tables, tasks), then name.
    pub fn in_mount_order(mut attached: Vec<Attached>) -> Vec<Attached> {
        attached.sort();
        attached
    }

    fn file(&self) -> String {
        format!("{}.yaml", self.config_map)
    }
}

/// The volumes of the components, in mount order.
pub(crate) fn volumes(attached: &[Attached]) -> Vec<Volume> {
    attached
        .iter()
        .map(|a| Volume {
            name: a.config_map.clone(),
            config_map: Some(ConfigMapVolumeSource {
                name: a.config_map.clone(),
                items: Some(vec![KeyToPath {
                    key: a.file(),
                    path: a.file(),
                    mode: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect()
}

/// Each definition file, read-only, in the definitions directory.
pub(crate) fn mounts(attached: &[Attached]) -> Vec<VolumeMount> {
    attached
        .iter()
        .map(|a| VolumeMount {
            name: a.config_map.clone(),
            mount_path: format!("{DEFINITIONS_DIR}/{}", a.file()),
            sub_path: Some(a.file()),
            read_only: Some(true),
            ..Default::default()
        })
        .collect()
}

/// `AGENTS_HASH`, `WEBVIEWS_HASH`, ... for the kinds the app has: a definition mounted with
/// `subPath` never changes in a running pod, so a changed one must roll the pods.
pub(crate) fn hash_env(attached: &[Attached]) -> Vec<EnvVar> {
    MOUNTED
        .iter()
        .enumerate()
        .filter_map(|(i, (_, var))| {
            let hashes: String = attached
                .iter()
                .filter(|a| a.kind == i)
                .map(|a| format!("{}={};", a.config_map, a.hash))
                .collect();
            (!hashes.is_empty()).then(|| EnvVar {
                name: (*var).to_owned(),
                value: Some(short_hash(&hashes)),
                ..Default::default()
            })
        })
        .collect()
}
