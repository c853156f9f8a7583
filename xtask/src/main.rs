//! `cargo xtask <task>`: the project's chores, in Rust so they run wherever cargo does.
//!
//! - `crd [--check]`   write `crds/*.crd.yaml` from the Rust types, or fail if one is stale
//! - `test`            prepare every part the tests need, then run all of them
//! - `lint [step...]`  every check that is not a test: fmt, clippy, doc, shellcheck on the
//!   rendered install script, ruff on its Python, cargo-deny, the MSRV (see `lint/mod.rs`)
//! - `bench [realistic|operator|criterion]`  the install script on a realistic wheel set against
//!   plain pip, the operator's memory and throughput with 1,000 KasprApps (both write
//!   `docs/benchmarks.md`), and the criterion benchmarks (see `bench.rs`)

mod bench;
mod bench_cases;
mod bench_operator;
mod bench_pods;
mod bench_report;
mod bench_setup;
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
        Some("bench") => bench::run(&rest),
        _ => bail!("usage: cargo xtask crd [--check] | test | lint [step...] | bench"),
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
