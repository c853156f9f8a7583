//! `check -f FILE`: validation without a cluster.

use std::path::Path;

use anyhow::{Context, Result};
use kaspr_types::KasprApp;
use serde::Deserialize;
use serde_json::Value;

/// Checks every KasprApp document in `file`; other kinds (a Secret beside the app) are skipped.
/// Returns whether all of them are valid.
pub fn run(file: &Path) -> Result<bool> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut all_valid = true;
    for (n, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let value = Value::deserialize(doc)
            .with_context(|| format!("{}: document {n} is not YAML", file.display()))?;
        if value.is_null() || value["kind"] != "KasprApp" {
            continue;
        }
        all_valid &= check_app(value, &format!("{}: document {n}", file.display()));
    }
    Ok(all_valid)
}

fn check_app(value: Value, at: &str) -> bool {
    let app: KasprApp = match serde_json::from_value(value) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("{at}: invalid KasprApp: {e}");
            return false;
        }
    };
    let name = app.metadata.name.as_deref().unwrap_or("<unnamed>");
    if let Err(errors) = app.spec.check() {
        eprintln!("{at}: KasprApp {name} is invalid:");
        for e in &errors.0 {
            eprintln!("  {e}");
        }
        return false;
    }
    for w in app.spec.warnings() {
        eprintln!("{at}: warning: {w}");
    }
    match &app.spec.python_packages {
        Some(pp) => match kaspr_hash::packages_hash(pp) {
            Ok(hash) => println!("KasprApp {name}: valid, packages hash {hash}"),
            Err(e) => {
                eprintln!("{at}: {e}");
                return false;
            }
        },
        None => println!("KasprApp {name}: valid, no pythonPackages"),
    }
    true
}
