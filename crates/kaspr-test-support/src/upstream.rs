//! What the upstream (Python) operator does, recorded by running its own code offline
//! (`tests/upstream/record.sh`): the objects it builds for each of its examples, its version
//! table, and its example manifests verbatim. Compatibility tests compare against these.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/upstream/fixtures/` of the workspace.
pub fn fixtures_dir() -> PathBuf {
    crate::workspace_root().join("tests/upstream/fixtures")
}

/// The JSON file `relative` under the fixtures, parsed.
pub fn json(relative: impl AsRef<Path>) -> Value {
    let path = fixtures_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The upstream fixtures are committed; re-record them with \
             `tests/upstream/record.sh` (see tests/upstream/README.md)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every upstream example manifest (`fixtures/examples/**.yaml`), sorted.
pub fn example_files() -> Vec<PathBuf> {
    crate::examples::yaml_files(&fixtures_dir().join("examples"))
}

/// Every document of upstream's examples, with its file.
pub fn example_documents() -> Vec<(PathBuf, Value)> {
    crate::examples::documents(&example_files())
}

/// Every recorded app (`apps/**` and `edge-cases/**`) for which upstream built objects: the
/// directories holding a `StatefulSet-*.json`, sorted. The `with-components/` variants are left
/// out (they hold the same app after upstream's component patch).
pub fn app_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![
        fixtures_dir().join("apps"),
        fixtures_dir().join("edge-cases"),
    ];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut has_statefulset = false;
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() && name != "with-components" {
                dirs.push(path);
            } else if name.starts_with("StatefulSet-") {
                has_statefulset = true;
            }
        }
        if has_statefulset {
            out.push(dir);
        }
    }
    out.sort();
    out
}

/// The one object of `kind` upstream built in `dir` (`<Kind>-<name>.json`).
pub fn object(dir: &Path, kind: &str) -> Value {
    let prefix = format!("{kind}-");
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".json"))
        })
        .collect();
    found.sort();
    let [path] = found.as_slice() else {
        panic!("{}: expected one {kind}, found {found:?}", dir.display());
    };
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The KasprApp upstream was given in `dir`, as the API server admitted it (`_input.json`).
pub fn input_app(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("_input.json"))
        .unwrap_or_else(|e| panic!("{}/_input.json: {e}", dir.display()));
    let input: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}/_input.json: {e}", dir.display()));
    input["object"].clone()
}

/// The kinds of upstream's component resources.
pub const COMPONENT_KINDS: [&str; 5] = [
    "KasprAgent",
    "KasprTable",
    "KasprWebView",
    "KasprTask",
    "KasprJoin",
];

/// Every document of upstream's examples that is a component (a KasprAgent, KasprTable,
/// KasprWebView, KasprTask or KasprJoin), as written, with its file.
pub fn component_documents() -> Vec<(PathBuf, Value)> {
    example_documents()
        .into_iter()
        .filter(|(_, v)| {
            v["kind"]
                .as_str()
                .is_some_and(|k| COMPONENT_KINDS.contains(&k))
        })
        .collect()
}

/// A KasprTask in the style of upstream's examples (upstream ships none): an hourly report
/// reading the `event-counters` table of its `analytics-counter` example.
pub fn example_task() -> Value {
    serde_json::json!({
        "apiVersion": "kaspr.io/v1alpha1",
        "kind": "KasprTask",
        "metadata": {
            "name": "hourly-report",
            "namespace": "demo",
            "labels": {"kaspr.io/app": "analytics-counter"}
        },
        "spec": {
            "name": "hourly-report",
            "description": "Counts the event counters every hour.",
            "onLeader": true,
            "schedule": {"cron": "0 * * * *"},
            "processors": {
                "pipeline": ["count", "publish"],
                "init": {"python": "import datetime\n"},
                "operations": [
                    {
                        "name": "count",
                        "tables": [{"name": "event-counters", "paramName": "counters"}],
                        "map": {
                            "entrypoint": "count",
                            "python": "def count(value, counters):\n    return {\"counters\": len(counters)}\n"
                        }
                    },
                    {
                        "name": "publish",
                        "topicSend": {
                            "name": "hourly-reports",
                            "keySelector": {"python": "def key(value):\n    return 'report'\n"}
                        }
                    }
                ]
            }
        }
    })
}

/// One of upstream's component examples (or [`example_task`]) broken in one field, and the field
/// path the refusal must name.
#[derive(Clone, Debug)]
pub struct BrokenComponent {
    /// What is broken, for messages.
    pub case: &'static str,
    /// The manifest.
    pub document: Value,
    /// The path of the field at fault, as the API server and `check` name it (an error may name a
    /// field below it, e.g. `spec.processors.pipeline[0]` for `spec.processors.pipeline`).
    pub path: &'static str,
}

/// The example of `kind` named `name` among upstream's component examples.
fn component_example(kind: &str, name: &str) -> Value {
    component_documents()
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| v["kind"] == kind && v["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("upstream has no {kind} {name} example"))
}

/// Broken variants of every component kind: each breaks one rule (a required field missing, an
/// unknown enum value, empty Python code, a bad cron expression or interval, a cross-field rule)
/// of an example that is otherwise valid.
pub fn broken_components() -> Vec<BrokenComponent> {
    use serde_json::json;
    let agent = component_example("KasprAgent", "counter-processor");
    let channel_agent = component_example("KasprAgent", "process-enriched-orders");
    let table = component_example("KasprTable", "event-counters");
    let webview = component_example("KasprWebView", "metrics-dashboard");
    let join = component_example("KasprJoin", "orders-products-join");
    let task = example_task();
    // (case, base, JSON pointer, new value or None to remove, path)
    let cases: Vec<(&'static str, &Value, &str, Option<Value>, &'static str)> = vec![
        (
            "agent without input",
            &agent,
            "/spec/input",
            None,
            "spec.input",
        ),
        (
            "agent without processors",
            &agent,
            "/spec/processors",
            None,
            "spec.processors",
        ),
        (
            "agent input with topic and channel",
            &agent,
            "/spec/input/channel",
            Some(json!({"name": "c"})),
            "spec.input",
        ),
        (
            "agent input with neither topic nor channel",
            &channel_agent,
            "/spec/input/channel",
            None,
            "spec.input",
        ),
        (
            "agent topic with name and pattern",
            &agent,
            "/spec/input/topic/pattern",
            Some(json!("events-.*")),
            "spec.input.topic",
        ),
        (
            "agent unknown serializer",
            &agent,
            "/spec/input/topic/keySerializer",
            Some(json!("avro")),
            "spec.input.topic.keySerializer",
        ),
        (
            "agent bad topic name",
            &agent,
            "/spec/input/topic/name",
            Some(json!("raw events")),
            "spec.input.topic.name",
        ),
        (
            "agent take within without unit",
            &agent,
            "/spec/input/take",
            Some(json!({"max": 10, "within": "10"})),
            "spec.input.take.within",
        ),
        (
            "agent take max zero",
            &agent,
            "/spec/input/take",
            Some(json!({"max": 0, "within": "10s"})),
            "spec.input.take.max",
        ),
        (
            "agent empty python",
            &agent,
            "/spec/processors/operations/0/map/python",
            Some(json!("")),
            "spec.processors.operations[0].map.python",
        ),
        (
            "agent blank python",
            &agent,
            "/spec/processors/operations/0/map/python",
            Some(json!("  \n")),
            "spec.processors.operations[0].map.python",
        ),
        (
            "agent operation without python",
            &agent,
            "/spec/processors/operations/0/map/python",
            None,
            "spec.processors.operations[0].map.python",
        ),
        (
            "agent entrypoint keyword",
            &agent,
            "/spec/processors/operations/0/map/entrypoint",
            Some(json!("class")),
            "spec.processors.operations[0].map.entrypoint",
        ),
        (
            "agent entrypoint not an identifier",
            &agent,
            "/spec/processors/operations/0/map/entrypoint",
            Some(json!("lookup-profile")),
            "spec.processors.operations[0].map.entrypoint",
        ),
        (
            "agent operation with map and filter",
            &agent,
            "/spec/processors/operations/0/filter",
            Some(json!({"python": "def f(v):\n    return True\n"})),
            "spec.processors.operations[0]",
        ),
        (
            "agent operation doing nothing",
            &agent,
            "/spec/processors/operations/3/map",
            None,
            "spec.processors.operations[3]",
        ),
        (
            "agent pipeline names a missing operation",
            &agent,
            "/spec/processors/pipeline/0",
            Some(json!("lookup-profiles")),
            "spec.processors.pipeline",
        ),
        (
            "agent empty pipeline",
            &agent,
            "/spec/processors/pipeline",
            Some(json!([])),
            "spec.processors.pipeline",
        ),
        (
            "agent operation without name",
            &agent,
            "/spec/processors/operations/0/name",
            None,
            // Server-side apply names the list (its element 0 lacks the key `name`).
            "spec.processors.operations",
        ),
        (
            "agent table param keyword",
            &agent,
            "/spec/processors/operations/0/tables/0/paramName",
            Some(json!("lambda")),
            "spec.processors.operations[0].tables[0].paramName",
        ),
        (
            "agent table name not an object name",
            &agent,
            "/spec/processors/operations/0/tables/0/name",
            Some(json!("User_Profiles")),
            "spec.processors.operations[0].tables[0].name",
        ),
        (
            "agent output topic without name",
            &agent,
            "/spec/output/topics/0/name",
            None,
            "spec.output.topics[0]",
        ),
        (
            "agent output selector without python",
            &agent,
            "/spec/output/topics/0/keySelector",
            Some(json!({"entrypoint": "get_key"})),
            "spec.output.topics[0].keySelector.python",
        ),
        (
            "agent unknown nested field",
            &agent,
            "/spec/input/topics",
            Some(json!([])),
            "spec.input.topics",
        ),
        (
            "table unknown serializer",
            &table,
            "/spec/keySerializer",
            Some(json!("pickle")),
            "spec.keySerializer",
        ),
        (
            "table zero partitions",
            &table,
            "/spec/partitions",
            Some(json!(0)),
            "spec.partitions",
        ),
        (
            "table config value not a scalar",
            &table,
            "/spec/extraTopicConfigs/retention.ms",
            Some(json!({"days": 7})),
            "spec.extraTopicConfigs",
        ),
        (
            "table tumbling and hopping window",
            &table,
            "/spec/window",
            Some(json!({"tumbling": {"size": 60}, "hopping": {"size": 60, "step": 30}})),
            "spec.window",
        ),
        (
            "table bad window size",
            &table,
            "/spec/window",
            Some(json!({"tumbling": {"size": "1 minute"}})),
            "spec.window.tumbling.size",
        ),
        (
            "table unknown relativeTo",
            &table,
            "/spec/window",
            Some(json!({"tumbling": {"size": "60s"}, "relativeTo": "event"})),
            "spec.window.relativeTo",
        ),
        (
            "table empty default selector",
            &table,
            "/spec/defaultSelector",
            Some(json!({"python": " "})),
            "spec.defaultSelector.python",
        ),
        (
            "webview without request",
            &webview,
            "/spec/request",
            None,
            "spec.request",
        ),
        (
            "webview unknown method",
            &webview,
            "/spec/request/method",
            Some(json!("get")),
            "spec.request.method",
        ),
        (
            "webview path without slash",
            &webview,
            "/spec/request/path",
            Some(json!("api/v1/metrics")),
            "spec.request.path",
        ),
        (
            "webview unknown content type",
            &webview,
            "/spec/response/contentType",
            Some(json!("text/xml")),
            "spec.response.contentType",
        ),
        (
            "webview bad status code",
            &webview,
            "/spec/response/statusCode",
            Some(json!(42)),
            "spec.response.statusCode",
        ),
        (
            "webview empty selector",
            &webview,
            "/spec/response/bodySelector",
            Some(json!({})),
            "spec.response.bodySelector",
        ),
        (
            "webview empty python",
            &webview,
            "/spec/response/bodySelector/onError/python",
            Some(json!("")),
            "spec.response.bodySelector.onError.python",
        ),
        (
            "webview bad header name",
            &webview,
            "/spec/response/headers",
            Some(json!({"X Cache": "hit"})),
            "spec.response.headers",
        ),
        (
            "task without processors",
            &task,
            "/spec/processors",
            None,
            "spec.processors",
        ),
        (
            "task bad cron minute",
            &task,
            "/spec/schedule/cron",
            Some(json!("61 * * * *")),
            "spec.schedule.cron",
        ),
        (
            "task cron words",
            &task,
            "/spec/schedule/cron",
            Some(json!("every 5 minutes")),
            "spec.schedule.cron",
        ),
        (
            "task cron unknown month",
            &task,
            "/spec/schedule/cron",
            Some(json!("0 0 1 foo *")),
            "spec.schedule.cron",
        ),
        (
            "task cron unknown alias",
            &task,
            "/spec/schedule/cron",
            Some(json!("@fortnightly")),
            "spec.schedule.cron",
        ),
        (
            "task cron and interval",
            &task,
            "/spec/schedule/interval",
            Some(json!("10s")),
            "spec.schedule",
        ),
        (
            "task empty schedule",
            &task,
            "/spec/schedule",
            Some(json!({})),
            "spec.schedule",
        ),
        (
            "task interval without unit",
            &task,
            "/spec/schedule",
            Some(json!({"interval": "10"})),
            "spec.schedule.interval",
        ),
        (
            "task interval in words",
            &task,
            "/spec/schedule",
            Some(json!({"interval": "5 minutes"})),
            "spec.schedule.interval",
        ),
        (
            "task zero interval",
            &task,
            "/spec/schedule",
            Some(json!({"interval": "0s"})),
            "spec.schedule.interval",
        ),
        (
            "task empty python",
            &task,
            "/spec/processors/operations/0/map/python",
            Some(json!("")),
            "spec.processors.operations[0].map.python",
        ),
        (
            "task send without topic",
            &task,
            "/spec/processors/operations/1/topicSend/name",
            None,
            "spec.processors.operations[1].topicSend",
        ),
        (
            "join without leftTable",
            &join,
            "/spec/leftTable",
            None,
            "spec.leftTable",
        ),
        (
            "join without extractor",
            &join,
            "/spec/extractor",
            None,
            "spec.extractor",
        ),
        (
            "join table not an object name",
            &join,
            "/spec/rightTable",
            Some(json!("Products")),
            "spec.rightTable",
        ),
        (
            "join unknown type",
            &join,
            "/spec/type",
            Some(json!("outer")),
            "spec.type",
        ),
        (
            "join empty python",
            &join,
            "/spec/extractor/python",
            Some(json!("")),
            "spec.extractor.python",
        ),
    ];
    cases
        .into_iter()
        .map(|(case, base, pointer, value, path)| {
            let mut document = base.clone();
            let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
            let target = document
                .pointer_mut(parent)
                .unwrap_or_else(|| panic!("{case}: no {parent} in the example"));
            match (target, value) {
                (Value::Object(map), Some(v)) => {
                    map.insert(key.to_owned(), v);
                }
                (Value::Object(map), None) => {
                    map.remove(key)
                        .unwrap_or_else(|| panic!("{case}: no {pointer}"));
                }
                (Value::Array(items), v) => {
                    let i: usize = key.parse().expect("an index");
                    match v {
                        Some(v) => items[i] = v,
                        None => {
                            items.remove(i);
                        }
                    }
                }
                (other, _) => panic!("{case}: {parent} is {other}"),
            }
            BrokenComponent {
                case,
                document,
                path,
            }
        })
        .collect()
}

/// A component upstream's own handler reconciled (`fixtures/components/**/<Kind>-<name>.meta.json`).
pub struct RecordedComponent {
    /// The `.meta.json` file.
    pub meta_file: PathBuf,
    /// The component as upstream's handler received it (after the API server's admission).
    pub input: Value,
    /// The ConfigMap upstream created for it.
    pub config_map: Value,
    /// The status patch upstream wrote.
    pub status_patch: Value,
    /// The events upstream published (`type`, `reason`, `message`).
    pub events: Vec<Value>,
}

/// Every recorded component upstream built a ConfigMap for (example sets and `_edge` cases),
/// sorted by file. Those upstream refused (`_edge/upstream-rejects`) are left out.
pub fn recorded_components() -> Vec<RecordedComponent> {
    let mut files = Vec::new();
    collect_meta_files(&fixtures_dir().join("components"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|meta_file| {
            let meta = json(&meta_file);
            let dir = meta_file.parent().unwrap_or(Path::new("."));
            let created = meta["created"][0].as_str()?;
            Some(RecordedComponent {
                config_map: json(dir.join(created)),
                input: meta["input"].clone(),
                status_patch: meta["statusPatch"].clone(),
                events: meta["events"].as_array().cloned().unwrap_or_default(),
                meta_file,
            })
        })
        .collect()
}

fn collect_meta_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_meta_files(&path, out);
        } else if path.to_string_lossy().ends_with(".meta.json") {
            out.push(path);
        }
    }
}
