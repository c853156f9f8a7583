//! `KasprJoin`: a key join of two tables of a Kaspr app.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CodeSpec, TableUse};
use crate::status::KasprJoinStatus;
use crate::validate::{self, Report, patterns, syntax};

/// A key join of two tables: for each change of the left table, Python code extracts a key, the
/// right table is looked up by it, and the pair is sent to a channel agents can read.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "kaspr.io",
    version = "v1alpha1",
    kind = "KasprJoin",
    plural = "kasprjoins",
    singular = "kasprjoin",
    shortname = "kjoin",
    shortname = "kj",
    category = "kaspr",
    namespaced,
    status = "KasprJoinStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "A key join of two KasprTables of the KasprApp named by its `kaspr.io/app` label: each change of the left table is joined with the right table's record under the key the extractor returns, and sent to a channel agents read.",
    printcolumn = r#"{"name":"App","type":"string","jsonPath":".metadata.labels.kaspr\\.io/app"}"#,
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
    printcolumn = r#"{"name":"Left","type":"string","jsonPath":".spec.leftTable"}"#,
    printcolumn = r#"{"name":"Right","type":"string","jsonPath":".spec.rightTable"}"#,
    printcolumn = r#"{"name":"Channel","type":"string","jsonPath":".spec.outputChannel"}"#,
    printcolumn = r#"{"name":"App Status","type":"string","jsonPath":".status.app.status"}"#,
    printcolumn = r#"{"name":"Hash","type":"string","jsonPath":".status.hash","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KasprJoinSpec {
    /// Ignored: the join is named after its `metadata.name` (upstream overwrites this field
    /// with it too). Accepted so that manifests written for upstream apply unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// A short description of what this join does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The left (driving) table: the `metadata.name` of a KasprTable of the same app, whose
    /// changes trigger the join.
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS1123_SUBDOMAIN))]
    pub left_table: String,
    /// The right (lookup) table: the `metadata.name` of a KasprTable of the same app, looked up
    /// by the key the extractor returns.
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS1123_SUBDOMAIN))]
    pub right_table: String,
    /// Python code returning the join key from a left-table value; the right table is looked
    /// up by it.
    pub extractor: CodeSpec,
    /// Join semantics: `inner` emits nothing when the right table has no record for the key;
    /// `left` emits the pair with an empty right side.
    #[serde(default, rename = "type")]
    pub join_type: JoinType,
    /// The channel the joined pairs are sent to; agents read it with `input.channel.name`.
    /// Defaults to `<metadata.name>-channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub output_channel: Option<String>,
}

/// Join semantics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
#[serde(rename_all = "lowercase")]
pub enum JoinType {
    /// Emit only when the right table has a record for the key.
    #[default]
    Inner,
    /// Emit always; the right side is empty when there is no record.
    Left,
}

impl KasprJoinSpec {
    /// Checks the spec: every rule of the CRD schema serde does not enforce, and beyond it. Each
    /// error names its field, e.g. `spec.leftTable`.
    ///
    /// Whether the two tables exist (and belong to the same app) only the cluster can tell; the
    /// reconcile checks it. Here a table name must only be one a KasprTable can have.
    pub fn check(&self) -> Result<(), validate::ValidationErrors> {
        let mut r = Report::default();
        if let Some(name) = &self.name {
            r.non_empty("spec.name", name, "the join's name, or leave name out");
        }
        r.field("spec.leftTable", syntax::object_name(&self.left_table));
        r.field("spec.rightTable", syntax::object_name(&self.right_table));
        validate::code(&mut r, "spec.extractor", &self.extractor);
        if let Some(channel) = &self.output_channel {
            r.non_empty(
                "spec.outputChannel",
                channel,
                "the channel's name, or leave outputChannel out",
            );
        }
        r.finish()
    }

    /// Things that are allowed but probably not what was meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        validate::entrypoint_warning("spec.extractor", Some(&self.extractor), &mut out);
        out
    }

    /// The two tables, with the fields naming them.
    pub fn table_uses(&self) -> Vec<TableUse> {
        vec![
            TableUse {
                field: "spec.leftTable".to_owned(),
                name: self.left_table.clone(),
            },
            TableUse {
                field: "spec.rightTable".to_owned(),
                name: self.right_table.clone(),
            },
        ]
    }

    /// The channel the joined pairs go to: `outputChannel`, or `<name>-channel` for the join
    /// named `name` (its `metadata.name`).
    pub fn output_channel(&self, name: &str) -> String {
        self.output_channel
            .clone()
            .unwrap_or_else(|| format!("{name}-channel"))
    }
}
