//! Helpers of the hash tests: the hash of a `pythonPackages` block, and the check of a vector.
// Each test binary uses part of this module.
#![allow(dead_code)]

use kaspr_hash::{canonical_json, packages_hash};
use kaspr_test_support::app::python_packages as spec;

/// The hash of the `pythonPackages` block `yaml`.
#[track_caller]
pub fn hash(yaml: &str) -> String {
    packages_hash(&spec(yaml))
        .expect("valid spec hashes")
        .to_string()
}

/// Every manifest in `yamls` has exactly the canonical JSON `json`, and hashes to `expected`.
#[track_caller]
pub fn vector(yamls: &[&str], json: &str, expected: &str) {
    for yaml in yamls {
        assert_eq!(
            canonical_json(&spec(yaml)).expect("json"),
            json,
            "canonical JSON of:\n{yaml}"
        );
        assert_eq!(hash(yaml), expected, "hash of:\n{yaml}");
    }
}
