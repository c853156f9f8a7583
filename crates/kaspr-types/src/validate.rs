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
    /// Starts like a PEP 508 name (so no `-e` or `--index-url`), one line: no control character
    /// (`\p{Cc}`: any of them would split or bend the one-a-line list the script reads) and no
    /// Unicode line or paragraph separator.
    pub const REQUIREMENT: &str = r"^[A-Za-z0-9][^\p{Cc}\x{2028}\x{2029}]*$";
    /// http(s), a host without `user:password@`, no whitespace or control character, no fragment.
    pub const INDEX_URL: &str =
        r"^https?://[^/?#@\s\p{Cc}\x{2028}\x{2029}]+([/?][^#\s\p{Cc}\x{2028}\x{2029}]*)?$";
    /// A hostname, IPv4 address or bracketed IPv6 address, with an optional port.
    pub const TRUSTED_HOST: &str = r"^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$";
    pub const DNS1123_SUBDOMAIN: &str =
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
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
pub(crate) mod checks {
    use std::collections::HashSet;
    use std::net::Ipv6Addr;
    use std::str::FromStr;

    use pep508_rs::{VerbatimUrl, VersionOrUrl};
    use url::Url;

    use super::MAX_PACKAGES_TEXT_BYTES;
    use crate::defaults::limits;

    type Result = garde::Result;

    fn fail(message: String) -> Result {
        Err(garde::Error::new(message))
    }

    /// Text already redacted, quoted for an error message: `{:?}` escapes anything unprintable and
    /// the length is capped so a huge value cannot flood a condition.
    fn quoted(redacted: &str) -> String {
        const MAX: usize = 120;
        let mut s: String = redacted.chars().take(MAX).collect();
        if redacted.chars().count() > MAX {
            s.push('…');
        }
        format!("{s:?}")
    }

    /// A URL, host, Secret name or key as shown in a message.
    fn shown(value: &str) -> String {
        quoted(&redact_authority(value))
    }

    /// A requirement as shown in a message.
    fn shown_requirement(value: &str) -> String {
        quoted(&redact_requirement(value))
    }

    /// The first character that must not appear in any user string, described for a message.
    /// The install script splits its newline-separated inputs with Python's `splitlines`, which
    /// also breaks at `\x0b`, `\x0c`, `\x1c`-`\x1e`, `\x85`, U+2028 and U+2029: such a character
    /// would turn one checked requirement into two, the second never validated.
    fn forbidden_char(value: &str) -> Option<String> {
        let (i, c) = value
            .chars()
            .enumerate()
            .find(|&(_, c)| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))?;
        let kind = match c {
            '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}'..='\u{1e}' | '\u{85}' => "a line break",
            '\u{2028}' => "the Unicode line separator",
            '\u{2029}' => "the Unicode paragraph separator",
            _ => "the control character",
        };
        Some(format!(
            "contains {kind} U+{:04X} at character {}",
            u32::from(c),
            i + 1
        ))
    }

    /// Refuses control characters and line/paragraph separators. The value itself is not shown:
    /// it holds an unprintable character by definition.
    fn printable(value: &str) -> Result {
        match forbidden_char(value) {
            Some(found) => fail(format!(
                "{found}; control characters and Unicode line or paragraph separators \
                 (U+2028, U+2029) are not accepted: write the value on one line, one item per \
                 list entry"
            )),
            None => Ok(()),
        }
    }

    /// For strings with no rule of their own (storage class, size).
    pub fn plain_text<T: AsRef<str>>(value: &T, _: &()) -> Result {
        printable(value.as_ref())
    }

    /// The whole `packages` list: its length, and its size as the init container receives it.
    pub fn package_list(values: &[String], _: &()) -> Result {
        count_in(values, 1, limits::MAX_PACKAGES, "packages")?;
        let bytes = values.iter().map(String::len).sum::<usize>() + values.len().saturating_sub(1);
        if bytes <= MAX_PACKAGES_TEXT_BYTES {
            return Ok(());
        }
        fail(format!(
            "the requirements take {bytes} bytes joined one per line, over the limit of \
             {MAX_PACKAGES_TEXT_BYTES} bytes (32 KiB): the list reaches the install-packages init \
             container in one environment variable, Linux bounds one at 128 KiB and a container \
             over it cannot start (E2BIG); list fewer or shorter requirements, e.g. only your \
             direct dependencies without pinned constraints of their dependencies, or publish a \
             meta-package that depends on the rest on a private index (indexUrl)"
        ))
    }

    pub fn requirement<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        printable(value)?;
        if value.trim().is_empty() {
            return fail(
                "empty requirement; write a PEP 508 requirement such as \"requests==2.31.0\""
                    .into(),
            );
        }
        if value.trim_start().starts_with('-') {
            return fail(format!(
                "{} is an installer option, not a requirement; use indexUrl, extraIndexUrls or \
                 trustedHosts for index options (editable installs are not supported)",
                shown_requirement(value)
            ));
        }
        // pip expands `${VAR}` in requirement files from the installer's environment, which would
        // let a requirement read (and send to any URL) what the installer can see. pep508_rs
        // expands it too, from the operator's environment, so this check must come first.
        if value.contains("${") {
            return fail(format!(
                "{} contains \"${{\", which pip expands from the installer's environment; write \
                 the value literally (credentials for indexUrl belong in credentials.secretRef)",
                shown_requirement(value)
            ));
        }
        parsed_requirement(value)
    }

    fn parsed_requirement(value: &str) -> Result {
        match pep508_rs::Requirement::<VerbatimUrl>::from_str(value) {
            Ok(req) => match &req.version_or_url {
                Some(VersionOrUrl::Url(url)) => url_requirement(value, url),
                _ => Ok(()),
            },
            Err(e) => {
                // The parser's message may repeat part of the URL; leave it out when that part
                // had to be redacted.
                let detail = if redact_requirement(value) == value {
                    format!(" ({})", first_line(&e.message.to_string()))
                } else {
                    String::new()
                };
                fail(format!(
                    "{} is not a PEP 508 requirement{detail}; write e.g. \"requests==2.31.0\" or \
                     \"pandas>=2.0\"",
                    shown_requirement(value)
                ))
            }
        }
    }

    fn url_requirement(value: &str, url: &VerbatimUrl) -> Result {
        if has_userinfo(url) {
            return fail(format!(
                "{} embeds credentials in its URL; serve it from indexUrl with \
                 credentials.secretRef instead",
                shown_requirement(value)
            ));
        }
        // pep508_rs ends a URL only at whitespace followed by `;`, `#` or the end, so in
        // `pkg @ URL junk` it takes "URL junk" as the URL; pip refuses such a line.
        if url.given().is_some_and(|g| g.contains(char::is_whitespace)) {
            return fail(format!(
                "{} has text after its URL; a URL requirement may be followed only by an \
                 environment marker, e.g. \"pkg @ https://host/pkg-1.0-py3-none-any.whl ; \
                 python_version >= '3.9'\"",
                shown_requirement(value)
            ));
        }
        Ok(())
    }

    pub fn index_url<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        printable(value)?;
        let shown = shown(value);
        let accepted = "write an http(s) URL such as \"https://pypi.example.com/simple\"";
        if value.contains(char::is_whitespace) {
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
        if has_userinfo(&url) {
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
        printable(value)?;
        let bad = || {
            fail(format!(
                "{} is not a host; write a hostname or IP address with an optional port, \
                 e.g. \"pypi.example.com\" or \"10.0.0.5:8080\" (no scheme, path or user)",
                shown(value)
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
        printable(value)?;
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
                shown(value)
            ))
        }
    }

    pub fn secret_key<T: AsRef<str>>(value: &T, _: &()) -> Result {
        let value = value.as_ref();
        printable(value)?;
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
                shown(value)
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
                    shown(v.as_ref())
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

    /// Hides everything from after `://` (or from the start, without a scheme) up to the last
    /// `@` as `****@`. In index URLs, trusted hosts and Secret names an `@` has no other use, so
    /// whatever precedes it may be a credential, even in text that does not parse as a URL (a
    /// password holding `/` or a space, or no scheme). Hiding too much is harmless here.
    pub fn redact_authority(value: &str) -> String {
        let start = value.find("://").map_or(0, |i| i + 3);
        match value[start..].rfind('@') {
            Some(at) => format!("{}****{}", &value[..start], &value[start + at..]),
            None => value.to_owned(),
        }
    }

    /// Like [`redact_authority`], but in a requirement without a scheme the first `@` may be the
    /// one between the name and the URL (`pkg @ user:pw@host/x.whl`), which is kept.
    pub fn redact_requirement(value: &str) -> String {
        if value.contains("://") {
            return redact_authority(value);
        }
        match value.split_once('@') {
            Some((name, rest)) if is_name_part(name) => {
                let lead = rest.len() - rest.trim_start().len();
                format!(
                    "{name}@{}{}",
                    &rest[..lead],
                    redact_authority(&rest[lead..])
                )
            }
            _ => redact_authority(value),
        }
    }

    /// What may stand before the `@` of a URL requirement: a name with optional extras.
    fn is_name_part(text: &str) -> bool {
        text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '[' | ']' | ',' | ' ')
        })
    }
}
