//! What the upstream (Python) operator does, recorded by running its own code offline
//! (`tests/upstream/record.sh`): the objects it builds for each of its examples, its version
//! table, and its example manifests verbatim. Compatibility tests compare against these.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/upstream/fixtures/` of the workspace.
pub fn fixtures_dir() -> PathBuf {
    crate::workspace_root().join("tests/upstream/fixtures")
}

/// The JSON file `relative` under the fixtures, parsed.
pub fn json(relative: impl AsRef<Path>) -> Value {
    let path = fixtures_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The upstream fixtures are committed; re-record them with \
             `tests/upstream/record.sh` (see tests/upstream/README.md)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every upstream example manifest (`fixtures/examples/**.yaml`), sorted.
pub fn example_files() -> Vec<PathBuf> {
    crate::examples::yaml_files(&fixtures_dir().join("examples"))
}
