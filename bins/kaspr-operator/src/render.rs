//! `render -f FILE|-`: every child object of each KasprApp in FILE (or standard input), without
//! a cluster.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kaspr_components::Component;
use kaspr_reconcile::build::components::{Attached, config_map};
use kaspr_reconcile::build::{Existing, build};
use kaspr_reconcile::{Settings, validate};
use kaspr_types::KasprApp;
use serde::Deserialize;
use serde_json::Value;

/// `render --help`: what is checked offline.
pub const LONG_ABOUT: &str = "\
Print every child object of each KasprApp and component in manifests as YAML, without a cluster.

An app's StatefulSet mounts the components (KasprAgent, KasprTable, KasprWebView, KasprTask) of \
it given in any of the files; each component is printed as its definition ConfigMap. Documents \
of other kinds (a Secret beside the app) are skipped. Each KasprApp is checked first \
as the API server and the operator would: its fields (unknown fields, types and enum values), \
the CRD's OpenAPI schema (patterns, lengths, ranges, list sizes) and its CEL rules, and what \
the operator validates beyond them (PEP 508 requirements, URLs, Secret names). Every error \
names its field path, e.g. spec.pythonPackages.cache.size; with any error nothing is printed \
and the exit status is 1.";

/// `render -h` and `--help`: what only the API server can check.
pub const AFTER_HELP: &str = "\
Not checked offline: rules comparing with the stored object, such as cache.size and \
storage.size may not shrink, are checked by the API server only; so is whether the Secrets \
the app references exist.";

/// Renders every KasprApp and component document in `file` (`-`: standard input; other kinds,
/// such as a Secret beside the app, are skipped). Returns whether all of them were valid.
pub fn run(files: &[PathBuf]) -> Result<bool> {
    let mut all_valid = true;
    let mut documents = Vec::new();
    for (name, text) in read_all(files)? {
        for (n, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let value = Value::deserialize(doc)
                .with_context(|| format!("{name}: document {n} is not YAML"))?;
            documents.push((format!("{name}: document {n}"), value));
        }
    }
    // Components first: the apps' StatefulSets mount those of the file.
    let mut components = Vec::new();
    for (n, value) in &documents {
        let kind = value["kind"].as_str().unwrap_or_default();
        if !kaspr_components::KINDS.contains(&kind) {
            continue;
        }
        match parse_component(value.clone()) {
            Ok(c) => components.push(c),
            Err(errors) => {
                all_valid = false;
                eprintln!("{n}: {errors}");
            }
        }
    }
    let mut out = String::new();
    for (n, value) in documents {
        if value.is_null() || value["kind"] != "KasprApp" {
            continue;
        }
        match render_app(value, &components) {
            Ok(yaml) => out.push_str(&yaml),
            Err(errors) => {
                all_valid = false;
                eprintln!("{n}: {errors}");
            }
        }
    }
    for component in &components {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&config_map(component))?);
    }
    if all_valid {
        print!("{out}");
    }
    Ok(all_valid)
}

/// A KasprApp from a manifest document; an error names the field that failed to parse, e.g.
/// `spec.pythonPackages.cache.accessMode: unknown variant `ReadOnlyMany`, expected one of ...`.
pub fn parse_app(value: Value) -> Result<KasprApp, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("not a valid KasprApp: {inner}")
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// The text of each file (`-`: standard input; a directory: its YAML files, sorted), named.
fn read_all(files: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for file in files {
        if file == Path::new("-") {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            out.push(("<stdin>".to_owned(), text));
        } else if file.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(file)
                .with_context(|| format!("reading {}", file.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            paths.sort();
            out.extend(read_all(&paths)?);
        } else {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            out.push((file.display().to_string(), text));
        }
    }
    Ok(out)
}

/// A component document, checked as the API server and the operator would; namespace
/// `default` when it has none.
pub fn parse_component(value: Value) -> Result<Component, String> {
    let kind = value["kind"].as_str().unwrap_or("component").to_owned();
    let shown = |errors: kaspr_components::ValidationErrors, name: &str| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("  {e}")).collect();
        format!("{kind} {name} is invalid:\n{}", lines.join("\n"))
    };
    let mut component = Component::parse(value).map_err(|e| shown(e, "<unparsed>"))?;
    component.check().map_err(|e| shown(e, component.name()))?;
    for w in component.warnings() {
        eprintln!("warning: {kind} {}: {w}", component.name());
    }
    component
        .metadata_mut()
        .namespace
        .get_or_insert_with(|| "default".into());
    Ok(component)
}

/// The YAML stream of one app's objects (its StatefulSet mounting the `components` of it), or
/// the reasons it cannot be rendered.
pub fn render_app(value: Value, components: &[Component]) -> Result<String, String> {
    let mut app = parse_app(value)?;
    let name = app
        .metadata
        .name
        .clone()
        .unwrap_or_else(|| "<unnamed>".into());
    app.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    // Offline: no Secret is read, so a missing one cannot be known here.
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let validated = validate(&app, None, &settings).map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("  {e}")).collect();
        format!("KasprApp {name} is invalid:\n{}", lines.join("\n"))
    })?;
    for w in validated.warnings() {
        eprintln!("warning: KasprApp {name}: {w}");
    }
    let ns = app.metadata.namespace.clone();
    let attached = Attached::in_mount_order(
        components
            .iter()
            .filter(|c| c.metadata().namespace == ns && c.app_name() == Some(name.as_str()))
            .filter_map(Attached::of_component)
            .collect(),
    );
    // No cluster, so no pods: the live set holds only the desired hash.
    let existing = Existing {
        components: &attached,
        ..Existing::default()
    };
    let desired = build(&validated, &existing).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for object in desired.objects() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&object).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
