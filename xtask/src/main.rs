//! `cargo xtask <task>`: the project's chores, in Rust so they run wherever cargo does.
//!
//! - `crd [--check]`   write `crds/kasprapp.crd.yaml` from the Rust types, or fail if it is stale
//! - `test`            prepare every part the tests need, then run all of them

mod crd;
mod test;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match args.first().map(String::as_str) {
        Some("crd") => crd::run(&rest),
        Some("test") => test::run(&rest),
        _ => bail!("usage: cargo xtask crd [--check] | test"),
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
