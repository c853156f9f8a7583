//! The real parts the install-script tests run against: the shells, a venv with pip, uv and
//! pypiserver (prepared by `cargo xtask test`), wheels built for the tests, and local servers.
//!
//! - [`servers`]: the test wheels, pypiserver and the fixture indexes.
//! - [`credentials`]: the test credential and where it may have leaked to.
//! - [`cache`]: the packages volume of one test.
//! - [`run`]: one pod's run of the rendered script, and what it left.
//! - [`cases`]: the same run with each installer (and shell), and assertions on outcomes.
//! - [`image`]: image stand-ins and what they report (abi tag, image digest, env key).
//! - [`gcs`]: a Cloud Storage bucket (emulator) with a token endpoint, for `cache.type: gcs`.
//!
//! Free ports, process groups and Python tags come from `kaspr-test-support`.
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code, unused_imports)]

mod cache;
mod cases;
mod credentials;
mod gcs;
mod image;
mod run;
mod servers;

use std::path::{Path, PathBuf};

pub use cache::*;
pub use cases::*;
pub use credentials::*;
pub use gcs::*;
pub use image::*;
pub use kaspr_test_support::app::python_packages as spec;
pub use kaspr_test_support::net::free_port;
use kaspr_types::PythonPackagesSpec;
pub use run::*;
pub use servers::*;

pub const SHELLS: [&str; 3] = ["dash", "bash", "busybox"];

/// The venv with python3 + pip, uv, pypiserver and the Cloud Storage emulator.
pub fn venv() -> PathBuf {
    let path = std::env::var("KASPR_TEST_VENV").map(PathBuf::from).unwrap_or_else(|_| {
        panic!("KASPR_TEST_VENV is not set: run these tests with `cargo xtask test`, which prepares a venv with pip, uv and pypiserver")
    });
    for tool in ["python3", "uv", "pypi-server", "gcp-storage-emulator"] {
        assert!(
            path.join("bin").join(tool).exists(),
            "{tool} missing in {}: run `cargo xtask test`",
            path.display()
        );
    }
    path
}

/// The venv's python3: the default image python3 of a run, and what builds the fixtures.
pub fn python() -> PathBuf {
    venv().join("bin/python3")
}

/// The fixtures program: test wheels, htpasswd files and the fixture indexes.
fn fixtures_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fixtures.py")
}

/// A spec whose index is the authenticated `pypiserver()`, with `extra` YAML lines appended.
pub fn authed(server: &Server, packages: &str, extra: &str) -> PythonPackagesSpec {
    spec(&format!(
        "packages: {packages}\nindexUrl: {url}\ncredentials: {{secretRef: {{name: pypi}}}}\n{extra}",
        url = server.url
    ))
}

/// The packages hash of a spec, as the operator puts it in the live set.
pub fn hash_of(spec: &PythonPackagesSpec) -> String {
    kaspr_hash::packages_hash(spec).expect("hash").to_string()
}
