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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::test::{cargo_command, prepare_venv};

type Step = fn(&Path) -> Result<Outcome>;

const STEPS: [(&str, Step); 7] = [
    ("fmt", fmt),
    ("clippy", clippy),
    ("doc", doc),
    ("shell", shell),
    ("python", python),
    ("deny", deny),
    ("msrv", msrv),
];

/// Where the rendered scripts and the extracted Python are written for the linters.
const OUT_DIR: &str = "target/lint";

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
            ("advisories", _) => selected.push(("advisories", advisories)),
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

fn fmt(root: &Path) -> Result<Outcome> {
    status(
        cargo_command(root).args(["fmt", "--all", "--", "--check"]),
        "cargo fmt",
    )
}

fn clippy(root: &Path) -> Result<Outcome> {
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

fn doc(root: &Path) -> Result<Outcome> {
    status(
        cargo_command(root)
            .args(["doc", "--no-deps", "--workspace", "--quiet"])
            .env("RUSTDOCFLAGS", "-D warnings"),
        "cargo doc",
    )
}

/// Finds `program` on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// shellcheck on every variant of the install script: the knobs that change its text are the
/// installer, the cache mode, the failure policy and the image-packages policy; the paths are
/// the operator's layout, and once odd ones (a space, a quote) to check their quoting.
/// Findings are reported once, against the line of `templates/install.sh`, with the dialects
/// and the number of variants that have them.
fn shell(root: &Path) -> Result<Outcome> {
    let Some(shellcheck) = which("shellcheck") else {
        return Ok(Outcome::Skipped(
            "shellcheck is not installed (apt-get install shellcheck; .ci/run does this)".into(),
        ));
    };
    let files = write_variants(root)?;
    let template = std::fs::read_to_string(root.join(TEMPLATES).join("install.sh"))?;
    // Where (template line, column), what (code, message) -> in which dialects, how many files.
    let mut findings: BTreeMap<Finding, (Vec<&str>, usize)> = BTreeMap::new();
    // The script runs with `/bin/sh -c`: dash, bash or busybox ash, whichever the image has
    // (shellcheck has no busybox dialect; `sh` is the strict POSIX one). One process each, at once.
    let dialects = ["sh", "dash", "bash"];
    let outputs = std::thread::scope(|scope| {
        let runs: Vec<_> = dialects
            .iter()
            .map(|dialect| {
                let mut cmd = Command::new(&shellcheck);
                cmd.args([
                    "--shell",
                    dialect,
                    "--severity",
                    "style",
                    "--format",
                    "json1",
                ])
                .args(["--enable", OPTIONAL_CHECKS])
                .args(files.iter().map(|(f, _)| f));
                scope.spawn(move || cmd.output())
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect::<std::io::Result<Vec<_>>>()
    })
    .context("running shellcheck")?;
    for (dialect, out) in dialects.into_iter().zip(outputs) {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "shellcheck output: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        if !out.status.success() && report["comments"].as_array().is_none_or(Vec::is_empty) {
            bail!(
                "shellcheck failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for c in report["comments"].as_array().into_iter().flatten() {
            let file = c["file"].as_str().unwrap_or_default();
            let Some((_, script)) = files.iter().find(|(f, _)| f.as_os_str() == file) else {
                bail!("shellcheck names an unknown file {file}");
            };
            let line = c["line"].as_u64().unwrap_or_default() as usize;
            let key = (
                template_line(&template, script, line),
                c["column"].as_u64().unwrap_or_default() as usize,
                c["code"].as_u64().unwrap_or_default(),
                format!(
                    "{}: {}",
                    c["level"].as_str().unwrap_or_default(),
                    c["message"].as_str().unwrap_or_default()
                ),
            );
            let entry = findings.entry(key).or_default();
            if !entry.0.contains(&dialect) {
                entry.0.push(dialect);
            }
            entry.1 += 1;
        }
    }
    eprintln!(
        "xtask lint: shellcheck (sh, dash, bash) on {} rendered variants in {OUT_DIR}/",
        files.len()
    );
    let lines: Vec<&str> = template.lines().collect();
    for ((line, column, code, message), (dialects, hits)) in &findings {
        eprintln!(
            "{TEMPLATES}/install.sh:{line}:{column}: SC{code} {message} [{}; {} of {} variants]\n    {}",
            dialects.join(", "),
            hits / dialects.len(),
            files.len(),
            lines.get(line.saturating_sub(1)).unwrap_or(&"").trim()
        );
    }
    // The CI script itself (bash, by its shebang).
    let ci = status(
        Command::new(&shellcheck).current_dir(root).args([
            "--severity",
            "style",
            "--enable",
            OPTIONAL_CHECKS,
            CI_SCRIPT,
        ]),
        "shellcheck .ci/run",
    )?;
    Ok(if findings.is_empty() && matches!(ci, Outcome::Passed) {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

/// shellcheck's optional checks that fit scripts of `set -u` and uppercase globals: an
/// uppercase name used but never assigned is a typo or an environment variable without a
/// default, and either aborts the script.
const OPTIONAL_CHECKS: &str =
    "check-unassigned-uppercase,avoid-nullary-conditions,deprecate-which,quote-safe-variables";
const CI_SCRIPT: &str = ".ci/run";

type Finding = (usize, usize, u64, String);

/// The line of `install.sh` that line `line` of a rendered script comes from: the lines match
/// one to one, except that the four include lines of `KASPR_PY` become the whole program.
fn template_line(template: &str, script: &str, line: usize) -> usize {
    let opening = |text: &str| text.lines().position(|l| l.starts_with("KASPR_PY='"));
    let closing = |text: &str, from: usize| {
        text.lines()
            .enumerate()
            .skip(from + 1)
            .find(|(_, l)| l.contains('\''))
            .map(|(i, _)| i)
    };
    let (Some(open), Some(open_t)) = (opening(script), opening(template)) else {
        return line;
    };
    let (Some(close), Some(close_t)) = (closing(script, open), closing(template, open_t)) else {
        return line;
    };
    // 1-based `line` against 0-based positions.
    if line <= open + 1 {
        line
    } else if line <= close + 1 {
        open_t + 1
    } else {
        line - close + close_t
    }
}

/// The variant specs, by file stem.
fn variant_specs() -> Vec<(String, String)> {
    let mut specs = Vec::new();
    for installer in ["pip", "uv"] {
        for cache in [true, false] {
            for on_failure in ["block", "allow"] {
                for image in ["protect", "override"] {
                    let cache_name = if cache { "cache" } else { "nocache" };
                    specs.push((
                        format!("install-{installer}-{cache_name}-{on_failure}-{image}"),
                        format!(
                            "packages: [kaspr-demo==1.0]\ninstaller: {installer}\n\
                             cache: {{enabled: {cache}}}\n\
                             installPolicy: {{onFailure: {on_failure}}}\n\
                             imagePackages: {image}\n"
                        ),
                    ));
                }
            }
        }
    }
    specs
}

/// Renders every variant into `target/lint/` and returns the files with their text.
fn write_variants(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    let dir = root.join(OUT_DIR);
    // No stale variants from an earlier run.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let hostile = kaspr_script::Paths {
        root: "/data/my packages".into(),
        site_link: "/python env/site".into(),
        report: "/dev/termination-log".into(),
        live_hashes: "/live/it's here".into(),
    };
    let specs = variant_specs();
    let odd = specs
        .first()
        .map(|(stem, yaml)| (format!("{stem}-odd-paths"), yaml.clone(), hostile));
    let mut files = Vec::new();
    let all = specs
        .into_iter()
        .map(|(stem, yaml)| (stem, yaml, kaspr_script::Paths::default()))
        .chain(odd);
    for (stem, yaml, paths) in all {
        let path = dir.join(format!("{stem}.sh"));
        let script = render(&yaml, &paths)?;
        std::fs::write(&path, &script)?;
        files.push((path, script));
    }
    Ok(files)
}

fn render(yaml: &str, paths: &kaspr_script::Paths) -> Result<String> {
    let spec: kaspr_types::PythonPackagesSpec =
        serde_yaml::from_str(yaml).with_context(|| format!("variant spec\n{yaml}"))?;
    let hash = kaspr_hash::packages_hash(&spec).context("variant hash")?;
    Ok(kaspr_script::render(&spec, &hash, paths)?.script)
}

/// The templates the script embeds, in the order `install.sh` includes them.
const EMBEDDED: [&str; 4] = ["helper.py", "image.py", "space.py", "main.py"];
const TEMPLATES: &str = "crates/kaspr-script/templates";
const FIXTURES: &str = "crates/kaspr-script/tests/support/fixtures.py";
const RUFF_CONFIG: &str = "xtask/ruff.toml";

/// ruff on the Python program the script runs (taken out of a rendered script, so the names
/// one template uses from another resolve) and on the test fixtures. Findings in the extracted
/// program are reported against the template file and line.
fn python(root: &Path) -> Result<Outcome> {
    let venv = prepare_venv(root)?;
    let ruff = venv.join("bin/ruff");
    if !ruff.is_file() {
        bail!("{} is missing after preparing the venv", ruff.display());
    }
    let (_, yaml) = variant_specs().swap_remove(0);
    let script = render(&yaml, &kaspr_script::Paths::default())?;
    let program = embedded_python(&script)?;
    let starts = template_starts(root, &program)?;
    let dir = root.join(OUT_DIR);
    std::fs::create_dir_all(&dir)?;
    let extracted = dir.join("kaspr_py.py");
    // The closing quote follows the last line directly; a file ends with a newline.
    std::fs::write(&extracted, format!("{program}\n"))?;

    let out = Command::new(&ruff)
        .current_dir(root)
        .args([
            "check",
            "--no-cache",
            "--output-format",
            "concise",
            "--config",
        ])
        .arg(root.join(RUFF_CONFIG))
        .arg(&extracted)
        .arg(root.join(FIXTURES))
        .output()
        .context("running ruff")?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        eprintln!("{}", relocate(line, &extracted, &starts));
    }
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    Ok(if out.status.success() {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

/// The text between `KASPR_PY='` and the closing quote (the helper never holds a `'`).
fn embedded_python(script: &str) -> Result<String> {
    let start = script
        .find("KASPR_PY='")
        .context("no KASPR_PY= in the rendered script")?
        + "KASPR_PY='".len();
    let len = script[start..]
        .find('\'')
        .context("KASPR_PY is not closed")?;
    Ok(script[start..start + len].to_owned())
}

/// The line (1-based) of the extracted program at which each embedded template starts.
fn template_starts(root: &Path, program: &str) -> Result<Vec<(usize, &'static str)>> {
    let mut starts = Vec::new();
    let mut from = 0;
    for name in EMBEDDED {
        let text = std::fs::read_to_string(root.join(TEMPLATES).join(name))?;
        let head = text.lines().next().unwrap_or_default();
        let at = program[from..]
            .find(head)
            .map(|i| from + i)
            .with_context(|| format!("{name} is not in the embedded program"))?;
        starts.push((program[..at].lines().count() + 1, name));
        from = at + head.len();
    }
    Ok(starts)
}

/// `target/lint/kaspr_py.py:LINE:COL: ...` → `crates/kaspr-script/templates/NAME:LINE:COL: ...`.
fn relocate(line: &str, extracted: &Path, starts: &[(usize, &str)]) -> String {
    let prefix = format!("{}:", extracted.display());
    let relative = format!("{OUT_DIR}/kaspr_py.py:");
    let Some(rest) = line
        .strip_prefix(&prefix)
        .or_else(|| line.strip_prefix(&relative))
    else {
        return line.to_owned();
    };
    let Some((number, rest)) = rest.split_once(':') else {
        return line.to_owned();
    };
    let Ok(number) = number.parse::<usize>() else {
        return line.to_owned();
    };
    match starts.iter().rev().find(|(start, _)| *start <= number) {
        Some((start, name)) => format!("{TEMPLATES}/{name}:{}:{rest}", number - start + 1),
        None => line.to_owned(),
    }
}

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

/// Licenses, bans (duplicate versions, wildcards) and sources, all from the local lockfile and
/// registry index; see `deny.toml`.
fn deny(root: &Path) -> Result<Outcome> {
    let Some(deny) = cargo_deny() else {
        return Ok(Outcome::Skipped(NO_DENY.into()));
    };
    status(
        Command::new(deny)
            .current_dir(root)
            .args(["check", "licenses", "bans", "sources"]),
        "cargo deny",
    )
}

/// RustSec advisories: fetches the advisory database from GitHub.
fn advisories(root: &Path) -> Result<Outcome> {
    let Some(deny) = cargo_deny() else {
        return Ok(Outcome::Skipped(NO_DENY.into()));
    };
    status(
        Command::new(deny)
            .current_dir(root)
            .args(["check", "advisories"]),
        "cargo deny check advisories",
    )
}

/// What can be checked of the MSRV with one (newer) toolchain and no network:
/// - every workspace member that declares a `rust-version` declares the workspace's;
/// - the edition needs no newer compiler than the MSRV;
/// - the installed rustc is not older than the MSRV;
/// - no dependency in the lockfile (for this platform) declares a `rust-version` above it.
///
/// Not checked: language features and compiler behaviour newer than the MSRV (that needs the
/// MSRV toolchain itself, which rustup would have to download); clippy's `incompatible_msrv`
/// lint covers std APIs.
fn msrv(root: &Path) -> Result<Outcome> {
    let host = rustc_host()?;
    let out = cargo_command(root)
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(&host)
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .context("workspace_members")?
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let packages = meta["packages"].as_array().context("packages")?;

    let mut declared = BTreeMap::new();
    let mut undeclared = Vec::new();
    for p in packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or_default()))
    {
        let name = p["name"].as_str().unwrap_or_default();
        match p["rust_version"].as_str() {
            Some(v) => {
                declared.insert(name, v);
            }
            None => undeclared.push(name),
        }
    }
    let mut problems = Vec::new();
    let msrv = {
        let mut versions: Vec<&str> = declared.values().copied().collect();
        versions.sort_unstable();
        versions.dedup();
        match versions.as_slice() {
            [one] => Version::parse(one)?,
            [] => bail!("no workspace member declares a rust-version"),
            _ => {
                problems.push(format!(
                    "members declare different rust-versions: {declared:?}"
                ));
                Version::parse(versions[0])?
            }
        }
    };
    if !undeclared.is_empty() {
        eprintln!(
            "xtask lint: members without a rust-version (not checked by clippy's incompatible_msrv): {}",
            undeclared.join(", ")
        );
    }

    for p in packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or_default()))
    {
        let edition = p["edition"].as_str().unwrap_or("2015");
        let needs = match edition {
            "2024" => Some(Version(1, 85, 0)),
            "2021" => Some(Version(1, 56, 0)),
            "2018" => Some(Version(1, 31, 0)),
            _ => None,
        };
        if let Some(needs) = needs
            && needs > msrv
        {
            problems.push(format!(
                "{}: edition {edition} needs Rust {needs}, above the MSRV {msrv}",
                p["name"].as_str().unwrap_or_default()
            ));
        }
    }

    let rustc = rustc_version()?;
    if rustc < msrv {
        problems.push(format!(
            "the installed rustc {rustc} is older than the MSRV {msrv}"
        ));
    }

    let mut checked = 0;
    for p in packages
        .iter()
        .filter(|p| !members.contains(&p["id"].as_str().unwrap_or_default()))
    {
        let Some(v) = p["rust_version"].as_str() else {
            continue;
        };
        checked += 1;
        if Version::parse(v)? > msrv {
            problems.push(format!(
                "dependency {} {} needs Rust {v}, above the MSRV {msrv}",
                p["name"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default()
            ));
        }
    }
    eprintln!(
        "xtask lint: MSRV {msrv}, rustc {rustc}; {checked} of {} dependencies declare a rust-version",
        packages.len() - members.len()
    );
    for problem in &problems {
        eprintln!("xtask lint: msrv: {problem}");
    }
    Ok(if problems.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

fn rustc_verbose() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("rustc -vV")?;
    Ok(String::from_utf8(out.stdout)?)
}

fn rustc_field(name: &str) -> Result<String> {
    rustc_verbose()?
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("rustc -vV has no {name}"))
}

fn rustc_host() -> Result<String> {
    rustc_field("host:")
}

fn rustc_version() -> Result<Version> {
    Version::parse(&rustc_field("release:")?)
}

/// A Rust version: major.minor.patch (a missing patch is 0; pre-release tags are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u32, u32, u32);

impl Version {
    fn parse(text: &str) -> Result<Self> {
        let core = text.split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.').map(str::parse::<u32>);
        let mut next = |required: bool| -> Result<u32> {
            match parts.next() {
                Some(n) => Ok(n.with_context(|| format!("version {text}"))?),
                None if required => bail!("version {text}"),
                None => Ok(0),
            }
        };
        Ok(Self(next(true)?, next(true)?, next(false)?))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(Version::parse("1.89").ok() < Version::parse("1.100.0").ok());
        assert_eq!(
            Version::parse("1.95.0-nightly").ok(),
            Some(Version(1, 95, 0))
        );
        assert!(Version::parse("1").is_err());
    }

    #[test]
    fn findings_point_at_the_template() {
        let starts = [(1, "helper.py"), (563, "image.py")];
        let extracted = Path::new("/w/target/lint/kaspr_py.py");
        assert_eq!(
            relocate(
                "/w/target/lint/kaspr_py.py:570:5: F401 unused",
                extracted,
                &starts
            ),
            "crates/kaspr-script/templates/image.py:8:5: F401 unused"
        );
        assert_eq!(
            relocate("Found 1 error.", extracted, &starts),
            "Found 1 error."
        );
    }

    #[test]
    fn script_lines_map_to_the_template() {
        let template = "A=1\nKASPR_PY='{% include a %}\n{% include b %}'\n\nB=2\n";
        let script = "A=1\nKASPR_PY='x\ny\nz\nw'\n\nB=2\n";
        assert_eq!(template_line(template, script, 1), 1);
        assert_eq!(template_line(template, script, 2), 2);
        assert_eq!(template_line(template, script, 4), 2);
        assert_eq!(template_line(template, script, 7), 5);
    }

    #[test]
    fn the_embedded_program_is_found() {
        let script = "A=1\nKASPR_PY='import os\nprint(1)'\nkpy() { :; }\n";
        assert_eq!(
            embedded_python(script).ok().as_deref(),
            Some("import os\nprint(1)")
        );
    }
}
