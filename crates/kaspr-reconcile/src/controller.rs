//! The reconcile pipeline of a KasprApp: observe -> validate -> build -> apply -> status, with
//! its context and error policy. How the controllers are started is in `wiring`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kaspr_types::{CacheAccessMode, KasprApp, KasprAppStatus, PackagesState, PythonPackagesSpec};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::instrument;

use crate::apply::{Owner, apply_all};
use crate::build;
use crate::error::{Error, api_message};
use crate::member_actions::{self, HungCounts};
use crate::members::Members;
use crate::metrics::Metrics;
use crate::names::{self, FIELD_MANAGER};
use crate::observe::{self, Snapshot, Stores};
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
