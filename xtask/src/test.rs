//! `cargo xtask test`: the one test command. It prepares every part the tests need, runs all
//! test suites, and says loudly what it could not run.
//!
//! Parts:
//! - a Python venv under `target/test-venv` with the tools in `xtask/test-requirements.txt`
//!   (exported to the tests as `KASPR_TEST_VENV`);
//! - a real API server: `KASPR_TEST_KUBECONFIG` if already set (e.g. a kind cluster), else
//!   `../shared/tools/crdserver` started under `target/crdserver` and stopped afterwards.
//!   Without either, the API-server suite is skipped with a loud notice, and under `CI=true`
//!   that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const APISERVER_CRATE: &str = "kaspr-apiserver-tests";
const REQUIREMENTS: &str = "xtask/test-requirements.txt";
const KUBECONFIG_ENV: &str = "KASPR_TEST_KUBECONFIG";

pub fn run(args: &[&str]) -> Result<()> {
    let root = crate::workspace_root();
    crate::preflight::for_tests()?;
    let server = ApiServer::start(&root)?;
    if let ApiServer::Missing = server
        && std::env::var("CI").is_ok_and(|v| v == "true")
    {
        skipped_notice()?;
    }
    let venv = match prepare_venv(&root) {
        Ok(venv) => venv,
        Err(e) => {
            server.stop();
            return Err(e);
        }
    };

    // The API-server suite runs the operator binary: build it first, so it is never stale.
    run_checked(
        cargo_command(&root).args(["build", "--quiet", "-p", "kaspr-operator"]),
        "cargo build -p kaspr-operator",
    )?;
    let mut cargo = cargo_command(&root);
    cargo.arg("test");
    // Arguments are the user's, unchanged: `-p <crate>` narrows, `-- <filter>` filters.
    let workspace = !args
        .iter()
        .any(|a| *a == "-p" || *a == "--package" || a.starts_with("--package="));
    if workspace {
        cargo.arg("--workspace");
    }
    cargo.env("KASPR_TEST_VENV", &venv);
    match &server {
        ApiServer::Available { kubeconfig, .. } => {
            cargo.env(KUBECONFIG_ENV, kubeconfig);
        }
        ApiServer::Missing if workspace => {
            cargo.args(["--exclude", APISERVER_CRATE]);
        }
        ApiServer::Missing => {}
    }
    cargo.args(args);
    let status = cargo.status().context("running cargo test");
    server.stop();
    let status = status?;
    if let ApiServer::Missing = server {
        skipped_notice()?;
    }
    if !status.success() {
        bail!("tests failed");
    }
    Ok(())
}

/// Creates (once) the venv with the Python tools the tests drive, and returns its path.
pub(crate) fn prepare_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/test-venv");
    let requirements = std::fs::read_to_string(root.join(REQUIREMENTS))
        .with_context(|| format!("reading {REQUIREMENTS}"))?;
    let stamp = venv.join(".requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
        return Ok(venv);
    }
    eprintln!("xtask: preparing Python test tools in {}", venv.display());
    run_checked(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "python3 -m venv (on Debian: apt-get install python3-venv)",
    )?;
    run_checked(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(root.join(REQUIREMENTS)),
        "pip install of the test tools (needs access to PyPI)",
    )?;
    std::fs::write(&stamp, requirements)?;
    Ok(venv)
}

pub(crate) fn cargo_command(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

fn run_checked(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

enum ApiServer {
    /// Started by us (stop it after) or given by the caller (leave it alone).
    Available {
        kubeconfig: PathBuf,
        started: Option<PathBuf>,
    },
    Missing,
}

impl ApiServer {
    fn start(root: &Path) -> Result<Self> {
        if let Ok(kubeconfig) = std::env::var(KUBECONFIG_ENV) {
            eprintln!(
                "xtask: API-server tests use {kubeconfig} ({} is set)",
                KUBECONFIG_ENV
            );
            return Ok(Self::Available {
                kubeconfig: kubeconfig.into(),
                started: None,
            });
        }
        let tool = root.join("../shared/tools/crdserver");
        if !tool.join("start").is_file() {
            return Ok(Self::Missing);
        }
        let dir = root.join("target/crdserver");
        // A previous run that was killed may have left servers behind.
        let _ = Command::new(tool.join("stop")).arg(&dir).status();
        let _ = std::fs::remove_dir_all(dir.join("etcd-data"));
        let out = Command::new(tool.join("start"))
            .arg(&dir)
            .output()
            .context("starting crdserver")?;
        if !out.status.success() {
            bail!(
                "crdserver did not start:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let kubeconfig = String::from_utf8(out.stdout)?.trim().to_owned();
        eprintln!("xtask: started crdserver ({kubeconfig})");
        Ok(Self::Available {
            kubeconfig: kubeconfig.into(),
            started: Some(dir),
        })
    }

    fn stop(&self) {
        if let Self::Available {
            started: Some(dir), ..
        } = self
        {
            let tool = crate::workspace_root().join("../shared/tools/crdserver/stop");
            let _ = Command::new(tool).arg(dir).status();
        }
    }
}

fn skipped_notice() -> Result<()> {
    let banner = "=".repeat(78);
    eprintln!(
        "{banner}\nSKIPPED: the API-server suite ({APISERVER_CRATE}) did not run.\n\
         It needs ../shared/tools/crdserver beside this checkout, or a cluster:\n\
         export {}=/path/to/kubeconfig (e.g. of a kind or k3d cluster).\n{banner}",
        KUBECONFIG_ENV
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        bail!("CI=true: the API-server suite must run");
    }
    Ok(())
}
