//! `KasprAgent`: a stream processor of a Kaspr app.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CodeSpec, KafkaConfig, Processors, Serializer, TableUse};
use crate::status::ComponentStatus;
use crate::validate::{self, Report, limits, patterns, rules, syntax};

/// A stream processor of a Kaspr app: it reads a Kafka topic or an in-memory channel, runs each
/// value through a pipeline of Python operations and sends the results to Kafka topics.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kaspr.io",
    version = "v1alpha1",
    kind = "KasprAgent",
    plural = "kaspragents",
    singular = "kaspragent",
    shortname = "kagents",
    shortname = "kagent",
    category = "kaspr",
    namespaced,
    status = "ComponentStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "A stream processor of the KasprApp named by its `kaspr.io/app` label: it reads a Kafka topic or a channel, runs each value through a pipeline of Python operations and sends the results to Kafka topics.",
    printcolumn = r#"{"name":"App","type":"string","jsonPath":".metadata.labels.kaspr\\.io/app"}"#,
    printcolumn = r#"{"name":"Topic","type":"string","jsonPath":".spec.input.topic.name"}"#,
    printcolumn = r#"{"name":"Pattern","type":"string","jsonPath":".spec.input.topic.pattern","priority":1}"#,
    printcolumn = r#"{"name":"Channel","type":"string","jsonPath":".spec.input.channel.name"}"#,
    printcolumn = r#"{"name":"App Status","type":"string","jsonPath":".status.app.status"}"#,
    printcolumn = r#"{"name":"Hash","type":"string","jsonPath":".status.hash","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KasprAgentSpec {
    /// Ignored: the agent is named after its `metadata.name` (upstream overwrites this field
    /// with it too). Accepted so that manifests written for upstream apply unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// A short description of what this agent does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Process each partition of the input topic in its own agent instance (ordering per
    /// partition, more concurrency).
    #[serde(default)]
    pub isolated_partitions: bool,
    /// What the agent reads: a Kafka topic or a channel, exactly one.
    pub input: AgentInput,
    /// Topics every value the pipeline returns is sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<AgentOutput>,
    /// The pipeline each input value runs through.
    pub processors: AgentProcessors,
}

/// The processors of an agent; its operations may send to topics with topic settings.
pub type AgentProcessors = Processors<AgentTopicSend>;

/// What an agent reads: a Kafka topic or a channel, exactly one; optionally in batches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::TOPIC_OR_CHANNEL,
    "message": "input needs exactly one of topic or channel"
}]))]
pub struct AgentInput {
    /// Create the input topic or channel if it does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declare: Option<bool>,
    /// A Kafka topic to consume, by name or by pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<InputTopic>,
    /// An in-memory channel of the app, e.g. a KasprJoin's `outputChannel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<InputChannel>,
    /// Batch the input: hand the pipeline up to `max` values at once, or what arrived `within`
    /// a time window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take: Option<InputTake>,
}

/// A Kafka topic an agent consumes: a `name` or a `pattern`, exactly one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::NAME_OR_PATTERN,
    "message": "topic needs exactly one of name or pattern"
}]))]
pub struct InputTopic {
    /// Name of the topic to subscribe to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = syntax::MAX_TOPIC_LEN), regex(pattern = patterns::KAFKA_TOPIC))]
    pub name: Option<String>,
    /// Regular expression (Python `re`) of the topic names to subscribe to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub pattern: Option<String>,
    /// Encoding of the message keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_serializer: Option<Serializer>,
    /// Encoding of the message values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_serializer: Option<Serializer>,
    /// Number of partitions, when the topic is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub partitions: Option<i32>,
    /// Retention period of the topic, in seconds, when it is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<i64>,
    /// Whether log compaction is enabled, when the topic is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacting: Option<bool>,
    /// Whether log deletion is enabled, when the topic is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleting: Option<bool>,
    /// Replication factor, when the topic is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub replicas: Option<i32>,
    /// Further Kafka topic configuration, e.g. `retention.ms: 604800000`; values are integers
    /// or strings (quote booleans and decimals).
    #[serde(default, skip_serializing_if = "KafkaConfig::is_empty")]
    #[schemars(extend("maxProperties" = limits::MAX_CONFIG_ENTRIES, "x-kubernetes-validations" = [{
        "rule": rules::CONFIG_NAMES,
        "message": "an entry has an empty name"
    }]))]
    pub config: KafkaConfig,
}

/// An in-memory channel of the app.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputChannel {
    /// The channel's name, e.g. a KasprJoin's `outputChannel`.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Batching of an agent's input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputTake {
    /// Most values in one batch.
    #[schemars(range(min = 1))]
    pub max: i64,
    /// Longest wait for a batch to fill: a whole number and a unit `s`, `m`, `h` or `d`, e.g.
    /// `10s`.
    #[schemars(regex(pattern = patterns::DURATION))]
    pub within: String,
}

/// Where an agent sends what its pipeline returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentOutput {
    /// Kafka topics each result is sent to (each may filter with a `predicate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = limits::MAX_OUTPUT_TOPICS))]
    pub topics: Vec<AgentTopicOutput>,
}

/// Generates an agent's output-topic type and its operation `topicSend` type from one field list,
/// so the two keep the same fields (the send has `passThrough` besides).
macro_rules! agent_topic_fields {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        #[schemars(extend("x-kubernetes-validations" = [{
            "rule": rules::NAME_OR_SELECTOR,
            "message": "set exactly one of name or nameSelector"
        }]))]
        pub struct $name {
            /// Name of the Kafka topic. Set this or `nameSelector`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1, max = syntax::MAX_TOPIC_LEN), regex(pattern = patterns::KAFKA_TOPIC))]
            pub name: Option<String>,
            /// Python code returning the topic name for each message. Set this or `name`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub name_selector: Option<CodeSpec>,
            /// Create the topic once, lazily, before the first message is sent.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub declare: Option<bool>,
            /// Wait for the broker's acknowledgement before the message counts as sent.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub ack: Option<bool>,
            $($extra)*
            /// Encoding of the message key.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub key_serializer: Option<Serializer>,
            /// Encoding of the message value.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub value_serializer: Option<Serializer>,
            /// Number of partitions, when the topic is created.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 1))]
            pub partitions: Option<i32>,
            /// Retention period of the topic, in seconds, when it is created.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub retention: Option<i64>,
            /// Whether log compaction is enabled, when the topic is created.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub compacting: Option<bool>,
            /// Whether log deletion is enabled, when the topic is created.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub deleting: Option<bool>,
            /// Replication factor, when the topic is created.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 1))]
            pub replicas: Option<i32>,
            /// Further Kafka topic configuration, e.g. `retention.ms: 604800000`; values are
            /// integers or strings (quote booleans and decimals).
            #[serde(default, skip_serializing_if = "KafkaConfig::is_empty")]
            #[schemars(extend("maxProperties" = limits::MAX_CONFIG_ENTRIES, "x-kubernetes-validations" = [{
                "rule": rules::CONFIG_NAMES,
                "message": "an entry has an empty name"
            }]))]
            pub config: KafkaConfig,
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

        impl $name {
            fn check(&self, r: &mut Report, path: &str) {
                validate::topic_target(r, path, self.name.as_deref(), self.name_selector.as_ref());
                r.at_least(format!("{path}.partitions"), self.partitions, 1);
                r.at_least(format!("{path}.replicas"), self.replicas, 1);
                validate::config(r, &format!("{path}.config"), &self.config);
                for (field, code) in [
                    ("keySelector", &self.key_selector),
                    ("valueSelector", &self.value_selector),
                    ("partitionSelector", &self.partition_selector),
                    ("headersSelector", &self.headers_selector),
                    ("predicate", &self.predicate),
                ] {
                    validate::code_opt(r, &format!("{path}.{field}"), code.as_ref());
                }
            }
        }
    };
}

agent_topic_fields! {
    /// A Kafka topic an agent sends each result to: a `name` or a `nameSelector`, exactly one.
    AgentTopicOutput {}
}

agent_topic_fields! {
    /// Sends each value to a Kafka topic, from an agent's operation: a `name` or a
    /// `nameSelector`, exactly one.
    AgentTopicSend {
        /// Pass the original value, not the send's result, on to the next operation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pass_through: Option<bool>,
    }
}

impl KasprAgentSpec {
    /// Checks the spec: every rule of the CRD schema serde does not enforce, and beyond it. Each
    /// error names its field, e.g. `spec.processors.operations[0].map.python`.
    pub fn check(&self) -> Result<(), validate::ValidationErrors> {
        let mut r = Report::default();
        if let Some(name) = &self.name {
            r.non_empty("spec.name", name, "the agent's name, or leave name out");
        }
        let input = &self.input;
        match (&input.topic, &input.channel) {
            (None, None) => r.add(
                "spec.input",
                "no input: set topic (a Kafka topic to consume) or channel (a channel of the app)",
            ),
            (Some(_), Some(_)) => r.add(
                "spec.input",
                "both topic and channel are set; an agent reads one of them",
            ),
            _ => {}
        }
        if let Some(topic) = &input.topic {
            let p = "spec.input.topic";
            match (&topic.name, &topic.pattern) {
                (None, None) => r.add(
                    p,
                    "set name (one topic) or pattern (topics matching a regular expression)",
                ),
                (Some(_), Some(_)) => r.add(p, "both name and pattern are set; set one"),
                _ => {}
            }
            if let Some(name) = &topic.name {
                r.field(format!("{p}.name"), syntax::kafka_topic(name));
            }
            if let Some(pattern) = &topic.pattern {
                r.non_empty(
                    format!("{p}.pattern"),
                    pattern,
                    "a regular expression of topic names",
                );
            }
            r.at_least(format!("{p}.partitions"), topic.partitions, 1);
            r.at_least(format!("{p}.replicas"), topic.replicas, 1);
            validate::config(&mut r, &format!("{p}.config"), &topic.config);
        }
        if let Some(channel) = &input.channel {
            r.non_empty(
                "spec.input.channel.name",
                &channel.name,
                "the channel's name",
            );
        }
        if let Some(take) = &input.take {
            r.at_least("spec.input.take.max", Some(take.max), 1);
            r.field("spec.input.take.within", syntax::duration(&take.within));
        }
        if let Some(output) = &self.output {
            r.at_most(
                "spec.output.topics",
                output.topics.len(),
                limits::MAX_OUTPUT_TOPICS,
                "topics",
            );
            for (i, topic) in output.topics.iter().enumerate() {
                topic.check(&mut r, &format!("spec.output.topics[{i}]"));
            }
        }
        validate::processors(
            &mut r,
            "spec.processors",
            &self.processors,
            |r, path, send| send.check(r, path),
        );
        r.finish()
    }

    /// Things that are allowed but probably not what was meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        validate::processor_warnings("spec.processors", &self.processors, &mut out);
        for (path, code) in self.code() {
            validate::entrypoint_warning(&path, Some(code), &mut out);
        }
        out
    }

    /// Every table the agent's operations use.
    pub fn table_uses(&self) -> Vec<TableUse> {
        self.processors.table_uses("spec.processors")
    }

    /// Every block of Python code, with its field path.
    pub fn code(&self) -> Vec<(String, &CodeSpec)> {
        let mut out = Vec::new();
        if let Some(output) = &self.output {
            for (i, t) in output.topics.iter().enumerate() {
                let p = format!("spec.output.topics[{i}]");
                push_selectors(
                    &mut out,
                    &p,
                    [
                        ("nameSelector", &t.name_selector),
                        ("keySelector", &t.key_selector),
                        ("valueSelector", &t.value_selector),
                        ("partitionSelector", &t.partition_selector),
                        ("headersSelector", &t.headers_selector),
                        ("predicate", &t.predicate),
                    ],
                );
            }
        }
        crate::common::processors_code(
            &mut out,
            "spec.processors",
            &self.processors,
            |out, p, s| {
                push_selectors(
                    out,
                    p,
                    [
                        ("nameSelector", &s.name_selector),
                        ("keySelector", &s.key_selector),
                        ("valueSelector", &s.value_selector),
                        ("partitionSelector", &s.partition_selector),
                        ("headersSelector", &s.headers_selector),
                        ("predicate", &s.predicate),
                    ],
                );
            },
        );
        out
    }
}

fn push_selectors<'a>(
    out: &mut Vec<(String, &'a CodeSpec)>,
    path: &str,
    selectors: [(&str, &'a Option<CodeSpec>); 6],
) {
    for (field, code) in selectors {
        if let Some(code) = code {
            out.push((format!("{path}.{field}"), code));
        }
    }
}
