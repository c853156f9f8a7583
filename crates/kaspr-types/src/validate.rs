//! Validation the API server cannot do: PEP 508 parsing, URL parsing, uniqueness after
//! normalisation, the size of the packages list, characters no user string may hold. The
//! operator refuses to roll out a spec that fails here, and `render` prints the errors.
//!
//! It also repeats everything the CRD's OpenAPI schema refuses that serde does not (each
//! `pattern`, `minLength`/`maxLength`, `minimum`/`maximum`, `minItems`/`maxItems` under `spec`)
//! and its CEL rules that need no stored object, so that `render` refuses offline what the API
//! server would refuse. `tests/schema_constraints.rs` walks the generated CRD and proves it for
//! every constraint there. Rules comparing with the stored object (`oldSelf`, e.g. `cache.size`
//! may not shrink) can only be checked by the API server.
//!
//! Every error names the field path as a user writes it (`spec.pythonPackages.extraIndexUrls[1]`),
//! the offending value (with any URL userinfo replaced by `****`; never at all when it holds a
//! control character) and what would be accepted.

use std::collections::HashSet;
use std::fmt;

use garde::Validate;

use crate::KasprAppSpec;
use crate::defaults::limits;

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
    /// Checks the spec: everything the CRD schema enforces that serde does not (patterns,
    /// lengths, ranges, list sizes, CEL rules without `oldSelf`), and beyond it. At most one
    /// error per field from the per-field rules.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut errors: Vec<FieldError> = match self.validate() {
            Ok(()) => Vec::new(),
            Err(report) => report
                .iter()
                .map(|(path, error)| FieldError {
                    path: user_path(&path.to_string()),
                    message: error.message().to_owned(),
                })
                .collect(),
        };
        let reported: HashSet<String> = errors.iter().map(|e| e.path.clone()).collect();
        errors.extend(
            schema_errors(self)
                .into_iter()
                .filter(|e| !reported.contains(&e.path)),
        );
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
        let mut warnings: Vec<String> = self
            .unknown_fields
            .keys()
            .map(|k| {
                format!(
                    "spec.{k} is not a KasprApp field and is ignored; check its spelling \
                     (`kubectl explain kasprapp.spec`)"
                )
            })
            .collect();
        if let (Some(_), Some(version)) = (&self.image, &self.version)
            && !crate::versions::find(version).is_some_and(|v| v.supported)
        {
            warnings.push(format!(
                "spec.version {version:?} is not a supported Kaspr version; it is ignored because \
                 spec.image is set"
            ));
        }
        if let Some(pp) = &self.python_packages {
            for (key, all, distinct) in [
                (
                    "extraIndexUrls",
                    pp.extra_index_urls.len(),
                    pp.distinct_extra_index_urls(),
                ),
                (
                    "trustedHosts",
                    pp.trusted_hosts.len(),
                    pp.distinct_trusted_hosts(),
                ),
            ] {
                if all > distinct.len() {
                    warnings.push(format!(
                        "spec.pythonPackages.{key} lists an entry more than once; each is used \
                         once ({} of {all})",
                        distinct.len()
                    ));
                }
            }
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

/// The schema's `storageClass` lengths (a Kubernetes object name).
const STORAGE_CLASS_LEN: (usize, usize) = (1, 253);
/// The schema's `maxLength` of `cache.gcs.prefix`.
const MAX_GCS_PREFIX_LEN: usize = 512;

/// What the CRD's OpenAPI schema refuses that neither serde nor the garde rules of the types
/// catch: the constraints of fields whose rule is `skip` or only `plain_text`. (Patterns and
/// lengths of requirements, URLs, hosts, Secret names and keys and bucket names are in their
/// garde rules, `checks::requirement` and so on.)
fn schema_errors(spec: &KasprAppSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut field = |path: String, result: garde::Result| {
        if let Err(e) = result {
            errors.push(FieldError {
                path,
                message: e.message().to_owned(),
            });
        }
    };
    let at_least =
        |value: Option<i32>, min: i64| checks::at_least(value.map_or(min, i64::from), min);

    field(
        "spec.bootstrapServers".to_owned(),
        checks::min_chars(&spec.bootstrap_servers, 1).map_err(|_| {
            garde::Error::new(
                "empty; write the Kafka bootstrap servers as host:port, comma separated, \
                 e.g. \"kafka:9092\"",
            )
        }),
    );
    field("spec.replicas".to_owned(), at_least(spec.replicas, 0));
    for (name, probe) in [
        ("livenessProbe", &spec.liveness_probe),
        ("readinessProbe", &spec.readiness_probe),
    ] {
        let Some(p) = probe else { continue };
        for (key, value, min) in [
            ("failureThreshold", p.failure_threshold, 1),
            ("initialDelaySeconds", p.initial_delay_seconds, 0),
            ("periodSeconds", p.period_seconds, 1),
            ("successThreshold", p.success_threshold, 1),
            ("timeoutSeconds", p.timeout_seconds, 1),
        ] {
            field(format!("spec.{name}.{key}"), at_least(value, min));
        }
    }
    if let Some(size) = spec.storage.as_ref().and_then(|s| s.size.as_ref()) {
        field("spec.storage.size".to_owned(), checks::quantity(size, &()));
    }
    if let Some(pod) = spec.template.as_ref().and_then(|t| t.pod.as_ref()) {
        field(
            "spec.template.pod.terminationGracePeriodSeconds".to_owned(),
            checks::at_least(pod.termination_grace_period_seconds.unwrap_or(0), 0),
        );
        for (i, volume) in pod.volumes.iter().enumerate() {
            field(
                format!("spec.template.pod.volumes[{i}].name"),
                checks::min_chars(&volume.name, 1),
            );
        }
    }
    let Some(pp) = &spec.python_packages else {
        return errors;
    };
    let p = "spec.pythonPackages";
    for (key, list) in [
        ("extraIndexUrls", &pp.extra_index_urls),
        ("trustedHosts", &pp.trusted_hosts),
    ] {
        field(
            format!("{p}.{key}"),
            checks::count_in(list, 0, limits::MAX_LIST_LEN, "entries"),
        );
    }
    if let Some(class) = &pp.cache.storage_class {
        let (min, max) = STORAGE_CLASS_LEN;
        field(
            format!("{p}.cache.storageClass"),
            checks::min_chars(class, min).and_then(|()| checks::max_chars(class, max)),
        );
    }
    field(
        format!("{p}.cache.size"),
        checks::quantity(&pp.cache.size, &()),
    );
    if let Some(gcs) = &pp.cache.gcs {
        field(
            format!("{p}.cache.gcs.prefix"),
            checks::max_chars(&gcs.prefix, MAX_GCS_PREFIX_LEN),
        );
        field(
            format!("{p}.cache.gcs.maxArchiveSize"),
            checks::quantity(&gcs.max_archive_size, &()),
        );
    }
    errors
}

/// Rules that span fields. The CRD has them as CEL too; they are repeated here for `render` and
/// for API servers that skip CEL.
fn cross_field_errors(spec: &KasprAppSpec) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = Vec::new();
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

/// Whether `value` is a DNS-1123 subdomain (the name of most Kubernetes objects): at most 253
/// characters, dot-separated labels of lowercase letters, digits and `-`, not starting or
/// ending with `-`.
pub fn is_dns1123_subdomain(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// The garde custom validators. Each error message says what was wrong and what is accepted, and
/// shows the value only with any credential hidden.
pub(crate) mod checks;
