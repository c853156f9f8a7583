//! `cargo xtask bench operator [--apps N] [--rounds R] [--simulate|--no-simulate]
//! [--member-checks] [--timeout S]`: the operator's memory and reconcile throughput with many
//! KasprApps, without a cluster.
//!
//! Each round starts from nothing: crdserver (`../shared/tools/crdserver`, a real
//! apiextensions-apiserver with etcd) with the CRDs the release binary prints, for the KasprApps,
//! their components and Events; `xtask/assets/apistandin.py` in front of it, serving the core, apps
//! and autoscaling kinds from memory (with `--simulate`, the default, it plays the StatefulSet
//! controller and the kubelet, so apps become Ready and the operator's caches hold pods as on a
//! cluster); the release operator against the stand-in; then `xtask/assets/load1000.py` creates the
//! apps, waits until each is reconciled (Ready with `--simulate`), samples the operator's RSS and
//! prints JSON. Everything started is stopped after the round, on errors too. Writes its own
//! generated section of `docs/benchmarks.md`; the files of the last run stay under
//! `target/bench-operator`.
//!
//! The operator runs with its defaults but without member status checks
//! (`CLIENT_STATUS_CHECK_ENABLED=false`): without cluster DNS every call to a member fails, which
//! measures a broken cluster rather than the operator (`--member-checks` keeps them on). A round
//! gives up waiting after `--timeout` seconds (default 600) and is reported as such.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::bench_report::{self, Machine, Markers};

pub const MARKERS: Markers = Markers {
    begin: "<!-- BEGIN xtask bench operator (generated; edit xtask/src/bench_operator.rs) -->",
    end: "<!-- END xtask bench operator -->",
};
/// The section's heading, and its anchor (the realistic section's targets link to it).
const HEADING: &str = "## The operator with many KasprApps (`cargo xtask bench operator`)";
pub const ANCHOR: &str = "#the-operator-with-many-kasprapps-cargo-xtask-bench-operator";
const TARGET_MIB: f64 = 64.0;
const TARGET_APPS: u64 = 1000;
const USAGE: &str = "operator [--apps N] [--rounds R] [--simulate|--no-simulate] \
                     [--member-checks] [--timeout S]";

struct Options {
    apps: u64,
    rounds: usize,
    simulate: bool,
    member_checks: bool,
    /// Seconds a round waits for every app before it gives up.
    timeout: u64,
}

impl Options {
    /// The command line that reproduces the run.
    fn command(&self) -> String {
        let mut c = format!(
            "cargo xtask bench operator --apps {} --rounds {}",
            self.apps, self.rounds
        );
        if !self.simulate {
            c.push_str(" --no-simulate");
        }
        if self.member_checks {
            c.push_str(" --member-checks");
        }
        if self.timeout != DEFAULT_TIMEOUT {
            let _ = write!(c, " --timeout {}", self.timeout);
        }
        c
    }
}

const DEFAULT_TIMEOUT: u64 = 600;

fn options(args: &[&str]) -> Result<Options> {
    let mut opts = Options {
        apps: TARGET_APPS,
        rounds: 3,
        simulate: true,
        member_checks: false,
        timeout: DEFAULT_TIMEOUT,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match *arg {
            "--simulate" => opts.simulate = true,
            "--no-simulate" => opts.simulate = false,
            "--member-checks" => opts.member_checks = true,
            "--apps" | "--rounds" | "--timeout" => {
                let value = it.next().with_context(|| format!("{arg} needs a value"))?;
                let n: u64 = value.parse().with_context(|| format!("{arg} {value}"))?;
                if n == 0 {
                    bail!("{arg} must be at least 1");
                }
                match *arg {
                    "--apps" => opts.apps = n,
                    "--timeout" => opts.timeout = n,
                    _ => opts.rounds = usize::try_from(n)?,
                }
            }
            other => bail!("unknown option {other}: {USAGE}"),
        }
    }
    Ok(opts)
}

pub fn run(args: &[&str]) -> Result<()> {
    let opts = options(args)?;
    let root = crate::workspace_root();
    let tools = Tools::find(&root)?;
    eprintln!("xtask bench operator: building the release binary");
    let status = crate::test::cargo_command(&root)
        .args(["build", "--release", "-p", "kaspr-operator"])
        .status()
        .context("running cargo build --release")?;
    if !status.success() {
        bail!("cargo build --release -p kaspr-operator failed");
    }
    let build = build_description(&root);
    let work = root.join("target/bench-operator");
    std::fs::create_dir_all(&work)?;
    let mut rounds = Vec::new();
    let mut extras = Vec::new();
    for round in 1..=opts.rounds {
        eprintln!(
            "xtask bench operator: round {round}/{}, {} apps",
            opts.rounds, opts.apps
        );
        let (r, e) = one_round(&tools, &work, &opts, round)?;
        eprintln!(
            "xtask bench operator: round {round}: {} s, RSS idle {:.1} / peak {:.1} / steady {:.1} MiB, \
             {} requests in the steady window",
            r.seconds.map_or("–".into(), |s| format!("{s:.1}")),
            r.rss_idle_mib,
            r.rss_peak_mib,
            r.rss_steady_mib,
            r.requests_steady
        );
        rounds.push(r);
        extras.push(e);
    }
    let machine = crate::bench::machine(Path::new("python3"), opts.rounds)?;
    let report = Report {
        ram: memory_total(),
        build,
        apps: opts.apps,
        command: opts.command(),
        simulate: opts.simulate,
        member_checks: opts.member_checks,
        rounds,
        extras,
    };
    bench_report::write_section(
        &root,
        &MARKERS,
        &section(&report, &machine),
        Some(bench_report::REALISTIC.end),
    )?;
    eprintln!(
        "xtask bench operator: wrote docs/benchmarks.md; logs and JSON under {}",
        work.display()
    );
    if report.rounds.iter().any(|r| !r.all_reconciled) {
        bail!("not every app was reconciled in every round (see the report)");
    }
    Ok(())
}

/// The programs a round runs.
struct Tools {
    operator: PathBuf,
    crdserver: PathBuf,
    standin: PathBuf,
    load: PathBuf,
}

impl Tools {
    fn find(root: &Path) -> Result<Self> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        let tools = Self {
            operator: target.join("release/kaspr-operator"),
            crdserver: root.join("../shared/tools/crdserver"),
            standin: root.join("xtask/assets/apistandin.py"),
            load: root.join("xtask/assets/load1000.py"),
        };
        if !tools.crdserver.join("start").is_file() {
            bail!(
                "the operator benchmark needs ../shared/tools/crdserver beside this checkout ({})",
                tools.crdserver.display()
            );
        }
        for (program, args, why) in [
            ("kubectl", &["version", "--client"][..], "installs the CRD"),
            (
                "python3",
                &["--version"][..],
                "runs the stand-in and the load",
            ),
        ] {
            let runs = Command::new(program)
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success());
            if !runs {
                bail!("the operator benchmark needs {program} on PATH ({why})");
            }
        }
        Ok(tools)
    }
}

/// A child in a process group of its own; stopping (or dropping) it sends the group SIGTERM,
/// then SIGKILL if it has not ended within a few seconds, and reaps it.
struct Group {
    name: &'static str,
    child: Child,
    done: bool,
}

impl Group {
    fn spawn(name: &'static str, cmd: &mut Command) -> Result<Self> {
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Self {
            name,
            child,
            done: false,
        })
    }

    fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has ended on its own (then it is reaped).
    fn exited(&mut self) -> bool {
        if !self.done && matches!(self.child.try_wait(), Ok(Some(_))) {
            self.done = true;
        }
        self.done
    }

    fn stop(&mut self) {
        if self.exited() {
            return;
        }
        signal_group("TERM", self.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "xtask bench operator: {} ignored SIGTERM, killing it",
            self.name
        );
        signal_group("KILL", self.id());
        let _ = self.child.wait();
        self.done = true;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal_group(signal: &str, pgid: u32) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// crdserver under `dir`, stopped (by its own `stop`) when dropped.
struct CrdServer {
    tool: PathBuf,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl CrdServer {
    fn start(tool: &Path, dir: &Path) -> Result<Self> {
        // A run that was interrupted may have left servers and data behind.
        let _ = Command::new(tool.join("stop")).arg(dir).status();
        match std::fs::remove_dir_all(dir.join("etcd-data")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).context("removing crdserver's etcd-data");
            }
            _ => {}
        }
        let out = Command::new(tool.join("start"))
            .arg(dir)
            .process_group(0)
            .stderr(Stdio::piped())
            .output()
            .context("starting crdserver")?;
        let server = Self {
            tool: tool.to_owned(),
            dir: dir.to_owned(),
            kubeconfig: String::from_utf8_lossy(&out.stdout).trim().into(),
        };
        if !out.status.success() {
            bail!(
                "crdserver did not start:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(server)
    }
}

impl Drop for CrdServer {
    fn drop(&mut self) {
        let _ = Command::new(self.tool.join("stop")).arg(&self.dir).status();
    }
}

/// One round: fresh servers, the operator, the load; everything stopped at the end.
fn one_round(tools: &Tools, work: &Path, opts: &Options, round: usize) -> Result<(Round, Extras)> {
    let dir = work.join(format!("round-{round}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    kill_leftovers(work)?;
    let crd = CrdServer::start(&tools.crdserver, &work.join("crdserver"))?;
    install_crd(&tools.operator, &crd.kubeconfig)?;

    let port_file = dir.join("port");
    let kubeconfig = dir.join("kubeconfig");
    let mut standin_cmd = Command::new("python3");
    standin_cmd
        .arg(&tools.standin)
        .arg("--crd-kubeconfig")
        .arg(&crd.kubeconfig)
        .args(["--port", "0", "--port-file"])
        .arg(&port_file)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .arg("--calls-file")
        .arg(dir.join("calls.json"))
        .stdin(Stdio::null())
        .stdout(log_file(&dir.join("standin.log"))?)
        .stderr(log_file(&dir.join("standin.log"))?);
    if opts.simulate {
        standin_cmd.arg("--simulate");
    }
    let mut standin = Group::spawn("apistandin.py", &mut standin_cmd)?;
    record_pid(work, "standin", standin.id())?;
    let standin_port = wait_for_port_file(&port_file, &mut standin, &dir.join("standin.log"))?;

    let op_port = free_port()?;
    let operator_log = dir.join("operator.log");
    let mut operator_cmd = Command::new(&tools.operator);
    operator_cmd
        .args(["run", "--listen", &format!("127.0.0.1:{op_port}")])
        // One operator: no lease to renew, so the steady window counts only what the apps cost
        // (a leader adds a get and an update of its Lease every few seconds, whatever the load).
        .args(["--leader-election", "false"])
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAME", "kaspr-operator-bench")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log_file(&operator_log)?)
        .stderr(log_file(&operator_log)?);
    if !opts.member_checks {
        operator_cmd.env("CLIENT_STATUS_CHECK_ENABLED", "false");
    }
    let mut operator = Group::spawn("kaspr-operator", &mut operator_cmd)?;
    record_pid(work, "operator", operator.id())?;
    wait_ready(op_port, &mut operator, &operator_log)?;

    let mut load = Command::new("python3");
    load.arg(&tools.load)
        .args(["--url", &format!("http://127.0.0.1:{standin_port}")])
        .args(["--pid", &operator.id().to_string()])
        .args(["--metrics", &format!("http://127.0.0.1:{op_port}/metrics")])
        .args(["-n", &opts.apps.to_string()])
        .args(["--timeout", &opts.timeout.to_string()])
        .stdin(Stdio::null())
        .stderr(log_file(&dir.join("load.err"))?);
    if opts.simulate {
        load.args(["--want", "ready"]);
    }
    let out = load.output().context("running load1000.py")?;
    std::fs::write(dir.join("load.json"), &out.stdout)?;
    let json: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "load1000.py printed no JSON ({}); see {}",
            out.status,
            dir.join("load.err").display()
        )
    })?;
    if let Some(e) = json.get("error") {
        bail!("load1000.py: {e}: {json}");
    }
    let parsed = Round::from_load(&json)?;
    if operator.exited() {
        bail!(
            "the operator exited during the load; see {}",
            operator_log.display()
        );
    }
    let objects = cache_sizes(&kubeconfig);
    operator.stop();
    standin.stop();
    drop(crd);
    let _ = std::fs::remove_file(work.join("operator.pid"));
    let _ = std::fs::remove_file(work.join("standin.pid"));
    let extras = Extras {
        objects,
        log: LogSummary::of(&std::fs::read_to_string(&operator_log).unwrap_or_default()),
        standin_tracebacks: std::fs::read_to_string(dir.join("standin.log"))
            .unwrap_or_default()
            .matches("Traceback")
            .count(),
    };
    Ok((parsed, extras))
}

fn log_file(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Notes a child's pid, so that a run interrupted before its cleanup can end it next time.
fn record_pid(work: &Path, name: &str, pid: u32) -> Result<()> {
    Ok(std::fs::write(
        work.join(format!("{name}.pid")),
        pid.to_string(),
    )?)
}

/// Ends what an interrupted earlier run left: the pids it noted, if they still run what it
/// started (their command line names this benchmark's files).
fn kill_leftovers(work: &Path) -> Result<()> {
    for (name, needle) in [("operator", "kaspr-operator"), ("standin", "apistandin.py")] {
        let file = work.join(format!("{name}.pid"));
        let Some(pid) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            eprintln!("xtask bench operator: ending {name} (pid {pid}) left by an earlier run");
            signal_group("KILL", pid);
        }
        std::fs::remove_file(&file)?;
    }
    Ok(())
}

/// `kaspr-operator crd | kubectl apply --server-side -f -`, then waits until it is established.
fn install_crd(operator: &Path, kubeconfig: &Path) -> Result<()> {
    let crd = Command::new(operator)
        .arg("crd")
        .output()
        .context("kaspr-operator crd")?;
    if !crd.status.success() {
        bail!("kaspr-operator crd failed ({})", crd.status);
    }
    let names = crd_names(&crd.stdout)?;
    let mut apply = Command::new("kubectl")
        .args(["apply", "--server-side", "-f", "-"])
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("kubectl apply")?;
    apply
        .stdin
        .take()
        .context("kubectl's stdin")?
        .write_all(&crd.stdout)?;
    if !apply.wait()?.success() {
        bail!("kubectl apply of the CRD failed");
    }
    let status = Command::new("kubectl")
        .args(["wait", "--for=condition=Established", "--timeout=60s"])
        .args(names.iter().map(|n| format!("crd/{n}")))
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!(
            "the CRDs {} were not established within 60 s",
            names.join(", ")
        );
    }
    Ok(())
}

/// The names of the CRDs in a YAML stream (one document or several, split by `---` lines).
fn crd_names(yaml: &[u8]) -> Result<Vec<String>> {
    let text = String::from_utf8_lossy(yaml);
    let mut names = Vec::new();
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    for doc in docs.iter().filter(|d| !d.trim().is_empty()) {
        let doc: serde_yaml::Value = serde_yaml::from_str(doc)?;
        let name = doc["metadata"]["name"]
            .as_str()
            .context("a CRD without a name")?;
        names.push(name.to_owned());
    }
    if names.is_empty() {
        bail!("kaspr-operator crd printed no CRD");
    }
    Ok(names)
}

fn wait_for_port_file(file: &Path, standin: &mut Group, log: &Path) -> Result<u16> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(port) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return Ok(port);
        }
        if standin.exited() || Instant::now() > deadline {
            bail!(
                "apistandin.py did not start; its log ({}):\n{}",
                log.display(),
                tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_ready(port: u16, operator: &mut Group, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http_status(port, "/readyz") == Some(200) {
            return Ok(());
        }
        if operator.exited() || Instant::now() > deadline {
            bail!(
                "the operator did not become ready; its log ({}):\n{}",
                log.display(),
                tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The status code of a plain HTTP/1.0 GET on 127.0.0.1 (`None` while nothing answers).
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    String::from_utf8_lossy(&head[..n])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// One round's figures, read from load1000's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub apps: u64,
    pub all_reconciled: bool,
    pub reconciled: u64,
    pub want: String,
    pub seconds: Option<f64>,
    pub apps_per_second: Option<f64>,
    pub latency_p50: f64,
    pub latency_p90: f64,
    pub rss_idle_mib: f64,
    pub rss_peak_mib: f64,
    pub rss_steady_mib: f64,
    pub requests_until: u64,
    pub status_patches: u64,
    pub status_changes_mean: f64,
    pub time_only_writes: u64,
    pub read_failed: u64,
    pub reconciles: f64,
    pub reconcile_errors: f64,
    pub requests_settle: u64,
    pub requests_steady: u64,
    pub steady_by_summary: BTreeMap<String, u64>,
    pub steady_seconds: f64,
    pub reconciles_steady: f64,
    pub series_after: Option<u64>,
    pub metrics_bytes_after: Option<u64>,
    pub ready_condition: BTreeMap<String, u64>,
}

impl Round {
    pub fn from_load(v: &Value) -> Result<Self> {
        let f = |p: &str| v.pointer(p).and_then(Value::as_f64);
        let u = |p: &str| v.pointer(p).and_then(Value::as_u64);
        let need = |p: &str| f(p).with_context(|| format!("load1000 JSON has no number at {p}"));
        let counts = |p: &str| -> BTreeMap<String, u64> {
            v.pointer(p)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let metrics = |window: &str, key: &str| f(&format!("/operator_metrics/{window}/{key}"));
        Ok(Self {
            apps: u("/apps").context("load1000 JSON has no apps")?,
            all_reconciled: v["all_reconciled"].as_bool().unwrap_or(false),
            reconciled: u("/reconciled").unwrap_or(0),
            want: v["want"].as_str().unwrap_or("reconciled").to_owned(),
            seconds: f("/seconds_to_reconcile_all"),
            apps_per_second: f("/apps_per_second"),
            latency_p50: f("/latency_seconds/p50").unwrap_or(f64::NAN),
            latency_p90: f("/latency_seconds/p90").unwrap_or(f64::NAN),
            rss_idle_mib: need("/rss/idle/mean_mib")?,
            rss_peak_mib: f("/rss/hwm_mib")
                .or_else(|| f("/rss/peak_mib"))
                .context("load1000 JSON has no peak RSS")?,
            rss_steady_mib: need("/rss/steady/mean_mib")?,
            requests_until: u("/requests/until_reconciled/total").unwrap_or(0),
            status_patches: u("/requests/until_reconciled/by_summary/patch kasprapps~1status")
                .unwrap_or(0),
            status_changes_mean: f("/status_writes_per_app/mean").unwrap_or(f64::NAN),
            time_only_writes: u("/status_writes_changing_only_condition_times").unwrap_or(0),
            read_failed: u("/apps_that_showed_read_failed").unwrap_or(0),
            reconciles: metrics("until_reconciled", "reconciles").unwrap_or(f64::NAN),
            reconcile_errors: metrics("until_reconciled", "reconcile_errors").unwrap_or(f64::NAN),
            requests_settle: u("/requests/settle/total").unwrap_or(0),
            requests_steady: u("/requests/steady/total")
                .context("load1000 JSON has no steady-window requests")?,
            steady_by_summary: counts("/requests/steady/by_summary"),
            steady_seconds: f("/steady_seconds").unwrap_or(f64::NAN),
            reconciles_steady: metrics("steady", "reconciles").unwrap_or(f64::NAN),
            series_after: v
                .pointer("/operator_metrics/steady/series_after")
                .and_then(Value::as_u64),
            metrics_bytes_after: v
                .pointer("/operator_metrics/steady/metrics_bytes_after")
                .and_then(Value::as_u64),
            ready_condition: counts("/ready_condition"),
        })
    }

    fn per_app(&self, n: f64) -> f64 {
        n / self.apps as f64
    }
}

/// What a round saw besides load1000's figures.
#[derive(Debug, Default)]
struct Extras {
    /// Objects the operator caches at the end of the round: (kind, count, JSON bytes).
    objects: Vec<Cached>,
    log: LogSummary,
    standin_tracebacks: usize,
}

/// The objects of one kind in the operator's caches, estimated from the stand-in's lists.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Cached {
    pub kind: String,
    pub count: u64,
    /// Of all of them, as compact JSON, as the cache holds them (see `CACHED`).
    pub bytes: u64,
    /// What the operator's caches drop of the pod specs (a pod's, a StatefulSet's template):
    /// everything but each container's name, image and resources, the install script (a
    /// command) included. Not in `bytes`.
    pub dropped_bytes: u64,
}

/// The kinds the operator keeps in its caches, the path that lists them on the stand-in, and
/// whether the cache holds metadata only (ConfigMaps) or drops managed fields (all but the apps).
/// Of the pod spec of pods and StatefulSets the caches keep each container's name, image and
/// resources only (see `kaspr_reconcile`'s `wiring.rs`, `Slim`).
const CACHED: &[(&str, &str, bool, bool)] = &[
    (
        "KasprApp",
        "/apis/kaspr.io/v1alpha1/kasprapps",
        false,
        false,
    ),
    ("StatefulSet", "/apis/apps/v1/statefulsets", false, true),
    (
        "Pod",
        "/api/v1/pods?labelSelector=kaspr.io%2Fapp",
        false,
        true,
    ),
    (
        "PersistentVolumeClaim",
        "/api/v1/persistentvolumeclaims",
        false,
        true,
    ),
    (
        "HorizontalPodAutoscaler",
        "/apis/autoscaling/v2/horizontalpodautoscalers",
        false,
        true,
    ),
    ("ConfigMap (metadata)", "/api/v1/configmaps", true, true),
];

/// The objects the operator caches (a kind is left out where its list fails: this is an
/// estimate for the report, not a measurement to fail on).
fn cache_sizes(kubeconfig: &Path) -> Vec<Cached> {
    let mut out = Vec::new();
    for (kind, path, metadata_only, drop_managed) in CACHED {
        let Ok(o) = Command::new("kubectl")
            .args(["get", "--raw", path])
            .env("KUBECONFIG", kubeconfig)
            .output()
        else {
            continue;
        };
        let Ok(list) = serde_json::from_slice::<Value>(&o.stdout) else {
            continue;
        };
        out.push(list_size(kind, &list, *metadata_only, *drop_managed));
    }
    out
}

/// A pod spec as the caches keep it: each container's name, image and resources.
fn slim_pod_spec(pod: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for list in ["initContainers", "containers"] {
        if let Some(containers) = pod.get(list).and_then(Value::as_array) {
            let kept: Vec<Value> = containers
                .iter()
                .map(|c| {
                    let mut k = serde_json::Map::new();
                    for field in ["name", "image", "resources"] {
                        if let Some(v) = c.get(field) {
                            k.insert(field.to_owned(), v.clone());
                        }
                    }
                    Value::Object(k)
                })
                .collect();
            out.insert(list.to_owned(), Value::Array(kept));
        }
    }
    Value::Object(out)
}

/// The items of a list as the cache would hold them, measured as compact JSON.
fn list_size(kind: &str, list: &Value, metadata_only: bool, drop_managed: bool) -> Cached {
    let items = list["items"].as_array().map_or(&[][..], Vec::as_slice);
    let mut cached = Cached {
        kind: kind.to_owned(),
        count: items.len() as u64,
        ..Cached::default()
    };
    for item in items {
        let mut item = if metadata_only {
            serde_json::json!({ "metadata": item["metadata"] })
        } else {
            item.clone()
        };
        if drop_managed && let Some(m) = item["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        // A pod's spec, or a StatefulSet's pod template's.
        let pod = match kind {
            "StatefulSet" => item.pointer_mut("/spec/template/spec"),
            "Pod" => item.pointer_mut("/spec"),
            _ => None,
        };
        if let Some(pod) = pod {
            let before = pod.to_string().len() as u64;
            *pod = slim_pod_spec(pod);
            cached.dropped_bytes += before - pod.to_string().len() as u64;
        }
        cached.bytes += item.to_string().len() as u64;
    }
    cached
}

/// Warnings and errors in the operator's log, by message.
#[derive(Debug, Default, PartialEq)]
pub struct LogSummary {
    pub warnings: usize,
    pub errors: usize,
    /// "LEVEL target: message" (fields left out) -> count.
    pub messages: BTreeMap<String, usize>,
}

impl LogSummary {
    pub fn of(log: &str) -> Self {
        let mut s = Self::default();
        for line in log.lines() {
            let line = without_braces(&strip_ansi(line));
            let mut words = line.split_whitespace();
            let _time = words.next();
            let level = words.next().unwrap_or_default();
            match level {
                "WARN" => s.warnings += 1,
                "ERROR" => s.errors += 1,
                _ => continue,
            }
            let words: Vec<&str> = words.collect();
            // `spans: target: message key=value...`: the target is the first module path.
            let start = words
                .iter()
                .position(|w| w.ends_with(':') && w.contains("::"))
                .unwrap_or(0);
            let mut message: Vec<&str> = words[start..]
                .iter()
                .copied()
                .take_while(|w| !w.contains('='))
                .collect();
            if let Some(kind) = words.iter().find(|w| w.starts_with("kind=")) {
                message.push(kind);
            }
            let message: String = message.join(" ").chars().take(160).collect();
            *s.messages.entry(format!("{level} {message}")).or_default() += 1;
        }
        s
    }

    fn add(&mut self, other: &Self) {
        self.warnings += other.warnings;
        self.errors += other.errors;
        for (m, n) in &other.messages {
            *self.messages.entry(m.clone()).or_default() += n;
        }
    }
}

/// The line without its `{...}` groups (span fields, which hold the object's name).
fn without_braces(line: &str) -> String {
    let mut depth = 0usize;
    line.chars()
        .filter(|c| {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// "commit 1234abc", with "and uncommitted changes" when the operator's sources differ from it.
fn build_description(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "not in a git checkout".into();
    };
    let sources = [
        "status",
        "--porcelain",
        "--",
        "bins",
        "crates",
        "Cargo.toml",
        "Cargo.lock",
    ];
    match git(&sources) {
        Some(changes) if !changes.is_empty() => {
            format!("commit {commit} and uncommitted changes to its sources")
        }
        _ => format!("commit {commit}"),
    }
}

fn memory_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or("unknown RAM".into(), |kib| {
            format!("{:.0} GiB RAM", kib / 1024.0 / 1024.0)
        })
}

struct Report {
    /// The machine's memory, e.g. "24 GiB RAM".
    ram: String,
    /// The commit the operator was built from, and whether its sources had changes on top.
    build: String,
    apps: u64,
    /// How the run was started.
    command: String,
    simulate: bool,
    member_checks: bool,
    rounds: Vec<Round>,
    extras: Vec<Extras>,
}

/// Median, min and max of the values that are numbers.
fn spread(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

/// One table cell pair: the median and the min–max of the values that are numbers.
fn cells(values: impl IntoIterator<Item = f64>, digits: usize) -> (String, String) {
    match spread(values) {
        Some((m, lo, hi)) => (
            format!("{m:.digits$}"),
            format!("{lo:.digits$}–{hi:.digits$}"),
        ),
        None => ("–".into(), "–".into()),
    }
}

/// The table's rows: (measure, median, min–max).
fn rows(rounds: &[Round]) -> Vec<(String, String, String)> {
    let apps = rounds.first().map_or(0, |r| r.apps);
    let want = if rounds.iter().any(|r| r.want == "ready") {
        "Ready"
    } else {
        "reconciled"
    };
    let steady = rounds.first().map_or(f64::NAN, |r| r.steady_seconds);
    let row = |label: String, get: &dyn Fn(&Round) -> f64, digits: usize| {
        let (median, range) = cells(rounds.iter().map(get), digits);
        (label, median, range)
    };
    let (p50, p50_range) = cells(rounds.iter().map(|r| r.latency_p50), 1);
    let (p90, p90_range) = cells(rounds.iter().map(|r| r.latency_p90), 1);
    vec![
        row(
            format!("seconds from the first create until all {apps} are {want}"),
            &|r| r.seconds.unwrap_or(f64::NAN),
            1,
        ),
        row(
            "apps/s".into(),
            &|r| r.apps_per_second.unwrap_or(f64::NAN),
            1,
        ),
        (
            "seconds from the first create until an app is done, p50 / p90 of apps".into(),
            format!("{p50} / {p90}"),
            format!("{p50_range} / {p90_range}"),
        ),
        row(
            "RSS idle, caches listed, 0 apps (MiB)".into(),
            &|r| r.rss_idle_mib,
            1,
        ),
        row("RSS peak (VmHWM, MiB)".into(), &|r| r.rss_peak_mib, 1),
        row(
            "RSS steady (mean over the steady window, MiB)".into(),
            &|r| r.rss_steady_mib,
            1,
        ),
        row(
            format!("API requests per app until all are {want}"),
            &|r| r.per_app(r.requests_until as f64),
            1,
        ),
        row(
            "status writes per app (`patch kasprapps/status`)".into(),
            &|r| r.per_app(r.status_patches as f64),
            2,
        ),
        row(
            "reconciles per app (`kasprop_reconcile_total`)".into(),
            &|r| r.per_app(r.reconciles),
            2,
        ),
        row(
            "reconcile errors (all apps)".into(),
            &|r| r.reconcile_errors,
            0,
        ),
        row(
            "requests in the 10 s settle after that (all apps)".into(),
            &|r| r.requests_settle as f64,
            0,
        ),
        row(
            format!("requests in the {steady:.0} s steady window after the settle (all apps)"),
            &|r| r.requests_steady as f64,
            0,
        ),
        row(
            "`/metrics` series after".into(),
            &|r| r.series_after.map_or(f64::NAN, |n| n as f64),
            0,
        ),
    ]
}

/// The target row: (measured, met).
fn target(rounds: &[Round]) -> (String, &'static str) {
    let apps = rounds.first().map_or(0, |r| r.apps);
    let Some((steady, _, _)) = spread(rounds.iter().map(|r| r.rss_steady_mib)) else {
        return ("not measured".into(), "–");
    };
    let peak = spread(rounds.iter().map(|r| r.rss_peak_mib)).map_or(f64::NAN, |s| s.0);
    let measured = format!("{steady:.1} MiB steady, {peak:.1} MiB peak (medians)");
    if apps != TARGET_APPS {
        return (format!("{measured} with {apps} apps, not 1,000"), "–");
    }
    (
        measured,
        if steady <= TARGET_MIB {
            "met"
        } else {
            "**missed**"
        },
    )
}

fn section(report: &Report, m: &Machine) -> String {
    let rounds = &report.rounds;
    let apps = report.apps;
    let mut s = format!("{HEADING}\n\n");
    let _ = write!(
        s,
        "Measured on {date} by `{command}`: the \
         release build of `kaspr-operator` ({build}), {r} round(s), each from an empty API server \
         and a new operator process, shown as median and min–max over the rounds. Machine: {cores} cores \
         ({cpu}), {ram}, Python {python} for the stand-in and the load.\n\n",
        date = m.date,
        r = m.rounds,
        command = report.command,
        cores = m.cores,
        cpu = m.cpu,
        ram = report.ram,
        build = report.build,
        python = m.python,
    );
    let _ = write!(
        s,
        "**Against what.** Both: the KasprApps and Events are on crdserver \
         (`../shared/tools/crdserver`, a real apiextensions-apiserver with etcd: the CRDs the \
         binary prints, their validation, defaults, server-side apply, the status subresource and \
         watches are real), and the child objects are on a mock: StatefulSets, \
         HorizontalPodAutoscalers, Services, ServiceAccounts, ConfigMaps, PersistentVolumeClaims, \
         pods and Secrets are served from \
         memory by `xtask/assets/apistandin.py`, a single-process Python stand-in in front of \
         crdserver that also forwards the KasprApp requests to it. {sim} Not a cluster: no \
         admission, defaulting or garbage collection for the child kinds, no cluster DNS, no \
         metrics for the HorizontalPodAutoscalers. The operator runs with `RUST_LOG=info` and \
         its defaults{members}\n\n",
        members = if report.member_checks {
            ", member status checks included (`--member-checks`): the calls to each member's \
             web API fail here (no DNS for the pods), which makes a reconcile of a Ready app \
             slower than on a cluster, while the requeue of every app with replicas each minute \
             to ask its members is what a cluster gets too."
        } else {
            " but without member status checks (`CLIENT_STATUS_CHECK_ENABLED=false`; \
             `--member-checks` keeps them): here every call to a member fails (no DNS for the \
             pods), and with them on the apps are also requeued each minute to ask their \
             members. Measured with them on (2026-11-30, one round, the build of that \
             afternoon): only 945 of the 1,000 apps were Ready after 600 s and 45 had never been \
             reconciled: a reconcile of a Ready app took 0.5 s instead of 0.07 s (the failing \
             calls), and with 16 reconciles at once the minute requeues of the Ready apps crowded \
             out the new ones; the steady window saw 1,050 requests from 161 reconciles (every \
             child applied again), RSS was the same (104 MiB)."
        },
        sim = if report.simulate {
            "The stand-in also plays the StatefulSet controller and the kubelet (`--simulate`): \
             0.5 s after a StatefulSet changes, its pods are Running and Ready and it reports \
             rolled out, so the apps become Ready and the operator's caches hold a StatefulSet \
             and pods per app, as on a cluster."
        } else {
            "Without `--simulate`: no pods ever exist and no app becomes Ready (an app counts \
             once its status is written for its generation), so the caches hold no pods."
        },
    );
    let _ = write!(
        s,
        "**The load** (`xtask/assets/load1000.py`): {apps} apps created by server-side apply (4 \
         writers in parallel) over 4 namespaces, every second one with `pythonPackages` (one \
         package), each waited for until {want}; then 10 s for the tail of reconciles to settle \
         and a steady window in which no request should come (any is a reconcile that never \
         stops). RSS is the operator's VmRSS sampled every 0.5 s; requests are what the stand-in \
         received from the operator (the load's own left out).\n\n",
        want = if report.simulate {
            "`Ready=True` at its generation"
        } else {
            "its status is written for its generation"
        },
    );
    s.push_str("| measure | median | min–max |\n|---|---|---|\n");
    for (label, median, range) in rows(rounds) {
        let _ = writeln!(s, "| {label} | {median} | {range} |");
    }
    s.push('\n');
    s.push_str(&observations(report));
    let (measured, met) = target(rounds);
    let _ = write!(
        s,
        "### Target\n\n| target | measured | met |\n|---|---|---|\n\
         | operator RSS ≤ 64 MiB with 1,000 apps | {measured} | {met} |\n\n"
    );
    s.push_str(&memory(report));
    s
}

/// What the rounds showed besides the table: failures, the steady window, the logs.
fn observations(report: &Report) -> String {
    let rounds = &report.rounds;
    let mut notes = Vec::new();
    for (i, r) in rounds.iter().enumerate() {
        if !r.all_reconciled {
            notes.push(format!(
                "**Round {}: only {} of {} apps were done by the timeout.**",
                i + 1,
                r.reconciled,
                r.apps
            ));
        }
    }
    let steady: u64 = rounds.iter().map(|r| r.requests_steady).sum();
    if steady == 0 {
        notes.push(format!(
            "Steady window: no request from the operator in any round (and {} reconciles): \
             nothing loops once the apps are done.",
            spread(rounds.iter().map(|r| r.reconciles_steady))
                .map_or("no count of".into(), |s| format!("{:.0}", s.2))
        ));
    } else {
        let mut by: BTreeMap<&str, u64> = BTreeMap::new();
        for r in rounds {
            for (k, n) in &r.steady_by_summary {
                *by.entry(k).or_default() += n;
            }
        }
        let what: Vec<String> = by.iter().map(|(k, n)| format!("{n} `{k}`")).collect();
        let reconciles: f64 = rounds
            .iter()
            .map(|r| r.reconciles_steady)
            .filter(|n| n.is_finite())
            .sum();
        notes.push(format!(
            "**Steady window not quiet: {steady} requests over all rounds ({}), from \
             {reconciles:.0} reconciles.** Something keeps reconciling after every app is done \
             (a requeue that applies every child again, or a loop).",
            what.join(", ")
        ));
    }
    let read_failed: u64 = rounds.iter().map(|r| r.read_failed).sum();
    let time_only: u64 = rounds.iter().map(|r| r.time_only_writes).sum();
    if read_failed > 0 {
        notes.push(format!(
            "**{read_failed} app(s) showed Ready reason `ReadFailed` on the way (all rounds).**"
        ));
    }
    if time_only > 0 {
        notes.push(format!(
            "**{time_only} status write(s) changed only condition times (all rounds).**"
        ));
    }
    let mut log = LogSummary::default();
    for e in &report.extras {
        log.add(&e.log);
    }
    if log.warnings + log.errors == 0 {
        notes.push("Operator log: no warning or error in any round.".into());
    } else {
        let mut top: Vec<(&String, &usize)> = log.messages.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        let shown: Vec<String> = top
            .iter()
            .take(5)
            .map(|(m, n)| format!("{n}× `{}`", m.replace('`', "'")))
            .collect();
        notes.push(format!(
            "Operator log: {} warning(s), {} error(s) over all rounds; most often: {}.",
            log.warnings,
            log.errors,
            shown.join("; ")
        ));
    }
    let tracebacks: usize = report.extras.iter().map(|e| e.standin_tracebacks).sum();
    if tracebacks > 0 {
        notes.push(format!(
            "**The stand-in logged {tracebacks} traceback(s)** (`target/bench-operator/round-*/standin.log`)."
        ));
    }
    let mut s = String::new();
    for n in notes {
        let _ = writeln!(s, "- {n}");
    }
    s.push('\n');
    s
}

/// Where the memory goes: RSS with no apps against with all, and the cached objects' sizes.
fn memory(report: &Report) -> String {
    let rounds = &report.rounds;
    let apps = report.apps;
    let med = |get: fn(&Round) -> f64| spread(rounds.iter().map(get)).map_or(f64::NAN, |s| s.0);
    let idle = med(|r| r.rss_idle_mib);
    let steady = med(|r| r.rss_steady_mib);
    let peak = med(|r| r.rss_peak_mib);
    let grown = steady - idle;
    let mut s = "### Where the memory goes\n\n".to_owned();
    let _ = write!(
        s,
        "RSS with the caches listed but no app: {idle:.1} MiB (the binary, the async runtime, \
         TLS, the HTTP client and server, the metrics registry and the empty watches). With {apps} \
         apps done: {steady:.1} MiB, so the apps cost {grown:.1} MiB, {per:.1} KiB each; the peak \
         while reconciling was {peak:.1} MiB.",
        per = grown * 1024.0 / apps as f64,
    );
    let objects = report
        .extras
        .iter()
        .rev()
        .find(|e| !e.objects.is_empty())
        .map(|e| e.objects.as_slice())
        .unwrap_or_default();
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let total = mib(objects.iter().map(|o| o.bytes).sum());
    let dropped = mib(objects.iter().map(|o| o.dropped_bytes).sum());
    if objects.is_empty() {
        s.push_str("\n\n");
    } else {
        let _ = write!(
            s,
            " What the operator's caches hold at the end of the last round, measured as compact \
             JSON from the stand-in's lists, as the operator keeps them: managed fields dropped \
             except on the KasprApps (whose store is the controller's own), and of the pod specs \
             of pods and StatefulSets only each container's name, image and resources (the rest \
             is the last column, not counted in the others). Decoded into Rust structs they take \
             several times their JSON size: see the heaptrack figures below.\n\n\
             | cache | objects | JSON | per object | pod spec dropped |\n\
             |---|---|---|---|---|\n"
        );
        for o in objects {
            let per = if o.count == 0 {
                "–".into()
            } else {
                format!("{:.1} KiB", o.bytes as f64 / 1024.0 / o.count as f64)
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} MiB | {per} | {:.2} MiB |",
                o.kind,
                o.count,
                mib(o.bytes),
                mib(o.dropped_bytes)
            );
        }
        let _ = write!(
            s,
            "| all | {} | {total:.2} MiB | | {dropped:.2} MiB |\n\n",
            objects.iter().map(|o| o.count).sum::<u64>(),
        );
        let metrics = rounds
            .iter()
            .filter_map(|r| r.metrics_bytes_after)
            .max()
            .unwrap_or(0);
        let _ = write!(
            s,
            "At their JSON size the cached objects are {:.0} % of the {grown:.1} MiB the apps \
             added. What is dropped is most of every pod spec, in every StatefulSet's template \
             and again in every pod ({dropped:.1} MiB): the install script (the \
             `install-packages` init container's command), the variables, mounts, volumes and \
             probes. The `/metrics` text is {:.0} KiB.",
            total / grown * 100.0,
            metrics as f64 / 1024.0,
        );
        s.push_str("\n\n");
    }
    let (_, met) = target(rounds);
    if met == "**missed**" {
        let _ = write!(
            s,
            "**Why, and what would reach 64 MiB** ({over:.1} MiB to shed at the median). \
             Heaptrack on 2026-11-30 (one round of 1,000 apps, commit d0a14ba, 116 MiB RSS under \
             heaptrack) put the live heap at 77 MB once every app was Ready: the pod and \
             StatefulSet caches 42 MB (about 21 KB a decoded object, five times its JSON: every \
             label, variable, mount and volume is its own allocation), the other stores \
             (ConfigMap metadata, HPAs, the stores' indexes) 16 MB, the KasprApps 9 MB (managed \
             fields included), the metrics 4 MB, HTTP buffers 2 MB, over the 14 MiB of the \
             binary and runtime with no app. Since then the caches keep of a pod spec only each \
             container's name, image and resources (what observe and status read; \
             `wiring.rs`, `Slim`), which took the steady RSS from 108.2 MiB to the figure above. \
             What is left to shed: the KasprApp store without managed fields (it is the \
             controller's own store), the ConfigMap-metadata and HPA stores, and fewer of the \
             {series:.0} metrics series per app.\n\n",
            over = steady - TARGET_MIB,
            series = med(|r| r.series_after.map_or(f64::NAN, |n| n as f64)) / apps as f64,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seconds: f64, steady_mib: f64, steady_requests: u64) -> Value {
        serde_json::json!({
            "apps": 1000, "namespaces": 4, "want": "ready", "all_reconciled": true,
            "reconciled": 1000, "seconds_to_reconcile_all": seconds,
            "apps_per_second": 1000.0 / seconds,
            "latency_seconds": {"p50": 10.0, "p90": 20.0, "max": 25.0},
            "ready_condition": {"True/Healthy": 1000},
            "apps_that_showed_read_failed": 0,
            "status_writes_per_app": {"min": 2, "max": 3, "mean": 2.5},
            "status_writes_changing_only_condition_times": 0,
            "steady_seconds": 15.0, "settle_seconds": 10.0,
            "requests": {
                "until_reconciled": {"total": 8000,
                    "by_summary": {"patch kasprapps/status": 2500, "patch services": 5500}},
                "settle": {"total": 3, "by_summary": {"patch services": 3}},
                "steady": {"total": steady_requests,
                    "by_summary": if steady_requests > 0 {
                        serde_json::json!({"patch kasprapps/status": steady_requests})
                    } else { serde_json::json!({}) }},
            },
            "operator_metrics": {
                "until_reconciled": {"reconciles": 3000.0, "reconcile_errors": 0,
                    "series_after": 300, "metrics_bytes_after": 30000},
                "steady": {"reconciles": 0.0, "reconcile_errors": 0,
                    "series_after": 310, "metrics_bytes_after": 31000},
            },
            "rss": {"idle": {"mean_mib": 28.0}, "steady": {"mean_mib": steady_mib},
                    "peak_mib": 90.0, "hwm_mib": 95.5},
        })
    }

    #[test]
    fn load_json_becomes_a_round() {
        let r = Round::from_load(&sample(50.0, 70.0, 0)).expect("parses");
        assert_eq!(r.apps, 1000);
        assert!(r.all_reconciled);
        assert_eq!(r.seconds, Some(50.0));
        assert_eq!(r.rss_idle_mib, 28.0);
        assert_eq!(r.rss_peak_mib, 95.5, "VmHWM is the peak");
        assert_eq!(r.rss_steady_mib, 70.0);
        assert_eq!(r.requests_until, 8000);
        assert_eq!(r.status_patches, 2500);
        assert_eq!(r.reconciles, 3000.0);
        assert_eq!(r.requests_steady, 0);
        assert_eq!(r.series_after, Some(310));
        assert_eq!(r.ready_condition["True/Healthy"], 1000);
    }

    #[test]
    fn load_json_without_rss_is_an_error() {
        let mut v = sample(50.0, 70.0, 0);
        v.as_object_mut().expect("object").remove("rss");
        assert!(Round::from_load(&v).is_err());
    }

    #[test]
    fn rows_are_medians_with_spread() {
        let rounds: Vec<Round> = [(40.0, 60.0), (50.0, 70.0), (60.0, 80.0)]
            .iter()
            .map(|(s, m)| Round::from_load(&sample(*s, *m, 0)).expect("parses"))
            .collect();
        let rows = rows(&rounds);
        let row = |prefix: &str| {
            rows.iter()
                .find(|r| r.0.starts_with(prefix))
                .unwrap_or_else(|| panic!("no row {prefix}"))
                .clone()
        };
        assert_eq!(
            row("seconds from the first create until all 1000 are Ready").1,
            "50.0"
        );
        assert_eq!(row("seconds from the first").2, "40.0–60.0");
        assert_eq!(row("RSS steady").1, "70.0");
        assert_eq!(row("API requests per app").1, "8.0");
        assert_eq!(row("status writes per app").1, "2.50");
        assert_eq!(row("reconciles per app").1, "3.00");
        assert_eq!(
            row("seconds from the first create until an app").1,
            "10.0 / 20.0"
        );
        assert_eq!(row("requests in the 15 s steady window").1, "0");
        assert_eq!(
            target(&rounds),
            (
                "70.0 MiB steady, 95.5 MiB peak (medians)".into(),
                "**missed**"
            )
        );
        let met: Vec<Round> = [(40.0, 50.0)]
            .iter()
            .map(|(s, m)| Round::from_load(&sample(*s, *m, 0)).expect("parses"))
            .collect();
        assert_eq!(target(&met).1, "met");
    }

    #[test]
    fn a_busy_steady_window_is_called_out() {
        let report = Report {
            ram: "1 GiB RAM".into(),
            build: "commit abc".into(),
            apps: 1000,
            command: "cargo xtask bench operator".into(),
            simulate: true,
            member_checks: true,
            rounds: vec![Round::from_load(&sample(50.0, 60.0, 12)).expect("parses")],
            extras: vec![Extras::default()],
        };
        let text = observations(&report);
        assert!(
            text.contains("**Steady window not quiet: 12 requests"),
            "{text}"
        );
        assert!(text.contains("12 `patch kasprapps/status`"), "{text}");
    }

    #[test]
    fn the_log_summary_counts_warnings_by_message() {
        let log = "\u{1b}[2m2026-11-30T15:03:38Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m kaspr_operator: started listen=1\n\
                   2026-11-30T15:03:39Z  WARN reconciling object{object.ref=KasprApp/a object.reason=x y}:reconcile{name=a}: kaspr_reconcile::controller: reconcile failed name=a error=x kind=\"api\" retry_in=1s\n\
                   2026-11-30T15:03:40Z  WARN reconciling object{object.ref=KasprApp/b}: kaspr_reconcile::controller: reconcile failed name=b error=y kind=\"api\"\n\
                   2026-11-30T15:03:41Z ERROR kube_runtime::watcher: watch failed error=z\n";
        let s = LogSummary::of(log);
        assert_eq!((s.warnings, s.errors), (2, 1));
        assert_eq!(
            s.messages,
            BTreeMap::from([
                (
                    "WARN kaspr_reconcile::controller: reconcile failed kind=\"api\"".to_owned(),
                    2
                ),
                ("ERROR kube_runtime::watcher: watch failed".to_owned(), 1),
            ])
        );
    }

    #[test]
    fn crd_names_of_one_or_several_documents() {
        let one = b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: kasprapps.kaspr.io\n";
        assert_eq!(crd_names(one).expect("one"), ["kasprapps.kaspr.io"]);
        let two = b"---\nmetadata:\n  name: a.kaspr.io\n---\nmetadata:\n  name: b.kaspr.io\n";
        assert_eq!(crd_names(two).expect("two"), ["a.kaspr.io", "b.kaspr.io"]);
        assert!(crd_names(b"").is_err());
    }

    #[test]
    fn cache_sizes_drop_managed_fields_and_all_but_what_observe_reads_of_pod_specs() {
        let list = serde_json::json!({"items": [
            {"metadata": {"name": "a", "managedFields": [{"manager": "x"}]}, "data": {"k": "v"}},
        ]});
        let full = list_size("ConfigMap", &list, false, false);
        let dropped = list_size("ConfigMap", &list, false, true);
        let meta = list_size("ConfigMap", &list, true, true);
        assert_eq!(full.count, 1);
        assert!(full.bytes > dropped.bytes && dropped.bytes > meta.bytes);
        assert_eq!(meta.bytes, r#"{"metadata":{"name":"a"}}"#.len() as u64);
        assert_eq!(full.dropped_bytes, 0);

        let spec = serde_json::json!({
            "initContainers": [{"name": "i", "image": "k", "command": ["sh", "-c", "x"],
                "resources": {"limits": {"memory": "1Gi"}}}],
            "containers": [{"name": "c", "image": "k", "env": [{"name": "A", "value": "b"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}]});
        let kept = serde_json::json!({
            "initContainers": [{"name": "i", "image": "k", "resources": {"limits": {"memory": "1Gi"}}}],
            "containers": [{"name": "c", "image": "k"}]});
        let pods = serde_json::json!({"items": [{"metadata": {"name": "p"}, "spec": spec}]});
        let pod = list_size("Pod", &pods, false, true);
        let whole = serde_json::json!({"metadata": {"name": "p"}, "spec": spec});
        let slim = serde_json::json!({"metadata": {"name": "p"}, "spec": kept});
        assert_eq!(pod.bytes, slim.to_string().len() as u64);
        assert_eq!(
            pod.dropped_bytes,
            (whole.to_string().len() - slim.to_string().len()) as u64
        );
        let sts = serde_json::json!({"items": [{"metadata": {"name": "s"},
            "spec": {"replicas": 1, "template": {"spec": spec}}}]});
        let sts = list_size("StatefulSet", &sts, false, true);
        assert_eq!(sts.dropped_bytes, pod.dropped_bytes);
        let app = serde_json::json!({"items": [{"metadata": {"name": "a"},
            "spec": {"containers": [{"command": ["x"]}]}}]});
        assert_eq!(list_size("KasprApp", &app, false, false).dropped_bytes, 0);
    }
}
