//! The `build` stage: pure functions from a validated KasprApp and what already exists (the
//! packages PVC, whose size may only grow, and the app's pods, whose packages hashes make the live
//! set) to every child object. No client; same input, same output.

mod config;
mod live;
mod packages;
mod pvc;
mod services;
mod statefulset;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_types::KasprApp;
use kube::{Resource, ResourceExt};

pub use config::{DEFAULT_IMAGE, image};
pub use live::live_hashes;
pub use packages::{
    ENV_MOUNT, ENVS_MOUNT, LIVE_HASHES_KEY, LIVE_MOUNT, PACKAGES_MOUNT, SITE_LINK, script_paths,
};
pub use pvc::quantity_bytes;

use crate::error::Error;
use crate::names;

/// Every object the app should have.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The packages hash the pods carry (None without pythonPackages).
    pub hash: Option<String>,
    pub service_account: ServiceAccount,
    pub config_map: ConfigMap,
    pub headless_service: Service,
    pub api_service: Service,
    pub statefulset: StatefulSet,
    pub packages_pvc: Option<PersistentVolumeClaim>,
    /// The live-set ConfigMap (with pythonPackages, cache on or off).
    pub live_set: Option<ConfigMap>,
}

/// What already exists in the cluster and shapes the desired objects. `Existing::default()` is
/// a cluster without any of it (as `render` sees it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Existing<'a> {
    /// The packages PVC, whose size is never shrunk.
    pub packages_pvc: Option<&'a PersistentVolumeClaim>,
    /// Every pod of the app: their packages hashes stay in the live set while they exist.
    pub pods: &'a [Pod],
}

/// Builds every child of a validated app (call `KasprAppSpec::check` first).
pub fn build(app: &KasprApp, existing: &Existing<'_>) -> Result<Desired, Error> {
    let packages = match &app.spec.python_packages {
        Some(spec) => {
            let hash = kaspr_hash::packages_hash(spec)?;
            let script = kaspr_script::render(spec, &hash, &script_paths())?;
            Some((spec, hash.to_string(), script))
        }
        None => None,
    };
    let config_map = config::config_map(app);
    let statefulset = statefulset::statefulset(
        app,
        &config_map,
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
            .filter(|(spec, _, _)| spec.cache.enabled)
            .map(|(spec, _, _)| pvc::packages_pvc(app, spec, existing.packages_pvc)),
        live_set: packages
            .as_ref()
            .map(|(_, hash, _)| live::live_set_config_map(app, hash, existing.pods)),
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

/// Metadata shared by the children: name, namespace, labels, owner.
fn metadata(app: &KasprApp, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: app.namespace(),
        labels: Some(names::labels(app)),
        owner_references: app.controller_owner_ref(&()).map(|o| vec![o]),
        ..Default::default()
    }
}

impl Desired {
    /// Every object as JSON values with apiVersion and kind, in apply order (for `render`).
    pub fn objects(&self) -> Vec<serde_json::Value> {
        fn typed<K: Resource<DynamicType = ()> + serde::Serialize>(k: &K) -> serde_json::Value {
            let mut v = serde_json::to_value(k).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.insert("apiVersion".into(), K::api_version(&()).into());
                map.insert("kind".into(), K::kind(&()).into());
            }
            v
        }
        let mut out = vec![
            typed(&self.service_account),
            typed(&self.config_map),
            typed(&self.headless_service),
            typed(&self.api_service),
        ];
        if let Some(pvc) = &self.packages_pvc {
            out.push(typed(pvc));
        }
        if let Some(live) = &self.live_set {
            out.push(typed(live));
        }
        out.push(typed(&self.statefulset));
        out
    }
}
