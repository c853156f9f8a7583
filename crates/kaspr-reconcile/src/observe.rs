//! The `observe` stage: read what the reconcile depends on. Secret values are looked at only to
//! see which keys exist, and are dropped at once.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kaspr_types::KasprApp;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::error::Error;
use crate::names;
use crate::status::Blocked;

/// What exists in the cluster for one app.
pub struct Snapshot {
    pub statefulset: Option<StatefulSet>,
    pub packages_pvc: Option<PersistentVolumeClaim>,
    pub pods: Vec<Pod>,
    /// Set when the credentials Secret or one of its keys is missing.
    pub secret_problem: Option<Blocked>,
}

pub async fn observe(client: &Client, app: &KasprApp) -> Result<Snapshot, Error> {
    let ns = app.namespace().ok_or(Error::NoNamespace)?;
    let name = names::component(app);
    let statefulset = Api::<StatefulSet>::namespaced(client.clone(), &ns)
        .get_opt(&name)
        .await
        .map_err(|source| Error::GetStatefulSet { name, source })?;
    let packages_pvc = packages_pvc(client, &ns, app).await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels(&format!("{}={}", names::APP_LABEL, app.name_any())))
        .await
        .map_err(Error::ListPods)?
        .items;
    let secret_problem = secret_problem(client, &ns, app).await?;
    Ok(Snapshot {
        statefulset,
        packages_pvc,
        pods,
        secret_problem,
    })
}

/// The shared packages PVC, looked up only when the cache is on (its size may only grow).
async fn packages_pvc(
    client: &Client,
    ns: &str,
    app: &KasprApp,
) -> Result<Option<PersistentVolumeClaim>, Error> {
    let cache_on = app
        .spec
        .python_packages
        .as_ref()
        .is_some_and(|p| p.cache.enabled);
    if !cache_on {
        return Ok(None);
    }
    let name = names::packages_pvc(app);
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .get_opt(&name)
        .await
        .map_err(|source| Error::GetPvc { name, source })
}

async fn secret_problem(
    client: &Client,
    ns: &str,
    app: &KasprApp,
) -> Result<Option<Blocked>, Error> {
    let Some(creds) = app
        .spec
        .python_packages
        .as_ref()
        .and_then(|p| p.credentials.as_ref())
    else {
        return Ok(None);
    };
    let r = &creds.secret_ref;
    // By name only: listing Secrets would need read access to every Secret's value. A blocked
    // app is re-checked on a short requeue (see `controller::REQUEUE_BLOCKED`).
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(&r.name)
        .await
        .map_err(|source| Error::GetSecret {
            name: r.name.clone(),
            source,
        })?;
    Ok(missing_key(
        secret.as_ref(),
        &r.name,
        [&r.username_key, &r.password_key],
    ))
}

/// The first problem with the referenced Secret, if any.
pub fn missing_key<'a>(
    secret: Option<&Secret>,
    name: &str,
    keys: impl IntoIterator<Item = &'a String>,
) -> Option<Blocked> {
    let Some(secret) = secret else {
        return Some(Blocked::SecretMissing {
            secret: name.to_owned(),
        });
    };
    keys.into_iter()
        .find(|k| {
            let in_data = secret.data.as_ref().is_some_and(|d| d.contains_key(*k));
            let in_string_data = secret
                .string_data
                .as_ref()
                .is_some_and(|d| d.contains_key(*k));
            !in_data && !in_string_data
        })
        .map(|k| Blocked::SecretKeyMissing {
            secret: name.to_owned(),
            key: k.clone(),
        })
}
