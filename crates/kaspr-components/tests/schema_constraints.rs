//! `check()` (with parsing) refuses everything each generated CRD's schema refuses, so `render`
//! never accepts offline what the API server would refuse.
//!
//! For every constraint under `spec` of every kind's CRD (`pattern`, lengths, ranges, list
//! sizes, `maxProperties`, `enum`, map lists, CEL rules) the test breaks exactly that constraint
//! in a valid document that sets the field, and asserts the result is refused by parsing or by
//! `check()`, naming the constraint's field. A constraint added without a check fails here; so
//! does a kind of constraint this test does not know.

use kaspr_components::Component;
use kaspr_components::validate::rules;
use kaspr_test_support::schema::{
    Constraint, Found, Step, constraints, pattern_matches, pattern_violations, user_path,
};
use serde_json::{Value, json};

/// Valid documents of each kind that, together, set every field holding a constraint (with at
/// least one item in each list); fields that exclude each other are in different documents.
const FULL: &[(&str, &str)] = &[
    (
        "KasprAgent",
        r#"
spec:
  name: agent
  input:
    declare: true
    topic: {name: events, keySerializer: json, valueSerializer: raw, partitions: 3, retention: 60,
            compacting: false, deleting: true, replicas: 2, config: {retention.ms: 1000}}
    take: {max: 10, within: 10s}
  output:
    topics:
      - name: out
        declare: true
        ack: true
        keySerializer: json
        valueSerializer: json
        partitions: 3
        replicas: 2
        config: {cleanup.policy: compact}
        keySelector: {python: "def k(v):\n    return v\n", entrypoint: k}
        valueSelector: {python: "def v(v):\n    return v\n", entrypoint: v}
        partitionSelector: {python: "def p(v):\n    return 0\n", entrypoint: p}
        headersSelector: {python: "def h(v):\n    return {}\n", entrypoint: h}
        predicate: {python: "def s(v):\n    return True\n", entrypoint: s}
  processors:
    pipeline: [enrich]
    init: {python: "import json\n", entrypoint: setup}
    operations:
      - name: enrich
        tables: [{name: profiles, paramName: profiles}]
        map: {python: "def enrich(value, profiles):\n    return value\n", entrypoint: enrich}
"#,
    ),
    (
        "KasprAgent",
        r#"
spec:
  input: {channel: {name: joined}}
  output:
    topics:
      - nameSelector: {python: "def n(v):\n    return 'out'\n", entrypoint: n}
  processors:
    pipeline: [keep]
    operations:
      - name: keep
        filter: {python: "def keep(value):\n    return True\n", entrypoint: keep}
"#,
    ),
    (
        "KasprAgent",
        r#"
spec:
  input: {topic: {pattern: "events-.*"}}
  processors:
    pipeline: [send]
    operations:
      - name: send
        topicSend:
          name: out
          declare: true
          ack: true
          passThrough: true
          keySerializer: json
          valueSerializer: json
          partitions: 3
          replicas: 2
          config: {retention.ms: "1000"}
          keySelector: {python: "def k(v):\n    return v\n", entrypoint: k}
          valueSelector: {python: "def v(v):\n    return v\n", entrypoint: v}
          partitionSelector: {python: "def p(v):\n    return 0\n", entrypoint: p}
          headersSelector: {python: "def h(v):\n    return {}\n", entrypoint: h}
          predicate: {python: "def s(v):\n    return True\n", entrypoint: s}
"#,
    ),
    (
        "KasprAgent",
        r#"
spec:
  input: {topic: {name: events}}
  processors:
    pipeline: [send]
    operations:
      - name: send
        topicSend:
          nameSelector: {python: "def n(v):\n    return 'out'\n", entrypoint: n}
"#,
    ),
    (
        "KasprTable",
        r#"
spec:
  name: counters
  global: true
  defaultSelector: {python: "def d():\n    return int\n", entrypoint: d}
  keySerializer: json
  valueSerializer: raw
  partitions: 8
  extraTopicConfigs: {retention.ms: 604800000}
  extraTopicConfig: {retention.ms: -1}
  options: {a: b}
  window:
    tumbling: {size: 30s, expires: 1h}
    relativeTo: custom
    relativeToSelector: {python: "def t(e):\n    return 0\n", entrypoint: t}
"#,
    ),
    (
        "KasprTable",
        r#"
spec:
  window:
    hopping: {size: 60, step: "30", expires: 1d}
"#,
    ),
    (
        "KasprWebView",
        r#"
spec:
  name: view
  request: {method: GET, path: /x}
  response:
    contentType: application/json
    statusCode: 200
    headers: {X-Cache: hit}
    bodySelector:
      onSuccess: {python: "def b(r):\n    return r\n", entrypoint: b}
      onError: {python: "def e(e):\n    return str(e)\n", entrypoint: e}
    statusCodeSelector:
      onSuccess: {python: "def b(r):\n    return 200\n", entrypoint: b}
      onError: {python: "def e(e):\n    return 500\n", entrypoint: e}
    headersSelector:
      onSuccess: {python: "def b(r):\n    return {}\n", entrypoint: b}
      onError: {python: "def e(e):\n    return {}\n", entrypoint: e}
  processors:
    pipeline: [get]
    init: {python: "import json\n", entrypoint: setup}
    operations:
      - name: get
        tables: [{name: counters, paramName: counters}]
        map: {python: "def get(request, counters):\n    return {}\n", entrypoint: get}
"#,
    ),
    (
        "KasprWebView",
        r#"
spec:
  request: {method: POST, path: /y}
  processors:
    pipeline: [send]
    operations:
      - name: send
        topicSend:
          name: out
          ack: true
          passThrough: true
          keySerializer: json
          valueSerializer: json
          nameSelector: null
          keySelector: {python: "def k(v):\n    return v\n", entrypoint: k}
          valueSelector: {python: "def v(v):\n    return v\n", entrypoint: v}
          partitionSelector: {python: "def p(v):\n    return 0\n", entrypoint: p}
          headersSelector: {python: "def h(v):\n    return {}\n", entrypoint: h}
          predicate: {python: "def s(v):\n    return True\n", entrypoint: s}
"#,
    ),
    (
        "KasprWebView",
        r#"
spec:
  request: {method: PUT, path: /z}
  processors:
    pipeline: [keep, send]
    operations:
      - name: keep
        filter: {python: "def keep(v):\n    return True\n", entrypoint: keep}
      - name: send
        topicSend:
          nameSelector: {python: "def n(v):\n    return 'out'\n", entrypoint: n}
"#,
    ),
    (
        "KasprTask",
        r#"
spec:
  name: task
  onLeader: true
  schedule: {cron: "*/5 * * * *"}
  processors:
    pipeline: [tick]
    init: {python: "import time\n", entrypoint: setup}
    operations:
      - name: tick
        tables: [{name: counters, paramName: counters}]
        map: {python: "def tick(counters):\n    return 1\n", entrypoint: tick}
"#,
    ),
    (
        "KasprTask",
        r#"
spec:
  schedule: {interval: 10s}
  processors:
    pipeline: [send]
    operations:
      - name: send
        topicSend:
          name: out
          ack: true
          passThrough: true
          keySerializer: json
          valueSerializer: json
          keySelector: {python: "def k(v):\n    return v\n", entrypoint: k}
          valueSelector: {python: "def v(v):\n    return v\n", entrypoint: v}
          partitionSelector: {python: "def p(v):\n    return 0\n", entrypoint: p}
          headersSelector: {python: "def h(v):\n    return {}\n", entrypoint: h}
          predicate: {python: "def s(v):\n    return True\n", entrypoint: s}
"#,
    ),
    (
        "KasprTask",
        r#"
spec:
  processors:
    pipeline: [keep, send]
    operations:
      - name: keep
        filter: {python: "def keep(v):\n    return True\n", entrypoint: keep}
      - name: send
        topicSend:
          nameSelector: {python: "def n(v):\n    return 'out'\n", entrypoint: n}
"#,
    ),
    (
        "KasprWebView",
        r#"
spec:
  request: {method: DELETE, path: /w}
  processors:
    pipeline: [send]
    operations:
      - name: send
        topicSend:
          nameSelector: {python: "def n(v):\n    return 'out'\n", entrypoint: n}
"#,
    ),
    (
        "KasprTask",
        r#"
spec:
  processors:
    pipeline: [send]
    operations:
      - name: send
        topicSend:
          nameSelector: {python: "def n(v):\n    return 'out'\n", entrypoint: n}
"#,
    ),
    (
        "KasprJoin",
        r#"
spec:
  name: join
  description: a join
  leftTable: orders
  rightTable: products
  extractor: {python: "def key(v):\n    return v\n", entrypoint: key}
  type: left
  outputChannel: joined
"#,
    ),
];

/// The FULL documents, as whole objects.
fn full_documents() -> Vec<Value> {
    FULL.iter()
        .map(|(kind, yaml)| {
            let mut doc: Value = serde_yaml::from_str(yaml).expect("FULL is YAML");
            // `nameSelector: null` marks "absent" in a document that sets every other field.
            if let Some(send) = doc.pointer_mut("/spec/processors/operations/0/topicSend")
                && let Some(send) = send.as_object_mut()
            {
                send.retain(|_, v| !v.is_null());
            }
            doc["apiVersion"] = json!("kaspr.io/v1alpha1");
            doc["kind"] = json!(kind);
            doc["metadata"] = json!({"name": "full", "labels": {"kaspr.io/app": "app"}});
            doc
        })
        .collect()
}

fn spec_schema(kind: &str) -> Value {
    let (_, crd) = kaspr_components::crds()
        .into_iter()
        .find(|(_, c)| c.spec.names.kind == kind)
        .expect("a kind");
    serde_json::to_value(crd).expect("JSON")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        .clone()
}

fn schema_at<'a>(schema: &'a Value, path: &[Step]) -> &'a Value {
    path.iter().fold(schema, |node, step| match step {
        Step::Field(name) => &node["properties"][name],
        Step::Item => &node["items"],
        Step::MapValue => &node["additionalProperties"],
    })
}

/// The value at `path` (the first item of a list, the first value of a map), if set.
fn value_at<'a>(doc: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |value, step| match step {
        Step::Field(name) => value.get_mut(name.as_str()).filter(|v| !v.is_null()),
        Step::Item => value.get_mut(0),
        Step::MapValue => value.as_object_mut().and_then(|m| m.values_mut().next()),
    })
}

/// The path of the first map value in `doc` at `path`: `spec.response.headers[X-Cache]`.
fn shown_path(doc: &Value, path: &[Step]) -> String {
    let mut out = String::new();
    let mut at = doc;
    for step in path {
        match step {
            Step::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
                at = &at[name.as_str()];
            }
            Step::Item => {
                out.push_str("[0]");
                at = &at[0];
            }
            Step::MapValue => {
                let (key, value) = at
                    .as_object()
                    .and_then(|m| m.iter().next())
                    .expect("a map value");
                out.push_str(&format!("[{key}]"));
                at = value;
            }
        }
    }
    out
}

/// The errors refusing `doc`, from parsing or `check()`; panics when it is accepted.
#[track_caller]
fn refusal(doc: &Value, what: &str) -> Vec<String> {
    let errors = match Component::parse(doc.clone()) {
        Err(e) => e,
        Ok(c) => match c.check() {
            Err(e) => e,
            Ok(()) => panic!("{what}: accepted"),
        },
    };
    errors.0.into_iter().map(|e| e.path).collect()
}

/// `path` is `expected` or a field below it.
fn under(path: &str, expected: &str) -> bool {
    path == expected
        || path
            .strip_prefix(expected)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

#[track_caller]
fn assert_refused_at(doc: &Value, expected: &str, what: &str) {
    let paths = refusal(doc, what);
    // Renaming an operation also leaves the pipeline naming one that no longer exists.
    let renamed_operation = expected.contains(".operations[") && expected.ends_with("].name");
    assert!(
        paths.iter().any(|p| under(p, expected))
            && paths.iter().all(|p| {
                under(p, expected)
                    || (renamed_operation && p.starts_with("spec.processors.pipeline"))
            }),
        "{what}: expected errors at {expected} only, got {paths:?}"
    );
}

/// Strings that break many patterns, and variants of the valid `base`.
fn pattern_candidates(base: &str) -> Vec<String> {
    let mut out: Vec<String> = [
        "",
        " ",
        "\t\n",
        "a b",
        "A",
        "-",
        "_",
        ".",
        "-a",
        "a-",
        "a..b",
        "a/b",
        "a:b",
        "é",
        "1a",
        "a\n",
        "a\r",
        "def",
        "1 2 3",
        "61 * * * *",
        "* * * *",
        "@reboot",
        "0s",
        "10",
        "10 s",
        "api",
        "X Y",
        "a\r\nb",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    out.extend([
        format!(" {base}"),
        format!("{base} x"),
        format!("-{base}"),
        format!("{base}-"),
        format!("{base}!"),
        format!("{base}\n"),
        base.to_uppercase(),
        base.replace('/', " "),
    ]);
    out.sort();
    out.dedup();
    out
}

/// A string of `len` characters that satisfies `node`'s pattern if one of the candidates does.
fn string_of_len(node: &Value, len: usize) -> String {
    let candidates = [
        "a".repeat(len),
        format!("a{}", "-a".repeat(len / 2)),
        "1".repeat(len),
    ];
    let ok = |c: &String| {
        c.chars().count() == len
            && node["pattern"]
                .as_str()
                .is_none_or(|p| pattern_matches(p, c))
    };
    candidates
        .iter()
        .find(|c| ok(c))
        .cloned()
        .unwrap_or_else(|| "a".repeat(len))
}

/// Breaks the CEL `rule` on `node` (the object holding it).
fn break_rule(rule: &str, node: &mut Value) {
    let code = json!({"python": "def f(v):\n    return v\n"});
    let object = node.as_object_mut();
    match rule {
        r if r == rules::ENTRYPOINT_NOT_KEYWORD => {
            node["entrypoint"] = json!("class");
        }
        r if r == rules::PARAM_NOT_KEYWORD => {
            node["paramName"] = json!("lambda");
        }
        r if r == rules::ONE_ACTION => {
            let key = if node.get("map").is_some() {
                "filter"
            } else {
                "map"
            };
            node[key] = code;
        }
        r if r == rules::PIPELINE_NAMES_OPERATIONS => {
            node["pipeline"]
                .as_array_mut()
                .expect("a pipeline")
                .push(json!("missing"));
        }
        r if r == rules::NAME_OR_SELECTOR => {
            if node.get("name").is_some() {
                node["nameSelector"] = code;
            } else {
                node["name"] = json!("other");
            }
        }
        r if r == rules::TOPIC_OR_CHANNEL => {
            if node.get("topic").is_some() {
                node["channel"] = json!({"name": "c"});
            } else {
                node["topic"] = json!({"name": "t"});
            }
        }
        r if r == rules::NAME_OR_PATTERN => {
            if node.get("name").is_some() {
                node["pattern"] = json!("t.*");
            } else {
                node["name"] = json!("t");
            }
        }
        r if r == rules::SUCCESS_OR_ERROR => {
            *node = json!({});
        }
        r if r == rules::CRON_OR_INTERVAL => {
            if node.get("cron").is_some() {
                node["interval"] = json!("10s");
            } else {
                node["cron"] = json!("* * * * *");
            }
        }
        r if r == rules::TUMBLING_OR_HOPPING => {
            if node.get("tumbling").is_some() {
                node["hopping"] = json!({"size": 60, "step": 30});
            } else {
                node["tumbling"] = json!({"size": 60});
            }
        }
        r if r == rules::CONFIG_NAMES => {
            object.expect("a map").insert(String::new(), json!("x"));
        }
        r if r == rules::HEADER_NAMES => {
            object.expect("a map").insert("X Bad".into(), json!("x"));
        }
        r if r == rules::WINDOW_LENGTH => {
            *node = json!(0);
        }
        other => {
            panic!("the CRD has a new CEL rule {other:?}: enforce it in check() and break it here")
        }
    }
}

#[test]
fn every_full_document_is_valid() {
    for doc in full_documents() {
        let c = Component::parse(doc.clone()).unwrap_or_else(|e| panic!("{doc}: {e}"));
        c.check().unwrap_or_else(|e| panic!("{doc}: {e}"));
    }
}

#[test]
fn check_refuses_everything_the_schemas_refuse() {
    let docs = full_documents();
    let mut tested = 0;
    for kind in kaspr_components::KINDS {
        let schema = spec_schema(kind);
        let found: Vec<Found> = constraints(&schema)
            .into_iter()
            .filter(|f| f.path.first() == Some(&Step::Field("spec".into())))
            .collect();
        assert!(found.len() > 5, "{kind}: the walk found too little");
        for Found { path, constraint } in found {
            let node = schema_at(&schema, &path);
            let Some(base_doc) = docs
                .iter()
                .filter(|d| d["kind"] == kind)
                .find(|d| value_at(&mut (*d).clone(), &path).is_some())
            else {
                panic!("{kind}: no FULL document sets {}", user_path(&path));
            };
            let at = shown_path(base_doc, &path);
            let what = format!("{kind} {at}: {constraint:?}");
            let base = value_at(&mut base_doc.clone(), &path)
                .cloned()
                .unwrap_or_default();
            let broken = |value: Value| {
                let mut doc = base_doc.clone();
                *value_at(&mut doc, &path).expect("set") = value;
                doc
            };
            match &constraint {
                Constraint::Pattern(p) => {
                    let base = base.as_str().expect("a pattern is on a string");
                    let violations = pattern_violations(p, pattern_candidates(base), node);
                    assert!(violations.len() >= 3, "{what}: too few strings break it");
                    for v in violations {
                        assert_refused_at(&broken(json!(v)), &at, &format!("{what} with {v:?}"));
                    }
                }
                Constraint::MinLength(min) => {
                    assert!(*min > 0, "{what}");
                    assert_refused_at(&broken(json!(string_of_len(node, min - 1))), &at, &what);
                }
                Constraint::MaxLength(max) => {
                    assert_refused_at(&broken(json!(string_of_len(node, max + 1))), &at, &what);
                }
                Constraint::Minimum(min) => {
                    assert_refused_at(&broken(json!(*min as i64 - 1)), &at, &what);
                }
                Constraint::Maximum(max) => {
                    assert_refused_at(&broken(json!(*max as i64 + 1)), &at, &what);
                }
                Constraint::MinItems(min) => {
                    let items = base.as_array().expect("a list");
                    let fewer: Vec<Value> = items.iter().take(min - 1).cloned().collect();
                    assert_refused_at(&broken(json!(fewer)), &at, &what);
                }
                Constraint::MaxItems(max) => {
                    let item = base[0].clone();
                    let more: Vec<Value> = (0..=*max)
                        .map(|i| {
                            let mut it = item.clone();
                            // Keep the keys of a map list unique: only the count is at fault.
                            // (The first keeps its name, which the pipeline runs.)
                            for key in ["name", "paramName"] {
                                if i > 0 && it.get(key).is_some() {
                                    it[key] = json!(format!("k{i}"));
                                }
                            }
                            it
                        })
                        .collect();
                    assert_refused_at(&broken(json!(more)), &at, &what);
                }
                Constraint::Enum(values) => {
                    assert!(!values.contains(&json!("bogus")), "{what}");
                    assert_refused_at(&broken(json!("bogus")), &at, &what);
                }
                Constraint::Rule {
                    rule, field_path, ..
                } => {
                    let mut doc = base_doc.clone();
                    break_rule(rule, value_at(&mut doc, &path).expect("set"));
                    let expected = format!("{at}{}", field_path.as_deref().unwrap_or_default());
                    assert_refused_at(&doc, &expected, &what);
                }
                Constraint::Unknown(text) if text.starts_with("maxProperties:") => {
                    let max: usize = text["maxProperties: ".len()..].parse().expect("a number");
                    let mut map = base.as_object().expect("a map").clone();
                    for i in 0..=max {
                        map.insert(format!("k{i}"), json!("v"));
                    }
                    assert_refused_at(&broken(Value::Object(map)), &at, &what);
                }
                Constraint::Unknown(text) if text == "x-kubernetes-list-type: \"map\"" => {
                    let items = base.as_array().expect("a list");
                    let mut twice = items.clone();
                    twice.push(items[0].clone());
                    let mut doc = broken(json!(twice));
                    if let Some(Value::Array(p)) = doc.pointer_mut("/spec/processors/pipeline") {
                        p.dedup();
                    }
                    assert_refused_at(&doc, &at, &what);
                }
                Constraint::Unknown(text) if text.starts_with("x-kubernetes-list-map-keys:") => {
                    // Tested with the list type above.
                    continue;
                }
                other => panic!("{what}: a constraint this test does not know: {other:?}"),
            }
            tested += 1;
        }
    }
    assert!(tested > 200, "{tested} constraints tested");
}
