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

/// Every document of upstream's examples, with its file.
pub fn example_documents() -> Vec<(PathBuf, Value)> {
    crate::examples::documents(&example_files())
}

/// Every recorded app (`apps/**` and `edge-cases/**`) for which upstream built objects: the
/// directories holding a `StatefulSet-*.json`, sorted. The `with-components/` variants are left
/// out (they hold the same app after upstream's component patch).
pub fn app_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![
        fixtures_dir().join("apps"),
        fixtures_dir().join("edge-cases"),
    ];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut has_statefulset = false;
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() && name != "with-components" {
                dirs.push(path);
            } else if name.starts_with("StatefulSet-") {
                has_statefulset = true;
            }
        }
        if has_statefulset {
            out.push(dir);
        }
    }
    out.sort();
    out
}

/// The one object of `kind` upstream built in `dir` (`<Kind>-<name>.json`).
pub fn object(dir: &Path, kind: &str) -> Value {
    let prefix = format!("{kind}-");
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".json"))
        })
        .collect();
    found.sort();
    let [path] = found.as_slice() else {
        panic!("{}: expected one {kind}, found {found:?}", dir.display());
    };
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The KasprApp upstream was given in `dir`, as the API server admitted it (`_input.json`).
pub fn input_app(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("_input.json"))
        .unwrap_or_else(|e| panic!("{}/_input.json: {e}", dir.display()));
    let input: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}/_input.json: {e}", dir.display()));
    input["object"].clone()
}
