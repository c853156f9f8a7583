//! `spec.pythonPackages`: what to install into every replica, from where, and how.

use garde::Validate;
use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::defaults::{self, limits};
use crate::validate::{checks, patterns};
use crate::wire::wire_names;

/// Python packages installed by an init container before the app starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = Rule::new("!has(self.credentials) || has(self.indexUrl)")
    .message("credentials requires indexUrl: credentials are only ever sent to the host of indexUrl")
    .field_path(".credentials"))]
pub struct PythonPackagesSpec {
    /// PEP 508 requirements, e.g. `requests==2.31.0`, `pandas>=2.0`, `uvicorn[standard]`.
    /// Installer options (`--index-url`, `-e`) are not accepted: use the fields below.
    #[schemars(length(min = 1, max = limits::MAX_PACKAGES))]
    #[schemars(inner(length(min = 1, max = limits::MAX_REQUIREMENT_LEN), regex(pattern = patterns::REQUIREMENT)))]
    #[garde(
        custom(|v: &Vec<String>, _: &()| checks::package_list(v, &())),
        inner(custom(checks::requirement))
    )]
    pub packages: Vec<String>,

    /// Base URL of the package index (pip's `--index-url`), e.g. `https://pypi.example.com/simple`.
    /// No `user:password@` inside: put credentials in a Secret and use `credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = limits::MAX_URL_LEN), regex(pattern = patterns::INDEX_URL))]
    #[garde(inner(custom(checks::index_url)))]
    pub index_url: Option<String>,

    /// Further indexes searched besides `indexUrl` (pip's `--extra-index-url`). Credentials go
    /// only to those on the server of `indexUrl` (same scheme, host and port). A repeated entry
    /// is used once (with a warning), as upstream accepted repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = limits::MAX_LIST_LEN), extend("x-kubernetes-list-type" = "atomic"))]
    #[schemars(inner(length(max = limits::MAX_URL_LEN), regex(pattern = patterns::INDEX_URL)))]
    #[garde(inner(custom(checks::index_url)))]
    pub extra_index_urls: Vec<String>,

    /// Hosts whose TLS certificate is not verified (pip's `--trusted-host`): `host` or `host:port`.
    /// A repeated host (in any case) is used once, with a warning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = limits::MAX_LIST_LEN), extend("x-kubernetes-list-type" = "atomic"))]
    #[schemars(inner(length(min = 1, max = 261), regex(pattern = patterns::TRUSTED_HOST)))]
    #[garde(inner(custom(checks::trusted_host)))]
    pub trusted_hosts: Vec<String>,

    /// Username and password for `indexUrl`, read from a Secret in the app's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub credentials: Option<PythonPackagesCredentials>,

    /// Retries, timeout and what happens when the install fails.
    #[serde(default)]
    #[garde(dive)]
    pub install_policy: InstallPolicy,

    /// The installer run inside the app's image.
    #[serde(default)]
    #[garde(skip)]
    pub installer: Installer,

    /// What happens to distributions the image already has (the Kaspr framework and its
    /// dependencies): `protect` keeps the image's versions (the installer resolves with them as
    /// constraints, and a requirement that needs another version fails as
    /// `dependency_conflict`); `override` lets the packages replace them, and the status lists
    /// every image package the environment shadows.
    #[serde(default)]
    #[garde(skip)]
    pub image_packages: ImagePackages,

    /// Where installed environments live: a per-pod emptyDir, or a PVC shared by the replicas.
    #[serde(default)]
    #[garde(dive)]
    pub cache: PackagesCache,

    /// Resources of the `install-packages` init container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub resources: Option<ResourceRequirements>,
}

impl PythonPackagesSpec {
    /// `extraIndexUrls`, each once, in the order first written.
    pub fn distinct_extra_index_urls(&self) -> Vec<&str> {
        distinct(&self.extra_index_urls, str::to_owned)
    }

    /// `trustedHosts`, each once (hostnames are compared without case), in the order first
    /// written.
    pub fn distinct_trusted_hosts(&self) -> Vec<&str> {
        distinct(&self.trusted_hosts, str::to_ascii_lowercase)
    }
}

fn distinct(values: &[String], key: fn(&str) -> String) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .map(String::as_str)
        .filter(|v| seen.insert(key(v)))
        .collect()
}

/// Where the credentials for `indexUrl` come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PythonPackagesCredentials {
    /// A Secret in the app's namespace and the keys holding username and password.
    #[garde(dive)]
    pub secret_ref: SecretKeysRef,
}

/// A Secret in the app's namespace and the keys holding username and password.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeysRef {
    /// Name of the Secret (a DNS-1123 subdomain).
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS1123_SUBDOMAIN))]
    #[garde(custom(checks::dns1123_subdomain))]
    pub name: String,
    /// Key of the username in the Secret.
    #[serde(default = "defaults::username_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::SECRET_KEY))]
    #[garde(custom(checks::secret_key))]
    pub username_key: String,
    /// Key of the password in the Secret.
    #[serde(default = "defaults::password_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::SECRET_KEY))]
    #[garde(custom(checks::secret_key))]
    pub password_key: String,
}

/// Retries, timeout and failure behaviour of the install.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallPolicy {
    /// Retries after a failed attempt; attempts = retries + 1. Permanent errors (authentication,
    /// package not found, dependency conflict, hash mismatch) are not retried.
    #[serde(default = "defaults::install_retries")]
    #[schemars(range(min = 0, max = limits::MAX_RETRIES))]
    #[garde(custom(|v: &u32, _: &()| checks::number_in(*v, 0, limits::MAX_RETRIES)))]
    pub retries: u32,
    /// Seconds allowed for each attempt.
    #[serde(default = "defaults::install_timeout")]
    #[schemars(range(min = limits::MIN_TIMEOUT_SECONDS, max = limits::MAX_TIMEOUT_SECONDS))]
    #[garde(custom(|v: &u32, _: &()| checks::number_in(*v, limits::MIN_TIMEOUT_SECONDS, limits::MAX_TIMEOUT_SECONDS)))]
    pub timeout: u32,
    /// `block`: the pod does not start without its packages. `allow`: it starts without them and
    /// the status says why.
    #[serde(default)]
    #[garde(skip)]
    pub on_failure: OnFailure,
}

impl Default for InstallPolicy {
    fn default() -> Self {
        Self {
            retries: defaults::INSTALL_RETRIES,
            timeout: defaults::INSTALL_TIMEOUT_SECONDS,
            on_failure: OnFailure::default(),
        }
    }
}

impl InstallPolicy {
    /// How many times the installer may run: the first attempt plus the retries.
    pub fn attempts(&self) -> u32 {
        self.retries + 1
    }
}

/// What a failed install does to the pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// The init container fails; the pod does not start.
    #[default]
    Block,
    /// The pod starts without the packages; status reports the error.
    Allow,
}

/// The installer run in the app's image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Installer {
    /// `python3 -m pip`.
    #[default]
    Pip,
    /// `uv pip`; `uv` must be on the image's PATH.
    Uv,
}

/// Whether user packages may replace the image's own distributions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImagePackages {
    /// The image's versions win; a conflicting requirement fails the install.
    #[default]
    Protect,
    /// The packages may replace image distributions; each one shadowed is reported.
    Override,
}

/// The packages cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = Rule::new("!has(self.type) || self.type != 'gcs' || has(self.gcs)")
    .message("cache.type is gcs but cache.gcs is missing: add cache.gcs with bucket and secretRef.name")
    .field_path(".gcs"))]
pub struct PackagesCache {
    /// The cache backend. `pvc` (default): with `enabled`, one PVC shared by the replicas. `gcs`:
    /// each pod installs into its own emptyDir, fetching the environment from a Google Cloud
    /// Storage bucket when another pod already built it (see `gcs`); `enabled` is implied.
    #[serde(default, rename = "type")]
    #[garde(skip)]
    pub type_: CacheType,
    /// `false`: each pod installs into its own emptyDir. `true`: one PVC shared by the replicas;
    /// one pod installs and the others reuse.
    #[serde(default)]
    #[garde(skip)]
    pub enabled: bool,
    /// Storage class of the PVC; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[garde(inner(custom(checks::plain_text)))]
    pub storage_class: Option<String>,
    /// Size of the PVC, e.g. `1Gi`. It may grow, never shrink.
    #[serde(default = "defaults::cache_size")]
    #[schemars(regex(pattern = patterns::QUANTITY))]
    #[x_kube(validation = Rule::new("quantity(self).compareTo(quantity(oldSelf)) >= 0")
        .message("cache.size may grow but not shrink: a PVC cannot be made smaller"))]
    #[garde(custom(checks::plain_text))]
    pub size: String,
    /// Access mode of the PVC. `ReadWriteOnce` with more than one replica only works when all
    /// replicas land on one node.
    #[serde(default)]
    #[garde(skip)]
    pub access_mode: CacheAccessMode,
    /// `true`: the PVC is owned by the KasprApp and deleted with it.
    #[serde(default = "defaults::cache_delete_claim")]
    #[garde(skip)]
    pub delete_claim: bool,
    /// Environments kept besides the current one, for pods of an older rollout.
    #[serde(default = "defaults::cache_keep_envs")]
    #[schemars(range(max = limits::MAX_KEEP_ENVS))]
    #[garde(custom(|v: &u32, _: &()| checks::number_in(*v, 0, limits::MAX_KEEP_ENVS)))]
    pub keep_envs: u32,
    /// The bucket of `type: gcs` (required with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub gcs: Option<GcsCache>,
}

impl PackagesCache {
    /// Whether pods share one PVC (`type: pvc` with `enabled`).
    pub fn uses_pvc(&self) -> bool {
        self.enabled && self.type_ == CacheType::Pvc
    }
}

impl Default for PackagesCache {
    fn default() -> Self {
        Self {
            type_: CacheType::default(),
            enabled: false,
            storage_class: None,
            size: defaults::CACHE_SIZE.to_owned(),
            access_mode: CacheAccessMode::default(),
            delete_claim: defaults::CACHE_DELETE_CLAIM,
            keep_envs: defaults::CACHE_KEEP_ENVS,
            gcs: None,
        }
    }
}

/// The backend of the packages cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheType {
    /// A PersistentVolumeClaim shared by the replicas (when `enabled`).
    #[default]
    Pvc,
    /// Archives of built environments in a Google Cloud Storage bucket.
    Gcs,
}

/// A Google Cloud Storage bucket holding archives of built environments, as
/// `<prefix><app name>/<packages hash>.tar.gz`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcsCache {
    /// The bucket name.
    #[schemars(length(min = 3, max = 222), regex(pattern = patterns::GCS_BUCKET))]
    #[garde(custom(checks::gcs_bucket))]
    pub bucket: String,
    /// Prefix of the archive names in the bucket.
    #[serde(default = "defaults::gcs_prefix")]
    #[schemars(length(max = 512))]
    #[garde(custom(checks::plain_text))]
    pub prefix: String,
    /// Largest archive uploaded; a bigger environment is installed but not uploaded.
    #[serde(default = "defaults::gcs_max_archive_size")]
    #[schemars(regex(pattern = patterns::QUANTITY))]
    #[garde(custom(checks::quantity))]
    pub max_archive_size: String,
    /// The Secret holding the service account key (JSON) with access to the bucket.
    #[garde(dive)]
    pub secret_ref: GcsSecretRef,
}

impl GcsCache {
    /// `maxArchiveSize` in bytes (rounded down); None when it is not a quantity (validation
    /// refuses that).
    pub fn max_archive_bytes(&self) -> Option<u64> {
        crate::quantity_bytes(&self.max_archive_size).map(|b| b.max(0.0) as u64)
    }
}

/// A Secret in the app's namespace and the key holding a service account key file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcsSecretRef {
    /// Name of the Secret (a DNS-1123 subdomain).
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS1123_SUBDOMAIN))]
    #[garde(custom(checks::dns1123_subdomain))]
    pub name: String,
    /// Key of the service account key JSON in the Secret.
    #[serde(default = "defaults::gcs_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::SECRET_KEY))]
    #[garde(custom(checks::secret_key))]
    pub key: String,
}

/// Access mode of the packages PVC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CacheAccessMode {
    /// Every replica mounts the PVC, from any node.
    #[default]
    ReadWriteMany,
    /// The PVC is mounted by one node at a time.
    ReadWriteOnce,
}

wire_names!(
    OnFailure,
    Installer,
    ImagePackages,
    CacheAccessMode,
    CacheType
);
