//! The report the script writes to the termination-message path, and its parser.
//!
//! The operator reads it from `pod.status.initContainerStatuses[].state.terminated.message`, so it
//! needs no `pods/exec`. Kubernetes keeps at most 4096 bytes of that message; the script keeps the
//! report within that, dropping `installed` entries first (`installedTruncated`).

use kaspr_types::{InstallErrorType, Installer};
use serde::{Deserialize, Serialize};

/// Kubernetes' limit on a termination message, and so on the report.
pub const REPORT_MAX_BYTES: usize = 4096;

/// The only report version this crate reads.
pub const REPORT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallResult {
    /// This pod ran the installer and published the environment.
    Installed,
    /// The environment was already published (by this pod earlier, or another one).
    Cached,
    Failed,
}

/// Filesystem usage of the packages root, from statvfs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheBytes {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
}

impl CacheBytes {
    /// Used share of the filesystem, 0–100.
    pub fn usage_percent(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            self.used_bytes as f64 * 100.0 / self.total_bytes as f64
        }
    }
}

/// One run of the install script, as it reported itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallReport {
    pub v: u32,
    pub result: InstallResult,
    pub hash: String,
    pub python_tag: String,
    /// What makes a built env unusable elsewhere (interpreter, ABI flags, CPU, libc), e.g.
    /// `cpython-311-x86_64-linux-gnu`; the env key is `<hash>-<abiTag>`.
    #[serde(default)]
    pub abi_tag: Option<String>,
    /// The env this pod uses (or would have): `envs/<envKey>` on the packages volume.
    #[serde(default)]
    pub env_key: Option<String>,
    pub installer: Installer,
    pub pod: String,
    #[serde(default)]
    pub cache_mode: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    /// Installer runs; 0 on a hit. Retries are `attempts - 1`.
    pub attempts: u32,
    #[serde(default)]
    pub installed_by: Option<String>,
    #[serde(default)]
    pub installed_at: Option<String>,
    #[serde(default)]
    pub install_duration_seconds: Option<f64>,
    #[serde(default)]
    pub installed: Vec<String>,
    #[serde(default)]
    pub installed_truncated: bool,
    #[serde(default)]
    pub env_bytes: Option<u64>,
    #[serde(default)]
    pub cache: Option<CacheBytes>,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub error_type: Option<InstallErrorType>,
    /// One detail line (the installer's last error line, or what the script saw), credentials
    /// redacted. The message for the type is `InstallErrorType::message`, on the Rust side.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub stale_lock_recovered: bool,
    /// Under `cache.type: gcs`: what the bucket did for this run.
    #[serde(default)]
    pub gcs: Option<GcsReport>,
}

/// The bucket's part in one run (`cache.type: gcs`). Values are strings, so a newer script's
/// words never make a report unreadable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcsReport {
    /// The archive's object name in the bucket: `<prefix><app>/<env key>.tar.gz`.
    pub object: String,
    /// The env was downloaded from the bucket (no installer ran).
    pub from_bucket: bool,
    /// `hit` (downloaded, verified, used), `miss` (not in the bucket), `invalid` (corrupt,
    /// truncated or another env: ignored and replaced), `error` (key, token, permission or
    /// network: a warning says which), `local` (the env was already on this pod's volume, e.g.
    /// the init container ran again).
    pub fetch: String,
    /// After an install: `uploaded`, `exists` (another pod uploaded it first), `too_large`
    /// (over `maxArchiveSize`), `failed` (a warning says why) or `skipped` (the key did not
    /// work for the download either). Absent when nothing was installed.
    #[serde(default)]
    pub upload: Option<String>,
    /// Size of the archive downloaded or uploaded.
    #[serde(default)]
    pub archive_bytes: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("install report is {0} bytes, over the {REPORT_MAX_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("install report is not valid: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error("install report has version {0}; this operator reads version {REPORT_VERSION}")]
    UnsupportedVersion(u32),
}

impl InstallReport {
    /// Parses a termination message. Anything that is not a v1 report is an error, so that a
    /// crash message from the container is never mistaken for a result.
    pub fn parse(text: &str) -> Result<Self, ReportError> {
        if text.len() > REPORT_MAX_BYTES {
            return Err(ReportError::TooLarge(text.len()));
        }
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version = serde_json::from_str(text)?;
        if version.v != REPORT_VERSION {
            return Err(ReportError::UnsupportedVersion(version.v));
        }
        Ok(serde_json::from_str(text)?)
    }

    /// Retries spent: attempts beyond the first.
    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CACHED: &str = r#"{"v":1,"result":"cached","hash":"c69dac6587e76619","pythonTag":"cp39","installer":"pip",
 "pod":"orders-app-2","startedAt":"2026-11-26T10:31:02Z","finishedAt":"2026-11-26T10:31:02Z",
 "durationSeconds":0.02,"attempts":0,"installedBy":"orders-app-0",
 "installedAt":"2026-11-26T10:30:45Z","installDurationSeconds":45.1,
 "installed":["pandas==2.1.0","numpy==1.26.4","requests==2.31.0"],"envBytes":312475648,
 "cache":{"totalBytes":5368709120,"usedBytes":2684354560,"availableBytes":2684354560},
 "warnings":[]}"#;

    #[test]
    fn parses_the_design_example() {
        let r = InstallReport::parse(CACHED).expect("parses");
        assert_eq!(r.result, InstallResult::Cached);
        assert_eq!(r.installed_by.as_deref(), Some("orders-app-0"));
        assert_eq!(r.installed.len(), 3);
        assert_eq!(r.cache.as_ref().map(CacheBytes::usage_percent), Some(50.0));
        assert_eq!(r.retries(), 0);
    }

    #[test]
    fn rejects_other_versions_garbage_and_oversize() {
        assert!(matches!(
            InstallReport::parse(&CACHED.replace("\"v\":1", "\"v\":2")),
            Err(ReportError::UnsupportedVersion(2))
        ));
        assert!(matches!(
            InstallReport::parse("Error: OOMKilled"),
            Err(ReportError::Invalid(_))
        ));
        let big = format!("{}{}", CACHED, " ".repeat(REPORT_MAX_BYTES));
        assert!(matches!(
            InstallReport::parse(&big),
            Err(ReportError::TooLarge(_))
        ));
    }

    #[test]
    fn parses_a_failure() {
        let text = r#"{"v":1,"result":"failed","hash":"c69dac6587e76619","pythonTag":"cp311","installer":"uv",
          "pod":"a-app-0","startedAt":"x","finishedAt":"y","durationSeconds":1.5,"attempts":4,
          "errorType":"network","error":"Cannot reach package index.","warnings":[]}"#;
        let r = InstallReport::parse(text).expect("parses");
        assert_eq!(r.error_type, Some(InstallErrorType::Network));
        assert_eq!(r.retries(), 3);
    }

    #[test]
    fn parses_the_gcs_block_and_tolerates_new_words() {
        let text = r#"{"v":1,"result":"cached","hash":"ac12abe5ac44c1b5","pythonTag":"cp311","installer":"pip",
          "pod":"orders-app-1","cacheMode":"gcs","startedAt":"x","finishedAt":"y","durationSeconds":1.3,
          "attempts":0,"warnings":[],
          "gcs":{"object":"kaspr-packages/orders/ac12abe5ac44c1b5-cpython-311-x86_64-linux-gnu.tar.gz",
                 "fromBucket":true,"fetch":"hit","archiveBytes":1868}}"#;
        let r = InstallReport::parse(text).expect("parses");
        let g = r.gcs.expect("gcs block");
        assert!(g.from_bucket);
        assert_eq!(g.fetch, "hit");
        assert_eq!(g.upload, None);
        assert_eq!(g.archive_bytes, Some(1868));
        // A word this operator does not know yet is still a report.
        let newer = text.replace("\"fetch\":\"hit\"", "\"fetch\":\"prefetched\"");
        assert!(InstallReport::parse(&newer).is_ok());
        // Reports of the other modes have no block.
        assert_eq!(InstallReport::parse(CACHED).expect("parses").gcs, None);
    }
}
