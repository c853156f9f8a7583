//! The operator's own settings: what applies to every app it manages, read once at start.

/// Environment variable of the image registry put in front of every app's image, as upstream
/// names it (e.g. `registry.example.com/mirror` turns `kasprio/kaspr:0.11.19` into
/// `registry.example.com/mirror/kasprio/kaspr:0.11.19`).
pub const IMAGE_REGISTRY_ENV: &str = "KASPR_IMAGE_REGISTRY";

/// Operator-wide settings that shape the children it builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Registry prefix for every app's image (`KASPR_IMAGE_REGISTRY`); None or empty: none.
    pub image_registry: Option<String>,
}

impl Settings {
    /// From the process environment (what `run` and `render` use).
    pub fn from_env() -> Self {
        Self {
            image_registry: std::env::var(IMAGE_REGISTRY_ENV)
                .ok()
                .filter(|r| !r.trim().is_empty()),
        }
    }
}
