//! The reconcile pipeline and its wiring into a kube-runtime Controller:
//! observe -> validate -> build -> apply -> status.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use kaspr_types::{KasprApp, KasprAppStatus, PackagesState};
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::build::{self, Desired};
use crate::error::{Error, api_message};
use crate::metrics::Metrics;
use crate::names::{self, FIELD_MANAGER};
use crate::observe::{self, Snapshot};
use crate::status::{self, Blocked, Observed};

/// Requeue while packages are installing: pods are watched too, this is a safety net.
const REQUEUE_BUSY: Duration = Duration::from_secs(30);
/// Requeue of an app held by a missing Secret or key. Secrets are to be read by name only (a
/// watch needs list/watch on every Secret; the metadata watch in `run` is due to go), so this
/// short requeue is what notices a Secret created later and resumes the rollout.
pub const REQUEUE_BLOCKED: Duration = Duration::from_secs(15);
const REQUEUE_IDLE: Duration = Duration::from_secs(300);
const BACKOFF_BASE: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Metrics,
    /// Install reports already counted (pod uid + restart count).
    seen_reports: Mutex<HashSet<String>>,
    /// Consecutive failures per app, for the error policy's backoff.
    failures: Mutex<HashMap<ObjectRef<KasprApp>, u32>>,
}

impl Context {
    pub fn new(client: Client, metrics: Metrics) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            seen_reports: Mutex::default(),
            failures: Mutex::default(),
        }
    }
}

/// One reconcile of one KasprApp.
pub async fn reconcile(app: Arc<KasprApp>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&app, &ctx).await;
    ctx.metrics
        .record_reconcile(&app, started.elapsed(), result.as_ref().err());
    if result.is_ok()
        && let Ok(mut failures) = ctx.failures.lock()
    {
        failures.remove(&ObjectRef::from_obj(app.as_ref()));
    }
    result
}

async fn reconcile_inner(app: &KasprApp, ctx: &Context) -> Result<Action, Error> {
    ctx.metrics.record_spec(app);
    let snapshot = match observe::observe(&ctx.client, app).await {
        Ok(snapshot) => snapshot,
        Err(error) => return Err(show_read_failure(ctx, app, error).await),
    };

    if let Err(errors) = app.spec.check() {
        let blocked = Blocked::InvalidSpec(errors.to_string());
        warn(ctx, app, blocked.reason(), &blocked.message()).await;
        write_status(ctx, app, &snapshot, None, Some(blocked)).await?;
        // Nothing to retry: a fixed spec is a change, and changes trigger a reconcile.
        return Ok(Action::await_change());
    }
    for warning in app.spec.warnings() {
        tracing::warn!(app = %app.name_any(), namespace = ?app.namespace(), "{warning}");
    }
    let existing = build::Existing {
        packages_pvc: snapshot.packages_pvc.as_ref(),
        pods: &snapshot.pods,
    };
    let desired = build::build(app, &existing)?;
    let hash = desired.hash.as_deref();
    let blocked = snapshot.secret_problem.clone();
    if let Err(error) = apply_all(ctx, app, &desired, blocked.is_none()).await {
        return Err(show_apply_failure(ctx, app, &snapshot, hash, error).await);
    }
    if let Some(b) = &blocked {
        warn(ctx, app, b.reason(), &b.message()).await;
    }
    count_new_reports(ctx, app, &snapshot, hash);
    let state = write_status(ctx, app, &snapshot, hash, blocked.clone()).await?;
    Ok(next_check(blocked.as_ref(), state))
}

/// When to look again without any watch event.
fn next_check(blocked: Option<&Blocked>, state: Option<PackagesState>) -> Action {
    match state {
        _ if blocked.is_some() => Action::requeue(REQUEUE_BLOCKED),
        Some(PackagesState::Pending | PackagesState::Installing) => Action::requeue(REQUEUE_BUSY),
        _ => Action::requeue(REQUEUE_IDLE),
    }
}

/// Longest API message copied into the status and the event.
const API_MESSAGE_MAX: usize = 1024;

/// Makes a refused apply visible where users look (`Ready=False`, reason `ApplyFailed`, and a
/// Warning event, both with the API's message) and hands the error back for the error policy.
/// Without this the status stays stale and only the operator's log says why.
async fn show_apply_failure(
    ctx: &Context,
    app: &KasprApp,
    snapshot: &Snapshot,
    hash: Option<&str>,
    error: Error,
) -> Error {
    let Error::Apply { kind, name, source } = &error else {
        return error;
    };
    let blocked = Blocked::ApplyFailed {
        kind: (*kind).to_owned(),
        name: name.clone(),
        message: api_message(source).chars().take(API_MESSAGE_MAX).collect(),
    };
    warn(ctx, app, blocked.reason(), &blocked.message()).await;
    if let Err(e) = write_status(ctx, app, snapshot, hash, Some(blocked)).await {
        // The apply error is the one to retry on; this one is only logged.
        tracing::warn!(app = %app.name_any(), error = %e, "writing the ApplyFailed status failed");
    }
    error
}

/// Makes a failed read visible (`Ready=False`, reason `ReadFailed`, and a Warning event, both with
/// the API's message) without touching the rest of the last known status, and hands the error
/// back for the error policy.
async fn show_read_failure(ctx: &Context, app: &KasprApp, error: Error) -> Error {
    let Some((what, source)) = error.failed_read() else {
        return error;
    };
    let blocked = Blocked::ReadFailed {
        what,
        message: api_message(source).chars().take(API_MESSAGE_MAX).collect(),
    };
    warn(ctx, app, blocked.reason(), &blocked.message()).await;
    let status = status::with_blocked_ready(app, &blocked, status::now());
    if let Err(e) = patch_status(&ctx.client, app, &status).await {
        tracing::warn!(app = %app.name_any(), error = %e, "writing the ReadFailed status failed");
    }
    error
}

/// Server-side applies every child; the StatefulSet only when `rollout` (a missing Secret holds
/// the rollout so running pods keep running). The live set goes before the StatefulSet, so a new
/// hash is protected before any pod runs it, and is kept current while the rollout is held.
async fn apply_all(
    ctx: &Context,
    app: &KasprApp,
    desired: &Desired,
    rollout: bool,
) -> Result<(), Error> {
    let ns = app.namespace().ok_or(Error::NoNamespace)?;
    let client = &ctx.client;
    apply(client, &ns, &desired.service_account).await?;
    apply(client, &ns, &desired.config_map).await?;
    apply(client, &ns, &desired.headless_service).await?;
    apply(client, &ns, &desired.api_service).await?;
    if let Some(pvc) = &desired.packages_pvc {
        apply(client, &ns, pvc).await?;
    }
    if let Some(live) = &desired.live_set {
        apply(client, &ns, live).await?;
    }
    if rollout {
        apply(client, &ns, &desired.statefulset).await?;
    }
    Ok(())
}

/// Server-side apply of one namespaced object, as our field manager (forcing conflicts). A
/// failure names the object's kind and name.
async fn apply<K>(client: &Client, ns: &str, object: &K) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + k8s_openapi::Resource
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    match Api::<K>::namespaced(client.clone(), ns)
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(source) => Err(Error::Apply {
            kind: <K as k8s_openapi::Resource>::KIND,
            name,
            source,
        }),
    }
}

fn count_new_reports(ctx: &Context, app: &KasprApp, snapshot: &Snapshot, hash: Option<&str>) {
    let Ok(mut seen) = ctx.seen_reports.lock() else {
        return;
    };
    for r in status::pod_reports(&snapshot.pods) {
        if r.hash.as_deref() != hash || !seen.insert(r.key.clone()) {
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
) -> Result<Option<PackagesState>, Error> {
    let observed = Observed {
        app,
        hash,
        statefulset: snapshot.statefulset.as_ref(),
        pods: &snapshot.pods,
        blocked,
    };
    let status = status::compute(&observed, status::now());
    let state = status.python_packages.as_ref().and_then(|p| p.state);
    patch_status(&ctx.client, app, &status).await?;
    Ok(state)
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

async fn warn(ctx: &Context, app: &KasprApp, reason: &str, note: &str) {
    let event = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note.chars().take(1024).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &app.object_ref(&())).await {
        tracing::warn!(error = %e, "publishing an event failed");
    }
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
    tracing::warn!(app = %app.name_any(), namespace = ?app.namespace(), error = %error, kind = error.metric_label(), retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Runs the controller until the process is told to stop.
pub async fn run(client: Client, metrics: Metrics) {
    let apps = Api::<KasprApp>::all(client.clone());
    let ctx = Arc::new(Context::new(client.clone(), metrics));
    let controller = Controller::new(apps, watcher::Config::default().any_semantic());
    let store = controller.store();
    let pods = watcher::Config::default().labels(names::APP_LABEL);
    // Secrets: metadata only, so the operator never holds secret values in memory.
    let secrets = Api::<PartialObjectMeta<Secret>>::all(client.clone());
    controller
        .owns(
            Api::<StatefulSet>::all(client.clone()),
            watcher::Config::default(),
        )
        .owns(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        )
        .owns(
            Api::<ConfigMap>::all(client.clone()),
            watcher::Config::default(),
        )
        .owns(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            watcher::Config::default(),
        )
        .watches(Api::<Pod>::all(client.clone()), pods, |pod| {
            let app = pod.labels().get(names::APP_LABEL).cloned();
            app.map(|name| ObjectRef::new(&name).within(&pod.namespace().unwrap_or_default()))
        })
        .watches(secrets, watcher::Config::default(), move |secret| {
            crate::mapper::apps_referencing_secret(
                &store.state(),
                &secret.name_any(),
                secret.namespace().as_deref(),
            )
        })
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
}
