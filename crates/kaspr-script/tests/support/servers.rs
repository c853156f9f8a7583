//! The test wheels and the indexes that serve them: pypiserver with authentication, and the
//! fixture servers of `fixtures.py` (a plain index, a private one, a broken mirror, a redirect,
//! one that never answers).

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kaspr_test_support::net::free_port;

use super::{PASSWORD, USER, fixtures_py, python, venv};

/// The test wheels, built once per test binary.
pub fn wheels() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let ok = Command::new(python())
            .arg(fixtures_py())
            .arg("wheels")
            .arg(dir.path())
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "building test wheels failed");
        dir
    })
    .path()
}

/// A background server, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `command` (its stderr kept for the panic if it dies) and waits until it listens
    /// on `host:port`; `url` is its index URL.
    fn start(
        command: Command,
        host: &str,
        port: u16,
        log: PathBuf,
        dir: tempfile::TempDir,
    ) -> Self {
        Self::spawn(
            command,
            host,
            port,
            format!("http://{host}:{port}/simple/"),
            log,
            dir,
        )
    }

    /// Starts `command` and waits until it listens on `host:port`; `url` is what it serves.
    pub fn spawn(
        mut command: Command,
        host: &str,
        port: u16,
        url: String,
        log: PathBuf,
        dir: tempfile::TempDir,
    ) -> Self {
        let child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting a server");
        Self {
            child,
            url,
            log,
            _dir: dir,
        }
        .wait_ready(host, port)
    }

    fn wait_ready(mut self, host: &str, port: u16) -> Self {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((host, port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("server exited ({status}) before listening: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "server on {host}:{port} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// pypiserver on 127.0.0.1 serving `wheels()/main`; downloads and listings need USER/PASSWORD.
pub fn pypiserver() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let htpasswd = dir.path().join("htpasswd");
    let ok = Command::new(python())
        .arg(fixtures_py())
        .arg("htpasswd")
        .arg(&htpasswd)
        .env("HT_USER", USER)
        .env("HT_PASSWORD", PASSWORD)
        .status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "writing htpasswd (passlib) failed"
    );
    let port = free_port();
    let log = dir.path().join("server.log");
    let mut command = Command::new(venv().join("bin/pypi-server"));
    command
        .args(["run", "-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["--disable-fallback", "-a", "download,list,update", "-P"])
        .arg(&htpasswd)
        .arg("--log-file")
        .arg(&log)
        .arg(wheels().join("main"))
        .stdout(Stdio::null());
    Server::start(command, "127.0.0.1", port, log, dir)
}

/// Runs `fixtures.py` with the arguments `args` makes of a free port and a log path, and
/// waits until it listens on `host`.
fn fixture_server(
    host: &str,
    args: impl FnOnce(u16, &Path) -> Vec<OsString>,
    env: &[(&str, &str)],
) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let log = dir.path().join("access.log");
    let mut command = Command::new(python());
    command
        .arg(fixtures_py())
        .args(args(port, &log))
        .envs(env.iter().copied());
    Server::start(command, host, port, log, dir)
}

fn os(args: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_owned()).collect()
}

/// A plain index on another host (127.0.0.2) serving `wheels()/extra`, logging Authorization.
pub fn extra_index() -> Server {
    let root = wheels().join("extra");
    fixture_server(
        "127.0.0.2",
        |port, log| os(&[&"index", &root, &port.to_string(), &log]),
        &[],
    )
}

/// An index on 127.0.0.1 serving `wheels()/main` that needs USER/PASSWORD and answers with
/// `Cache-Control: max-age` and `Vary: Authorization`, so pip's HTTP cache stores the header.
pub fn private_index() -> Server {
    let root = wheels().join("main");
    fixture_server(
        "127.0.0.1",
        |port, log| os(&[&"private", &root, &port.to_string(), &log]),
        &[("IDX_USER", USER), ("IDX_PASSWORD", PASSWORD)],
    )
}

/// An index on 127.0.0.1 serving `wheels()/main` whose links carry a `#sha256=` that does not
/// match the file (a broken mirror).
pub fn bad_hash_index() -> Server {
    let root = wheels().join("main");
    fixture_server(
        "127.0.0.1",
        |port, log| os(&[&"badhash", &root, &port.to_string(), &log]),
        &[],
    )
}

/// Answers everything with a redirect to `target` (another host).
pub fn redirector(target: &str) -> Server {
    fixture_server(
        "127.0.0.1",
        |port, _| os(&[&"redirect", &port.to_string(), &target]),
        &[],
    )
}

/// Accepts connections and never answers.
pub fn hanging_index() -> Server {
    fixture_server(
        "127.0.0.1",
        |port, _| os(&[&"hang", &port.to_string()]),
        &[],
    )
}
