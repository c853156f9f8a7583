//! The mock API server of the reconcile flows, in the kube-rs `ApiServerVerifier` style: it
//! asserts each request (method, path) in order, answers it, and keeps what it saw. What the
//! controller's watches would have cached (StatefulSet, pods, PVC, live-set ConfigMap) is put
//! into the caches directly ([`Cluster`]): a reconcile reads them without a request.
// Each test binary uses part of this module.
#![allow(dead_code)]

pub mod build;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kaspr_reconcile::controller::Context;
use kaspr_reconcile::metrics::Metrics;
use kaspr_reconcile::observe::{Stores, Writers};
use kaspr_types::KasprApp;
use kube::client::Body;
use kube::runtime::reflector::Lookup;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde_json::{Value, json};

pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

pub fn app(pp: &str) -> KasprApp {
    serde_yaml::from_str(&format!(
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: orders, namespace: default, uid: 6b0d8a36-4f0e-4d35-a0f4-42c1b1b9e0a1, generation: 1}}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages:\n{pp}"
    ))
    .expect("app")
}

pub const WITH_SECRET: &str = "    packages: [requests==2.31.0]\n    indexUrl: https://pypi.example.com/simple\n    credentials: {secretRef: {name: pypi-creds}}\n";
pub const PLAIN: &str = "    packages: [requests==2.31.0]\n";

/// The app's uid, as every fixture's owner references carry it.
pub const APP_UID: &str = "6b0d8a36-4f0e-4d35-a0f4-42c1b1b9e0a1";
pub const PVC_PATH: &str =
    "/api/v1/namespaces/default/persistentvolumeclaims/orders-app-python-packages";
pub const LIVE_SET_PATH: &str = "/api/v1/namespaces/default/configmaps/orders-app-python-packages";

pub fn context() -> (Arc<Context>, Handle, Cluster) {
    context_with(Metrics::new(&opentelemetry::global::meter("test")))
}

/// A context on the mock API server, with caches that hold nothing until `Cluster` fills them.
pub fn context_with(metrics: Metrics) -> (Arc<Context>, Handle, Cluster) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let (stores, writers) = Stores::new();
    let cluster = Cluster::new(writers);
    (
        Arc::new(Context::new(client, metrics, stores)),
        handle,
        cluster,
    )
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
        cluster.config_maps(json!([]));
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

    /// ConfigMaps' metadata (`{"metadata": {...}}` each).
    pub fn config_maps(&mut self, items: Value) {
        relist(&mut self.0.config_maps, items);
    }
}

fn relist<K>(writer: &mut Writer<K>, items: Value)
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

/// What the reconcile applied.
pub struct Applied {
    pub pvc: Option<Value>,
    pub live_set: Value,
    pub statefulset: Option<Value>,
}

/// One request as the API server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
}

/// The API server side of one scenario; `seen` is every request, in order.
pub struct Verifier {
    pub handle: Handle,
    pub seen: Vec<Seen>,
}

impl Verifier {
    pub fn new(handle: Handle) -> Self {
        Self {
            handle,
            seen: Vec::new(),
        }
    }

    /// The server-side applies among the requests seen (the status patch is one too).
    pub fn apply_requests(&self) -> Vec<&Seen> {
        self.seen
            .iter()
            .filter(|s| s.method == Method::PATCH)
            .collect()
    }

    /// Takes the next request, checks method and path, answers `reply` (or echoes the body when
    /// `reply` is null), returns the request body.
    pub async fn expect(
        &mut self,
        method: Method,
        path: &str,
        status: StatusCode,
        reply: Value,
    ) -> Value {
        let (request, send) =
            tokio::time::timeout(Duration::from_secs(5), self.handle.next_request())
                .await
                .unwrap_or_else(|_| panic!("no request; expected {method} {path}"))
                .expect("the client is alive");
        assert_eq!(
            (request.method(), request.uri().path()),
            (&method, path),
            "unexpected request order"
        );
        let query = request.uri().query().unwrap_or_default().to_owned();
        if method == Method::PATCH {
            assert!(
                query.contains("fieldManager=kaspr-operator"),
                "{path}: {query}"
            );
        }
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.seen.push(Seen {
            method: method.clone(),
            path: path.to_owned(),
            query,
            content_type,
        });
        let bytes = request.into_body().collect_bytes().await.expect("body");
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let reply = if reply.is_null() { body.clone() } else { reply };
        let response = Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&reply).expect("json")))
            .expect("response");
        send.send_response(response);
        body
    }

    pub async fn not_found(&mut self, path: &str) {
        let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"});
        self.expect(Method::GET, path, StatusCode::NOT_FOUND, status)
            .await;
    }

    /// The server-side applies of the children of an app with pythonPackages and without the
    /// cache (the live set, no PVC), in order; returns the bodies the API server got.
    pub async fn applies(&mut self, with_statefulset: bool) -> Applied {
        self.applies_of(false, with_statefulset).await
    }

    /// The server-side applies of the children, in order: the packages PVC when `pvc` (the
    /// shared cache is on), the StatefulSet when `with_statefulset`.
    pub async fn applies_of(&mut self, pvc: bool, with_statefulset: bool) -> Applied {
        for path in [
            "/api/v1/namespaces/default/serviceaccounts/orders-app",
            "/api/v1/namespaces/default/configmaps/orders-app-config",
            "/api/v1/namespaces/default/services/orders-app",
            "/api/v1/namespaces/default/services/orders-app-api",
        ] {
            self.expect(Method::PATCH, path, StatusCode::OK, Value::Null)
                .await;
        }
        let mut pvc_body = None;
        if pvc {
            let path =
                "/api/v1/namespaces/default/persistentvolumeclaims/orders-app-python-packages";
            pvc_body = Some(
                self.expect(Method::PATCH, path, StatusCode::OK, Value::Null)
                    .await,
            );
        }
        let live_set = self
            .expect(
                Method::PATCH,
                "/api/v1/namespaces/default/configmaps/orders-app-python-packages",
                StatusCode::OK,
                Value::Null,
            )
            .await;
        let mut statefulset = None;
        if with_statefulset {
            let path = "/apis/apps/v1/namespaces/default/statefulsets/orders-app";
            statefulset = Some(
                self.expect(Method::PATCH, path, StatusCode::OK, Value::Null)
                    .await,
            );
        }
        Applied {
            pvc: pvc_body,
            live_set,
            statefulset,
        }
    }

    /// The server-side applies of the children of an app without pythonPackages, in order.
    pub async fn applies_without_packages(&mut self) {
        for path in [
            "/api/v1/namespaces/default/serviceaccounts/orders-app",
            "/api/v1/namespaces/default/configmaps/orders-app-config",
            "/api/v1/namespaces/default/services/orders-app",
            "/api/v1/namespaces/default/services/orders-app-api",
            "/apis/apps/v1/namespaces/default/statefulsets/orders-app",
        ] {
            self.expect(Method::PATCH, path, StatusCode::OK, Value::Null)
                .await;
        }
    }

    /// A DELETE of `path`, answered as done; returns the request body (the DeleteOptions).
    pub async fn delete(&mut self, path: &str) -> Value {
        let done =
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
        self.expect(Method::DELETE, path, StatusCode::OK, done)
            .await
    }

    pub async fn event(&mut self) -> Value {
        self.expect(
            Method::POST,
            "/apis/events.k8s.io/v1/namespaces/default/events",
            StatusCode::CREATED,
            Value::Null,
        )
        .await
    }

    pub async fn status(&mut self, app: &KasprApp) -> Value {
        let path = "/apis/kaspr.io/v1alpha1/namespaces/default/kasprapps/orders/status";
        let body = self
            .expect(
                Method::PATCH,
                path,
                StatusCode::OK,
                serde_json::to_value(app).expect("json"),
            )
            .await;
        body["status"].clone()
    }

    pub async fn nothing_more(&mut self) {
        let next =
            tokio::time::timeout(Duration::from_millis(200), self.handle.next_request()).await;
        // Either nothing arrives, or the client is gone (the reconcile finished).
        if let Ok(Some((request, _))) = next {
            panic!(
                "unexpected extra request: {} {}",
                request.method(),
                request.uri()
            );
        }
    }
}

pub fn condition(status: &Value, type_: &str) -> Value {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap_or(Value::Null)
}

/// A pod fixture with its packages hash `a38d296f011adb6e` replaced by `hash`.
pub fn fixture_with_hash(name: &str, hash: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/pods/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    serde_json::from_str(&text.replace("a38d296f011adb6e", hash)).expect("pods")
}

pub fn desired_hash(app: &KasprApp) -> String {
    kaspr_hash::packages_hash(app.spec.python_packages.as_ref().expect("pp"))
        .expect("hash")
        .to_string()
}
