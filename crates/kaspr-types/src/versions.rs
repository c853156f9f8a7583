//! The Kaspr versions an app may ask for (`spec.version`) and the image each runs, as the
//! upstream operator ships them (`kaspr/types/config/kaspr_versions.yaml` at v0.18.51), so an app
//! moved from upstream keeps its image.
//!
//! Rows are kept in upstream's order, newest first, one per upstream operator release; a Kaspr
//! version may appear in several rows and then the first one counts (as upstream: `0.7.5` runs
//! `kasprio/kaspr:0.7.6-alpha`).

/// One row of the version table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KasprVersion {
    /// The upstream operator release that introduced this row.
    pub operator_version: &'static str,
    /// The Kaspr version, as written in `spec.version`.
    pub version: &'static str,
    /// The image it runs (before any registry prefix).
    pub image: &'static str,
    /// Whether an app may ask for it.
    pub supported: bool,
}

/// The version of an app without `spec.version` and `spec.image` (upstream's default).
pub const DEFAULT_VERSION: &str = "0.11.19";

/// Every row, newest first.
pub const VERSIONS: &[KasprVersion] = &[
    row("0.18.51", "0.11.19", "kasprio/kaspr:0.11.19", true),
    row("0.18.49", "0.11.18", "kasprio/kaspr:0.11.18", true),
    row("0.18.47", "0.11.17", "kasprio/kaspr:0.11.17", true),
    row("0.18.46", "0.11.16", "kasprio/kaspr:0.11.16", true),
    row("0.18.42", "0.11.15", "kasprio/kaspr:0.11.15", true),
    row("0.18.41", "0.11.14", "kasprio/kaspr:0.11.14", true),
    row("0.18.40", "0.11.13", "kasprio/kaspr:0.11.13", true),
    row("0.18.39", "0.11.12", "kasprio/kaspr:0.11.12", true),
    row("0.18.29", "0.11.11", "kasprio/kaspr:0.11.11", true),
    row("0.18.26", "0.11.9", "kasprio/kaspr:0.11.9", true),
    row("0.18.25", "0.11.8", "kasprio/kaspr:0.11.8", true),
    row("0.18.14", "0.11.7", "kasprio/kaspr:0.11.7", true),
    row("0.18.12", "0.11.6", "kasprio/kaspr:0.11.6", true),
    row("0.18.11", "0.11.5", "kasprio/kaspr:0.11.5", true),
    row("0.18.10", "0.11.4", "kasprio/kaspr:0.11.4", true),
    row("0.18.7", "0.11.2", "kasprio/kaspr:0.11.2", true),
    row("0.18.6", "0.10.6", "kasprio/kaspr:0.10.6", true),
    row("0.18.5", "0.10.5", "kasprio/kaspr:0.10.5-alpha", true),
    row("0.18.4", "0.10.4", "kasprio/kaspr:0.10.4-alpha", true),
    row("0.18.3", "0.10.3", "kasprio/kaspr:0.10.3-alpha", true),
    row("0.18.2", "0.10.2", "kasprio/kaspr:0.10.2-alpha", true),
    row("0.18.1", "0.10.1", "kasprio/kaspr:0.10.1-alpha", true),
    row("0.17.2", "0.9.1", "kasprio/kaspr:0.9.1-alpha", true),
    row("0.17.0", "0.9.1", "kasprio/kaspr:0.9.1-alpha", true),
    row("0.16.0", "0.8.2", "kasprio/kaspr:0.8.2-alpha", true),
    row("0.16.0", "0.8.1", "kasprio/kaspr:0.8.1-alpha", true),
    row("0.16.0", "0.8.0", "kasprio/kaspr:0.8.0-alpha", true),
    row("0.14.5", "0.7.5", "kasprio/kaspr:0.7.6-alpha", true),
    row("0.14.4", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.14.0", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.13.3", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.13.1", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.13.0", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.12.0", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.11.1", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.9.6", "0.7.5", "kasprio/kaspr:0.7.5-alpha", true),
    row("0.9.5", "0.7.4", "kasprio/kaspr:0.7.4-alpha", true),
    row("0.9.4", "0.7.3", "kasprio/kaspr:0.7.3-alpha", true),
    row("0.9.3", "0.7.2", "kasprio/kaspr:0.7.2-alpha", true),
    row("0.9.2", "0.7.1", "kasprio/kaspr:0.7.1-alpha", true),
    row("0.9.0", "0.7.0", "kasprio/kaspr:0.7.0-alpha", true),
    row("0.8.8", "0.6.15", "kasprio/kaspr:0.6.15-alpha", true),
    row("0.8.7", "0.6.15", "kasprio/kaspr:0.6.15-alpha", true),
    row("0.8.5", "0.6.15", "kasprio/kaspr:0.6.15-alpha", true),
    row("0.8.4", "0.6.14", "kasprio/kaspr:0.6.14-alpha", true),
    row("0.8.2", "0.6.13", "kasprio/kaspr:0.6.13-alpha", true),
    row("0.8.0", "0.6.12", "kasprio/kaspr:0.6.12-alpha", true),
    row("0.7.9", "0.6.11", "kasprio/kaspr:0.6.11-alpha", true),
    row("0.7.8", "0.6.11", "kasprio/kaspr:0.6.11-alpha", true),
    row("0.7.6", "0.6.11", "kasprio/kaspr:0.6.11-alpha", true),
    row("0.7.5", "0.6.11", "kasprio/kaspr:0.6.11-alpha", true),
    row("0.7.4", "0.6.11", "kasprio/kaspr:0.6.11-alpha", true),
    row("0.7.1", "0.6.11", "kasprio/kaspr:0.6.11-alpha", true),
    row("0.7.0", "0.6.10", "kasprio/kaspr:0.6.10-alpha", true),
    row("0.6.5", "0.6.9", "kasprio/kaspr:0.6.9-alpha", true),
    row("0.6.3", "0.6.8", "kasprio/kaspr:0.6.8-alpha", true),
    row("0.6.2", "0.6.7", "kasprio/kaspr:0.6.7-alpha", true),
    row("0.6.1", "0.6.7", "kasprio/kaspr:0.6.7-alpha", true),
    row("0.6.0", "0.6.0", "kasprio/kaspr:0.6.6-alpha", true),
    row("0.5.28", "0.5.28", "kasprio/kaspr:0.6.5-alpha", true),
    row("0.5.27", "0.5.27", "kasprio/kaspr:0.6.5-alpha", true),
    row("0.5.26", "0.5.26", "kasprio/kaspr:0.6.4-alpha", true),
    row("0.5.25", "0.5.25", "kasprio/kaspr:0.6.3-alpha", true),
    row("0.5.24", "0.5.24", "kasprio/kaspr:0.6.2-alpha", true),
    row("0.5.22", "0.5.22", "kasprio/kaspr:0.6.1-alpha", true),
    row("0.5.21", "0.5.21", "kasprio/kaspr:0.5.19-alpha", true),
    row("0.5.20", "0.5.20", "kasprio/kaspr:0.5.19-alpha", true),
    row("0.5.19", "0.5.19", "kasprio/kaspr:0.5.18-alpha", true),
    row("0.5.18", "0.5.18", "kasprio/kaspr:0.5.17-alpha", true),
    row("0.5.17", "0.5.17", "kasprio/kaspr:0.5.16-alpha", true),
    row("0.5.16", "0.5.16", "kasprio/kaspr:0.5.15-alpha", true),
    row("0.5.15", "0.5.15", "kasprio/kaspr:0.5.14-alpha", true),
    row("0.5.14", "0.5.14", "kasprio/kaspr:0.5.13-alpha", true),
    row("0.5.13", "0.5.13", "kasprio/kaspr:0.5.12-alpha", true),
    row("0.5.11", "0.5.11", "kasprio/kaspr:0.5.11-alpha", true),
    row("0.5.8", "0.5.10", "kasprio/kaspr:0.5.10-alpha", true),
    row("0.5.5", "0.5.9", "kasprio/kaspr:0.5.9-alpha", true),
    row("0.4.1", "0.5.8", "kasprio/kaspr:0.5.8-alpha", true),
    row("0.4.0", "0.5.6", "kasprio/kaspr:0.5.6-alpha", true),
    row("0.3.9", "0.5.4", "kasprio/kaspr:0.5.4-alpha", true),
    row("0.3.7", "0.5.2", "kasprio/kaspr:0.5.2-alpha", true),
    row("0.3.2", "0.5.1", "kasprio/kaspr:0.5.1-alpha", true),
    row("0.3.1", "0.5.1", "kasprio/kaspr:0.5.1-alpha", true),
    row("0.3.0", "0.4.4", "kasprio/kaspr:0.4.4-alpha", true),
    row("0.2.0", "0.3.0-dev1", "kasprio/kaspr:0.3.0-dev1", true),
    row("0.1.10", "0.2.2-alpha", "kasprio/kaspr:0.2.2-alpha", false),
    row("0.1.10", "0.1.2", "kasprio/kaspr:0.1.2", false),
    row("0.1.10", "0.1.1", "kasprio/kaspr:0.1.1", false),
    row("0.1.0", "0.1.0", "kasprio/kaspr:0.1.0", true),
];

const fn row(
    operator_version: &'static str,
    version: &'static str,
    image: &'static str,
    supported: bool,
) -> KasprVersion {
    KasprVersion {
        operator_version,
        version,
        image,
        supported,
    }
}

/// The row of `version` (the first, as upstream), supported or not.
pub fn find(version: &str) -> Option<&'static KasprVersion> {
    VERSIONS.iter().find(|v| v.version == version)
}

/// The row an app runs when it names no version.
pub fn default_version() -> &'static KasprVersion {
    find(DEFAULT_VERSION).unwrap_or(&VERSIONS[0])
}

/// Every supported version once, newest first: what an error lists.
pub fn supported() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for v in VERSIONS.iter().filter(|v| v.supported) {
        if !out.contains(&v.version) {
            out.push(v.version);
        }
    }
    out
}

/// The image an app runs: `spec.image` if set, else the image of `spec.version` (or of the
/// default version), with `registry` (the operator's `KASPR_IMAGE_REGISTRY`) put in front as
/// upstream does. An unknown version (refused by validation) falls back to the default row; an
/// empty `image` or `version` counts as unset, as upstream.
pub fn image(
    spec_image: Option<&str>,
    spec_version: Option<&str>,
    registry: Option<&str>,
) -> String {
    let image = match (
        spec_image.filter(|i| !i.is_empty()),
        spec_version.filter(|v| !v.is_empty()),
    ) {
        (Some(image), _) => image,
        (None, Some(version)) => find(version).unwrap_or_else(|| default_version()).image,
        (None, None) => default_version().image,
    };
    match registry
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| !r.is_empty())
    {
        Some(registry) => format!("{registry}/{image}"),
        None => image.to_owned(),
    }
}
