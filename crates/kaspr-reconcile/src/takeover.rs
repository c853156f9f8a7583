//! Taking over fields the Python operator wrote. It created and patched objects without
//! server-side apply, so the API server records those fields as owned by the manager named after
//! its client's User-Agent (`OpenAPI-Generator`, kubernetes-asyncio's) with operation `Update`.
//! Server-side apply never removes fields another manager owns, so without this, fields only
//! upstream set (its `/opt/kaspr/packages` mount, its init container's `args`, settings keys it
//! named differently, its `kaspr.io/resource-hash` annotations) would stay forever.
//!
//! After an apply whose answer shows upstream's managers, their field sets are moved into this
//! operator's apply entry (the technique of client-go's `csaupgrade`) and the object is applied
//! again: what only upstream set and this operator does not is then removed by the API server.
//! System managers (the StatefulSet controller, the HPA writing `replicas`, the kubelet) are
//! left alone.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use crate::names::FIELD_MANAGER;

/// The managers upstream's writes appear under.
pub const UPSTREAM_MANAGERS: &[&str] = &["OpenAPI-Generator", "kopf"];

/// Server-side applies `object` as this operator; when upstream's managers still own fields of
/// the answer, takes them over and applies again. Returns the object as last stored.
pub async fn apply(
    api: &Api<DynamicObject>,
    name: &str,
    object: &Value,
) -> Result<DynamicObject, kube::Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api.patch(name, &params, &Patch::Apply(object)).await?;
    let Some(entries) = absorbed(
        applied
            .metadata
            .managed_fields
            .as_deref()
            .unwrap_or_default(),
    ) else {
        return Ok(applied);
    };
    let patch = json!({"metadata": {
        "managedFields": entries,
        "resourceVersion": applied.metadata.resource_version,
    }});
    let merge = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &merge, &Patch::Merge(&patch)).await?;
    tracing::info!(%name, "took over the fields the Python operator wrote");
    api.patch(name, &params, &Patch::Apply(object)).await
}

/// The managed fields with every upstream `Update` entry (of the object itself, not a
/// subresource) merged into this operator's `Apply` entry; None when there is none to merge.
pub fn absorbed(entries: &[ManagedFieldsEntry]) -> Option<Vec<ManagedFieldsEntry>> {
    let upstream = |e: &ManagedFieldsEntry| {
        e.operation.as_deref() == Some("Update")
            && e.subresource.as_deref().unwrap_or_default().is_empty()
            && e.manager
                .as_deref()
                .is_some_and(|m| UPSTREAM_MANAGERS.contains(&m))
    };
    if !entries.iter().any(upstream) {
        return None;
    }
    let ours = |e: &ManagedFieldsEntry| {
        e.manager.as_deref() == Some(FIELD_MANAGER)
            && e.operation.as_deref() == Some("Apply")
            && e.subresource.as_deref().unwrap_or_default().is_empty()
    };
    let mut fields = entries
        .iter()
        .find(|e| ours(e))
        .and_then(|e| e.fields_v1.as_ref())
        .map(|f| f.0.clone())
        .unwrap_or_else(|| Value::Object(Map::new()));
    for e in entries.iter().filter(|e| upstream(e)) {
        if let Some(f) = &e.fields_v1 {
            union(&mut fields, &f.0);
        }
    }
    let template = entries.iter().find(|e| ours(e)).cloned();
    let mut out: Vec<ManagedFieldsEntry> = entries
        .iter()
        .filter(|e| !upstream(e) && !ours(e))
        .cloned()
        .collect();
    out.push(ManagedFieldsEntry {
        manager: Some(FIELD_MANAGER.to_owned()),
        operation: Some("Apply".to_owned()),
        fields_type: Some("FieldsV1".to_owned()),
        fields_v1: Some(FieldsV1(fields)),
        ..template.unwrap_or_else(|| ManagedFieldsEntry {
            api_version: entries
                .iter()
                .find(|e| upstream(e))
                .and_then(|e| e.api_version.clone()),
            ..ManagedFieldsEntry::default()
        })
    });
    Some(out)
}

/// `into` ∪ `from`, for field sets (objects of objects; a leaf is `{}`).
fn union(into: &mut Value, from: &Value) {
    let (Value::Object(a), Value::Object(b)) = (into, from) else {
        return;
    };
    for (k, v) in b {
        match a.get_mut(k) {
            Some(existing) => union(existing, v),
            None => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        manager: &str,
        operation: &str,
        sub: Option<&str>,
        fields: Value,
    ) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            subresource: sub.map(Into::into),
            api_version: Some("apps/v1".into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(fields)),
            time: None,
        }
    }

    #[test]
    fn upstreams_fields_become_ours_and_the_system_keeps_its_own() {
        let entries = vec![
            entry(
                "OpenAPI-Generator",
                "Update",
                None,
                json!({"f:metadata": {"f:annotations": {"f:kaspr.io/resource-hash": {}}}, "f:spec": {"f:serviceName": {}}}),
            ),
            entry(
                FIELD_MANAGER,
                "Apply",
                None,
                json!({"f:spec": {"f:selector": {}}}),
            ),
            entry(
                "kube-controller-manager",
                "Update",
                Some("scale"),
                json!({"f:spec": {"f:replicas": {}}}),
            ),
            entry(
                "kube-controller-manager",
                "Update",
                Some("status"),
                json!({"f:status": {}}),
            ),
        ];
        let out = absorbed(&entries).expect("upstream's entry is there");
        assert_eq!(out.len(), 3, "{out:?}");
        let ours = out
            .iter()
            .find(|e| e.manager.as_deref() == Some(FIELD_MANAGER))
            .expect("ours");
        assert_eq!(
            ours.fields_v1.as_ref().map(|f| f.0.clone()),
            Some(
                json!({"f:metadata": {"f:annotations": {"f:kaspr.io/resource-hash": {}}},
                        "f:spec": {"f:selector": {}, "f:serviceName": {}}})
            )
        );
        assert!(
            out.iter()
                .all(|e| e.manager.as_deref() != Some("OpenAPI-Generator"))
        );
        assert!(absorbed(&out).is_none(), "nothing left to take over");
    }
}
