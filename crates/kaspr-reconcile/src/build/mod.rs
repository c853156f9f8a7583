//! The `build` stage: pure functions from a validated KasprApp and what already exists (the
//! packages PVC, whose size may only grow, the app's pods, whose packages hashes make the live
//! set, and the optional children the spec may no longer ask for) to every child object and the
//! orphans to delete. No client; same input, same output.

mod child;
pub mod components;
mod config;
mod hpa;
mod live;
mod orphans;
mod packages;
mod pvc;
mod services;
mod statefulset;
mod storage;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_types::KasprApp;
use kube::{Resource, ResourceExt};

pub(crate) use child::Child;
pub use child::Orphan;
pub(crate) use config::web_port;
pub use live::live_hashes;
pub use packages::{
    GCS_KEY_FILE, GCS_KEY_MOUNT, GCS_KEY_VOLUME, LIVE_HASHES_KEY, LIVE_MOUNT, SITE_LINK,
    script_paths,
};
pub use storage::{ReplaceReason, Replacement};

use crate::error::Error;
use crate::names;
use crate::validate::ValidatedApp;

/// Every object the app should have, and those it has but should not.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The packages hash the pods carry (None without pythonPackages).
    pub hash: Option<String>,
    pub service_account: ServiceAccount,
    pub config_map: ConfigMap,
    pub headless_service: Service,
    pub api_service: Service,
    pub statefulset: StatefulSet,
    /// Owns the StatefulSet's replicas (None with `replicas: 0`).
    pub hpa: Option<HorizontalPodAutoscaler>,
    pub packages_pvc: Option<PersistentVolumeClaim>,
    /// The live-set ConfigMap (with pythonPackages, cache on or off).
    pub live_set: Option<ConfigMap>,
    /// Children that exist and are this app's but that the spec no longer asks for.
    pub orphans: Vec<Orphan>,
    /// When an immutable field changes: what replaces the StatefulSet (None: it is applied).
    pub replacement: Option<Replacement>,
    /// The replicas an app scaled up from zero starts with, when `INITIAL_MAX_REPLICAS` is above
    /// 1 (otherwise the StatefulSet's default, 1): written once beside the apply, which leaves
    /// `replicas` to the HorizontalPodAutoscaler.
    pub initial_replicas: Option<i32>,
}

/// What already exists in the cluster and shapes the desired objects. `Existing::default()` is
/// a cluster without any of it (as `render` sees it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Existing<'a> {
    /// The app's StatefulSet: its claim templates cannot change, so compatible ones are kept
    /// as they are (also those the upstream operator wrote).
    pub statefulset: Option<&'a StatefulSet>,
    /// The app's HorizontalPodAutoscaler (it goes with `replicas: 0`).
    pub hpa: Option<&'a HorizontalPodAutoscaler>,
    /// The claims the StatefulSet made for table storage (they grow with `storage.size`).
    pub table_claims: &'a [PersistentVolumeClaim],
    /// The packages PVC, whose size is never shrunk (and which goes when the cache does).
    pub packages_pvc: Option<&'a PersistentVolumeClaim>,
    /// The live-set ConfigMap's metadata (it goes when pythonPackages does).
    pub live_set: Option<&'a ObjectMeta>,
    /// Every pod of the app: their packages hashes stay in the live set while they exist.
    pub pods: &'a [Pod],
    /// The app's component ConfigMaps, in mount order: the pods mount them.
    pub components: &'a [components::Attached],
}

/// Builds every child of a validated app.
pub fn build(validated: &ValidatedApp<'_>, existing: &Existing<'_>) -> Result<Desired, Error> {
    let app = validated.app();
    let packages = match validated.packages() {
        Some(p) => {
            let script = kaspr_script::render(p.spec(), p.hash(), &script_paths())
                .map_err(|e| Error::Render(e.to_string()))?;
            Some((p.spec(), p.hash().to_string(), script))
        }
        None => None,
    };
    let config_map = config::config_map(app);
    let statefulset = statefulset::statefulset(
        app,
        existing.statefulset,
        validated.image(),
        &config_map,
        existing.components,
        packages
            .as_ref()
            .map(|(spec, hash, script)| statefulset::Packages { spec, hash, script }),
    );
    Ok(Desired {
        hash: packages.as_ref().map(|(_, hash, _)| hash.clone()),
        service_account: services::service_account(app),
        headless_service: services::headless_service(app),
        api_service: services::api_service(app),
        packages_pvc: packages
            .as_ref()
            .filter(|(spec, _, _)| spec.cache.uses_pvc())
            .map(|(spec, _, _)| pvc::packages_pvc(app, spec, existing.packages_pvc)),
        live_set: packages
            .as_ref()
            .map(|(_, hash, _)| live::live_set_config_map(app, hash, existing.pods)),
        orphans: orphans::orphans(app, existing),
        replacement: storage::change(app, &statefulset, existing),
        initial_replicas: hpa::initial_replicas(app, existing.statefulset, validated.ramp()),
        hpa: hpa::hpa(app, validated.ramp()),
        config_map,
        statefulset,
    })
}

/// An env source reading a field of the pod itself (downward API), e.g. `metadata.name`.
fn field_ref(path: &str) -> Option<k8s_openapi::api::core::v1::EnvVarSource> {
    Some(k8s_openapi::api::core::v1::EnvVarSource {
        field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
            api_version: Some("v1".into()),
            field_path: path.into(),
        }),
        ..Default::default()
    })
}

/// Metadata shared by the children: name, namespace, labels (the defaults, then the KasprApp's
/// own where they do not clash, as upstream's `kopf.adopt` copies them), owner.
fn metadata(app: &KasprApp, name: String) -> ObjectMeta {
    let mut labels = names::labels(app);
    for (k, v) in app.labels() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    ObjectMeta {
        name: Some(name),
        namespace: app.namespace(),
        labels: Some(labels),
        owner_references: app.controller_owner_ref(&()).map(|o| vec![o]),
        ..Default::default()
    }
}

impl Desired {
    /// Every child object in apply order, and the orphans to delete after them. The one place
    /// that takes `Desired` apart: a new child is a compile error here until it is given its
    /// place, and apply and `render` both go through it.
    ///
    /// The live set goes before the StatefulSet, so a new hash is protected before any pod
    /// runs it.
    pub(crate) fn parts(&self) -> (Vec<Child>, &[Orphan]) {
        let Desired {
            hash: _,
            service_account,
            config_map,
            headless_service,
            api_service,
            statefulset,
            hpa,
            packages_pvc,
            live_set,
            orphans,
            replacement: _,
            initial_replicas: _,
        } = self;
        let mut children = vec![
            Child::of(service_account),
            Child::of(config_map),
            Child::of(headless_service),
            Child::of(api_service),
        ];
        children.extend(packages_pvc.iter().map(Child::of));
        children.extend(live_set.iter().map(Child::of));
        children.extend(hpa.iter().map(Child::of));
        children.push(Child {
            rollout: true,
            ..Child::of(statefulset)
        });
        (children, orphans)
    }

    /// Every child as JSON with apiVersion and kind, in apply order (for `render`).
    pub fn objects(&self) -> Vec<serde_json::Value> {
        self.parts().0.into_iter().map(|c| c.object).collect()
    }
}
