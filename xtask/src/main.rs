//! `cargo xtask <task>`: the project's chores, in Rust so they run wherever cargo does.
//!
//! - `crd [--check]`   write `crds/kasprapp.crd.yaml` from the Rust types, or fail if it is stale
//! - `test`            prepare every part the tests need, then run all of them
//! - `lint [step...]`  every check that is not a test: fmt, clippy, doc, shellcheck on the
//!   rendered install script, ruff on its Python, cargo-deny, the MSRV (see `lint/mod.rs`)
//! - `bench`           the criterion benchmarks (warm path vs a pip start; build and status)

mod crd;
mod lint;
mod preflight;
mod test;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match args.first().map(String::as_str) {
        Some("crd") => crd::run(&rest),
        Some("test") => test::run(&rest),
        Some("lint") => lint::run(&rest),
        Some("bench") => bench(&rest),
        _ => bail!("usage: cargo xtask crd [--check] | test | lint [step...] | bench"),
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Runs the benchmarks; extra arguments go to criterion (e.g. a name filter).
fn bench(args: &[&str]) -> Result<()> {
    preflight::for_bench()?;
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(workspace_root())
            .args(["bench", "-p", "kaspr-script", "-p", "kaspr-reconcile", "--"])
            .args(args)
            .status()?;
    if !status.success() {
        bail!("benchmarks failed");
    }
    Ok(())
}
