//! The binary run as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

use kaspr_test_support::examples::example_files;
use kaspr_test_support::workspace_root;
use serde::Deserialize;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaspr-operator"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kaspr-operator render -f FILE`.
fn render(file: &Path) -> Output {
    bin()
        .args(["render", "-f"])
        .arg(file)
        .output()
        .expect("runs")
}

#[test]
fn render_succeeds_on_every_example() {
    let files = example_files();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let out = render(&file);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{}: {stderr}", file.display());
        let kinds: Vec<String> = serde_yaml::Deserializer::from_str(&stdout)
            .map(|d| serde_yaml::Value::deserialize(d).expect("YAML"))
            .filter_map(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .collect();
        let is_app = std::fs::read_to_string(&file)
            .expect("read")
            .contains("kind: KasprApp");
        if is_app {
            assert!(
                kinds.contains(&"StatefulSet".to_owned()),
                "{}: {kinds:?}",
                file.display()
            );
            assert!(
                kinds.contains(&"ConfigMap".to_owned()),
                "{}: {kinds:?}",
                file.display()
            );
        } else {
            assert!(
                kinds.is_empty(),
                "{}: a non-KasprApp file renders nothing",
                file.display()
            );
        }
    }
}

#[test]
fn render_of_a_broken_manifest_names_the_field_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: broken}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages:\n    packages: [requests]\n    extraIndexUrls: [https://ok.example/simple, \"https://bob:pw@x.example/simple\"]\n",
    )
    .expect("write");
    let out = render(&file);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.is_empty(),
        "nothing rendered for an invalid app: {stdout}"
    );
    assert!(
        stderr.contains("spec.pythonPackages.extraIndexUrls[1]"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("bob") && !stderr.contains(":pw@"),
        "credential in output: {stderr}"
    );
}

#[test]
fn crd_prints_the_generated_crd() {
    let out = bin().arg("crd").output().expect("runs");
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(workspace_root().join("crds/kasprapp.crd.yaml")).expect("crd file");
    // Whole documents: the file is the printed CRD under a generated-file comment.
    let printed: serde_yaml::Value = serde_yaml::from_str(&stdout).expect("the output is YAML");
    let file: serde_yaml::Value = serde_yaml::from_str(&committed).expect("the file is YAML");
    assert_eq!(
        printed.get("kind").and_then(|k| k.as_str()),
        Some("CustomResourceDefinition"),
        "not a CRD:\n{stdout}"
    );
    assert_eq!(
        printed, file,
        "crds/kasprapp.crd.yaml differs from `kaspr-operator crd`"
    );
}

#[test]
fn unknown_command_prints_usage() {
    let out = bin().arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("usage:"));
}
