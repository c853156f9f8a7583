//! What one reconcile computes without the API server: building every child object and the
//! status. Both run on every reconcile of every app, so they should stay far below a request.

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Pod;
use kaspr_reconcile::build::Existing;
use kaspr_reconcile::status::{Observed, compute, now};
use kaspr_types::KasprApp;

fn enterprise_app() -> KasprApp {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/python-packages/enterprise-complete.yaml"
    );
    let mut app: KasprApp =
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("example")).expect("app");
    app.metadata.uid = Some("0b6f2a58-6d1c-4bb1-a1d5-3f1f2b6f0c11".into());
    app
}

fn benches(c: &mut Criterion) {
    let app = enterprise_app();
    c.bench_function("validate (garde + pep508 + hash)", |b| {
        b.iter(|| {
            kaspr_reconcile::validate(&app, None, &kaspr_reconcile::Settings::default())
                .map(|v| v.hash().map(str::to_owned))
        })
    });
    let validated = kaspr_reconcile::validate(&app, None, &kaspr_reconcile::Settings::default())
        .expect("valid");
    let pods: Vec<Pod> = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pods/installed.json"
        ))
        .expect("fixture"),
    )
    .expect("pods");
    let existing = Existing {
        pods: &pods,
        ..Existing::default()
    };
    c.bench_function("build every child object (3 pods in the live set)", |b| {
        b.iter(|| kaspr_reconcile::build::build(&validated, &existing))
    });
    c.bench_function("status from 3 pods' reports", |b| {
        b.iter(|| {
            compute(
                &Observed {
                    hpa: None,
                    members: &[],
                    linked: None,
                    app: &app,
                    hash: Some("a38d296f011adb6e"),
                    statefulset: None,
                    pods: &pods,
                    blocked: None,
                },
                now(),
            )
        })
    });
}

criterion_group!(group, benches);
criterion_main!(group);
