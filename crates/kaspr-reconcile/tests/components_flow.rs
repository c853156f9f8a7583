//! A component's reconcile against the mock API server: created before its app (ConfigMap
//! applied, `AppNotFound` status and Warning), the app appearing (no apply, `AppFound` and a
//! Normal event), nothing changed (no request at all), an edited definition (one apply), a
//! ConfigMap of its name that is someone else's (`NameConflict`, nothing applied), and a
//! refused spec (`InvalidSpec`, nothing applied).

mod support;

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use kaspr_components::{Component, KasprAgent};
use kaspr_reconcile::build::components::config_map;
use kaspr_reconcile::component_controller::{ComponentContext, reconcile};
use kube::client::Body;
use kube::runtime::reflector::{self, store::Writer};
use serde_json::{Value, json};
use support::api::Verifier;
use support::relist;

const CM_PATH: &str = "/api/v1/namespaces/default/configmaps/counter-agent";
const STATUS_PATH: &str = "/apis/kaspr.io/v1alpha1/namespaces/default/kaspragents/counter/status";
const EVENTS_PATH: &str = "/apis/events.k8s.io/v1/namespaces/default/events";

fn agent(python: &str) -> KasprAgent {
    serde_json::from_value(json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprAgent",
        "metadata": {"name": "counter", "namespace": "default", "uid": "agent-uid", "generation": 1,
            "labels": {"kaspr.io/app": "orders"}},
        "spec": {
            "input": {"topic": {"name": "events"}},
            "processors": {"pipeline": ["count"], "operations": [
                {"name": "count", "map": {"entrypoint": "count", "python": python}}]}
        }
    }))
    .expect("agent")
}

struct Scene {
    ctx: Arc<ComponentContext>,
    api: Verifier,
    apps: Writer<kaspr_types::KasprApp>,
}

fn scene() -> Scene {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let (apps, mut apps_w) = reflector::store();
    let (tables, mut tables_w) = reflector::store();
    relist(&mut apps_w, json!([]));
    relist(&mut tables_w, json!([]));
    Scene {
        ctx: Arc::new(ComponentContext::new(client, apps, tables)),
        api: Verifier::new(handle),
        apps: apps_w,
    }
}

/// The reasons of the next `n` events posted, sorted.
async fn event_reasons(api: &mut Verifier, n: usize) -> Vec<String> {
    let mut reasons = Vec::new();
    for _ in 0..n {
        let e = api
            .expect(Method::POST, EVENTS_PATH, StatusCode::CREATED, Value::Null)
            .await;
        reasons.push(e["reason"].as_str().unwrap_or_default().to_owned());
    }
    reasons.sort();
    reasons
}

/// The status patch, answered with `a` as the API server would; returns the status sent.
async fn status_of(api: &mut Verifier, a: &KasprAgent) -> Value {
    let reply = serde_json::to_value(a).expect("json");
    api.expect(Method::PATCH, STATUS_PATH, StatusCode::OK, reply)
        .await["status"]
        .clone()
}

fn with_status(mut a: KasprAgent, status: &Value) -> KasprAgent {
    a.status = serde_json::from_value(status.clone()).ok();
    a
}

/// The ConfigMap as the API server holds it once `a`'s definition was applied.
fn applied(a: &KasprAgent) -> Value {
    let mut cm = serde_json::to_value(config_map(&Component::Agent(a.clone()))).expect("json");
    cm["apiVersion"] = json!("v1");
    cm["kind"] = json!("ConfigMap");
    cm
}

#[tokio::test]
async fn a_component_before_and_after_its_app() {
    let mut s = scene();
    let a = agent("def count(v):\n    return v\n");
    // 1. No app yet: the ConfigMap is applied all the same, the status says AppNotFound.
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    // ConfigMaps are not watched: read by name once before the first apply.
    s.api.not_found(CM_PATH).await;
    let cm = s.api.patch(CM_PATH).await;
    assert_eq!(
        cm["data"]["counter-agent.yaml"]
            .as_str()
            .map(|t| t.starts_with("agents:")),
        Some(true)
    );
    assert_eq!(cm["metadata"]["ownerReferences"][0]["uid"], "agent-uid");
    let status = status_of(&mut s.api, &a).await;
    assert_eq!(
        status["app"],
        json!({"name": "orders", "status": "AppNotFound"})
    );
    assert_eq!(status["conditions"][0]["reason"], "AppNotFound");
    assert_eq!(status["conditions"][0]["status"], "False");
    let event = s
        .api
        .expect(Method::POST, EVENTS_PATH, StatusCode::CREATED, Value::Null)
        .await;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Warning"), Some("AppNotFound"))
    );
    task.await.expect("joins").expect("ok");

    // 2. The app appears; the ConfigMap was just made to hold this definition: no request for it.
    relist(
        &mut s.apps,
        json!([{"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": "orders", "namespace": "default"}, "spec": {"bootstrapServers": "k:9092"}}]),
    );
    let a = with_status(a, &status);
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    let status = status_of(&mut s.api, &a).await;
    assert_eq!(status["app"]["status"], "AppFound");
    assert_eq!(status["conditions"][0]["status"], "True");
    assert_eq!(status["configMap"], "counter-agent");
    let event = s
        .api
        .expect(Method::POST, EVENTS_PATH, StatusCode::CREATED, Value::Null)
        .await;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Normal"), Some("AppFound"))
    );
    task.await.expect("joins").expect("ok");

    // 3. Nothing changed: not one request.
    let a = with_status(a, &status);
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    s.api.nothing_more().await;
    task.await.expect("joins").expect("ok");

    // 4. The definition is edited: one apply, and the status's hash follows.
    let mut edited = agent("def count(v):\n    return 2 * v\n");
    edited.status = a.status.clone();
    let task = tokio::spawn(reconcile(Arc::new(edited.clone()), s.ctx.clone()));
    s.api
        .expect(Method::GET, CM_PATH, StatusCode::OK, applied(&a))
        .await;
    let cm = s.api.patch(CM_PATH).await;
    let new_hash = cm["metadata"]["annotations"]["kaspr.io/resource-hash"].clone();
    assert_ne!(new_hash, status["hash"]);
    let status = status_of(&mut s.api, &edited).await;
    assert_eq!(status["hash"], new_hash);
    s.api.nothing_more().await;
    task.await.expect("joins").expect("ok");
}

#[tokio::test]
async fn a_config_map_of_its_name_that_is_someone_elses_is_left_alone() {
    let mut s = scene();
    let a = agent("def count(v):\n    return v\n");
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "counter-agent",
        "namespace": "default", "ownerReferences": [{"apiVersion": "v1", "kind": "Deployment",
        "name": "other", "uid": "other-uid", "controller": true}]}});
    s.api
        .expect(Method::GET, CM_PATH, StatusCode::OK, foreign)
        .await;
    let status = status_of(&mut s.api, &a).await;
    assert_eq!(status["conditions"][0]["reason"], "NameConflict");
    assert!(
        status["conditions"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Deployment other")
    );
    assert_eq!(status.get("configMap"), None);
    let reasons = event_reasons(&mut s.api, 2).await;
    assert_eq!(reasons, ["AppNotFound", "NameConflict"]);
    s.api.nothing_more().await;
    task.await.expect("joins").expect("ok");
}

#[tokio::test]
async fn a_refused_spec_applies_nothing_and_says_which_field() {
    let mut s = scene();
    let a = agent("   ");
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    let status = status_of(&mut s.api, &a).await;
    assert_eq!(status["conditions"][0]["reason"], "InvalidSpec");
    let message = status["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("spec.processors.operations[0].map.python"),
        "{message}"
    );
    let reasons = event_reasons(&mut s.api, 2).await;
    assert_eq!(reasons, ["AppNotFound", "InvalidSpec"]);
    s.api.nothing_more().await;
    task.await.expect("joins").expect("ok");
}

#[tokio::test]
async fn an_unlabelled_config_map_of_its_name_is_read_and_left_alone() {
    let mut s = scene();
    let a = agent("def count(v):\n    return v\n");
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "counter-agent", "namespace": "default"}});
    s.api
        .expect(Method::GET, CM_PATH, StatusCode::OK, foreign)
        .await;
    let status = status_of(&mut s.api, &a).await;
    assert_eq!(status["conditions"][0]["reason"], "NameConflict");
    let reasons = event_reasons(&mut s.api, 2).await;
    assert_eq!(reasons, ["AppNotFound", "NameConflict"]);
    s.api.nothing_more().await;
    task.await.expect("joins").expect("ok");
}

#[tokio::test]
async fn an_app_deleted_turns_its_components_not_found_with_a_warning() {
    let mut s = scene();
    let app = json!([{"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": "orders", "namespace": "default"}, "spec": {"bootstrapServers": "k:9092"}}]);
    relist(&mut s.apps, app);
    let a = agent("def count(v):\n    return v\n");
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    s.api.not_found(CM_PATH).await;
    s.api.patch(CM_PATH).await;
    let found = status_of(&mut s.api, &a).await;
    assert_eq!(found["app"]["status"], "AppFound");
    let e = s
        .api
        .expect(Method::POST, EVENTS_PATH, StatusCode::CREATED, Value::Null)
        .await;
    assert_eq!(e["reason"], "AppFound");
    task.await.expect("joins").expect("ok");
    // The app is deleted: its watch event reconciles the component again.
    relist(&mut s.apps, json!([]));
    let a = with_status(a, &found);
    let task = tokio::spawn(reconcile(Arc::new(a.clone()), s.ctx.clone()));
    let gone = status_of(&mut s.api, &a).await;
    assert_eq!(gone["app"]["status"], "AppNotFound");
    assert_eq!(gone["conditions"][0]["status"], "False");
    let e = s
        .api
        .expect(Method::POST, EVENTS_PATH, StatusCode::CREATED, Value::Null)
        .await;
    assert_eq!(
        (e["type"].as_str(), e["reason"].as_str()),
        (Some("Warning"), Some("AppNotFound"))
    );
    // The definition stays ready for the app's return: no request for the ConfigMap.
    s.api.nothing_more().await;
    task.await.expect("joins").expect("ok");
}
