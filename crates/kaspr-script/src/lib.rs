//! The install protocol between the operator and the `install-packages` init container: the
//! script that runs in every pod, and the report it leaves behind. The protocol itself (inputs,
//! layout of the packages volume, steps, garbage collection, errors, the report) is
//! `docs/install-protocol.md` in the repository.
//!
//! [`render`] turns a validated `pythonPackages` spec and its hash into the script text plus the
//! environment variables the init container must carry. No user-supplied string ever becomes
//! script text: packages, URLs, hosts and credentials travel in those variables.
//! [`InstallReport::parse`] reads what the script wrote to the termination-message path.
//!
//! # Example
//!
//! ```
//! use kaspr_script::{EnvSource, InstallReport, InstallResult, Paths, env_names, render};
//! use kaspr_types::PythonPackagesSpec;
//!
//! let spec: PythonPackagesSpec = serde_yaml::from_str(
//!     r#"
//! packages: ["requests==2.31.0", "pandas>=2.0"]
//! indexUrl: https://pypi.example.com/simple
//! credentials: {secretRef: {name: pypi-creds}}
//! "#,
//! )?;
//! let hash = kaspr_hash::packages_hash(&spec)?;
//! let rendered = render(&spec, &hash, &Paths::default())?;
//!
//! // The script is run with `/bin/sh -c`; what the user wrote is only in its environment.
//! assert!(!rendered.script.contains("requests") && !rendered.script.contains("pypi.example.com"));
//! let packages = rendered.env.iter().find(|e| e.name == env_names::PACKAGES).expect("PACKAGES");
//! assert_eq!(packages.source, EnvSource::Value("requests==2.31.0\npandas>=2.0".into()));
//! // The password is never a value: the pod reads it from the Secret.
//! let password = rendered.env.iter().find(|e| e.name == env_names::PYPI_PASSWORD).expect("password");
//! assert_eq!(
//!     password.source,
//!     EnvSource::SecretKey { secret: "pypi-creds".into(), key: "password".into() }
//! );
//!
//! // What the script reports when it is done, as the operator reads it from the pod.
//! let report = InstallReport::parse(&format!(
//!     r#"{{"v":1,"result":"installed","hash":"{hash}","pythonTag":"cp311","installer":"pip",
//!         "pod":"orders-app-0","startedAt":"2026-01-01T10:00:00Z",
//!         "finishedAt":"2026-01-01T10:00:45Z","durationSeconds":45.0,"attempts":1}}"#
//! ))?;
//! assert_eq!(report.result, InstallResult::Installed);
//! assert_eq!(report.hash, hash.as_str());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod escape;
mod render;
mod report;

pub use render::{
    DEFAULT_GCS_ENDPOINT, EnvSource, InstallScript, Paths, ScriptEnv, Waits, cache_mode, env_names,
    render, render_with_waits,
};
pub use report::{
    CacheBytes, GcsReport, InstallReport, InstallResult, REPORT_MAX_BYTES, ReportError,
};
