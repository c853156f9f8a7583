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

/// Bytes in a Kubernetes quantity (`1Gi`, `500M`, `1.5Ti`, `2e9`); None when it does not parse.
pub fn quantity_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "m" => 1e-3,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::quantity_bytes;

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes("1Gi"), Some(1073741824.0));
        assert_eq!(quantity_bytes("500M"), Some(5e8));
        assert_eq!(quantity_bytes("2e3"), Some(2000.0));
        assert_eq!(quantity_bytes("1.5Ki"), Some(1536.0));
        assert_eq!(quantity_bytes("lots"), None);
    }
}
