//! The real parts the install-script tests run against: the shells, a venv with pip, uv and
//! pypiserver (prepared by `cargo xtask test`), wheels built for the tests, and local servers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kaspr_script::{EnvSource, InstallReport, Paths, Waits, render_with_waits};
use kaspr_types::PythonPackagesSpec;

pub const USER: &str = "kaspr-user";
/// Every character that broke the upstream operator's credential handling.
pub const PASSWORD: &str = "p@ss:w/o#r%d 'q' \"dq\" $(touch /tmp/kaspr-pwned) `id` \\ end";

pub const SHELLS: [&str; 3] = ["dash", "bash", "busybox"];

/// The venv with python3 + pip, uv and pypiserver.
pub fn venv() -> PathBuf {
    let path = std::env::var("KASPR_TEST_VENV").map(PathBuf::from).unwrap_or_else(|_| {
        panic!("KASPR_TEST_VENV is not set: run these tests with `cargo xtask test`, which prepares a venv with pip, uv and pypiserver")
    });
    for tool in ["python3", "uv", "pypi-server"] {
        assert!(
            path.join("bin").join(tool).exists(),
            "{tool} missing in {}: run `cargo xtask test`",
            path.display()
        );
    }
    path
}

/// The command line that runs a script with `shell`.
pub fn shell_command(shell: &str) -> Command {
    shell_command_traced(shell, None)
}

/// The command line that runs a script with `shell`, under `strace -f` writing to `trace`
/// (file syscalls only) when given.
pub fn shell_command_traced(shell: &str, trace: Option<&Path>) -> Command {
    let (program, args): (&str, &[&str]) = match shell {
        "busybox" => ("busybox", &["sh", "-c"]),
        other => (other, &["-c"]),
    };
    let found = ["/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists());
    let path = found.unwrap_or_else(|| {
        panic!("{program} is not installed: apt-get install dash bash busybox (.ci/run does this)")
    });
    // By absolute path: the script's PATH holds only the protocol's tools.
    let mut cmd = match trace {
        None => Command::new(path),
        Some(log) => {
            let strace = ["/usr/bin/strace", "/bin/strace"]
                .iter()
                .find(|p| Path::new(p).exists())
                .unwrap_or_else(|| {
                    panic!("strace is not installed: apt-get install strace (.ci/run does this)")
                });
            let mut cmd = Command::new(strace);
            cmd.args([
                "-f",
                "-qq",
                "-e",
                "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
                "-o",
            ])
            .arg(log)
            .arg(path);
            cmd
        }
    };
    cmd.args(args);
    cmd
}

fn fixtures_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fixtures.py")
}

fn python() -> PathBuf {
    venv().join("bin/python3")
}

/// An image stand-in: a venv (with pip, as app images have) holding `wheels` from the test
/// wheels, built once per test binary and name. Returns its python3.
pub fn image_python(name: &str, wheels_wanted: &[&str]) -> PathBuf {
    static IMAGES: OnceLock<std::sync::Mutex<HashMap<String, tempfile::TempDir>>> = OnceLock::new();
    let images = IMAGES.get_or_init(Default::default);
    let mut images = images.lock().unwrap_or_else(|e| e.into_inner());
    let dir = images.entry(name.to_owned()).or_insert_with(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let venv = dir.path().join("venv");
        let ok = Command::new(python())
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "python3 -m venv for image {name}"
        );
        let ok = Command::new(venv.join("bin/python3"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--find-links",
            ])
            .arg(wheels().join("main"))
            .args(wheels_wanted)
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "installing {wheels_wanted:?} into image {name}"
        );
        dir
    });
    dir.path().join("venv/bin/python3")
}

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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
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
    let child = Command::new(venv().join("bin/pypi-server"))
        .args([
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--disable-fallback",
            "-a",
            "download,list,update",
            "-P",
        ])
        .arg(&htpasswd)
        .arg("--log-file")
        .arg(&log)
        .arg(wheels().join("main"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting pypi-server");
    Server {
        child,
        url: format!("http://127.0.0.1:{port}/simple/"),
        log,
        _dir: dir,
    }
    .wait_ready("127.0.0.1", port)
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
    let child = Command::new(python())
        .arg(fixtures_py())
        .args(args(port, &log))
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a fixture server");
    Server {
        child,
        url: format!("http://{host}:{port}/simple/"),
        log,
        _dir: dir,
    }
    .wait_ready(host, port)
}

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
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

/// Every form in which the credential could have been written down: raw, percent-encoded, and
/// as the Basic-auth token.
pub fn credential_forms() -> Vec<String> {
    use base64::Engine;
    let encoded: String = PASSWORD
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    vec![PASSWORD.to_owned(), encoded, token]
}

/// The files among `files` that hold any of `forms`.
pub fn files_holding(files: &[PathBuf], forms: &[String]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap_or_default();
            forms
                .iter()
                .any(|form| bytes.windows(form.len()).any(|w| w == form.as_bytes()))
        })
        .cloned()
        .collect()
}

/// Every regular file under `dir` (symlinks not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path);
        if meta.as_ref().is_ok_and(|m| m.is_dir()) {
            files.extend(files_under(&path));
        } else if meta.is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    files
}

/// A spec whose index is the authenticated `pypiserver()`, with `extra` YAML lines appended.
pub fn authed(server: &Server, packages: &str, extra: &str) -> PythonPackagesSpec {
    spec(&format!(
        "packages: {packages}\nindexUrl: {url}\ncredentials: {{secretRef: {{name: pypi}}}}\n{extra}",
        url = server.url
    ))
}

/// The packages hash of a spec, as the operator puts it in the live set.
pub fn hash_of(spec: &PythonPackagesSpec) -> String {
    kaspr_hash::packages_hash(spec).expect("hash").to_string()
}

/// A spec from YAML.
pub fn spec(yaml: &str) -> PythonPackagesSpec {
    let spec: PythonPackagesSpec =
        serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    spec
}

/// A packages root standing for the PVC, shared by the runs of one test.
pub struct Cache {
    pub dir: tempfile::TempDir,
    /// The root is a tmpfs of its own (unmounted on drop).
    mounted: bool,
}

impl Drop for Cache {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(self.root()).status();
        }
    }
}

impl Cache {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            mounted: false,
        }
    }

    /// A root on a tmpfs of `mib` MiB: a small volume that really fills up.
    pub fn on_tmpfs(mib: u32) -> Self {
        let mut cache = Self::new();
        std::fs::create_dir_all(cache.root()).expect("root");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(cache.root())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            mounted,
            "mounting a {mib} MiB tmpfs failed: this test needs root (CI runs as root) to make a small volume"
        );
        cache.mounted = true;
        cache
    }

    /// Grows (or shrinks) the tmpfs, as growing the PVC would.
    pub fn resize(&self, mib: u32) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(self.root())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remounting the tmpfs at {mib} MiB failed");
    }

    /// Bytes in use on the root's filesystem.
    pub fn used_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=used"])
            .arg(self.root())
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .expect("df prints the used bytes")
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("packages")
    }
    /// The live-set file (the operator's ConfigMap); absent until a test writes it.
    pub fn live_file(&self) -> PathBuf {
        self.dir.path().join("live/live-hashes")
    }
    /// Writes the live set as the operator would: the hashes, sorted, one a line.
    pub fn set_live(&self, hashes: &[&str]) {
        let mut sorted: Vec<&str> = hashes.to_vec();
        sorted.sort();
        sorted.dedup();
        let path = self.live_file();
        std::fs::create_dir_all(path.parent().expect("parent")).expect("live dir");
        std::fs::write(
            path,
            sorted.iter().map(|h| format!("{h}\n")).collect::<String>(),
        )
        .expect("live file");
    }
    /// Names under envs/.
    pub fn envs(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join("envs"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// One pod's run of the script.
pub struct Run {
    pub shell: &'static str,
    pub pod: String,
    pub spec: PythonPackagesSpec,
    pub secret: HashMap<String, OsString>,
    /// Leave flock off the PATH (forces the lease).
    pub without_flock: bool,
    /// The python3 the pod's image has (default: the test venv's).
    pub python: Option<PathBuf>,
    /// An image whose python3 does not run.
    pub python_broken: bool,
    /// Run as this uid and gid (as an image's non-root user), instead of the test's user.
    pub user: Option<u32>,
    /// After the installer succeeds, fill the packages volume (another pod writing to it).
    pub fill_volume_after_install: bool,
    /// Run the shell under strace, writing the file syscalls here.
    pub trace: Option<PathBuf>,
    /// Seconds to wait for another pod's lock, instead of the spec's legitimate maximum.
    pub lock_wait: Option<u32>,
}

impl Run {
    pub fn new(shell: &'static str, pod: &str, spec: PythonPackagesSpec) -> Self {
        Self {
            shell,
            pod: pod.into(),
            spec,
            secret: HashMap::new(),
            without_flock: false,
            python: None,
            python_broken: false,
            user: None,
            fill_volume_after_install: false,
            trace: None,
            lock_wait: None,
        }
    }

    pub fn with_credentials(mut self, user: &str, password: &str) -> Self {
        self.secret.insert("username".into(), user.into());
        self.secret.insert("password".into(), password.into());
        self
    }

    /// A password of raw bytes, as a Secret may hold (not necessarily UTF-8).
    pub fn with_raw_password(mut self, user: &str, password: &[u8]) -> Self {
        use std::os::unix::ffi::OsStrExt;
        self.secret.insert("username".into(), user.into());
        self.secret.insert(
            "password".into(),
            std::ffi::OsStr::from_bytes(password).to_owned(),
        );
        self
    }
}

/// What a run left behind.
pub struct Outcome {
    pub code: Option<i32>,
    pub output: String,
    pub report_text: String,
    pub report: Option<InstallReport>,
    /// Installer processes started (pip or uv), from the PATH shims.
    pub installer_calls: usize,
    /// The shims' lines: `pip trusted=<PIP_TRUSTED_HOST>` per installer run.
    pub installer_log: String,
    pub pod_dir: PathBuf,
}

impl Outcome {
    pub fn report(&self) -> &InstallReport {
        self.report.as_ref().unwrap_or_else(|| {
            panic!(
                "no valid report: {:?}\noutput:\n{}",
                self.report_text, self.output
            )
        })
    }
    /// The per-pod site link, as the main container's PYTHONPATH names it.
    pub fn site(&self) -> PathBuf {
        self.pod_dir.join("python-env/site")
    }
}

/// A started run, for tests that need several at once or need to kill one.
pub struct Started {
    pub child: Child,
    pub pod_dir: PathBuf,
    calls: PathBuf,
}

/// Builds the pod's directory: a PATH holding only the tools the protocol allows (plus shims
/// that count installer runs), and the report path.
pub fn start(run: &Run, cache: &Cache) -> Started {
    let pod_dir = cache.dir.path().join(format!("pod-{}", run.pod));
    let bin = pod_dir.join("bin");
    std::fs::create_dir_all(&bin).expect("pod dir");
    if let Some(id) = run.user {
        // The pod's own emptyDir is writable by the image's user; the test dir must be passable.
        std::os::unix::fs::chown(&pod_dir, Some(id), Some(id)).expect("chown pod dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(cache.dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod cache dir");
    }
    let calls = pod_dir.join("installer-calls");
    write_exec(&bin.join("python3"), &python_shim(run, cache, &calls));
    write_exec(
        &bin.join("uv"),
        &format!(
            "#!/bin/sh\necho \"uv trusted=${{UV_INSECURE_HOST:-}} creds=${{PYPI_USERNAME:+set}}${{PYPI_PASSWORD:+set}}\" >>{calls}\nexec {uv} \"$@\"\n",
            calls = quote(&calls),
            uv = venv().join("bin/uv").display()
        ),
    );
    let mut tools = vec!["timeout", "mv", "mkdir", "date", "stat"];
    if !run.without_flock {
        tools.push("flock");
    }
    for tool in tools {
        let real = which(tool);
        let _ = std::os::unix::fs::symlink(real, bin.join(tool));
    }
    // A spec past validation (hostile strings) has no hash of its own: any valid one serves.
    let hash = kaspr_hash::packages_hash(&run.spec)
        .or_else(|_| kaspr_hash::packages_hash(&spec("packages: [unhashable]\n")))
        .expect("hash");
    let paths = Paths {
        root: cache.root().to_string_lossy().into_owned(),
        site_link: pod_dir
            .join("python-env/site")
            .to_string_lossy()
            .into_owned(),
        report: pod_dir
            .join("termination-log")
            .to_string_lossy()
            .into_owned(),
        live_hashes: cache.live_file().to_string_lossy().into_owned(),
    };
    let mut waits = Waits::for_spec(&run.spec);
    if let Some(seconds) = run.lock_wait {
        waits.lock_wait = seconds;
    }
    let rendered = render_with_waits(&run.spec, &hash, &paths, waits).expect("renders");
    let mut cmd = shell_command_traced(run.shell, run.trace.as_deref());
    cmd.arg(&rendered.script);
    cmd.env_clear().env("PATH", &bin).env("HOME", &pod_dir);
    for var in &rendered.env {
        let value = match &var.source {
            EnvSource::Value(v) => OsString::from(v),
            EnvSource::PodName => OsString::from(&run.pod),
            EnvSource::SecretKey { key, .. } => run.secret.get(key).cloned().unwrap_or_default(),
        };
        cmd.env(var.name, value);
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    if let Some(id) = run.user {
        std::os::unix::process::CommandExt::uid(&mut cmd, id);
        std::os::unix::process::CommandExt::gid(&mut cmd, id);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the script");
    Started {
        child,
        pod_dir,
        calls,
    }
}

impl Started {
    pub fn finish(self) -> Outcome {
        let out = self
            .child
            .wait_with_output()
            .expect("waiting for the script");
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let report_text =
            std::fs::read_to_string(self.pod_dir.join("termination-log")).unwrap_or_default();
        let report = InstallReport::parse(&report_text).ok();
        let installer_log = std::fs::read_to_string(&self.calls).unwrap_or_default();
        let installer_calls = installer_log.lines().count();
        Outcome {
            code: out.status.code(),
            output,
            report_text,
            report,
            installer_calls,
            installer_log,
            pod_dir: self.pod_dir,
        }
    }

    /// SIGKILL to the whole process group, as when the container dies.
    pub fn kill_group(mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.child.wait();
    }

    pub fn installer_started(&self) -> bool {
        self.calls.exists()
    }
}

pub fn run_script(run: &Run, cache: &Cache) -> Outcome {
    start(run, cache).finish()
}

/// One pod's run with the right credentials for `pypiserver()`.
pub fn run_authed(
    shell: &'static str,
    pod: &str,
    spec: PythonPackagesSpec,
    cache: &Cache,
) -> Outcome {
    run_script(
        &Run::new(shell, pod, spec).with_credentials(USER, PASSWORD),
        cache,
    )
}

fn quote(path: &Path) -> String {
    shlex::try_quote(&path.to_string_lossy())
        .expect("quotable")
        .into_owned()
}

/// The image's python3: counts installer runs (`-m pip`) with the settings they got, and can
/// stand for a broken python3 or for another pod filling the volume once pip is done.
fn python_shim(run: &Run, cache: &Cache, calls: &Path) -> String {
    if run.python_broken {
        return "#!/bin/sh\necho 'python3: cannot execute' >&2\nexit 127\n".to_owned();
    }
    let python = run
        .python
        .clone()
        .unwrap_or_else(|| venv().join("bin/python3"));
    // Only the fill needs pip as a child; otherwise pip replaces the shim, as in a real image.
    let run_pip = if run.fill_volume_after_install {
        format!(
            "{py} \"$@\" || exit $?\n/usr/bin/dd if=/dev/zero of={filler} bs=64k 2>/dev/null\nexit 0\n",
            py = quote(&python),
            filler = quote(&cache.root().join("filler"))
        )
    } else {
        format!("exec {} \"$@\"\n", quote(&python))
    };
    format!(
        "#!/bin/sh\nif [ \"${{1:-}}\" = -m ] && [ \"${{2:-}}\" = pip ]; then\n\
         echo \"pip trusted=${{PIP_TRUSTED_HOST:-}} creds=${{PYPI_USERNAME:+set}}${{PYPI_PASSWORD:+set}}\" >>{calls}\n\
         {run_pip}fi\nexec {py} \"$@\"\n",
        calls = quote(calls),
        py = quote(&python),
    )
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write shim");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod shim");
}

fn which(tool: &str) -> PathBuf {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} is not installed (coreutils / util-linux)");
}

/// Runs python3 from the venv with PYTHONPATH set as the main container would.
pub fn import_version(site: &Path, module: &str) -> Result<String, String> {
    import_version_with(&python(), site, module)
}

/// [`import_version`] with the python3 of another image.
pub fn import_version_with(python: &Path, site: &Path, module: &str) -> Result<String, String> {
    let out = Command::new(python)
        .args(["-c", &format!("import {module}; print({module}.VERSION)")])
        .env("PYTHONPATH", site)
        .output()
        .expect("python runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The abi tag the venv's python3 reports (the env key's second half), computed here
/// independently of the helper.
pub fn abi_tag() -> String {
    let out = Command::new(python())
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('SOABI'))",
        ])
        .output()
        .expect("python");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The name of the env a spec installs to with the test venv's python3 as the image:
/// `<hash>-<abi tag>`, plus `-<image digest>` under `imagePackages: protect` (the default).
pub fn env_key(spec: &PythonPackagesSpec) -> String {
    env_key_for(spec, &python())
}

/// [`env_key`] for the image whose python3 is `python`.
pub fn env_key_for(spec: &PythonPackagesSpec, python: &Path) -> String {
    let hash = kaspr_hash::packages_hash(spec).expect("hash");
    match spec.image_packages {
        kaspr_types::ImagePackages::Protect => {
            format!("{hash}-{}-{}", abi_tag(), image_digest(python))
        }
        kaspr_types::ImagePackages::Override => format!("{hash}-{}", abi_tag()),
    }
}

/// The image digest of the protocol, computed here from the site dirs `python` reports: FNV-1a
/// (64 bits) over the sorted `name==version` lines (PEP 503 names) of every *.dist-info and
/// *.egg-info directory name, first 8 hex digits.
pub fn image_digest(python: &Path) -> String {
    let out = Command::new(python)
        .args([
            "-c",
            "import site; print('\\n'.join(site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])))",
        ])
        .output()
        .expect("python");
    let mut found: std::collections::BTreeMap<String, String> = Default::default();
    for dir in String::from_utf8_lossy(&out.stdout).lines() {
        let mut entries: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        for entry in entries {
            let base = entry
                .strip_suffix(".dist-info")
                .or_else(|| entry.strip_suffix(".egg-info"));
            let mut parts = base.into_iter().flat_map(|b| b.split('-'));
            if let (Some(name), Some(version)) = (parts.next(), parts.next())
                && !name.is_empty()
                && !version.is_empty()
            {
                found
                    .entry(pep503(name))
                    .or_insert_with(|| version.to_owned());
            }
        }
    }
    let text = found
        .iter()
        .map(|(n, v)| format!("{n}=={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")[..8].to_owned()
}

fn pep503(name: &str) -> String {
    name.to_lowercase()
        .split(['-', '_', '.'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}
