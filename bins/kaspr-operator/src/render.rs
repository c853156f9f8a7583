//! `render -f FILE`: every child object of each KasprApp in FILE, without a cluster.

use std::path::Path;

use anyhow::{Context, Result};
use kaspr_reconcile::build::{Existing, build};
use kaspr_reconcile::{Settings, validate};
use kaspr_types::KasprApp;
use serde::Deserialize;
use serde_json::Value;

/// Renders every KasprApp document in `file` (other kinds, such as a Secret beside the app, are
/// skipped). Returns whether all of them were valid.
pub fn run(file: &Path) -> Result<bool> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut all_valid = true;
    let mut out = String::new();
    for (n, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let value = Value::deserialize(doc)
            .with_context(|| format!("{}: document {n} is not YAML", file.display()))?;
        if value.is_null() || value["kind"] != "KasprApp" {
            continue;
        }
        match render_app(value) {
            Ok(yaml) => out.push_str(&yaml),
            Err(errors) => {
                all_valid = false;
                eprintln!("{}: document {n}: {errors}", file.display());
            }
        }
    }
    if all_valid {
        print!("{out}");
    }
    Ok(all_valid)
}

/// The YAML stream of one app's objects, or the reasons it cannot be rendered.
pub fn render_app(value: Value) -> Result<String, String> {
    let mut app: KasprApp =
        serde_json::from_value(value).map_err(|e| format!("not a valid KasprApp: {e}"))?;
    let name = app
        .metadata
        .name
        .clone()
        .unwrap_or_else(|| "<unnamed>".into());
    app.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    // Offline: no Secret is read, so a missing one cannot be known here.
    let validated = validate(&app, None, &Settings::from_env()).map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("  {e}")).collect();
        format!("KasprApp {name} is invalid:\n{}", lines.join("\n"))
    })?;
    for w in validated.warnings() {
        eprintln!("warning: KasprApp {name}: {w}");
    }
    // No cluster, so no pods: the live set holds only the desired hash.
    let desired = build(&validated, &Existing::default()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for object in desired.objects() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&object).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
