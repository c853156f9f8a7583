//! The warm path (a pod finding its environment already published) against a bare pip start,
//! side by side in one run: the ratio is what matters on a shared, noisy machine. The warm path
//! is measured with `imagePackages: protect` (the default: the env key names the image's set of
//! distributions, read on every start) and `override` (no image listing), to show what the
//! protection costs a hit.
//!
//! Needs `dash` and a `python3` with pip on PATH.

use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use kaspr_script::{EnvSource, InstallReport, InstallScript, Paths, render};

/// A pod's run of `script` with `paths`; returns its report.
fn run(script: &InstallScript, paths: &Paths) -> InstallReport {
    let mut cmd = Command::new("dash");
    cmd.arg("-c").arg(&script.script);
    for var in &script.env {
        if let EnvSource::Value(v) = &var.source {
            cmd.env(var.name, v);
        }
    }
    let _ = cmd.env("POD_NAME", "app-1").status().expect("script runs");
    let text = std::fs::read_to_string(Path::new(&paths.report)).expect("report");
    InstallReport::parse(&text).expect("a v1 report")
}

/// A published env for `yaml`, as another pod would have left it, and the script of a pod
/// that finds it.
fn published(dir: &Path, yaml: &str) -> (InstallScript, Paths) {
    let spec = serde_yaml::from_str(yaml).expect("spec");
    let hash = kaspr_hash::packages_hash(&spec).expect("hash");
    let path = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let paths = Paths {
        root: path("packages"),
        site_link: path("python-env/site"),
        report: path("report.json"),
        live_hashes: path("live-hashes"),
        gcs_key: path("gcs/sa.json"),
    };
    let script = render(&spec, &hash, &paths).expect("renders");
    // The key, from a run that fails at once: the packages root is a file, not a directory.
    std::fs::write(dir.join("packages"), "").expect("root as a file");
    let key = run(&script, &paths)
        .env_key
        .expect("the report names the env");
    std::fs::remove_file(dir.join("packages")).expect("remove");
    let env = dir.join("packages/envs").join(key);
    std::fs::create_dir_all(&env).expect("env");
    std::fs::write(
        env.join(".kaspr-env.json"),
        r#"{"v":1,"installedBy":"app-0","installed":["requests==2.31.0"]}"#,
    )
    .expect("marker");
    let report = run(&script, &paths);
    assert_eq!(
        report.result,
        kaspr_script::InstallResult::Cached,
        "the bench must measure a hit"
    );
    (script, paths)
}

fn warm_path(c: &mut Criterion) {
    let protect_dir = tempfile::tempdir().expect("temp dir");
    let override_dir = tempfile::tempdir().expect("temp dir");
    let protect = published(protect_dir.path(), "packages: [requests==2.31.0]");
    let overridden = published(
        override_dir.path(),
        "packages: [requests==2.31.0]\nimagePackages: override",
    );

    let mut group = c.benchmark_group("pod start");
    group.sample_size(20);
    group.bench_function("warm path (hit, imagePackages: protect)", |b| {
        b.iter(|| run(&protect.0, &protect.1))
    });
    group.bench_function("warm path (hit, imagePackages: override)", |b| {
        b.iter(|| run(&overridden.0, &overridden.1))
    });
    group.bench_function("pip start (python3 -m pip --version)", |b| {
        b.iter(|| {
            Command::new("python3")
                .args(["-m", "pip", "--version"])
                .output()
                .expect("pip runs")
        })
    });
    group.finish();
}

criterion_group!(benches, warm_path);
criterion_main!(benches);
