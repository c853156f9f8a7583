//! `KasprApp`s and their parts for tests: parsed from YAML (the way users write them) or built.

use kaspr_types::{KasprApp, KasprAppSpec, PythonPackagesSpec};
use serde::de::DeserializeOwned;

/// The namespace [`AppBuilder`] puts apps in.
pub const NAMESPACE: &str = "default";
/// The `metadata.uid` [`AppBuilder`] gives apps (the owner of every child object).
pub const UID: &str = "0b6f2a58-6d1c-4bb1-a1d5-3f1f2b6f0c11";
/// The `bootstrapServers` of built apps.
pub const BOOTSTRAP_SERVERS: &str = "kafka:9092";

/// Parses test YAML (or JSON) into `T`; panics naming the error and showing the text.
///
/// The text may be indented as a whole, as it is when cut from under `pythonPackages:`.
#[track_caller]
pub fn from_yaml<T: DeserializeOwned>(yaml: &str) -> T {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("test YAML must parse: {e}\n{yaml}"))
}

/// A whole `KasprApp` manifest.
#[track_caller]
pub fn app_from_yaml(yaml: &str) -> KasprApp {
    from_yaml(yaml)
}

/// A `pythonPackages` block, e.g. `packages: [requests]\ninstaller: uv`.
#[track_caller]
pub fn python_packages(yaml: &str) -> PythonPackagesSpec {
    from_yaml(yaml)
}

/// A spec with [`BOOTSTRAP_SERVERS`] and the `pythonPackages` block `yaml`.
#[track_caller]
pub fn spec_with_python_packages(yaml: &str) -> KasprAppSpec {
    KasprAppSpec {
        bootstrap_servers: BOOTSTRAP_SERVERS.to_owned(),
        python_packages: Some(python_packages(yaml)),
        ..Default::default()
    }
}

/// A `KasprApp` as the API server would hand it to the operator: named, in [`NAMESPACE`], with
/// [`UID`] and generation 1; everything else at its default until set.
///
/// ```
/// use kaspr_test_support::app::{AppBuilder, app_from_yaml};
///
/// let built = AppBuilder::new("orders")
///     .replicas(2)
///     .python_packages("packages: [requests==2.31.0]\ninstaller: uv")
///     .build();
/// let parsed = app_from_yaml(
///     "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: orders}\n\
///      spec: {bootstrapServers: 'kafka:9092', replicas: 2,\n\
///      pythonPackages: {packages: [requests==2.31.0], installer: uv}}",
/// );
/// assert_eq!(built.spec, parsed.spec);
/// ```
#[derive(Clone, Debug)]
pub struct AppBuilder {
    app: KasprApp,
}

impl AppBuilder {
    /// An app called `name` with no `pythonPackages`.
    pub fn new(name: &str) -> Self {
        let mut app = KasprApp::new(
            name,
            KasprAppSpec {
                bootstrap_servers: BOOTSTRAP_SERVERS.to_owned(),
                ..Default::default()
            },
        );
        app.metadata.namespace = Some(NAMESPACE.to_owned());
        app.metadata.uid = Some(UID.to_owned());
        app.metadata.generation = Some(1);
        Self { app }
    }

    /// Puts the app in `namespace`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.app.metadata.namespace = Some(namespace.to_owned());
        self
    }

    /// Sets `metadata.generation`.
    pub fn generation(mut self, generation: i64) -> Self {
        self.app.metadata.generation = Some(generation);
        self
    }

    /// Sets `spec.replicas`.
    pub fn replicas(mut self, replicas: i32) -> Self {
        self.app.spec.replicas = Some(replicas);
        self
    }

    /// Sets `spec.pythonPackages.packages`, adding `pythonPackages` with its defaults if unset.
    pub fn packages(mut self, packages: &[&str]) -> Self {
        let spec = self.app.spec.python_packages.get_or_insert_default();
        spec.packages = packages.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Sets `spec.pythonPackages` from YAML (see [`python_packages`]).
    #[track_caller]
    pub fn python_packages(mut self, yaml: &str) -> Self {
        self.app.spec.python_packages = Some(python_packages(yaml));
        self
    }

    /// Changes the spec in any other way.
    pub fn spec(mut self, change: impl FnOnce(&mut KasprAppSpec)) -> Self {
        change(&mut self.app.spec);
        self
    }

    /// The app.
    pub fn build(self) -> KasprApp {
        self.app
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indented_blocks_parse_like_unindented_ones() {
        let flat = python_packages("packages: [a]\ninstaller: uv\n");
        let indented = python_packages("    packages: [a]\n    installer: uv\n");
        assert_eq!(flat, indented);
    }

    #[test]
    fn builder_matches_the_manifest() {
        let built = AppBuilder::new("orders")
            .namespace("shop")
            .generation(3)
            .packages(&["requests==2.31.0"])
            .build();
        let parsed = app_from_yaml(&format!(
            "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\n\
             metadata: {{name: orders, namespace: shop, uid: {UID}, generation: 3}}\n\
             spec:\n  bootstrapServers: {BOOTSTRAP_SERVERS}\n  pythonPackages:\n    packages: [requests==2.31.0]\n"
        ));
        assert_eq!(built, parsed);
    }

    #[test]
    fn packages_keep_the_other_python_packages_fields() {
        let app = AppBuilder::new("orders")
            .python_packages("packages: [a]\ninstaller: uv")
            .packages(&["b", "c"])
            .build();
        let spec = app.spec.python_packages.expect("pythonPackages");
        assert_eq!(spec.packages, ["b", "c"]);
        assert_eq!(spec.installer, kaspr_types::Installer::Uv);
    }
}
