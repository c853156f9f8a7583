//! The mock API server of the reconcile flows, in the kube-rs `ApiServerVerifier` style: it
//! asserts each request (method, path) in order, answers it, and keeps what it saw. What the
//! controller's watches would have cached (StatefulSet, pods, PVC, live-set ConfigMap) is put
//! into the caches directly ([`Cluster`]): a reconcile reads them without a request.
// Each test binary uses part of this module.
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod build;
pub mod fixtures;
pub mod members;
pub mod status;

use std::sync::Arc;

use http::{Request, Response};
use kaspr_reconcile::controller::{Context, reconcile};
use kaspr_reconcile::error::Error;
use kaspr_reconcile::metrics::Metrics;
use kaspr_reconcile::observe::{Stores, Writers};
use kaspr_test_support::app::AppBuilder;
use kaspr_types::KasprApp;
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Lookup;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde_json::{Value, json};

pub use api::{Shown, Verifier};
pub use fixtures::{desired_hash, fixture_with_hash, pods};
/// The app's uid, as every fixture's owner references carry it.
pub use kaspr_test_support::app::UID as APP_UID;

/// The app `orders` in `default` (uid [`APP_UID`], generation 1) with the `pythonPackages`
/// block `pp` (indented or not).
pub fn app(pp: &str) -> KasprApp {
    AppBuilder::new("orders").python_packages(pp).build()
}

pub const WITH_SECRET: &str = "    packages: [requests==2.31.0]\n    indexUrl: https://pypi.example.com/simple\n    credentials: {secretRef: {name: pypi-creds}}\n";
pub const PLAIN: &str = "    packages: [requests==2.31.0]\n";

pub const SERVICE_ACCOUNT_PATH: &str = "/api/v1/namespaces/default/serviceaccounts/orders-app";
pub const PVC_PATH: &str =
    "/api/v1/namespaces/default/persistentvolumeclaims/orders-app-python-packages";
pub const LIVE_SET_PATH: &str = "/api/v1/namespaces/default/configmaps/orders-app-python-packages";
pub const HPA_PATH: &str =
    "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/orders-app-hpa";
pub const STS_PATH: &str = "/apis/apps/v1/namespaces/default/statefulsets/orders-app";
pub const SECRET_PATH: &str = "/api/v1/namespaces/default/secrets/pypi-creds";
/// The children every app has, applied first, in order.
pub const FIRST_CHILDREN: [&str; 4] = [
    SERVICE_ACCOUNT_PATH,
    "/api/v1/namespaces/default/configmaps/orders-app-config",
    "/api/v1/namespaces/default/services/orders-app",
    "/api/v1/namespaces/default/services/orders-app-api",
];

/// A reconcile running in a task.
pub type Task = tokio::task::JoinHandle<Result<Action, Error>>;

pub fn context() -> (Arc<Context>, Verifier, Cluster) {
    context_with(kaspr_reconcile::metrics::prometheus().expect("metrics").0)
}

/// A context on the mock API server, with caches that hold nothing until `Cluster` fills them.
/// Members are not asked (no member web API here); see `context_with_settings`.
pub fn context_with(metrics: Metrics) -> (Arc<Context>, Verifier, Cluster) {
    let settings = kaspr_reconcile::Settings {
        members: kaspr_reconcile::members::MemberCheck {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    context_with_settings(metrics, settings)
}

/// `context_with` under operator `settings`.
pub fn context_with_settings(
    metrics: Metrics,
    settings: kaspr_reconcile::Settings,
) -> (Arc<Context>, Verifier, Cluster) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let (stores, writers) = Stores::new();
    let cluster = Cluster::new(writers);
    (
        Arc::new(Context::new(client, metrics, stores, settings)),
        Verifier::new(handle),
        cluster,
    )
}

/// Starts a reconcile of `app`, as the controller would; the test then plays the API server.
pub fn start(app: &KasprApp, ctx: &Arc<Context>) -> Task {
    tokio::spawn(reconcile(Arc::new(app.clone()), ctx.clone()))
}

/// The action of a reconcile that succeeded.
pub async fn finished(task: Task) -> Action {
    task.await.expect("joins").expect("reconcile ok")
}

/// The error of a reconcile that failed.
pub async fn failed(task: Task) -> Error {
    task.await.expect("joins").expect_err("the reconcile fails")
}

/// What the controller's watches would have cached: each call replaces the whole cache of that
/// kind, as a fresh list does.
pub struct Cluster(Writers);

impl Cluster {
    fn new(writers: Writers) -> Self {
        let mut cluster = Cluster(writers);
        cluster.statefulsets(json!([]));
        cluster.pods(json!([]));
        cluster.pvcs(json!([]));
        cluster.hpas(json!([]));
        cluster
    }

    pub fn statefulsets(&mut self, items: Value) {
        relist(&mut self.0.statefulsets, items);
    }

    pub fn pods(&mut self, items: Value) {
        relist(&mut self.0.pods, items);
    }

    pub fn pvcs(&mut self, items: Value) {
        relist(&mut self.0.pvcs, items);
    }

    pub fn hpas(&mut self, items: Value) {
        relist(&mut self.0.hpas, items);
    }
}

pub fn relist<K>(writer: &mut Writer<K>, items: Value)
where
    K: Lookup + Clone + serde::de::DeserializeOwned + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let items: Vec<K> = serde_json::from_value(items).expect("cached objects");
    writer.apply_watcher_event(&watcher::Event::Init);
    for item in items {
        writer.apply_watcher_event(&watcher::Event::InitApply(item));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
}

/// The item of the JSON array `items` whose `key` is `value`, or null.
pub fn find(items: &Value, key: &str, value: &str) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .find(|item| item[key] == value)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The condition of `type_` in a status as sent (JSON), or null.
pub fn condition(status: &Value, type_: &str) -> Value {
    find(&status["conditions"], "type", type_)
}

/// The pod volume `name` of a StatefulSet as sent (JSON), or null.
pub fn volume(statefulset: &Value, name: &str) -> Value {
    find(
        &statefulset["spec"]["template"]["spec"]["volumes"],
        "name",
        name,
    )
}

/// A reconcile of `app` started on a fresh context (empty caches), and its API server.
pub fn started(app: &KasprApp) -> (Task, Verifier) {
    let (ctx, api, _cluster) = context();
    (start(app, &ctx), api)
}
