//! deploy/rbac.yaml against the calls the operator really makes. `kaspr-operator run` (leader
//! election on, as deployed) works through an app's life against the API-server stand-in, which
//! records every request with its RBAC verb, group and resource: an app referencing a Secret,
//! with Python packages on a shared cache and table storage, one component of each kind, a
//! rebalance asked for, the storage changed, the packages removed, scaled to zero. Then:
//!
//! - every call the operator made is allowed by a rule bound to its ServiceAccount (nothing
//!   missing: on a cluster it would be refused with 403);
//! - the rules it never used are exactly [`NOT_EXERCISED`], each with its reason (nothing extra:
//!   a grant no code needs is found, and so is a list gone stale).
//!
//! The stand-in records no namespace, so a Role's namespace is checked through the Lease itself.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kaspr_apiserver_tests::standin::{
    self, Operator, StandIn, TEST_USER_AGENT, api, apply, clear_namespace, wait_for,
};
use kaspr_apiserver_tests::{FIELD_MANAGER, client_with_component_crds};
use kaspr_components::{KasprAgent, KasprJoin, KasprTable, KasprTask, KasprWebView};
use kaspr_types::KasprApp;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

const NS: &str = "rbac-e2e";
const APP: &str = "shop";
const STS: &str = "shop-app";
const HPA: &str = "shop-app-hpa";
/// The packages PVC and the live-set ConfigMap share this name.
const PACKAGES: &str = "shop-app-python-packages";
/// Where deploy/operator.yaml runs the operator (its Role for the Lease is there).
const OPERATOR_NAMESPACE: &str = "kaspr-system";
const OPERATOR_SERVICE_ACCOUNT: &str = "kaspr-operator";
/// The first word of the operator's User-Agent (`kaspr-operator/<version>`), as the stand-in
/// records it.
const OPERATOR_AGENT: &str = "kaspr-operator";

/// Why a grant is not exercised: needs member status checks, off in this test.
const MEMBERS: &str = "hung members are found by member status checks";

/// Rules of deploy/rbac.yaml this scenario never uses, as (apiGroup, resource, verb, why). Keep
/// it exact: the test fails when one of them is used after all (remove it here) and when another
/// one is not (add it with its reason, or remove the grant from deploy/rbac.yaml).
const NOT_EXERCISED: &[(&str, &str, &str, &str)] = &[
    // Used, but not in this scenario: a hung member's restart needs the members' status, which
    // cannot be asked without cluster DNS (CLIENT_STATUS_CHECK_ENABLED=false here).
    ("", "pods", "delete", MEMBERS),
];

/// A rule bound to the operator's ServiceAccount, one verb of one resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    group: String,
    /// `resource` or `resource/subresource`; `*` for all.
    resource: String,
    verb: String,
    /// None: cluster-wide (a ClusterRoleBinding); Some(ns): a RoleBinding's namespace.
    namespace: Option<String>,
    /// Where it comes from, e.g. `ClusterRole kaspr-operator`.
    role: String,
}

impl Grant {
    fn key(&self) -> (String, String, String) {
        (self.group.clone(), self.resource.clone(), self.verb.clone())
    }
}

/// One kind of request the operator made, as the stand-in summarises it.
#[derive(Clone, Debug)]
struct Call {
    verb: String,
    group: String,
    /// `resource` or `resource/subresource`; a path (`/version`) for a non-resource URL.
    resource: String,
    namespaced: bool,
    count: u64,
}

impl Call {
    fn allowed_by(&self, g: &Grant) -> bool {
        let matches = |rule: &str, value: &str| rule == "*" || rule == value;
        matches(&g.group, &self.group)
            && matches(&g.resource, &self.resource)
            && matches(&g.verb, &self.verb)
            // A Role's rules apply inside its namespace only: never to a cluster-wide request.
            && (g.namespace.is_none() || self.namespaced)
    }

    fn describe(&self) -> String {
        let scope = if self.namespaced {
            "in a namespace"
        } else {
            "cluster-wide"
        };
        format!(
            "{} {} (apiGroup {:?}, {scope}, {} calls)",
            self.verb, self.resource, self.group, self.count
        )
    }
}

/// Non-resource URLs every authenticated client may GET (the default ClusterRoles
/// system:discovery and system:public-info-viewer).
fn discovery(call: &Call) -> bool {
    call.verb == "get"
        && [
            "/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz",
        ]
        .iter()
        .any(|p| call.resource == *p || call.resource.starts_with(&format!("{p}/")))
}

fn documents(path: &std::path::Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Every verb of every resource the rules bound to the operator's ServiceAccount grant.
fn grants(docs: &[Value]) -> Vec<Grant> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let binds_operator = |binding: &Value| {
        binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| {
                s["kind"] == "ServiceAccount"
                    && s["name"] == OPERATOR_SERVICE_ACCOUNT
                    && s["namespace"] == OPERATOR_NAMESPACE
            })
    };
    let mut out = Vec::new();
    for binding in docs.iter().filter(|d| {
        (d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding") && binds_operator(d)
    }) {
        let namespace = (binding["kind"] == "RoleBinding").then(|| {
            binding["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned()
        });
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or_default();
        let role_name = binding["roleRef"]["name"].as_str().unwrap_or_default();
        let role = docs
            .iter()
            .find(|d| {
                d["kind"] == role_kind
                    && d["metadata"]["name"] == role_name
                    && (role_kind == "ClusterRole"
                        || d["metadata"]["namespace"].as_str() == namespace.as_deref())
            })
            .unwrap_or_else(|| {
                panic!(
                    "deploy/rbac.yaml: {} {} binds {role_kind} {role_name}, which it does not define",
                    binding["kind"], binding["metadata"]["name"]
                )
            });
        for rule in role["rules"].as_array().into_iter().flatten() {
            assert!(
                rule.get("resourceNames").is_none(),
                "deploy/rbac.yaml: resourceNames in {role_kind} {role_name}: this test cannot \
                 check them (the stand-in records no names); extend it"
            );
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        out.push(Grant {
                            group: group.clone(),
                            resource: resource.clone(),
                            verb,
                            namespace: namespace.clone(),
                            role: format!("{role_kind} {role_name}"),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The kinds of request an agent made, from the stand-in's summary (`rbac` entries).
fn calls_of(summary: &Value, agent: &str) -> Vec<Call> {
    summary["rbac"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let count = e["agents"][agent].as_u64()?;
            let resource = e["resource"].as_str().unwrap_or_default();
            let resource = match e["subresource"].as_str() {
                Some(sub) => format!("{resource}/{sub}"),
                None => resource.to_owned(),
            };
            Some(Call {
                verb: e["verb"].as_str().unwrap_or_default().to_owned(),
                group: e["apiGroup"].as_str().unwrap_or_default().to_owned(),
                resource,
                namespaced: e["namespaced"].as_bool().unwrap_or_default(),
                count,
            })
        })
        .collect()
}

/// `calls` with the `create` their server-side applies needed. An apply PATCH of an object that
/// does not exist creates it, and the API server then also authorizes `create`
/// (k8s.io/apiserver, endpoints/handlers/patch.go), which the stand-in does not record. It serves
/// the core, apps and autoscaling kinds from an empty store and the test writes none of them but
/// a Secret, so every object of those kinds the operator patched, its apply created.
fn with_creates_by_apply(mut calls: Vec<Call>) -> Vec<Call> {
    let created: Vec<Call> = calls
        .iter()
        .filter(|c| {
            c.verb == "patch"
                && ["", "apps", "autoscaling"].contains(&c.group.as_str())
                && !c.resource.contains('/')
                && c.resource != "secrets"
        })
        .map(|c| Call {
            verb: "create".to_owned(),
            ..c.clone()
        })
        .collect();
    calls.extend(created);
    calls
}

async fn merge(api: &Api<DynamicObject>, name: &str, patch: Value) {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("patching {name} with {patch}: {e}"));
}

fn ready_true(object: &DynamicObject) -> bool {
    object.data["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn component(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "kaspr.io/v1alpha1", "kind": kind,
        "metadata": {"name": name, "namespace": NS, "labels": {"kaspr.io/app": APP}},
        "spec": spec,
    })
}

fn map(entrypoint: &str) -> Value {
    json!({"entrypoint": entrypoint,
           "python": format!("def {entrypoint}(value):\n    return value\n")})
}

#[tokio::test]
async fn every_call_the_operator_makes_is_granted_and_every_grant_is_used() {
    let rbac_file = standin::workspace_root().join("deploy/rbac.yaml");
    let granted = grants(&documents(&rbac_file));
    assert!(
        !granted.is_empty(),
        "deploy/rbac.yaml binds no rule to ServiceAccount {OPERATOR_NAMESPACE}/{OPERATOR_SERVICE_ACCOUNT}"
    );

    let crds = client_with_component_crds().await;
    let standin = StandIn::start(&standin::crdserver_kubeconfig());
    let client = standin.client().await;
    clear_namespace(&client, NS).await;
    let lease = format!("kaspr-operator-rbac-{}", std::process::id());
    let operator = Operator::start(
        &standin.kubeconfig(),
        &[
            ("CLIENT_STATUS_CHECK_ENABLED", "false"),
            // As deployed: leader election on, the Lease in the operator's namespace (a name of
            // its own, so a lease an earlier run left held is not waited for).
            ("KASPR_LEADER_ELECTION", "true"),
            ("KASPR_LEASE_NAME", &lease),
            ("POD_NAMESPACE", OPERATOR_NAMESPACE),
            ("POD_NAME", "kaspr-operator-rbac-test"),
        ],
    )
    .await;
    let log = || format!("--- operator log (tail):\n{}", operator.log_tail(40));
    let apps = api::<KasprApp>(&client, NS);
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), NS);

    // The app: a Secret it references (read by name), Python packages on a shared cache (a PVC
    // and the live-set ConfigMap), table storage (a claim template).
    apply(
        &api::<Secret>(&client, NS),
        &json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "shop-kafka", "namespace": NS},
            "stringData": {"password": "s3cret"}
        }),
    )
    .await;
    apply(
        &apps,
        &json!({
            "apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
            "metadata": {"name": APP, "namespace": NS},
            "spec": {
                "bootstrapServers": "kafka:9092",
                "authentication": {
                    "type": "scram-sha-512", "username": APP,
                    "passwordSecret": {"secretName": "shop-kafka", "passwordKey": "password"}
                },
                "storage": {"type": "persistent-claim", "size": "1Gi", "deleteClaim": true},
                "pythonPackages": {
                    "packages": ["requests"],
                    "cache": {"enabled": true, "deleteClaim": true}
                }
            }
        }),
    )
    .await;

    // One component of each kind; the join's tables both exist.
    let processors =
        |op: &str| json!({"pipeline": [op], "operations": [{"name": op, "map": map(op)}]});
    let components = [
        (
            api::<KasprAgent>(&client, NS),
            component(
                "KasprAgent",
                "greeter",
                json!({"input": {"topic": {"name": "greetings"}}, "processors": processors("greet")}),
            ),
        ),
        (
            api::<KasprTable>(&client, NS),
            component(
                "KasprTable",
                "orders",
                json!({"keySerializer": "json", "valueSerializer": "json", "partitions": 1}),
            ),
        ),
        (
            api::<KasprTable>(&client, NS),
            component(
                "KasprTable",
                "products",
                json!({"keySerializer": "json", "valueSerializer": "json", "partitions": 1}),
            ),
        ),
        (
            api::<KasprWebView>(&client, NS),
            component(
                "KasprWebView",
                "stats",
                json!({"request": {"method": "GET", "path": "/stats"}, "processors": processors("stats")}),
            ),
        ),
        (
            api::<KasprTask>(&client, NS),
            component(
                "KasprTask",
                "report",
                json!({"schedule": {"interval": "1h"}, "processors": processors("report")}),
            ),
        ),
        (
            api::<KasprJoin>(&client, NS),
            component(
                "KasprJoin",
                "orders-products",
                json!({"leftTable": "orders", "rightTable": "products",
                       "extractor": {"python": "def key(order):\n    return order['product_id']\n"}}),
            ),
        ),
    ];
    for (api, doc) in &components {
        apply(api, doc).await;
    }
    for (api, doc) in &components {
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        wait_for(
            &format!("{} {name} Ready=True", doc["kind"]),
            || async { api.get_opt(name).await.ok()?.filter(ready_true).map(|_| ()) },
            log,
        )
        .await;
    }
    wait_for(
        "the app's StatefulSet, HPA, packages PVC and live-set ConfigMap, and Ready pods",
        || async {
            let s = sts.get_opt(STS).await.ok()??;
            hpas.get_opt(HPA).await.ok()??;
            pvcs.get_opt(PACKAGES).await.ok()??;
            cms.get_opt(PACKAGES).await.ok()??;
            (s.status?.ready_replicas? >= 1).then_some(())
        },
        log,
    )
    .await;

    // A rebalance asked for, twice: with member checks off it fails at once, the annotation
    // goes, and the second Warning event of the same reason is the first one's series (a patch).
    for round in 1..=2 {
        merge(
            &apps,
            APP,
            json!({"metadata": {"annotations": {"kaspr.io/rebalance": "true"}}}),
        )
        .await;
        wait_for(
            &format!("the operator to remove kaspr.io/rebalance (request {round})"),
            || async {
                let app = apps.get(APP).await.ok()?;
                (!app.annotations().contains_key("kaspr.io/rebalance")).then_some(())
            },
            log,
        )
        .await;
    }
    let events = kaspr_apiserver_tests::events_api(&client, NS);
    wait_for(
        "a RebalanceRequestFailed event with series.count 2",
        || async {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| {
                    e.data["reason"] == "RebalanceRequestFailed"
                        && e.data["series"]["count"].as_i64() >= Some(2)
                })
                .then_some(())
        },
        log,
    )
    .await;

    // Bigger table storage: a new claim template replaces the StatefulSet.
    let old_uid = sts.get(STS).await.expect("StatefulSet").metadata.uid;
    merge(&apps, APP, json!({"spec": {"storage": {"size": "2Gi"}}})).await;
    wait_for(
        "the StatefulSet replaced (another uid)",
        || async {
            let now = sts.get_opt(STS).await.ok()??;
            (now.metadata.uid != old_uid).then_some(())
        },
        log,
    )
    .await;

    // No more packages: the packages PVC (deleteClaim) and the live-set ConfigMap go.
    merge(&apps, APP, json!({"spec": {"pythonPackages": null}})).await;
    wait_for(
        "the packages PVC and the live-set ConfigMap to be deleted",
        || async {
            (pvcs.get_opt(PACKAGES).await.ok()?.is_none()
                && cms.get_opt(PACKAGES).await.ok()?.is_none())
            .then_some(())
        },
        log,
    )
    .await;

    // Scaled to zero: the HPA goes.
    merge(&apps, APP, json!({"spec": {"replicas": 0}})).await;
    wait_for(
        "the HPA to be deleted",
        || async { hpas.get_opt(HPA).await.ok()?.is_none().then_some(()) },
        log,
    )
    .await;

    // Stopped as Kubernetes stops a pod: it hands the Lease over on the way out.
    let mut operator = operator;
    let exit = operator.terminate(Duration::from_secs(15)).await;
    assert!(
        exit.is_some_and(|s| s.success()),
        "the operator did not stop cleanly within 15 s of SIGTERM (exit: {exit:?}); it must have \
         run until then:\n{}",
        operator.log_tail(40)
    );
    let summary = standin.calls();
    let calls = with_creates_by_apply(calls_of(&summary, OPERATOR_AGENT));
    assert!(
        !calls.is_empty(),
        "the stand-in recorded no request with User-Agent {OPERATOR_AGENT}/...: {summary}"
    );
    // Every request is the operator's, the test's or the simulator's: one without the
    // operator's User-Agent would escape this check.
    let agents: BTreeSet<String> = summary["by_agent"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let unknown: Vec<&String> = agents
        .iter()
        .filter(|a| {
            ![OPERATOR_AGENT, TEST_USER_AGENT, "apistandin-simulator"].contains(&a.as_str())
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "requests from unknown User-Agents {unknown:?} (the operator's must all say \
         {OPERATOR_AGENT}/<version>): {}",
        summary["by_agent"]
    );
    eprintln!(
        "the operator's requests: {:#}",
        summary["by_agent"][OPERATOR_AGENT]
    );

    // Nothing missing.
    let missing: Vec<String> = calls
        .iter()
        .filter(|c| !discovery(c) && !granted.iter().any(|g| c.allowed_by(g)))
        .map(Call::describe)
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/rbac.yaml does not allow these requests of the operator (a cluster refuses them \
         with 403 Forbidden):\n  {}\nAdd the verbs to the ClusterRole kaspr-operator (or, for \
         the Lease, the Role kaspr-operator-leader).",
        missing.join("\n  ")
    );

    // A Role grants in its namespace only: the Lease must be there.
    let role_grants_leases = granted
        .iter()
        .any(|g| g.group == "coordination.k8s.io" && g.namespace.is_some());
    if calls.iter().any(|c| c.resource == "leases") && role_grants_leases {
        let lease_ns = granted
            .iter()
            .find(|g| g.group == "coordination.k8s.io")
            .and_then(|g| g.namespace.clone())
            .unwrap_or_default();
        let leases: Api<Lease> = Api::namespaced(crds.clone(), &lease_ns);
        assert!(
            leases.get_opt(&lease).await.ok().flatten().is_some(),
            "the operator's Lease {lease} is not in namespace {lease_ns}, where deploy/rbac.yaml \
             lets it write Leases"
        );
    }

    // Nothing extra.
    let used: BTreeSet<(String, String, String)> = granted
        .iter()
        .filter(|g| calls.iter().any(|c| c.allowed_by(g)))
        .map(Grant::key)
        .collect();
    let unused: BTreeMap<(String, String, String), String> = granted
        .iter()
        .filter(|g| !used.contains(&g.key()))
        .map(|g| (g.key(), g.role.clone()))
        .collect();
    let expected: BTreeSet<(String, String, String)> = NOT_EXERCISED
        .iter()
        .map(|(g, r, v, _)| ((*g).to_owned(), (*r).to_owned(), (*v).to_owned()))
        .collect();
    let show = |keys: Vec<&(String, String, String)>| {
        keys.iter()
            .map(|(g, r, v)| format!("({g:?}, {r:?}, {v:?})"))
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    let unexplained: Vec<&(String, String, String)> =
        unused.keys().filter(|k| !expected.contains(k)).collect();
    let used_after_all: Vec<&(String, String, String)> = expected
        .iter()
        .filter(|k| !unused.contains_key(k))
        .collect();
    assert!(
        unexplained.is_empty() && used_after_all.is_empty(),
        "rules of deploy/rbac.yaml this scenario never used, not in NOT_EXERCISED (a grant no \
         code path needs: remove it from deploy/rbac.yaml, or add it to NOT_EXERCISED saying \
         why):\n  {}\nin NOT_EXERCISED but used (remove them there):\n  {}",
        show(unexplained),
        show(used_after_all)
    );
    clear_namespace(&client, NS).await;
}
