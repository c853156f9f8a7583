//! The API server side of a scenario: each request asserted in order and answered, one helper
//! per step a reconcile takes (read the Secret, apply the children, event, status, delete).

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kaspr_types::KasprApp;
use kube::client::Body;
use serde_json::{Value, json};

use super::{FIRST_CHILDREN, HPA_PATH, LIVE_SET_PATH, PVC_PATH, SECRET_PATH, STS_PATH, condition};

pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// What the reconcile applied.
pub struct Applied {
    pub pvc: Option<Value>,
    pub live_set: Value,
    pub statefulset: Option<Value>,
}

/// What a held rollout sent: the children but the StatefulSet, a Warning event, the status.
pub struct Held {
    pub applied: Applied,
    pub event: Value,
    pub status: Value,
}

/// A failure as users see it: the Warning event, the status, its Ready condition.
pub struct Shown {
    pub event: Value,
    pub status: Value,
    pub ready: Value,
}

impl Shown {
    /// The Ready condition's message.
    pub fn message(&self) -> &str {
        self.ready["message"].as_str().unwrap_or_default()
    }
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
    /// Children the operator has already checked for a name conflict (it reads each once).
    checked: std::collections::HashSet<String>,
}

impl Verifier {
    pub fn new(handle: Handle) -> Self {
        Self {
            handle,
            seen: Vec::new(),
            checked: Default::default(),
        }
    }

    /// The name-conflict reads (metadata GETs) of those `paths` not read before in this
    /// scenario, each answered 404: nothing of that name exists yet.
    pub async fn checks(&mut self, paths: &[&str]) {
        for path in paths {
            if self.checked.insert((*path).to_owned()) {
                self.not_found(path).await;
            }
        }
    }

    /// The server-side applies among the requests seen (the status patch is one too).
    pub fn apply_requests(&self) -> Vec<&Seen> {
        self.seen
            .iter()
            .filter(|s| s.method == Method::PATCH)
            .collect()
    }

    /// The DELETE paths among the requests seen, in order.
    pub fn deletes(&self) -> Vec<&str> {
        self.seen
            .iter()
            .filter(|s| s.method == Method::DELETE)
            .map(|s| s.path.as_str())
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

    /// Takes the next request, checks method and path, and refuses it as the API server does:
    /// a `Status` of `code` with `reason` and `message`. Returns the request body.
    pub async fn refuse(
        &mut self,
        (method, path): (Method, &str),
        code: StatusCode,
        reason: &str,
        message: &str,
    ) -> Value {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "reason": reason, "code": code.as_u16(), "message": message});
        self.expect(method, path, code, status).await
    }

    /// The API server refuses the next request (see [`Self::refuse`]); the reconcile then shows
    /// the failure as `shown` (see [`Self::failure_shown`]).
    pub async fn refused(
        &mut self,
        app: &KasprApp,
        request: (Method, &str),
        (code, reason, message): (StatusCode, &str, &str),
        shown: &str,
    ) -> Shown {
        self.refuse(request, code, reason, message).await;
        self.failure_shown(app, shown).await
    }

    pub async fn not_found(&mut self, path: &str) {
        self.refuse(
            (Method::GET, path),
            StatusCode::NOT_FOUND,
            "NotFound",
            "not found",
        )
        .await;
    }

    /// The read of the Secret `pypi-creds`, answered: no such Secret.
    pub async fn secret_missing(&mut self) {
        self.not_found(SECRET_PATH).await;
    }

    /// The read of the Secret `pypi-creds`, answered with a Secret of `data`.
    pub async fn secret(&mut self, data: Value) {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pypi-creds"}, "data": data});
        self.expect(Method::GET, SECRET_PATH, StatusCode::OK, secret)
            .await;
    }

    /// A server-side apply of `path`, accepted; returns the body the API server got.
    pub async fn patch(&mut self, path: &str) -> Value {
        self.expect(Method::PATCH, path, StatusCode::OK, Value::Null)
            .await
    }

    /// Server-side applies of `paths`, in order, each accepted.
    pub async fn patches(&mut self, paths: &[&str]) {
        for path in paths {
            self.patch(path).await;
        }
    }

    /// The server-side applies of the children of an app with pythonPackages and without the
    /// cache (the live set, no PVC), in order; returns the bodies the API server got.
    pub async fn applies(&mut self, with_statefulset: bool) -> Applied {
        self.applies_of(false, with_statefulset).await
    }

    /// The server-side applies of the children, in order: the packages PVC when `pvc` (the
    /// shared cache is on), the StatefulSet when `with_statefulset`.
    pub async fn applies_of(&mut self, pvc: bool, with_statefulset: bool) -> Applied {
        let mut paths: Vec<&str> = FIRST_CHILDREN.to_vec();
        paths.extend(pvc.then_some(PVC_PATH));
        paths.extend([LIVE_SET_PATH, HPA_PATH]);
        paths.extend(with_statefulset.then_some(STS_PATH));
        self.checks(&paths).await;
        self.patches(&FIRST_CHILDREN).await;
        let pvc = if pvc {
            Some(self.patch(PVC_PATH).await)
        } else {
            None
        };
        let live_set = self.patch(LIVE_SET_PATH).await;
        self.patch(HPA_PATH).await;
        let statefulset = if with_statefulset {
            Some(self.patch(STS_PATH).await)
        } else {
            None
        };
        Applied {
            pvc,
            live_set,
            statefulset,
        }
    }

    /// The server-side applies of the children of an app without pythonPackages, in order.
    pub async fn applies_without_packages(&mut self) {
        let mut paths: Vec<&str> = FIRST_CHILDREN.to_vec();
        paths.extend([HPA_PATH, STS_PATH]);
        self.checks(&paths).await;
        self.patches(&FIRST_CHILDREN).await;
        self.patch(HPA_PATH).await;
        self.patch(STS_PATH).await;
    }

    /// What follows the Secret read when the rollout is held (the Secret or its key is
    /// missing): every child but the StatefulSet, a Warning event, the status, nothing more.
    pub async fn held(&mut self, app: &KasprApp) -> Held {
        let applied = self.applies(false).await;
        assert!(applied.statefulset.is_none(), "the rollout is held");
        let event = self.event().await;
        assert_eq!(event["type"], "Warning");
        let status = self.status(app).await;
        self.nothing_more().await;
        Held {
            applied,
            event,
            status,
        }
    }

    /// What follows a failed step: a Warning event of `reason`, then the status with
    /// Ready=False for the same reason, and nothing more.
    pub async fn failure_shown(&mut self, app: &KasprApp, reason: &str) -> Shown {
        let event = self.event().await;
        assert_eq!(
            (event["type"].as_str(), event["reason"].as_str()),
            (Some("Warning"), Some(reason))
        );
        let status = self.status(app).await;
        let ready = condition(&status, "Ready");
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("False"), Some(reason))
        );
        self.nothing_more().await;
        Shown {
            event,
            status,
            ready,
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

    /// The status patch, answered with `app`; returns the status sent.
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
