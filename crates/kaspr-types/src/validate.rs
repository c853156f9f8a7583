//! Validation the API server cannot do: PEP 508 parsing, URL parsing, uniqueness after
//! normalisation. The operator refuses to roll out a spec that fails here, and `render` prints
//! the errors.
//!
//! Every error names the field path as a user writes it (`spec.pythonPackages.extraIndexUrls[1]`),
//! the offending value (with any credential redacted) and what would be accepted.

use std::fmt;

use garde::Validate;

use crate::KasprAppSpec;

/// One rejected field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path from the resource root, e.g. `spec.pythonPackages.packages[0]`.
    pub path: String,
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

impl ValidationErrors {
    /// The errors at exactly this path.
    pub fn at(&self, path: &str) -> Vec<&FieldError> {
        self.0.iter().filter(|e| e.path == path).collect()
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
        if let Some(pp) = &self.python_packages {
            if self.image.is_some() {
                warnings.push(
                    "spec.image is set together with spec.pythonPackages: the packages are installed \
                     with the python3 of that image, which must also contain the Kaspr runtime"
                        .to_owned(),
                );
            }
            let replicas = self.replicas.unwrap_or(1);
            if pp.cache.enabled
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
    /// Starts like a PEP 508 name (so no `-e` or `--index-url`), one line.
    pub const REQUIREMENT: &str = r"^[A-Za-z0-9][^\r\n]*$";
    /// http(s), a host without `user:password@`, no whitespace, no fragment.
    pub const INDEX_URL: &str = r"^https?://[^/?#@\s]+([/?][^#\s]*)?$";
    /// A hostname, IPv4 address or bracketed IPv6 address, with an optional port.
    pub const TRUSTED_HOST: &str = r"^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$";
    pub const DNS1123_SUBDOMAIN: &str =
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    pub const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";
    /// A non-negative Kubernetes quantity such as `1Gi` or `500M`.
    pub const QUANTITY: &str = r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
}

/// The garde custom validators. Each error message says what was wrong and what is accepted.
pub(crate) mod checks {
    use std::collections::HashSet;
    use std::net::Ipv6Addr;
    use std::str::FromStr;

    use url::Url;

    type Result = garde::Result;

    fn fail(message: String) -> Result {
        Err(garde::Error::new(message))
    }

    /// A value quoted for an error message, shortened so a huge value cannot flood a condition.
    fn quoted(value: &str) -> String {
        const MAX: usize = 120;
        let mut s: String = value.chars().take(MAX).collect();
        if value.chars().count() > MAX {
            s.push('…');
        }
        format!("{s:?}")
    }

    pub fn requirement<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        if value.trim().is_empty() {
            return fail(
                "empty requirement; write a PEP 508 requirement such as \"requests==2.31.0\""
                    .into(),
            );
        }
        if value.contains(['\n', '\r']) {
            return fail(format!(
                "{} spans several lines; list one requirement per item",
                quoted(value)
            ));
        }
        if value.trim_start().starts_with('-') {
            return fail(format!(
                "{} is an installer option, not a requirement; use indexUrl, extraIndexUrls or \
                 trustedHosts for index options (editable installs are not supported)",
                quoted(value)
            ));
        }
        match pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(value) {
            Ok(req) => match &req.version_or_url {
                Some(pep508_rs::VersionOrUrl::Url(url)) if has_userinfo(url) => fail(format!(
                    "{} embeds credentials in its URL; serve it from indexUrl with credentials.secretRef instead",
                    quoted(&redact_userinfo(value))
                )),
                _ => Ok(()),
            },
            Err(e) => fail(format!(
                "{} is not a PEP 508 requirement ({}); write e.g. \"requests==2.31.0\" or \"pandas>=2.0\"",
                quoted(value),
                first_line(&e.message.to_string())
            )),
        }
    }

    pub fn index_url<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        let shown = quoted(&redact_userinfo(value));
        let accepted = "write an http(s) URL such as \"https://pypi.example.com/simple\"";
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail(format!("{shown} contains whitespace; {accepted}"));
        }
        let url = match Url::parse(value) {
            Ok(url) => url,
            Err(e) => return fail(format!("{shown} is not a URL ({e}); {accepted}")),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return fail(format!(
                "{shown}: scheme {:?} is not supported; {accepted}",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return fail(format!(
                "{shown} embeds credentials; remove them from the URL and reference a Secret with \
                 spec.pythonPackages.credentials.secretRef"
            ));
        }
        // The url crate reads `https:///simple` as host "simple"; the raw text must have one.
        let raw_authority = value
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        if url.host_str().is_none_or(str::is_empty) || raw_authority.starts_with('/') {
            return fail(format!("{shown} has no host; {accepted}"));
        }
        if url.fragment().is_some() {
            return fail(format!(
                "{shown} has a #fragment, which pip ignores; remove it"
            ));
        }
        Ok(())
    }

    pub fn trusted_host<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        let bad = || {
            fail(format!(
                "{} is not a host; write a hostname or IP address with an optional port, \
                 e.g. \"pypi.example.com\" or \"10.0.0.5:8080\" (no scheme or path)",
                quoted(value)
            ))
        };
        let (host, port) = match value.strip_prefix('[') {
            Some(rest) => match rest.split_once(']') {
                Some((ip, tail)) if Ipv6Addr::from_str(ip).is_ok() => (None, tail),
                _ => return bad(),
            },
            None => match value.find(':') {
                Some(i) => (Some(&value[..i]), &value[i..]),
                None => (Some(value), ""),
            },
        };
        if host.is_some_and(|h| !is_hostname(h)) {
            return bad();
        }
        if !port.is_empty() {
            match port.strip_prefix(':').map(u16::from_str) {
                Some(Ok(p)) if p > 0 => {}
                _ => return bad(),
            }
        }
        Ok(())
    }

    fn is_hostname(host: &str) -> bool {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    }

    pub fn dns1123_subdomain<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        let ok = !value.is_empty()
            && value.len() <= 253
            && value.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
        if ok {
            Ok(())
        } else {
            fail(format!(
                "{} is not a valid Secret name; use lowercase letters, digits, '-' and '.' \
                 (a DNS-1123 subdomain, at most 253 characters)",
                quoted(value)
            ))
        }
    }

    pub fn secret_key<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        let ok = !value.is_empty()
            && value.len() <= 253
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(())
        } else {
            fail(format!(
                "{} is not a valid Secret key; use letters, digits, '-', '_' and '.'",
                quoted(value)
            ))
        }
    }

    pub fn unique(values: &[String]) -> Result {
        duplicates(values.iter().map(String::as_str))
    }

    pub fn unique_hosts(values: &[String]) -> Result {
        duplicates(values.iter().map(|h| h.to_ascii_lowercase()))
    }

    fn duplicates<S: AsRef<str>>(values: impl Iterator<Item = S>) -> Result {
        let mut seen = HashSet::new();
        for v in values {
            if !seen.insert(v.as_ref().to_owned()) {
                return fail(format!(
                    "{} is listed more than once; list each entry once",
                    quoted(&redact_userinfo(v.as_ref()))
                ));
            }
        }
        Ok(())
    }

    pub fn count_in<T>(values: &[T], min: usize, max: usize, what: &str) -> Result {
        if (min..=max).contains(&values.len()) {
            Ok(())
        } else {
            fail(format!(
                "{} {what} listed; between {min} and {max} are accepted",
                values.len()
            ))
        }
    }

    pub fn number_in(value: u32, min: u32, max: u32) -> Result {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            fail(format!("{value} is out of range; accepted: {min} to {max}"))
        }
    }

    fn first_line(s: &str) -> &str {
        s.lines().next().unwrap_or_default()
    }

    fn has_userinfo(url: &Url) -> bool {
        !url.username().is_empty() || url.password().is_some()
    }

    /// Replaces `user:password@` in anything URL-like with `***@`, so an error message never
    /// repeats a credential the user pasted by mistake.
    pub fn redact_userinfo(value: &str) -> String {
        let Some(scheme_end) = value.find("://") else {
            return value.to_owned();
        };
        let rest = &value[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => format!("{}://***{}", &value[..scheme_end], &rest[at..]),
            None => value.to_owned(),
        }
    }
}
