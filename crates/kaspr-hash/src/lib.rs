//! The packages hash of a KasprApp: what decides whether replicas need a new Python environment.
//!
//! `sha256` over canonical JSON (sorted keys, no whitespace) of what decides the installed
//! environment: the requirements in their PEP 508 canonical form (extras sorted, deduplicated,
//! sorted), the index URL, the extra index URLs (sorted), the trusted hosts (lowercased, sorted),
//! the installer, and `imagePackages` when it is `override`. Absent or empty fields are left out.
//! The hash is the first 16 hex characters. The user-facing description is "The packages hash" in
//! `docs/api.md` of the repository; the init container keys its environments by it
//! (`docs/install-protocol.md`).
//!
//! Credentials, the install policy, cache settings and resources are deliberately not part of it:
//! rotating a password or raising a timeout must not reinstall every replica.
//!
//! The test vectors in `tests/vectors*.rs` pin the output: changing them is a breaking change,
//! because every running app would reinstall after an operator upgrade.
//!
//! # Example
//!
//! ```
//! use kaspr_hash::{canonical_json, packages_hash};
//! use kaspr_types::PythonPackagesSpec;
//!
//! let spec = PythonPackagesSpec {
//!     packages: vec!["Requests == 2.31.0".into()],
//!     ..Default::default()
//! };
//! // The text that is hashed, so that two specs can be compared by eye:
//! assert_eq!(
//!     canonical_json(&spec)?,
//!     r#"{"installer":"pip","packages":["requests==2.31.0"]}"#
//! );
//! let hash = packages_hash(&spec)?;
//! assert_eq!(hash.as_str(), "a38d296f011adb6e");
//!
//! // Spelling and repeats do not change the environment, so they do not change the hash.
//! let respelled = PythonPackagesSpec {
//!     packages: vec!["requests==2.31.0".into(), "requests ==2.31.0".into()],
//!     ..spec.clone()
//! };
//! assert_eq!(packages_hash(&respelled)?, hash);
//! # Ok::<(), kaspr_hash::HashError>(())
//! ```

#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use kaspr_types::requirement::normalize;
use kaspr_types::{ImagePackages, PythonPackagesSpec};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Hex characters kept of the sha256.
pub const HASH_LEN: usize = 16;

/// A packages hash: 16 lowercase hex characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackagesHash(String);

impl PackagesHash {
    /// The 16 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackagesHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a spec has no hash.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The spec was not validated first; `KasprAppSpec::check` reports this with its field path.
    #[error("spec.pythonPackages.packages[{index}] is not a PEP 508 requirement")]
    InvalidRequirement {
        /// The index of the requirement in `packages`.
        index: usize,
    },
}

/// The hash of a `pythonPackages` spec.
pub fn packages_hash(spec: &PythonPackagesSpec) -> Result<PackagesHash, HashError> {
    let canonical = canonical_json(spec)?;
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(PackagesHash(hex[..HASH_LEN].to_owned()))
}

/// The exact text that is hashed; public so that users can see why two specs differ.
pub fn canonical_json(spec: &PythonPackagesSpec) -> Result<String, HashError> {
    let packages = canonical_requirements(&spec.packages)?;
    // A BTreeMap serialises with sorted keys; serde_json's compact writer adds no whitespace.
    let mut doc: BTreeMap<&str, Value> = BTreeMap::new();
    doc.insert("packages", packages.into_iter().collect());
    if let Some(url) = &spec.index_url {
        doc.insert("indexUrl", Value::from(url.as_str()));
    }
    insert_sorted(
        &mut doc,
        "extraIndexUrls",
        spec.extra_index_urls.iter().cloned(),
    );
    insert_sorted(
        &mut doc,
        "trustedHosts",
        spec.trusted_hosts.iter().map(|h| h.to_ascii_lowercase()),
    );
    doc.insert("installer", Value::from(spec.installer.as_str()));
    // The default (protect) is left out, so that hashes from before the field existed stay.
    if spec.image_packages == ImagePackages::Override {
        doc.insert("imagePackages", Value::from(spec.image_packages.as_str()));
    }
    Ok(serde_json::to_string(&doc).unwrap_or_default())
}

/// Each requirement in PEP 508 canonical form (`Requests == 2.31.0` -> `requests==2.31.0`),
/// deduplicated and sorted.
///
/// Extras are a set to pip, but pep508_rs prints them in the order written and keeps repeats
/// (`pkg[b,a]`, `pkg[a,a]`), so they are sorted and deduplicated here first: reordering extras
/// must not reinstall.
pub fn canonical_requirements(packages: &[String]) -> Result<BTreeSet<String>, HashError> {
    packages
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(&normalize(raw))
                .map(|mut req| {
                    req.extras.sort();
                    req.extras.dedup();
                    req.to_string()
                })
                .map_err(|_| HashError::InvalidRequirement { index })
        })
        .collect()
}

fn insert_sorted(
    doc: &mut BTreeMap<&'static str, Value>,
    key: &'static str,
    values: impl Iterator<Item = String>,
) {
    let sorted: BTreeSet<String> = values.collect();
    if !sorted.is_empty() {
        doc.insert(key, sorted.into_iter().collect());
    }
}
