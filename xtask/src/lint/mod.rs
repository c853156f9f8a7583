//! `cargo xtask lint [step...]`: every check that is not a test, Rust and not Rust alike.
//!
//! Steps (all of them when none is named):
//! - `fmt`     `cargo fmt --check`
//! - `clippy`  `cargo clippy --workspace --all-targets -D warnings` (its `incompatible_msrv` lint
//!   also flags std APIs newer than the declared `rust-version`)
//! - `doc`     `cargo doc --no-deps --workspace` with `RUSTDOCFLAGS=-D warnings`
//! - `shell`   shellcheck (as sh, dash and bash) on the install script rendered in every variant,
//!   and on `.ci/run`
//! - `python`  ruff on the Python the script embeds and on the test fixtures (`xtask/ruff.toml`)
//! - `deny`    cargo-deny: licenses, bans (duplicate versions) and sources, from `deny.toml`
//! - `msrv`    the declared `rust-version` against the toolchain and every dependency's own
//!
//! Not in the default set: `advisories` (`cargo deny check advisories`), because the advisory
//! database is a git repository on GitHub and the build machines reach only package registries.
//! Run it by name where GitHub is reachable.
//!
//! A missing tool (shellcheck, cargo-deny) skips its step with a loud notice; under `CI=true`
//! that is a failure, as in `cargo xtask test`.
//!
//! One module a kind of step: [`rust`] (fmt, clippy, doc), [`shell`], [`python`] (which also
//! lists the templates the script embeds), [`deny`] (and advisories), [`msrv`]; [`variants`]
//! renders the script variants that `shell` and `python` lint.

mod deny;
mod msrv;
mod python;
mod rust;
mod shell;
mod variants;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

type Step = fn(&Path) -> Result<Outcome>;

const STEPS: [(&str, Step); 7] = [
    ("fmt", rust::fmt),
    ("clippy", rust::clippy),
    ("doc", rust::doc),
    ("shell", shell::shell),
    ("python", python::python),
    ("deny", deny::deny),
    ("msrv", msrv::msrv),
];

/// Where the rendered scripts and the extracted Python are written for the linters.
const OUT_DIR: &str = "target/lint";
/// Where the install script's templates live.
const TEMPLATES: &str = "crates/kaspr-script/templates";

enum Outcome {
    Passed,
    Failed,
    /// A tool is missing; the reason says how to get it.
    Skipped(String),
}

pub fn run(args: &[&str]) -> Result<()> {
    let root = crate::workspace_root();
    let mut selected: Vec<(&str, Step)> = Vec::new();
    for name in args {
        match (*name, STEPS.iter().find(|(n, _)| n == name)) {
            ("advisories", _) => selected.push(("advisories", deny::advisories)),
            (_, Some(step)) => selected.push(*step),
            _ => bail!(
                "unknown lint step {name}; steps: {} advisories",
                STEPS.map(|(n, _)| n).join(" ")
            ),
        }
    }
    if selected.is_empty() {
        selected = STEPS.to_vec();
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let mut summary = String::new();
    let mut failed = Vec::new();
    for (name, step) in selected {
        eprintln!("xtask lint: {name}");
        let t0 = Instant::now();
        let outcome = step(&root).with_context(|| format!("lint step {name}"))?;
        let secs = t0.elapsed().as_secs_f32();
        let verdict = match outcome {
            Outcome::Passed => "ok".to_owned(),
            Outcome::Failed => {
                failed.push(name);
                "FAILED".to_owned()
            }
            Outcome::Skipped(why) if ci => {
                failed.push(name);
                format!("SKIPPED, which fails under CI=true: {why}")
            }
            Outcome::Skipped(why) => format!("SKIPPED: {why}"),
        };
        writeln!(summary, "  {name:<10} {secs:>6.1}s  {verdict}")?;
    }
    eprintln!("xtask lint summary:\n{summary}");
    if !failed.is_empty() {
        bail!("lint failed: {}", failed.join(", "));
    }
    Ok(())
}

fn status(cmd: &mut Command, what: &str) -> Result<Outcome> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    Ok(if status.success() {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

/// Finds `program` on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
