//! Every default of the API, in one place.
//!
//! The serde `default` functions in the type modules return these constants, and schemars copies
//! them into the CRD as `default:`, so the API server, the operator and `render` agree.

/// `installPolicy.retries`: attempts are `retries + 1`.
pub const INSTALL_RETRIES: u32 = 3;
/// `installPolicy.timeout`, seconds per attempt.
pub const INSTALL_TIMEOUT_SECONDS: u32 = 600;
/// `cache.size` of the shared packages PVC: upstream's, so an app taken over without a size
/// keeps its PVC as it is (growing it would need a class that allows expansion).
pub const CACHE_SIZE: &str = "256Mi";
/// `cache.deleteClaim`: the PVC goes with the KasprApp.
pub const CACHE_DELETE_CLAIM: bool = true;
/// `cache.keepEnvs`: environments kept besides the current one.
pub const CACHE_KEEP_ENVS: u32 = 2;
/// `cache.gcs.prefix` (upstream's).
pub const GCS_PREFIX: &str = "kaspr-packages/";
/// `cache.gcs.maxArchiveSize` (upstream's).
pub const GCS_MAX_ARCHIVE_SIZE: &str = "1Gi";
/// `cache.gcs.secretRef.key` (upstream's).
pub const GCS_KEY: &str = "sa.json";
/// Secret key holding the index username.
pub const CREDENTIALS_USERNAME_KEY: &str = "username";
/// Secret key holding the index password.
pub const CREDENTIALS_PASSWORD_KEY: &str = "password";

/// Limits that the schema and the validator share.
pub mod limits {
    /// Most requirements one app may list.
    pub const MAX_PACKAGES: usize = 200;
    /// Longest requirement string.
    pub const MAX_REQUIREMENT_LEN: usize = 1024;
    /// Longest index URL.
    pub const MAX_URL_LEN: usize = 2048;
    /// Most extra indexes / trusted hosts.
    pub const MAX_LIST_LEN: usize = 32;
    /// Most `installPolicy.retries`.
    pub const MAX_RETRIES: u32 = 10;
    /// Least `installPolicy.timeout`, seconds.
    pub const MIN_TIMEOUT_SECONDS: u32 = 10;
    /// Most `installPolicy.timeout`, seconds (a day).
    pub const MAX_TIMEOUT_SECONDS: u32 = 86_400;
    /// Most `cache.keepEnvs`.
    pub const MAX_KEEP_ENVS: u32 = 50;
}

pub(crate) fn install_retries() -> u32 {
    INSTALL_RETRIES
}
pub(crate) fn install_timeout() -> u32 {
    INSTALL_TIMEOUT_SECONDS
}
pub(crate) fn cache_size() -> String {
    CACHE_SIZE.to_owned()
}
pub(crate) fn cache_delete_claim() -> bool {
    CACHE_DELETE_CLAIM
}
pub(crate) fn cache_keep_envs() -> u32 {
    CACHE_KEEP_ENVS
}
pub(crate) fn username_key() -> String {
    CREDENTIALS_USERNAME_KEY.to_owned()
}
pub(crate) fn password_key() -> String {
    CREDENTIALS_PASSWORD_KEY.to_owned()
}
pub(crate) fn gcs_prefix() -> String {
    GCS_PREFIX.to_owned()
}
pub(crate) fn gcs_max_archive_size() -> String {
    GCS_MAX_ARCHIVE_SIZE.to_owned()
}
pub(crate) fn gcs_key() -> String {
    GCS_KEY.to_owned()
}
