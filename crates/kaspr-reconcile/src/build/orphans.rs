//! Children the spec no longer asks for: the packages PVC once the shared cache is off (or
//! pythonPackages is gone), the live-set ConfigMap once pythonPackages is gone, the
//! HorizontalPodAutoscaler at `replicas: 0`. Only ever one
//! that is this app's (an owner reference with its uid) and not already being deleted; a PVC
//! under `cache.deleteClaim: false` is kept.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_types::KasprApp;

use super::{Existing, Orphan};

pub(super) fn orphans(app: &KasprApp, existing: &Existing<'_>) -> Vec<Orphan> {
    let packages = app.spec.python_packages.as_ref();
    let cache_on = packages.is_some_and(|p| p.cache.uses_pvc());
    // deleteClaim: false keeps the claim, as it would when the app itself is deleted.
    let keep_claim = packages.is_some_and(|p| !p.cache.delete_claim);
    let mut out = Vec::new();
    if let Some(pvc) = existing.packages_pvc
        && !cache_on
        && !keep_claim
        && deletable(app, &pvc.metadata)
    {
        out.push(Orphan::of::<PersistentVolumeClaim>(&pvc.metadata));
    }
    if let Some(meta) = existing.live_set
        && packages.is_none()
        && deletable(app, meta)
    {
        out.push(Orphan::of::<ConfigMap>(meta));
    }
    if let Some(hpa) = existing.hpa
        && app.spec.replicas == Some(0)
        && deletable(app, &hpa.metadata)
    {
        out.push(Orphan::of::<HorizontalPodAutoscaler>(&hpa.metadata));
    }
    out
}

/// Owned by this app (by uid, so never an object of another app or of someone else of the same
/// name) and not already going.
fn deletable(app: &KasprApp, meta: &ObjectMeta) -> bool {
    let Some(uid) = app.metadata.uid.as_deref() else {
        return false;
    };
    meta.deletion_timestamp.is_none()
        && meta.owner_references.iter().flatten().any(|o| o.uid == uid)
}
