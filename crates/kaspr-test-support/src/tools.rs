//! The command-line tools tests drive, from the venv `cargo xtask test` prepares
//! (`KASPR_TEST_VENV`, tools listed in `xtask/test-requirements.txt`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tool `name` of the test venv; a missing one fails the test with how to get it.
pub fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var("KASPR_TEST_VENV").unwrap_or_else(|_| {
        panic!(
            "KASPR_TEST_VENV is not set: run `cargo xtask test`, which installs {name} (and the \
             other tools of xtask/test-requirements.txt) in target/test-venv"
        )
    });
    let tool = Path::new(&venv).join("bin").join(name);
    assert!(
        tool.exists(),
        "{name} is missing from {venv}: run `cargo xtask test` (xtask/test-requirements.txt)"
    );
    tool
}

/// `kubernetes-validate --strict` (Kubernetes 1.35 schemas) on `files`: every object must be
/// one the API server accepts, with no field it does not know.
pub fn kubernetes_validate<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(files: I) {
    let out = Command::new(venv_tool("kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", "1.35.0"])
        .args(files)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "kubernetes-validate refused:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
