//! `cargo xtask bench [realistic|criterion] [options]`: the benchmarks.
//!
//! - `realistic [--rounds N] [--pods 8,32] [--work DIR]`: the install script on a realistic wheel set
//!   (`xtask/bench-requirements.txt`, downloaded once into `target/bench-wheels`, served by
//!   pypiserver with authentication) against plain `pip install --target`, side by side in N
//!   rounds; writes `docs/benchmarks.md` (its generated part) and `docs/benchmarks/realistic.svg`.
//!   The volumes go under DIR (default `target/bench-run`; a tmpfs such as `/dev/shm/kaspr-bench`
//!   takes a noisy shared disk out of the ratios).
//! - `operator [--apps N] [--rounds R] [--simulate|--no-simulate] [--member-checks]
//!   [--timeout S]`: the operator's memory (RSS) and reconcile throughput with N KasprApps
//!   (default 1000, 3 rounds), the KasprApps on crdserver and the child objects on
//!   `xtask/assets/apistandin.py` (with `--simulate`, the default, it plays the StatefulSet
//!   controller and kubelet so apps become Ready); writes its own generated section of
//!   `docs/benchmarks.md` (see `bench_operator.rs`).
//! - `criterion [args]`: the criterion benchmarks (warm path vs a pip start; build and status);
//!   the arguments go to criterion (e.g. a name filter).
//! - no task: realistic, operator and criterion, each with its defaults.

use std::collections::HashMap;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench_cases::Bench;
use crate::bench_report::Machine;
use crate::bench_setup::{Server, wheels};

const DEFAULT_ROUNDS: usize = 5;

pub fn run(args: &[&str]) -> Result<()> {
    crate::preflight::for_bench()?;
    match args.first().copied() {
        Some("realistic") => realistic(&args[1..]),
        Some("operator") => crate::bench_operator::run(&args[1..]),
        Some("criterion") => criterion(&args[1..]),
        _ => {
            realistic(&[])?;
            crate::bench_operator::run(&[])?;
            criterion(args)
        }
    }
}

/// Runs the criterion benchmarks; extra arguments go to criterion (e.g. a name filter).
fn criterion(args: &[&str]) -> Result<()> {
    let status = crate::test::cargo_command(&crate::workspace_root())
        .args(["bench", "-p", "kaspr-script", "-p", "kaspr-reconcile", "--"])
        .args(args)
        .status()?;
    if !status.success() {
        bail!("benchmarks failed");
    }
    Ok(())
}

struct Options {
    rounds: usize,
    pods: Vec<usize>,
    /// Where the volumes and plain pip's target go (default `target/bench-run`).
    work: Option<std::path::PathBuf>,
}

fn options(args: &[&str]) -> Result<Options> {
    let mut opts = Options {
        rounds: DEFAULT_ROUNDS,
        pods: vec![8, 32],
        work: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = it.next().with_context(|| format!("{arg} needs a value"))?;
        match *arg {
            "--rounds" => opts.rounds = value.parse().context("--rounds N")?,
            "--pods" => {
                opts.pods = value
                    .split(',')
                    .map(|n| n.parse().context("--pods N[,N...]"))
                    .collect::<Result<_>>()?
            }
            "--work" => opts.work = Some(value.into()),
            other => {
                bail!("unknown option {other}: realistic [--rounds N] [--pods 8,32] [--work DIR]")
            }
        }
    }
    Ok(opts)
}

fn realistic(args: &[&str]) -> Result<()> {
    let opts = options(args)?;
    let root = crate::workspace_root();
    let venv = crate::test::prepare_venv(&root)?;
    let wheels = wheels(&root, &venv)?;
    let work = opts.work.unwrap_or_else(|| root.join("target/bench-run"));
    let server = Server::start(&venv, &wheels.dir, &work)?;
    let mut bench = Bench {
        venv: venv.clone(),
        work,
        server: &server,
        wheels: &wheels,
        pods: opts.pods,
        results: HashMap::new(),
    };
    for round in 1..=opts.rounds {
        bench.round(round)?;
    }
    let mut machine = machine(&venv.join("bin/python3"), opts.rounds)?;
    machine.volume = format!(
        "`{}` ({})",
        bench.work.display(),
        output(
            Command::new("stat")
                .args(["-f", "-c", "%T"])
                .arg(&bench.work)
        )?
    );
    crate::bench_report::write(&root, &bench, &machine)
}

/// The machine, and the version of `python` (a path, or a name on PATH).
pub(crate) fn machine(python: &std::path::Path, rounds: usize) -> Result<Machine> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    Ok(Machine {
        date: output(Command::new("date").args(["-u", "+%Y-%m-%d"]))?,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        python: output(
            Command::new(python).args(["-c", "import platform; print(platform.python_version())"]),
        )?,
        rounds,
        volume: String::new(),
    })
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
