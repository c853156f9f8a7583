//! `KasprApp` and its spec: the app, how it reaches Kafka, and how its pods look.

use std::collections::BTreeMap;

use garde::Validate;
use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::CustomResource;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::python_packages::PythonPackagesSpec;
use crate::status::KasprAppStatus;
use crate::template::KasprAppTemplate;
use crate::wire::wire_names;

/// A Kaspr (Kafka streams) application run as a StatefulSet.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate,
)]
#[kube(
    group = "kaspr.io",
    version = "v1alpha1",
    kind = "KasprApp",
    plural = "kasprapps",
    singular = "kasprapp",
    shortname = "kapp",
    shortname = "kapps",
    category = "kaspr",
    category = "all",
    namespaced,
    status = "KasprAppStatus",
    derive = "Default",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.kasprVersion"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Members","type":"string","jsonPath":".status.availableMembers"}"#,
    printcolumn = r#"{"name":"Rebalancing","type":"string","jsonPath":".status.rebalancingMembers"}"#,
    printcolumn = r#"{"name":"Packages","type":"string","jsonPath":".status.pythonPackages.state"}"#,
    printcolumn = r#"{"name":"Hash","type":"string","jsonPath":".status.pythonPackages.hash","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
// As upstream's CRD: fields this schema does not know are kept rather than refused, so every
// manifest upstream accepted is accepted; the operator and `render` name each one as a warning.
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct KasprAppSpec {
    /// The Kaspr version; selects the image when `image` is unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub version: Option<String>,
    /// The container image. With `pythonPackages` set it must still contain the Kaspr runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub image: Option<String>,
    /// Number of replicas (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    #[garde(skip)]
    pub replicas: Option<i32>,
    /// Kafka bootstrap servers, a comma separated list of `host:port`.
    #[schemars(length(min = 1))]
    #[garde(skip)]
    pub bootstrap_servers: String,
    /// TLS to Kafka. `{}` enables TLS with the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    #[garde(skip)]
    pub tls: Option<BTreeMap<String, Value>>,
    /// SASL authentication to Kafka.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub authentication: Option<KafkaAuthentication>,
    /// Kaspr configuration, passed through to the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    #[garde(skip)]
    pub config: Option<BTreeMap<String, Value>>,
    /// Resources of the kaspr container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub resources: Option<ResourceRequirements>,
    /// Timings of the kaspr container's liveness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub liveness_probe: Option<ProbeSettings>,
    /// Timings of the kaspr container's readiness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub readiness_probe: Option<ProbeSettings>,
    /// Storage for the app's state (tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub storage: Option<Storage>,
    /// Customisation of the generated objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub template: Option<KasprAppTemplate>,
    /// Python packages installed into every replica before it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub python_packages: Option<PythonPackagesSpec>,
    /// Fields this operator does not know, kept as the API server stores them (the schema
    /// preserves them at `spec`, as upstream's did) so that [`KasprAppSpec::warnings`] can name
    /// each one: they are ignored, as upstream ignored them.
    #[serde(flatten)]
    #[schemars(skip)]
    #[garde(skip)]
    pub unknown_fields: BTreeMap<String, Value>,
}

/// A Secret the app's pods read, and the keys they need in it: the operator checks each before a
/// rollout, so a missing one holds the rollout instead of breaking new pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretReference {
    /// The spec field that names the Secret, e.g. `spec.authentication.passwordSecret`.
    pub field: &'static str,
    /// The Secret's name, in the app's namespace.
    pub name: String,
    /// The keys the pods read from it.
    pub keys: Vec<String>,
}

impl KasprAppSpec {
    /// Every Secret the app's pods read (Kafka password, index credentials, GCS key), in that
    /// order.
    pub fn secret_references(&self) -> Vec<SecretReference> {
        let mut refs = Vec::new();
        if let Some(p) = self
            .authentication
            .as_ref()
            .and_then(|a| a.password_secret.as_ref())
        {
            refs.push(SecretReference {
                field: "spec.authentication.passwordSecret",
                name: p.secret_name.clone(),
                keys: vec![p.password_key.clone()],
            });
        }
        let Some(pp) = &self.python_packages else {
            return refs;
        };
        if let Some(c) = &pp.credentials {
            refs.push(SecretReference {
                field: "spec.pythonPackages.credentials.secretRef",
                name: c.secret_ref.name.clone(),
                keys: vec![
                    c.secret_ref.username_key.clone(),
                    c.secret_ref.password_key.clone(),
                ],
            });
        }
        if let Some(gcs) = pp
            .cache
            .gcs
            .as_ref()
            .filter(|_| pp.cache.type_ == crate::CacheType::Gcs)
        {
            refs.push(SecretReference {
                field: "spec.pythonPackages.cache.gcs.secretRef",
                name: gcs.secret_ref.name.clone(),
                keys: vec![gcs.secret_ref.key.clone()],
            });
        }
        refs
    }
}

/// SASL authentication to Kafka.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KafkaAuthentication {
    /// The SASL mechanism.
    #[serde(rename = "type")]
    pub kind: KafkaAuthenticationType,
    /// The SASL username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The Secret and key holding the Kafka password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<PasswordSecret>,
}

/// SASL mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum KafkaAuthenticationType {
    /// SCRAM-SHA-256.
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[serde(rename = "scram-sha-512")]
    ScramSha512,
    /// PLAIN.
    #[serde(rename = "plain")]
    Plain,
}

/// The Secret and key holding the Kafka password.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordSecret {
    /// Name of the Secret, in the app's namespace.
    pub secret_name: String,
    /// Key of the password in the Secret.
    pub password_key: String,
}

/// Probe timings; the probe itself is the operator's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeSettings {
    /// Failures in a row after which the probe counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<i32>,
    /// Seconds after the container starts before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub period_seconds: Option<i32>,
    /// Successes in a row after a failure for the probe to count as passing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub success_threshold: Option<i32>,
    /// Seconds a probe may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<i32>,
}

/// Storage of the app's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Storage {
    /// An emptyDir or a PVC per replica.
    #[serde(rename = "type")]
    pub kind: StorageType,
    /// Storage class of the PVCs; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Size of each PVC, e.g. `10Gi` (`1Gi` when unset). It may grow: the claims are expanded
    /// (the class must allow it) and the StatefulSet is replaced, its pods keep running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::validate::patterns::QUANTITY))]
    #[x_kube(validation = Rule::new("quantity(self).compareTo(quantity(oldSelf)) >= 0")
        .message("storage.size may grow but not shrink: a PVC cannot be made smaller"))]
    pub size: Option<String>,
    /// `true`: the PVCs are deleted with the KasprApp; otherwise they are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_claim: Option<bool>,
}

/// The kind of storage for the app's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StorageType {
    /// An emptyDir per pod.
    #[serde(rename = "ephemeral")]
    Ephemeral,
    /// A PersistentVolumeClaim per replica (`ReadWriteOnce`).
    #[serde(rename = "persistent-claim")]
    PersistentClaim,
}

wire_names!(KafkaAuthenticationType, StorageType);
