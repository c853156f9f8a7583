//! The manifests under `examples/`: every test that walks them walks them here.

use std::path::{Path, PathBuf};

use kaspr_types::KasprApp;
use serde_json::Value;

/// `examples/` of the workspace.
pub fn examples_dir() -> PathBuf {
    crate::workspace_root().join("examples")
}

/// Every `*.yaml` file under `dir` and its subdirectories, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{} is not readable: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every `*.yaml` file under `examples/`, sorted.
pub fn example_files() -> Vec<PathBuf> {
    yaml_files(&examples_dir())
}

/// Every YAML document under `examples/`, whatever its kind, with the file it came from.
pub fn example_documents() -> Vec<(PathBuf, Value)> {
    documents(&example_files())
}

/// Every YAML document of `files`, with the file it came from.
pub fn documents(files: &[PathBuf]) -> Vec<(PathBuf, Value)> {
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{} is not readable: {e}", path.display()));
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
            if !value.is_null() {
                docs.push((path.clone(), value));
            }
        }
    }
    docs
}

/// Every document of kind `KasprApp` under `examples/`, as written, with its file.
pub fn example_app_documents() -> Vec<(PathBuf, Value)> {
    example_documents()
        .into_iter()
        .filter(|(_, value)| value["kind"] == "KasprApp")
        .collect()
}

/// Every `KasprApp` under `examples/`, parsed, with its file.
pub fn example_apps() -> Vec<(PathBuf, KasprApp)> {
    example_app_documents()
        .into_iter()
        .map(|(path, value)| {
            let app = serde_json::from_value(value)
                .unwrap_or_else(|e| panic!("{}: not a KasprApp: {e}", path.display()));
            (path, app)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_are_found() {
        let files = example_files();
        assert!(files.len() >= 8, "{files:?}");
        assert!(files.windows(2).all(|w| w[0] < w[1]), "sorted: {files:?}");
        let apps = example_apps();
        assert!(apps.len() >= 7, "{} apps", apps.len());
        assert!(
            example_documents().len() > apps.len(),
            "the examples hold other kinds too (a Secret)"
        );
    }
}
