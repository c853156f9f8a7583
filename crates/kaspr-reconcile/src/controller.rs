//! The reconcile pipeline and its wiring into a kube-runtime Controller:
//! observe -> validate -> build -> apply -> status.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kaspr_components::{KasprAgent, KasprJoin, KasprTable, KasprTask, KasprWebView};
use kaspr_types::{CacheAccessMode, KasprApp, KasprAppStatus, PackagesState, PythonPackagesSpec};
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::instrument;

use crate::apply::{Owner, apply_all};
use crate::build;
use crate::component_controller::{self as cc, ComponentContext};
use crate::error::{Error, api_message};
use crate::member_actions::{self, HungCounts};
use crate::members::Members;
use crate::metrics::Metrics;
use crate::names::{self, FIELD_MANAGER};
use crate::observe::{self, ComponentStores, Snapshot, Stores, WatchErrors};
use crate::ownership::KnownChildren;
use crate::settings::Settings;
use crate::status::{self, Blocked, Observed};
use crate::validate::validate;

/// Requeue while packages are installing: pods are watched too, this is a safety net.
const REQUEUE_BUSY: Duration = Duration::from_secs(30);
const REQUEUE_IDLE: Duration = Duration::from_secs(300);
/// How often members are asked for their status (upstream: every 30 s).
const REQUEUE_MEMBERS: Duration = Duration::from_secs(60);
const BACKOFF_BASE: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Shared by every reconcile.
pub struct Context {
    client: Client,
    recorder: Recorder,
    metrics: Metrics,
    /// Operator-wide settings (the image registry, member checks).
    settings: Settings,
    /// The members' web API client.
    members: Members,
    /// Members seen hung, per app, check after check.
    hung: HungCounts,
    /// Children found to be their app's (so not a name conflict).
    known: KnownChildren,
    /// The caches observe reads, kept by the controller's watches.
    stores: Stores,
    /// Install reports already counted (pod uid + restart count).
    seen_reports: Mutex<HashSet<String>>,
    /// The generation of each app whose spec warnings were logged (once per generation).
    warned: Mutex<HashMap<ObjectRef<KasprApp>, i64>>,
    /// Consecutive failures per app, for the error policy's backoff.
    failures: Mutex<HashMap<ObjectRef<KasprApp>, u32>>,
    /// The status this operator last wrote per app. The controller's copy of an app can be one
    /// status write behind; computing from it would restart conditions' transition times and
    /// write again, and each write's watch event would start the next round (a storm found with
    /// 1,000 apps). So the last written status is the previous one, and an unchanged status is
    /// not written.
    written: Mutex<HashMap<ObjectRef<KasprApp>, KasprAppStatus>>,
}

impl Context {
    pub fn new(client: Client, metrics: Metrics, stores: Stores, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            members: Members::new(settings.members.clone()),
            settings,
            hung: HungCounts::default(),
            known: KnownChildren::default(),
            stores,
            seen_reports: Mutex::default(),
            warned: Mutex::default(),
            failures: Mutex::default(),
            written: Mutex::default(),
        }
    }

    /// `app` with the status this operator last wrote for it, when that differs from the
    /// cached copy's.
    fn with_last_written(&self, app: &KasprApp) -> KasprApp {
        let mut app = app.clone();
        if let Ok(written) = self.written.lock()
            && let Some(status) = written.get(&ObjectRef::from_obj(&app))
        {
            app.status = Some(status.clone());
        }
        app
    }

    /// `write`, for the member actions.
    pub(crate) async fn write_status(
        &self,
        app: &KasprApp,
        status: &KasprAppStatus,
    ) -> Result<(), Error> {
        self.write(app, status).await
    }

    /// Writes `status` unless it is what `app` (as `with_last_written` gave it) already has.
    async fn write(&self, app: &KasprApp, status: &KasprAppStatus) -> Result<(), Error> {
        if app.status.as_ref() == Some(status) {
            return Ok(());
        }
        patch_status(&self.client, app, status).await?;
        if let Ok(mut written) = self.written.lock() {
            written.insert(ObjectRef::from_obj(app), status.clone());
        }
        Ok(())
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn members(&self) -> &Members {
        &self.members
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn hung(&self) -> &HungCounts {
        &self.hung
    }

    fn forget(&self, app: &KasprApp) {
        if let Ok(mut written) = self.written.lock() {
            written.remove(&ObjectRef::from_obj(app));
        }
    }

    /// Whether this is the first reconcile of `app`'s current generation in this process (its
    /// spec warnings are logged then, not on every reconcile).
    fn first_look_at_generation(&self, app: &KasprApp) -> bool {
        let generation = app.metadata.generation.unwrap_or_default();
        self.warned.lock().is_ok_and(|mut warned| {
            warned.insert(ObjectRef::from_obj(app), generation) != Some(generation)
        })
    }

    /// Drops what this process keeps of a deleted app: its metric series, its last written
    /// status and its failure count.
    pub(crate) fn forget_deleted(&self, name: &str, namespace: &str) {
        self.metrics.forget(name, namespace);
        let key = ObjectRef::<KasprApp>::new(name).within(namespace);
        if let Ok(mut written) = self.written.lock() {
            written.remove(&key);
        }
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&key);
        }
        if let Ok(mut warned) = self.warned.lock() {
            warned.remove(&key);
        }
    }
}

/// One reconcile of one KasprApp.
#[instrument(skip_all, fields(name = %app.name_any(), namespace = %app.namespace().unwrap_or_default()))]
pub async fn reconcile(app: Arc<KasprApp>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&ctx.with_last_written(&app), &ctx).await;
    // A deleted app's series were just removed; counting this reconcile would bring one back.
    if app.metadata.deletion_timestamp.is_none() {
        ctx.metrics
            .record_reconcile(&app, started.elapsed(), result.as_ref().err());
    }
    if result.is_ok()
        && let Ok(mut failures) = ctx.failures.lock()
    {
        failures.remove(&ObjectRef::from_obj(app.as_ref()));
    }
    result
}

async fn reconcile_inner(app: &KasprApp, ctx: &Context) -> Result<Action, Error> {
    if app.metadata.deletion_timestamp.is_some() {
        ctx.forget(app);
        ctx.metrics
            .forget(&app.name_any(), &app.namespace().unwrap_or_default());
        // Children go by their owner references; only upstream's finalizer can hold the app.
        release_upstream_finalizer(&ctx.client, app).await?;
        return Ok(Action::await_change());
    }
    if names::paused(app) {
        tracing::info!("reconciliation is paused by {}", names::PAUSE_ANNOTATION);
        ctx.write(app, &status::with_paused(app, status::now()))
            .await?;
        // Removing the annotation is a change, and changes trigger a reconcile.
        return Ok(Action::await_change());
    }
    ctx.metrics.record_spec(app);
    let snapshot = match observe::observe(&ctx.client, &ctx.stores, &ctx.members, app).await {
        Ok(snapshot) => snapshot,
        Err(error) => return Err(show_read_failure(ctx, app, error).await),
    };
    let validated = match validate(app, Some(&snapshot.secrets), &ctx.settings) {
        Ok(validated) => validated,
        Err(errors) => {
            let blocked = Blocked::InvalidSpec(errors.to_string());
            warn(ctx, app, blocked.reason(), &blocked.message()).await;
            write_status(ctx, app, &snapshot, None, Some(blocked)).await?;
            // Nothing to retry: a fixed spec is a change, and changes trigger a reconcile.
            return Ok(Action::await_change());
        }
    };
    if ctx.first_look_at_generation(app) {
        // Once per generation, as a Warning event too: upstream posted its warnings on the app.
        for warning in validated.warnings() {
            tracing::warn!("{warning}");
            warn(ctx, app, "SpecWarning", warning).await;
        }
    }
    let desired = build::build(&validated, &snapshot.existing())?;
    let hash = validated.hash();
    // Before anything that can fail: the status written on any path lists these as counted.
    count_new_reports(ctx, app, &snapshot, hash);
    let blocked = validated.secret_problem().cloned();
    let ns = app.namespace().ok_or(Error::NoNamespace)?;
    let owner = Owner {
        app,
        known: &ctx.known,
    };
    // A shared cache created now: say whether its StorageClass can give ReadWriteMany.
    let new_cache = desired.packages_pvc.is_some() && snapshot.packages_pvc.is_none();
    if let Err(error) = apply_all(&ctx.client, &ns, owner, &desired, blocked.is_none()).await {
        return Err(show_apply_failure(ctx, app, &snapshot, hash, error).await);
    }
    if new_cache && let Some(p) = validated.packages() {
        check_cache_storage_class(ctx, app, p.spec()).await;
    }
    if let Some(b) = &blocked {
        warn(ctx, app, b.reason(), &b.message()).await;
    }
    let status = write_status(ctx, app, &snapshot, hash, blocked.clone()).await?;
    let available = snapshot
        .statefulset
        .as_ref()
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    member_actions::rebalance_if_asked(ctx, app, &snapshot.members, available).await;
    member_actions::auto_rebalance(ctx, app, &status, &snapshot.members, available).await;
    let restarted = member_actions::restart_hung_members(
        ctx,
        app,
        &status,
        k8s_openapi::jiff::Timestamp::now(),
    )
    .await;
    let status = match restarted.as_slice() {
        [] => status,
        ids => {
            let hung = status::with_hung_members(app, &status, ids, status::now());
            ctx.write(app, &hung).await?;
            hung
        }
    };
    let state = status.python_packages.as_ref().and_then(|p| p.state);
    let polling = ctx.members.enabled() && app.spec.replicas.unwrap_or(1) > 0;
    let next = next_check(
        blocked.as_ref().map(|_| ctx.settings.blocked_requeue),
        state,
        polling,
    );
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    tracing::info!(
        ready = ready.map_or("", |c| c.status.as_str()),
        reason = ready.map_or("", |c| c.reason.as_str()),
        packages = state.map_or("", |s| s.as_str()),
        "reconciled"
    );
    Ok(next)
}

/// When to look again without any watch event. Members change without a watch event
/// (rebalances, hung members), so an app whose members are asked is looked at every minute.
fn next_check(blocked: Option<Duration>, state: Option<PackagesState>, polling: bool) -> Action {
    match state {
        _ if let Some(after) = blocked => Action::requeue(after),
        Some(PackagesState::Pending | PackagesState::Installing) => Action::requeue(REQUEUE_BUSY),
        _ if polling => Action::requeue(REQUEUE_MEMBERS),
        _ => Action::requeue(REQUEUE_IDLE),
    }
}

/// Longest API message copied into the status and the event.
const API_MESSAGE_MAX: usize = 1024;

/// Makes a refused apply or delete visible where users look (`Ready=False`, reason
/// `ApplyFailed` or `DeleteFailed`, and a Warning event, both with the API's message) and hands
/// the error back for the error policy. Without this the status stays stale and only the
/// operator's log says why.
async fn show_apply_failure(
    ctx: &Context,
    app: &KasprApp,
    snapshot: &Snapshot,
    hash: Option<&str>,
    error: Error,
) -> Error {
    let message =
        |source: &kube::Error| api_message(source).chars().take(API_MESSAGE_MAX).collect();
    let blocked = match &error {
        Error::Apply { kind, name, source } => Blocked::ApplyFailed {
            kind: (*kind).to_owned(),
            name: name.clone(),
            message: message(source),
        },
        Error::NameConflict { kind, name, holder } => Blocked::NameConflict {
            kind: (*kind).to_owned(),
            name: name.clone(),
            holder: holder.clone(),
        },
        Error::Delete { kind, name, source } => Blocked::DeleteFailed {
            kind: (*kind).to_owned(),
            name: name.clone(),
            message: message(source),
        },
        _ => return error,
    };
    warn(ctx, app, blocked.reason(), &blocked.message()).await;
    if let Err(e) = write_status(ctx, app, snapshot, hash, Some(blocked)).await {
        // The apply error is the one to retry on; this one is only logged.
        tracing::warn!(error = %e, "writing the {} status failed", error.metric_label());
    }
    error
}

/// Makes a failed read visible (`Ready=False`, reason `ReadFailed`, and a Warning event, both with
/// the API's message) without touching the rest of the last known status, and hands the error
/// back for the error policy.
async fn show_read_failure(ctx: &Context, app: &KasprApp, error: Error) -> Error {
    let Some((what, message)) = error.failed_read() else {
        return error;
    };
    let blocked = Blocked::ReadFailed {
        what,
        message: message.chars().take(API_MESSAGE_MAX).collect(),
    };
    warn(ctx, app, blocked.reason(), &blocked.message()).await;
    let status = status::with_blocked_ready(app, &blocked, status::now());
    if let Err(e) = ctx.write(app, &status).await {
        tracing::warn!(error = %e, "writing the ReadFailed status failed");
    }
    error
}

/// Counts the install reports not counted before: neither by this process nor, as the app's
/// status says (`pythonPackages.countedReports`), by an operator before it (a restart, a new
/// leader).
fn count_new_reports(ctx: &Context, app: &KasprApp, snapshot: &Snapshot, hash: Option<&str>) {
    let Ok(mut seen) = ctx.seen_reports.lock() else {
        return;
    };
    let before: &[String] = app
        .status
        .as_ref()
        .and_then(|s| s.python_packages.as_ref())
        .map_or(&[], |p| p.counted_reports.as_slice());
    for r in status::pod_reports(&snapshot.pods) {
        if r.hash.as_deref() != hash || before.contains(&r.key) || !seen.insert(r.key.clone()) {
            continue;
        }
        if let Some(report) = &r.report {
            ctx.metrics.record_report(app, report);
        }
    }
}

async fn write_status(
    ctx: &Context,
    app: &KasprApp,
    snapshot: &Snapshot,
    hash: Option<&str>,
    blocked: Option<Blocked>,
) -> Result<KasprAppStatus, Error> {
    let observed = Observed {
        hpa: snapshot.hpa.as_deref(),
        app,
        hash,
        statefulset: snapshot.statefulset.as_deref(),
        pods: &snapshot.pods,
        members: &snapshot.members,
        linked: Some(&snapshot.linked),
        blocked,
    };
    let status = status::compute(&observed, status::now());
    let notices = status::notices(app.status.as_ref(), &status);
    ctx.write(app, &status).await?;
    for notice in notices {
        let type_ = if notice.warning {
            tracing::warn!(reason = notice.reason, "{}", notice.note);
            EventType::Warning
        } else {
            tracing::info!(reason = notice.reason, "{}", notice.note);
            EventType::Normal
        };
        event(ctx, app, type_, notice.reason, &notice.note).await;
    }
    Ok(status)
}

/// Writes `status` through the status subresource with server-side apply (our field manager
/// owns the whole status).
pub async fn patch_status(
    client: &Client,
    app: &KasprApp,
    status: &KasprAppStatus,
) -> Result<(), Error> {
    let ns = app.namespace().ok_or(Error::NoNamespace)?;
    let patch = json!({"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "status": status});
    Api::<KasprApp>::namespaced(client.clone(), &ns)
        .patch_status(
            &app.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::PatchStatus)?;
    Ok(())
}

/// Warns (event and log) when the class of a new ReadWriteMany cache may not offer it. Not
/// being allowed to read StorageClasses (a namespace-scoped install) is only logged.
async fn check_cache_storage_class(ctx: &Context, app: &KasprApp, spec: &PythonPackagesSpec) {
    if spec.cache.access_mode != CacheAccessMode::ReadWriteMany {
        return;
    }
    match crate::storage_class::check(&ctx.client, spec.cache.storage_class.as_deref()).await {
        Ok(None) => {}
        Ok(Some(warning)) => {
            tracing::warn!("{warning}");
            warn(ctx, app, "CacheStorageClass", &warning).await;
        }
        Err(e) => {
            tracing::info!(error = %e, "cannot check the cache's StorageClass for ReadWriteMany")
        }
    }
}

async fn warn(ctx: &Context, app: &KasprApp, reason: &str, note: &str) {
    event(ctx, app, EventType::Warning, reason, note).await;
}

/// Publishes an event on `app` (the note cut to 1,024 characters); a failure is only logged.
pub(crate) async fn event(
    ctx: &Context,
    app: &KasprApp,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    publish(&ctx.recorder, &app.object_ref(&()), type_, reason, note).await;
}

/// Publishes an event on `regarding` (the note cut to 1,024 characters, the API's limit); a
/// failure is only logged.
pub(crate) async fn publish(
    recorder: &Recorder,
    regarding: &k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1024).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, regarding).await {
        tracing::warn!(error = %e, "publishing an event failed");
    }
}

/// Removes upstream's kopf finalizer from an app being deleted, so the deletion completes. The
/// merge patch carries the resourceVersion read, so a concurrent change of the finalizers
/// (another controller adding or removing its own) makes it fail and retry instead of losing
/// that change.
pub async fn release_upstream_finalizer(client: &Client, app: &KasprApp) -> Result<(), Error> {
    if !app
        .finalizers()
        .iter()
        .any(|f| f == names::UPSTREAM_FINALIZER)
    {
        return Ok(());
    }
    let ns = app.namespace().ok_or(Error::NoNamespace)?;
    let kept: Vec<&String> = app
        .finalizers()
        .iter()
        .filter(|f| *f != names::UPSTREAM_FINALIZER)
        .collect();
    let patch =
        json!({"metadata": {"finalizers": kept, "resourceVersion": app.resource_version()}});
    Api::<KasprApp>::namespaced(client.clone(), &ns)
        .patch(
            &app.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(Error::PatchFinalizers)?;
    tracing::info!(
        "removed the upstream operator's finalizer {}",
        names::UPSTREAM_FINALIZER
    );
    Ok(())
}

/// Retry with exponential backoff per app, capped.
pub fn error_policy(app: Arc<KasprApp>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = ObjectRef::from_obj(app.as_ref());
    let failures = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    let delay = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(10)))
        .min(BACKOFF_MAX);
    tracing::warn!(name = %app.name_any(), namespace = ?app.namespace(), error = %error, kind = error.metric_label(), retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

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

/// What a cache keeps of an object: nothing reads managed fields, nor the containers' commands
/// (the install script: about half of every cached StatefulSet and pod).
trait Slim {
    fn slim(&mut self) {}
}

impl Slim for StatefulSet {
    fn slim(&mut self) {
        if let Some(pod) = self.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
            drop_commands(pod);
        }
    }
}

impl Slim for Pod {
    fn slim(&mut self) {
        if let Some(pod) = self.spec.as_mut() {
            drop_commands(pod);
        }
    }
}

impl Slim for PersistentVolumeClaim {}
impl Slim for HorizontalPodAutoscaler {}

fn drop_commands(pod: &mut k8s_openapi::api::core::v1::PodSpec) {
    for c in pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten())
    {
        c.command = None;
        c.args = None;
    }
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

    #[test]
    fn a_cached_pod_keeps_what_observe_reads_and_not_the_install_script() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "orders-app-0", "annotations": {"kaspr.io/python-packages-hash": "h"}},
            "spec": {
                "initContainers": [{"name": "install-packages", "image": "i",
                    "command": ["/bin/sh", "-c", "a very long install script"], "args": ["x"],
                    "resources": {"limits": {"memory": "256Mi"}}}],
                "containers": [{"name": "kaspr", "image": "kasprio/kaspr:0.11.19", "command": ["run"]}]
            },
            "status": {"initContainerStatuses": [{"name": "install-packages", "image": "i", "imageID": "",
                "ready": false, "restartCount": 0}]}
        }))
        .expect("pod");
        pod.slim();
        let spec = pod.spec.as_ref().expect("spec");
        let init = &spec.init_containers.as_ref().expect("init")[0];
        assert!(init.command.is_none() && init.args.is_none());
        assert!(spec.containers[0].command.is_none());
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
