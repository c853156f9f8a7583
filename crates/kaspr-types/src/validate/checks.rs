//! The garde custom validators. Each error message says what was wrong and what is accepted, and
//! shows the value only with any credential hidden.

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

/// The schema's `maxLength` of `trustedHosts` items: a 253-character hostname and a port.
pub const MAX_TRUSTED_HOST_LEN: usize = 261;

/// At most `max` characters (the schema's `maxLength`, which counts characters, not bytes).
pub fn max_chars(value: &str, max: usize) -> Result {
    let n = value.chars().count();
    if n <= max {
        Ok(())
    } else {
        fail(format!(
            "{n} characters long; at most {max} characters are accepted"
        ))
    }
}

/// At least `min` characters (the schema's `minLength`).
pub fn min_chars(value: &str, min: usize) -> Result {
    let n = value.chars().count();
    if n >= min {
        Ok(())
    } else if n == 0 {
        fail(format!(
            "empty; at least {min} character{} is required",
            if min == 1 { "" } else { "s" }
        ))
    } else {
        fail(format!(
            "{n} characters long; at least {min} characters are required"
        ))
    }
}

/// At least `min` (the schema's `minimum`).
pub fn at_least(value: i64, min: i64) -> Result {
    if value >= min {
        Ok(())
    } else {
        fail(format!("{value} is out of range; accepted: {min} or more"))
    }
}

/// A Kubernetes quantity as the schema's pattern [`QUANTITY`](super::patterns::QUANTITY)
/// accepts it: a non-negative decimal number with an optional binary (`Ki` … `Ei`), decimal
/// (`n`, `u`, `m`, `k`, `M` … `E`) or exponent (`e3`) suffix.
pub fn quantity<T: AsRef<str>>(value: &T, _: &()) -> Result {
    let value = value.as_ref();
    printable(value)?;
    if is_quantity(value) {
        return Ok(());
    }
    let hint = if value.ends_with(['b', 'B']) {
        " (bytes are implied: \"1Gi\", not \"1Gb\")"
    } else {
        ""
    };
    fail(format!(
        "{} is not a Kubernetes quantity{hint}; write a number with an optional suffix, e.g. \
         \"1Gi\", \"500Mi\" or \"2G\": binary Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or \
         decimal k, M, G, T, P, E (powers of 1000), case-sensitive, no space",
        quoted(value)
    ))
}

/// Whether `value` matches [`QUANTITY`](super::patterns::QUANTITY), written out: the number
/// never ends where a suffix could start, so reading it greedily is exact.
fn is_quantity(value: &str) -> bool {
    /// `[0-9]+(\.[0-9]*)?|\.[0-9]+`: the length of the number at the start of `s`.
    fn number(s: &str) -> Option<usize> {
        let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
        let int = digits(s);
        match s[int..].strip_prefix('.') {
            Some(frac) => {
                let f = digits(frac);
                (int > 0 || f > 0).then_some(int + 1 + f)
            }
            None => (int > 0).then_some(int),
        }
    }
    let Some(n) = number(value) else {
        return false;
    };
    let suffix = &value[n..];
    match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        _ => suffix
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| number(e) == Some(e.len())),
    }
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
    max_chars(value, limits::MAX_REQUIREMENT_LEN)?;
    if value.trim().is_empty() {
        return fail(
            "empty requirement; write a PEP 508 requirement such as \"requests==2.31.0\"".into(),
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
             the value literally: a token belongs in a Secret, given to the install container \
             through spec.template.pythonPackagesInitContainer.env (user guide, \"Private git \
             repositories\"), or in credentials.secretRef for indexUrl",
            shown_requirement(value)
        ));
    }
    parsed_requirement(&crate::requirement::normalize(value))?;
    // The schema's pattern: the line itself starts with the name (pip and the parser above
    // would skip leading blanks; the API server does not).
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return fail(format!(
            "{} does not start with a letter or digit; start the requirement with the package \
             name (no leading blank), e.g. \"requests==2.31.0\"",
            shown_requirement(value)
        ));
    }
    Ok(())
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
    // `git+ssh://git@host/…`: the SSH user is no secret (the key comes from a mounted
    // Secret, see the user guide); a password is.
    let ssh_user_only = url.scheme().ends_with("ssh") && url.password().is_none();
    if has_userinfo(url) && !ssh_user_only {
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
    max_chars(value, limits::MAX_URL_LEN)?;
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
    if url.fragment().is_some() || value.contains('#') {
        return fail(format!(
            "{shown} has a #fragment, which pip ignores; remove it"
        ));
    }
    // The schema's pattern reads the text as written, not as the URL parser normalises it.
    let Some(rest) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    else {
        return fail(format!(
            "{shown}: write the scheme in lowercase, \"http://\" or \"https://\"; {accepted}"
        ));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return fail(format!(
            "{shown} has an '@' before its path, which reads as credentials; remove them from \
             the URL and reference a Secret with spec.pythonPackages.credentials.secretRef"
        ));
    }
    if authority.is_empty() {
        return fail(format!("{shown} has no host; {accepted}"));
    }
    Ok(())
}

pub fn trusted_host<T: AsRef<str>>(value: &T, _: &()) -> Result {
    let value = value.as_ref();
    printable(value)?;
    max_chars(value, MAX_TRUSTED_HOST_LEN)?;
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
        // One to five digits, as the schema's pattern (`u16::from_str` would take "+80").
        let digits = port
            .strip_prefix(':')
            .filter(|d| (1..=5).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
        match digits.map(u16::from_str) {
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
    if super::is_dns1123_subdomain(value) {
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
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '[' | ']' | ',' | ' '))
}

/// A Cloud Storage bucket name (Google's rules, without the domain-name form's extra checks).
pub fn gcs_bucket<T: AsRef<str>>(value: &T, _: &()) -> Result {
    let value = value.as_ref();
    printable(value)?;
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=222).contains(&value.len())
        && edge(value.chars().next())
        && edge(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        fail(format!(
            "{} is not a valid Cloud Storage bucket name; use 3 to 222 lowercase letters, digits, \
             '-', '_' and '.', starting and ending with a letter or digit",
            shown(value)
        ))
    }
}
