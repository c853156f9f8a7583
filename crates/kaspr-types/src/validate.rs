//! Validation the API server cannot do: PEP 508 parsing, URL parsing, uniqueness after
//! normalisation, the size of the packages list, characters no user string may hold. The
//! operator refuses to roll out a spec that fails here, and `render` prints the errors.
//!
//! Every error names the field path as a user writes it (`spec.pythonPackages.extraIndexUrls[1]`),
//! the offending value (with any URL userinfo replaced by `****`; never at all when it holds a
//! control character) and what would be accepted.

use std::fmt;

use garde::Validate;

use crate::KasprAppSpec;

/// One rejected field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path from the resource root, e.g. `spec.pythonPackages.packages[0]`.
    pub path: String,
    /// What is wrong and what is accepted (credentials redacted).
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// All rejected fields of a spec, sorted by path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl KasprAppSpec {
    /// Checks the spec beyond what the CRD schema enforces.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut errors = match self.validate() {
            Ok(()) => Vec::new(),
            Err(report) => report
                .iter()
                .map(|(path, error)| FieldError {
                    path: user_path(&path.to_string()),
                    message: error.message().to_owned(),
                })
                .collect(),
        };
        errors.extend(cross_field_errors(self));
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// Things that are allowed but probably not what the user meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let (Some(_), Some(version)) = (&self.image, &self.version)
            && !crate::versions::find(version).is_some_and(|v| v.supported)
        {
            warnings.push(format!(
                "spec.version {version:?} is not a supported Kaspr version; it is ignored because \
                 spec.image is set"
            ));
        }
        if let Some(pp) = &self.python_packages {
            if self.image.is_some() {
                warnings.push(
                    "spec.image is set together with spec.pythonPackages: the packages are installed \
                     with the python3 of that image, which must also contain the Kaspr runtime"
                        .to_owned(),
                );
            }
            let replicas = self.replicas.unwrap_or(1);
            if pp.cache.uses_pvc()
                && pp.cache.access_mode == crate::CacheAccessMode::ReadWriteOnce
                && replicas > 1
            {
                warnings.push(format!(
                    "spec.pythonPackages.cache.accessMode is ReadWriteOnce with {replicas} replicas: \
                     replicas scheduled on other nodes cannot mount the cache; use ReadWriteMany"
                ));
            }
        }
        warnings
    }
}

/// Rules that span fields. The CRD has them as CEL too; they are repeated here for `render` and
/// for API servers that skip CEL.
fn cross_field_errors(spec: &KasprAppSpec) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = spec
        .unknown_fields
        .keys()
        .map(|k| FieldError {
            path: format!("spec.{k}"),
            message: "unknown field; check its spelling against the KasprApp reference \
                      (`kubectl explain kasprapp.spec`)"
                .to_owned(),
        })
        .collect();
    errors.extend(version_error(spec));
    errors.extend(gcs_error(spec));
    if let Some(pp) = &spec.python_packages
        && pp.credentials.is_some()
        && pp.index_url.is_none()
    {
        errors.push(FieldError {
            path: "spec.pythonPackages.credentials".to_owned(),
            message: "credentials requires indexUrl: credentials are only sent to the host of \
                      indexUrl; set spec.pythonPackages.indexUrl to your private index"
                .to_owned(),
        });
    }
    errors
}

/// `cache.type: gcs` needs its bucket.
fn gcs_error(spec: &KasprAppSpec) -> Option<FieldError> {
    let cache = &spec.python_packages.as_ref()?.cache;
    (cache.type_ == crate::CacheType::Gcs && cache.gcs.is_none()).then(|| FieldError {
        path: "spec.pythonPackages.cache.gcs".to_owned(),
        message: "cache.type is gcs but cache.gcs is missing; add cache.gcs with bucket and \
                  secretRef.name (the Secret holding the service account key), or set \
                  cache.type: pvc"
            .to_owned(),
    })
}

/// Without `spec.image`, `spec.version` must be one the operator supports (as upstream, which
/// refuses the app permanently; with an image it ignores the version, and so does this). The
/// message lists what is supported, so the fix is in the error.
fn version_error(spec: &KasprAppSpec) -> Option<FieldError> {
    let image_set = spec.image.as_deref().is_some_and(|i| !i.is_empty());
    let version = spec
        .version
        .as_deref()
        .filter(|v| !v.is_empty() && !image_set)?;
    if crate::versions::find(version).is_some_and(|v| v.supported) {
        return None;
    }
    let supported = crate::versions::supported();
    let newest = supported
        .iter()
        .take(12)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    Some(FieldError {
        path: "spec.version".to_owned(),
        message: format!(
            "Kaspr version {version:?} is not supported by this operator; supported versions \
             (newest first): {newest}{more}; set one of them, or remove spec.version to run the \
             default {default}",
            more = if supported.len() > 12 {
                format!(" and {} older", supported.len() - 12)
            } else {
                String::new()
            },
            default = crate::versions::DEFAULT_VERSION,
        ),
    })
}

/// garde reports Rust field names (`python_packages.extra_index_urls[1]`); users write the
/// serde names (`spec.pythonPackages.extraIndexUrls[1]`). Every field is `camelCase` on the wire.
fn user_path(garde_path: &str) -> String {
    let mut out = String::from("spec");
    if !garde_path.is_empty() && !garde_path.starts_with('[') {
        out.push('.');
    }
    let mut upper = false;
    for c in garde_path.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// Regular expressions written into the CRD schema (RE2 syntax, checked by the API server).
pub mod patterns {
    /// Starts like a PEP 508 name (so no `-e` or `--index-url`), one line: no control character
    /// (`\p{Cc}`: any of them would split or bend the one-a-line list the script reads) and no
    /// Unicode line or paragraph separator.
    pub const REQUIREMENT: &str = r"^[A-Za-z0-9][^\p{Cc}\x{2028}\x{2029}]*$";
    /// http(s), a host without `user:password@`, no whitespace or control character, no fragment.
    pub const INDEX_URL: &str =
        r"^https?://[^/?#@\s\p{Cc}\x{2028}\x{2029}]+([/?][^#\s\p{Cc}\x{2028}\x{2029}]*)?$";
    /// A hostname, IPv4 address or bracketed IPv6 address, with an optional port.
    pub const TRUSTED_HOST: &str = r"^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$";
    /// A Kubernetes object name (DNS-1123 subdomain), e.g. a Secret's.
    pub const DNS1123_SUBDOMAIN: &str =
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    /// A Cloud Storage bucket name: lowercase letters, digits, `-`, `_` and `.`, starting and
    /// ending with a letter or digit.
    pub const GCS_BUCKET: &str = r"^[a-z0-9][-_.a-z0-9]*[a-z0-9]$";
    /// A key of a Secret's data.
    pub const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";
    /// A non-negative Kubernetes quantity such as `1Gi` or `500M`.
    pub const QUANTITY: &str = r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
}

/// Most bytes the `packages` list may take joined one per line (what the init container gets in
/// its `PACKAGES` environment variable). Linux refuses to start a process with one environment
/// string over 128 KiB (E2BIG); a quarter of that leaves room for everything else in the
/// environment and still fits 200 ordinary requirements many times over.
pub const MAX_PACKAGES_TEXT_BYTES: usize = 32 * 1024;

/// The garde custom validators. Each error message says what was wrong and what is accepted, and
/// shows the value only with any credential hidden.
pub(crate) mod checks;
