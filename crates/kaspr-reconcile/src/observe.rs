//! The `observe` stage: read what the reconcile depends on, and judge nothing. The app's
//! StatefulSet, pods, packages PVC and components come from the caches the controllers' watches
//! keep ([`Stores`]); the credentials Secret is read by name (Secrets are not cached: that would
//! hold every Secret's value), and only the names of its keys are kept. ConfigMaps are neither
//! listed nor watched: the live-set ConfigMap is read by name, and only when pythonPackages was
//! just removed (it is then an orphan to delete); a component's ConfigMap is known from the
//! component's status (`configMap`, `hash`: written once the ConfigMap holds that definition).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kaspr_components::{ComponentStatus, KasprAgent, KasprTable, KasprTask, KasprWebView};
use kaspr_types::{KasprApp, LinkedAgent, LinkedResource, LinkedResources, LinkedTable};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use crate::build::Existing;
use crate::build::components::Attached;
use crate::error::{Error, watch_message};
use crate::members::{MemberReport, Members};
use crate::names;

/// How long a reconcile waits for a cache that has not been filled yet (the operator just
/// started) before it says so in the status as a failed read.
const SYNC_WAIT: Duration = Duration::from_secs(10);

/// The caches observe reads. The controller's watches fill them through the [`Writers`] that
/// [`Stores::new`] returns; a test fills those writers itself.
#[derive(Clone)]
pub struct Stores {
    statefulsets: Store<StatefulSet>,
    pods: Store<Pod>,
    pvcs: Store<PersistentVolumeClaim>,
    hpas: Store<HorizontalPodAutoscaler>,
    components: ComponentStores,
    errors: WatchErrors,
    sync_wait: Duration,
}

/// The writing ends of [`Stores`].
pub struct Writers {
    pub statefulsets: reflector::store::Writer<StatefulSet>,
    pub pods: reflector::store::Writer<Pod>,
    pub pvcs: reflector::store::Writer<PersistentVolumeClaim>,
    pub hpas: reflector::store::Writer<HorizontalPodAutoscaler>,
}

/// The caches of the mounted component kinds (the component controllers' own).
#[derive(Clone)]
pub struct ComponentStores {
    pub agents: Store<KasprAgent>,
    pub webviews: Store<KasprWebView>,
    pub tables: Store<KasprTable>,
    pub tasks: Store<KasprTask>,
}

impl ComponentStores {
    /// Caches that hold no component and are ready (a cluster without components).
    pub fn empty() -> Self {
        fn ready<K>() -> Store<K>
        where
            K: reflector::Lookup + Clone + 'static,
            K::DynamicType: Default + Eq + std::hash::Hash + Clone,
        {
            let (store, mut writer) = reflector::store();
            writer.apply_watcher_event(&watcher::Event::Init);
            writer.apply_watcher_event(&watcher::Event::InitDone);
            store
        }
        ComponentStores {
            agents: ready(),
            webviews: ready(),
            tables: ready(),
            tasks: ready(),
        }
    }

    /// The components of app `app` in `ns`, each kind by name (`status.linkedResources`).
    fn linked(&self, ns: &str, app: &str) -> LinkedResources {
        let of = |meta: &ObjectMeta| {
            meta.namespace.as_deref() == Some(ns) && kaspr_components::app_name(meta) == Some(app)
        };
        let hash = |s: Option<&ComponentStatus>| s.and_then(|s| s.hash.clone()).unwrap_or_default();
        let basic = |c: &dyn HasComponentStatusDyn| LinkedResource {
            name: c.name(),
            hash: hash(c.status()),
        };
        let mut linked = LinkedResources {
            agents: self
                .agents
                .state()
                .iter()
                .filter(|a| of(&a.metadata))
                .map(|a| {
                    let topic = a.spec.input.topic.as_ref();
                    LinkedAgent {
                        name: a.name_any(),
                        hash: hash(a.status.as_ref()),
                        topic_name: topic.and_then(|t| t.name.clone()),
                        topic_pattern: topic.and_then(|t| t.pattern.clone()),
                    }
                })
                .collect(),
            webviews: self
                .webviews
                .state()
                .iter()
                .filter(|w| of(&w.metadata))
                .map(|w| basic(w.as_ref()))
                .collect(),
            tables: self
                .tables
                .state()
                .iter()
                .filter(|t| of(&t.metadata))
                .map(|t| LinkedTable {
                    name: t.name_any(),
                    hash: hash(t.status.as_ref()),
                    table_name: t.spec.name.clone(),
                })
                .collect(),
            tasks: self
                .tasks
                .state()
                .iter()
                .filter(|t| of(&t.metadata))
                .map(|t| basic(t.as_ref()))
                .collect(),
        };
        // As a list returns them (by name), so an unchanged set compares equal.
        linked.agents.sort_by(|a, b| a.name.cmp(&b.name));
        linked.webviews.sort_by(|a, b| a.name.cmp(&b.name));
        linked.tables.sort_by(|a, b| a.name.cmp(&b.name));
        linked.tasks.sort_by(|a, b| a.name.cmp(&b.name));
        linked
    }

    /// What app `app` in `ns` mounts: its components whose ConfigMap holds their definition (the
    /// status names the ConfigMap and its hash), in mount order.
    fn attached(&self, ns: &str, app: &str) -> Vec<Attached> {
        let mut out = Vec::new();
        collect(&self.agents, ns, app, &mut out);
        collect(&self.webviews, ns, app, &mut out);
        collect(&self.tables, ns, app, &mut out);
        collect(&self.tasks, ns, app, &mut out);
        Attached::in_mount_order(out)
    }
}

/// The components of `store` of app `app` in `ns` that have their ConfigMap.
fn collect<K>(store: &Store<K>, ns: &str, app: &str, out: &mut Vec<Attached>)
where
    K: Resource<DynamicType = ()> + HasComponentStatus + Clone + 'static,
{
    for c in store.state() {
        if c.namespace().as_deref() != Some(ns) || kaspr_components::app_name(c.meta()) != Some(app)
        {
            continue;
        }
        let status = c.component_status();
        if let Some((cm, hash)) =
            status.and_then(|s| Some((s.config_map.clone()?, s.hash.clone()?)))
            && let Some(a) = Attached::applied(&K::kind(&()), cm, hash)
        {
            out.push(a);
        }
    }
}

/// The mounted kinds' status.
pub trait HasComponentStatus {
    fn component_status(&self) -> Option<&ComponentStatus>;
}

/// A component's name and status, whatever its kind.
trait HasComponentStatusDyn {
    fn name(&self) -> String;
    fn status(&self) -> Option<&ComponentStatus>;
}

impl<K: HasComponentStatus + Resource> HasComponentStatusDyn for K {
    fn name(&self) -> String {
        self.meta().name.clone().unwrap_or_default()
    }
    fn status(&self) -> Option<&ComponentStatus> {
        self.component_status()
    }
}

macro_rules! has_component_status {
    ($($k:ty),*) => {$(
        impl HasComponentStatus for $k {
            fn component_status(&self) -> Option<&ComponentStatus> {
                self.status.as_ref()
            }
        }
    )*};
}
has_component_status!(KasprAgent, KasprWebView, KasprTable, KasprTask);

impl Stores {
    /// Empty caches, not ready until their writers have seen a first full list.
    pub fn new() -> (Stores, Writers) {
        Self::with_errors(WatchErrors::default())
    }

    /// `new`, recording watch failures in `errors` (a handle the caller keeps, e.g. for
    /// readiness).
    pub fn with_errors(errors: WatchErrors) -> (Stores, Writers) {
        let (statefulsets, sts_writer) = reflector::store();
        let (pods, pods_writer) = reflector::store();
        let (pvcs, pvcs_writer) = reflector::store();
        let (hpas, hpas_writer) = reflector::store();
        let stores = Stores {
            statefulsets,
            pods,
            pvcs,
            hpas,
            components: ComponentStores::empty(),
            errors,
            sync_wait: SYNC_WAIT,
        };
        let writers = Writers {
            statefulsets: sts_writer,
            pods: pods_writer,
            pvcs: pvcs_writer,
            hpas: hpas_writer,
        };
        (stores, writers)
    }

    /// These stores, reading the app's components from `components`.
    pub fn with_components(mut self, components: ComponentStores) -> Self {
        self.components = components;
        self
    }

    /// The last error of each watch, for a cache that is not ready.
    pub fn errors(&self) -> &WatchErrors {
        &self.errors
    }

    #[cfg(test)]
    fn with_sync_wait(mut self, wait: Duration) -> Self {
        self.sync_wait = wait;
        self
    }

    /// Waits (a bounded time) for `store`'s first full list; `what` names the read that needs it.
    async fn synced<K>(&self, store: &Store<K>, what: impl FnOnce() -> String) -> Result<(), Error>
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        let kind = <K as Resource>::kind(&());
        // A watch that already failed (RBAC, a kind not served) fails the read at once: waiting
        // would hold a worker for nothing, and every app would queue behind it.
        let failed = self.errors.last(&kind);
        let wait = if failed.is_some() {
            // Polled once: a ready store still passes.
            Duration::ZERO
        } else {
            self.sync_wait
        };
        let ready = tokio::time::timeout(wait, store.wait_until_ready())
            .await
            .map_err(|_| ())
            .and_then(|r| r.map_err(|_| ()));
        if ready.is_ok() {
            return Ok(());
        }
        let message = self.errors.last(&kind).or(failed).unwrap_or_else(|| {
            format!(
                "the {kind} watch has not listed them yet after {}s",
                self.sync_wait.as_secs()
            )
        });
        Err(Error::CacheNotSynced {
            what: what(),
            message,
        })
    }
}

/// The last error of each watch (by kind), cleared by the next event that brings objects.
#[derive(Clone, Default)]
pub struct WatchErrors(Arc<Mutex<BTreeMap<String, String>>>);

impl WatchErrors {
    /// Notes what a watch of `kind` yielded. The `Init` that starts every (re)list is no sign of
    /// success (the list may fail right after it), so it leaves an error in place.
    pub(crate) fn record<K>(&self, kind: &str, item: &Result<watcher::Event<K>, watcher::Error>) {
        let Ok(mut errors) = self.0.lock() else {
            return;
        };
        match item {
            Ok(watcher::Event::Init) => {}
            Ok(_) => {
                if errors.remove(kind).is_some() {
                    tracing::info!(kind, "the watch works again");
                }
            }
            Err(e) => {
                let message = watch_message(e);
                // Once per new message: the watcher retries with backoff and would repeat it.
                if errors.get(kind) != Some(&message) {
                    tracing::warn!(kind, error = %message, "the watch of {kind} fails; reconciles that need it wait and then report ReadFailed");
                }
                errors.insert(kind.to_owned(), message);
            }
        }
    }

    /// The kinds whose watch fails now, with the API's message (for readiness).
    pub fn failing(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .map(|e| e.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn last(&self, kind: &str) -> Option<String> {
        self.0.lock().ok()?.get(kind).cloned()
    }
}

/// The credentials Secret as read by name: the names of its keys (in `data` or `stringData`),
/// never their values, which are dropped at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretKeys {
    pub name: String,
    /// None when there is no Secret of that name.
    pub keys: Option<BTreeSet<String>>,
}

impl SecretKeys {
    /// The key names of `secret` (None: it does not exist).
    pub fn of(name: &str, secret: Option<&Secret>) -> Self {
        let keys = secret.map(|s| {
            let data = s.data.iter().flat_map(|d| d.keys());
            let string_data = s.string_data.iter().flat_map(|d| d.keys());
            data.chain(string_data).cloned().collect()
        });
        SecretKeys {
            name: name.to_owned(),
            keys,
        }
    }
}

/// What exists in the cluster for one app.
pub(crate) struct Snapshot {
    pub statefulset: Option<Arc<StatefulSet>>,
    pub packages_pvc: Option<Arc<PersistentVolumeClaim>>,
    /// The app's HorizontalPodAutoscaler.
    pub hpa: Option<Arc<HorizontalPodAutoscaler>>,
    /// The claims the StatefulSet made from its table-storage template, by name.
    pub table_claims: Vec<PersistentVolumeClaim>,
    /// The live-set ConfigMap's metadata, when it may be an orphan (see `live_set`).
    pub live_set: Option<ObjectMeta>,
    /// Every pod of the app, by name.
    pub pods: Vec<Pod>,
    /// Every Secret the spec references (`KasprAppSpec::secret_references`), once each, as
    /// read.
    pub secrets: Vec<SecretKeys>,
    /// What the available members' web API said (empty when not asked or none answered).
    pub members: Vec<MemberReport>,
    /// The app's component ConfigMaps, in mount order.
    pub components: Vec<Attached>,
    /// The app's components (`status.linkedResources`).
    pub linked: LinkedResources,
}

impl Snapshot {
    /// What `build` needs of it.
    pub(crate) fn existing(&self) -> Existing<'_> {
        Existing {
            statefulset: self.statefulset.as_deref(),
            hpa: self.hpa.as_deref(),
            packages_pvc: self.packages_pvc.as_deref(),
            table_claims: &self.table_claims,
            live_set: self.live_set.as_ref(),
            pods: &self.pods,
            components: &self.components,
        }
    }
}

pub(crate) async fn observe(
    client: &Client,
    stores: &Stores,
    members: &Members,
    app: &KasprApp,
) -> Result<Snapshot, Error> {
    let ns = app.namespace().ok_or(Error::NoNamespace)?;
    let sts_name = names::component(app);
    let pvc_name = names::packages_pvc(app);
    let live_name = names::live_set(app);
    stores
        .synced(&stores.statefulsets, || format!("StatefulSet {sts_name}"))
        .await?;
    stores
        .synced(&stores.pods, || "the app's pods".to_owned())
        .await?;
    stores
        .synced(&stores.pvcs, || format!("PersistentVolumeClaim {pvc_name}"))
        .await?;
    let hpa_name = names::hpa(app);
    stores
        .synced(&stores.hpas, || {
            format!("HorizontalPodAutoscaler {hpa_name}")
        })
        .await?;
    let app_name = app.name_any();
    let mut pods: Vec<Pod> = stores
        .pods
        .state()
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| p.labels().get(names::APP_LABEL) == Some(&app_name))
        .map(|p| Pod::clone(p))
        .collect();
    // As a list returns them: the status reads the first failed pod, so keep it stable.
    pods.sort_by_key(|p| p.name_any());
    // `<template>-<statefulset>-<ordinal>`, as the StatefulSet controller names them.
    let claim_prefix = format!("{}-{sts_name}-", names::table_volume(app));
    let mut table_claims: Vec<PersistentVolumeClaim> = stores
        .pvcs
        .state()
        .iter()
        .filter(|c| c.namespace().as_deref() == Some(ns.as_str()))
        .filter(|c| {
            c.name_any()
                .strip_prefix(&claim_prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|c| PersistentVolumeClaim::clone(c))
        .collect();
    table_claims.sort_by_key(|c| c.name_any());
    let statefulset = stores
        .statefulsets
        .get(&ObjectRef::new(&sts_name).within(&ns));
    let available = statefulset
        .as_ref()
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.available_replicas)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    Ok(Snapshot {
        members: members.statuses(app, available).await,
        statefulset,
        packages_pvc: stores.pvcs.get(&ObjectRef::new(&pvc_name).within(&ns)),
        table_claims,
        hpa: stores.hpas.get(&ObjectRef::new(&hpa_name).within(&ns)),
        live_set: live_set(client, &ns, app, &live_name).await?,
        pods,
        components: stores.components.attached(&ns, &app_name),
        linked: stores.components.linked(&ns, &app_name),
        secrets: secrets(client, &ns, app).await?,
    })
}

/// The live-set ConfigMap's metadata, read by name only when it may be an orphan: pythonPackages
/// is gone from the spec but the status still has it (the first reconcile after the removal, or
/// until the deletion went through). With pythonPackages it is applied, never deleted.
async fn live_set(
    client: &Client,
    ns: &str,
    app: &KasprApp,
    name: &str,
) -> Result<Option<ObjectMeta>, Error> {
    let had_packages = app
        .status
        .as_ref()
        .is_some_and(|s| s.python_packages.is_some());
    if app.spec.python_packages.is_some() || !had_packages {
        return Ok(None);
    }
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get_metadata_opt(name)
        .await
        .map(|m| m.map(|m| m.metadata))
        .map_err(|source| Error::GetLiveSet {
            name: name.to_owned(),
            source,
        })
}

/// The key names of each Secret the spec references, read by name only: listing Secrets would
/// need read access to every Secret's value. A blocked app is re-checked on a short requeue
/// (`Settings::blocked_requeue`); Secrets are never listed or watched.
async fn secrets(client: &Client, ns: &str, app: &KasprApp) -> Result<Vec<SecretKeys>, Error> {
    let mut read: Vec<SecretKeys> = Vec::new();
    for reference in app.spec.secret_references() {
        if read.iter().any(|s| s.name == reference.name) {
            continue;
        }
        let secret = Api::<Secret>::namespaced(client.clone(), ns)
            .get_opt(&reference.name)
            .await
            .map_err(|source| Error::GetSecret {
                name: reference.name.clone(),
                source,
            })?;
        read.push(SecretKeys::of(&reference.name, secret.as_ref()));
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> KasprApp {
        serde_yaml::from_str(
            "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: orders, namespace: default}\nspec: {bootstrapServers: 'k:9092'}",
        )
        .expect("app")
    }

    fn offline_client() -> Client {
        let (service, _handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        Client::new(service, "default")
    }

    fn pod(name: &str, ns: &str, app: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns, "labels": {names::APP_LABEL: app}}
        }))
        .expect("pod")
    }

    #[tokio::test]
    async fn reads_the_apps_pods_from_the_cache_by_namespace_and_label_in_name_order() {
        let (stores, mut w) = Stores::new();
        w.pods.apply_watcher_event(&watcher::Event::Init);
        for p in [
            pod("orders-app-1", "default", "orders"),
            pod("orders-app-0", "default", "orders"),
            pod("orders-app-0", "other", "orders"),
            pod("billing-app-0", "default", "billing"),
        ] {
            w.pods.apply_watcher_event(&watcher::Event::InitApply(p));
        }
        w.pods.apply_watcher_event(&watcher::Event::InitDone);
        for w in [
            &mut w.statefulsets as &mut dyn Ready,
            &mut w.pvcs,
            &mut w.hpas,
        ] {
            w.ready();
        }
        let snapshot = observe(
            &offline_client(),
            &stores,
            &Members::new(Default::default()),
            &app(),
        )
        .await
        .expect("observed");
        let names: Vec<String> = snapshot.pods.iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["orders-app-0", "orders-app-1"]);
        assert!(snapshot.statefulset.is_none() && snapshot.secrets.is_empty());
    }

    #[tokio::test]
    async fn a_cache_its_watch_cannot_fill_is_a_failed_read_with_the_watchs_error() {
        let (stores, _writers) = Stores::new();
        let stores = stores.with_sync_wait(Duration::from_millis(20));
        let refused = kube::Error::Api(
            kube::core::Status::failure("404 page not found", "NotFound")
                .with_code(404)
                .boxed(),
        );
        let errors = stores.errors();
        errors.record::<StatefulSet>(
            "StatefulSet",
            &Err(watcher::Error::InitialListFailed(refused)),
        );
        // A relist starting again does not clear it; only objects arriving would.
        errors.record::<StatefulSet>("StatefulSet", &Ok(watcher::Event::Init));
        let Err(error) = observe(
            &offline_client(),
            &stores,
            &Members::new(Default::default()),
            &app(),
        )
        .await
        else {
            panic!("observed without a synced cache");
        };
        assert_eq!(
            error.failed_read(),
            Some((
                "StatefulSet orders-app".to_owned(),
                "404 page not found".to_owned()
            ))
        );
        assert_eq!(error.metric_label(), "cache_not_synced");
    }

    #[test]
    fn secret_keys_are_names_only() {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pypi"},
            "data": {"username": "dQ=="}, "stringData": {"password": "p"}
        }))
        .expect("secret");
        let keys = SecretKeys::of("pypi", Some(&secret));
        assert_eq!(
            keys.keys,
            Some(BTreeSet::from(["password".into(), "username".into()]))
        );
        assert!(!format!("{keys:?}").contains("dQ=="));
        assert_eq!(SecretKeys::of("pypi", None).keys, None);
    }

    /// Marks an empty cache listed.
    trait Ready {
        fn ready(&mut self);
    }

    impl<K> Ready for reflector::store::Writer<K>
    where
        K: kube::runtime::reflector::Lookup + Clone + 'static,
        K::DynamicType: Eq + std::hash::Hash + Clone + Default,
    {
        fn ready(&mut self) {
            self.apply_watcher_event(&watcher::Event::InitDone);
        }
    }
}
