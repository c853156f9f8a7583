//! The components' controllers, one per kind (KasprAgent, KasprTable, KasprWebView, KasprTask,
//! KasprJoin): each keeps its component's ConfigMap (the definition file the app's pods mount)
//! and its status. The app's controller mounts the ConfigMaps (it watches them), so a changed
//! definition reaches the pods as: component edited → its ConfigMap applied → the app's
//! StatefulSet rolls once.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kaspr_components::{
    Component, KasprAgent, KasprJoin, KasprTable, KasprTask, KasprWebView, app_name,
};
use kaspr_types::KasprApp;
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::instrument;

use crate::apply;
use crate::build::Child;
use crate::build::components::config_map;
use crate::error::{Error, api_message};
use crate::names::{FIELD_MANAGER, RESOURCE_HASH_ANNOTATION};
use crate::status::component::{self, ConfigMapOutcome, Seen};
use crate::status::now;

/// A component is looked at again this often without a watch event (drift of its ConfigMap).
const REQUEUE: Duration = Duration::from_secs(300);
const REQUEUE_FAILED: Duration = Duration::from_secs(30);
/// How long a reconcile waits for the caches it reads (operator start) before failing.
const SYNC_WAIT: Duration = Duration::from_secs(10);
const CONCURRENCY: u16 = 4;

/// One of the five component kinds, as the controllers handle them.
pub trait ComponentKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// The object as a [`Component`].
    fn component(&self) -> Component;
    /// Its status as stored (JSON), if any.
    fn status_value(&self) -> Option<Value>;
}

macro_rules! component_kind {
    ($type:ty, $variant:ident) => {
        impl ComponentKind for $type {
            fn component(&self) -> Component {
                Component::$variant(self.clone())
            }
            fn status_value(&self) -> Option<Value> {
                self.status
                    .as_ref()
                    .and_then(|s| serde_json::to_value(s).ok())
            }
        }
    };
}

component_kind!(KasprAgent, Agent);
component_kind!(KasprTable, Table);
component_kind!(KasprWebView, WebView);
component_kind!(KasprTask, Task);
component_kind!(KasprJoin, Join);

/// Shared by the reconciles of one kind.
pub struct ComponentContext {
    client: Client,
    recorder: Recorder,
    /// The app controller's cache of KasprApps: whether a component's app exists.
    apps: Store<KasprApp>,
    /// The KasprTable controller's cache (joins look their tables up in it).
    tables: Store<KasprTable>,
    /// Per component: the definition hash its ConfigMap was last seen or made to hold, and when.
    /// ConfigMaps are not watched (that needs list and watch on every ConfigMap), so a
    /// ConfigMap is read by name when the definition changed or this was long ago.
    verified: Mutex<HashMap<(String, String), (String, Instant)>>,
    /// The status last written per component, as the app controller keeps it (its copy can be
    /// one write behind).
    written: Mutex<HashMap<(String, String), Value>>,
}

impl ComponentContext {
    pub fn new(client: Client, apps: Store<KasprApp>, tables: Store<KasprTable>) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        ComponentContext {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            apps,
            tables,
            verified: Mutex::default(),
            written: Mutex::default(),
        }
    }

    fn key<K: ComponentKind>(object: &K) -> (String, String) {
        (
            format!(
                "{}/{}",
                K::kind(&()),
                object.namespace().unwrap_or_default()
            ),
            object.name_any(),
        )
    }

    fn previous<K: ComponentKind>(&self, object: &K) -> Option<Value> {
        let written = self
            .written
            .lock()
            .ok()
            .and_then(|w| w.get(&Self::key(object)).cloned());
        written.or_else(|| object.status_value())
    }
}

/// One reconcile of one component.
#[instrument(skip_all, fields(kind = %K::kind(&()), name = %object.name_any(), namespace = %object.namespace().unwrap_or_default()))]
pub async fn reconcile<K: ComponentKind>(
    object: Arc<K>,
    ctx: Arc<ComponentContext>,
) -> Result<Action, Error> {
    if object.meta().deletion_timestamp.is_some() {
        let key = ComponentContext::key(object.as_ref());
        if let Ok(mut w) = ctx.written.lock() {
            w.remove(&key);
        }
        if let Ok(mut v) = ctx.verified.lock() {
            v.remove(&key);
        }
        // The ConfigMap goes with it (owner reference); the app's watch of it rolls the pods.
        return Ok(Action::await_change());
    }
    let ns = object.namespace().ok_or(Error::NoNamespace)?;
    synced(&ctx.apps, "KasprApps").await?;
    let component = object.component();
    let outcome = match component.check() {
        Err(errors) => ConfigMapOutcome::Invalid(errors.to_string()),
        Ok(()) => ensure_config_map(&ctx, &ns, object.as_ref(), &component).await,
    };
    let app_found = component
        .app_name()
        .is_some_and(|a| ctx.apps.get(&ObjectRef::new(a).within(&ns)).is_some());
    let tables = match &component {
        Component::Join(join) => {
            synced(&ctx.tables, "KasprTables").await?;
            let exists = |name: &str| ctx.tables.get(&ObjectRef::new(name).within(&ns)).is_some();
            Some((
                exists(&join.spec.left_table),
                exists(&join.spec.right_table),
            ))
        }
        _ => None,
    };
    let failed = matches!(outcome, ConfigMapOutcome::ApplyFailed { .. });
    let seen = Seen {
        app_found,
        tables,
        outcome,
    };
    let previous = ctx.previous(object.as_ref());
    let conditions: Vec<Condition> = previous
        .as_ref()
        .and_then(|p| serde_json::from_value(p["conditions"].clone()).ok())
        .unwrap_or_default();
    let status = component::compute(&component, &conditions, &seen, &now());
    if previous.as_ref() != Some(&status) {
        patch_status(&ctx.client, object.as_ref(), &status).await?;
        for (warning, reason, note) in component::events(previous.as_ref(), &status) {
            publish(&ctx, object.as_ref(), warning, reason, &note).await;
        }
        if let Ok(mut w) = ctx.written.lock() {
            w.insert(ComponentContext::key(object.as_ref()), status);
        }
    }
    Ok(Action::requeue(if failed {
        REQUEUE_FAILED
    } else {
        REQUEUE
    }))
}

/// How long a ConfigMap seen holding the definition is trusted without reading it again (a
/// ConfigMap deleted or edited by someone is repaired within this long).
const VERIFY_EVERY: Duration = Duration::from_secs(300);

/// Applies the component's ConfigMap unless it already holds this definition, or a ConfigMap of
/// that name is someone else's.
async fn ensure_config_map<K: ComponentKind>(
    ctx: &ComponentContext,
    ns: &str,
    object: &K,
    component: &Component,
) -> ConfigMapOutcome {
    let cm = config_map(component);
    let name = component.config_map_name();
    let hash = cm
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RESOURCE_HASH_ANNOTATION))
        .cloned()
        .unwrap_or_default();
    let key = ComponentContext::key(object);
    let trusted = ctx.verified.lock().is_ok_and(|v| {
        v.get(&key)
            .is_some_and(|(h, at)| *h == hash && at.elapsed() < VERIFY_EVERY)
    });
    // Periodic and app-triggered reconciles cost no request while nothing changed.
    if trusted {
        return ConfigMapOutcome::Applied { hash };
    }
    let existing = match Api::<ConfigMap>::namespaced(ctx.client.clone(), ns)
        .get_metadata_opt(&name)
        .await
    {
        Ok(found) => found.map(|m| m.metadata),
        Err(e) => {
            return ConfigMapOutcome::ApplyFailed {
                name,
                message: format!("reading it first failed: {}", api_message(&e)),
            };
        }
    };
    let verified = |ctx: &ComponentContext| {
        if let Ok(mut v) = ctx.verified.lock() {
            v.insert(key.clone(), (hash.clone(), Instant::now()));
        }
    };
    if let Some(existing) = existing {
        let owners = existing.owner_references.as_deref().unwrap_or_default();
        // Never another's: upstream's ConfigMap for this component names the same uid.
        if !owners
            .iter()
            .any(|o| Some(&o.uid) == object.meta().uid.as_ref())
        {
            let holder = owners
                .iter()
                .find(|o| o.controller == Some(true))
                .map(|o| format!("owned by {} {}", o.kind, o.name))
                .unwrap_or_else(|| "created by someone else".to_owned());
            return ConfigMapOutcome::NameConflict { name, holder };
        }
        let current = existing
            .annotations
            .as_ref()
            .and_then(|a| a.get(RESOURCE_HASH_ANNOTATION));
        if current == Some(&hash) {
            verified(ctx);
            return ConfigMapOutcome::Applied { hash };
        }
    }
    match apply::apply(&ctx.client, ns, &Child::of(&cm)).await {
        Ok(()) => {
            tracing::info!(config_map = %name, %hash, "applied the definition");
            verified(ctx);
            ConfigMapOutcome::Applied { hash }
        }
        Err(Error::Apply { source, .. }) => ConfigMapOutcome::ApplyFailed {
            name,
            message: api_message(&source).chars().take(1024).collect(),
        },
        Err(other) => ConfigMapOutcome::ApplyFailed {
            name,
            message: other.to_string(),
        },
    }
}

async fn synced<K>(store: &Store<K>, what: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    match tokio::time::timeout(SYNC_WAIT, store.wait_until_ready()).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(Error::CacheNotSynced {
            what: what.to_owned(),
            message: format!(
                "the watch has not listed them yet after {}s",
                SYNC_WAIT.as_secs()
            ),
        }),
    }
}

async fn patch_status<K: ComponentKind>(
    client: &Client,
    object: &K,
    status: &Value,
) -> Result<(), Error> {
    let ns = object.namespace().ok_or(Error::NoNamespace)?;
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    Api::<K>::namespaced(client.clone(), &ns)
        .patch_status(
            &object.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::PatchStatus)?;
    Ok(())
}

async fn publish<K: ComponentKind>(
    ctx: &ComponentContext,
    object: &K,
    warning: bool,
    reason: &str,
    note: &str,
) {
    let type_ = if warning {
        EventType::Warning
    } else {
        EventType::Normal
    };
    crate::controller::publish(&ctx.recorder, &object.object_ref(&()), type_, reason, note).await;
}

fn error_policy<K: ComponentKind>(
    object: Arc<K>,
    error: &Error,
    _: Arc<ComponentContext>,
) -> Action {
    tracing::warn!(kind = %K::kind(&()), name = %object.name_any(), error = %error, "reconcile failed");
    Action::requeue(REQUEUE_FAILED)
}

/// The controller of kind `K`, watching namespace `ns` (None: all).
pub fn controller<K: ComponentKind>(client: &Client, ns: Option<&str>) -> Controller<K> {
    Controller::new(
        crate::wiring::scoped::<K>(client, ns),
        watcher::Config::default().any_semantic(),
    )
}

/// Runs `controller` (of kind `K`) until the process is told to stop. A KasprApp appearing or
/// going re-reconciles the components that name it (their status says whether it exists).
pub async fn run<K: ComponentKind>(
    controller: Controller<K>,
    client: Client,
    ns: Option<String>,
    ctx: Arc<ComponentContext>,
) {
    let ns = ns.as_deref();
    let controller = controller
        .with_config(kube::runtime::controller::Config::default().concurrency(CONCURRENCY));
    let components = controller.store();
    // Metadata is enough: only whether the app exists matters.
    let apps = watcher(
        crate::wiring::scoped::<PartialObjectMeta<KasprApp>>(&client, ns),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects()
    // Errors kept out of the controller (see `wiring::without_errors`); the app
    // controller's own watch of KasprApps reports them.
    .filter_map(|item| std::future::ready(item.ok().map(Ok)));
    controller
        .watches_stream(apps, move |app| {
            let ns = app.namespace();
            let name = app.name_any();
            components
                .state()
                .into_iter()
                .filter(|c| c.namespace() == ns && app_name(c.meta()) == Some(name.as_str()))
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|_| async {})
        .await;
}
