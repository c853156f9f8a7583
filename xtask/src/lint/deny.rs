//! The `deny` step (and `advisories`, by name only): cargo-deny against `deny.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use super::{Outcome, status, which};

/// cargo-deny on PATH, or where `cargo install` put it.
fn cargo_deny() -> Option<PathBuf> {
    which("cargo-deny").or_else(|| {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(home.join("bin/cargo-deny")).filter(|p| p.is_file())
    })
}

const NO_DENY: &str =
    "cargo-deny is not installed (cargo install --locked cargo-deny; .ci/run does this)";

/// `cargo deny check <checks>`, or skipped when cargo-deny is not installed.
fn check(root: &Path, checks: &[&str], what: &str) -> Result<Outcome> {
    let Some(deny) = cargo_deny() else {
        return Ok(Outcome::Skipped(NO_DENY.into()));
    };
    status(
        Command::new(deny)
            .current_dir(root)
            .arg("check")
            .args(checks),
        what,
    )
}

/// Licenses, bans (duplicate versions, wildcards) and sources, all from the local lockfile and
/// registry index; see `deny.toml`.
pub(super) fn deny(root: &Path) -> Result<Outcome> {
    check(root, &["licenses", "bans", "sources"], "cargo deny")
}

/// RustSec advisories: fetches the advisory database from GitHub.
pub(super) fn advisories(root: &Path) -> Result<Outcome> {
    check(root, &["advisories"], "cargo deny check advisories")
}
