//! Types several kinds share: Python code, table references, processors and their operations,
//! topic sends, serializers and Kafka configuration values.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::validate::{limits, patterns, rules};

/// Python code the Kaspr runtime runs: source code that defines a function, and which function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::ENTRYPOINT_NOT_KEYWORD,
    "message": "entrypoint is a Python keyword, which cannot name a function",
    "fieldPath": ".entrypoint"
}]))]
pub struct CodeSpec {
    /// Python source code. It defines the function to run, and may import modules and set up
    /// state; it must not be empty.
    #[schemars(regex(pattern = patterns::NOT_BLANK))]
    pub python: String,
    /// Name of the function in `python` to run. Without it the runtime runs the first callable
    /// that `python` defines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = limits::MAX_IDENTIFIER_LEN), regex(pattern = patterns::PYTHON_IDENTIFIER))]
    pub entrypoint: Option<String>,
}

impl CodeSpec {
    /// Code with an entrypoint.
    pub fn new(python: impl Into<String>, entrypoint: impl Into<String>) -> Self {
        CodeSpec {
            python: python.into(),
            entrypoint: Some(entrypoint.into()),
        }
    }
}

/// A KasprTable an operation reads and writes, passed to its function as a keyword argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::PARAM_NOT_KEYWORD,
    "message": "paramName is a Python keyword, which cannot name a parameter",
    "fieldPath": ".paramName"
}]))]
pub struct TableRef {
    /// The table: the `metadata.name` of a KasprTable of the same app (same `kaspr.io/app`
    /// label) and namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Name of the function parameter that receives the table, e.g. `counters` for
    /// `def update(value, counters)`.
    #[schemars(length(max = limits::MAX_IDENTIFIER_LEN), regex(pattern = patterns::PYTHON_IDENTIFIER))]
    pub param_name: String,
}

/// A chain of operations run on each value: `pipeline` names the operations to run, in order;
/// `operations` defines them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::PIPELINE_NAMES_OPERATIONS,
    "message": "every pipeline entry must be the name of an operation in operations",
    "fieldPath": ".pipeline"
}]))]
pub struct Processors<S> {
    /// Names of the operations to run, in order. The same operation may appear more than once.
    #[schemars(length(min = 1, max = limits::MAX_PIPELINE))]
    #[schemars(inner(length(min = 1, max = limits::MAX_IDENTIFIER_LEN)))]
    pub pipeline: Vec<String>,
    /// Python code run once when the component starts; every name it defines is in scope of
    /// every operation (for imports, clients, constants and helper functions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<CodeSpec>,
    /// The operations, each named and doing exactly one of `map`, `filter` or `topicSend`.
    #[schemars(length(max = limits::MAX_OPERATIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub operations: Vec<Operation<S>>,
}

/// One named step of a pipeline: exactly one of `map`, `filter` or `topicSend`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::ONE_ACTION,
    "message": "an operation needs exactly one of map, filter or topicSend"
}]))]
pub struct Operation<S> {
    /// The operation's name, unique in `operations`; `pipeline` refers to it.
    #[schemars(length(min = 1, max = limits::MAX_IDENTIFIER_LEN))]
    pub name: String,
    /// Tables passed to the operation's function as keyword arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = limits::MAX_TABLE_REFS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["paramName"]))]
    pub tables: Vec<TableRef>,
    /// Transforms each value: the function returns the new value (or yields several, to fan
    /// out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<CodeSpec>,
    /// Keeps a value only when the function returns true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<CodeSpec>,
    /// Sends each value to a Kafka topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_send: Option<S>,
}

/// How the key or value of a Kafka message is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
#[serde(rename_all = "lowercase")]
pub enum Serializer {
    /// Bytes as they are.
    Raw,
    /// JSON.
    Json,
    /// Python pickle.
    Pickle,
    /// Binary (base64 on the wire).
    Binary,
}

/// How the keys or values of a table are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
#[serde(rename_all = "lowercase")]
pub enum TableSerializer {
    /// Bytes as they are.
    Raw,
    /// JSON.
    Json,
}

/// A value of a Kafka configuration entry, as YAML writes it: `604800000` or `compact`. Kafka
/// reads every value as text ([`ConfigValue::to_config_string`]); booleans and decimals are
/// written in quotes (`"false"`, `"0.5"`), as the schema takes integers and strings only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// An integer, e.g. `retention.ms: 604800000`.
    Int(i64),
    /// Text, e.g. `cleanup.policy: compact` or `min.cleanable.dirty.ratio: "0.5"`.
    String(String),
}

impl ConfigValue {
    /// The value as Kafka reads it.
    pub fn to_config_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Int(n) => write!(f, "{n}"),
            ConfigValue::String(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ConfigValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a string or an integer (write booleans and decimals in quotes, e.g. \
                     \"false\", \"0.5\")",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ConfigValue, E> {
                Ok(ConfigValue::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ConfigValue, E> {
                i64::try_from(v)
                    .map(ConfigValue::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ConfigValue, E> {
                Ok(ConfigValue::String(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for ConfigValue {
    fn schema_name() -> Cow<'static, str> {
        "ConfigValue".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "x-kubernetes-int-or-string": true
        })
    }
}

/// Kafka configuration entries (`retention.ms: 604800000`, `cleanup.policy: compact`).
pub type KafkaConfig = BTreeMap<String, ConfigValue>;

/// Sends each value to a Kafka topic, from a KasprWebView's or KasprTask's operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::NAME_OR_SELECTOR,
    "message": "set exactly one of name or nameSelector"
}]))]
pub struct TopicSend {
    /// Name of the Kafka topic to send to. Set this or `nameSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = crate::validate::syntax::MAX_TOPIC_LEN), regex(pattern = patterns::KAFKA_TOPIC))]
    pub name: Option<String>,
    /// Python code returning the topic name for each message. Set this or `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_selector: Option<CodeSpec>,
    /// Wait for the broker's acknowledgement before the message counts as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<bool>,
    /// Pass the original value, not the send's result, on to the next operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_through: Option<bool>,
    /// Encoding of the message key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_serializer: Option<Serializer>,
    /// Encoding of the message value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_serializer: Option<Serializer>,
    /// Python code returning the message key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_selector: Option<CodeSpec>,
    /// Python code returning the message value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_selector: Option<CodeSpec>,
    /// Python code returning the partition to send to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_selector: Option<CodeSpec>,
    /// Python code returning the message headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_selector: Option<CodeSpec>,
    /// Python code returning whether to send the message at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<CodeSpec>,
}

impl TopicSend {
    /// The code blocks besides `nameSelector`, with their field names.
    pub(crate) fn selectors(&self) -> [(&'static str, Option<&CodeSpec>); 5] {
        [
            ("keySelector", self.key_selector.as_ref()),
            ("valueSelector", self.value_selector.as_ref()),
            ("partitionSelector", self.partition_selector.as_ref()),
            ("headersSelector", self.headers_selector.as_ref()),
            ("predicate", self.predicate.as_ref()),
        ]
    }

    pub(crate) fn check(&self, r: &mut crate::validate::Report, path: &str) {
        crate::validate::topic_target(r, path, self.name.as_deref(), self.name_selector.as_ref());
        for (field, code) in self.selectors() {
            crate::validate::code_opt(r, &format!("{path}.{field}"), code);
        }
    }
}

/// A table used by an operation, named where it is used: for the reconcile to check that each
/// exists, and for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableUse {
    /// The field naming the table, e.g. `spec.processors.operations[1].tables[0].name`.
    pub field: String,
    /// The KasprTable's `metadata.name`.
    pub name: String,
}

impl<S> Processors<S> {
    /// Every table the operations use, with the field naming it.
    pub fn table_uses(&self, path: &str) -> Vec<TableUse> {
        self.operations
            .iter()
            .enumerate()
            .flat_map(|(i, op)| {
                op.tables.iter().enumerate().map(move |(j, t)| TableUse {
                    field: format!("{path}.operations[{i}].tables[{j}].name"),
                    name: t.name.clone(),
                })
            })
            .collect()
    }
}

/// Every block of Python code of `processors` at `path`, with its field path; `send` adds those
/// of an operation's `topicSend`.
pub(crate) fn processors_code<'a, S>(
    out: &mut Vec<(String, &'a CodeSpec)>,
    path: &str,
    processors: &'a Processors<S>,
    send: impl Fn(&mut Vec<(String, &'a CodeSpec)>, &str, &'a S),
) {
    if let Some(init) = &processors.init {
        out.push((format!("{path}.init"), init));
    }
    for (i, op) in processors.operations.iter().enumerate() {
        let p = format!("{path}.operations[{i}]");
        if let Some(map) = &op.map {
            out.push((format!("{p}.map"), map));
        }
        if let Some(filter) = &op.filter {
            out.push((format!("{p}.filter"), filter));
        }
        if let Some(s) = &op.topic_send {
            send(out, &format!("{p}.topicSend"), s);
        }
    }
}

impl TopicSend {
    /// Its code blocks, with their field paths under `path`.
    pub(crate) fn code<'a>(&'a self, out: &mut Vec<(String, &'a CodeSpec)>, path: &str) {
        if let Some(c) = &self.name_selector {
            out.push((format!("{path}.nameSelector"), c));
        }
        for (field, code) in self.selectors() {
            if let Some(c) = code {
                out.push((format!("{path}.{field}"), c));
            }
        }
    }
}

/// schemars transform for enums: drops the type's description, so that the field's own (more
/// specific) one is what `kubectl explain` shows. kube hoists an optional enum's schema into
/// the field, where the type's description would otherwise replace the field's.
pub(crate) fn field_describes(schema: &mut Schema) {
    if let Some(object) = schema.as_object_mut() {
        object.remove("description");
    }
}
