//! The controller as it runs (`kaspr_reconcile::run`): watches and the reconcile wired together,
//! against a small fake API server that answers by route. Creating a missing Secret resumes the
//! held rollout at the next short requeue (Secrets are never listed or watched); the reconciles
//! read the StatefulSet, pods, PVC and live set from the watches' caches, never by a GET.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use kube::client::Body;
use serde_json::{Value, json};

const APP: &str = "orders";
const SECRET: &str = "pypi-creds";
/// The held app's requeue in this test (15 s in production).
const BLOCKED_REQUEUE: Duration = Duration::from_secs(1);

type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

/// What the fake API server holds and saw.
#[derive(Default)]
struct State {
    secret_exists: bool,
    /// PATCH paths in order (server-side applies and status patches).
    patches: Vec<String>,
    /// GET paths that were not watches (lists and reads), in order.
    reads: Vec<String>,
    /// Watches opened, by path (a Secret watch would be a least-privilege bug).
    watches: Vec<String>,
}

fn app() -> Value {
    json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": APP, "namespace": "default", "uid": "6b0d8a36-4f0e-4d35-a0f4-42c1b1b9e0a1",
                     "generation": 1, "resourceVersion": "1"},
        "spec": {"bootstrapServers": "k:9092", "pythonPackages": {
            "packages": ["requests==2.31.0"], "indexUrl": "https://pypi.example.com/simple",
            "credentials": {"secretRef": {"name": SECRET}}}}
    })
}

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed_unsync())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
}

fn not_found() -> Reply {
    json_reply(
        StatusCode::NOT_FOUND,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                "code": 404, "message": "not found"}),
    )
}

fn empty_list(path: &str) -> Value {
    let metadata_only = path.ends_with("/secrets");
    json!({
        "apiVersion": if metadata_only { "meta.k8s.io/v1" } else { "v1" },
        "kind": if metadata_only { "PartialObjectMetadataList" } else { "List" },
        "metadata": {"resourceVersion": "1"},
        "items": []
    })
}

/// A watch that streams `events` (one JSON object a line), or stays open and silent.
fn watch_reply(events: Option<futures::channel::mpsc::UnboundedReceiver<Value>>) -> Reply {
    let stream = match events {
        Some(rx) => rx
            .map(|event| Ok::<_, Infallible>(Frame::data(Bytes::from(format!("{event}\n")))))
            .boxed(),
        None => futures::stream::pending().boxed(),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(StreamBody::new(stream).boxed_unsync())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
}

fn secret() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": SECRET, "namespace": "default", "resourceVersion": "2"},
           "data": {"username": "dXNlcg==", "password": "cGFzcw=="}})
}

async fn answer(state: Arc<Mutex<State>>, req: Request<Body>) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    if parts.method == Method::GET && (query.contains("watch=true") || query.contains("watch=1")) {
        state.watches.push(path.clone());
        return Ok(watch_reply(None));
    }
    if parts.method == Method::GET {
        state.reads.push(path.clone());
    }
    let reply = match (parts.method.clone(), path.as_str()) {
        (Method::GET, "/apis/kaspr.io/v1alpha1/kasprapps") => json_reply(
            StatusCode::OK,
            &json!({"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprAppList",
                    "metadata": {"resourceVersion": "1"}, "items": [app()]}),
        ),
        (Method::GET, p) if p == format!("/api/v1/namespaces/default/secrets/{SECRET}") => {
            if state.secret_exists {
                json_reply(StatusCode::OK, &secret())
            } else {
                not_found()
            }
        }
        (Method::GET, p) if p.matches('/').count() <= 4 || p.ends_with("/pods") => {
            json_reply(StatusCode::OK, &empty_list(p))
        }
        (Method::GET, _) => not_found(),
        (Method::PATCH, p) => {
            state.patches.push(p.to_owned());
            let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if p.ends_with("/status") {
                let mut object = app();
                object["status"] = sent["status"].clone();
                json_reply(StatusCode::OK, &object)
            } else {
                json_reply(StatusCode::OK, &sent)
            }
        }
        (Method::POST, _) => json_reply(
            StatusCode::CREATED,
            &serde_json::from_slice(&body).unwrap_or(Value::Null),
        ),
        _ => not_found(),
    };
    Ok(reply)
}

fn wait_until(
    state: &Arc<Mutex<State>>,
    what: &str,
    limit: Duration,
    check: impl Fn(&State) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        if check(&state.lock().unwrap_or_else(|e| e.into_inner())) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn applied_statefulset(state: &State) -> bool {
    state
        .patches
        .iter()
        .any(|p| p == &format!("/apis/apps/v1/namespaces/default/statefulsets/{APP}-app"))
}

#[test]
fn creating_the_missing_secret_resumes_the_rollout_at_the_next_requeue() {
    let state = Arc::new(Mutex::new(State::default()));
    let served = state.clone();
    let service = tower::service_fn(move |req| answer(served.clone(), req));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let controller = runtime.spawn(async move {
        let client = kube::Client::new(service, "default");
        let metrics = kaspr_reconcile::metrics::prometheus().expect("metrics").0;
        let settings = kaspr_reconcile::Settings {
            blocked_requeue: BLOCKED_REQUEUE,
            members: kaspr_reconcile::members::MemberCheck {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        };
        kaspr_reconcile::run(client, metrics, settings, Default::default()).await;
    });

    // Held: the app's status is written, everything but the StatefulSet applied.
    wait_until(
        &state,
        "the first reconcile's status patch",
        Duration::from_secs(30),
        |s| {
            s.patches
                .iter()
                .any(|p| p.ends_with(&format!("/kasprapps/{APP}/status")))
        },
    );
    assert!(!applied_statefulset(
        &state.lock().unwrap_or_else(|e| e.into_inner())
    ));

    // The Secret appears; no watch tells: the held app's short requeue reads it again.
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .secret_exists = true;
    wait_until(
        &state,
        "the StatefulSet apply",
        BLOCKED_REQUEUE * 5,
        applied_statefulset,
    );
    controller.abort();
    // Everything else came from the caches that the cluster-wide lists and watches filled.
    let state = state.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        !state
            .watches
            .iter()
            .chain(&state.reads)
            .any(|p| p.ends_with("/secrets")),
        "Secrets are never listed or watched: {:?} {:?}",
        state.watches,
        state.reads
    );
    let secret = format!("/api/v1/namespaces/default/secrets/{SECRET}");
    let by_name: Vec<&String> = state
        .reads
        .iter()
        .filter(|p| p.contains("/namespaces/"))
        .collect();
    // By name: the Secret at every reconcile, and each child once (whose is it: a name
    // conflict is refused), never again.
    let secret_reads = by_name.iter().filter(|p| ***p == secret).count();
    assert!(secret_reads >= 2, "{:?}", state.reads);
    let mut children: Vec<&&String> = by_name.iter().filter(|p| ***p != secret).collect();
    let before = children.len();
    children.sort();
    children.dedup();
    assert_eq!(
        before,
        children.len(),
        "a child is checked once: {:?}",
        state.reads
    );
    assert!(
        children
            .iter()
            .any(|p| p.ends_with("/statefulsets/orders-app")),
        "{:?}",
        state.reads
    );
    for list in [
        "/apis/apps/v1/statefulsets",
        "/api/v1/pods",
        "/api/v1/persistentvolumeclaims",
        "/apis/kaspr.io/v1alpha1/kaspragents",
    ] {
        assert!(
            state.reads.iter().any(|p| p == list),
            "{list} is listed: {:?}",
            state.reads
        );
    }
    // Neither Secrets nor ConfigMaps are ever listed or watched.
    for never in ["/api/v1/secrets", "/api/v1/configmaps"] {
        assert!(
            !state.reads.iter().any(|p| p == never),
            "{never} is listed: {:?}",
            state.reads
        );
    }
}
