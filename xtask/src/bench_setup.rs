//! The realistic benchmark's fixtures: the wheel set (downloaded once from PyPI into
//! `target/bench-wheels`) and pypiserver serving it with Basic authentication.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const REQUIREMENTS: &str = "xtask/bench-requirements.txt";
pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench-password";

/// The set the benchmark installs, and the one package a spec change adds.
pub struct WheelSet {
    pub dir: PathBuf,
    pub packages: Vec<String>,
    pub added: String,
    pub files: usize,
    pub bytes: u64,
}

impl WheelSet {
    /// The import names of the set (`import requests, pandas, ...`).
    pub fn modules(&self) -> Vec<String> {
        self.packages
            .iter()
            .map(|p| p.split("==").next().unwrap_or(p).to_lowercase())
            .collect()
    }
}

/// Downloads the set once (binary wheels for the venv's Python, with dependencies).
pub fn wheels(root: &Path, venv: &Path) -> Result<WheelSet> {
    let text = std::fs::read_to_string(root.join(REQUIREMENTS))
        .with_context(|| format!("reading {REQUIREMENTS}"))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let packages: Vec<String> = lines
        .iter()
        .filter(|l| !l.starts_with('+'))
        .map(|l| l.to_string())
        .collect();
    let added = lines
        .iter()
        .find_map(|l| l.strip_prefix('+'))
        .context("bench-requirements.txt names no added package (+name==version)")?
        .to_owned();
    let dir = root.join("target/bench-wheels");
    let stamp = dir.join(".requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(text.as_str()) {
        download(venv, &dir, &packages, &added)?;
        std::fs::write(&stamp, &text)?;
    }
    let (files, bytes) = wheel_stats(&dir)?;
    Ok(WheelSet {
        dir,
        packages,
        added,
        files,
        bytes,
    })
}

fn download(venv: &Path, dir: &Path, packages: &[String], added: &str) -> Result<()> {
    eprintln!(
        "xtask bench: downloading the wheel set into {}",
        dir.display()
    );
    let pip = |args: &[&str]| -> Result<()> {
        let status = Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "download", "--disable-pip-version-check", "-q"])
            .args(["--only-binary=:all:", "-d"])
            .arg(dir)
            .args(args)
            .status()
            .context("pip download")?;
        if !status.success() {
            bail!("pip download failed (needs access to PyPI)");
        }
        Ok(())
    };
    let set: Vec<&str> = packages.iter().map(String::as_str).collect();
    pip(&set)?;
    pip(&["--no-deps", added])
}

fn wheel_stats(dir: &Path) -> Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(".whl") {
            files += 1;
            bytes += entry.metadata()?.len();
        }
    }
    Ok((files, bytes))
}

/// pypiserver on 127.0.0.1 serving the wheel set; listings and downloads need USER/PASSWORD,
/// and downloads say `Cache-Control: max-age` (so pip's HTTP cache keeps them).
pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(venv: &Path, wheels: &Path, work: &Path) -> Result<Self> {
        std::fs::create_dir_all(work)?;
        let htpasswd = work.join("htpasswd");
        write_htpasswd(venv, &htpasswd)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(venv.join("bin/pypi-server"))
            .args(["run", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["--disable-fallback", "-a", "download,list,update"])
            // As PyPI and the common registries do; without it pip caches no download.
            .args(["--cache-control", "86400", "-P"])
            .arg(&htpasswd)
            .arg("--log-file")
            .arg(work.join("pypiserver.log"))
            .arg(wheels)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting pypiserver")?;
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}/simple/"),
        };
        server.wait_ready(port)?;
        Ok(server)
    }

    fn wait_ready(&self, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("pypiserver did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The index URL with the credentials inside (what plain pip in a pod would be given).
    pub fn authed_url(&self) -> String {
        self.url
            .replacen("http://", &format!("http://{USER}:{PASSWORD}@"), 1)
    }
}

fn write_htpasswd(venv: &Path, path: &Path) -> Result<()> {
    let code = "import sys\nfrom passlib.apache import HtpasswdFile\n\
                ht = HtpasswdFile(sys.argv[1], new=True)\n\
                ht.set_password(sys.argv[2], sys.argv[3])\nht.save()\n";
    let status = Command::new(venv.join("bin/python"))
        .args(["-c", code])
        .arg(path)
        .args([USER, PASSWORD])
        .status()
        .context("writing htpasswd")?;
    if !status.success() {
        bail!("writing htpasswd (passlib) failed");
    }
    Ok(())
}
