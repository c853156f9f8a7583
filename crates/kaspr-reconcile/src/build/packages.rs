//! What `spec.pythonPackages` adds to the pod: the init container, three volumes (packages,
//! per-pod env, live set; under `cache.type: gcs` a fourth, the service account key), the mounts
//! and the main container's PYTHONPATH. Without pythonPackages none of it exists.

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, KeyToPath,
    PersistentVolumeClaimVolumeSource, SecretKeySelector, SecretVolumeSource, Volume, VolumeMount,
};
use kaspr_script::{EnvSource, InstallScript, Paths, ScriptEnv};
use kaspr_types::{CacheMode, ContainerTemplate, GcsCache, KasprApp, PythonPackagesSpec};
use kube::ResourceExt;

use crate::names::{self, INIT_CONTAINER};

/// Volume holding the environments: the shared PVC, or an emptyDir per pod.
pub const PACKAGES_VOLUME: &str = "python-packages";
/// Per-pod emptyDir holding the `site` link (and the script's work files).
pub const ENV_VOLUME: &str = "python-env";
pub const PACKAGES_MOUNT: &str = "/packages";
pub const ENV_MOUNT: &str = "/python-env";
/// The only part of the packages volume the main container sees: the published envs (no
/// installer caches, locks or staging dirs).
pub const ENVS_SUBPATH: &str = "envs";
/// Where the main container mounts it: the same path as in the init container, so the site link
/// resolves in both.
pub const ENVS_MOUNT: &str = "/packages/envs";
/// ConfigMap volume with the live set, read by the init container's garbage collection.
pub const LIVE_VOLUME: &str = "python-packages-live";
pub const LIVE_MOUNT: &str = "/python-packages-live";
/// The live-set ConfigMap's key: the packages hashes in use, one a line, sorted.
pub const LIVE_HASHES_KEY: &str = "live-hashes";
/// What the main container's PYTHONPATH names.
pub const SITE_LINK: &str = "/python-env/site";
/// `cache.type: gcs`: the Secret volume holding only the service account key, mounted read-only
/// into the init container and nowhere else.
pub const GCS_KEY_VOLUME: &str = "python-packages-gcs-key";
pub const GCS_KEY_MOUNT: &str = "/var/run/secrets/kaspr-gcs";
/// The key's file name in that volume, whatever its key in the Secret.
pub const GCS_KEY_FILE: &str = "sa.json";

/// The paths the script is rendered with; they match the mounts below.
pub fn script_paths() -> Paths {
    Paths {
        root: PACKAGES_MOUNT.to_owned(),
        site_link: SITE_LINK.to_owned(),
        report: "/dev/termination-log".to_owned(),
        live_hashes: format!("{LIVE_MOUNT}/{LIVE_HASHES_KEY}"),
        gcs_key: format!("{GCS_KEY_MOUNT}/{GCS_KEY_FILE}"),
    }
}

/// The bucket settings when the cache is a bucket.
fn gcs(spec: &PythonPackagesSpec) -> Option<&GcsCache> {
    (kaspr_script::cache_mode(spec) == CacheMode::Gcs)
        .then_some(spec.cache.gcs.as_ref())
        .flatten()
}

pub fn volumes(app: &KasprApp, spec: &PythonPackagesSpec) -> Vec<Volume> {
    let packages = if spec.cache.uses_pvc() {
        Volume {
            name: PACKAGES_VOLUME.to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: names::packages_pvc(app),
                read_only: None,
            }),
            ..Default::default()
        }
    } else {
        empty_dir(PACKAGES_VOLUME)
    };
    let mut volumes = vec![packages, empty_dir(ENV_VOLUME), live_volume(app)];
    volumes.extend(gcs(spec).map(gcs_key_volume));
    volumes
}

/// Only the key of the Secret that holds the service account key, as `sa.json`. Optional: while
/// the Secret or the key is missing the pod still starts, and the script installs from the
/// index with a warning that names the missing key (the bucket is a cache, not a dependency).
fn gcs_key_volume(gcs: &GcsCache) -> Volume {
    Volume {
        name: GCS_KEY_VOLUME.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(gcs.secret_ref.name.clone()),
            items: Some(vec![KeyToPath {
                key: gcs.secret_ref.key.clone(),
                path: GCS_KEY_FILE.to_owned(),
                mode: None,
            }]),
            optional: Some(true),
            default_mode: None,
        }),
        ..Default::default()
    }
}

/// The live-set ConfigMap as a volume. Optional: while the ConfigMap is missing the file is
/// missing, and the script's garbage collection then removes no env at all.
fn live_volume(app: &KasprApp) -> Volume {
    Volume {
        name: LIVE_VOLUME.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: names::live_set(app),
            optional: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// The main container's mounts: only `envs/` of the packages volume, read-only (Python can never
/// write into a shared env, and nothing an installer left beside the envs is readable).
pub fn main_mounts() -> Vec<VolumeMount> {
    let envs = VolumeMount {
        sub_path: Some(ENVS_SUBPATH.to_owned()),
        ..mount(PACKAGES_VOLUME, ENVS_MOUNT, true)
    };
    vec![envs, mount(ENV_VOLUME, ENV_MOUNT, true)]
}

/// `PYTHONPATH` for the main container: the site link first, then whatever the user set.
pub fn pythonpath(user_env: &[EnvVar]) -> EnvVar {
    let user = user_env
        .iter()
        .find(|e| e.name == "PYTHONPATH")
        .and_then(|e| e.value.as_deref());
    let value = match user {
        Some(v) if !v.is_empty() => format!("{SITE_LINK}:{v}"),
        _ => SITE_LINK.to_owned(),
    };
    EnvVar {
        name: "PYTHONPATH".to_owned(),
        value: Some(value),
        ..Default::default()
    }
}

/// The `install-packages` init container: the app's image running the rendered script.
pub fn init_container(
    app: &KasprApp,
    image: &str,
    spec: &PythonPackagesSpec,
    script: &InstallScript,
    template: Option<&ContainerTemplate>,
) -> Container {
    let app_name = app.name_any();
    let mut env: Vec<EnvVar> = script
        .env
        .iter()
        .map(|v| to_env_var(v, &app_name))
        .collect();
    let ours: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>();
    let ours: Vec<String> = ours.into_iter().map(str::to_owned).collect();
    let user = template.map(|t| t.env.as_slice()).unwrap_or_default();
    // The script's own variables win: a template must not redirect the credentials.
    env.extend(user.iter().filter(|e| !ours.contains(&e.name)).cloned());
    let mut mounts = vec![
        mount(PACKAGES_VOLUME, PACKAGES_MOUNT, false),
        mount(ENV_VOLUME, ENV_MOUNT, false),
        mount(LIVE_VOLUME, LIVE_MOUNT, true),
    ];
    if gcs(spec).is_some() {
        mounts.push(mount(GCS_KEY_VOLUME, GCS_KEY_MOUNT, true));
    }
    mounts.extend(
        template
            .map(|t| t.volume_mounts.clone())
            .unwrap_or_default(),
    );
    Container {
        name: INIT_CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        command: Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            script.script.clone(),
        ]),
        env: Some(env),
        volume_mounts: Some(mounts),
        resources: spec.resources.clone(),
        security_context: template.and_then(|t| t.security_context.clone()),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        termination_message_path: Some("/dev/termination-log".to_owned()),
        ..Default::default()
    }
}

fn to_env_var(var: &ScriptEnv, app_name: &str) -> EnvVar {
    let name = var.name.to_owned();
    match &var.source {
        EnvSource::Value(v) => EnvVar {
            name,
            value: Some(v.clone()),
            ..Default::default()
        },
        EnvSource::SecretKey { secret, key } => EnvVar {
            name,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.clone(),
                    key: key.clone(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        EnvSource::PodName => EnvVar {
            name,
            value_from: super::field_ref("metadata.name"),
            ..Default::default()
        },
        EnvSource::AppName => EnvVar {
            name,
            value: Some(app_name.to_owned()),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_container_sees_envs_where_the_script_publishes_them() {
        assert_eq!(ENVS_MOUNT, format!("{PACKAGES_MOUNT}/{ENVS_SUBPATH}"));
        assert_eq!(script_paths().root, PACKAGES_MOUNT);
        assert_eq!(
            script_paths().live_hashes,
            format!("{LIVE_MOUNT}/{LIVE_HASHES_KEY}")
        );
        assert_eq!(
            script_paths().gcs_key,
            format!("{GCS_KEY_MOUNT}/{GCS_KEY_FILE}")
        );
        assert_eq!(script_paths().gcs_key, Paths::default().gcs_key);
    }
}
