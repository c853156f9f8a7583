//! Table storage: a claim template (`storage.type: persistent-claim`) or an emptyDir.
//!
//! A StatefulSet's claim templates cannot change. When the app's StatefulSet exists (ours, or
//! one the upstream operator created, whose templates carry its `kaspr.io/resource-hash`
//! annotation and a defaulted status), its templates are kept exactly as stored as long as they
//! ask for the same claim: same name, access modes, size and class. Applying our own rendering
//! instead would be refused as a change of an immutable field.
//!
//! When the spec asks for another claim (a bigger `storage.size`, another class, a claim where
//! there was none), the StatefulSet is replaced as upstream does: each existing claim grows to
//! the new size first (so a class that cannot expand fails before anything is deleted), then
//! the StatefulSet is deleted leaving its pods running (`propagationPolicy: Orphan`), and the
//! next reconcile creates it anew; it adopts the running pods by its selector.
//!
//! The same replacement migrates a StatefulSet from before upstream 0.8, whose `serviceName`
//! (also immutable) is not the headless Service `<name>-app`, as upstream's
//! `statefulset_needs_migrations` does.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PersistentVolumeClaim, PersistentVolumeClaimSpec, Volume,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_types::{KasprApp, StorageType};
use kube::ResourceExt;

use super::pvc::quantity_bytes;
use super::{Existing, Orphan};
use crate::names;

/// What replaces a StatefulSet whose immutable fields must change.
#[derive(Clone, Debug, PartialEq)]
pub struct Replacement {
    pub reason: ReplaceReason,
    /// Existing claims with their new (larger) size, applied first.
    pub resizes: Vec<PersistentVolumeClaim>,
    /// The StatefulSet to delete, leaving its pods.
    pub statefulset: Orphan,
}

/// Which immutable field differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplaceReason {
    /// The spec asks for another claim.
    ClaimTemplate,
    /// A StatefulSet from before upstream 0.8 names another Service (the one given here).
    ServiceName(String),
}

impl std::fmt::Display for ReplaceReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClaimTemplate => f.write_str("the claim template changed"),
            Self::ServiceName(old) => write!(
                f,
                "the StatefulSet names Service {old:?}, from before upstream 0.8"
            ),
        }
    }
}

/// The replacement `desired` needs over the existing StatefulSet, if an immutable field differs.
pub fn change(
    app: &KasprApp,
    desired: &StatefulSet,
    existing: &Existing<'_>,
) -> Option<Replacement> {
    let current = existing.statefulset?;
    let templates = |s: &StatefulSet| {
        s.spec
            .as_ref()
            .and_then(|s| s.volume_claim_templates.clone())
            .unwrap_or_default()
    };
    let (now, wanted) = (templates(current), templates(desired));
    if current.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let service = |s: &StatefulSet| s.spec.as_ref().and_then(|s| s.service_name.clone());
    let same = now.len() == wanted.len() && now.iter().zip(&wanted).all(|(a, b)| same_claim(a, b));
    let reason = match service(current) {
        _ if !same => ReplaceReason::ClaimTemplate,
        Some(old) if Some(&old) != service(desired).as_ref() => ReplaceReason::ServiceName(old),
        _ => return None,
    };
    let size = wanted.first().and_then(requested);
    Some(Replacement {
        reason,
        resizes: existing
            .table_claims
            .iter()
            .filter_map(|c| grown(app, c, size.as_deref()?))
            .collect(),
        statefulset: Orphan::of::<StatefulSet>(&current.metadata),
    })
}

/// The claim's storage request.
fn requested(c: &PersistentVolumeClaim) -> Option<String> {
    c.spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .map(|q| q.0.clone())
}

/// `claim` asking for `size`, when that is more than it has (a claim cannot shrink).
fn grown(
    app: &KasprApp,
    claim: &PersistentVolumeClaim,
    size: &str,
) -> Option<PersistentVolumeClaim> {
    let current = requested(claim).and_then(|q| quantity_bytes(&q))?;
    if quantity_bytes(size)? <= current {
        return None;
    }
    Some(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: claim.metadata.name.clone(),
            namespace: app.namespace(),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(size.to_owned()),
                )])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    })
}

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
