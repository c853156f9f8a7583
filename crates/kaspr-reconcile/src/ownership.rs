//! No silent takeover: before a child is applied the first time, the object of that name (if
//! any) must be this app's — its owner reference names the app's uid — or one the Python
//! operator created for this app (its labels say so: `kaspr.io/app` and
//! `app.kubernetes.io/managed-by: kaspr-operator`), which is adopted: that is the migration path.
//! Anything else is a name conflict, refused with the holder named, and never touched (nor
//! deleted with the app).
//!
//! A child once found ours is remembered for the life of the process, so the check costs one
//! metadata read per child, not one per reconcile.

use std::collections::HashSet;
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_types::KasprApp;
use kube::api::{Api, DynamicObject};
use kube::{Client, ResourceExt};

use crate::build::Child;
use crate::error::Error;

/// Children known to be this operator's: (resource plural, namespace, name).
#[derive(Default)]
pub struct KnownChildren(Mutex<HashSet<(String, String, String)>>);

/// Whose an existing object is.
#[derive(Debug, PartialEq, Eq)]
pub enum Holder {
    /// This app's (owner reference), or upstream's for this app (labels).
    ThisApp,
    /// Someone else's: who, as a user would name it.
    Other(String),
}

/// Judges `meta` for `app`.
pub fn holder(meta: &ObjectMeta, app: &KasprApp) -> Holder {
    let uid = app.metadata.uid.as_deref();
    let owners = meta.owner_references.as_deref().unwrap_or_default();
    if owners.iter().any(|o| Some(o.uid.as_str()) == uid) {
        return Holder::ThisApp;
    }
    let labels = meta.labels.clone().unwrap_or_default();
    let upstreams = labels.get("kaspr.io/app") == Some(&app.name_any())
        && labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str)
            == Some("kaspr-operator");
    if upstreams && owners.iter().all(|o| o.kind != "KasprApp") {
        return Holder::ThisApp;
    }
    Holder::Other(
        match owners
            .iter()
            .find(|o| o.controller == Some(true))
            .or(owners.first())
        {
            Some(o) => format!("owned by {} {}", o.kind, o.name),
            None => {
                "created by someone else (no owner reference, no labels of this app)".to_owned()
            }
        },
    )
}

impl KnownChildren {
    /// Ok when `child` may be applied for `app`: absent, this app's, or upstream's for it.
    pub(crate) async fn check(
        &self,
        client: &Client,
        ns: &str,
        app: &KasprApp,
        child: &Child,
    ) -> Result<(), Error> {
        let key = (
            child.resource.plural.clone(),
            ns.to_owned(),
            child.name.clone(),
        );
        if self.0.lock().is_ok_and(|k| k.contains(&key)) {
            return Ok(());
        }
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &child.resource);
        let existing = api
            .get_metadata_opt(&child.name)
            .await
            .map_err(|source| Error::Apply {
                kind: child.kind,
                name: child.name.clone(),
                source,
            })?;
        if let Some(meta) = existing
            && let Holder::Other(holder) = holder(&meta.metadata, app)
        {
            return Err(Error::NameConflict {
                kind: child.kind,
                name: child.name.clone(),
                holder,
            });
        }
        if let Ok(mut known) = self.0.lock() {
            known.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> KasprApp {
        serde_json::from_value(json!({
            "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
            "metadata": {"name": "orders", "namespace": "default", "uid": "app-uid"},
            "spec": {"bootstrapServers": "k:9092"}
        }))
        .expect("app")
    }

    fn meta(v: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(v).expect("meta")
    }

    #[test]
    fn ours_upstreams_and_someone_elses() {
        let owned = meta(
            json!({"ownerReferences": [{"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "name": "orders", "uid": "app-uid", "controller": true}]}),
        );
        assert_eq!(holder(&owned, &app()), Holder::ThisApp);
        let upstream = meta(
            json!({"labels": {"kaspr.io/app": "orders", "app.kubernetes.io/managed-by": "kaspr-operator"}}),
        );
        assert_eq!(holder(&upstream, &app()), Holder::ThisApp);
        let other_app = meta(
            json!({"labels": {"kaspr.io/app": "billing", "app.kubernetes.io/managed-by": "kaspr-operator"}}),
        );
        assert!(matches!(holder(&other_app, &app()), Holder::Other(_)));
        let hand_made = meta(json!({"labels": {"team": "x"}}));
        assert_eq!(
            holder(&hand_made, &app()),
            Holder::Other(
                "created by someone else (no owner reference, no labels of this app)".into()
            )
        );
        let helm = meta(
            json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "x", "controller": true}]}),
        );
        assert_eq!(
            holder(&helm, &app()),
            Holder::Other("owned by Deployment web".into())
        );
        let another_kaspr_app = meta(json!({
            "labels": {"kaspr.io/app": "orders", "app.kubernetes.io/managed-by": "kaspr-operator"},
            "ownerReferences": [{"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "name": "orders", "uid": "old-uid", "controller": true}]}));
        assert!(
            matches!(holder(&another_kaspr_app, &app()), Holder::Other(_)),
            "a former app of the same name (another uid) is not this one"
        );
    }
}
