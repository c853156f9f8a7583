//! The warm path (a pod finding its environment already published) against a bare pip start,
//! side by side in one run: the ratio is what matters on a shared, noisy machine.
//!
//! Needs `dash` and a `python3` with pip on PATH.

use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use kaspr_script::{EnvSource, Paths, render};

fn python_tag() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print('cp%d%d' % sys.version_info[:2])"])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn warm_path(c: &mut Criterion) {
    let spec = serde_yaml::from_str("packages: [requests==2.31.0]").expect("spec");
    let hash = kaspr_hash::packages_hash(&spec).expect("hash");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("packages");
    // A published environment, as another pod would have left it.
    let env = root.join("envs").join(format!("{hash}-{}", python_tag()));
    std::fs::create_dir_all(&env).expect("env");
    std::fs::write(
        env.join(".kaspr-env.json"),
        r#"{"v":1,"installedBy":"app-0","installed":["requests==2.31.0"]}"#,
    )
    .expect("marker");
    let paths = Paths {
        root: root.to_string_lossy().into_owned(),
        site_link: dir
            .path()
            .join("python-env/site")
            .to_string_lossy()
            .into_owned(),
        report: dir
            .path()
            .join("report.json")
            .to_string_lossy()
            .into_owned(),
        live_hashes: dir
            .path()
            .join("live-hashes")
            .to_string_lossy()
            .into_owned(),
    };
    let script = render(&spec, &hash, &paths).expect("renders");
    let hit = || {
        let mut cmd = Command::new("dash");
        cmd.arg("-c").arg(&script.script);
        for var in &script.env {
            if let EnvSource::Value(v) = &var.source {
                cmd.env(var.name, v);
            }
        }
        let status = cmd.env("POD_NAME", "app-1").status().expect("script runs");
        assert!(status.success());
    };
    hit();
    let report = std::fs::read_to_string(Path::new(&paths.report)).expect("report");
    assert!(
        report.contains("\"result\":\"cached\""),
        "the bench must measure a hit: {report}"
    );

    let mut group = c.benchmark_group("pod start");
    group.sample_size(20);
    group.bench_function("warm path (hit, no installer)", |b| b.iter(hit));
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
