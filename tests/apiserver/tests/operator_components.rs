//! The components' controllers end to end: `kaspr-operator run` against the API-server stand-in
//! (apistandin.py --simulate in front of crdserver). A KasprAgent created before its app says
//! AppNotFound and already has its ConfigMap; once the app exists it says AppFound and the app's
//! StatefulSet mounts it with AGENTS_HASH; a burst of three edits rolls the StatefulSet once (the
//! app controller's 1 s debounce); the agent deleted (and its ConfigMap, as the garbage
//! collector would) is unmounted; a KasprJoin whose right table does not exist says
//! TableNotFound.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kaspr_apiserver_tests::standin::{
    self, Operator, StandIn, api, apply, clear_namespace, wait_for,
};
use kaspr_apiserver_tests::{FIELD_MANAGER, client_with_component_crds};
use kaspr_components::{Component, KasprAgent, KasprJoin, KasprTable};
use kaspr_reconcile::build::components::config_map;
use kaspr_reconcile::names::RESOURCE_HASH_ANNOTATION;
use kaspr_types::KasprApp;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

/// A namespace of its own: the operator watches all of them, and other tests use `default`.
const NS: &str = "components-e2e";
const APP: &str = "shop";
const STS: &str = "shop-app";
const AGENT: &str = "greeter";
const AGENT_CM: &str = "greeter-agent";
const AGENT_MOUNT: &str = "/var/lib/data/definitions/greeter-agent.yaml";
/// The app controller's debounce (crates/kaspr-reconcile/src/controller.rs, `DEBOUNCE`).
const DEBOUNCE: Duration = Duration::from_secs(1);
/// How long nothing may change before a state counts as settled.
const SETTLE: Duration = Duration::from_secs(3);

fn app_doc() -> Value {
    json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
        "metadata": {"name": APP, "namespace": NS},
        "spec": {
            "bootstrapServers": "kafka:9092",
            // A field the schema does not know (upstream's CRD kept such fields, and so does
            // ours): stored, ignored, and named in a SpecWarning event.
            "kafka": {"topics": ["greetings"]},
            "authentication": {
                "type": "scram-sha-512", "username": APP,
                "passwordSecret": {"secretName": "shop-kafka", "passwordKey": "password"}
            }
        }
    })
}

fn agent_doc(python: &str) -> Value {
    json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprAgent",
        "metadata": {"name": AGENT, "namespace": NS, "labels": {"kaspr.io/app": APP}},
        "spec": {
            "input": {"topic": {"name": "greetings"}},
            "processors": {"pipeline": ["greet"], "operations": [greet(python)]}
        }
    })
}

fn greet(python: &str) -> Value {
    json!({"name": "greet", "map": {"entrypoint": "greet", "python": python}})
}

fn python(version: u32) -> String {
    format!("def greet(value):\n    return {{'greeting': value, 'version': {version}}}\n")
}

/// The API of a kind of [`NS`] (apps and components through the stand-in to crdserver).
/// The stored object as JSON (status included), None when it does not exist.
async fn stored(api: &Api<DynamicObject>, name: &str) -> Option<Value> {
    let object = api.get_opt(name).await.ok()??;
    serde_json::to_value(object).ok()
}

/// (status, reason, message) of the Ready condition.
fn ready(object: &Value) -> Option<(String, String, String)> {
    let conditions = object["status"]["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == "Ready")?;
    let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    Some((text("status"), text("reason"), text("message")))
}

/// What the test reads of the app's StatefulSet.
#[derive(Clone, Debug, PartialEq)]
struct StsView {
    generation: i64,
    uid: String,
    /// mountPath of every volume mount of every container.
    mounts: Vec<String>,
    /// The names of the pod's volumes.
    volumes: Vec<String>,
    /// Every env variable with a plain value, of every container.
    env: BTreeMap<String, String>,
}

impl StsView {
    fn of(sts: &StatefulSet) -> Self {
        let pod = sts
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .cloned()
            .unwrap_or_default();
        let containers = pod.containers.iter();
        Self {
            generation: sts.metadata.generation.unwrap_or_default(),
            uid: sts.metadata.uid.clone().unwrap_or_default(),
            mounts: containers
                .clone()
                .flat_map(|c| c.volume_mounts.iter().flatten())
                .map(|m| m.mount_path.clone())
                .collect(),
            volumes: pod
                .volumes
                .iter()
                .flatten()
                .map(|v| v.name.clone())
                .collect(),
            env: containers
                .flat_map(|c| c.env.iter().flatten())
                .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
                .collect(),
        }
    }

    fn agents_hash(&self) -> Option<&str> {
        self.env.get("AGENTS_HASH").map(String::as_str)
    }

    fn short(&self) -> String {
        format!(
            "generation {} AGENTS_HASH {:?} mounts {:?}",
            self.generation,
            self.agents_hash(),
            self.mounts
        )
    }
}

async fn sts_view(api: &Api<StatefulSet>) -> Option<StsView> {
    Some(StsView::of(&api.get_opt(STS).await.ok()??))
}

async fn cm_hash(api: &Api<ConfigMap>, name: &str) -> Option<String> {
    api.get_opt(name)
        .await
        .ok()??
        .metadata
        .annotations?
        .get(RESOURCE_HASH_ANNOTATION)
        .cloned()
}

/// The StatefulSet once its generation has not changed for [`SETTLE`].
async fn settled(api: &Api<StatefulSet>, operator: &Operator) -> StsView {
    let deadline = Instant::now() + standin::WAIT;
    let mut last = sts_view(api).await;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = sts_view(api).await;
        if now.as_ref().map(|v| v.generation) != last.as_ref().map(|v| v.generation) {
            since = Instant::now();
        }
        last = now;
        if let Some(view) = &last
            && since.elapsed() >= SETTLE
        {
            return view.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the StatefulSet {STS} did not settle (last: {last:?})\n{}",
            operator.log_tail(40)
        );
    }
}

/// AGENTS_HASH of the StatefulSet `kaspr-operator render` builds for the app with `components`:
/// what the operator must converge to.
fn rendered_agents_hash(components: &[Value]) -> Option<String> {
    let dir = standin::scratch_dir("render");
    let file = dir.join("input.yaml");
    let mut documents = vec![app_doc()];
    documents.extend(components.iter().cloned());
    let text: String = documents.iter().map(|d| format!("---\n{d}\n")).collect();
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
    let out = std::process::Command::new(kaspr_apiserver_tests::operator_binary())
        .args(["render", "-f"])
        .arg(&file)
        .output()
        .expect("kaspr-operator render runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "kaspr-operator render failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sts = serde_yaml::Deserializer::from_str(&stdout)
        .filter_map(|d| Value::deserialize(d).ok())
        .filter_map(|v| serde_json::from_value::<StatefulSet>(v).ok())
        .find(|s| s.metadata.name.as_deref() == Some(STS))
        .expect("render prints the app's StatefulSet");
    StsView::of(&sts).agents_hash().map(str::to_owned)
}

/// The component as `render` reads it: what was applied, without server fields.
fn as_applied(stored: &Value) -> Value {
    json!({
        "apiVersion": stored["apiVersion"], "kind": stored["kind"],
        "metadata": {"name": stored["metadata"]["name"], "namespace": NS,
                     "labels": stored["metadata"]["labels"]},
        "spec": stored["spec"],
    })
}

/// Changes of the ConfigMap's hash and the StatefulSet's generation and AGENTS_HASH as seen
/// every 50 ms, with the time since `start`: what the debounce merged, shown when it fails.
fn watch_timeline(
    cms: Api<ConfigMap>,
    sts: Api<StatefulSet>,
    start: Instant,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let timeline = Arc::new(Mutex::new(Vec::new()));
    let out = timeline.clone();
    let task = tokio::spawn(async move {
        let mut last = (None, None);
        loop {
            let now = (
                cm_hash(&cms, AGENT_CM).await,
                sts_view(&sts)
                    .await
                    .map(|v| (v.generation, v.agents_hash().map(str::to_owned))),
            );
            if now != last {
                if let Ok(mut t) = out.lock() {
                    t.push(format!(
                        "{:>6} ms  ConfigMap hash {:?}  StatefulSet (generation, AGENTS_HASH) {:?}",
                        start.elapsed().as_millis(),
                        now.0,
                        now.1
                    ));
                }
                last = now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    (timeline, task)
}

#[tokio::test]
async fn components_reach_the_app_and_a_burst_of_edits_rolls_it_once() {
    // (a) The CRDs on crdserver; the stand-in in front of it; the operator against the stand-in.
    let crd_client = client_with_component_crds().await;
    drop(crd_client);
    let standin = StandIn::start(&standin::crdserver_kubeconfig());
    let client = standin.client().await;
    clear_namespace(&client, NS).await;
    let lease = format!("kaspr-components-e2e-{}", std::process::id());
    let operator = Operator::start(
        &standin.kubeconfig(),
        &[
            // Members cannot be reached without cluster DNS.
            ("CLIENT_STATUS_CHECK_ENABLED", "false"),
            // One operator: no leader election (its own test is leader_election.rs); should it
            // be on anyway, a lease of its own.
            ("KASPR_LEADER_ELECTION", "false"),
            ("KASPR_LEASE_NAME", &lease),
            ("POD_NAMESPACE", NS),
        ],
    )
    .await;
    let log = || format!("--- operator log (tail):\n{}", operator.log_tail(40));
    let agents = api::<KasprAgent>(&client, NS);
    let apps = api::<KasprApp>(&client, NS);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), NS);

    // The agent before its app: AppNotFound, Ready=False, and its ConfigMap already there.
    apply(&agents, &agent_doc(&python(0))).await;
    let seen = Mutex::new(String::new());
    let remember = |what: String| {
        if let Ok(mut s) = seen.lock() {
            *s = what;
        }
    };
    let last_seen = || seen.lock().map(|s| s.clone()).unwrap_or_default();
    wait_for(
        "KasprAgent greeter: app AppNotFound, Ready=False AppNotFound, ConfigMap greeter-agent",
        || async {
            let agent = stored(&agents, AGENT).await?;
            remember(format!("status {}", agent["status"]));
            let (status, reason, _) = ready(&agent)?;
            let cm = cms.get_opt(AGENT_CM).await.ok()??;
            (agent["status"]["app"] == json!({"name": APP, "status": "AppNotFound"})
                && status == "False"
                && reason == "AppNotFound"
                && agent["status"]["configMap"] == AGENT_CM
                && cm
                    .metadata
                    .annotations
                    .as_ref()?
                    .get(RESOURCE_HASH_ANNOTATION)
                    == agent["status"]["hash"].as_str().map(str::to_owned).as_ref())
            .then_some(())
        },
        || format!("last seen: {}\n{}", last_seen(), log()),
    )
    .await;
    let cm = cms.get(AGENT_CM).await.expect("the agent's ConfigMap");
    let agent_uid = stored(&agents, AGENT).await.expect("agent")["metadata"]["uid"].clone();
    let owners = cm.metadata.owner_references.clone().unwrap_or_default();
    assert!(
        owners.iter().any(|o| o.kind == "KasprAgent"
            && o.name == AGENT
            && json!(o.uid) == agent_uid
            && o.controller == Some(true)),
        "the ConfigMap is owned by the agent (so the garbage collector deletes it with it): {owners:?}"
    );
    assert!(
        cm.data
            .as_ref()
            .is_some_and(|d| d.contains_key("greeter-agent.yaml")),
        "the ConfigMap holds greeter-agent.yaml: {:?}",
        cm.data
    );

    // (b) The app (its Secret first: the rollout waits for it): the agent is found and mounted.
    apply(
        &api::<Secret>(&client, NS),
        &json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "shop-kafka", "namespace": NS},
            "stringData": {"password": "s3cret"}
        }),
    )
    .await;
    apply(&apps, &app_doc()).await;
    wait_for(
        "KasprAgent greeter: AppFound, Ready=True",
        || async {
            let agent = stored(&agents, AGENT).await?;
            remember(format!("status {}", agent["status"]));
            let (status, reason, _) = ready(&agent)?;
            (agent["status"]["app"]["status"] == "AppFound"
                && status == "True"
                && reason == "AppFound")
                .then_some(())
        },
        || format!("last seen: {}\n{}", last_seen(), log()),
    )
    .await;
    let initial = stored(&agents, AGENT).await.expect("agent");
    let expected = rendered_agents_hash(&[as_applied(&initial)]);
    assert!(expected.is_some(), "render mounts the agent");
    wait_for(
        "StatefulSet shop-app mounting greeter-agent.yaml, with the AGENTS_HASH render gives",
        || async {
            let view = sts_view(&sts_api).await?;
            remember(view.short());
            (view.mounts.iter().any(|m| m == AGENT_MOUNT)
                && view.volumes.iter().any(|v| v == AGENT_CM)
                && view.agents_hash() == expected.as_deref())
            .then_some(())
        },
        || {
            format!(
                "want AGENTS_HASH {expected:?}; last seen: {}\n{}",
                last_seen(),
                log()
            )
        },
    )
    .await;
    let events = kaspr_apiserver_tests::events_api(&client, NS);
    wait_for(
        "a Warning event SpecWarning naming spec.kafka",
        || async {
            let list = events.list(&Default::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| {
                    e.data["reason"] == "SpecWarning"
                        && e.data["type"] == "Warning"
                        && e.data["note"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("spec.kafka is not a KasprApp field"))
                })
                .then_some(())
        },
        log,
    )
    .await;
    let before = settled(&sts_api, &operator).await;
    let cm_before = cm_hash(&cms, AGENT_CM).await.expect("ConfigMap hash");

    // (c) Three edits of the agent's code within ~200 ms: one rollout.
    let start = Instant::now();
    let (timeline, recorder) = watch_timeline(cms.clone(), sts_api.clone(), start);
    let merge = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    for version in 1..=3 {
        let patch = json!({"spec": {"processors": {"operations": [greet(&python(version))]}}});
        agents
            .patch(AGENT, &merge, &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("edit {version}: {e}"));
        if version < 3 {
            tokio::time::sleep(Duration::from_millis(70)).await;
        }
    }
    let burst = start.elapsed();
    assert!(
        burst < DEBOUNCE / 2,
        "the three edits took {burst:?}: too slow a machine to send a burst well inside the \
         {DEBOUNCE:?} debounce, so it cannot be tested here"
    );
    let last = stored(&agents, AGENT).await.expect("agent");
    let last_component: KasprAgent =
        serde_json::from_value(last.clone()).expect("the stored agent parses");
    let want_cm = config_map(&Component::Agent(last_component))
        .metadata
        .annotations
        .and_then(|a| a.get(RESOURCE_HASH_ANNOTATION).cloned())
        .expect("a component ConfigMap carries its hash");
    assert_ne!(want_cm, cm_before, "the edits change the definition");
    let timeline_text = || timeline.lock().map(|t| t.join("\n")).unwrap_or_default();
    wait_for(
        "the agent's ConfigMap to hold the last edit",
        || async { (cm_hash(&cms, AGENT_CM).await? == want_cm).then_some(()) },
        || format!("want {want_cm}; timeline:\n{}\n{}", timeline_text(), log()),
    )
    .await;
    // It then stays so: no late reconcile of an older edit overwrites it.
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        cm_hash(&cms, AGENT_CM).await.as_deref(),
        Some(want_cm.as_str()),
        "the ConfigMap did not keep the last edit; timeline:\n{}",
        timeline_text()
    );
    let want_env = rendered_agents_hash(&[as_applied(&last)]);
    assert_ne!(
        want_env.as_deref(),
        before.agents_hash(),
        "the edit changes AGENTS_HASH"
    );
    wait_for(
        "the StatefulSet's AGENTS_HASH to be the last edit's",
        || async {
            let view = sts_view(&sts_api).await?;
            (view.agents_hash() == want_env.as_deref()).then_some(())
        },
        || {
            format!(
                "want {want_env:?}; timeline:\n{}\n{}",
                timeline_text(),
                log()
            )
        },
    )
    .await;
    let after = settled(&sts_api, &operator).await;
    recorder.abort();
    assert_eq!(
        after.generation,
        before.generation + 1,
        "a burst of 3 edits within {burst:?} must roll the StatefulSet once (generation {} -> \
         {}), the app controller debouncing {DEBOUNCE:?}. Timeline since the first edit:\n{}",
        before.generation,
        after.generation,
        timeline_text()
    );
    eprintln!(
        "one rollout for a burst of 3 edits in {burst:?}; timeline since the first edit:\n{}",
        timeline_text()
    );

    // (d) The agent deleted. No garbage collector here: its ConfigMap (owned by it, checked
    // above) is deleted as the collector would; the app's pods then no longer mount it.
    agents
        .delete(AGENT, &DeleteParams::default())
        .await
        .expect("agent deleted");
    wait_for(
        "the agent to go",
        || async { stored(&agents, AGENT).await.is_none().then_some(()) },
        log,
    )
    .await;
    cms.delete(AGENT_CM, &DeleteParams::default())
        .await
        .expect("ConfigMap deleted as the garbage collector would");
    wait_for(
        "the StatefulSet without greeter-agent (mount, volume, AGENTS_HASH)",
        || async {
            let view = sts_view(&sts_api).await?;
            remember(view.short());
            (!view.mounts.iter().any(|m| m == AGENT_MOUNT)
                && !view.volumes.iter().any(|v| v == AGENT_CM)
                && view.agents_hash().is_none())
            .then_some(())
        },
        || format!("last seen: {}\n{}", last_seen(), log()),
    )
    .await;

    // (e) A join whose right table does not exist: Ready=False TableNotFound.
    let tables = api::<KasprTable>(&client, NS);
    let joins = api::<KasprJoin>(&client, NS);
    apply(
        &tables,
        &json!({
            "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprTable",
            "metadata": {"name": "orders", "namespace": NS, "labels": {"kaspr.io/app": APP}},
            "spec": {"keySerializer": "json", "valueSerializer": "json", "partitions": 1}
        }),
    )
    .await;
    apply(
        &joins,
        &json!({
            "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprJoin",
            "metadata": {"name": "orders-products", "namespace": NS,
                         "labels": {"kaspr.io/app": APP}},
            "spec": {
                "leftTable": "orders", "rightTable": "products",
                "extractor": {"python": "def key(order):\n    return order['product_id']\n"}
            }
        }),
    )
    .await;
    wait_for(
        "KasprJoin orders-products: Ready=False TableNotFound naming spec.rightTable products",
        || async {
            let join = stored(&joins, "orders-products").await?;
            remember(format!("status {}", join["status"]));
            let (status, reason, message) = ready(&join)?;
            (status == "False"
                && reason == "TableNotFound"
                && message.contains("spec.rightTable products")
                && !message.contains("spec.leftTable")
                && join["status"]["app"]["status"] == "AppFound"
                && join["status"]["leftTable"]["status"] == "LeftTableFound"
                && join["status"]["rightTable"]["status"] == "RightTableNotFound")
                .then_some(())
        },
        || format!("last seen: {}\n{}", last_seen(), log()),
    )
    .await;

    let mut operator = operator;
    assert!(
        operator.running(),
        "the operator exited during the test:\n{}",
        operator.log_tail(40)
    );
    // Nothing left for the tests after this one (the operator watches every namespace).
    clear_namespace(&client, NS).await;
}
