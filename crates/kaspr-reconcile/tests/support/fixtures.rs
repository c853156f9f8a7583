//! The recorded pods under `tests/fixtures/pods/`, whose install reports carry the packages
//! hash [`FIXTURE_HASH`].

use k8s_openapi::api::core::v1::Pod;
use kaspr_types::KasprApp;
use serde_json::Value;

/// The packages hash the fixtures' pods and reports carry.
pub const FIXTURE_HASH: &str = "a38d296f011adb6e";

/// The JSON text of the pod fixture `name` (e.g. `installed.json`).
fn text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/pods/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The pods of fixture `name`.
pub fn pods(name: &str) -> Vec<Pod> {
    serde_json::from_str(&text(name)).expect("pod JSON")
}

/// The pods of fixture `name`, as JSON, with [`FIXTURE_HASH`] replaced by `hash`.
pub fn fixture_with_hash(name: &str, hash: &str) -> Value {
    serde_json::from_str(&text(name).replace(FIXTURE_HASH, hash)).expect("pods")
}

/// The packages hash of `app`'s pythonPackages.
pub fn desired_hash(app: &KasprApp) -> String {
    kaspr_hash::packages_hash(app.spec.python_packages.as_ref().expect("pythonPackages"))
        .expect("hash")
        .to_string()
}
