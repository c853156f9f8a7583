//! The realistic benchmark's cases, measured side by side in rounds: each round runs every case
//! once, so a slow phase of the shared machine touches all of them alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kaspr_script::InstallResult;

use crate::bench_pods::{self, Finished, Volume};
use crate::bench_setup::{Server, WheelSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    PythonStart,
    PlainPip,
    ColdPip,
    ColdUv,
    WarmHit,
    Pods(usize),
    AddPip,
    AddUv,
    ImportEnv,
    ImportPlain,
}

impl Case {
    pub fn label(self) -> String {
        match self {
            Self::PythonStart => "`python3 -S -c pass` (the floor of any start)".into(),
            Self::PlainPip => "plain `pip install --no-cache-dir --target` (no operator)".into(),
            Self::ColdPip => "our script, cold, pip".into(),
            Self::ColdUv => "our script, cold, uv".into(),
            Self::WarmHit => "our script, warm hit".into(),
            Self::Pods(n) => format!("{n} pods at once on one cache, cold (pip)"),
            Self::AddPip => "spec change: one package added, warm caches, pip".into(),
            Self::AddUv => "spec change: one package added, warm caches, uv".into(),
            Self::ImportEnv => "main container: import the set from the env".into(),
            Self::ImportPlain => "import the set from plain pip's `--target`".into(),
        }
    }
}

/// The times (and installer runs) of each case, one entry per round.
#[derive(Default)]
pub struct Sample {
    pub secs: Vec<f64>,
    pub installer_runs: Vec<usize>,
}

impl Sample {
    pub fn median(&self) -> f64 {
        let mut v = self.secs.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
    pub fn min(&self) -> f64 {
        self.secs.iter().copied().fold(f64::INFINITY, f64::min)
    }
    pub fn max(&self) -> f64 {
        self.secs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// What the benchmark runs against.
pub struct Bench<'a> {
    pub venv: PathBuf,
    pub work: PathBuf,
    pub server: &'a Server,
    pub wheels: &'a WheelSet,
    pub pods: Vec<usize>,
    pub results: HashMap<Case, Sample>,
}

impl Bench<'_> {
    fn record(&mut self, case: Case, elapsed: Duration, installer_runs: usize) {
        let sample = self.results.entry(case).or_default();
        sample.secs.push(elapsed.as_secs_f64());
        sample.installer_runs.push(installer_runs);
    }

    fn record_pod(&mut self, case: Case, run: &Finished) {
        self.record(case, run.elapsed, run.installer_runs);
    }

    fn spec(&self, installer: &str, add: bool) -> Result<kaspr_types::PythonPackagesSpec> {
        let mut packages = self.wheels.packages.clone();
        if add {
            packages.push(self.wheels.added.clone());
        }
        bench_pods::spec(&packages, installer, &self.server.url)
    }

    /// One round: every case once.
    pub fn round(&mut self, round: usize) -> Result<()> {
        eprintln!("xtask bench: round {round}");
        let start = timed(Command::new(self.venv.join("bin/python3")).args(["-S", "-c", "pass"]))?;
        self.record(Case::PythonStart, start, 0);
        self.plain_pip()?;
        self.pip_path()?;
        self.uv_path()?;
        for n in self.pods.clone() {
            self.pods_at_once(n)?;
        }
        Ok(())
    }

    /// What every pod does without the operator, then the import from its target.
    fn plain_pip(&mut self) -> Result<()> {
        let target = self.work.join("plain-target");
        let tmp = self.work.join("plain-tmp");
        let _ = std::fs::remove_dir_all(&target);
        // pip unpacks in TMPDIR: on the target's filesystem, as the script keeps it.
        std::fs::create_dir_all(&tmp)?;
        bench_pods::settle();
        let index = self.server.authed_url();
        let elapsed = timed(
            Command::new(self.venv.join("bin/python3"))
                .args(["-m", "pip", "install", "--no-cache-dir", "--no-input"])
                .args(["--disable-pip-version-check", "--progress-bar", "off", "-q"])
                .arg("--target")
                .arg(&target)
                .args(["--index-url", &index])
                .args(&self.wheels.packages)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", &self.work)
                .env("TMPDIR", &tmp),
        )?;
        self.record(Case::PlainPip, elapsed, 1);
        let import = self.import(&target)?;
        self.record(Case::ImportPlain, import, 0);
        std::fs::remove_dir_all(&target)?;
        std::fs::remove_dir_all(&tmp)?;
        Ok(())
    }

    /// Cold with pip, a warm hit, the main container's import, and the set plus one package.
    fn pip_path(&mut self) -> Result<()> {
        let volume = Volume::fresh(self.work.join("pip"), &self.venv)?;
        let cold = installed(bench_pods::run(&volume, "cold", &self.spec("pip", false)?)?)?;
        self.record_pod(Case::ColdPip, &cold);
        let hit = bench_pods::run(&volume, "hit", &self.spec("pip", false)?)?;
        if hit.report.result != InstallResult::Cached || hit.installer_runs != 0 {
            bail!("the warm hit ran an installer");
        }
        self.record_pod(Case::WarmHit, &hit);
        let import = self.import(&volume.site("hit"))?;
        self.record(Case::ImportEnv, import, 0);
        let add = installed(bench_pods::run(&volume, "add", &self.spec("pip", true)?)?)?;
        self.record_pod(Case::AddPip, &add);
        volume.remove()
    }

    /// Cold with uv, and the set plus one package.
    fn uv_path(&mut self) -> Result<()> {
        let volume = Volume::fresh(self.work.join("uv"), &self.venv)?;
        let cold = installed(bench_pods::run(&volume, "cold", &self.spec("uv", false)?)?)?;
        self.record_pod(Case::ColdUv, &cold);
        let add = installed(bench_pods::run(&volume, "add", &self.spec("uv", true)?)?)?;
        self.record_pod(Case::AddUv, &add);
        volume.remove()
    }

    /// `n` pods of one app starting at once on an empty cache: the wall time until the last
    /// one is ready, and the installer runs of all of them.
    fn pods_at_once(&mut self, n: usize) -> Result<()> {
        let volume = Volume::fresh(self.work.join(format!("pods-{n}")), &self.venv)?;
        let spec = self.spec("pip", false)?;
        let began = Instant::now();
        let started = (0..n)
            .map(|i| bench_pods::start(&volume, &format!("p{i}"), &spec))
            .collect::<Result<Vec<_>>>()?;
        let finished = started
            .into_iter()
            .map(bench_pods::Started::finish)
            .collect::<Result<Vec<_>>>()?;
        let wall = began.elapsed();
        let runs = finished.iter().map(|f| f.installer_runs).sum();
        let installers = finished
            .iter()
            .filter(|f| f.report.result == InstallResult::Installed)
            .count();
        if installers != 1 {
            bail!("{n} pods at once: {installers} pods published the env, not one");
        }
        let times: Vec<String> = finished
            .iter()
            .map(|f| format!("{:.2}", f.elapsed.as_secs_f64()))
            .collect();
        eprintln!("xtask bench: {n} pods at once: {} s", times.join(" "));
        self.record(Case::Pods(n), wall, runs);
        volume.remove()
    }

    /// The main container's `import` of the whole set with `PYTHONPATH=site`.
    fn import(&self, site: &Path) -> Result<Duration> {
        let code = format!("import {}", self.wheels.modules().join(", "));
        timed(
            Command::new(self.venv.join("bin/python3"))
                .args(["-c", &code])
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("PYTHONPATH", site),
        )
    }
}

fn installed(run: Finished) -> Result<Finished> {
    if run.report.result != InstallResult::Installed {
        bail!("expected an install, got {:?}", run.report.result);
    }
    Ok(run)
}

/// Runs `cmd` to the end (output discarded) and returns its wall time; fails if it fails.
fn timed(cmd: &mut Command) -> Result<Duration> {
    let began = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    let elapsed = began.elapsed();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(elapsed)
}
