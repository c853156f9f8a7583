//! The variants of the install script the linters check, rendered from the knobs that change
//! its text.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::OUT_DIR;

/// The variant specs, by file stem.
pub(super) fn variant_specs() -> Vec<(String, String)> {
    let mut specs = Vec::new();
    for installer in ["pip", "uv"] {
        for cache in [true, false] {
            for on_failure in ["block", "allow"] {
                for image in ["protect", "override"] {
                    let cache_name = if cache { "cache" } else { "nocache" };
                    specs.push((
                        format!("install-{installer}-{cache_name}-{on_failure}-{image}"),
                        format!(
                            "packages: [kaspr-demo==1.0]\ninstaller: {installer}\n\
                             cache: {{enabled: {cache}}}\n\
                             installPolicy: {{onFailure: {on_failure}}}\n\
                             imagePackages: {image}\n"
                        ),
                    ));
                }
            }
        }
    }
    // The bucket cache changes no script text, only its settings; one variant runs it anyway.
    specs.push((
        "install-pip-gcs-block-protect".to_owned(),
        "packages: [kaspr-demo==1.0]\ncache: {type: gcs, gcs: {bucket: kaspr-cache, \
         secretRef: {name: gcs-key}}}\n"
            .to_owned(),
    ));
    specs
}

/// Renders every variant into `target/lint/` and returns the files with their text.
pub(super) fn write_variants(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    let dir = root.join(OUT_DIR);
    // No stale variants from an earlier run.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let hostile = kaspr_script::Paths {
        root: "/data/my packages".into(),
        site_link: "/python env/site".into(),
        report: "/dev/termination-log".into(),
        live_hashes: "/live/it's here".into(),
        gcs_key: "/keys/it's here/sa.json".into(),
    };
    let specs = variant_specs();
    let odd = specs
        .first()
        .map(|(stem, yaml)| (format!("{stem}-odd-paths"), yaml.clone(), hostile));
    let mut files = Vec::new();
    let all = specs
        .into_iter()
        .map(|(stem, yaml)| (stem, yaml, kaspr_script::Paths::default()))
        .chain(odd);
    for (stem, yaml, paths) in all {
        let path = dir.join(format!("{stem}.sh"));
        let script = render(&yaml, &paths)?;
        std::fs::write(&path, &script)?;
        files.push((path, script));
    }
    Ok(files)
}

pub(super) fn render(yaml: &str, paths: &kaspr_script::Paths) -> Result<String> {
    let spec: kaspr_types::PythonPackagesSpec =
        serde_yaml::from_str(yaml).with_context(|| format!("variant spec\n{yaml}"))?;
    let hash = kaspr_hash::packages_hash(&spec).context("variant hash")?;
    Ok(kaspr_script::render(&spec, &hash, paths)?.script)
}
