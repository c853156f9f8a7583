//! Every enum's `as_str` is its serde name, for every variant: the wire strings are written once,
//! in the serde attributes, and YAML, the install report and metric labels agree.

use std::fmt::Display;

use kaspr_test_support::schema::allowed_strings;
use kaspr_types::{
    CacheAccessMode, CacheMode, ImagePackages, InstallErrorType, Installer,
    KafkaAuthenticationType, OnFailure, PackagesState, StorageType, wire_name,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// For every variant of `T` (as the schema lists them): `as_str`, `Display` and [`wire_name`]
/// give its serde name, and that name parses back to it.
#[track_caller]
fn assert_wire_names<T>(as_str: fn(T) -> &'static str, expected: &[&str])
where
    T: JsonSchema + Serialize + DeserializeOwned + Display + Copy + PartialEq + std::fmt::Debug,
{
    let names = allowed_strings::<T>();
    let mut sorted: Vec<&str> = expected.to_vec();
    sorted.sort();
    assert_eq!(
        names,
        sorted,
        "the variants of {}",
        std::any::type_name::<T>()
    );
    for name in &names {
        let variant: T = serde_json::from_value(Value::from(name.as_str()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(as_str(variant), name, "{variant:?}");
        assert_eq!(variant.to_string(), *name, "{variant:?}");
        assert_eq!(wire_name(&variant), Some(name.as_str()), "{variant:?}");
        assert_eq!(
            serde_json::to_value(variant).expect("serialises"),
            Value::from(name.as_str())
        );
    }
}

#[test]
fn python_packages_enums() {
    assert_wire_names(Installer::as_str, &["pip", "uv"]);
    assert_wire_names(ImagePackages::as_str, &["protect", "override"]);
    assert_wire_names(OnFailure::as_str, &["block", "allow"]);
    assert_wire_names(CacheAccessMode::as_str, &["ReadWriteMany", "ReadWriteOnce"]);
}

#[test]
fn status_enums() {
    assert_wire_names(
        InstallErrorType::as_str,
        &[
            "network",
            "timeout",
            "authentication",
            "package_not_found",
            "dependency_conflict",
            "hash_mismatch",
            "disk_full",
            "permission",
            "lock_timeout",
            "out_of_memory",
            "unknown",
        ],
    );
    assert_wire_names(
        PackagesState::as_str,
        &["Pending", "Installing", "Ready", "Failed"],
    );
    assert_wire_names(CacheMode::as_str, &["shared-pvc", "per-pod", "gcs"]);
}

#[test]
fn kafka_and_storage_enums() {
    assert_wire_names(
        KafkaAuthenticationType::as_str,
        &["scram-sha-256", "scram-sha-512", "plain"],
    );
    assert_wire_names(StorageType::as_str, &["ephemeral", "persistent-claim"]);
}

#[test]
fn wire_name_is_none_for_what_is_not_a_unit_variant() {
    assert_eq!(wire_name(&"pip"), None);
    assert_eq!(wire_name(&3u32), None);
    assert_eq!(wire_name(&Some(Installer::Uv)), None);
    assert_eq!(wire_name(&kaspr_types::InstallPolicy::default()), None);
}
