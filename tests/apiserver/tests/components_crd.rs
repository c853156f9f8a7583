//! The generated component CRDs (KasprAgent, KasprTable, KasprWebView, KasprTask, KasprJoin)
//! against a real API server: accepted and Established; every upstream example accepted
//! unchanged with strict field validation; broken variants refused naming the field; defaults,
//! printer columns and the status subresource as declared.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kaspr_apiserver_tests::{FIELD_MANAGER, client_with_component_crds};
use kaspr_components::{
    AppState, AppStatus, ComponentStatus, KasprAgent, KasprJoin, KasprTable, KasprTask,
    KasprWebView,
};
use kaspr_test_support::upstream;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::{Client, Resource};
use serde_json::{Value, json};

const NAMESPACE: &str = "default";

/// The API of `kind`'s objects in [`NAMESPACE`], untyped: documents are sent as written.
fn api(client: &Client, kind: &str) -> Api<DynamicObject> {
    let resource = match kind {
        "KasprAgent" => ApiResource::erase::<KasprAgent>(&()),
        "KasprTable" => ApiResource::erase::<KasprTable>(&()),
        "KasprWebView" => ApiResource::erase::<KasprWebView>(&()),
        "KasprTask" => ApiResource::erase::<KasprTask>(&()),
        "KasprJoin" => ApiResource::erase::<KasprJoin>(&()),
        other => panic!("not a component kind: {other}"),
    };
    Api::namespaced_with(client.clone(), NAMESPACE, &resource)
}

/// Server-side applies `doc` (into [`NAMESPACE`]) with strict field validation; the server's
/// error text on refusal.
async fn apply(client: &Client, mut doc: Value, dry_run: bool) -> Result<Value, String> {
    doc["metadata"]["namespace"] = json!(NAMESPACE);
    let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.field_validation = Some(ValidationDirective::Strict);
    params.dry_run = dry_run;
    api(client, &kind)
        .patch(&name, &params, &Patch::Apply(&doc))
        .await
        .map(|o| serde_json::to_value(o).unwrap_or_default())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn every_component_crd_is_established_with_names_and_columns() {
    let client = client_with_component_crds().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let expected = [
        ("kaspragents.kaspr.io", vec!["kagents", "kagent"], "Topic"),
        (
            "kasprtables.kaspr.io",
            vec!["ktables", "ktable"],
            "Partitions",
        ),
        (
            "kasprwebviews.kaspr.io",
            vec!["kwebviews", "kwebview"],
            "Path",
        ),
        ("kasprtasks.kaspr.io", vec!["ktasks", "ktask"], "Cron"),
        ("kasprjoins.kaspr.io", vec!["kjoin", "kj"], "Left"),
    ];
    for (name, short_names, column) in expected {
        let crd = crds
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let status = crd.status.clone().unwrap_or_default();
        let established = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{name} is not Established");
        let names = status.accepted_names.expect("accepted names");
        assert_eq!(
            names.short_names,
            Some(short_names.iter().map(|s| s.to_string()).collect()),
            "{name}"
        );
        assert_eq!(names.categories, Some(vec!["kaspr".to_owned()]), "{name}");
        let columns: Vec<String> = crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert!(columns.contains(&"App".to_owned()), "{name}: {columns:?}");
        assert!(columns.contains(&column.to_owned()), "{name}: {columns:?}");
    }
}

/// Upstream's own component examples, unchanged (only the namespace is set: crdserver serves no
/// Namespaces): all 13 are accepted with strict field validation. One of them misspells
/// `extraTopicConfigs` at the top of its spec, which the CRD keeps (as upstream's does).
#[tokio::test]
async fn every_upstream_component_example_is_accepted_unchanged() {
    let client = client_with_component_crds().await;
    let mut accepted = 0;
    for (path, doc) in upstream::component_documents() {
        apply(&client, doc, true)
            .await
            .unwrap_or_else(|e| panic!("{}: refused: {e}", path.display()));
        accepted += 1;
    }
    apply(&client, upstream::example_task(), true)
        .await
        .unwrap_or_else(|e| panic!("the example task: refused: {e}"));
    assert_eq!(accepted, 13);
}

/// Each broken variant (the same list `check()` is tested with offline) is refused, and the
/// server names the field.
#[tokio::test]
async fn broken_components_are_refused_with_a_field_path() {
    let client = client_with_component_crds().await;
    let mut failures = Vec::new();
    for (i, broken) in upstream::broken_components().into_iter().enumerate() {
        // A fresh name: applied to an existing object, server-side apply would merge (an empty
        // `schedule: {}` over a stored one becomes null, which is valid).
        let mut doc = broken.document.clone();
        doc["metadata"]["name"] = json!(format!("broken-{i}"));
        match apply(&client, doc, true).await {
            Ok(_) => failures.push(format!("{}: accepted", broken.case)),
            Err(e) if !e.contains(broken.path) => failures.push(format!(
                "{}: error does not name {}: {e}",
                broken.case, broken.path
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn defaults_are_applied_and_config_values_kept() {
    let client = client_with_component_crds().await;
    let agent = upstream::component_documents()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d["metadata"]["name"] == "event-enricher")
        .expect("the event-enricher agent");
    let stored = apply(&client, agent, false).await.expect("agent accepted");
    assert_eq!(stored["spec"]["isolatedPartitions"], false);

    let mut task = upstream::example_task();
    task["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("onLeader");
    let stored = apply(&client, task, false).await.expect("task accepted");
    assert_eq!(stored["spec"]["onLeader"], false);

    let mut join = upstream::component_documents()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "KasprJoin")
        .expect("the join");
    join["spec"].as_object_mut().expect("spec").remove("type");
    let stored = apply(&client, join, false).await.expect("join accepted");
    assert_eq!(stored["spec"]["type"], "inner");

    // Upstream's CRD prunes these maps to {}; this one keeps them, with their types.
    let mut table = upstream::component_documents()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d["metadata"]["name"] == "event-counters")
        .expect("the event-counters table");
    table["spec"]["extraTopicConfigs"] = json!({
        "retention.ms": 604800000, "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.5", "unclean.leader.election.enable": "false"
    });
    table["spec"]["window"] =
        json!({"tumbling": {"size": "30s", "expires": "1h"}, "relativeTo": "stream"});
    let stored = apply(&client, table, false).await.expect("table accepted");
    assert_eq!(
        stored["spec"]["extraTopicConfigs"],
        json!({
            "retention.ms": 604800000, "cleanup.policy": "compact",
            "min.cleanable.dirty.ratio": "0.5", "unclean.leader.election.enable": "false"
        })
    );
    let table: KasprTable = serde_json::from_value(stored).expect("reads back as a KasprTable");
    table.spec.check().expect("valid");

    // The misspelt field of upstream's example is kept (and ignored), as upstream keeps it.
    let (_, prefs) = upstream::component_documents()
        .into_iter()
        .find(|(_, d)| d["metadata"]["name"] == "user-preferences")
        .expect("the user-preferences table");
    let stored = apply(&client, prefs, false).await.expect("accepted");
    assert_eq!(
        stored["spec"]["extraTopicConfig"],
        json!({"retention.ms": -1})
    );
}

#[tokio::test]
async fn window_lengths_are_integers_or_durations() {
    let client = client_with_component_crds().await;
    let (_, base) = upstream::component_documents()
        .into_iter()
        .find(|(_, d)| d["metadata"]["name"] == "api-cache")
        .expect("the api-cache table");
    for (size, ok) in [
        (json!(30), true),
        (json!("30"), true),
        (json!("5m"), true),
        (json!(0), false),
        (json!(-5), false),
        (json!("0s"), false),
        (json!("5 minutes"), false),
    ] {
        let mut table = base.clone();
        table["spec"]["window"] = json!({"hopping": {"size": size, "step": "1m"}});
        let result = apply(&client, table.clone(), true).await;
        assert_eq!(result.is_ok(), ok, "size {size}: {result:?}");
        let offline = kaspr_components::Component::parse(table)
            .map_err(|e| e.to_string())
            .and_then(|c| c.check().map_err(|e| e.to_string()));
        assert_eq!(offline.is_ok(), ok, "size {size} offline: {offline:?}");
    }
}

#[tokio::test]
async fn duplicate_operation_names_are_refused() {
    let client = client_with_component_crds().await;
    let mut task = upstream::example_task();
    task["metadata"]["name"] = json!("duplicate-ops");
    task["metadata"]["namespace"] = json!(NAMESPACE);
    task["spec"]["processors"]["operations"][1]["name"] = json!("count");
    task["spec"]["processors"]["pipeline"] = json!(["count"]);
    // Server-side apply refuses the list before validation, naming it.
    let err = apply(&client, task.clone(), true)
        .await
        .expect_err("duplicate names");
    assert!(
        err.contains(".spec.processors.operations: duplicate entries for key [name=\"count\"]"),
        "{err}"
    );
    // A create names the duplicate item.
    let object: DynamicObject = serde_json::from_value(task).expect("an object");
    let params = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    let err = api(&client, "KasprTask")
        .create(&params, &object)
        .await
        .expect_err("duplicate names")
        .to_string();
    assert!(
        err.contains("spec.processors.operations[1]: Duplicate value"),
        "{err}"
    );
}

#[tokio::test]
async fn status_subresource_takes_the_status_upstream_writes() {
    let client = client_with_component_crds().await;
    // A fresh object: a status another writer (an operator run earlier against the same server)
    // left on an older one would stay beside this test's.
    let tasks: Api<KasprTask> = Api::namespaced(client.clone(), NAMESPACE);
    if tasks.get_opt("with-status").await.ok().flatten().is_some() {
        let _ = tasks.delete("with-status", &Default::default()).await;
        for _ in 0..100 {
            if tasks.get_opt("with-status").await.ok().flatten().is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let mut doc = upstream::example_task();
    doc["metadata"]["name"] = json!("with-status");
    apply(&client, doc, false).await.expect("created");
    let api: Api<KasprTask> = Api::namespaced(client, NAMESPACE);
    let status = ComponentStatus {
        observed_generation: Some(1),
        app: Some(AppStatus {
            name: Some("analytics-counter".into()),
            status: Some(AppState::AppNotFound),
        }),
        config_map: Some("with-status-task".into()),
        hash: Some("0123456789abcdef".into()),
        conditions: Vec::new(),
    };
    let patch = json!({
        "apiVersion": KasprTask::api_version(&()),
        "kind": KasprTask::kind(&()),
        "status": status
    });
    api.patch_status(
        "with-status",
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .expect("status written");
    let read = api.get_status("with-status").await.expect("read");
    assert_eq!(read.status, Some(status.clone()));
    // A status sent to the main resource is ignored: only the subresource writes it.
    let mut doc = upstream::example_task();
    doc["metadata"]["name"] = json!("with-status");
    doc["status"] = json!({"hash": "ffffffffffffffff"});
    apply(&client_with_component_crds().await, doc, false)
        .await
        .expect("applied");
    assert_eq!(
        api.get("with-status").await.expect("get").status,
        Some(status)
    );
}

/// The printer columns resolve, the `kaspr.io/app` label column included.
#[tokio::test]
async fn printer_columns_show_the_app() {
    let client = client_with_component_crds().await;
    let doc = upstream::component_documents()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d["metadata"]["name"] == "metrics-dashboard")
        .expect("the webview");
    apply(&client, doc, false).await.expect("created");
    let request = http::Request::get(format!(
        "/apis/kaspr.io/v1alpha1/namespaces/{NAMESPACE}/kasprwebviews/metrics-dashboard"
    ))
    .header(
        http::header::ACCEPT,
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    )
    .body(Vec::new())
    .expect("request");
    let table: Value = client.request(request).await.expect("table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        ["Name", "App", "Method", "Path", "App Status", "Hash", "Age"]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[1], "analytics-api");
    assert_eq!(cells[2], "GET");
    assert_eq!(cells[3], "/api/v1/metrics/{dimension}");
}
