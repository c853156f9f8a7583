//! Before any long build: are the system tools the tests (or benchmarks) run there? As root with
//! apt-get, install what is missing and say so; otherwise stop at once, naming the one command
//! that fixes it. (A fresh machine without busybox used to compile for minutes and then fail
//! seven install tests.)

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// A program the suite runs, and the Debian package that provides it.
struct Tool {
    program: &'static str,
    package: &'static str,
    why: &'static str,
}

/// What `cargo xtask test` needs from the system.
const TEST_TOOLS: &[Tool] = &[
    Tool {
        program: "dash",
        package: "dash",
        why: "the install script runs under dash",
    },
    Tool {
        program: "busybox",
        package: "busybox",
        why: "... and under busybox sh",
    },
    Tool {
        program: "bash",
        package: "bash",
        why: "... and under bash",
    },
    Tool {
        program: "flock",
        package: "util-linux",
        why: "the install lock",
    },
    Tool {
        program: "timeout",
        package: "coreutils",
        why: "the install timeout",
    },
    Tool {
        program: "openssl",
        package: "openssl",
        why: "the GCS cache signs its token request with it (and the tests make keys)",
    },
    Tool {
        program: "strace",
        package: "strace",
        why: "the fsync test traces one run",
    },
    Tool {
        program: "mount",
        package: "mount",
        why: "small tmpfs volumes for the space tests",
    },
    Tool {
        program: "xz",
        package: "xz-utils",
        why: "unpacking ../shared/tools/crdserver",
    },
];

/// What `cargo xtask bench` needs from the system.
const BENCH_TOOLS: &[Tool] = &[Tool {
    program: "dash",
    package: "dash",
    why: "the warm path runs under dash",
}];

/// Checks (and where it can, installs) what the tests need; fails fast otherwise.
pub fn for_tests() -> Result<()> {
    let mut missing = missing(TEST_TOOLS);
    if !python_has_venv() {
        missing.push((
            "python3-venv",
            "a venv for pip, uv and pypiserver (python3 -m venv)",
        ));
    }
    provide(&missing)?;
    if !is_root() {
        bail!(
            "the space tests mount small tmpfs volumes, which needs root: run `sudo -E cargo xtask test` \
             (CI runs as root)"
        );
    }
    Ok(())
}

/// Checks (and where it can, installs) what the benchmarks need.
pub fn for_bench() -> Result<()> {
    let mut missing = missing(BENCH_TOOLS);
    if !python_has_pip() {
        missing.push((
            "python3-pip",
            "the warm path is measured against a pip start",
        ));
    }
    provide(&missing)
}

fn missing(tools: &[Tool]) -> Vec<(&'static str, &'static str)> {
    tools
        .iter()
        .filter(|t| find(t.program).is_none())
        .map(|t| (t.package, t.why))
        .collect()
}

/// Installs `packages` with apt-get when this is root on Debian; else names the command.
fn provide(packages: &[(&'static str, &'static str)]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let mut names: Vec<&str> = packages.iter().map(|(p, _)| *p).collect();
    names.dedup();
    let list = names.join(" ");
    for (package, why) in packages {
        eprintln!("xtask: missing {package}: {why}");
    }
    if !(is_root() && find("apt-get").is_some()) {
        bail!("install the missing packages first: `sudo apt-get install {list}`");
    }
    eprintln!("xtask: installing {list} with apt-get");
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    run(Command::new("apt-get").args(["update", "-qq"]).envs(env))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&names)
        .envs(env))?;
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status()?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn python_has_venv() -> bool {
    python_runs("import venv, ensurepip")
}

fn python_has_pip() -> bool {
    python_runs("import pip")
}

fn python_runs(code: &str) -> bool {
    Command::new("python3")
        .args(["-c", code])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The program on PATH or in the system directories (the tests use absolute paths).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
