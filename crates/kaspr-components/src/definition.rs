//! The definition file of a component: the document the Kaspr runtime loads from its
//! definitions directory, as upstream's operator writes it into the component's ConfigMap.
//!
//! Upstream writes `{agents|tables|webviews|tasks|joins: [spec]}` with its marshmallow schemas:
//! every key in snake_case, and every field the spec leaves out either written with its
//! default (`null`, `false`, `{}`, `[]`, `inner`) or left out, field by field. [`SHAPES`] is
//! that table, one entry per field of upstream's schemas (tested against documents recorded by
//! running upstream's own code, `tests/upstream/fixtures/components`). What differs, and why,
//! is in `docs/components.md`:
//! * configuration maps (`config`, `extraTopicConfigs`, `options`, `headers`) keep their keys
//!   as written, values as text: upstream's CRD pruned every key, so it only ever wrote `{}`,
//!   and its snake-casing would have turned `Content-Type` into `_content-_type`;
//! * window `size`/`step` written as `"30s"` are written as seconds (`30`), the integer
//!   upstream's schema reads;
//! * `relativeToSelector` is written as `relative_to_field_selector`, the name upstream's
//!   schema reads (its CRD pruned it, so upstream wrote `null`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Component;
use crate::validate::syntax;

/// What upstream writes for a field the spec leaves out.
#[derive(Clone, Copy, Debug)]
enum Absent {
    /// Nothing: the key is left out.
    Omit,
    /// `key: null`.
    Null,
    /// `key: false` (a CRD or schema default).
    False,
    /// `key: {}`.
    EmptyMap,
    /// `key: []`.
    EmptyList,
    /// A text default, e.g. a join's `type: inner`.
    Text(&'static str),
}

/// How a present value is written.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// As it is.
    Plain,
    /// A user's map: keys as written, values as text.
    TextMap,
    /// Seconds: an integer, or a string of seconds or a duration (`"30s"`).
    Seconds,
    /// An object of the given fields; keys not among them are not written (as upstream).
    Object(&'static [Field]),
    /// A list of objects of the given fields.
    ListOf(&'static [Field]),
}

/// One field of upstream's schema.
#[derive(Clone, Copy, Debug)]
struct Field {
    /// The key in the spec (camelCase).
    spec: &'static str,
    /// The key in the file when it is not the snake_case of `spec`.
    file: Option<&'static str>,
    absent: Absent,
    shape: Shape,
}

const fn f(spec: &'static str, absent: Absent, shape: Shape) -> Field {
    Field {
        spec,
        file: None,
        absent,
        shape,
    }
}

use Absent::{EmptyList, EmptyMap, False, Null, Omit, Text};
use Shape::{ListOf, Object, Plain, Seconds, TextMap};

const CODE: &[Field] = &[f("python", Null, Plain), f("entrypoint", Null, Plain)];

const TABLE_REF: &[Field] = &[f("name", Omit, Plain), f("paramName", Omit, Plain)];

/// Upstream's TopicOutSpecSchema: output topics and every `topicSend`.
const TOPIC_OUT: &[Field] = &[
    f("name", Null, Plain),
    f("nameSelector", Null, Object(CODE)),
    f("declare", False, Plain),
    f("passThrough", False, Plain),
    f("ack", Null, Plain),
    f("keySerializer", Null, Plain),
    f("valueSerializer", Null, Plain),
    f("partitions", Null, Plain),
    f("retention", Null, Plain),
    f("compacting", Null, Plain),
    f("deleting", Null, Plain),
    f("replicas", Null, Plain),
    f("config", Null, TextMap),
    f("keySelector", Null, Object(CODE)),
    f("valueSelector", Null, Object(CODE)),
    f("partitionSelector", Null, Object(CODE)),
    f("headersSelector", Null, Object(CODE)),
    f("predicate", Null, Object(CODE)),
];

/// An operation of any kind. Upstream's agent schema requires `name`, `pipeline` and
/// `operations` where the web view's and task's default them; the typed specs require them for
/// every kind, so one table serves all three.
const OPERATION: &[Field] = &[
    f("name", Null, Plain),
    f("topicSend", Null, Object(TOPIC_OUT)),
    f("map", Null, Object(CODE)),
    f("filter", Null, Object(CODE)),
    f("tables", EmptyList, ListOf(TABLE_REF)),
];

const PROCESSORS: &[Field] = &[
    f("pipeline", EmptyList, Plain),
    f("init", Null, Object(CODE)),
    f("operations", EmptyList, ListOf(OPERATION)),
];

const INPUT_TOPIC: &[Field] = &[
    f("name", Null, Plain),
    f("pattern", Null, Plain),
    f("keySerializer", Null, Plain),
    f("valueSerializer", Null, Plain),
    f("partitions", Null, Plain),
    f("retention", Null, Plain),
    f("compacting", Null, Plain),
    f("deleting", Null, Plain),
    f("replicas", Null, Plain),
    f("config", Null, TextMap),
];

const INPUT: &[Field] = &[
    f("declare", Null, Plain),
    f("topic", Null, Object(INPUT_TOPIC)),
    f("channel", Null, Object(&[f("name", Omit, Plain)])),
    f(
        "take",
        Null,
        Object(&[f("max", Omit, Plain), f("within", Omit, Plain)]),
    ),
];

const AGENT: &[Field] = &[
    f("name", Omit, Plain),
    f("description", Null, Plain),
    f("isolatedPartitions", False, Plain),
    f("input", Omit, Object(INPUT)),
    f(
        "output",
        Omit,
        Object(&[f("topics", Null, ListOf(TOPIC_OUT))]),
    ),
    f("processors", Null, Object(PROCESSORS)),
];

const WINDOW: &[Field] = &[
    f(
        "tumbling",
        Null,
        Object(&[f("size", Omit, Seconds), f("expires", Null, Plain)]),
    ),
    f(
        "hopping",
        Null,
        Object(&[
            f("size", Omit, Seconds),
            f("step", Omit, Seconds),
            f("expires", Null, Plain),
        ]),
    ),
    f("relativeTo", Null, Plain),
    Field {
        spec: "relativeToSelector",
        file: Some("relative_to_field_selector"),
        absent: Null,
        shape: Object(CODE),
    },
];

const TABLE: &[Field] = &[
    f("name", Omit, Plain),
    f("description", Null, Plain),
    f("global", False, Plain),
    f("defaultSelector", Null, Object(CODE)),
    f("keySerializer", Null, Plain),
    f("valueSerializer", Null, Plain),
    f("partitions", Null, Plain),
    f("extraTopicConfigs", EmptyMap, TextMap),
    f("options", EmptyMap, TextMap),
    f("window", Null, Object(WINDOW)),
];

const SELECTOR: &[Field] = &[
    f("onSuccess", Null, Object(CODE)),
    f("onError", Null, Object(CODE)),
];

const WEBVIEW: &[Field] = &[
    f("name", Omit, Plain),
    f("description", Null, Plain),
    f(
        "request",
        Omit,
        Object(&[f("method", Null, Plain), f("path", Omit, Plain)]),
    ),
    f(
        "response",
        Null,
        Object(&[
            f("contentType", Null, Plain),
            f("statusCode", Null, Plain),
            f("headers", EmptyMap, TextMap),
            f("bodySelector", Null, Object(SELECTOR)),
            f("statusCodeSelector", Null, Object(SELECTOR)),
            f("headersSelector", Null, Object(SELECTOR)),
        ]),
    ),
    f("processors", Null, Object(PROCESSORS)),
];

const TASK: &[Field] = &[
    f("name", Omit, Plain),
    f("description", Null, Plain),
    f("onLeader", False, Plain),
    f(
        "schedule",
        Null,
        Object(&[f("interval", Null, Plain), f("cron", Null, Plain)]),
    ),
    f("processors", Null, Object(PROCESSORS)),
];

const JOIN: &[Field] = &[
    f("name", Null, Plain),
    f("description", Null, Plain),
    f("leftTable", Omit, Plain),
    f("rightTable", Omit, Plain),
    f("extractor", Omit, Object(CODE)),
    f("type", Text("inner"), Plain),
    f("outputChannel", Null, Plain),
];

/// The fields of each kind's definition, by the document's top-level key.
const SHAPES: [(&str, &[Field]); 5] = [
    ("agents", AGENT),
    ("tables", TABLE),
    ("webviews", WEBVIEW),
    ("tasks", TASK),
    ("joins", JOIN),
];

impl Component {
    /// `agent`, `table`, `webview`, `task` or `join`: the suffix of the names upstream gives the
    /// component's ConfigMap, volume and file.
    pub fn component_type(&self) -> &'static str {
        match self {
            Component::Agent(_) => "agent",
            Component::Table(_) => "table",
            Component::WebView(_) => "webview",
            Component::Task(_) => "task",
            Component::Join(_) => "join",
        }
    }

    /// `<name>-<type>`, e.g. `counter-processor-agent`: the name of the component's
    /// ConfigMap, and of the volume mounting it into the app's pods.
    pub fn config_map_name(&self) -> String {
        format!("{}-{}", self.name(), self.component_type())
    }

    /// `<name>-<type>.yaml`: the ConfigMap's one key, and the file in the definitions directory.
    pub fn definition_file(&self) -> String {
        format!("{}.yaml", self.config_map_name())
    }

    /// The definition document, as upstream writes it: `{agents: [spec]}` (or `tables`, ...)
    /// with snake_case keys, the fields upstream always writes present, and `name` from
    /// `metadata.name`.
    pub fn definition(&self) -> Value {
        let spec = match self {
            Component::Agent(c) => to_value(&c.spec),
            Component::Table(c) => to_value(&c.spec),
            Component::WebView(c) => to_value(&c.spec),
            Component::Task(c) => to_value(&c.spec),
            Component::Join(c) => to_value(&c.spec),
        };
        let mut spec = match spec {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        // Upstream names every component after its object, whatever spec.name says.
        spec.insert("name".into(), Value::String(self.name().to_owned()));
        let (key, fields) = SHAPES[self.shape_index()];
        let mut doc = Map::new();
        doc.insert(key.into(), Value::Array(vec![object(&spec, fields)]));
        Value::Object(doc)
    }

    /// The definition file's text: YAML that PyYAML (the runtime's reader) loads as exactly
    /// [`Self::definition`], keys sorted as upstream's are.
    pub fn definition_yaml(&self) -> String {
        crate::yaml::to_string(&self.definition())
    }

    fn shape_index(&self) -> usize {
        match self {
            Component::Agent(_) => 0,
            Component::Table(_) => 1,
            Component::WebView(_) => 2,
            Component::Task(_) => 3,
            Component::Join(_) => 4,
        }
    }
}

fn to_value(spec: &impl Serialize) -> Value {
    // The spec types serialise to JSON objects (string keys only).
    serde_json::to_value(spec).unwrap_or(Value::Null)
}

/// Upstream's `camel_to_snake`: each capital becomes `_` and its lower case.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The file's object for `spec`, keys sorted as PyYAML writes them.
fn object(spec: &Map<String, Value>, fields: &[Field]) -> Value {
    let mut out = BTreeMap::new();
    for field in fields {
        let key = field.file.map_or_else(|| snake(field.spec), str::to_owned);
        let value = match spec.get(field.spec) {
            Some(v) if !v.is_null() => shaped(v, field.shape),
            _ => match field.absent {
                Omit => continue,
                Null => Value::Null,
                False => Value::Bool(false),
                EmptyMap => Value::Object(Map::new()),
                EmptyList => Value::Array(Vec::new()),
                Text(t) => Value::String(t.to_owned()),
            },
        };
        out.insert(key, value);
    }
    Value::Object(out.into_iter().collect())
}

fn shaped(value: &Value, shape: Shape) -> Value {
    match (shape, value) {
        (Object(fields), Value::Object(map)) => object(map, fields),
        (ListOf(fields), Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => object(map, fields),
                    other => other.clone(),
                })
                .collect(),
        ),
        (TextMap, Value::Object(map)) => {
            let sorted: BTreeMap<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(text(v))))
                .collect();
            Value::Object(sorted.into_iter().collect())
        }
        (Seconds, v) => seconds(v),
        (_, v) => v.clone(),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A window length as the integer of seconds upstream's schema reads; a value `check()`
/// refuses is passed on as written.
fn seconds(value: &Value) -> Value {
    let parsed = serde_json::from_value(value.clone())
        .ok()
        .and_then(|v| syntax::window_length(&v).ok());
    parsed.map_or_else(|| value.clone(), Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_snake_case_as_upstream_writes_them() {
        assert_eq!(snake("isolatedPartitions"), "isolated_partitions");
        assert_eq!(snake("statusCodeSelector"), "status_code_selector");
        assert_eq!(snake("global"), "global");
    }

    #[test]
    fn window_lengths_are_written_as_seconds() {
        assert_eq!(seconds(&Value::from("90s")), Value::from(90));
        assert_eq!(seconds(&Value::from("2m")), Value::from(120));
        assert_eq!(seconds(&Value::from(30)), Value::from(30));
        assert_eq!(seconds(&Value::from("30")), Value::from(30));
    }
}
