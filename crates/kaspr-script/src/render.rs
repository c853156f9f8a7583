//! Rendering the script and listing the environment it needs.

use askama::Template;
use kaspr_hash::PackagesHash;
use kaspr_types::{CacheMode, CacheType, PythonPackagesSpec};

/// Names of the environment variables the script reads.
pub mod env_names {
    pub const PACKAGES: &str = "PACKAGES";
    pub const INDEX_URL: &str = "INDEX_URL";
    pub const EXTRA_INDEX_URLS: &str = "EXTRA_INDEX_URLS";
    pub const TRUSTED_HOSTS: &str = "TRUSTED_HOSTS";
    pub const PYPI_USERNAME: &str = "PYPI_USERNAME";
    pub const PYPI_PASSWORD: &str = "PYPI_PASSWORD";
    pub const PACKAGES_HASH: &str = "PACKAGES_HASH";
    pub const POD_NAME: &str = "POD_NAME";
    /// `cache.type: gcs` only: the app's name (the object names are `<prefix><app>/...`).
    pub const APP_NAME: &str = "KASPR_APP_NAME";
    /// `cache.type: gcs` only: `cache.gcs.bucket`.
    pub const GCS_BUCKET: &str = "GCS_BUCKET";
    /// `cache.type: gcs` only: `cache.gcs.prefix`.
    pub const GCS_PREFIX: &str = "GCS_PREFIX";
    /// `cache.type: gcs` only: `cache.gcs.maxArchiveSize` in bytes.
    pub const GCS_MAX_ARCHIVE_BYTES: &str = "GCS_MAX_ARCHIVE_BYTES";
    /// Not set by the operator: the Cloud Storage JSON API base URL, default
    /// `https://storage.googleapis.com` (a template env may point it elsewhere; the tests do).
    pub const GCS_ENDPOINT: &str = "KASPR_GCS_ENDPOINT";
}

/// The Cloud Storage JSON API the script talks to unless `KASPR_GCS_ENDPOINT` says otherwise.
pub const DEFAULT_GCS_ENDPOINT: &str = "https://storage.googleapis.com";

/// Longest pause between two attempts.
const BACKOFF_CAP_SECONDS: u32 = 60;
/// Beyond the attempt timeout, how long a lease may go without a heartbeat before it is stale.
const STALE_MARGIN_SECONDS: u32 = 300;
/// Slack on top of the longest legitimate hold of the lock.
const LOCK_WAIT_MARGIN_SECONDS: u32 = 120;
/// `timeout -k`: grace after SIGTERM before the installer is killed.
const KILL_GRACE_SECONDS: u32 = 10;

/// Where things live inside the pod. The defaults are the operator's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The packages root: the shared PVC, or a per-pod emptyDir when the cache is off.
    pub root: String,
    /// The per-pod symlink the main container's PYTHONPATH names.
    pub site_link: String,
    /// Where the JSON report goes (the container's terminationMessagePath).
    pub report: String,
    /// The live set: the operator's list of packages hashes in use, one a line (a ConfigMap
    /// volume). Garbage collection never removes a listed env, and removes none when the file
    /// is missing or unreadable.
    pub live_hashes: String,
    /// `cache.type: gcs`: the service account key file (JSON), mounted from the Secret into the
    /// init container only.
    pub gcs_key: String,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            root: "/packages".into(),
            site_link: "/python-env/site".into(),
            report: "/dev/termination-log".into(),
            live_hashes: "/python-packages-live/live-hashes".into(),
            gcs_key: "/var/run/secrets/kaspr-gcs/sa.json".into(),
        }
    }
}

/// Where an environment variable's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSource {
    /// A literal value.
    Value(String),
    /// A key of a Secret in the pod's namespace (`secretKeyRef`).
    SecretKey { secret: String, key: String },
    /// The pod's own name (downward API `metadata.name`).
    PodName,
    /// The KasprApp's name (the operator writes it as a value).
    AppName,
}

/// One environment variable of the init container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptEnv {
    pub name: &'static str,
    pub source: EnvSource,
}

/// The rendered script and the environment it expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallScript {
    /// Run it with `/bin/sh -c`.
    pub script: String,
    pub env: Vec<ScriptEnv>,
}

#[derive(Template)]
#[template(path = "install.sh")]
struct InstallTemplate<'a> {
    root: &'a str,
    site_link: &'a str,
    report_path: &'a str,
    live_hashes: &'a str,
    gcs_key: &'a str,
    installer: &'static str,
    image_packages: &'static str,
    cache_mode: &'static str,
    attempts: u32,
    timeout: u32,
    lock_wait: u32,
    stale_after: u32,
    keep_envs: u32,
    backoff_cap: u32,
    on_failure: &'static str,
}

/// How long the script waits on other pods. The operator always renders [`Waits::for_spec`];
/// tests of the protocol may shorten the waits to prove what happens when they run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waits {
    /// Seconds to wait for another pod's install lock.
    pub lock_wait: u32,
    /// Seconds without a heartbeat after which a lease is stale.
    pub stale_after: u32,
}

impl Waits {
    /// As long as the spec lets an install legitimately take, plus margins.
    pub fn for_spec(spec: &PythonPackagesSpec) -> Self {
        let policy = &spec.install_policy;
        Self {
            lock_wait: lock_wait_seconds(policy.attempts(), policy.timeout),
            stale_after: policy.timeout.saturating_add(STALE_MARGIN_SECONDS),
        }
    }
}

/// Renders the install script for a validated spec.
///
/// Call `KasprAppSpec::check` first: this function trusts the spec's numbers and enums (they are
/// all it writes into the script) and passes every string through the environment.
pub fn render(
    spec: &PythonPackagesSpec,
    hash: &PackagesHash,
    paths: &Paths,
) -> Result<InstallScript, askama::Error> {
    render_with_waits(spec, hash, paths, Waits::for_spec(spec))
}

/// [`render`] with other waits.
pub fn render_with_waits(
    spec: &PythonPackagesSpec,
    hash: &PackagesHash,
    paths: &Paths,
    waits: Waits,
) -> Result<InstallScript, askama::Error> {
    let policy = &spec.install_policy;
    let template = InstallTemplate {
        root: &paths.root,
        site_link: &paths.site_link,
        report_path: &paths.report,
        live_hashes: &paths.live_hashes,
        gcs_key: &paths.gcs_key,
        installer: spec.installer.as_str(),
        image_packages: spec.image_packages.as_str(),
        cache_mode: cache_mode(spec).as_str(),
        attempts: policy.attempts(),
        timeout: policy.timeout,
        lock_wait: waits.lock_wait,
        stale_after: waits.stale_after,
        keep_envs: spec.cache.keep_envs,
        backoff_cap: BACKOFF_CAP_SECONDS,
        on_failure: policy.on_failure.as_str(),
    };
    Ok(InstallScript {
        script: template.render()?,
        env: script_env(spec, hash),
    })
}

/// Where the env lives: the shared PVC, a per-pod emptyDir, or a per-pod emptyDir filled from a
/// bucket.
pub fn cache_mode(spec: &PythonPackagesSpec) -> CacheMode {
    if spec.cache.uses_pvc() {
        CacheMode::SharedPvc
    } else if spec.cache.type_ == CacheType::Gcs && spec.cache.gcs.is_some() {
        CacheMode::Gcs
    } else {
        CacheMode::PerPod
    }
}

/// How long a pod waits for another pod's install: as long as that install may legitimately
/// take (every attempt at its timeout plus the kill grace and the backoff), plus a margin.
fn lock_wait_seconds(attempts: u32, timeout: u32) -> u32 {
    let per_attempt = timeout
        .saturating_add(KILL_GRACE_SECONDS)
        .saturating_add(BACKOFF_CAP_SECONDS);
    attempts
        .saturating_mul(per_attempt)
        .saturating_add(LOCK_WAIT_MARGIN_SECONDS)
}

fn script_env(spec: &PythonPackagesSpec, hash: &PackagesHash) -> Vec<ScriptEnv> {
    use env_names::*;
    let value = |name, v: String| ScriptEnv {
        name,
        source: EnvSource::Value(v),
    };
    let mut env = vec![
        value(
            PACKAGES,
            spec.packages
                .iter()
                .map(|p| kaspr_types::requirement::normalize(p))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        value(PACKAGES_HASH, hash.to_string()),
        ScriptEnv {
            name: POD_NAME,
            source: EnvSource::PodName,
        },
    ];
    if let Some(url) = &spec.index_url {
        env.push(value(INDEX_URL, url.clone()));
    }
    if !spec.extra_index_urls.is_empty() {
        let urls = spec.distinct_extra_index_urls();
        env.push(value(EXTRA_INDEX_URLS, urls.join("\n")));
    }
    if !spec.trusted_hosts.is_empty() {
        let hosts = spec.distinct_trusted_hosts();
        env.push(value(TRUSTED_HOSTS, hosts.join("\n")));
    }
    if let Some(gcs) = spec
        .cache
        .gcs
        .as_ref()
        .filter(|_| cache_mode(spec) == CacheMode::Gcs)
    {
        env.push(ScriptEnv {
            name: APP_NAME,
            source: EnvSource::AppName,
        });
        env.push(value(GCS_BUCKET, gcs.bucket.clone()));
        env.push(value(GCS_PREFIX, gcs.prefix.clone()));
        // Validation refuses a maxArchiveSize that is no quantity; were one to slip through,
        // 0 uploads nothing (and says so) rather than anything unbounded.
        env.push(value(
            GCS_MAX_ARCHIVE_BYTES,
            gcs.max_archive_bytes().unwrap_or(0).to_string(),
        ));
    }
    if let Some(creds) = &spec.credentials {
        let secret = &creds.secret_ref;
        for (name, key) in [
            (PYPI_USERNAME, &secret.username_key),
            (PYPI_PASSWORD, &secret.password_key),
        ] {
            env.push(ScriptEnv {
                name,
                source: EnvSource::SecretKey {
                    secret: secret.name.clone(),
                    key: key.clone(),
                },
            });
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> PythonPackagesSpec {
        serde_yaml::from_str(yaml).expect("test spec")
    }

    #[test]
    fn a_repeated_index_or_host_reaches_the_installer_once() {
        let s = spec(
            "packages: [requests]\nextraIndexUrls: [https://a.example/s, https://b.example/s, https://a.example/s]\ntrustedHosts: [A.example, a.example]\n",
        );
        let hash = kaspr_hash::packages_hash(&s).expect("hash");
        let out = render(&s, &hash, &Paths::default()).expect("renders");
        let value = |name: &str| {
            out.env
                .iter()
                .find(|e| e.name == name)
                .and_then(|e| match &e.source {
                    EnvSource::Value(v) => Some(v.clone()),
                    _ => None,
                })
        };
        assert_eq!(
            value("EXTRA_INDEX_URLS").as_deref(),
            Some("https://a.example/s\nhttps://b.example/s")
        );
        assert_eq!(value("TRUSTED_HOSTS").as_deref(), Some("A.example"));
    }

    #[test]
    fn user_strings_travel_in_the_environment_not_the_script() {
        let s = spec(
            "packages: [requests==2.31.0]\nindexUrl: https://idx.example/simple\nextraIndexUrls: [https://x.example/s]\ntrustedHosts: [idx.example]\ncredentials: {secretRef: {name: creds, passwordKey: pw}}\n",
        );
        let hash = kaspr_hash::packages_hash(&s).expect("hash");
        let out = render(&s, &hash, &Paths::default()).expect("renders");
        for user_string in ["requests", "idx.example", "x.example", "creds"] {
            assert!(
                !out.script.contains(user_string),
                "{user_string} is in the script text"
            );
        }
        let names: Vec<&str> = out.env.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "PACKAGES",
                "PACKAGES_HASH",
                "POD_NAME",
                "INDEX_URL",
                "EXTRA_INDEX_URLS",
                "TRUSTED_HOSTS",
                "PYPI_USERNAME",
                "PYPI_PASSWORD"
            ]
        );
        let password = out
            .env
            .iter()
            .find(|e| e.name == env_names::PYPI_PASSWORD)
            .expect("password env");
        assert_eq!(
            password.source,
            EnvSource::SecretKey {
                secret: "creds".into(),
                key: "pw".into()
            }
        );
    }

    #[test]
    fn policy_numbers_are_rendered() {
        let s = spec(
            "packages: [a]\ninstallPolicy: {retries: 2, timeout: 100, onFailure: allow}\ncache: {keepEnvs: 4}\n",
        );
        let hash = kaspr_hash::packages_hash(&s).expect("hash");
        let script = render(&s, &hash, &Paths::default())
            .expect("renders")
            .script;
        for line in [
            "ATTEMPTS=3",
            "TIMEOUT=100",
            "ON_FAILURE=allow",
            "KEEP_ENVS=4",
            "STALE_AFTER=400",
            "LOCK_WAIT=630",
        ] {
            assert!(script.lines().any(|l| l == line), "missing {line}");
        }
    }

    #[test]
    fn odd_paths_are_quoted() {
        let s = spec("packages: [a]\n");
        let hash = kaspr_hash::packages_hash(&s).expect("hash");
        let paths = Paths {
            root: "/data/my packages".into(),
            site_link: "/env/$(x)".into(),
            report: "/dev/termination-log".into(),
            live_hashes: "/live/live-hashes".into(),
            gcs_key: "/keys/sa.json".into(),
        };
        let script = render(&s, &hash, &paths).expect("renders").script;
        assert!(script.contains("KASPR_ROOT='/data/my packages'"));
        assert!(script.contains("KASPR_SITE_LINK='/env/$(x)'"));
    }

    #[test]
    fn helper_has_no_single_quote() {
        // It is embedded in the script between single quotes.
        for (name, text) in [
            ("helper.py", include_str!("../templates/helper.py")),
            ("classify.py", include_str!("../templates/classify.py")),
            ("image.py", include_str!("../templates/image.py")),
            ("space.py", include_str!("../templates/space.py")),
            ("gcs.py", include_str!("../templates/gcs.py")),
            ("main.py", include_str!("../templates/main.py")),
        ] {
            assert!(!text.contains('\''), "{name} holds a single quote");
        }
    }

    #[test]
    fn gcs_settings_travel_in_the_environment() {
        let s = spec(
            "packages: [a]\ncache: {type: gcs, gcs: {bucket: my-bucket, prefix: team/, maxArchiveSize: 512Mi, secretRef: {name: gcs-key}}}\n",
        );
        let hash = kaspr_hash::packages_hash(&s).expect("hash");
        let out = render(&s, &hash, &Paths::default()).expect("renders");
        assert!(out.script.lines().any(|l| l == "KASPR_CACHE_MODE=gcs"));
        assert!(
            out.script
                .lines()
                .any(|l| l == "KASPR_GCS_KEY=/var/run/secrets/kaspr-gcs/sa.json")
        );
        for user_string in ["my-bucket", "team/", "gcs-key"] {
            assert!(
                !out.script.contains(user_string),
                "{user_string} in the script"
            );
        }
        let get = |name: &str| {
            out.env
                .iter()
                .find(|e| e.name == name)
                .map(|e| e.source.clone())
        };
        assert_eq!(get(env_names::APP_NAME), Some(EnvSource::AppName));
        assert_eq!(
            get(env_names::GCS_BUCKET),
            Some(EnvSource::Value("my-bucket".into()))
        );
        assert_eq!(
            get(env_names::GCS_PREFIX),
            Some(EnvSource::Value("team/".into()))
        );
        assert_eq!(
            get(env_names::GCS_MAX_ARCHIVE_BYTES),
            Some(EnvSource::Value("536870912".into()))
        );
        // The key is a file the operator mounts, never a variable; the endpoint is not set.
        assert!(out.env.iter().all(|e| e.name != env_names::GCS_ENDPOINT
            && !matches!(e.source, EnvSource::SecretKey { .. })));

        // Without type: gcs, none of it.
        let pvc = spec("packages: [a]\ncache: {enabled: true}\n");
        let out = render(&pvc, &hash, &Paths::default()).expect("renders");
        assert!(
            out.script
                .lines()
                .any(|l| l == "KASPR_CACHE_MODE=shared-pvc")
        );
        assert!(
            out.env
                .iter()
                .all(|e| !e.name.starts_with("GCS_") && e.name != env_names::APP_NAME)
        );
    }
}
