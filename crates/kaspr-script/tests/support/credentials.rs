//! The credential of the tests' private indexes, and the files it may have been written to.

use std::path::{Path, PathBuf};

pub const USER: &str = "kaspr-user";
/// Every character that broke the upstream operator's credential handling.
pub const PASSWORD: &str = "p@ss:w/o#r%d 'q' \"dq\" $(touch /tmp/kaspr-pwned) `id` \\ end";

/// Every form in which the credential could have been written down: raw, percent-encoded, and
/// as the Basic-auth token.
pub fn credential_forms() -> Vec<String> {
    use base64::Engine;
    let encoded: String = PASSWORD
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    vec![PASSWORD.to_owned(), encoded, token]
}

/// The files among `files` that hold any of `forms`.
pub fn files_holding(files: &[PathBuf], forms: &[String]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap_or_default();
            forms
                .iter()
                .any(|form| bytes.windows(form.len()).any(|w| w == form.as_bytes()))
        })
        .cloned()
        .collect()
}

/// Every regular file under `dir` (symlinks not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path);
        if meta.as_ref().is_ok_and(|m| m.is_dir()) {
            files.extend(files_under(&path));
        } else if meta.is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    files
}
