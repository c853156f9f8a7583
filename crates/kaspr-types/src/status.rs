//! `status`: what the operator observed, written through the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition types the operator sets.
pub mod condition {
    pub const READY: &str = "Ready";
    pub const PROGRESSING: &str = "Progressing";
    pub const PYTHON_PACKAGES_READY: &str = "PythonPackagesReady";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KasprAppStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready replicas out of desired, e.g. `2/3` (a string, as upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_members: Option<String>,
    /// `Ready`, `Progressing`, `PythonPackagesReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_packages: Option<PythonPackagesStatus>,
}

/// What happened to the app's Python packages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PythonPackagesStatus {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_mode: Option<CacheMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_usage: Option<CacheUsage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// One actionable line; never holds a credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<InstallErrorType>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PackagesState {
    Pending,
    Installing,
    Ready,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// One PVC shared by the replicas.
    SharedPvc,
    /// An emptyDir per pod.
    PerPod,
}

/// Usage of the filesystem holding the packages, from statvfs in the init container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheUsage {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub usage_percent: f64,
}

/// Why an install failed: the one catalogue of install errors. The script reports only the type
/// (its serde name) and a detail line; the message users read is [`InstallErrorType::message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstallErrorType {
    Network,
    Timeout,
    Authentication,
    PackageNotFound,
    DependencyConflict,
    HashMismatch,
    DiskFull,
    /// The packages volume is not writable by the image's user.
    Permission,
    LockTimeout,
    /// The kubelet killed the init container (or the installer) for its memory limit.
    OutOfMemory,
    Unknown,
}

impl InstallErrorType {
    /// The wire name, as in the report and in metrics labels (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::Authentication => "authentication",
            Self::PackageNotFound => "package_not_found",
            Self::DependencyConflict => "dependency_conflict",
            Self::HashMismatch => "hash_mismatch",
            Self::DiskFull => "disk_full",
            Self::Permission => "permission",
            Self::LockTimeout => "lock_timeout",
            Self::OutOfMemory => "out_of_memory",
            Self::Unknown => "unknown",
        }
    }

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
