//! `status` of the components: what upstream writes (the app found or not, the ConfigMap and its
//! hash; for a join also its two tables), plus `observedGeneration` and conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether the KasprApp a component belongs to exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
pub enum AppState {
    /// The KasprApp named by the `kaspr.io/app` label exists in the namespace.
    AppFound,
    /// No KasprApp of that name exists in the namespace (yet).
    AppNotFound,
}

/// The KasprApp a component belongs to, as last seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// The app's name: the component's `kaspr.io/app` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether that KasprApp exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AppState>,
}

/// The `status` of a KasprAgent, KasprTable, KasprWebView or KasprTask.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The KasprApp the component belongs to, and whether it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppStatus>,
    /// Name of the ConfigMap holding the component's definition for the app's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// Hash of that ConfigMap; it changes whenever the definition does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// `Ready`, with a reason and message when the component cannot be used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Whether a table a KasprJoin names exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
pub enum JoinTableState {
    /// `leftTable` names an existing KasprTable.
    LeftTableFound,
    /// No KasprTable of the `leftTable` name exists in the namespace.
    LeftTableNotFound,
    /// `rightTable` names an existing KasprTable.
    RightTableFound,
    /// No KasprTable of the `rightTable` name exists in the namespace.
    RightTableNotFound,
}

/// A table a KasprJoin names, as last seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinTableStatus {
    /// The KasprTable's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JoinTableState>,
}

/// The `status` of a KasprJoin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KasprJoinStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The KasprApp the join belongs to, and whether it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppStatus>,
    /// The left (driving) table, and whether it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_table: Option<JoinTableStatus>,
    /// The right (lookup) table, and whether it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_table: Option<JoinTableStatus>,
    /// Name of the ConfigMap holding the join's definition for the app's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// Hash of that ConfigMap; it changes whenever the definition does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// `Ready`, with a reason and message when the join cannot be used (e.g. a table is
    /// missing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
