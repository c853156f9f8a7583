//! The `apply` stage: server-side apply of every child (one field manager, forcing conflicts),
//! then the deletion of the orphans — children the spec no longer asks for.

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Client;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};

use crate::build::{Child, Desired, Orphan, Replacement};
use crate::error::Error;
use crate::names::FIELD_MANAGER;
use crate::ownership::KnownChildren;
use kaspr_types::KasprApp;

/// Applies every child of `desired` in order; the rollout itself (the StatefulSet) and the
/// orphans' deletion only when `rollout` (a missing Secret holds the rollout, so running pods
/// keep running — and keep their volumes). The live set is kept current even while held.
pub(crate) async fn apply_all(
    client: &Client,
    ns: &str,
    owner: Owner<'_>,
    desired: &Desired,
    rollout: bool,
) -> Result<(), Error> {
    let (children, orphans) = desired.parts();
    // Every child is checked before any is written, so a conflict changes nothing.
    for child in children.iter().filter(|c| rollout || !c.rollout) {
        owner.known.check(client, ns, owner.app, child).await?;
    }
    for child in children.iter().filter(|c| !c.rollout) {
        apply(client, ns, child).await?;
    }
    if !rollout {
        return Ok(());
    }
    match &desired.replacement {
        Some(change) => replace_statefulset(client, ns, change).await?,
        None => {
            for child in children.iter().filter(|c| c.rollout) {
                apply(client, ns, child).await?;
            }
            if let Some(replicas) = desired.initial_replicas {
                start_replicas(client, ns, &desired.statefulset, replicas).await?;
            }
        }
    }
    for orphan in orphans {
        delete(client, ns, orphan, PropagationPolicy::Background).await?;
    }
    Ok(())
}

/// The app the children belong to, and the children already found to be its.
#[derive(Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub app: &'a KasprApp,
    pub known: &'a KnownChildren,
}

/// A changed immutable field: grow the claims, then delete the StatefulSet and leave its pods
/// running; the next reconcile (the deletion is a watch event) creates the new one.
async fn replace_statefulset(client: &Client, ns: &str, change: &Replacement) -> Result<(), Error> {
    for claim in &change.resizes {
        apply(client, ns, &Child::of(claim)).await?;
    }
    delete(client, ns, &change.statefulset, PropagationPolicy::Orphan).await?;
    tracing::info!(
        statefulset = %change.statefulset.name,
        resized = change.resizes.len(),
        "{}: the StatefulSet is replaced, its pods keep running",
        change.reason
    );
    Ok(())
}

/// Sets the replicas of an app scaled up from zero (`INITIAL_MAX_REPLICAS`). A merge patch, not
/// part of the apply: a field the apply owned and then leaves out is reset to its default (1),
/// while a value written this way stays until the HorizontalPodAutoscaler changes it.
async fn start_replicas(
    client: &Client,
    ns: &str,
    statefulset: &StatefulSet,
    replicas: i32,
) -> Result<(), Error> {
    let name = statefulset.metadata.name.clone().unwrap_or_default();
    let api = Api::<StatefulSet>::namespaced(client.clone(), ns);
    let params = PatchParams {
        field_manager: Some(format!("{FIELD_MANAGER}-ramp")),
        ..PatchParams::default()
    };
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    api.patch(&name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Apply {
            kind: "StatefulSet",
            name: name.clone(),
            source,
        })?;
    tracing::info!(statefulset = %name, replicas, "scaled up from zero: starting with {replicas} pods (INITIAL_MAX_REPLICAS)");
    Ok(())
}

/// Server-side apply of one child as our field manager (taking over what the Python operator
/// wrote, see `takeover`). A failure names its kind and name.
pub(crate) async fn apply(client: &Client, ns: &str, child: &Child) -> Result<(), Error> {
    let api = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &child.resource);
    crate::takeover::apply(&api, &child.name, &child.object)
        .await
        .map(|applied| {
            tracing::debug!(
                kind = child.kind,
                name = %child.name,
                resource_version = applied.metadata.resource_version.as_deref().unwrap_or_default(),
                "applied"
            );
        })
        .map_err(|source| Error::Apply {
            kind: child.kind,
            name: child.name.clone(),
            source,
        })
}

/// Deletes one orphan, only while it is the object that was seen (uid precondition). Already
/// gone (404) or replaced by another object of that name (409) is not an error: the next
/// reconcile sees what is there now.
async fn delete(
    client: &Client,
    ns: &str,
    orphan: &Orphan,
    propagation: PropagationPolicy,
) -> Result<(), Error> {
    let params = DeleteParams {
        propagation_policy: Some(propagation),
        preconditions: Some(Preconditions {
            uid: orphan.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match Api::<DynamicObject>::namespaced_with(client.clone(), ns, &orphan.resource)
        .delete(&orphan.name, &params)
        .await
    {
        Ok(_) => {
            tracing::info!(kind = orphan.kind, name = %orphan.name, "deleted a child the spec no longer asks for");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(source) => Err(Error::Delete {
            kind: orphan.kind,
            name: orphan.name.clone(),
            source,
        }),
    }
}
