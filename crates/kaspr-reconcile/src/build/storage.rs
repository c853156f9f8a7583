//! Table storage: a claim template (`storage.type: persistent-claim`) or an emptyDir.
//!
//! A StatefulSet's claim templates cannot change. When the app's StatefulSet exists (ours, or
//! one the upstream operator created, whose templates carry its `kaspr.io/resource-hash`
//! annotation and a defaulted status), its templates are kept exactly as stored as long as they
//! ask for the same claim: same name, access modes, size and class. Applying our own rendering
//! instead would be refused as a change of an immutable field.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PersistentVolumeClaim, PersistentVolumeClaimSpec, Volume,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_types::{KasprApp, StorageType};

use crate::names;

/// Size of a claim when `storage.size` is unset.
const DEFAULT_SIZE: &str = "1Gi";

/// The table volume of the pod (emptyDir) or the claim template the StatefulSet creates.
pub fn table_storage(
    app: &KasprApp,
    existing: Option<&StatefulSet>,
) -> (Option<Volume>, Option<PersistentVolumeClaim>) {
    let name = names::table_volume(app);
    let kept = existing_template(existing, &name);
    match (&app.spec.storage, kept) {
        (Some(s), kept) if s.kind == StorageType::PersistentClaim => {
            let desired = claim_template(&name, s.class.clone(), s.size.clone());
            match kept {
                Some(k) if same_claim(k, &desired) => (None, Some(k.clone())),
                _ => (None, Some(desired)),
            }
        }
        // Upstream gave ephemeral apps a claim template too; pods taken over keep their
        // claims (an emptyDir would need the StatefulSet recreated and lose the tables).
        (_, Some(kept)) => (None, Some(kept.clone())),
        _ => (
            Some(Volume {
                name,
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            }),
            None,
        ),
    }
}

/// The StatefulSet's only claim template, when it is the table volume.
fn existing_template<'a>(
    existing: Option<&'a StatefulSet>,
    name: &str,
) -> Option<&'a PersistentVolumeClaim> {
    match existing?.spec.as_ref()?.volume_claim_templates.as_deref()? {
        [only] if only.metadata.name.as_deref() == Some(name) => Some(only),
        _ => None,
    }
}

fn claim_template(
    name: &str,
    class: Option<String>,
    size: Option<String>,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: class,
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(size.unwrap_or_else(|| DEFAULT_SIZE.to_owned())),
                )])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}

/// Whether two claim templates ask for the same claim (what a user can change in the spec).
fn same_claim(a: &PersistentVolumeClaim, b: &PersistentVolumeClaim) -> bool {
    let parts = |c: &PersistentVolumeClaim| {
        let spec = c.spec.clone().unwrap_or_default();
        let size = spec
            .resources
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").cloned());
        (
            c.metadata.name.clone(),
            spec.access_modes.unwrap_or_default(),
            size,
            spec.storage_class_name,
        )
    };
    parts(a) == parts(b)
}
