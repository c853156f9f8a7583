//! One pod's run of the rendered install script, as `crates/kaspr-script/tests/support/run.rs`
//! runs it: dash, a PATH holding only the tools the protocol allows plus python3/uv shims that
//! count installer runs, the script's environment with the Secret's values, a packages root
//! shared by the pods of one case, and a directory per pod.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kaspr_script::{EnvSource, InstallReport, InstallResult, Paths, render};
use kaspr_types::PythonPackagesSpec;

use crate::bench_setup::{PASSWORD, USER};

/// The tools the protocol allows on the init container's PATH (besides python3 and uv).
const TOOLS: [&str; 6] = ["timeout", "mv", "mkdir", "date", "stat", "flock"];

/// A packages volume shared by the pods of one case (removed first if left over).
pub struct Volume {
    pub dir: PathBuf,
    venv: PathBuf,
}

impl Volume {
    pub fn fresh(dir: PathBuf, venv: &Path) -> Result<Self> {
        remove(&dir)?;
        std::fs::create_dir_all(&dir)?;
        settle();
        Ok(Self {
            dir,
            venv: venv.to_owned(),
        })
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("packages")
    }

    /// The per-pod site link, as the main container's PYTHONPATH names it.
    pub fn site(&self, pod: &str) -> PathBuf {
        self.dir.join(format!("pod-{pod}/python-env/site"))
    }

    pub fn remove(self) -> Result<()> {
        if std::env::var_os("KASPR_BENCH_KEEP").is_some() {
            return Ok(());
        }
        remove(&self.dir)
    }
}

/// Writes back what earlier cases left dirty, so that no case pays for another's writes.
pub fn settle() {
    let _ = Command::new("sync").status();
}

fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// The spec a pod runs: `packages` from the authenticated index, with `installer`. The index is
/// plain HTTP on loopback, so it is a trusted host: pip caches downloads only from HTTPS and
/// trusted hosts, and real registries are HTTPS.
pub fn spec(packages: &[String], installer: &str, index: &str) -> Result<PythonPackagesSpec> {
    let host = index
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let yaml = format!(
        "packages: [{}]\nindexUrl: {index}\ntrustedHosts: ['{host}']\n\
         credentials: {{secretRef: {{name: pypi}}}}\n\
         installer: {installer}\ninstallPolicy: {{retries: 0, timeout: 900}}\n",
        packages.join(", ")
    );
    serde_yaml::from_str(&yaml).context("bench spec")
}

/// A pod's started run.
pub struct Started {
    child: Child,
    pod_dir: PathBuf,
    began: Instant,
}

/// What a pod's run left behind.
pub struct Finished {
    pub elapsed: Duration,
    pub report: InstallReport,
    /// Installer processes the pod started (pip or uv), from the shims.
    pub installer_runs: usize,
}

/// Starts pod `pod` of `volume` with `spec`.
pub fn start(volume: &Volume, pod: &str, spec: &PythonPackagesSpec) -> Result<Started> {
    let pod_dir = volume.dir.join(format!("pod-{pod}"));
    let bin = pod_dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    write_shims(&bin, &volume.venv, &pod_dir.join("installer-calls"))?;
    for tool in TOOLS {
        std::os::unix::fs::symlink(system_tool(tool)?, bin.join(tool))?;
    }
    let hash = kaspr_hash::packages_hash(spec)?;
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    let paths = Paths {
        root: path(volume.root()),
        site_link: path(volume.site(pod)),
        report: path(pod_dir.join("termination-log")),
        live_hashes: path(volume.dir.join("live/live-hashes")),
        gcs_key: path(volume.dir.join("gcs/sa.json")),
    };
    let script = render(spec, &hash, &paths)?;
    let mut cmd = Command::new(system_tool("dash")?);
    cmd.arg("-c").arg(&script.script);
    cmd.env_clear().env("PATH", &bin).env("HOME", &pod_dir);
    for var in &script.env {
        let value = match &var.source {
            EnvSource::Value(v) => OsString::from(v),
            EnvSource::PodName => OsString::from(pod),
            EnvSource::AppName => OsString::from("bench"),
            EnvSource::SecretKey { key, .. } if key == "username" => USER.into(),
            EnvSource::SecretKey { .. } => PASSWORD.into(),
        };
        cmd.env(var.name, value);
    }
    let began = Instant::now();
    let log = std::fs::File::create(pod_dir.join("output.log"))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting the install script")?;
    Ok(Started {
        child,
        pod_dir,
        began,
    })
}

impl Started {
    /// Waits for the script; fails unless it reported `installed` or `cached`.
    pub fn finish(mut self) -> Result<Finished> {
        let status = self.child.wait()?;
        let elapsed = self.began.elapsed();
        let text =
            std::fs::read_to_string(self.pod_dir.join("termination-log")).unwrap_or_default();
        let report = InstallReport::parse(&text).ok();
        let report = match report {
            Some(r) if status.success() && r.result != InstallResult::Failed => r,
            _ => {
                let log =
                    std::fs::read_to_string(self.pod_dir.join("output.log")).unwrap_or_default();
                bail!("the install script failed ({status}): {text}\n{log}");
            }
        };
        let calls =
            std::fs::read_to_string(self.pod_dir.join("installer-calls")).unwrap_or_default();
        Ok(Finished {
            elapsed,
            report,
            installer_runs: calls.lines().count(),
        })
    }
}

/// One pod's whole run.
pub fn run(volume: &Volume, pod: &str, spec: &PythonPackagesSpec) -> Result<Finished> {
    start(volume, pod, spec)?.finish()
}

/// The image's python3 and uv: each installer run leaves a line, then the real one takes over.
fn write_shims(bin: &Path, venv: &Path, calls: &Path) -> Result<()> {
    let calls = calls.display();
    let python = venv.join("bin/python3");
    let python = python.display();
    let uv = venv.join("bin/uv");
    let uv = uv.display();
    write_exec(
        &bin.join("python3"),
        &format!(
            "#!/bin/sh\nif [ \"${{1:-}}\" = -m ] && [ \"${{2:-}}\" = pip ]; then echo pip >>'{calls}'; fi\n\
             exec '{python}' \"$@\"\n"
        ),
    )?;
    write_exec(
        &bin.join("uv"),
        &format!("#!/bin/sh\necho uv >>'{calls}'\nexec '{uv}' \"$@\"\n"),
    )
}

fn write_exec(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A system tool by absolute path (the script's PATH holds only the shims and these links).
fn system_tool(tool: &str) -> Result<PathBuf> {
    ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
        .with_context(|| format!("{tool} is not installed"))
}
