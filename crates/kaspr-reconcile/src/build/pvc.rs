//! The shared packages PVC (`cache.enabled: true`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_types::{KasprApp, PythonPackagesSpec};
use kube::{Resource, ResourceExt};

use crate::names;

/// The PVC; `existing` is the one in the cluster, whose size is kept when it is larger (a PVC
/// cannot shrink, and it may have been expanded by hand).
pub fn packages_pvc(
    app: &KasprApp,
    spec: &PythonPackagesSpec,
    existing: Option<&PersistentVolumeClaim>,
) -> PersistentVolumeClaim {
    let wanted = spec.cache.size.clone();
    let current = existing
        .and_then(|p| p.spec.as_ref())
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone());
    let size = match current {
        Some(cur)
            if quantity_bytes(&cur).unwrap_or(0.0) > quantity_bytes(&wanted).unwrap_or(0.0) =>
        {
            cur
        }
        _ => wanted,
    };
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(names::packages_pvc(app)),
            namespace: app.namespace(),
            labels: Some({
                let mut labels = names::labels(app);
                labels.insert("kaspr.io/component".into(), "python-packages".into());
                labels
            }),
            // Owned (and so deleted with the app) only when deleteClaim says so.
            owner_references: if spec.cache.delete_claim {
                app.controller_owner_ref(&()).map(|o| vec![o])
            } else {
                None
            },
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![spec.cache.access_mode.as_str().to_owned()]),
            storage_class_name: spec.cache.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size))])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}

pub use kaspr_types::quantity_bytes;
