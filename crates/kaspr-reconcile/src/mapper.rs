//! Secrets back to the KasprApps that reference them, so that creating a missing Secret resumes
//! the rollout at once instead of at the next resync.

use std::sync::Arc;

use kaspr_types::KasprApp;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

/// The apps in `namespace` whose `pythonPackages.credentials.secretRef.name` is `secret`.
pub fn apps_referencing_secret(
    apps: &[Arc<KasprApp>],
    secret: &str,
    namespace: Option<&str>,
) -> Vec<ObjectRef<KasprApp>> {
    apps.iter()
        .filter(|app| app.namespace().as_deref() == namespace)
        .filter(|app| {
            app.spec
                .python_packages
                .as_ref()
                .and_then(|p| p.credentials.as_ref())
                .is_some_and(|c| c.secret_ref.name == secret)
        })
        .map(|app| ObjectRef::from_obj(app.as_ref()))
        .collect()
}
