//! One pod's run of the rendered script: the shell, a PATH holding only the tools the protocol
//! allows (plus shims that count installer runs), the Secret, and what the run left behind.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kaspr_script::{EnvSource, InstallReport, Paths, Waits, render_with_waits};
use kaspr_test_support::process::{kill_process_group, own_process_group};
use kaspr_types::PythonPackagesSpec;

use super::{Cache, PASSWORD, USER, spec, venv};

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

/// One pod's run of the script.
#[derive(Clone)]
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
    /// The app's name (`KASPR_APP_NAME` under `cache.type: gcs`).
    pub app: String,
    /// Under `cache.type: gcs`: the bucket the pod talks to (its key file and endpoint), with
    /// openssl on the PATH.
    pub gcs: Option<GcsAccess>,
}

/// What a pod under `cache.type: gcs` gets besides the operator's variables: the mounted key
/// file and the storage endpoint (`KASPR_GCS_ENDPOINT`, set through the template env).
#[derive(Clone, Debug)]
pub struct GcsAccess {
    pub key: PathBuf,
    pub endpoint: String,
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
            app: "app".into(),
            gcs: None,
        }
    }

    /// A run with the right credentials for `pypiserver()`.
    pub fn authed(shell: &'static str, pod: &str, spec: PythonPackagesSpec) -> Self {
        Self::new(shell, pod, spec).with_credentials(USER, PASSWORD)
    }

    /// The same run as another pod.
    pub fn as_pod(&self, pod: &str) -> Self {
        Self {
            pod: pod.into(),
            ..self.clone()
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
    if run.gcs.is_some() {
        tools.push("openssl");
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
        gcs_key: match &run.gcs {
            Some(gcs) => gcs.key.to_string_lossy().into_owned(),
            None => pod_dir.join("no-gcs-key").to_string_lossy().into_owned(),
        },
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
            EnvSource::AppName => OsString::from(&run.app),
            EnvSource::SecretKey { key, .. } => run.secret.get(key).cloned().unwrap_or_default(),
        };
        cmd.env(var.name, value);
    }
    if let Some(gcs) = &run.gcs {
        cmd.env(kaspr_script::env_names::GCS_ENDPOINT, &gcs.endpoint);
    }
    own_process_group(&mut cmd);
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
        kill_process_group(self.child.id());
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
    run_script(&Run::authed(shell, pod, spec), cache)
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
