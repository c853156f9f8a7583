//! Requirement forms pip accepts besides PEP 508, turned into PEP 508 once, so the validator, the
//! packages hash and the installer all read the same line.

use std::borrow::Cow;

/// Schemes of a bare URL requirement (`git+ssh://host/repo.git@v1#egg=name`).
const URL_SCHEMES: &[&str] = &[
    "git+", "hg+", "svn+", "bzr+", "http://", "https://", "file://",
];

/// `URL#egg=name` (pip's legacy form, which upstream's examples use) as `name @ URL`; any other
/// fragment part (`subdirectory=…`) stays on the URL. Everything else is returned unchanged
/// (trimmed).
///
/// ```
/// use kaspr_types::requirement::normalize;
/// assert_eq!(
///     normalize("git+ssh://git@github.com/acme/lib.git@v1.2.3#egg=acme-lib"),
///     "acme-lib @ git+ssh://git@github.com/acme/lib.git@v1.2.3"
/// );
/// assert_eq!(normalize(" requests==2.31.0 "), "requests==2.31.0");
/// ```
pub fn normalize(raw: &str) -> Cow<'_, str> {
    let line = raw.trim();
    let lower = line.to_ascii_lowercase();
    if !URL_SCHEMES.iter().any(|s| lower.starts_with(s)) {
        return Cow::Borrowed(line);
    }
    let Some((url, fragment)) = line.split_once('#') else {
        return Cow::Borrowed(line);
    };
    let mut name = None;
    let mut rest = Vec::new();
    for part in fragment.split('&') {
        match part.strip_prefix("egg=") {
            Some(egg) if name.is_none() && !egg.is_empty() => name = Some(egg),
            _ => rest.push(part),
        }
    }
    let Some(name) = name else {
        return Cow::Borrowed(line);
    };
    let url = if rest.is_empty() {
        url.to_owned()
    } else {
        format!("{url}#{}", rest.join("&"))
    };
    Cow::Owned(format!("{name} @ {url}"))
}
