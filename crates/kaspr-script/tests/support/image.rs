//! Image stand-ins and what an image's python3 reports, computed here independently of the
//! helper: what it imports, its abi tag, its image digest, and so the env key of a spec.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use kaspr_types::PythonPackagesSpec;

use super::{python, wheels};

/// An image stand-in: a venv (with pip, as app images have) holding `wheels` from the test
/// wheels, built once per test binary and name. Returns its python3.
pub fn image_python(name: &str, wheels_wanted: &[&str]) -> PathBuf {
    static IMAGES: OnceLock<Mutex<HashMap<String, tempfile::TempDir>>> = OnceLock::new();
    let images = IMAGES.get_or_init(Default::default);
    let mut images = images.lock().unwrap_or_else(|e| e.into_inner());
    let dir = images.entry(name.to_owned()).or_insert_with(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let venv = dir.path().join("venv");
        let ok = Command::new(python())
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "python3 -m venv for image {name}"
        );
        let ok = Command::new(venv.join("bin/python3"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--find-links",
            ])
            .arg(wheels().join("main"))
            .args(wheels_wanted)
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "installing {wheels_wanted:?} into image {name}"
        );
        dir
    });
    dir.path().join("venv/bin/python3")
}

/// Runs python3 from the venv with PYTHONPATH set as the main container would.
pub fn import_version(site: &Path, module: &str) -> Result<String, String> {
    import_version_with(&python(), site, module)
}

/// [`import_version`] with the python3 of another image.
pub fn import_version_with(python: &Path, site: &Path, module: &str) -> Result<String, String> {
    let out = Command::new(python)
        .args(["-c", &format!("import {module}; print({module}.VERSION)")])
        .env("PYTHONPATH", site)
        .output()
        .expect("python runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The abi tag the venv's python3 reports (the env key's second half).
pub fn abi_tag() -> String {
    kaspr_test_support::python::abi_tag(&python())
}

/// The name of the env a spec installs to with the test venv's python3 as the image:
/// `<hash>-<abi tag>`, plus `-<image digest>` under `imagePackages: protect` (the default).
pub fn env_key(spec: &PythonPackagesSpec) -> String {
    env_key_for(spec, &python())
}

/// [`env_key`] for the image whose python3 is `python`.
pub fn env_key_for(spec: &PythonPackagesSpec, python: &Path) -> String {
    let hash = kaspr_hash::packages_hash(spec).expect("hash");
    match spec.image_packages {
        kaspr_types::ImagePackages::Protect => {
            format!("{hash}-{}-{}", abi_tag(), image_digest(python))
        }
        kaspr_types::ImagePackages::Override => format!("{hash}-{}", abi_tag()),
    }
}

/// The image digest of the protocol, computed here from the site dirs `python` reports: FNV-1a
/// (64 bits) over the sorted `name==version` lines (PEP 503 names) of every *.dist-info and
/// *.egg-info directory name, first 8 hex digits.
pub fn image_digest(python: &Path) -> String {
    let out = Command::new(python)
        .args([
            "-c",
            "import site; print('\\n'.join(site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])))",
        ])
        .output()
        .expect("python");
    let mut found: std::collections::BTreeMap<String, String> = Default::default();
    for dir in String::from_utf8_lossy(&out.stdout).lines() {
        let mut entries: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        for entry in entries {
            let base = entry
                .strip_suffix(".dist-info")
                .or_else(|| entry.strip_suffix(".egg-info"));
            let mut parts = base.into_iter().flat_map(|b| b.split('-'));
            if let (Some(name), Some(version)) = (parts.next(), parts.next())
                && !name.is_empty()
                && !version.is_empty()
            {
                found
                    .entry(pep503(name))
                    .or_insert_with(|| version.to_owned());
            }
        }
    }
    let text = found
        .iter()
        .map(|(n, v)| format!("{n}=={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")[..8].to_owned()
}

fn pep503(name: &str) -> String {
    name.to_lowercase()
        .split(['-', '_', '.'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}
