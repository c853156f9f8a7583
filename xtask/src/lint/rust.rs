//! The Rust steps: `cargo fmt --check`, clippy with `-D warnings`, rustdoc with `-D warnings`.

use std::path::Path;

use anyhow::Result;

use super::{Outcome, status};
use crate::test::cargo_command;

pub(super) fn fmt(root: &Path) -> Result<Outcome> {
    status(
        cargo_command(root).args(["fmt", "--all", "--", "--check"]),
        "cargo fmt",
    )
}

pub(super) fn clippy(root: &Path) -> Result<Outcome> {
    status(
        cargo_command(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy",
    )
}

pub(super) fn doc(root: &Path) -> Result<Outcome> {
    status(
        cargo_command(root)
            .args(["doc", "--no-deps", "--workspace", "--quiet"])
            .env("RUSTDOCFLAGS", "-D warnings"),
        "cargo doc",
    )
}
