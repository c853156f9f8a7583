//! Secrets back to the KasprApps that reference them, so that creating a missing Secret resumes
//! the rollout at once instead of at the next resync.

use std::sync::Arc;

use kaspr_types::KasprApp;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

/// The apps in `namespace` that reference the Secret `secret` (any of
/// `KasprAppSpec::secret_references`).
pub fn apps_referencing_secret(
    apps: &[Arc<KasprApp>],
    secret: &str,
    namespace: Option<&str>,
) -> Vec<ObjectRef<KasprApp>> {
    apps.iter()
        .filter(|app| app.namespace().as_deref() == namespace)
        .filter(|app| {
            app.spec
                .secret_references()
                .iter()
                .any(|r| r.name == secret)
        })
        .map(|app| ObjectRef::from_obj(app.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, ns: &str, secret: Option<&str>) -> Arc<KasprApp> {
        let creds = secret
            .map(|s| format!("    indexUrl: https://i.example/simple\n    credentials: {{secretRef: {{name: {s}}}}}\n"))
            .unwrap_or_default();
        let yaml = format!(
            "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages:\n    packages: [a]\n{creds}"
        );
        Arc::new(serde_yaml::from_str(&yaml).expect("app"))
    }

    #[test]
    fn maps_a_secret_to_the_apps_of_its_namespace_that_use_it() {
        let apps = [
            app("a", "team1", Some("pypi")),
            app("b", "team1", Some("other")),
            app("c", "team2", Some("pypi")),
            app("d", "team1", None),
            app("e", "team1", Some("pypi")),
        ];
        let found: Vec<String> = apps_referencing_secret(&apps, "pypi", Some("team1"))
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(found, ["a", "e"]);
        assert!(apps_referencing_secret(&apps, "nope", Some("team1")).is_empty());
    }
}
