//! The live set: the packages hashes some pod of the app still uses (plus the desired one), kept
//! in a ConfigMap the init container reads so its garbage collection never removes them.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kaspr_types::KasprApp;
use kube::ResourceExt;

use super::metadata;
use super::packages::LIVE_HASHES_KEY;
use crate::names::{self, HASH_ANNOTATION};

/// The live set as the file holds it: `desired` and the hash annotation of every pod in `pods`,
/// only well-formed hashes (16 lowercase hex), deduplicated, sorted, one a line, each line ending
/// in a newline.
pub fn live_hashes(desired: &str, pods: &[Pod]) -> String {
    let annotated = pods
        .iter()
        .filter_map(|p| p.annotations().get(HASH_ANNOTATION))
        .map(String::as_str);
    let set: BTreeSet<&str> = std::iter::once(desired)
        .chain(annotated)
        .filter(|h| well_formed(h))
        .collect();
    set.into_iter().map(|h| format!("{h}\n")).collect()
}

/// A packages hash as the operator writes it: exactly 16 lowercase hex digits.
fn well_formed(hash: &str) -> bool {
    hash.len() == 16 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The ConfigMap `<name>-app-python-packages` holding the live set under `live-hashes`.
pub fn live_set_config_map(app: &KasprApp, desired: &str, pods: &[Pod]) -> ConfigMap {
    ConfigMap {
        metadata: metadata(app, names::live_set(app)),
        data: Some(BTreeMap::from([(
            LIVE_HASHES_KEY.to_owned(),
            live_hashes(desired, pods),
        )])),
        ..Default::default()
    }
}
