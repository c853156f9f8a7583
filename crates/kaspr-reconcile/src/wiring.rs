//! How the controllers run: per watched namespace, the component controllers and the app
//! controller, each its own task; the watches that fill the caches observe reads and trigger
//! reconciles (errors kept out of the trigger streams), and the debounce of component changes.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kaspr_components::{KasprAgent, KasprJoin, KasprTable, KasprTask, KasprWebView};
use kaspr_types::KasprApp;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};

use crate::component_controller::{self as cc, ComponentContext};
use crate::controller::{Context, error_policy, reconcile};
use crate::metrics::Metrics;
use crate::names;
use crate::observe::{ComponentStores, Stores, WatchErrors};
use crate::settings::Settings;

/// Runs the controller until the process is told to stop.
///
/// The watches of StatefulSets, pods, PVCs and ConfigMaps (metadata) both trigger reconciles and
/// fill the caches observe reads, so a reconcile makes no read of its own but the Secret's.
/// Watch failures are recorded in `errors` (the caller's readiness reads them).
pub async fn run(client: Client, metrics: Metrics, settings: Settings, errors: WatchErrors) {
    let scopes: Vec<Option<String>> = if settings.namespaces.is_empty() {
        vec![None]
    } else {
        settings.namespaces.iter().cloned().map(Some).collect()
    };
    let each = scopes.into_iter().map(|namespace| {
        run_in(
            client.clone(),
            metrics.clone(),
            settings.clone(),
            errors.clone(),
            namespace,
        )
    });
    futures::future::join_all(each).await;
}

/// An API of every namespace, or of one.
pub(crate) fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The controllers of one scope: all namespaces (`None`) or one. Each watched namespace gets
/// its own watches and caches (a reflector cannot merge two lists).
async fn run_in(
    client: Client,
    metrics: Metrics,
    settings: Settings,
    errors: WatchErrors,
    namespace: Option<String>,
) {
    let ns = namespace.as_deref();
    // The component controllers first: their caches tell observe what the app's pods mount.
    let agents = cc::controller::<KasprAgent>(&client, ns);
    let webviews = cc::controller::<KasprWebView>(&client, ns);
    let tasks = cc::controller::<KasprTask>(&client, ns);
    let joins = cc::controller::<KasprJoin>(&client, ns);
    // Joins look their tables up in the KasprTable controller's cache.
    let (tables, table_writer) = reflector::store();
    let table_events = watcher(
        scoped::<KasprTable>(&client, ns),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .reflect(table_writer)
    .applied_objects();
    let table_controller = Controller::for_stream(table_events, tables.clone());
    let (stores, writers) = Stores::with_errors(errors);
    let stores = stores.with_components(ComponentStores {
        agents: agents.store(),
        webviews: webviews.store(),
        tables: tables.clone(),
        tasks: tasks.store(),
    });
    let errors = stores.errors().clone();
    let ctx = Arc::new(Context::new(client.clone(), metrics, stores, settings));
    let apps = scoped::<KasprApp>(&client, ns);
    let controller = Controller::new(apps, watcher::Config::default().any_semantic()).with_config(
        kube::runtime::controller::Config::default()
            .concurrency(CONCURRENCY)
            .debounce(DEBOUNCE),
    );
    let cctx = Arc::new(ComponentContext::new(
        client.clone(),
        controller.store(),
        tables,
    ));
    let c = || client.clone();
    // Each controller is its own task, so they run in parallel on the runtime's threads.
    let owned = || namespace.clone();
    let components = [
        tokio::spawn(cc::run(agents, c(), owned(), cctx.clone())),
        tokio::spawn(cc::run(table_controller, c(), owned(), cctx.clone())),
        tokio::spawn(cc::run(webviews, c(), owned(), cctx.clone())),
        tokio::spawn(cc::run(tasks, c(), owned(), cctx.clone())),
        tokio::spawn(cc::run(joins, c(), owned(), cctx.clone())),
    ];
    let all = watcher::Config::default;
    let statefulsets = cached(
        watcher(scoped::<StatefulSet>(&client, ns), all()),
        writers.statefulsets,
        &errors,
    );
    let pvcs = cached(
        watcher(scoped::<PersistentVolumeClaim>(&client, ns), all()),
        writers.pvcs,
        &errors,
    );
    let hpas = cached(
        watcher(scoped::<HorizontalPodAutoscaler>(&client, ns), all()),
        writers.hpas,
        &errors,
    );
    let pods = cached(
        watcher(scoped::<Pod>(&client, ns), all().labels(names::APP_LABEL)),
        writers.pods,
        &errors,
    );
    let app_controller = controller
        .owns_stream(statefulsets)
        .owns_stream(triggers(
            watcher(scoped::<Service>(&client, ns), all()),
            &errors,
        ))
        // A component added, removed, or its ConfigMap holding a new definition (its status
        // says so): the app's pods mount them. ConfigMaps themselves are not watched.
        .watches_stream(
            component_events::<KasprAgent>(&client, ns, &errors),
            app_of_component,
        )
        .watches_stream(
            component_events::<KasprWebView>(&client, ns, &errors),
            app_of_component,
        )
        .watches_stream(
            component_events::<KasprTable>(&client, ns, &errors),
            app_of_component,
        )
        .watches_stream(
            component_events::<KasprTask>(&client, ns, &errors),
            app_of_component,
        )
        .owns_stream(pvcs)
        .owns_stream(hpas)
        .watches_stream(pods, |pod| {
            let app = pod.labels().get(names::APP_LABEL).cloned();
            app.map(|name| ObjectRef::new(&name).within(&pod.namespace().unwrap_or_default()))
        })
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx.clone())
        .for_each(move |result| {
            match result {
                // A watch that triggers reconciles failing (each also names itself in /readyz).
                Err(kube::runtime::controller::Error::QueueError(e)) => {
                    tracing::warn!(error = %e, "a watch that triggers reconciles fails")
                }
                // An app gone before its reconcile: deleted. Its series and memos go too.
                Err(kube::runtime::controller::Error::ObjectNotFound(gone)) => {
                    let ns = gone.namespace.clone().unwrap_or_default();
                    ctx.forget_deleted(&gone.name, &ns);
                    tracing::info!(name = %gone.name, namespace = %ns, "the KasprApp was deleted");
                }
                Err(e) => tracing::debug!(error = %e, "controller event"),
                Ok(_) => {}
            }
            std::future::ready(())
        });
    let app_controller = tokio::spawn(app_controller);
    for task in components {
        let _ = task.await;
    }
    let _ = app_controller.await;
}

/// A burst of changes (`kubectl apply -f` of an app's components) is one reconcile, so one
/// rollout, when its events come within this long of each other.
const DEBOUNCE: Duration = Duration::from_secs(1);

/// Every change of a component of kind `K` (its metadata: a status write changes it too).
fn component_events<K>(
    client: &Client,
    ns: Option<&str>,
    errors: &WatchErrors,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + Send
        + Sync
        + serde::de::DeserializeOwned
        + 'static,
{
    triggers(
        watcher(
            scoped::<PartialObjectMeta<K>>(client, ns),
            watcher::Config::default(),
        ),
        errors,
    )
}

/// The app a component belongs to: its `kaspr.io/app` label.
fn app_of_component<K: Resource<DynamicType = ()>>(
    component: PartialObjectMeta<K>,
) -> Option<ObjectRef<KasprApp>> {
    let ns = component.namespace().unwrap_or_default();
    let app = kaspr_components::app_name(&component.metadata)?;
    Some(ObjectRef::new(app).within(&ns))
}

/// Reconciles at once. Unbounded, a burst (an operator start with 1,000 apps) ran every app at
/// once, each holding its rendered children and an HTTP connection: 236 MB of heap at the peak,
/// most of which the allocator kept (measured with heaptrack, docs/benchmarks.md).
const CONCURRENCY: u16 = 16;

/// What a cache keeps of an object. Nothing reads managed fields; of a pod spec (a pod's, or a
/// StatefulSet's template) observe and status read only each container's name, image and
/// resources (the install container's memory limit names an OOM kill). The rest — the install
/// script in `command`, every variable, mount, volume, probe and scheduling rule — is most of a
/// decoded StatefulSet or pod, and with a thousand apps most of the operator's memory.
trait Slim {
    fn slim(&mut self) {}
}

impl Slim for StatefulSet {
    fn slim(&mut self) {
        if let Some(pod) = self.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
            slim_pod_spec(pod);
        }
    }
}

impl Slim for Pod {
    fn slim(&mut self) {
        if let Some(pod) = self.spec.as_mut() {
            slim_pod_spec(pod);
        }
    }
}

impl Slim for PersistentVolumeClaim {}
impl Slim for HorizontalPodAutoscaler {}

fn slim_pod_spec(pod: &mut k8s_openapi::api::core::v1::PodSpec) {
    for c in pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten())
    {
        *c = k8s_openapi::api::core::v1::Container {
            name: std::mem::take(&mut c.name),
            image: c.image.take(),
            resources: c.resources.take(),
            ..Default::default()
        };
    }
    *pod = k8s_openapi::api::core::v1::PodSpec {
        containers: std::mem::take(&mut pod.containers),
        init_containers: pod.init_containers.take(),
        ..Default::default()
    };
}

/// One watch that fills `writer`'s cache (slimmed, see [`Slim`]) and notes its errors for
/// observe, as the trigger stream of the objects it touches.
fn cached<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    writer: Writer<K>,
    errors: &WatchErrors,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Slim + Clone + Debug + Send + Sync + 'static,
{
    let kind = K::kind(&()).into_owned();
    let errors = errors.clone();
    events
        .default_backoff()
        .modify(|object: &mut K| {
            object.managed_fields_mut().clear();
            object.slim();
        })
        .reflect(writer)
        .inspect(move |item| errors.record(&kind, item))
        .touched_objects()
        .filter_map(without_errors)
}

/// A trigger stream without its errors (they are recorded and logged where the stream is made):
/// kube-runtime splits a controller's triggers into objects and errors with a lock-step peek,
/// and an error at the head while the controller waits for its own cache was seen to stall it
/// until some timer woke it (minutes, with watches failing under backoff; reproduced on
/// crdserver, where the core API's watches fail).
fn without_errors<K>(
    item: Result<K, watcher::Error>,
) -> std::future::Ready<Option<Result<K, watcher::Error>>> {
    std::future::ready(item.ok().map(Ok))
}

/// A watch whose events only trigger reconciles (no cache): its errors are recorded in
/// `errors` (logs and /readyz) and kept out of the controller.
fn triggers<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    errors: &WatchErrors,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    let kind = K::kind(&()).into_owned();
    let errors = errors.clone();
    events
        .default_backoff()
        .inspect(move |item| errors.record(&kind, item))
        .touched_objects()
        .filter_map(without_errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cached_pod_keeps_what_observe_reads_and_no_more() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "orders-app-0", "annotations": {"kaspr.io/python-packages-hash": "h"}},
            "spec": {
                "initContainers": [{"name": "install-packages", "image": "i",
                    "command": ["/bin/sh", "-c", "a very long install script"], "args": ["x"],
                    "resources": {"limits": {"memory": "256Mi"}}}],
                "containers": [{"name": "kaspr", "image": "kasprio/kaspr:0.11.19", "command": ["run"],
                    "env": [{"name": "K_APP_NAME", "value": "orders-app"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/var/lib/data"}]}],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "tolerations": [{"key": "k", "operator": "Exists"}]
            },
            "status": {"initContainerStatuses": [{"name": "install-packages", "image": "i", "imageID": "",
                "ready": false, "restartCount": 0}]}
        }))
        .expect("pod");
        pod.slim();
        let spec = pod.spec.as_ref().expect("spec");
        let init = &spec.init_containers.as_ref().expect("init")[0];
        assert!(init.command.is_none() && init.args.is_none());
        let kaspr = &spec.containers[0];
        assert!(kaspr.command.is_none() && kaspr.env.is_none() && kaspr.volume_mounts.is_none());
        assert!(spec.volumes.is_none() && spec.tolerations.is_none());
        assert_eq!(kaspr.name, "kaspr");
        assert_eq!(
            spec.containers[0].image.as_deref(),
            Some("kasprio/kaspr:0.11.19")
        );
        assert!(
            init.resources
                .as_ref()
                .and_then(|r| r.limits.as_ref())
                .is_some()
        );
        assert!(pod.status.is_some() && pod.metadata.annotations.is_some());
    }
}
