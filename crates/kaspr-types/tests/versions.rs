//! The version table against upstream's own (`kaspr_versions.yaml`, recorded as JSON): every row,
//! the default, the first-row-wins lookup, the registry prefix, and the refusal of a version the
//! operator does not support.

use kaspr_test_support::app::from_yaml;
use kaspr_test_support::upstream;
use kaspr_types::KasprAppSpec;
use kaspr_types::versions::{self, DEFAULT_VERSION, VERSIONS};
use serde_json::Value;

fn upstream_rows() -> Vec<Value> {
    upstream::json("kaspr_versions.json")["versions"]
        .as_array()
        .expect("versions is a list")
        .clone()
}

#[test]
fn every_row_equals_upstreams_in_order() {
    let rows = upstream_rows();
    assert_eq!(VERSIONS.len(), rows.len(), "row count");
    for (ours, theirs) in VERSIONS.iter().zip(&rows) {
        let row = format!("row {theirs}");
        assert_eq!(ours.operator_version, theirs["operator_version"], "{row}");
        assert_eq!(ours.version, theirs["version"], "{row}");
        assert_eq!(ours.image, theirs["image"], "{row}");
        assert_eq!(ours.supported, theirs["supported"], "{row}");
        let is_default = ours.version == DEFAULT_VERSION && versions::default_version() == ours;
        assert_eq!(is_default, theirs["default"], "{row}");
    }
}

#[test]
fn every_version_resolves_to_the_image_upstream_would_run() {
    // Upstream takes the first row of a version (0.7.5 appears in nine rows, the first with
    // the 0.7.6-alpha image).
    for theirs in upstream_rows() {
        let version = theirs["version"].as_str().expect("version");
        let first = upstream_rows()
            .into_iter()
            .find(|r| r["version"] == version)
            .expect("itself");
        assert_eq!(
            versions::image(None, Some(version), None),
            first["image"].as_str().expect("image"),
            "{version}"
        );
    }
    assert_eq!(
        versions::image(None, Some("0.7.5"), None),
        "kasprio/kaspr:0.7.6-alpha"
    );
}

#[test]
fn without_version_or_image_an_app_runs_upstreams_default() {
    let default: Vec<Value> = upstream_rows()
        .into_iter()
        .filter(|r| r["default"] == true)
        .collect();
    assert_eq!(default.len(), 1);
    assert_eq!(DEFAULT_VERSION, default[0]["version"]);
    assert_eq!(versions::image(None, None, None), default[0]["image"]);
    assert_eq!(versions::image(None, None, None), "kasprio/kaspr:0.11.19");
}

#[test]
fn the_registry_goes_in_front_of_every_image_as_upstream_puts_it() {
    for registry in [
        "registry.example.com/mirror",
        "registry.example.com/mirror/",
    ] {
        assert_eq!(
            versions::image(None, None, Some(registry)),
            "registry.example.com/mirror/kasprio/kaspr:0.11.19"
        );
        assert_eq!(
            versions::image(Some("acme/app:1"), Some("0.11.18"), Some(registry)),
            "registry.example.com/mirror/acme/app:1",
            "spec.image wins over spec.version, and still gets the registry"
        );
    }
    assert_eq!(
        versions::image(None, Some("0.11.18"), Some("")),
        "kasprio/kaspr:0.11.18"
    );
}

#[test]
fn an_unsupported_or_unknown_version_is_refused_with_the_supported_list() {
    for version in ["0.1.1", "9.9.9"] {
        let spec: KasprAppSpec = from_yaml(&format!(
            "bootstrapServers: k:9092\nversion: \"{version}\"\n"
        ));
        let errors = spec.check().expect_err("refused");
        let e = errors
            .0
            .iter()
            .find(|e| e.path == "spec.version")
            .unwrap_or_else(|| panic!("{version}: no spec.version error in {errors}"));
        assert!(e.message.contains(version), "{}", e.message);
        assert!(
            e.message.contains("0.11.19, 0.11.18"),
            "lists the supported versions: {}",
            e.message
        );
    }
    for version in versions::supported() {
        let spec: KasprAppSpec = from_yaml(&format!(
            "bootstrapServers: k:9092\nversion: \"{version}\"\n"
        ));
        assert!(spec.check().is_ok(), "{version} is supported");
    }
    assert!(!versions::supported().contains(&"0.1.1"));
    // With an image, upstream never looks at the version: accepted, with a warning.
    let spec: KasprAppSpec =
        from_yaml("bootstrapServers: k:9092\nversion: \"0.1.1\"\nimage: acme/app:1\n");
    assert!(spec.check().is_ok());
    assert!(spec.warnings().iter().any(|w| w.contains("ignored")));
}

/// Upstream's own resolution, recorded case by case (`version_resolution.json`): the image, or
/// the refusal, for each `spec` and registry.
#[test]
fn every_recorded_image_case_resolves_as_upstream() {
    let cases = upstream::json("version_resolution.json")["imageCases"].clone();
    let cases = cases.as_array().expect("imageCases");
    assert!(cases.len() > 20, "the recording has its cases");
    for case in cases {
        let input = &case["input"];
        let spec = &input["spec"];
        let image = spec["image"].as_str();
        let version = spec["version"].as_str();
        let registry = input["kasprImageRegistry"].as_str();
        let mut yaml = String::from("bootstrapServers: k:9092\n");
        if let Some(i) = image {
            yaml.push_str(&format!("image: {i:?}\n"));
        }
        if let Some(v) = version {
            yaml.push_str(&format!("version: {v:?}\n"));
        }
        let parsed: KasprAppSpec = from_yaml(&yaml);
        match case["output"]["image"].as_str() {
            Some(expected) => {
                assert!(parsed.check().is_ok(), "{case}: accepted upstream");
                assert_eq!(
                    versions::image(image, version, registry),
                    expected,
                    "{case}"
                );
            }
            None => {
                let errors = parsed.check().expect_err("refused upstream");
                assert!(
                    errors.0.iter().any(|e| e.path == "spec.version"),
                    "{case}: {errors}"
                );
            }
        }
    }
}
