//! `status`: what the operator observed, written through the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::wire::wire_names;

/// Condition types the operator sets.
pub mod condition {
    /// The app's replicas are ready; `False` with a reason when something blocks or fails.
    pub const READY: &str = "Ready";
    /// The StatefulSet is rolling out.
    pub const PROGRESSING: &str = "Progressing";
    /// The Python packages are installed (set only with `spec.pythonPackages`).
    pub const PYTHON_PACKAGES_READY: &str = "PythonPackagesReady";
    /// `True` while the annotation `kaspr.io/pause-reconciliation: "true"` holds the app: the
    /// operator changes none of its children until it is removed.
    pub const RECONCILIATION_PAUSED: &str = "ReconciliationPaused";
}

/// The `status` of a KasprApp.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KasprAppStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready replicas out of desired, e.g. `2/3` (a string, as upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_members: Option<String>,
    /// The Kaspr version the pods run: the tag of the `kaspr` container's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kaspr_version: Option<String>,
    /// Whether the StatefulSet's pods are not all on its current revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_in_progress: Option<bool>,
    /// Members rebalancing out of members that answered, e.g. `0/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalancing_members: Option<String>,
    /// Each member (pod) as its Kaspr web API (`GET /status/`) last described it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["id"]))]
    pub members: Vec<MemberStatus>,
    /// `Ready`, `Progressing`, `PythonPackagesReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// What happened to the app's Python packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_packages: Option<PythonPackagesStatus>,
    /// The components mounted into the app's pods, as last seen (upstream's field): a change of
    /// the topics its agents read or of its tables sets `rebalanceRequired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_resources: Option<LinkedResources>,
    /// The consumer group needs a rebalance: the topics the agents read or the tables changed
    /// while members keep their static group membership. Cleared once the leader was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance_required: Option<bool>,
}

/// The components of an app, by kind (`status.linkedResources`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedResources {
    /// The KasprAgents, with the topic each reads.
    #[serde(default)]
    pub agents: Vec<LinkedAgent>,
    /// The KasprWebViews.
    #[serde(default)]
    pub webviews: Vec<LinkedResource>,
    /// The KasprTables, with the table name each declares.
    #[serde(default)]
    pub tables: Vec<LinkedTable>,
    /// The KasprTasks.
    #[serde(default)]
    pub tasks: Vec<LinkedResource>,
}

/// A component and the hash of its definition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedResource {
    /// The component's name.
    pub name: String,
    /// The hash of its definition (its status).
    #[serde(default)]
    pub hash: String,
}

/// An agent, the hash of its definition and the topic it reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedAgent {
    /// The agent's name.
    pub name: String,
    /// The hash of its definition (its status).
    #[serde(default)]
    pub hash: String,
    /// `spec.input.topic.name` (names separated by commas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// `spec.input.topic.pattern`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_pattern: Option<String>,
}

/// A table, the hash of its definition and its table name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedTable {
    /// The KasprTable's name.
    pub name: String,
    /// The hash of its definition (its status).
    #[serde(default)]
    pub hash: String,
    /// `spec.name`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
}

/// One member of the app (the pod `<name>-app-<id>`), as its web API described it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// The pod's ordinal.
    pub id: u32,
    /// Whether the member leads the consumer group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<bool>,
    /// Whether the member is in a rebalance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalancing: Option<bool>,
    /// Whether the member is recovering its tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovering: Option<bool>,
    /// The pod's uid (a new pod of the same member has another).
    #[serde(default, rename = "podUID", skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// When the pod was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_creation_time: Option<String>,
    /// When `leader`, `rebalancing`, `recovering` or the pod last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// What happened to the app's Python packages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PythonPackagesStatus {
    /// Where the install stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PackagesState>,
    /// The packages hash of the spec the pods run (16 hex characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Resolved distributions, e.g. `requests==2.31.0`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installed: Vec<String>,
    /// RFC 3339 time the environment was installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_install_time: Option<String>,
    /// Human readable, e.g. `45s`, `2m30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_duration: Option<String>,
    /// The pod that ran the installer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_by: Option<String>,
    /// Where the environment lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_mode: Option<CacheMode>,
    /// Usage of the filesystem holding the packages, from statvfs in the init container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_usage: Option<CacheUsage>,
    /// Things that work but may not be what was meant, e.g. image packages the environment
    /// shadows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// One actionable line; never holds a credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The kind of error, for alerts and dashboards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<InstallErrorType>,
    /// The install reports of the current pods already counted in the operator's metrics
    /// (`<pod uid>/<restart count>`), so a restarted or new leader does not count them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counted_reports: Vec<String>,
}

/// Where the install of the Python packages stands: `Pending` (no replica has reported on the
/// current packages yet), `Installing`, `Ready` (installed) or `Failed` (`error` and `errorType`
/// say why).
// The variants carry no doc comments of their own: schemars would describe each in a `oneOf`, and
// the CRD's `state` enum would lose the `null` that its `nullable: true` needs.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PackagesState {
    Pending,
    Installing,
    Ready,
    Failed,
}

/// Where the installed environment lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// One PVC shared by the replicas.
    SharedPvc,
    /// An emptyDir per pod.
    PerPod,
    /// An emptyDir per pod, filled from (and uploaded to) a Google Cloud Storage bucket.
    Gcs,
}

/// Usage of the filesystem holding the packages, from statvfs in the init container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheUsage {
    /// Size of the filesystem.
    pub total_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes the image's user may still write.
    pub available_bytes: u64,
    /// `usedBytes` as a percentage of `totalBytes`.
    pub usage_percent: f64,
}

/// Why an install failed: the one catalogue of install errors. The script reports only the type
/// (its serde name) and a detail line; the message users read is [`InstallErrorType::message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstallErrorType {
    /// The package index could not be reached.
    Network,
    /// An attempt ran past `installPolicy.timeout`.
    Timeout,
    /// The index refused the credentials.
    Authentication,
    /// A requirement names a package or version the index does not have.
    PackageNotFound,
    /// The requirements (and, under `imagePackages: protect`, the image's own packages) cannot
    /// all be satisfied together.
    DependencyConflict,
    /// A downloaded file does not match its expected hash.
    HashMismatch,
    /// The packages volume is full.
    DiskFull,
    /// The packages volume is not writable by the image's user.
    Permission,
    /// Another pod's install of the same environment did not finish in time.
    LockTimeout,
    /// The kubelet killed the init container (or the installer) for its memory limit.
    OutOfMemory,
    /// Anything else; the init container's log has the details.
    Unknown,
}

wire_names!(PackagesState, CacheMode, InstallErrorType);

impl InstallErrorType {
    /// Every error type, in declaration order (the set of the `error_type` label values).
    pub const ALL: [InstallErrorType; 11] = [
        Self::Network,
        Self::Timeout,
        Self::Authentication,
        Self::PackageNotFound,
        Self::DependencyConflict,
        Self::HashMismatch,
        Self::DiskFull,
        Self::Permission,
        Self::LockTimeout,
        Self::OutOfMemory,
        Self::Unknown,
    ];

    /// One line telling the user what to do.
    pub fn message(self) -> &'static str {
        match self {
            Self::Network => {
                "Cannot reach package index. Check network connectivity and firewall rules."
            }
            Self::Timeout => "Installation timed out. Consider increasing installPolicy.timeout.",
            Self::Authentication => {
                "Authentication failed. Check credentials in referenced Secret."
            }
            Self::PackageNotFound => "Package not found in index. Verify package name and version.",
            Self::DependencyConflict => {
                "Dependency conflict between requested packages. Relax or align the version constraints."
            }
            Self::HashMismatch => {
                "Package integrity check failed. The downloaded file does not match its expected hash."
            }
            Self::DiskFull => {
                "No space left for packages, even after removing unused environments. Increase pythonPackages.cache.size."
            }
            Self::Permission => {
                "The packages volume is not writable by the image's user. Set template.pod.securityContext.fsGroup to that user's group."
            }
            Self::LockTimeout => {
                "Timed out waiting for another pod's install to finish. Check that pod's init container logs."
            }
            Self::OutOfMemory => {
                "The install ran out of memory. Raise pythonPackages.resources.limits.memory."
            }
            Self::Unknown => {
                "Package installation failed. See the install-packages init container logs."
            }
        }
    }
}
