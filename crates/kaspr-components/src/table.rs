//! `KasprTable`: a table (a changelog-backed key-value store) of a Kaspr app.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CodeSpec, KafkaConfig, TableSerializer};
use crate::status::ComponentStatus;
use crate::validate::{self, Report, limits, patterns, rules, syntax};

/// A table of a Kaspr app: a key-value store, partitioned like the topics that fill it and
/// backed by a Kafka changelog topic, which operations read and write by name.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kaspr.io",
    version = "v1alpha1",
    kind = "KasprTable",
    plural = "kasprtables",
    singular = "kasprtable",
    shortname = "ktables",
    shortname = "ktable",
    category = "kaspr",
    namespaced,
    status = "ComponentStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "A table of the KasprApp named by its `kaspr.io/app` label: a key-value store backed by a Kafka changelog topic, which the app's operations read and write by the table's metadata.name.",
    printcolumn = r#"{"name":"App","type":"string","jsonPath":".metadata.labels.kaspr\\.io/app"}"#,
    printcolumn = r#"{"name":"Partitions","type":"integer","jsonPath":".spec.partitions"}"#,
    printcolumn = r#"{"name":"Global","type":"boolean","jsonPath":".spec.global"}"#,
    printcolumn = r#"{"name":"App Status","type":"string","jsonPath":".status.app.status"}"#,
    printcolumn = r#"{"name":"Hash","type":"string","jsonPath":".status.hash","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KasprTableSpec {
    /// Ignored: the table is named after its `metadata.name`, which operations and joins refer
    /// to (upstream overwrites this field with it too). Accepted so that manifests written for
    /// upstream, which requires it, apply unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// A short description of the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A global table: every member of the app holds all of its data, not only its partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<bool>,
    /// Python code returning the type of a key's default value, e.g. `int` for counters, used
    /// when a key is not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_selector: Option<CodeSpec>,
    /// Encoding of the table's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_serializer: Option<TableSerializer>,
    /// Encoding of the table's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_serializer: Option<TableSerializer>,
    /// Number of partitions of the table (and of its changelog topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub partitions: Option<i32>,
    /// Kafka configuration of the table's changelog topic when it is created, e.g.
    /// `retention.ms: 604800000`; values are integers or strings (quote booleans and decimals).
    #[serde(default, skip_serializing_if = "KafkaConfig::is_empty")]
    #[schemars(extend("maxProperties" = limits::MAX_CONFIG_ENTRIES, "x-kubernetes-validations" = [{
        "rule": rules::CONFIG_NAMES,
        "message": "an entry has an empty name"
    }]))]
    pub extra_topic_configs: KafkaConfig,
    /// Deprecated and ignored: a misspelling of `extraTopicConfigs` that one of upstream's own
    /// examples uses. Upstream accepts and ignores it; so does this operator, with a warning.
    /// Rename it to `extraTopicConfigs` for the configuration to apply.
    #[serde(
        default,
        rename = "extraTopicConfig",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(extend("maxProperties" = limits::MAX_CONFIG_ENTRIES))]
    pub extra_topic_config_misspelt: Option<KafkaConfig>,
    /// Advanced table options, passed to the Kaspr runtime; values are integers or strings.
    #[serde(default, skip_serializing_if = "KafkaConfig::is_empty")]
    #[schemars(extend("maxProperties" = limits::MAX_CONFIG_ENTRIES, "x-kubernetes-validations" = [{
        "rule": rules::CONFIG_NAMES,
        "message": "an entry has an empty name"
    }]))]
    pub options: KafkaConfig,
    /// Make the table windowed: tumbling or hopping windows of time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TableWindow>,
}

/// The windows of a windowed table: tumbling or hopping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::TUMBLING_OR_HOPPING,
    "message": "a window is tumbling or hopping, not both"
}]))]
pub struct TableWindow {
    /// Fixed-size windows that do not overlap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tumbling: Option<TumblingWindow>,
    /// Fixed-size windows that start every `step`, and so overlap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hopping: Option<HoppingWindow>,
    /// What time an event falls into a window by: `stream` (the event's own time), `now` (the
    /// current time) or `custom` (what `relativeToSelector` returns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_to: Option<RelativeTo>,
    /// Python code returning an event's timestamp; used with `relativeTo: custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_to_selector: Option<CodeSpec>,
}

/// Tumbling windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TumblingWindow {
    /// Length of each window: seconds (`30`, `"30"`) or a duration (`"30s"`, `"1m"`, `"1h"`,
    /// `"1d"`).
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": rules::WINDOW_LENGTH,
        "message": "must be a positive number of seconds or a duration such as 30s, 5m, 1h, 1d"
    }]))]
    pub size: IntOrString,
    /// How long the data of each window is kept, e.g. `"1h"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = patterns::DURATION))]
    pub expires: Option<String>,
}

/// Hopping windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HoppingWindow {
    /// Length of each window: seconds (`30`, `"30"`) or a duration (`"30s"`, `"1m"`, `"1h"`,
    /// `"1d"`).
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": rules::WINDOW_LENGTH,
        "message": "must be a positive number of seconds or a duration such as 30s, 5m, 1h, 1d"
    }]))]
    pub size: IntOrString,
    /// Time between the starts of two windows, as `size`.
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": rules::WINDOW_LENGTH,
        "message": "must be a positive number of seconds or a duration such as 30s, 5m, 1h, 1d"
    }]))]
    pub step: IntOrString,
    /// How long the data of each window is kept, e.g. `"1h"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = patterns::DURATION))]
    pub expires: Option<String>,
}

/// What time an event falls into a window by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
#[serde(rename_all = "lowercase")]
pub enum RelativeTo {
    /// The event's own timestamp.
    Stream,
    /// The current time.
    Now,
    /// What `relativeToSelector` returns.
    Custom,
}

impl KasprTableSpec {
    /// Checks the spec: every rule of the CRD schema serde does not enforce, and beyond it. Each
    /// error names its field, e.g. `spec.window.tumbling.size`.
    pub fn check(&self) -> Result<(), validate::ValidationErrors> {
        let mut r = Report::default();
        if let Some(name) = &self.name {
            r.non_empty("spec.name", name, "the table's name, or leave name out");
        }
        validate::code_opt(
            &mut r,
            "spec.defaultSelector",
            self.default_selector.as_ref(),
        );
        r.at_least("spec.partitions", self.partitions, 1);
        validate::config(&mut r, "spec.extraTopicConfigs", &self.extra_topic_configs);
        validate::config(&mut r, "spec.options", &self.options);
        if let Some(misspelt) = &self.extra_topic_config_misspelt {
            r.at_most(
                "spec.extraTopicConfig",
                misspelt.len(),
                limits::MAX_CONFIG_ENTRIES,
                "entries",
            );
        }
        if let Some(w) = &self.window {
            if w.tumbling.is_some() && w.hopping.is_some() {
                r.add(
                    "spec.window",
                    "a window is tumbling or hopping, not both; remove one",
                );
            }
            if let Some(t) = &w.tumbling {
                r.field("spec.window.tumbling.size", syntax::window_length(&t.size));
                if let Some(e) = &t.expires {
                    r.field("spec.window.tumbling.expires", syntax::duration(e));
                }
            }
            if let Some(h) = &w.hopping {
                r.field("spec.window.hopping.size", syntax::window_length(&h.size));
                r.field("spec.window.hopping.step", syntax::window_length(&h.step));
                if let Some(e) = &h.expires {
                    r.field("spec.window.hopping.expires", syntax::duration(e));
                }
            }
            validate::code_opt(
                &mut r,
                "spec.window.relativeToSelector",
                w.relative_to_selector.as_ref(),
            );
        }
        r.finish()
    }

    /// Things that are allowed but probably not what was meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.extra_topic_config_misspelt.is_some() {
            out.push(
                "spec.extraTopicConfig is ignored (as upstream ignores it): it is a misspelling \
                 of extraTopicConfigs; rename it for the configuration to apply"
                    .to_owned(),
            );
        }
        for (path, code) in self.code() {
            validate::entrypoint_warning(&path, Some(code), &mut out);
        }
        if let Some(w) = &self.window {
            let custom = w.relative_to == Some(RelativeTo::Custom);
            if custom != w.relative_to_selector.is_some() {
                out.push(
                    "spec.window.relativeToSelector is used with relativeTo: custom, and only \
                     then; set both or neither"
                        .to_owned(),
                );
            }
        }
        out
    }

    /// Every block of Python code, with its field path.
    pub fn code(&self) -> Vec<(String, &CodeSpec)> {
        let mut out = Vec::new();
        if let Some(c) = &self.default_selector {
            out.push(("spec.defaultSelector".to_owned(), c));
        }
        if let Some(c) = self
            .window
            .as_ref()
            .and_then(|w| w.relative_to_selector.as_ref())
        {
            out.push(("spec.window.relativeToSelector".to_owned(), c));
        }
        out
    }
}
